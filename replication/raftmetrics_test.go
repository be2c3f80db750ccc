package replication

import (
	"math"
	"testing"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestTimingSink: the sink files raft's four samples, given in
// milliseconds, under their histograms in seconds, and drops the rest
// (the legacy per-peer key among them).
func TestTimingSink(t *testing.T) {
	h := func(name string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Buckets: timingBuckets})
	}
	tm := &raftTimings{commit: h("c"), leaderAppend: h("l"), followerAppend: h("f"), replicate: h("r")}
	s := &timingSink{t: tm}
	peer := []metrics.Label{{Name: "peer_id", Value: "2"}}
	s.AddSample([]string{"raft", "commitTime"}, 2.5)
	s.AddSample([]string{"raft", "leader", "dispatchLog"}, 1)
	s.AddSample([]string{"raft", "rpc", "appendEntries", "storeLogs"}, 0.5)
	s.AddSampleWithLabels([]string{"raft", "replication", "appendEntries", "rpc"}, 4, peer)
	s.AddSample([]string{"raft", "replication", "appendEntries", "rpc", "2"}, 100)
	s.AddSample([]string{"raft", "fsm", "apply"}, 100)
	s.AddSample([]string{"raft"}, 100)
	for _, c := range []struct {
		h   prometheus.Histogram
		sum float64
	}{{tm.commit, 0.0025}, {tm.leaderAppend, 0.001}, {tm.followerAppend, 0.0005}, {tm.replicate, 0.004}} {
		var m dto.Metric
		if err := c.h.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetHistogram(); got.GetSampleCount() != 1 || math.Abs(got.GetSampleSum()-c.sum) > 1e-9 {
			t.Errorf("%s: %d samples, sum %v s, want 1 of %v s", c.h.Desc(), got.GetSampleCount(), got.GetSampleSum(), c.sum)
		}
	}
}
