package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shardingsystem/shard/client"
	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/server"
)

// scrape reads a node's /metrics and returns each sample's value by name
// (labels joined as name{k=v,...}); families maps names to whether any
// series exists.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			key := name
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestMetrics scrapes /metrics of every node of a cluster that served
// transactions and a split, and checks the metrics the issue names.
func TestMetrics(t *testing.T) {
	const adminToken = "shard_metrics_test_admin"
	c := testcluster.Start(t, testcluster.Options{Nodes: 3, Configure: func(i int, cfg *server.Config) {
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.AdminToken = adminToken
	}})
	c.WaitReplicated()
	cl := c.Client(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 20 {
		if err := cl.RunTxn(ctx, func(_ context.Context, tx *kv.Txn) error { return tx.Put([]byte(fmt.Sprintf("m/%d", i)), []byte("v")) }); err != nil {
			t.Fatal(err)
		}
	}
	c.Split([]byte("m/5"))
	got := scrape(t, c.Server(1).HTTPAddr())
	for _, want := range []string{"shard_ranges", "shard_leaders", "shard_ranges_under_replicated", "shard_store_bytes",
		"shard_raft_apply_latency_seconds_count", "shard_txn_commit_latency_seconds{path=1pc}_count", "shard_tso_latency_seconds_count",
		"shard_store_sstable_bytes_written_total", "shard_raft_commit_seconds_count", "shard_raft_leader_append_seconds_count",
		"shard_raft_follower_append_seconds_count", "shard_raft_replicate_seconds_count", "shard_store_compactions_running",
		"shard_store_compaction_debt_bytes"} {
		if _, ok := got[want]; !ok {
			t.Errorf("no %s in /metrics", want)
		}
	}
	if syncs, commits := got["shard_store_wal_fsyncs_total"], got["shard_store_synced_commits_total"]; syncs < 1 || commits < 1 {
		t.Errorf("fsyncs %v, synced commits %v: the writes were durable, so neither can be 0", syncs, commits)
	}
	// raft's timings come from its own reports (replication.RaftTimings):
	// 20 commits were at least 20 entries appended on a leader, stored on
	// followers, and committed.
	for _, name := range []string{"shard_raft_commit_seconds_count", "shard_raft_leader_append_seconds_count",
		"shard_raft_follower_append_seconds_count", "shard_raft_replicate_seconds_count"} {
		if got[name] < 20 {
			t.Errorf("%s = %v after 20 replicated commits", name, got[name])
		}
	}
	// The process's threads waited (voluntary switches) while the cluster
	// replicated the commits.
	if got["shard_process_context_switches_total{kind=voluntary}"] < 1 {
		t.Errorf("voluntary context switches %v after a cluster's work", got["shard_process_context_switches_total{kind=voluntary}"])
	}
	if _, ok := got["shard_process_context_switches_total{kind=involuntary}"]; !ok {
		t.Error("no involuntary context switches in /metrics")
	}
	if got["shard_store_wal_bytes_total"] <= 0 {
		t.Errorf("WAL bytes %v after durable writes", got["shard_store_wal_bytes_total"])
	}
	if got["shard_ranges"] < 2 || got["shard_store_bytes"] <= 0 || got["shard_txn_commit_latency_seconds{path=1pc}_count"] < 20 ||
		got["shard_tso_latency_seconds_count"] < 1 {
		t.Errorf("implausible values: ranges %v, store %v, 1pc commits %v, tso %v", got["shard_ranges"], got["shard_store_bytes"],
			got["shard_txn_commit_latency_seconds{path=1pc}_count"], got["shard_tso_latency_seconds_count"])
	}
	// Requests and applies are counted where they are served: on leaders.
	var leaders, requests, applies float64
	for i := 1; i <= 3; i++ {
		m := scrape(t, c.Server(i).HTTPAddr())
		leaders += m["shard_leaders"]
		requests += m["shard_kv_requests_total{type=one_pc}"]
		applies += m["shard_raft_apply_latency_seconds_count"]
	}
	if leaders < 2 || requests < 20 || applies < 20 {
		t.Errorf("over the cluster: %v leaders, %v one_pc requests, %v applies", leaders, requests, applies)
	}
	resp, err := http.Get("http://" + c.Server(2).HTTPAddr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"node_id":2`) {
		t.Errorf("/health: %s %s", resp.Status, body)
	}

	// POST /debug/store/flush is for the admin token only, and writes the
	// store's memtables to sstables.
	base := "http://" + c.Server(2).HTTPAddr()
	for _, token := range []string{"", "shard_not_the_token"} {
		var p *client.Problem
		if err := client.New(base, token).FlushStore(ctx); !errors.As(err, &p) || p.Status != http.StatusUnauthorized || p.Code != "unauthorized" {
			t.Errorf("flush with token %q: %v", token, err)
		}
	}
	before := scrape(t, c.Server(2).HTTPAddr())["shard_store_sstable_bytes_written_total"]
	if err := client.New(base, adminToken).FlushStore(ctx); err != nil {
		t.Fatalf("flush with the admin token: %v", err)
	}
	if after := scrape(t, c.Server(2).HTTPAddr())["shard_store_sstable_bytes_written_total"]; after <= before {
		t.Errorf("sstable bytes written %v before the flush, %v after", before, after)
	}
}

// TestHTTPAddrInUse: a node whose HTTP address is taken does not start,
// and says why.
func TestHTTPAddrInUse(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	rpc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RPCAddr = rpc.Addr().String()
	rpc.Close()
	cfg.SQLAddr, cfg.HTTPAddr = "", lis.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(ctx)
	s.Stop()
	if err == nil || !strings.Contains(err.Error(), "listen on http address") {
		t.Fatalf("Start with a taken HTTP address: %v", err)
	}
}
