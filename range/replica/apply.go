package replica

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// ApplyResult is what Apply returns to the proposer through raft's future.
type ApplyResult struct {
	Responses []*kvpb.Response
	Err       *kvpb.Error // a deterministic rejection, the same on every replica
}

var _ raft.BatchingFSM = (*Replica)(nil)

// Apply applies one committed entry.
func (r *Replica) Apply(l *raft.Log) any { return r.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in order. Writes of consecutive
// entries share one engine batch together with the new applied index, so a
// crash leaves either all or none of them; the batch is not synced because
// the raft log already is, and entries at or below the stored applied index
// are skipped, so a restart never applies an entry twice.
//
// A failure to write to the engine could differ between replicas, so it
// stops the process loudly rather than let replicas diverge.
func (r *Replica) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	a := applier{r: r}
	r.mu.Lock()
	a.desc, a.applied, a.lastTS = r.mu.desc, r.mu.applied, r.mu.lastTS
	r.mu.Unlock()
	for i, l := range logs {
		if l.Index <= a.applied {
			out[i] = &ApplyResult{Err: kvpb.NewInvalid("entry %d already applied", l.Index)}
			continue
		}
		a.applied = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		out[i] = a.applyCommand(l)
	}
	a.flush()
	return out
}

// applier carries the state of one ApplyBatch call.
type applier struct {
	r       *Replica
	b       *engine.Batch
	desc    *kvpb.RangeDescriptor
	applied uint64
	lastTS  engine.Timestamp
	// splits are the right-hand sides created in this batch, opened after
	// the batch is durable in the engine.
	splits []*kvpb.RangeDescriptor
}

func (a *applier) batch() *engine.Batch {
	if a.b == nil {
		a.b = a.r.eng.NewBatch()
	}
	return a.b
}

// flush commits the pending batch with the applied state and publishes the
// new state to readers.
func (a *applier) flush() {
	b := a.batch()
	a.must(b.Put(appliedKey(a.r.id), encodeApplied(a.applied, a.lastTS)), "applied state")
	a.must(b.Commit(false), "commit")
	a.b = nil
	r := a.r
	r.mu.Lock()
	r.mu.desc, r.mu.applied, r.mu.lastTS = a.desc, a.applied, a.lastTS
	r.mu.cond.Broadcast()
	r.mu.Unlock()
	for _, right := range a.splits {
		if r.cfg.OnSplit != nil {
			r.cfg.OnSplit(right)
		}
	}
	a.splits = nil
}

func (a *applier) must(err error, what string) {
	if err != nil {
		// Deliberately fatal: see ApplyBatch.
		panic(fmt.Sprintf("replica r%d: apply %s at index %d: %v", a.r.id, what, a.applied, err))
	}
}

func (a *applier) applyCommand(l *raft.Log) *ApplyResult {
	cmd := &kvpb.Command{}
	if err := proto.Unmarshal(l.Data, cmd); err != nil {
		// Every replica decodes the same bytes the same way.
		return &ApplyResult{Err: kvpb.NewInvalid("undecodable command at %d: %v", l.Index, err)}
	}
	if a.desc == nil {
		panic(fmt.Sprintf("replica r%d: command at index %d applied before the replica has a descriptor", a.r.id, l.Index))
	}
	switch {
	case cmd.Split != nil:
		return a.applySplit(cmd.Split)
	case cmd.SetDescriptor != nil:
		return a.applySetDescriptor(cmd.SetDescriptor.Desc)
	}
	ts := engine.Timestamp(cmd.Timestamp)
	if ts <= a.lastTS {
		ts = a.lastTS + 1
	}
	// Validate everything before writing anything: a rejected command
	// leaves no trace.
	for _, req := range cmd.Writes {
		for _, k := range writeKeys(req) {
			if !a.desc.ContainsKey(k) {
				return &ApplyResult{Err: kvpb.NewKeyMismatch(k, a.desc)}
			}
		}
	}
	if needsRead(cmd.Writes) && a.b != nil {
		// Conditions and counts read the engine, which does not see the
		// pending batch: make it visible first.
		a.flush()
	}
	for _, req := range cmd.Writes {
		if c := req.GetCput(); c != nil {
			if err := a.checkCondition(c); err != nil {
				return &ApplyResult{Err: err}
			}
		}
	}
	res := &ApplyResult{Responses: make([]*kvpb.Response, 0, len(cmd.Writes))}
	if len(cmd.Writes) == 0 {
		return res // a leader's term-start marker
	}
	for _, req := range cmd.Writes {
		res.Responses = append(res.Responses, a.applyWrite(req, ts))
	}
	a.lastTS = ts
	return res
}

func (a *applier) checkCondition(c *kvpb.ConditionalPutRequest) *kvpb.Error {
	v, _, err := a.r.eng.GetMVCC(c.Key, engine.MaxTimestamp)
	exists := err == nil
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		a.must(err, "condition read")
	}
	if exists != c.ExpectedExists || (exists && !bytes.Equal(v, c.Expected)) {
		return kvpb.NewConditionFailed(c.Key, exists, v)
	}
	return nil
}

