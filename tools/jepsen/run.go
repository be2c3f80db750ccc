package jepsen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardingsystem/shard/tools/jepsen/history"
	"github.com/shardingsystem/shard/tools/jepsen/workload"
)

// Target is a database the clients reach: one DSN per node.
type Target struct {
	// DSNs are the nodes' connection strings, for the workload's database.
	DSNs []string
	// Names name the nodes in the history (n1, n2, ...); default n<i+1>.
	Names []string
}

func (t Target) name(i int) string {
	if i < len(t.Names) {
		return t.Names[i]
	}
	return fmt.Sprintf("n%d", i+1)
}

// Faults injects faults while the clients run.
type Faults interface {
	// Run injects faults until ctx ends, then heals every fault and waits
	// until the cluster is whole again before returning.
	Run(ctx context.Context) error
}

// Load is the client side of a test.
type Load struct {
	Workload    workload.Workload
	Concurrency int           // client processes; default 2 per node
	Time        time.Duration // how long clients run
	Ops         int           // stop after this many invocations; 0: no bound
	Seed        uint64
	// OpTimeout bounds one operation; an op that runs out is Info (writes)
	// or Fail (reads). Default 5 s.
	OpTimeout time.Duration
	// Logf, when set, gets progress lines.
	Logf func(format string, args ...any)
	// Recovery is how long clients go on after the faults are healed
	// (only with faults); 0: none.
	Recovery time.Duration
	// Recorder, when set, records the history (its clock is the test's,
	// shared with the nemesis); default a new one.
	Recorder *history.Recorder
}

// Generate runs load against target while faults (nil for none) run, then
// (with faults) a recovery phase without them, then the workload's final
// reads, and returns the history.
func Generate(ctx context.Context, target Target, load Load, faults Faults) (history.History, error) {
	if len(target.DSNs) == 0 {
		return nil, errors.New("jepsen: no nodes")
	}
	if load.Concurrency <= 0 {
		load.Concurrency = 2 * len(target.DSNs)
	}
	if load.OpTimeout <= 0 {
		load.OpTimeout = 5 * time.Second
	}
	logf := load.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rec := load.Recorder
	if rec == nil {
		rec = history.NewRecorder(load.Concurrency)
	}
	var invoked atomic.Int64
	clients := make([]*client, load.Concurrency)
	for p := range clients {
		clients[p] = &client{
			target: target, node: p % len(target.DSNs), process: p, rec: rec, load: load,
			rng: rand.New(rand.NewPCG(load.Seed, uint64(p))), invoked: &invoked,
		}
	}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()

	// The main phase: clients and faults together.
	runCtx, stop := context.WithTimeout(ctx, load.Time)
	defer stop()
	var faultErr error
	faultsDone := make(chan struct{})
	if faults != nil {
		go func() {
			defer close(faultsDone)
			faultErr = faults.Run(runCtx)
		}()
	} else {
		close(faultsDone)
	}
	runClients(runCtx, clients, rec, &invoked, logf)
	stop()
	<-faultsDone
	if ctx.Err() != nil {
		return rec.History(), ctx.Err()
	}
	if faultErr != nil {
		return rec.History(), fmt.Errorf("jepsen: faults: %w", faultErr)
	}
	// The recovery phase: the faults are healed and the cluster is whole;
	// the clients go on, to show that the database serves again.
	if faults != nil && load.Recovery > 0 {
		logf("%s: healed; recovery phase of %v", rec.Since().Round(time.Second), load.Recovery)
		recCtx, cancel := context.WithTimeout(ctx, load.Recovery)
		runClients(recCtx, clients, rec, &invoked, logf)
		cancel()
	}
	if err := final(ctx, target, load, rec); err != nil {
		return rec.History(), err
	}
	return rec.History(), nil
}

