package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardingsystem/shard/bench/target"
	"github.com/shardingsystem/shard/bench/workload"
)

// A System is something a workload runs against.
type System interface {
	// Name names the system in reports ("shard", "postgres", "etcd").
	Name() string
	// Counters reads its cumulative durability counters.
	Counters(ctx context.Context) (target.Counters, error)
}

// A Settler is a System that goes on working after a workload's load: a
// store flushing and compacting what was loaded, a checkpoint due. Settle
// returns once that work is done, so that the measured run pays for its
// own writes and not for the load's, as a run of hours would.
type Settler interface {
	Settle(ctx context.Context) error
}

// Setup runs wl's Setup on sys, then lets sys settle when it is a
// Settler, and returns how long the settling took.
func Setup(ctx context.Context, sys System, wl workload.Workload) (time.Duration, error) {
	if err := wl.Setup(ctx); err != nil {
		return 0, fmt.Errorf("%s: setup: %w", sys.Name(), err)
	}
	st, ok := sys.(Settler)
	if !ok {
		return 0, nil
	}
	start := time.Now()
	if err := st.Settle(ctx); err != nil {
		return 0, fmt.Errorf("%s: settle after setup: %w", sys.Name(), err)
	}
	return time.Since(start), nil
}

// Run is one workload's run on one system.
type Run struct {
	System string           `json:"system"`
	Result *workload.Result `json:"result"`
	// SettleSeconds is how long the system took to settle after the
	// workload's setup (Settler), before the run started.
	SettleSeconds float64 `json:"settle_seconds,omitempty"`
	// Durability is the fsyncs and commits over the run (ramp included).
	Durability target.Rates `json:"durability"`
	// Writes counts the operations that wrote; WritesPerFsync divides
	// them by Durability.Fsyncs (0 without either).
	Writes         int64   `json:"writes"`
	WritesPerFsync float64 `json:"writes_per_fsync"`
	// CPUMsPerOp is the system's CPU time per operation over the run, in
	// milliseconds (0 where its CPU time cannot be read): a measure of
	// efficiency that other load on the machine disturbs less than
	// throughput.
	CPUMsPerOp float64 `json:"cpu_ms_per_op"`
	// SwitchesPerOp is the context switches of the system's threads per
	// operation over the run (0 where they cannot be read): on a machine
	// whose cores the processes share, a message's cost is largely in the
	// threads it wakes.
	SwitchesPerOp float64 `json:"context_switches_per_op"`
	// Check is the outcome of the workload's check of its data after the
	// run (workload.Checker): "ok", what failed, or empty for a workload
	// without one.
	Check string `json:"check,omitempty"`
}

// CheckOK is Run.Check for a check that passed.
const CheckOK = "ok"

// Failed reports whether the run's data failed the workload's check.
func (r *Run) Failed() bool { return r.Check != "" && r.Check != CheckOK }

// IsWrite reports whether operations named op write.
func IsWrite(op string) bool {
	switch op {
	case "write", "update", "insert", "rmw", "tpcb":
		return true
	}
	return false
}

// Measure runs wl on sys with opts and reads sys's counters around it.
// Unless opts.SkipSetup, it runs Setup first.
func Measure(ctx context.Context, sys System, wl workload.Workload, opts workload.Options) (*Run, error) {
	var settle time.Duration
	if !opts.SkipSetup {
		var err error
		if settle, err = Setup(ctx, sys, wl); err != nil {
			return nil, err
		}
		opts.SkipSetup = true
	}
	before, err := sys.Counters(ctx)
	if err != nil {
		return nil, err
	}
	res, err := workload.Run(ctx, opts, wl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sys.Name(), err)
	}
	after, err := sys.Counters(ctx)
	if err != nil {
		return nil, err
	}
	r := &Run{System: sys.Name(), Result: res, Durability: target.Delta(before, after), SettleSeconds: settle.Seconds()}
	if c, ok := wl.(workload.Checker); ok && ctx.Err() == nil {
		r.Check = CheckOK
		if err := c.Check(ctx); err != nil {
			r.Check = err.Error()
		}
	}
	for _, op := range res.Ops {
		if IsWrite(op.Name) {
			r.Writes += op.Count
		}
	}
	if r.Durability.Fsyncs > 0 {
		r.WritesPerFsync = float64(r.Writes) / r.Durability.Fsyncs
	}
	var ops int64
	for _, tick := range res.Series {
		ops += tick.Count // the ramp included, as the counters are
	}
	if ops > 0 {
		r.CPUMsPerOp = r.Durability.CPUSeconds * 1000 / float64(ops)
		r.SwitchesPerOp = r.Durability.ContextSwitches / float64(ops)
	}
	return r, nil
}

// Machine describes where a report was measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPU       string `json:"cpu"`
	MemoryGiB int    `json:"memory_gib"`
	OS        string `json:"os"`
	Go        string `json:"go"`
}

// ThisMachine describes the machine this runs on.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = (kb + 1<<19) >> 20
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += " " + strings.TrimSpace(string(b))
	}
	return m
}