func (a *applier) applyWrite(req *kvpb.Request, ts engine.Timestamp) *kvpb.Response {
	b := a.batch()
	switch v := req.Value.(type) {
	case *kvpb.Request_Put:
		a.must(b.PutMVCC(v.Put.Key, ts, v.Put.Value), "put")
		return &kvpb.Response{Value: &kvpb.Response_Put{Put: &kvpb.PutResponse{}}}
	case *kvpb.Request_Cput:
		a.must(b.PutMVCC(v.Cput.Key, ts, v.Cput.Value), "cput")
		return &kvpb.Response{Value: &kvpb.Response_Cput{Cput: &kvpb.ConditionalPutResponse{}}}
	case *kvpb.Request_Delete:
		_, _, err := a.r.eng.GetMVCC(v.Delete.Key, engine.MaxTimestamp)
		found := err == nil
		if found {
			a.must(b.DeleteMVCC(v.Delete.Key, ts), "delete")
		}
		return &kvpb.Response{Value: &kvpb.Response_Delete{Delete: &kvpb.DeleteResponse{Found: found}}}
	case *kvpb.Request_DeleteRange:
		start, end := clamp(v.DeleteRange.StartKey, v.DeleteRange.EndKey, a.desc)
		var n uint64
		err := a.r.eng.ScanMVCC(start, end, engine.MaxTimestamp, 0, func(k []byte, _ engine.Timestamp, _ []byte) error {
			n++
			return b.DeleteMVCC(k, ts)
		})
		a.must(err, "delete range")
		return &kvpb.Response{Value: &kvpb.Response_DeleteRange{DeleteRange: &kvpb.DeleteRangeResponse{Deleted: n}}}
	}
	// Unknown write kinds were refused at proposal; an old binary meeting a
	// new kind must not guess.
	panic(fmt.Sprintf("replica r%d: unknown write %T at index %d", a.r.id, req.Value, a.applied))
}

func (a *applier) applySplit(s *kvpb.SplitTrigger) *ApplyResult {
	d, left, right := a.desc, s.Left, s.Right
	if left.GetGeneration() <= d.Generation || left.RangeId != d.RangeId ||
		!bytes.Equal(left.StartKey, d.StartKey) || !bytes.Equal(right.GetEndKey(), d.EndKey) ||
		!bytes.Equal(left.EndKey, right.StartKey) || bytes.Compare(left.EndKey, d.StartKey) <= 0 ||
		bytes.Compare(left.EndKey, d.EndKey) >= 0 {
		return &ApplyResult{Err: kvpb.NewInvalid("split of r%d (gen %d) does not match descriptor [%q,%q) gen %d",
			d.RangeId, left.GetGeneration(), d.StartKey, d.EndKey, d.Generation)}
	}
	b := a.batch()
	enc, err := proto.Marshal(left)
	a.must(err, "encode descriptor")
	a.must(b.Put(DescriptorKey(a.r.id), enc), "descriptor")
	// The right-hand side's descriptor and applied state go in the same
	// batch: a crash after this commit reopens the right-hand replica from
	// them, a crash before it replays the split.
	if right.HasReplica(a.r.cfg.NodeID) {
		a.must(putInitialState(b, right, a.lastTS), "right-hand state")
		a.must(b.Put(bootstrapKey(right.RangeId), []byte{1}), "right-hand bootstrap marker")
		a.splits = append(a.splits, right)
	}
	a.desc = left
	a.flush()
	return &ApplyResult{}
}

func (a *applier) applySetDescriptor(d *kvpb.RangeDescriptor) *ApplyResult {
	cur := a.desc
	if d.GetRangeId() != cur.RangeId || d.Generation <= cur.Generation ||
		!bytes.Equal(d.StartKey, cur.StartKey) || !bytes.Equal(d.EndKey, cur.EndKey) {
		return &ApplyResult{Err: kvpb.NewInvalid("descriptor gen %d does not replace gen %d of r%d", d.GetGeneration(), cur.Generation, cur.RangeId)}
	}
	enc, err := proto.Marshal(d)
	a.must(err, "encode descriptor")
	a.must(a.batch().Put(DescriptorKey(a.r.id), enc), "descriptor")
	a.desc = d
	return &ApplyResult{}
}

func writeKeys(req *kvpb.Request) [][]byte {
	switch v := req.Value.(type) {
	case *kvpb.Request_Put:
		return [][]byte{v.Put.Key}
	case *kvpb.Request_Cput:
		return [][]byte{v.Cput.Key}
	case *kvpb.Request_Delete:
		return [][]byte{v.Delete.Key}
	}
	return nil
}

func needsRead(reqs []*kvpb.Request) bool {
	for _, req := range reqs {
		switch req.Value.(type) {
		case *kvpb.Request_Put:
		default:
			return true
		}
	}
	return false
}

// clamp intersects [start, end) with the descriptor's span; an empty end
// means the end of the range.
func clamp(start, end []byte, d *kvpb.RangeDescriptor) ([]byte, []byte) {
	if bytes.Compare(start, d.StartKey) < 0 {
		start = d.StartKey
	}
	if len(end) == 0 || bytes.Compare(end, d.EndKey) > 0 {
		end = d.EndKey
	}
	return start, end
}
