package target

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/tools/jepsen/cluster"
)

// ShardOptions configure a shard cluster for a benchmark.
type ShardOptions struct {
	// Binary is the shard binary. Required.
	Binary string
	// Dir is where the nodes' data and logs go; default a new directory
	// under the system's temporary directory, removed by Close.
	Dir string
	// Keep leaves Dir in place on Close.
	Keep bool
	// Nodes is the number of nodes (default 3).
	Nodes int
	// Database is the database the workloads use; default "bench".
	Database string
	// ShardKey is the database's shard key column (CREATE DATABASE ...
	// WITH shard_key); empty for none.
	ShardKey string
	// ExtraArgs are added to every node's `shard start`.
	ExtraArgs []string
	// Logf gets progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Shard is a running shard cluster with the benchmark's database.
type Shard struct {
	opts       ShardOptions
	c          *cluster.Cluster
	adminToken string
	madeDir    bool
}

// StartShard starts opts.Nodes `shard start` processes on the Direct
// network, waits until the cluster is whole and creates the database.
func StartShard(ctx context.Context, opts ShardOptions) (_ *Shard, err error) {
	if opts.Binary == "" {
		return nil, errors.New("target: ShardOptions.Binary is required")
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Database == "" {
		opts.Database = "bench"
	}
	s := &Shard{opts: opts, adminToken: "shard_bench_" + randomHex(16)}
	if s.opts.Dir == "" {
		d, err := os.MkdirTemp("", "shard-bench-")
		if err != nil {
			return nil, err
		}
		s.opts.Dir, s.madeDir = d, true
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	s.c, err = cluster.Start(ctx, cluster.Config{
		Binary: opts.Binary, Nodes: opts.Nodes, Dir: filepath.Join(s.opts.Dir, "cluster"), Mode: cluster.Direct,
		Logf: opts.Logf, ExtraArgs: opts.ExtraArgs, LogLevel: "warn",
		// The admin token opens each node's /debug/pprof.
		Env: []string{"SHARD_ADMIN_TOKEN=" + s.adminToken},
	})
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, s.c.Node(1).DSN("postgres"))
	if err != nil {
		return nil, fmt.Errorf("target: connect to shard: %w", err)
	}
	defer conn.Close(context.Background())
	create := "CREATE DATABASE " + pgx.Identifier{opts.Database}.Sanitize()
	if opts.ShardKey != "" {
		create += " WITH shard_key = '" + strings.ReplaceAll(opts.ShardKey, "'", "''") + "'"
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("target: create database %s: %w", opts.Database, err)
	}
	return s, nil
}

// Name is "shard".
func (s *Shard) Name() string { return "shard" }

// Cluster is the cluster, for faults (kill a node) and its admin API.
func (s *Shard) Cluster() *cluster.Cluster { return s.c }

// DSN is a connection string for the database that names every node.
func (s *Shard) DSN() string {
	var hosts []string
	for _, n := range s.c.Nodes() {
		hosts = append(hosts, n.SQLAddr)
	}
	u := url.URL{Scheme: "postgresql", User: url.UserPassword("root", s.c.Password()), Host: strings.Join(hosts, ","),
		Path: "/" + s.opts.Database, RawQuery: "sslmode=disable&connect_timeout=5"}
	return u.String()
}

// Counters sums the durability counters of every running node.
func (s *Shard) Counters(ctx context.Context) (Counters, error) {
	c := Counters{At: time.Now()}
	for _, n := range s.c.Nodes() {
		if !n.Running() {
			continue
		}
		m, err := Scrape(ctx, "http://"+n.HTTPAddr+"/metrics", "shard_store_wal_fsyncs_total", "shard_store_synced_commits_total",
			"process_cpu_seconds_total", "shard_process_context_switches_total", "shard_ranges", "shard_leaders")
		if err != nil {
			return c, fmt.Errorf("target: %s: %w", n.Name, err)
		}
		c.Fsyncs += m["shard_store_wal_fsyncs_total"]
		c.Commits += m["shard_store_synced_commits_total"]
		c.CPUSeconds += m["process_cpu_seconds_total"]
		c.ContextSwitches += m["shard_process_context_switches_total"]
		c.Nodes = append(c.Nodes, NodeCounters{Name: n.Name, CPUSeconds: m["process_cpu_seconds_total"],
			Ranges: int(m["shard_ranges"]), Leaders: int(m["shard_leaders"])})
	}
	return c, nil
}

// Profile fetches a profile from every running node at once into dir, as
// nI-KIND.pb.gz, and returns the files' paths. kind is "profile" (CPU,
// for d), or a named profile such as "allocs" or "heap".
func (s *Shard) Profile(ctx context.Context, kind string, d time.Duration, dir string) ([]string, error) {
	type result struct {
		path string
		err  error
	}
	var nodes []*cluster.Node
	for _, n := range s.c.Nodes() {
		if n.Running() {
			nodes = append(nodes, n)
		}
	}
	ch := make(chan result, len(nodes))
	for _, n := range nodes {
		go func() {
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.pb.gz", n.Name, kind))
			ch <- result{path, s.fetchProfile(ctx, n, kind, d, path)}
		}()
	}
	var paths []string
	var errs []error
	for range nodes {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		paths = append(paths, r.path)
	}
	return paths, errors.Join(errs...)
}

func (s *Shard) fetchProfile(ctx context.Context, n *cluster.Node, kind string, d time.Duration, path string) error {
	u := fmt.Sprintf("http://%s/debug/pprof/%s", n.HTTPAddr, kind)
	if d > 0 {
		u += fmt.Sprintf("?seconds=%d", max(int(d.Seconds()), 1))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("target: %s profile: %w", n.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("target: %s profile: %s: %s", n.Name, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Dir is where the cluster's data and logs are.
func (s *Shard) Dir() string { return s.opts.Dir }

// Close stops every node and removes the data it made (unless Keep).
func (s *Shard) Close() error {
	var err error
	if s.c != nil {
		err = s.c.Close()
	}
	if s.madeDir && !s.opts.Keep {
		err = errors.Join(err, os.RemoveAll(s.opts.Dir))
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