// runClients runs every client until ctx ends, with a progress line every
// 10 s.
func runClients(ctx context.Context, clients []*client, rec *history.Recorder, invoked *atomic.Int64, logf func(string, ...any)) {
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	for {
		select {
		case <-done:
			return
		case <-progress.C:
			logf("%s: %d ops invoked", rec.Since().Round(time.Second), invoked.Load())
		}
	}
}

// final runs the workload's final ops, each until it succeeds on some
// node, for at most a minute each.
func final(ctx context.Context, target Target, load Load, rec *history.Recorder) error {
	for _, op := range load.Workload.Final() {
		deadline := time.Now().Add(time.Minute)
		for attempt := 0; ; attempt++ {
			c := &client{target: target, node: attempt % len(target.DSNs), process: rec.NewProcess(), rec: rec, load: load}
			done, err := c.once(ctx, op)
			c.close()
			if err == nil && done.Type == history.OK {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("jepsen: final %s never succeeded: %v %s", op.F, err, done.Error)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return nil
}

// client is one logical process's driver: one connection to one node.
type client struct {
	target  Target
	node    int
	process int
	rec     *history.Recorder
	load    Load
	rng     *rand.Rand
	invoked *atomic.Int64
	conn    *pgx.Conn
}

func (c *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		if c.load.Ops > 0 && c.invoked.Load() >= int64(c.load.Ops) {
			return
		}
		if err := c.connect(ctx); err != nil {
			// Nothing was invoked: wait and try again.
			select {
			case <-time.After(time.Duration(100+c.rng.IntN(200)) * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		c.invoked.Add(1)
		c.once(ctx, c.load.Workload.Next(c.rng))
	}
}

// once invokes op on the client's connection and records the invocation
// and completion. The error is for a failure to connect (nothing
// recorded).
func (c *client) once(ctx context.Context, op history.Op) (history.Op, error) {
	if err := c.connect(ctx); err != nil {
		return op, err
	}
	op.Type = history.Invoke
	op.Process = c.process
	op.Node = c.target.name(c.node)
	inv := c.rec.Add(op)
	// An op in flight when the test ends finishes under its own timeout,
	// not the test's: cutting it short would make it indeterminate.
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.load.OpTimeout)
	done := c.load.Workload.Invoke(opCtx, c.conn, inv)
	cancel()
	done.Process, done.Node, done.F = inv.Process, inv.Node, inv.F
	done = c.rec.Add(done)
	switch {
	case done.Type == history.Info:
		// The process may still have an op in flight at the database:
		// it never runs again. A new process takes its place.
		c.close()
		c.process = c.rec.NewProcess()
	case c.conn.IsClosed():
		c.close()
	}
	return done, nil
}

func (c *client) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	cfg, err := pgx.ParseConfig(c.target.DSNs[c.node])
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 5 * time.Second
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return err
	}
	c.conn = conn
	return nil
}

func (c *client) close() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.conn.Close(ctx)
		cancel()
		c.conn = nil
	}
}

// Setup creates the workload's schema through the first node that
// answers, retrying for up to a minute.
func Setup(ctx context.Context, target Target, w workload.Workload) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for i := 0; time.Now().Before(deadline); i++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.Connect(cctx, target.DSNs[i%len(target.DSNs)])
		if err == nil {
			err = w.Setup(cctx, conn)
			_ = conn.Close(cctx)
			cancel()
			if err == nil {
				return nil
			}
		} else {
			cancel()
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("jepsen: setup of %s: %w", w.Name(), last)
}

// CreateDatabase creates database name through dsn (a connection to
// another database of the same server), with shardKey as its shard key
// unless it is empty, retrying for up to a minute; an existing database is
// fine.
func CreateDatabase(ctx context.Context, dsn, name, shardKey string) error {
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if shardKey != "" {
		create += " WITH shard_key = '" + strings.ReplaceAll(shardKey, "'", "''") + "'"
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.Connect(cctx, dsn)
		if err == nil {
			_, err = conn.Exec(cctx, create)
			_ = conn.Close(cctx)
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42P04" {
				err = nil
			}
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("jepsen: create database %s: %w", name, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
