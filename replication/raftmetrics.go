package replication

import (
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// raftTimings are hashicorp/raft's own timings of the steps of a commit,
// which raft reports through the process-wide go-metrics sink. They are
// process-wide too: in a process that runs several nodes (tests), every
// node's registry shows all of them.
type raftTimings struct {
	commit, leaderAppend, followerAppend, replicate prometheus.Histogram
}

var (
	timingsOnce sync.Once
	timings     *raftTimings
)

// timingBuckets span 50 µs to about 6.5 s.
var timingBuckets = prometheus.ExponentialBuckets(0.00005, 2, 18)

// RaftTimings returns the collector of raft's timings, installing the
// go-metrics sink that feeds it on first use:
//
//   - shard_raft_commit_seconds: on a leader, from appending an entry to
//     learning that a quorum has it (raft's commitTime);
//   - shard_raft_leader_append_seconds: a leader's write of new entries to
//     its own log, fsync included (with the patched raft it overlaps the
//     followers' round trips);
//   - shard_raft_follower_append_seconds: a follower's write of the entries
//     it received, fsync included;
//   - shard_raft_replicate_seconds: an AppendEntries round trip from a
//     leader to a follower, the follower's write included.
func RaftTimings() prometheus.Collector {
	timingsOnce.Do(func() {
		h := func(name, help string) prometheus.Histogram {
			return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: timingBuckets})
		}
		timings = &raftTimings{
			commit:         h("shard_raft_commit_seconds", "On a leader, from appending a raft entry to learning that a quorum has it."),
			leaderAppend:   h("shard_raft_leader_append_seconds", "A raft leader's write of new entries to its own log, fsync included."),
			followerAppend: h("shard_raft_follower_append_seconds", "A raft follower's write of the entries it received, fsync included."),
			replicate:      h("shard_raft_replicate_seconds", "An AppendEntries round trip from a raft leader to a follower, the follower's write included."),
		}
		cfg := metrics.DefaultConfig("")
		cfg.HostName, cfg.EnableHostname, cfg.EnableRuntimeMetrics = "", false, false
		_, _ = metrics.NewGlobal(cfg, &timingSink{t: timings})
	})
	return timings
}

func (t *raftTimings) Describe(ch chan<- *prometheus.Desc) {
	for _, h := range t.all() {
		h.Describe(ch)
	}
}

func (t *raftTimings) Collect(ch chan<- prometheus.Metric) {
	for _, h := range t.all() {
		h.Collect(ch)
	}
}

func (t *raftTimings) all() []prometheus.Histogram {
	return []prometheus.Histogram{t.commit, t.leaderAppend, t.followerAppend, t.replicate}
}

// timingSink is a go-metrics sink that keeps the four samples raftTimings
// names and drops everything else. raft reports a timing in milliseconds
// (go-metrics' default timer granularity).
type timingSink struct{ t *raftTimings }

// histogram is the histogram of a raft sample key, or nil. It compares
// the key's parts, so that the hot path allocates nothing.
func (s *timingSink) histogram(key []string) prometheus.Histogram {
	if len(key) < 2 || key[0] != "raft" {
		return nil
	}
	switch {
	case len(key) == 2 && key[1] == "commitTime":
		return s.t.commit
	case len(key) == 3 && key[1] == "leader" && key[2] == "dispatchLog":
		return s.t.leaderAppend
	case len(key) == 4 && key[1] == "rpc" && key[2] == "appendEntries" && key[3] == "storeLogs":
		return s.t.followerAppend
	case len(key) == 4 && key[1] == "replication" && key[2] == "appendEntries" && key[3] == "rpc":
		return s.t.replicate
	}
	return nil
}

func (s *timingSink) AddSample(key []string, val float32) {
	if h := s.histogram(key); h != nil {
		h.Observe(float64(val) * float64(time.Millisecond) / float64(time.Second))
	}
}

func (s *timingSink) AddSampleWithLabels(key []string, val float32, _ []metrics.Label) {
	s.AddSample(key, val)
}

func (*timingSink) SetGauge([]string, float32)                               {}
func (*timingSink) SetGaugeWithLabels([]string, float32, []metrics.Label)    {}
func (*timingSink) EmitKey([]string, float32)                                {}
func (*timingSink) IncrCounter([]string, float32)                            {}
func (*timingSink) IncrCounterWithLabels([]string, float32, []metrics.Label) {}
