package jepsen

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/tools/jepsen/report"
)

// TestSmoke runs the smoke tier (and the regressions) against real
// clusters: every scenario must be valid and show progress during and
// after the faults. SHARD_JEPSEN_SKIP=1 skips it; a failed scenario's run
// directory is kept and its path printed.
func TestSmoke(t *testing.T) {
	if os.Getenv("SHARD_JEPSEN_SKIP") == "1" {
		t.Skip("SHARD_JEPSEN_SKIP=1")
	}
	bin := proctest.Binary(t)
	for _, s := range append(append([]Scenario(nil), Smoke...), Regressions...) {
		t.Run(s.Name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "shard-jepsen-"+s.Name+"-")
			if err != nil {
				t.Fatal(err)
			}
			opts := s.Options()
			opts.Binary, opts.Dir, opts.Logf = bin, dir, t.Logf
			res, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("%s: %v (run directory kept: %s)", s.Name, err, dir)
			}
			sum := res.Report.Summary
			t.Logf("%s: %d ops, %+v; during faults %+v, after %+v; errors %v; %s", s.Name, sum.Ops, sum.All, sum.DuringFaults, sum.AfterFaults, sum.Errs, res.Check)
			for class, n := range sum.Errs {
				for _, code := range s.Forbid {
					if strings.HasPrefix(class, code) {
						t.Errorf("%s: %d operations failed with %s (forbidden: %s)", s.Name, n, class, s.Why)
					}
				}
			}
			faulted := s.Nemesis != "none"
			switch {
			case !res.Valid():
				t.Fatalf("%s: %s\nreport: %s/index.html", s.Name, res.Check, dir)
			case !faulted && sum.All.OK == 0:
				t.Fatalf("%s: nothing succeeded (report %s/index.html)", s.Name, dir)
			case !faulted:
			case injected(res.Report.Faults) == 0:
				t.Fatalf("%s: the nemesis injected no fault (report %s/index.html)", s.Name, dir)
			case sum.DuringFaults.Reads+sum.DuringFaults.Writes == 0 || sum.AfterFaults.Reads+sum.AfterFaults.Writes == 0:
				t.Fatalf("%s: no progress during or after faults: %+v %+v (report %s/index.html)", s.Name, sum.DuringFaults, sum.AfterFaults, dir)
			}
			t.Logf("%s: controller events %v", s.Name, res.ControllerEvents)
			for _, kind := range s.Require {
				if !injectedKind(res.Report.Faults, kind) {
					t.Errorf("%s: the nemesis never injected %s (report %s/index.html)", s.Name, kind, dir)
				}
			}
			for _, kind := range s.Controller {
				if res.ControllerEvents[kind] == 0 {
					t.Errorf("%s: the controller never did %s: %v", s.Name, kind, res.ControllerEvents)
				}
			}
			if t.Failed() {
				t.Logf("run directory kept: %s", dir)
				return
			}
			os.RemoveAll(dir)
		})
	}
}

// injectedKind reports whether a fault of kind took effect.
func injectedKind(faults []report.Fault, kind string) bool {
	for _, f := range faults {
		if f.Kind == kind && f.Injected() {
			return true
		}
	}
	return false
}

// injected counts the faults that took effect (not notes, not failures to
// start).
func injected(faults []report.Fault) int {
	n := 0
	for _, f := range faults {
		if f.Injected() {
			n++
		}
	}
	return n
}
