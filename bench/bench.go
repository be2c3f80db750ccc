package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
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
}

// Ratio is the first run's total operations per second over run i's:
// what share of the peer's throughput the system under test reached.
func (r *Report) Ratio(i int) float64 {
	if len(r.Runs) == 0 || r.Runs[i].Result.Total.OpsPerSec == 0 {
		return 0
	}
	return r.Runs[0].Result.Total.OpsPerSec / r.Runs[i].Result.Total.OpsPerSec
}

// Print writes the runs side by side: one line per system with its
// totals, durability and the first's throughput over its own.
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
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%.1f\t%s\t%s\t%s\t%.2f\t\n", run.System, t.OpsPerSec, t.P50Ms, t.P95Ms,
			t.P99Ms, t.MaxMs, t.Errors, t.Retries, run.Durability.FsyncsPerSec, wpf, cpu, cs, r.Ratio(i))
	}
	_ = tw.Flush()
	for _, run := range r.Runs {
		if t := run.Result.Total; t.FirstError != "" {
			fmt.Fprintf(w, "%s: first error: %s\n", run.System, t.FirstError)
		}
		if t := run.Result.Total; t.FirstRetry != "" {
			fmt.Fprintf(w, "%s: first retried error: %s\n", run.System, t.FirstRetry)
		}
	}
	for _, run := range r.Runs {
		if run.SettleSeconds > 0 {
			fmt.Fprintf(w, "%s: settled %.1f s after the load before the run\n", run.System, run.SettleSeconds)
		}
	}
	for _, run := range r.Runs {
		if run.Check != "" {
			fmt.Fprintf(w, "%s: check of %s's data after the run: %s\n", run.System, run.Result.Workload, run.Check)
		}
	}
	for _, run := range r.Runs {
		if len(run.Durability.Nodes) == 0 {
			continue
		}
		var parts []string
		for _, n := range run.Durability.Nodes {
			parts = append(parts, fmt.Sprintf("%s leads %d of %d ranges, %.1f CPU s", n.Name, n.Leaders, n.Ranges, n.CPUSeconds))
		}
		fmt.Fprintf(w, "%s nodes (leaders at the end, CPU over the run): %s\n", run.System, strings.Join(parts, "; "))
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
