package jepsen

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/tools/jepsen/checker"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
	"github.com/shardingsystem/shard/tools/jepsen/history"
	"github.com/shardingsystem/shard/tools/jepsen/nemesis"
	"github.com/shardingsystem/shard/tools/jepsen/report"
	"github.com/shardingsystem/shard/tools/jepsen/workload"
)

// Options describe one test.
type Options struct {
	// Binary is the shard binary to run. Required.
	Binary string
	// Dir is the run directory: the nodes' data and logs, and the report.
	// Required.
	Dir string
	// Workload is register, bank, bank-sharded, set or list-append.
	Workload string
	// Nemesis is a fault spec for nemesis.Lookup ("kill", "partition,pause",
	// "all", "none", ...).
	Nemesis string
	// Nodes is 3 or 5 (default 3).
	Nodes int
	// Time is how long the clients run (default 60 s).
	Time time.Duration
	// Interval is each fault's length and the gap between faults (default
	// 10 s).
	Interval time.Duration
	// Recovery is how long the clients go on after the faults are healed
	// (default 10 s; with a nemesis only).
	Recovery time.Duration
	// Concurrency is the number of client processes (default 2 per node).
	Concurrency int
	// Ops bounds the operations invoked; 0: no bound.
	Ops int
	// Seed seeds the workload and the nemesis.
	Seed uint64
	// Mode picks the cluster's network (default: namespaces when possible).
	Mode cluster.Mode
	// StartArgs are added to every node's `shard start` (test-sized
	// controller thresholds, so that load splits and merges happen during
	// a short run: ControllerArgs).
	StartArgs []string
	// Logf gets progress lines.
	Logf func(format string, args ...any)
}

// Result is the outcome of Run.
type Result struct {
	Report report.Report
	Check  checker.Result
	// Dir is where the report was written.
	Dir string
	// ControllerEvents counts the zero-touch controller's events of the
	// run by kind ("split", "merge", "relocate", ...), read from the
	// cluster at the end (nil when they could not be read).
	ControllerEvents map[string]int
}

// Valid reports whether the checker passed (not invalid, not unknown).
func (r *Result) Valid() bool { return r.Check.Valid && !r.Check.Unknown }

