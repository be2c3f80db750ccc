package replica

import (
	"bytes"
	"fmt"
	"time"

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
//
// Invariant: the stored applied index never names an entry whose effects
// are not all in the engine with it. A command may flush the batch before
// it runs (its conditions read the engine), and a lazy snapshot export
// (ExportState) or a crash may come between that flush and the next: the
// flush records the entry before it (applier.done), or a follower restored
// from that export, or this node after a restart, would skip the entry and
// never have its writes.
func (r *Replica) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	a := applier{r: r}
	r.mu.Lock()
	a.desc, a.done, a.lastTS, a.gcThreshold = r.mu.desc, r.mu.applied, r.mu.lastTS, r.mu.gcThreshold
	r.mu.Unlock()
	for i, l := range logs {
		if a.halted {
			out[i] = &ApplyResult{Err: kvpb.NewUnavailable("r%d: apply halted", r.id)}
			continue
		}
		if l.Index <= a.done {
			out[i] = &ApplyResult{Err: kvpb.NewInvalid("entry %d already applied", l.Index)}
			continue
		}
		a.index = l.Index
		if l.Type == raft.LogCommand {
			start := time.Now()
			out[i] = a.applyCommand(l)
			r.load.RecordCPU(r.cfg.Clock(), time.Since(start))
		}
		if !a.halted {
			a.done = l.Index
		}
	}
	a.flush()
	return out
}

// afterFlush, when set (by tests), is called after each flush of an apply
// batch: what a lazy export or a crash at that moment would find.
var afterFlush func(*Replica)

// applier carries the state of one ApplyBatch call.
type applier struct {
	r *Replica
	b *engine.Batch
	// index is the entry being applied; done the last entry whose effects
	// are all in the engine or the pending batch, the applied index that
	// flush records (see ApplyBatch).
	index, done uint64
	desc        *kvpb.RangeDescriptor
	lastTS      engine.Timestamp
	// gcThreshold: reads below it are refused (see gc.go).
	gcThreshold engine.Timestamp
	// splits are the right-hand sides created in this batch, opened after
	// the batch is durable in the engine; merged the right-hand ranges
	// absorbed, whose local replicas are then removed.
	splits []*kvpb.RangeDescriptor
	merged []uint64
	// halted stops the batch: a merge could not be applied before the node
	// shut down (see applyMerge); the rest is applied after the restart.
	halted bool
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
	a.must(b.Put(appliedKey(a.r.id), encodeApplied(a.done, a.lastTS)), "applied state")
	a.must(b.Commit(false), "commit")
	a.b = nil
	r := a.r
	r.mu.Lock()
	r.mu.desc, r.mu.applied, r.mu.lastTS, r.mu.gcThreshold = a.desc, a.done, a.lastTS, a.gcThreshold
	r.mu.cond.Broadcast()
	r.mu.Unlock()
	if h := afterFlush; h != nil {
		h(r)
	}
	for _, right := range a.splits {
		if r.cfg.OnSplit != nil {
			r.cfg.OnSplit(right)
		}
	}
	a.splits = nil
	for _, right := range a.merged {
		if r.cfg.OnMerge != nil {
			r.cfg.OnMerge(right)
		}
	}
	a.merged = nil
}

