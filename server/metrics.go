package server

import (
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
)

// metrics are one node's Prometheus metrics, in its own registry (several
// nodes can run in one process). Gauges about the node's replicas are
// computed when scraped (nodeCollector); the rest are counted as things
// happen, through hooks the lower layers call (kv.Config.ObserveCommit,
// ObserveTSO, replica.Config.ObserveApply) and the executor; raft's own
// timings (replication.RaftTimings) are the process's.
type metrics struct {
	reg        *prometheus.Registry
	splits     *prometheus.CounterVec
	merges     *prometheus.CounterVec
	rebalances *prometheus.CounterVec
	kvRequests *prometheus.CounterVec
	// kvRequestsByType caches kvRequests' counter of each request type,
	// by the reflect.Type of kvpb.Request.Value.
	kvRequestsByType sync.Map
	applyLat         prometheus.Histogram
	commitLat        *prometheus.HistogramVec
	tsoLat           prometheus.Histogram
}

// latencyBuckets span 100 µs to about 6.5 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

func newMetrics(s *Server) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{
		reg: reg,
		splits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shard_splits_total",
			Help: "Range splits carried out by this node's controller, by reason (load, size, manual)."}, []string{"reason"}),
		merges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shard_merges_total",
			Help: "Range merges carried out by this node's controller, by reason."}, []string{"reason"}),
		rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shard_rebalances_total",
			Help: "Replica moves and leader transfers carried out by this node's controller, by reason."}, []string{"reason"}),
		kvRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shard_kv_requests_total",
			Help: "KV requests served by this node's replicas, by type."}, []string{"type"}),
		applyLat: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shard_raft_apply_latency_seconds",
			Help: "Time from proposing a command on this node to its apply here.", Buckets: latencyBuckets}),
		commitLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shard_txn_commit_latency_seconds",
			Help: "Commit latency of transactions that wrote, through this node's kv client, by path (1pc, 2pc).", Buckets: latencyBuckets}, []string{"path"}),
		tsoLat: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shard_tso_latency_seconds",
			Help: "Round trips of this node's kv client to the timestamp oracle.", Buckets: latencyBuckets}),
	}
	reg.MustRegister(m.splits, m.merges, m.rebalances, m.kvRequests, m.applyLat, m.commitLat, m.tsoLat,
		&nodeCollector{s: s}, replication.RaftTimings(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeApply(d time.Duration) { m.applyLat.Observe(d.Seconds()) }

func (m *metrics) observeCommit(d time.Duration, onePC bool) {
	path := "2pc"
	if onePC {
		path = "1pc"
	}
	m.commitLat.WithLabelValues(path).Observe(d.Seconds())
}

func (m *metrics) observeTSO(d time.Duration) { m.tsoLat.Observe(d.Seconds()) }

// countRequests counts the requests of a batch by type. Each type's
// counter is looked up by label once, then by the request's Go type: by
// label, every request paid a reflection lookup of its type's name and a
// hash of it (2 % of a node's CPU in point selects).
func (m *metrics) countRequests(ba *kvpb.BatchRequest) {
	for _, r := range ba.Requests {
		t := reflect.TypeOf(r.Value)
		c, ok := m.kvRequestsByType.Load(t)
		if !ok {
			c, _ = m.kvRequestsByType.LoadOrStore(t, m.kvRequests.WithLabelValues(requestType(r)))
		}
		c.(prometheus.Counter).Inc()
	}
}

// requestType is a request's oneof field name ("get", "one_pc", ...).
func requestType(r *kvpb.Request) string {
	if f := r.ProtoReflect().WhichOneof(r.ProtoReflect().Descriptor().Oneofs().ByName("value")); f != nil {
		return string(f.Name())
	}
	return "unknown"
}

// nodeCollector computes the gauges about the node's replicas at scrape
// time, from what the node knows locally (no RPCs).
type nodeCollector struct{ s *Server }

var (
	descRanges = prometheus.NewDesc("shard_ranges", "Replicas on this node.", nil, nil)
	descLeader = prometheus.NewDesc("shard_leaders", "Ranges this node leads.", nil, nil)
	descUnder  = prometheus.NewDesc("shard_ranges_under_replicated",
		"Ranges this node leads with fewer voters than the replica target (capped by the nodes the node knows).", nil, nil)
	descStore = prometheus.NewDesc("shard_store_bytes", "Disk space used by the node's store (sstables and WAL).", nil, nil)
	descSyncs = prometheus.NewDesc("shard_store_wal_fsyncs_total", "Fsyncs of the store's write-ahead log.", nil, nil)
	descSyncd = prometheus.NewDesc("shard_store_synced_commits_total",
		"Batches committed durably (raft log appends among them); over shard_store_wal_fsyncs_total: writes per fsync.", nil, nil)
	descWALBytes = prometheus.NewDesc("shard_store_wal_bytes_total", "Bytes written to the store's write-ahead log.", nil, nil)
	descCtxSw    = prometheus.NewDesc("shard_process_context_switches_total",
		"Context switches of the process's threads (getrusage), by kind: voluntary (waits) or involuntary (preempted).", []string{"kind"}, nil)
	descSSTBytes = prometheus.NewDesc("shard_store_sstable_bytes_written_total",
		"Bytes the store's flushes and compactions wrote to sstables; over shard_store_wal_bytes_total: the LSM's write amplification.", nil, nil)
	descLSMBusy = prometheus.NewDesc("shard_store_compactions_running",
		"Flushes and compactions of the store running now.", nil, nil)
	descLSMDebt = prometheus.NewDesc("shard_store_compaction_debt_bytes",
		"Bytes the store estimates it must compact to bring its LSM back into shape.", nil, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRanges
	ch <- descLeader
	ch <- descUnder
	ch <- descStore
	ch <- descSyncs
	ch <- descSyncd
	ch <- descWALBytes
	ch <- descSSTBytes
	ch <- descLSMBusy
	ch <- descLSMDebt
	ch <- descCtxSw
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	var ranges, leaders, under int
	if st := s.store; st != nil {
		target := min(s.cfg.Replicas, max(s.kv.KnownNodes(), 1))
		for _, rep := range st.list() {
			ranges++
			if !rep.Group().IsLeader() {
				continue
			}
			leaders++
			if d := rep.Desc(); d != nil && voterCount(d) < target {
				under++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descRanges, prometheus.GaugeValue, float64(ranges))
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, float64(leaders))
	ch <- prometheus.MustNewConstMetric(descUnder, prometheus.GaugeValue, float64(under))
	em := s.eng.Metrics()
	ch <- prometheus.MustNewConstMetric(descStore, prometheus.GaugeValue, float64(em.DiskUsageBytes))
	ch <- prometheus.MustNewConstMetric(descSyncs, prometheus.CounterValue, float64(em.WALSyncs))
	ch <- prometheus.MustNewConstMetric(descSyncd, prometheus.CounterValue, float64(em.SyncedBatchCommits))
	ch <- prometheus.MustNewConstMetric(descWALBytes, prometheus.CounterValue, float64(em.WALBytesWritten))
	ch <- prometheus.MustNewConstMetric(descSSTBytes, prometheus.CounterValue, float64(em.TableBytesWritten))
	ch <- prometheus.MustNewConstMetric(descLSMBusy, prometheus.GaugeValue, float64(em.FlushesInProgress+em.CompactionsInProgress))
	ch <- prometheus.MustNewConstMetric(descLSMDebt, prometheus.GaugeValue, float64(em.CompactionDebtBytes))
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		ch <- prometheus.MustNewConstMetric(descCtxSw, prometheus.CounterValue, float64(ru.Nvcsw), "voluntary")
		ch <- prometheus.MustNewConstMetric(descCtxSw, prometheus.CounterValue, float64(ru.Nivcsw), "involuntary")
	}
}

func voterCount(d *kvpb.RangeDescriptor) int {
	n := 0
	for _, r := range d.Replicas {
		if r.Type == kvpb.ReplicaType_VOTER {
			n++
		}
	}
	return n
}

// countAction counts an action the controller carried out.
func (s *Server) countAction(kind, reason string) {
	reason = strings.ToLower(reason)
	switch kind {
	case "split":
		s.metrics.splits.WithLabelValues(reason).Inc()
	case "merge":
		s.metrics.merges.WithLabelValues(reason).Inc()
	default:
		s.metrics.rebalances.WithLabelValues(reason).Inc()
	}
}
