package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/shardingsystem/shard/bench"
	"github.com/shardingsystem/shard/bench/etcdpeer"
	"github.com/shardingsystem/shard/bench/failover"
	"github.com/shardingsystem/shard/bench/target"
	"github.com/shardingsystem/shard/bench/workload"
)

// benchWorkloads are the workloads `shard bench` runs over SQL; failover
// is kv under faults.
var benchWorkloads = []string{"kv", "ycsb", "select", "tpcb", "failover"}

// runBench runs a workload against a shard cluster it starts (or --url),
// and with --compare against a peer it starts, one after the other, and
// prints them side by side.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: shard bench WORKLOAD [flags]\n\nworkloads: %s\n\nflags:\n", strings.Join(benchWorkloads, ", "))
		fs.PrintDefaults()
	}
	url := fs.String("url", "", "run against this database (a postgresql:// string; several hosts allowed) instead of a cluster the command starts")
	nodes := fs.Int("nodes", 3, "nodes of the cluster the command starts")
	compare := fs.String("compare", "", "also run the workload against a peer started on this machine: postgres (any workload), etcd (kv: single-key writes and reads through etcd's client, 3 members)")
	conc := fs.Int("concurrency", 8, "workers, each with its own connection")
	dur := fs.Duration("duration", 30*time.Second, "how long to measure (after the ramp)")
	ramp := fs.Duration("ramp", 5*time.Second, "start the workers over this time first; not measured")
	maxRate := fs.Float64("max-rate", 0, "operations per second of all workers together (0: as fast as they go)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed makes the same choices")
	jsonPath := fs.String("json", "", "write the report (every run, per-second series, the machine) to this file")
	profDir := fs.String("profile", "", "fetch CPU and allocation profiles of every node during the (first round's) run into this directory")
	keep := fs.Bool("keep", false, "keep the started cluster's data and logs (its directory is printed)")
	rounds := fs.Int("rounds", 1, "run shard and the peer this many times, one after the other, and print the median ratio (single runs on a shared machine swing by a third)")
	shardKey := fs.String("shard-key", "", "the shard key of the database the command creates (CREATE DATABASE ... WITH shard_key): tpcb with bid places each branch's rows in one range, so a transaction commits in one raft round")
	// kv
	readPct := fs.Int("read-percent", 0, "kv: percent of operations that read")
	keyCount := fs.Int64("keys", 100_000, "kv: number of keys")
	valueSize := fs.Int("value-size", 64, "kv: bytes per value")
	dist := fs.String("distribution", "", "kv, ycsb: key distribution, uniform or zipfian (default: uniform for kv, zipfian for ycsb, latest for ycsb D)")
	batch := fs.Int("batch", 1, "kv: rows per write")
	preload := fs.Bool("preload", true, "kv: write every key before the run, so reads find rows")
	// ycsb
	ycsbLetter := fs.String("ycsb", "A", "ycsb: the core workload, A to F")
	records := fs.Int64("records", 100_000, "ycsb: rows of 1 KB loaded before the run")
	// pgbench
	scale := fs.Int("scale", 1, "select, tpcb: pgbench's scale factor (100,000 accounts each)")
	// failover
	faults := fs.String("faults", failover.RangeLeader+","+failover.MetaLeader, "failover: the faults, in order ("+failover.RangeLeader+", "+failover.MetaLeader+", "+failover.Split+", "+failover.TransferLeader+", "+failover.Merge+")")
	warmup := fs.Duration("warmup", 10*time.Second, "failover: load before the first kill and after each recovery")
	observe := fs.Duration("observe", 10*time.Second, "failover: how long a killed node stays down")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one workload (%s)", strings.Join(benchWorkloads, ", "))
	}
	name := fs.Arg(0)
	newWorkload := func(dsn string) (workload.Workload, error) {
		switch name {
		case "kv", "failover":
			d := *dist
			if d == "" {
				d = workload.Uniform
			}
			return workload.NewKV(workload.KVOptions{DSN: dsn, ReadPercent: *readPct, Keys: *keyCount, ValueSize: *valueSize,
				Distribution: d, Batch: *batch, Preload: *preload})
		case "ycsb":
			return workload.NewYCSB(workload.YCSBOptions{DSN: dsn, Workload: *ycsbLetter, RecordCount: *records, Distribution: *dist})
		case "select":
			return workload.NewSelect(workload.PgbenchOptions{DSN: dsn, Scale: *scale})
		case "tpcb":
			return workload.NewTPCB(workload.PgbenchOptions{DSN: dsn, Scale: *scale})
		}
		return nil, usagef("unknown workload %q (want %s)", name, strings.Join(benchWorkloads, ", "))
	}
	if name == "failover" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["read-percent"] {
			*readPct = 50
		}
		if !set["max-rate"] {
			*maxRate = 500
		}
		if *url != "" || *compare != "" {
			return usagef("failover runs on a cluster the command starts: no --url or --compare")
		}
	}
	if *rounds < 1 {
		return usagef("--rounds %d: want at least 1", *rounds)
	}
	if name == "failover" && *rounds != 1 {
		return usagef("failover runs once: no --rounds")
	}
	if *shardKey != "" {
		if *url != "" {
			return usagef("--shard-key is for the database the command creates: not with --url")
		}
		if !shardKeyRE.MatchString(*shardKey) {
			return usagef("--shard-key %q: want a lower-case column name", *shardKey)
		}
	}
	if _, err := newWorkload("postgresql://check"); err != nil {
		return err
	}
	switch *compare {
	case "", "postgres":
	case "etcd":
		if name != "kv" || *batch != 1 {
			return usagef("--compare etcd runs single-key operations: the kv workload with --batch 1")
		}
	default:
		return usagef("--compare %q: want postgres or etcd", *compare)
	}
	opts := workload.Options{Concurrency: *conc, Duration: *dur, Ramp: *ramp, MaxRate: *maxRate, Seed: *seed,
		Progress: stdout, Out: stdout}
	if err := opts.Validate(); err != nil {
		return usagef("%v", err)
	}
	if *dur <= 0 {
		return usagef("--duration must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	rep := &bench.Report{Command: "shard bench " + strings.Join(args, " "), Machine: bench.ThisMachine(), Started: time.Now()}

	env := benchEnv{url: *url, nodes: *nodes, keep: *keep, shardKey: *shardKey, compare: *compare, workload: name,
		newWorkload: newWorkload, opts: opts, profDir: *profDir, logf: logf, stdout: stdout,
		etcdKV: etcdpeer.KVOptions{Keys: *keyCount, ValueSize: *valueSize, ReadPercent: *readPct}}
	if name == "failover" {
		return env.failover(ctx, failover.Options{Run: opts, Faults: strings.Split(*faults, ","), Warmup: *warmup,
			Observe: *observe, Logf: logf}, rep, *jsonPath)
	}
	// Each round runs shard and then the peer, each started afresh.
	for round := 1; round <= *rounds; round++ {
		if *rounds > 1 {
			fmt.Fprintf(stdout, "\nround %d of %d\n", round, *rounds)
		}
		runs, err := env.round(ctx)
		if err != nil {
			return err
		}
		rep.Runs, rep.RunsPerRound = append(rep.Runs, runs...), len(runs)
		env.profDir = "" // profiles are of the first round's shard run
	}
	rep.Print(stdout)
	if *jsonPath != "" {
		if err := rep.WriteJSON(*jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", *jsonPath)
	}
	for _, run := range rep.Runs {
		if run.Failed() {
			return fmt.Errorf("%s: the check of the data after the run failed: %s", run.System, run.Check)
		}
	}
	return nil
}

// benchEnv is what a round of `shard bench` needs.
type benchEnv struct {
	url, shardKey, compare, workload, profDir string
	nodes                                     int
	keep                                      bool
	newWorkload                               func(dsn string) (workload.Workload, error)
	opts                                      workload.Options
	etcdKV                                    etcdpeer.KVOptions
	logf                                      func(string, ...any)
	stdout                                    io.Writer
}

// startShard starts the cluster, unless the run is against --url (nil).
func (e *benchEnv) startShard(ctx context.Context) (*target.Shard, error) {
	if e.url != "" {
		return nil, nil
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "starting a %d-node shard cluster (3 replicas, fsync on)...\n", e.nodes)
	return target.StartShard(ctx, target.ShardOptions{Binary: bin, Nodes: e.nodes, Keep: e.keep, ShardKey: e.shardKey})
}

// closeShard stops the cluster startShard started.
func (e *benchEnv) closeShard(shard *target.Shard) {
	if shard == nil {
		return
	}
	if e.keep {
		fmt.Fprintf(e.stdout, "cluster data and logs kept in %s\n", shard.Dir())
	}
	_ = shard.Close()
}

// round runs the workload on shard and then on the peer (--compare), and
// returns their runs in that order.
func (e *benchEnv) round(ctx context.Context) ([]*bench.Run, error) {
	shard, err := e.startShard(ctx)
	if err != nil {
		return nil, err
	}
	var sys bench.System = noCounters{"shard"}
	dsn := e.url
	if shard != nil {
		sys, dsn = shard, shard.DSN()
	}
	run, err := func() (*bench.Run, error) {
		defer e.closeShard(shard)
		wl, err := e.newWorkload(dsn)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stdout, "loading %s on shard...\n", e.workload)
		return measureWithProfiles(ctx, sys, shard, wl, e.opts, e.profDir, e.logf)
	}()
	if err != nil {
		return nil, err
	}
	runs := []*bench.Run{run}
	switch e.compare {
	case "postgres":
		fmt.Fprintln(e.stdout, "\nstarting PostgreSQL 15 (fsync on)...")
		pg, err := target.StartPostgres(ctx, e.logf)
		if err != nil {
			return nil, err
		}
		defer pg.Close()
		wl, err := e.newWorkload(pg.DSN())
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(e.stdout, "loading %s on postgres...\n", e.workload)
		if run, err = bench.Measure(ctx, pg, wl, e.opts); err != nil {
			return nil, err
		}
		runs = append(runs, run)
	case "etcd":
		fmt.Fprintln(e.stdout, "\nstarting a 3-member etcd (fsync on)...")
		ec, err := etcdpeer.Start(ctx, etcdpeer.Options{})
		if err != nil {
			return nil, err
		}
		defer ec.Stop()
		kvOpts := e.etcdKV
		kvOpts.Endpoints = ec.Endpoints()
		wl, err := etcdpeer.NewKV(kvOpts)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(e.stdout, "running kv on etcd...")
		if run, err = bench.Measure(ctx, ec, wl, e.opts); err != nil {
			return nil, err
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// failover runs the failover benchmark on a cluster it starts.
func (e *benchEnv) failover(ctx context.Context, opts failover.Options, rep *bench.Report, jsonPath string) error {
	shard, err := e.startShard(ctx)
	if err != nil {
		return err
	}
	defer e.closeShard(shard)
	wl, err := e.newWorkload(shard.DSN())
	if err != nil {
		return err
	}
	return benchFailover(ctx, shard, wl, opts, rep, jsonPath, e.stdout)
}

// shardKeyRE is what --shard-key accepts, as the platform API's shard_key.
var shardKeyRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// measureWithProfiles is bench.Measure, fetching every node's CPU profile
// over the middle of the run and its allocation profile at the end when
// dir is set.
func measureWithProfiles(ctx context.Context, sys bench.System, shard *target.Shard, wl workload.Workload, opts workload.Options,
	dir string, logf func(string, ...any)) (*bench.Run, error) {
	if dir == "" || shard == nil {
		return bench.Measure(ctx, sys, wl, opts)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	settle, err := bench.Setup(ctx, sys, wl)
	if err != nil {
		return nil, err
	}
	opts.SkipSetup = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			return
		case <-time.After(opts.Ramp + opts.Duration/4):
		}
		d := max(opts.Duration/2, time.Second)
		paths, err := shard.Profile(ctx, "profile", d, dir)
		if err != nil {
			logf("profile: %v", err)
		}
		for _, p := range paths {
			logf("CPU profile: %s", p)
		}
	}()
	run, err := bench.Measure(ctx, sys, wl, opts)
	<-done
	if err == nil {
		run.SettleSeconds = settle.Seconds()
		paths, perr := shard.Profile(ctx, "allocs", 0, dir)
		if perr != nil {
			logf("profile: %v", perr)
		}
		for _, p := range paths {
			logf("allocation profile: %s", p)
		}
	}
	return run, err
}

// benchFailover runs the failover benchmark and prints each kill's
// longest gap and errors.
func benchFailover(ctx context.Context, shard *target.Shard, wl workload.Workload, opts failover.Options, rep *bench.Report,
	jsonPath string, stdout io.Writer) error {
	fmt.Fprintln(stdout, "loading kv on shard...")
	if err := wl.Setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	res, err := failover.Run(ctx, shard, wl, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nmachine: %d CPUs (%s), %d GiB, %s\n", rep.Machine.CPUs, rep.Machine.CPU, rep.Machine.MemoryGiB, rep.Machine.OS)
	fmt.Fprintf(stdout, "%-14s %-5s %-7s %8s %16s %16s %8s\n", "fault", "node", "range", "at(s)", "longest gap(ms)", "slowest op(ms)", "errors")
	for _, f := range res.Faults {
		fmt.Fprintf(stdout, "%-14s %-5s r%-6d %8.1f %16.0f %16.0f %8d\n", f.Kind, f.Node, f.Range, f.At, f.LongestGapMs, f.SlowestOpMs, f.Errors)
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(struct {
			*bench.Report
			Failover *failover.Result `json:"failover"`
		}{rep, res}, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", jsonPath)
	}
	return nil
}

// noCounters is a system whose counters cannot be read (--url).
type noCounters struct{ name string }

func (n noCounters) Name() string { return n.name }
func (n noCounters) Counters(context.Context) (target.Counters, error) {
	return target.Counters{At: time.Now()}, nil
}
