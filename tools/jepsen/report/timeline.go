package report

import (
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// timeline draws completions per second as stacked bars (ok, fail, info)
// under one band per fault kind showing when it was active.
func timeline(h history.History, faults []Fault) template.HTML {
	const width, barsH, bandH, left = 1000.0, 200.0, 16.0, 60.0
	var end time.Duration
	if len(h) > 0 {
		end = h[len(h)-1].Time
	}
	for _, f := range faults {
		end = max(end, f.End, f.Start)
	}
	secs := int(end/time.Second) + 1
	type bin struct{ ok, fail, info int }
	bins := make([]bin, secs)
	peak := 1
	for _, op := range h {
		i := int(op.Time / time.Second)
		switch op.Type {
		case history.OK:
			bins[i].ok++
		case history.Fail:
			bins[i].fail++
		case history.Info:
			bins[i].info++
		default:
			continue
		}
		peak = max(peak, bins[i].ok+bins[i].fail+bins[i].info)
	}
	kinds := map[string]int{}
	var kindList []string
	for _, f := range faults {
		if _, ok := kinds[f.Kind]; !ok {
			kinds[f.Kind] = 0
			kindList = append(kindList, f.Kind)
		}
	}
	sort.Strings(kindList)
	for i, k := range kindList {
		kinds[k] = i
	}
	bandsH := bandH * float64(len(kindList))
	height := barsH + bandsH + 30
	x := func(t time.Duration) float64 { return left + (width-left)*t.Seconds()/float64(secs) }
	bw := (width - left) / float64(secs)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-size="11">`, width, height)
	for i, k := range kindList {
		y := float64(i) * bandH
		fmt.Fprintf(&b, `<text x="0" y="%.1f">%s</text>`, y+12, template.HTMLEscapeString(k))
		for _, f := range faults {
			if f.Kind != k {
				continue
			}
			e := f.End
			if e == 0 {
				e = end
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#c33" fill-opacity="0.35"><title>%s %v–%v %s</title></rect>`,
				x(f.Start), y+2, max(1, x(e)-x(f.Start)), bandH-4, template.HTMLEscapeString(f.Kind), f.Start.Round(time.Millisecond), e.Round(time.Millisecond), template.HTMLEscapeString(strings.Join(f.Nodes, ",")+" "+f.Detail))
		}
	}
	base := bandsH + barsH
	for i, bn := range bins {
		y := base
		for _, part := range []struct {
			n    int
			fill string
		}{{bn.ok, "#4a4"}, {bn.fail, "#e90"}, {bn.info, "#c22"}} {
			if part.n == 0 {
				continue
			}
			hgt := barsH * float64(part.n) / float64(peak)
			y -= hgt
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%ds: %d</title></rect>`,
				left+float64(i)*bw, y, max(bw-0.5, 0.5), hgt, part.fill, i, part.n)
		}
	}
	fmt.Fprintf(&b, `<text x="0" y="%.1f">%d/s</text>`, bandsH+10, peak)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#888"/>`, left, base, width, base)
	step := max(1, secs/10)
	for s := 0; s < secs; s += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%ds</text>`, x(time.Duration(s)*time.Second), base+14, s)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.1f">completions per second: ok (green), fail (orange), info (red)</text>`, left, base+28)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
