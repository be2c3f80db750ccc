package controller

import (
	"fmt"
	"time"
)

// Explain says, in sentences, why the controller would or would not split,
// merge or move range id now: what it measured, the thresholds and
// windows, and what a round decided now would do. It does not change the
// controller's memory.
func (c *Controller) Explain(st State, id uint64) []string {
	mem := c.mem.clone()
	r := newRound(c.cfg, mem, st)
	rg := r.byID[id]
	if rg == nil {
		return []string{fmt.Sprintf("r%d is not in the meta range", id)}
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	// The decisions of a round run on a copy of the memory.
	r.decide()

	vs := voters(rg)
	var dead []uint64
	for _, v := range vs {
		if !r.live[v] {
			dead = append(dead, v)
		}
	}
	add("replicas: %d voters on %s (target %d); %d on dead nodes%s", len(vs), nodeList(vs), r.target(), len(dead), listIf(dead))
	if !r.fresh(rg) {
		if rg.ReportedAt.IsZero() {
			add("load: no report from the leader yet: no split or merge is decided on load")
		} else {
			add("load: the last report is %v old (stale after %v): no split or merge is decided on it", st.Now.Sub(rg.ReportedAt).Round(time.Millisecond), 3*c.cfg.ReportInterval)
		}
	} else {
		l := rg.Load
		add("load: %.0f reads/s, %.0f writes/s, %s/s written, %.0f%% of a core (split over %.0f/s or %.0f%% for %v)",
			l.ReadsPerSec, l.WritesPerSec, bytesString(uint64(l.WriteBytesPerSec)), 100*l.CPUPerSec, c.cfg.SplitQPS, 100*c.cfg.SplitCPU, c.cfg.SplitWindow)
		if since, hot := mem.hotSince[id]; hot {
			add("  hot for %v of the %v window", st.Now.Sub(since).Round(100*time.Millisecond), c.cfg.SplitWindow)
		} else if r.hot(l) {
			add("  hot since this round")
		} else {
			add("  under the split thresholds")
		}
		ls := rg.LoadSplit
		switch {
		case ls.Key != nil:
			add("  load split key %s would leave %.0f%% of the sampled load on the heavier side (limit %.0f%%; %d samples)", prettyKey(ls.Key), 100*ls.Balance, 100*c.cfg.MaxSplitImbalance, ls.Samples)
		case ls.Samples > 0:
			add("  no load split key (%d samples)", ls.Samples)
		}
		if ls.HotBlock != nil {
			add("  hottest block %s has %.0f%% of the sampled load (hot key at %.0f%%)", prettyKey(ls.HotBlock), 100*ls.HotShare, 100*c.cfg.HotKeyShare)
		}
		add("size: %s, %d keys (split over %s)", bytesString(rg.Bytes), rg.Keys, bytesString(c.cfg.RangeMaxBytes))
		if since, cold := mem.coldSince[id]; cold {
			add("  cold for %v (merge after %v cold with a cold, small neighbour)", st.Now.Sub(since).Round(time.Second), c.cfg.MergeAfter)
		}
	}
	if id == metaRangeID {
		add("the meta range never splits or merges")
	}
	for i := range st.Ranges {
		if st.Ranges[i].ID != id || i+1 >= len(st.Ranges) {
			continue
		}
		right := &st.Ranges[i+1]
		add("merge with r%d: %s", right.ID, r.mergeVerdict(rg, right))
	}
	decided := false
	for _, a := range r.plan.Actions {
		if a.RangeID == id || a.RightID == id {
			add("decision: %s", a.Detail)
			decided = true
		}
	}
	for _, e := range r.plan.Events {
		if e.RangeID == id && e.Kind != "" && !isActionKind(e.Kind) {
			add("note: %s", e.Message)
		}
	}
	for _, a := range st.InFlight {
		if a.RangeID == id || a.RightID == id {
			add("in flight: %s", a.Detail)
			decided = true
		}
	}
	if !decided {
		add("decision: nothing to do now")
	}
	return out
}

// mergeVerdict explains whether left and right would merge.
func (r *round) mergeVerdict(left, right *Range) string {
	switch {
	case left.ID == metaRangeID || right.ID == metaRangeID:
		return "no: the meta range never merges"
	case !sameTenantRanges(left, right):
		return "no: different databases (or not a database's keys)"
	case right.Sticky:
		return fmt.Sprintf("no: r%d starts at a boundary made by hand or by a template", right.ID)
	case !r.fresh(left) || !r.fresh(right):
		return "no: waiting for fresh reports of both"
	}
	l := addLoad(left.Load, right.Load)
	if !r.cold(l) {
		return fmt.Sprintf("no: together %.0f req/s, %.0f%% of a core (must stay under %.0f req/s and %.0f%%)",
			l.ReadsPerSec+l.WritesPerSec, 100*l.CPUPerSec, r.cfg.SplitQPS/2, 100*r.cfg.SplitCPU/2)
	}
	if b := left.Bytes + right.Bytes; b >= r.cfg.RangeMaxBytes/2 {
		return fmt.Sprintf("no: together %s (must stay under %s)", bytesString(b), bytesString(r.cfg.RangeMaxBytes/2))
	}
	if cold := r.coldFor(left, right); cold < r.cfg.MergeAfter {
		return fmt.Sprintf("not yet: both cold for %v of %v", cold.Round(time.Second), r.cfg.MergeAfter)
	}
	if !sameVoterSet(left, right) {
		return fmt.Sprintf("yes, once r%d's replicas are moved onto %s", right.ID, nodeList(voters(left)))
	}
	return "yes: cold and small together"
}

func sameTenantRanges(left, right *Range) bool { return tenantOK(left.StartKey, right.EndKey) }

func isActionKind(kind string) bool {
	for k := Split; k <= MarkRemoved; k++ {
		if k.String() == kind {
			return true
		}
	}
	return false
}

func listIf(ids []uint64) string {
	if len(ids) == 0 {
		return ""
	}
	return " (" + nodeList(ids) + ")"
}
