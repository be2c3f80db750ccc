package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Fault is one fault of the nemesis, from its start to its heal.
type Fault struct {
	Kind   string        `json:"kind"`
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"` // 0: never healed
	Nodes  []string      `json:"nodes,omitempty"`
	Detail string        `json:"detail,omitempty"`
	Error  string        `json:"error,omitempty"`
	// Note marks an entry that is not a fault but a remark of the nemesis
	// (such as how long the cluster took to be whole again).
	Note bool `json:"note,omitempty"`
}

// Injected reports whether f is a fault that really took effect: not a
// note, not one that failed to start.
func (f Fault) Injected() bool { return !f.Note && f.Error == "" }

// Verdict is what the checker concluded.
type Verdict struct {
	// Valid: the checker found no anomaly it fails on. Unknown: it could
	// not decide (which is not a pass).
	Valid   bool `json:"valid"`
	Unknown bool `json:"unknown,omitempty"`
	// Anomalies are the failing findings, Allowed the ones the
	// consistency model permits (reported, not failing), each one line.
	Anomalies []string `json:"anomalies,omitempty"`
	Allowed   []string `json:"allowed,omitempty"`
}

// Report is one run.
type Report struct {
	Workload string        `json:"workload"`
	Nemesis  string        `json:"nemesis"`
	Seed     uint64        `json:"seed"`
	Nodes    int           `json:"nodes"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Verdict  Verdict       `json:"verdict"`
	Summary  Summary       `json:"summary"`
	Faults   []Fault       `json:"-"`
	// Checker is the checker's own result, kept in result.json.
	Checker any `json:"checker,omitempty"`

	History history.History `json:"-"`
}

// Summary counts the ops of a history.
type Summary struct {
	Ops  int                  `json:"ops"` // invocations
	ByF  map[string]*Outcomes `json:"by_f"`
	Errs map[string]int       `json:"errors"` // by SQLSTATE (or the error's first words)
	All  Outcomes             `json:"all"`
	// Successful reads and writes (OK completions) while a fault was
	// active, and after the last fault healed.
	DuringFaults Progress `json:"during_faults"`
	AfterFaults  Progress `json:"after_faults"`
}

// Outcomes counts completions by type.
type Outcomes struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

func (o *Outcomes) add(t history.Type) {
	switch t {
	case history.OK:
		o.OK++
	case history.Fail:
		o.Fail++
	default:
		o.Info++
	}
}

// Progress counts successful reads and writes.
type Progress struct {
	Reads  int `json:"reads"`
	Writes int `json:"writes"`
}

// Summarize counts h's ops against faults.
func Summarize(h history.History, faults []Fault) Summary {
	s := Summary{ByF: map[string]*Outcomes{}, Errs: map[string]int{}}
	var lastHeal time.Duration
	for _, f := range faults {
		lastHeal = max(lastHeal, f.End, f.Start)
	}
	active := func(t time.Duration) bool {
		for _, f := range faults {
			if f.Injected() && t >= f.Start && (f.End == 0 || t <= f.End) {
				return true
			}
		}
		return false
	}
	for _, p := range h.Pairs() {
		s.Ops++
		t := p.Outcome()
		if s.ByF[p.Invoke.F] == nil {
			s.ByF[p.Invoke.F] = &Outcomes{}
		}
		s.ByF[p.Invoke.F].add(t)
		s.All.add(t)
		if p.Completion != nil && p.Completion.Error != "" {
			s.Errs[errorClass(p.Completion.Error)]++
		}
		if t != history.OK {
			continue
		}
		var pr *Progress
		switch {
		case len(faults) > 0 && p.Completion.Time > lastHeal:
			pr = &s.AfterFaults
		case active(p.Invoke.Time) || active(p.Completion.Time):
			pr = &s.DuringFaults
		default:
			continue
		}
		if isRead(*p.Invoke) {
			pr.Reads++
		} else {
			pr.Writes++
		}
	}
	return s
}

func isRead(op history.Op) bool {
	if op.F == history.FTxn {
		for _, m := range op.Txn {
			if m.F != history.MopRead {
				return false
			}
		}
		return true
	}
	return op.F == history.FRead
}

// errorClass groups errors: a SQLSTATE ("40001: ...") by its code and
// the message's first clause, anything else by its first words.
func errorClass(e string) string {
	if i := strings.Index(e, ": "); i == 5 {
		msg := e[i+2:]
		if j := strings.IndexAny(msg, ":("); j > 0 {
			msg = msg[:j]
		}
		return e[:5] + " " + strings.TrimSpace(msg)
	}
	if len(e) > 60 {
		e = e[:60]
	}
	return e
}

// Write writes r into dir (created if missing).
func Write(dir string, r Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return err
	}
	if err := history.Write(f, r.History); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "faults.json"), r.Faults); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "result.json"), r); err != nil {
		return err
	}
	hf, err := os.Create(filepath.Join(dir, "index.html"))
	if err != nil {
		return err
	}
	if err := page.Execute(hf, newView(r)); err != nil {
		hf.Close()
		return fmt.Errorf("report: index.html: %w", err)
	}
	return hf.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// view is what the page template reads.
type view struct {
	Report
	Status   string
	ErrRows  []errRow
	FRows    []fRow
	Timeline template.HTML
}

type errRow struct {
	Class string
	N     int
}

type fRow struct {
	F string
	Outcomes
}

func newView(r Report) view {
	v := view{Report: r, Status: "VALID"}
	switch {
	case r.Verdict.Unknown:
		v.Status = "UNKNOWN"
	case !r.Verdict.Valid:
		v.Status = "INVALID"
	}
	for c, n := range r.Summary.Errs {
		v.ErrRows = append(v.ErrRows, errRow{c, n})
	}
	sort.Slice(v.ErrRows, func(i, j int) bool { return v.ErrRows[i].N > v.ErrRows[j].N })
	for f, o := range r.Summary.ByF {
		v.FRows = append(v.FRows, fRow{f, *o})
	}
	sort.Slice(v.FRows, func(i, j int) bool { return v.FRows[i].F < v.FRows[j].F })
	v.Timeline = timeline(r.History, r.Faults)
	return v
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>shard jepsen: {{.Workload}} / {{.Nemesis}}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.VALID { color: #070; } .INVALID { color: #b00; } .UNKNOWN { color: #b60; }
</style></head><body>
<h1>{{.Workload}} under {{.Nemesis}}: <span class="{{.Status}}">{{.Status}}</span></h1>
<p>{{.Nodes}} nodes, seed {{.Seed}}, started {{.Started.Format "2006-01-02 15:04:05 MST"}}, ran {{.Duration}}; {{.Summary.Ops}} operations:
{{.Summary.All.OK}} ok, {{.Summary.All.Fail}} failed, {{.Summary.All.Info}} indeterminate.</p>
<p>Succeeded while faults were active: {{.Summary.DuringFaults.Reads}} reads, {{.Summary.DuringFaults.Writes}} writes;
after the last fault healed: {{.Summary.AfterFaults.Reads}} reads, {{.Summary.AfterFaults.Writes}} writes.</p>
{{if .Verdict.Anomalies}}<h2>Anomalies</h2><ul>{{range .Verdict.Anomalies}}<li><pre>{{.}}</pre></li>{{end}}</ul>{{end}}
{{if .Verdict.Allowed}}<h2>Allowed by the consistency model (reported, not failing)</h2><ul>{{range .Verdict.Allowed}}<li><pre>{{.}}</pre></li>{{end}}</ul>{{end}}
<h2>Timeline</h2>
{{.Timeline}}
<h2>Operations</h2>
<table><tr><th class="l">f</th><th>ok</th><th>fail</th><th>info</th></tr>
{{range .FRows}}<tr><td class="l">{{.F}}</td><td>{{.OK}}</td><td>{{.Fail}}</td><td>{{.Info}}</td></tr>{{end}}</table>
<h2>Faults</h2>
<table><tr><th class="l">kind</th><th>start</th><th>end</th><th class="l">nodes</th><th class="l">detail</th></tr>
{{range .Faults}}<tr><td class="l">{{.Kind}}</td><td>{{.Start}}</td><td>{{.End}}</td><td class="l">{{.Nodes}}</td><td class="l">{{.Detail}} {{.Error}}</td></tr>{{end}}</table>
<h2>Errors</h2>
<table><tr><th class="l">error</th><th>count</th></tr>
{{range .ErrRows}}<tr><td class="l">{{.Class}}</td><td>{{.N}}</td></tr>{{end}}</table>
<p>Files: <a href="history.jsonl">history.jsonl</a>, <a href="faults.json">faults.json</a>, <a href="result.json">result.json</a>.</p>
</body></html>
`))
