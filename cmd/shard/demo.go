package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/client"
	"github.com/shardingsystem/shard/internal/freeport"
	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/server"
)

// demoSchema is the sample database: shops (tenants) and their orders,
// sharded by shop_id, so that each shop's rows share a range.
const demoSchema = `
CREATE TABLE shops (shop_id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
  shop_id int NOT NULL,
  order_id bigint NOT NULL,
  item text NOT NULL,
  amount numeric(10,2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (shop_id, order_id)
);`

const demoShops = 20

// runDemo starts a 3-node cluster in this process, creates the database
// demo through the HTTP API with a sample schema and data, prints how to
// connect, and runs until Ctrl-C (or --duration).
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	dataDir := fs.String("data-dir", "", "keep the cluster's data here (default: a temporary directory, removed on exit)")
	sqlPort := fs.Int("sql-port", 5433, "SQL port of the first node; the others use the next ones (0: any free ports)")
	httpPort := fs.Int("http-port", 8080, "HTTP API port of the first node; the others use the next ones (0: any free ports)")
	rpcPort := fs.Int("rpc-port", 7400, "rpc port of the first node; the others use the next ones (0: any free ports)")
	workload := fs.Bool("workload", false, "run a live write workload and print its rate and the database's shard count")
	duration := fs.Duration("duration", 0, "stop by itself after this long (0: run until Ctrl-C)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	dir, temp := *dataDir, *dataDir == ""
	if !temp {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	} else {
		d, err := os.MkdirTemp("", "shard-demo-")
		if err != nil {
			return err
		}
		dir = d
		defer os.RemoveAll(dir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	logf, err := os.OpenFile(filepath.Join(dir, "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	logger := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))

	fmt.Fprintf(stdout, "starting a 3-node shard cluster in this process (data in %s)...\n", dir)
	addrs := func(port int) ([]string, error) { return demoAddrs(port, 3) }
	rpcs, err := addrs(*rpcPort)
	if err != nil {
		return err
	}
	sqls, err := addrs(*sqlPort)
	if err != nil {
		return err
	}
	https, err := addrs(*httpPort)
	if err != nil {
		return err
	}
	adminToken := "shard_demo_" + strconv.FormatUint(rand.Uint64(), 36)
	secret := rpcauth.Generate()
	var nodes []*server.Server
	defer func() {
		for i := len(nodes) - 1; i >= 0; i-- {
			nodes[i].Stop()
		}
	}()
	for i := range 3 {
		cfg := server.DefaultConfig()
		cfg.DataDir = filepath.Join(dir, fmt.Sprintf("n%d", i+1))
		cfg.RPCAddr, cfg.SQLAddr, cfg.HTTPAddr = rpcs[i], sqls[i], https[i]
		if i > 0 {
			cfg.Join = []string{rpcs[0]}
		}
		cfg.AdminToken = adminToken
		cfg.ClusterSecret = secret
		cfg.Logger = logger.With("n", i+1)
		// Thresholds a demo load reaches within seconds, so that splits
		// and merges can be watched.
		cfg.Controller.SplitQPS = 100
		cfg.Controller.SplitWindow = 5 * time.Second
		cfg.Controller.MergeAfter = time.Minute
		cfg.Controller.MergeCooldown = time.Minute
		s, err := server.New(ctx, cfg)
		if err != nil {
			return demoPortHint(err)
		}
		if err := s.Start(ctx); err != nil {
			s.Stop()
			return demoPortHint(err)
		}
		nodes = append(nodes, s)
	}
	apiURL := "http://" + nodes[0].HTTPAddr()
	cl := client.New(apiURL, adminToken)
	db, err := demoDatabase(ctx, cl)
	if err != nil {
		return err
	}
	if err := demoData(ctx, db.ConnectionString); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
shard demo is running: 3 nodes, database %q with %d shards (shard key %s),
tables shops and orders with sample data.

  connect:   psql '%s'
  try:       SELECT shop_id, count(*), sum(amount) FROM orders GROUP BY shop_id ORDER BY shop_id LIMIT 5;
             EXPLAIN SELECT * FROM orders WHERE shop_id = 7;
  API:       %s/v1   (admin token %s)
             curl -H 'Authorization: Bearer %s' %s/v1/databases/demo/shards
  ranges:    export %s=%s
             shard ranges --host %s ; shard events --host %s
  data:      %s%s

Press Ctrl-C to stop.
`, db.Name, len(db.Shards), db.ShardKey, db.ConnectionString, apiURL, adminToken, adminToken, apiURL, rpcauth.EnvSecret, secret, rpcs[0], rpcs[0], dir,
		map[bool]string{true: " (removed on exit)", false: ""}[temp])
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	var wg sync.WaitGroup
	if *workload {
		wg.Add(1)
		go func() {
			defer wg.Done()
			demoWorkload(ctx, db.ConnectionString, cl, stdout)
		}()
	}
	<-ctx.Done()
	wg.Wait()
	fmt.Fprintln(stdout, "stopping the demo cluster...")
	return nil
}

// demoAddrs returns n loopback addresses from port on (any free ports when
// port is 0).
func demoAddrs(port, n int) ([]string, error) {
	if port == 0 {
		return freeport.Addrs("127.0.0.1", n)
	}
	var out []string
	for i := range n {
		out = append(out, net.JoinHostPort("127.0.0.1", strconv.Itoa(port+i)))
	}
	return out, nil
}

func demoPortHint(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
		return fmt.Errorf("%w\n(another shard or PostgreSQL may be using the port: pick others with --sql-port, --http-port and --rpc-port, or 0 for any free ones)", err)
	}
	return err
}

// demoDatabase creates the database demo through the API, retrying while
// the new cluster settles.
func demoDatabase(ctx context.Context, cl *client.Client) (*api.Database, error) {
	var lastErr error
	for attempt := 0; attempt < 60; attempt++ {
		db, err := cl.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "demo", ShardKey: "shop_id", Template: "growth"},
			client.IdempotencyKey("shard-demo"))
		if err == nil {
			return db, nil
		}
		lastErr = err
		var p *client.Problem
		if errors.As(err, &p) && p.Status < 500 {
			return nil, fmt.Errorf("create the demo database: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil, fmt.Errorf("create the demo database: %w", lastErr)
}

// demoData creates the sample tables and rows as the database's owner.
func demoData(ctx context.Context, conn string) error {
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return fmt.Errorf("connect to the demo database: %w", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, demoSchema); err != nil {
		return fmt.Errorf("create the demo schema: %w", err)
	}
	items := []string{"coffee", "tea", "mug", "beans", "grinder", "filter"}
	for s := 1; s <= demoShops; s++ {
		b := &pgx.Batch{}
		b.Queue("INSERT INTO shops VALUES ($1, $2)", s, fmt.Sprintf("shop %d", s))
		for o := 1; o <= 50; o++ {
			b.Queue("INSERT INTO orders (shop_id, order_id, item, amount) VALUES ($1, $2, $3, $4)",
				s, o, items[(s+o)%len(items)], fmt.Sprintf("%d.%02d", 1+(s*o)%90, (s+o)%100))
		}
		if err := c.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("load the demo data: %w", err)
		}
	}
	return nil
}

// demoWorkload writes orders as fast as 8 connections can, and prints the
// rate and the shard count every 5 seconds.
func demoWorkload(ctx context.Context, conn string, cl *client.Client, out io.Writer) {
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, conn)
			if err != nil {
				return
			}
			defer c.Close(context.Background())
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for n := 0; ctx.Err() == nil; n++ {
				shop := 1 + rng.IntN(1000)
				_, err := c.Exec(ctx, "INSERT INTO orders (shop_id, order_id, item, amount) VALUES ($1, $2, 'live', 9.99)",
					shop, int64(w)<<40|int64(n)+1_000_000)
				if err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	last := int64(0)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
		}
		n := done.Load()
		shards, _ := cl.Shards(ctx, "demo")
		fmt.Fprintf(out, "workload: %d writes/s, %d errors so far; database demo has %d shards\n", (n-last)/5, failed.Load(), len(shards))
		last = n
	}
}