func (a *applier) must(err error, what string) {
	if err != nil {
		// Deliberately fatal: see ApplyBatch.
		panic(fmt.Sprintf("replica r%d: apply %s at index %d: %v", a.r.id, what, a.index, err))
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
	case cmd.Subsume != nil:
		return a.applySubsume(cmd.Subsume)
	case cmd.Merge != nil:
		return a.applyMerge(cmd.Merge)
	}
	if err := frozen(a.desc, a.r.id); err != nil && len(cmd.Writes) > 0 {
		// Writes proposed before the freeze and committed after it: the
		// range's data is final, the client retries on the merged range.
		return &ApplyResult{Err: err}
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
	if len(cmd.Writes) == 1 && txnRequest(cmd.Writes[0]) {
		if a.b != nil {
			a.flush()
		}
		return a.applyTxn(cmd.Writes[0])
	}
	if needsRead(cmd.Writes) && a.b != nil {
		// Conditions and counts read the engine, which does not see the
		// pending batch: make it visible first.
		a.flush()
	}
	res := &ApplyResult{Responses: make([]*kvpb.Response, 0, len(cmd.Writes))}
	if len(cmd.Writes) == 0 {
		return res // a leader's term-start marker
	}
	// The requests run in order, each seeing the ones before it (a delete
	// finds a key put earlier in the command, a condition sees an earlier
	// write), against a view of the command's writes over the engine.
	// Nothing is written until every condition has held: a failed one
	// leaves no trace.
	v := cmdView{a: a, w: map[string]*viewWrite{}}
	for _, req := range cmd.Writes {
		resp, err := v.do(req)
		if err != nil {
			return &ApplyResult{Err: err}
		}
		res.Responses = append(res.Responses, resp)
	}
	v.write(ts)
	a.lastTS = ts
	return res
}

// cmdView is what one command has written so far, over the engine as the
// entries before the command left it.
type cmdView struct {
	a    *applier
	keys []string // in the order first written: the batch is built in it
	w    map[string]*viewWrite
}

type viewWrite struct {
	value []byte
	live  bool // false: deleted
	// existed tells, when known, whether the engine holds the key: a
	// deleted key needs a tombstone only then.
	known, existed bool
}

// read returns the engine's newest visible version of k.
func (v *cmdView) read(k []byte) ([]byte, bool) {
	val, _, found, err := Get(v.a.r.eng, k, engine.MaxTimestamp)
	v.a.must(err, "read")
	return val, found
}

// get returns k's value as the command's writes so far leave it. Callers
// set k next (or reject the command).
func (v *cmdView) get(k []byte) ([]byte, bool) {
	if w, ok := v.w[string(k)]; ok {
		return w.value, w.live
	}
	val, ok := v.read(k)
	v.w[string(k)] = &viewWrite{value: val, live: ok, known: true, existed: ok}
	v.keys = append(v.keys, string(k))
	return val, ok
}

// set records a write of k (live false: a delete).
func (v *cmdView) set(k []byte, value []byte, live bool) {
	w, ok := v.w[string(k)]
	if !ok {
		w = &viewWrite{}
		v.w[string(k)] = w
		v.keys = append(v.keys, string(k))
	}
	w.value, w.live = value, live
}

func (v *cmdView) do(req *kvpb.Request) (*kvpb.Response, *kvpb.Error) {
	switch r := req.Value.(type) {
	case *kvpb.Request_Put:
		v.set(r.Put.Key, r.Put.Value, true)
		return &kvpb.Response{Value: &kvpb.Response_Put{Put: &kvpb.PutResponse{}}}, nil
	case *kvpb.Request_Cput:
		c := r.Cput
		cur, exists := v.get(c.Key)
		if exists != c.ExpectedExists || (exists && !bytes.Equal(cur, c.Expected)) {
			return nil, kvpb.NewConditionFailed(c.Key, exists, cur)
		}
		v.set(c.Key, c.Value, true)
		return &kvpb.Response{Value: &kvpb.Response_Cput{Cput: &kvpb.ConditionalPutResponse{}}}, nil
	case *kvpb.Request_Delete:
		_, found := v.get(r.Delete.Key)
		v.set(r.Delete.Key, nil, false)
		return &kvpb.Response{Value: &kvpb.Response_Delete{Delete: &kvpb.DeleteResponse{Found: found}}}, nil
	case *kvpb.Request_DeleteRange:
		start, end := clamp(r.DeleteRange.StartKey, r.DeleteRange.EndKey, v.a.desc)
		var n uint64
		// The command's earlier writes in the span, then the engine's keys
		// it has not touched.
		for _, k := range v.keys {
			if w := v.w[k]; w.live && k >= string(start) && k < string(end) {
				w.value, w.live = nil, false
				n++
			}
		}
		err := Scan(v.a.r.eng, start, end, engine.MaxTimestamp, func(k []byte, _ engine.Timestamp, _ []byte) bool {
			if _, ok := v.w[string(k)]; !ok {
				v.w[string(k)] = &viewWrite{known: true, existed: true}
				v.keys = append(v.keys, string(k))
				n++
			}
			return true
		})
		v.a.must(err, "delete range")
		return &kvpb.Response{Value: &kvpb.Response_DeleteRange{DeleteRange: &kvpb.DeleteRangeResponse{Deleted: n}}}, nil
	}
	// Unknown write kinds were refused at proposal; an old binary meeting a
	// new kind must not guess.
	panic(fmt.Sprintf("replica r%d: unknown write %T at index %d", v.a.r.id, req.Value, v.a.index))
}

// write puts the command's final state of each key it wrote into the
// batch, at ts: a version, or a tombstone for a deleted key that exists.
func (v *cmdView) write(ts engine.Timestamp) {
	b := v.a.batch()
	for _, k := range v.keys {
		w := v.w[k]
		switch {
		case w.live:
			v.a.must(b.PutMVCC([]byte(k), ts, encodeVersion(versionValue, ts, w.value)), "put")
		case !w.known:
			if _, ok := v.read([]byte(k)); ok {
				v.a.must(b.PutMVCC([]byte(k), ts, encodeVersion(versionDelete, ts, nil)), "delete")
			}
		case w.existed:
			v.a.must(b.PutMVCC([]byte(k), ts, encodeVersion(versionDelete, ts, nil)), "delete")
		}
	}
}

func (a *applier) applySplit(s *kvpb.SplitTrigger) *ApplyResult {
	d, left, right := a.desc, s.Left, s.Right
	if left.GetGeneration() <= d.Generation || left.RangeId != d.RangeId || d.MergingInto != 0 ||
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
	a.done = a.index // the split's effects are all in the batch
	a.flush()
	// Row locks of the right-hand keys are the new range's business; their
	// waiters here would wait out memLockWait for nothing.
	a.r.memLocks.abandon(func(k []byte) bool { return bytes.Compare(k, left.EndKey) >= 0 })
	// The load measured so far was the whole range's.
	a.r.load.Reset()
	a.r.mu.Lock()
	a.r.mu.splitAt = a.r.cfg.Clock()
	a.r.mu.Unlock()
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
	if txnRequest(req) {
		return txnKeys(req)
	}
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