// Run runs one test and writes its report into opts.Dir. The error is for
// a test that could not run (the cluster did not start, the final reads
// never succeeded); anomalies are in the result.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Time <= 0 {
		opts.Time = time.Minute
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2 * opts.Nodes
	}
	if opts.Recovery <= 0 {
		opts.Recovery = 10 * time.Second
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	w, err := workload.New(opts.Workload)
	if err != nil {
		return nil, err
	}
	chk, err := checkerFor(w)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	c, err := cluster.Start(ctx, cluster.Config{
		Binary: opts.Binary, Nodes: opts.Nodes, Dir: filepath.Join(opts.Dir, "cluster"), Mode: opts.Mode, Logf: logf,
		ExtraArgs: opts.StartArgs,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	logf("cluster of %d nodes up (%s network)", opts.Nodes, c.Mode())

	const db = "jepsen"
	shardKey := ""
	if s, ok := w.(workload.Sharded); ok {
		shardKey = s.ShardKey()
	}
	if err := CreateDatabase(ctx, c.Node(1).DSN("postgres"), db, shardKey); err != nil {
		return nil, err
	}
	target := Target{DSNs: c.DSNs(db)}
	for _, n := range c.Nodes() {
		target.Names = append(target.Names, n.Name)
	}
	if err := Setup(ctx, target, w); err != nil {
		return nil, err
	}

	rec := history.NewRecorder(opts.Concurrency)
	var faults Faults
	var nem *nemesis.Nemesis
	if opts.Nemesis != "" && opts.Nemesis != "none" {
		nem, err = nemesis.New(c, nemesis.Options{
			Faults: opts.Nemesis, Interval: opts.Interval, Seed: opts.Seed, Clock: rec.Since, Logf: logf,
		})
		if err != nil {
			return nil, err
		}
		faults = nem
	}
	h, genErr := Generate(ctx, target, Load{
		Workload: w, Concurrency: opts.Concurrency, Time: opts.Time, Ops: opts.Ops, Seed: opts.Seed,
		Logf: logf, Recorder: rec, Recovery: opts.Recovery,
	}, faults)

	if genErr != nil {
		postmortem(ctx, c, logf)
	}
	res := &Result{Dir: opts.Dir}
	if evs, err := c.Events(ctx); err != nil {
		logf("controller events: %v", err)
	} else {
		res.ControllerEvents = map[string]int{}
		for _, e := range evs {
			res.ControllerEvents[e.Kind]++
		}
	}
	var faultList []report.Fault
	if nem != nil {
		faultList = nem.Faults()
	}
	res.Check = chk.Check(h)
	if genErr == nil && !res.Valid() {
		// CI keeps only the test's output: say where the data is now.
		postmortem(ctx, c, logf)
		probeLost(ctx, target, w, res.Check, logf)
	}
	if genErr != nil {
		// The history is incomplete (no final read): it cannot verify.
		res.Check.Valid, res.Check.Unknown = false, true
		res.Check.Reason = strings.TrimSpace(res.Check.Reason + " " + genErr.Error())
	}
	nemName := opts.Nemesis
	if nemName == "" {
		nemName = "none"
	}
	res.Report = report.Report{
		Workload: opts.Workload, Nemesis: nemName, Seed: opts.Seed, Nodes: opts.Nodes,
		Started: started, Duration: time.Since(started),
		Verdict: verdict(res.Check), Summary: report.Summarize(h, faultList), Faults: faultList,
		Checker: res.Check, History: h,
	}
	if err := report.Write(opts.Dir, res.Report); err != nil {
		return res, err
	}
	if genErr != nil && errors.Is(genErr, context.Canceled) {
		return res, genErr
	}
	return res, nil
}

// postmortem logs what the cluster looks like when a test could not
// finish (its final reads never succeeded): the end of every node's log,
// the nodes' states, and every range with its replicas and leader, last
// (where a shortened output keeps it). CI keeps only a test's output, not
// its run directory.
func postmortem(ctx context.Context, c *cluster.Cluster, logf func(string, ...any)) {
	logf("postmortem: node logs:\n%s", c.LogTail(40))
	states, err := c.NodeStates(ctx)
	logf("postmortem: node states %v (err %v)", states, err)
	rs, err := c.Ranges(ctx)
	if err != nil {
		logf("postmortem: ranges: %v", err)
	}
	for _, r := range rs {
		frozen := ""
		if r.MergingInto != 0 {
			frozen = fmt.Sprintf(" frozen into r%d", r.MergingInto)
		}
		logf("postmortem: %v qps %.0f generation %d%s %s", r, r.QPS, r.Generation, frozen, r.Error)
	}
}

// probeLost looks again, through every node, for the elements the set
// checker found lost: present now means a read missed it (a scan over a
// stale range, say), absent everywhere that the write itself is gone.
func probeLost(ctx context.Context, target Target, w workload.Workload, res checker.Result, logf func(string, ...any)) {
	set, ok := w.(*workload.Set)
	if !ok {
		return
	}
	var lost []int64
	for _, a := range res.Anomalies {
		if a.Kind == checker.KindLost && len(a.Ops) > 0 && a.Ops[0].Value != nil {
			lost = append(lost, *a.Ops[0].Value)
		}
	}
	if len(lost) == 0 {
		return
	}
	for i, dsn := range target.DSNs {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		found, err := probeOne(pctx, dsn, func(conn *pgx.Conn) (string, error) { return set.Probe(pctx, conn, lost) })
		cancel()
		if err != nil {
			found = "error: " + err.Error()
		}
		logf("lost elements now, through %s: %s", target.Names[i], found)
	}
}

// probeOne runs f on a new connection to dsn.
func probeOne(ctx context.Context, dsn string, f func(*pgx.Conn) (string, error)) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	return f(conn)
}

// checkerFor returns the checker of a workload.
func checkerFor(w workload.Workload) (checker.Checker, error) {
	switch w := w.(type) {
	case *workload.Register:
		return checker.Register{}, nil
	case *workload.Bank:
		return checker.Bank{Accounts: w.Accounts, Total: w.Total}, nil
	case *workload.Set:
		return checker.Set{}, nil
	case *workload.ListAppend:
		// Timestamps come from one oracle: a transaction that starts after
		// another committed sees it (snapshot isolation in real time).
		return checker.ListAppend{RealTime: true}, nil
	}
	return nil, fmt.Errorf("jepsen: no checker for workload %s", w.Name())
}

func verdict(r checker.Result) report.Verdict {
	v := report.Verdict{Valid: r.Valid && !r.Unknown, Unknown: r.Unknown}
	if r.Unknown {
		v.Anomalies = append(v.Anomalies, "unknown: "+r.Reason)
	}
	for _, a := range r.Anomalies {
		v.Anomalies = append(v.Anomalies, a.String())
	}
	for _, a := range r.Allowed {
		v.Allowed = append(v.Allowed, a.String())
	}
	return v
}