// Report is the runs of one invocation.
type Report struct {
	Command string    `json:"command"`
	Machine Machine   `json:"machine"`
	Started time.Time `json:"started"`
	Runs    []*Run    `json:"runs"`
	// RunsPerRound groups Runs into rounds of this many, each the system
	// under test and then its peers, one after the other; 0 is one round.
	RunsPerRound int `json:"runs_per_round,omitempty"`
}

// perRound is the number of runs in a round.
func (r *Report) perRound() int {
	if r.RunsPerRound <= 0 {
		return max(len(r.Runs), 1)
	}
	return r.RunsPerRound
}

// rounds is the number of rounds.
func (r *Report) rounds() int { return (len(r.Runs) + r.perRound() - 1) / r.perRound() }

// Ratio is the total operations per second of the first run of run i's
// round over run i's: what share of the peer's throughput the system
// under test reached in the same round.
func (r *Report) Ratio(i int) float64 {
	first := i - i%r.perRound()
	if len(r.Runs) == 0 || r.Runs[i].Result.Total.OpsPerSec == 0 {
		return 0
	}
	return r.Runs[first].Result.Total.OpsPerSec / r.Runs[i].Result.Total.OpsPerSec
}

// Ratios returns, for the k-th run of a round (k ≥ 1: a peer), its ratio
// in every round that has it, and their median.
func (r *Report) Ratios(k int) (each []float64, median float64) {
	for i := k; i < len(r.Runs); i += r.perRound() {
		each = append(each, r.Ratio(i))
	}
	if len(each) == 0 {
		return nil, 0
	}
	sorted := slices.Sorted(slices.Values(each))
	n := len(sorted)
	if n%2 == 1 {
		return each, sorted[n/2]
	}
	return each, (sorted[n/2-1] + sorted[n/2]) / 2
}

// label names run i in the printed report: its system, and its round when
// there are several.
func (r *Report) label(i int) string {
	if r.rounds() <= 1 {
		return r.Runs[i].System
	}
	return fmt.Sprintf("%s#%d", r.Runs[i].System, i/r.perRound()+1)
}

// Print writes the runs side by side: one line per run with its totals,
// durability and the throughput of its round's first run over its own;
// with several rounds, the median of each peer's ratios.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "\nmachine: %d CPUs (%s), %d GiB, %s\n", r.Machine.CPUs, r.Machine.CPU, r.Machine.MemoryGiB, r.Machine.OS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tops/sec\tp50(ms)\tp95(ms)\tp99(ms)\tpMax(ms)\terrors\tretries\tfsyncs/sec\twrites/fsync\tcpu ms/op\tcs/op\tfirst/this\t")
	for i, run := range r.Runs {
		t := run.Result.Total
		wpf := "-"
		if run.Writes > 0 && run.Durability.Fsyncs > 0 {
			wpf = fmt.Sprintf("%.2f", run.WritesPerFsync)
		}
		cpu, cs := "-", "-"
		if run.CPUMsPerOp > 0 {
			cpu = fmt.Sprintf("%.3f", run.CPUMsPerOp)
		}
		if run.SwitchesPerOp > 0 {
			cs = fmt.Sprintf("%.2f", run.SwitchesPerOp)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.1f\t%s\t%s\t%s\t%.2f\t\n", r.label(i), t.OpsPerSec, t.P50Ms, t.P95Ms,
			t.P99Ms, t.MaxMs, t.Errors, t.Retries, run.Durability.FsyncsPerSec, wpf, cpu, cs, r.Ratio(i))
	}
	_ = tw.Flush()
	if n := r.rounds(); n > 1 {
		for k := 1; k < r.perRound(); k++ {
			each, median := r.Ratios(k)
			parts := make([]string, len(each))
			for i, x := range each {
				parts[i] = fmt.Sprintf("%.2f", x)
			}
			fmt.Fprintf(w, "%s over %s: median %.2f of %d rounds (%s)\n", r.Runs[0].System, r.Runs[k].System, median, len(each),
				strings.Join(parts, ", "))
		}
	}
	for i, run := range r.Runs {
		if t := run.Result.Total; t.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", r.label(i), t.FirstError)
		}
		if t := run.Result.Total; t.FirstRetry != "" {
			fmt.Fprintf(w, "%s: first retried error: %s\n", r.label(i), t.FirstRetry)
		}
	}
	for i, run := range r.Runs {
		if run.SettleSeconds > 0 {
			fmt.Fprintf(w, "%s: settled %.1f s after the load before the run\n", r.label(i), run.SettleSeconds)
		}
	}
	for i, run := range r.Runs {
		if run.Check != "" {
			fmt.Fprintf(w, "%s: check of %s's data after the run: %s\n", r.label(i), run.Result.Workload, run.Check)
		}
	}
	for i, run := range r.Runs {
		if len(run.Durability.Nodes) == 0 {
			continue
		}
		var parts []string
		for _, n := range run.Durability.Nodes {
			parts = append(parts, fmt.Sprintf("%s leads %d of %d ranges, %.1f CPU s", n.Name, n.Leaders, n.Ranges, n.CPUSeconds))
		}
		fmt.Fprintf(w, "%s nodes (leaders at the end, CPU over the run): %s\n", r.label(i), strings.Join(parts, "; "))
	}
}

// WriteJSON saves the report at path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
