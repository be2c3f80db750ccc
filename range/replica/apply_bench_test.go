package replica

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"

	"github.com/shardingsystem/shard/kvpb"
)

// BenchmarkApplyOnePC applies batches of one-phase commits of one row each,
// as a range's replicas do under single-row writes: ns/op is per entry.
func BenchmarkApplyOnePC(b *testing.B) {
	for _, per := range []int{1, 4} {
		b.Run(fmt.Sprintf("entries=%d", per), func(b *testing.B) {
			eng := openEngine(b, vfs.NewMem())
			r := open(b, eng, 5, testDesc(5, "a", "z", 1), nil)
			val := make([]byte, 64)
			idx, ts := uint64(0), uint64(100)
			logs := make([]*raft.Log, 0, per)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				idx, ts = idx+1, ts+2
				m := &kvpb.Mutation{Key: fmt.Appendf(nil, "k%06d", (i*7919)%100000), Op: kvpb.LockOp_LOCK_PUT, Value: val}
				logs = append(logs, entry(b, idx, &kvpb.Command{Writes: []*kvpb.Request{onePCReq(ts, ts+1, m)}}))
				if len(logs) == per || i == b.N-1 {
					for j, res := range apply(b, r, logs...) {
						if res == nil || res.Err != nil {
							b.Fatalf("entry %d: %v", logs[j].Index, res)
						}
					}
					logs = logs[:0]
				}
			}
		})
	}
}
