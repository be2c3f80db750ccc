package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
	"github.com/shardingsystem/shard/tools/jepsen/nemesis"
	"github.com/shardingsystem/shard/tools/jepsen/workload"
)

// runJepsen runs Jepsen-style tests: every workload of --workload against
// every nemesis of --nemesis, --count times each, with a fresh cluster per
// run, and prints a table of the outcomes. Exit 1 if any run found an
// anomaly or could not verify.
func runJepsen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("jepsen", stderr)
	workloads := fs.String("workload", "all", "workloads, comma-separated: "+strings.Join(workload.Names(), ", ")+", or all")
	nemeses := fs.String("nemesis", "all", "fault specs separated by ';' (each: sets or faults separated by ',': kill, pause, partition, clock, churn, all, none, or a fault name such as kill-leader)")
	dur := fs.Duration("time", time.Minute, "how long the clients run in each test")
	interval := fs.Duration("interval", 10*time.Second, "length of each fault and of the fault-free gap before it")
	count := fs.Int("count", 1, "runs of each workload × nemesis")
	nodes := fs.Int("nodes", 3, "nodes per cluster (3 or 5)")
	concurrency := fs.Int("concurrency", 0, "client processes (default 2 per node)")
	ops := fs.Int("ops", 0, "stop each test's clients after this many operations (0: only --time bounds them)")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the first run (each further run adds 1)")
	dir := fs.String("dir", "", "directory for the reports (default ./jepsen-reports/TIMESTAMP)")
	mode := fs.String("net", "auto", "network: auto, netns or loopback")
	verbose := fs.Bool("v", false, "print progress lines")
	fastController := fs.Bool("fast-controller", true, "start the nodes with test-sized controller thresholds, so that load splits and merges happen during a short run")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	var startArgs []string
	if *fastController {
		startArgs = jepsen.ControllerArgs
	}
	wls := workload.Names()
	if *workloads != "all" {
		wls = strings.Split(*workloads, ",")
		for _, w := range wls {
			if _, err := workload.New(w); err != nil {
				return usagef("%v", err)
			}
		}
	}
	nems := strings.Split(*nemeses, ";")
	for _, n := range nems {
		if n != "none" {
			if _, err := nemesis.Lookup(n); err != nil {
				return usagef("%v", err)
			}
		}
	}
	var netMode cluster.Mode
	switch *mode {
	case "auto":
		netMode = cluster.Auto
	case "netns":
		netMode = cluster.Namespaces
	case "loopback":
		netMode = cluster.Loopback
	default:
		return usagef("--net %q: want auto, netns or loopback", *mode)
	}
	if *nodes != 3 && *nodes != 5 {
		return usagef("--nodes %d: want 3 or 5", *nodes)
	}
	if *ops < 0 {
		return usagef("--ops %d: want 0 or more", *ops)
	}
	if *count < 1 {
		return usagef("--count %d: want at least 1", *count)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Join("jepsen-reports", time.Now().Format("20060102-150405"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(string, ...any) {}
	if *verbose {
		logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	fmt.Fprintf(stdout, "%-12s %-24s %5s %8s %8s %8s %6s  %s\n", "workload", "nemesis", "seed", "ops", "ok", "info", "valid", "report")
	bad := 0
	s := *seed
	for _, w := range wls {
		for _, n := range nems {
			for i := range *count {
				runDir := filepath.Join(*dir, fmt.Sprintf("%s-%s-%d", w, strings.NewReplacer(",", "+", " ", "").Replace(n), i+1))
				res, err := jepsen.Run(ctx, jepsen.Options{
					Binary: bin, Dir: runDir, Workload: w, Nemesis: n, Nodes: *nodes, Time: *dur,
					Interval: *interval, Concurrency: *concurrency, Ops: *ops, Seed: s, Mode: netMode, Logf: logf,
					StartArgs: startArgs,
				})
				s++
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted")
				}
				if err != nil {
					bad++
					fmt.Fprintf(stdout, "%-12s %-24s %5d  error: %v\n", w, n, s-1, err)
					continue
				}
				sum := res.Report.Summary
				verdict := "yes"
				switch {
				case res.Check.Unknown:
					verdict, bad = "UNKNOWN", bad+1
				case !res.Valid():
					verdict, bad = "NO", bad+1
				}
				fmt.Fprintf(stdout, "%-12s %-24s %5d %8d %8d %8d %6s  %s\n", w, n, s-1, sum.Ops, sum.All.OK, sum.All.Info, verdict, filepath.Join(runDir, "index.html"))
				if !res.Valid() {
					fmt.Fprintf(stdout, "    %s\n", res.Check)
				}
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d run(s) found anomalies, could not verify, or failed", bad)
	}
	return nil
}
