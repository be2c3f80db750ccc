package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/internal/lazyctx"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
)

// MetaRangeID is the id of the meta range, fixed at bootstrap.
const MetaRangeID = 1

// Errors of the client.
var (
	// ErrConditionFailed is returned by CPut when the current value differs.
	ErrConditionFailed = errors.New("kv: condition failed")
	// ErrUnavailable is returned when no replica could serve a request before
	// the deadline.
	ErrUnavailable = errors.New("kv: unavailable")
	// ErrAmbiguous is returned for a request that must not apply twice
	// when an attempt failed in a way that leaves open whether it was
	// applied (a lost answer, a raft proposal in flight when its leader
	// lost leadership): the request is not sent again, and the caller
	// cannot know whether it took effect (SQLSTATE 08007).
	ErrAmbiguous = errors.New("kv: result is ambiguous")
)

// Config configures a Client.
type Config struct {
	Pool *Pool
	// Seeds returns node addresses to ask for the meta range when nothing
	// better is known (the local node first).
	Seeds func() []string
	// AttemptTimeout bounds one RPC to one replica (default 5 s).
	AttemptTimeout time.Duration
	// RetryTimeout bounds a whole request when ctx has no deadline (default 15 s).
	RetryTimeout time.Duration
	Logger       *slog.Logger
	// ObserveCommit, if set, gets the latency of every transaction commit
	// that wrote (onePC: committed in one raft command); ObserveTSO the
	// latency of every round trip to the timestamp oracle.
	ObserveCommit func(d time.Duration, onePC bool)
	ObserveTSO    func(d time.Duration)
	// Meter, if set, sees every batch a range answered successfully, with
	// its answer: the node meters request units with it.
	Meter func(ba *kvpb.BatchRequest, resp *kvpb.BatchResponse)
}

// Client routes requests to ranges: it finds a key's range in the meta
// range (caching descriptors), sends the batch to the range's leader, and
// retries on routing errors (not leader, key outside range, range not found)
// and on unavailable replicas until the context ends. Safe for concurrent use.
type Client struct {
	cfg   Config
	cache *rangeCache
	txns  txnCounters
	scans scanCounters
	// bg owns the goroutines that resolve transactions' secondary locks;
	// Close cancels bgCtx and waits for them.
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
	nodes    sync.Map   // node id -> rpc addr, for finding the meta range
	tso      tsoBatcher // batches Now calls (tso.go)
}

// NewClient makes a client.
func NewClient(cfg Config) *Client {
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = 5 * time.Second
	}
	if cfg.RetryTimeout == 0 {
		cfg.RetryTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{cfg: cfg, cache: newRangeCache()}
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	return c
}

// Close stops the client's background work (lock resolution) and waits for
// it. The pool is the caller's.
func (c *Client) Close() {
	c.bgCancel()
	c.bg.Wait()
}

// SetNodeAddr records where a node listens (from join or node records).
func (c *Client) SetNodeAddr(nodeID uint64, addr string) { c.nodes.Store(nodeID, addr) }

// KnownNodes returns how many nodes' addresses the client knows.
func (c *Client) KnownNodes() int {
	n := 0
	c.nodes.Range(func(_, _ any) bool { n++; return true })
	return n
}

// Get reads key; found is false if it does not exist.
func (c *Client) Get(ctx context.Context, key []byte) (value []byte, found bool, err error) {
	resp, err := c.sendOne(ctx, key, &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: key}}})
	if err != nil {
		return nil, false, err
	}
	g := resp.GetGet()
	return g.GetValue(), g.GetFound(), nil
}

// Put writes key.
func (c *Client) Put(ctx context.Context, key, value []byte) error {
	_, err := c.sendOne(ctx, key, &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: key, Value: value}}})
	return err
}

// Delete removes key; found tells whether it existed.
func (c *Client) Delete(ctx context.Context, key []byte) (found bool, err error) {
	resp, err := c.sendOne(ctx, key, &kvpb.Request{Value: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: key}}})
	return resp.GetDelete().GetFound(), err
}

// CPut writes value if the current value is expected (expectedExists false:
// if the key is absent). It fails with an error matching ErrConditionFailed
// otherwise. A CPut retried after an ambiguous failure may report a failed
// condition although its first attempt succeeded.
func (c *Client) CPut(ctx context.Context, key, value, expected []byte, expectedExists bool) error {
	_, err := c.sendOne(ctx, key, &kvpb.Request{Value: &kvpb.Request_Cput{Cput: &kvpb.ConditionalPutRequest{
		Key: key, Value: value, Expected: expected, ExpectedExists: expectedExists}}})
	return err
}

// Scan returns up to limit (<= 0: all) keys in [start, end) in order,
// across ranges.
func (c *Client) Scan(ctx context.Context, start, end []byte, limit int) ([]*kvpb.KeyValue, error) {
	var out []*kvpb.KeyValue
	for bytes.Compare(start, end) < 0 {
		desc, err := c.LookupRange(ctx, start)
		if err != nil {
			return nil, err
		}
		segEnd := end
		if bytes.Compare(desc.EndKey, end) < 0 {
			segEnd = desc.EndKey
		}
		want := 0
		if limit > 0 {
			want = limit - len(out)
		}
		req := &kvpb.Request{Value: &kvpb.Request_Scan{Scan: &kvpb.ScanRequest{StartKey: start, EndKey: segEnd, Limit: int64(want)}}}
		resp, err := c.sendOne(ctx, start, req)
		if err != nil {
			return nil, err
		}
		s := resp.GetScan()
		out = append(out, s.GetRows()...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if len(s.GetResumeKey()) > 0 {
			start = s.ResumeKey
			continue
		}
		start = segEnd
	}
	return out, nil
}

// sendOne sends a single request addressed by key.
func (c *Client) sendOne(ctx context.Context, key []byte, req *kvpb.Request) (*kvpb.Response, error) {
	resp, err := c.Send(ctx, key, []*kvpb.Request{req})
	if err != nil {
		return nil, err
	}
	if len(resp.Responses) != 1 {
		return nil, fmt.Errorf("kv: %d responses to one request", len(resp.Responses))
	}
	return resp.Responses[0], nil
}

// Send sends reqs, all addressed to the range holding key, retrying routing
// errors until ctx ends. A structured, non-retryable error comes back as
// *kvpb.Error (wrapping ErrConditionFailed for failed conditions).
func (c *Client) Send(ctx context.Context, key []byte, reqs []*kvpb.Request) (*kvpb.BatchResponse, error) {
	// bound ends the retries of a ctx without a deadline. It is passed
	// down rather than made a context: each attempt's context ends at the
	// earlier of the bound and the attempt's own timeout (sendTo), which
	// saves a context and its timer on every call.
	var bound time.Time
	if _, ok := ctx.Deadline(); !ok {
		bound = time.Now().Add(c.cfg.RetryTimeout)
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, bound, attempt); err != nil {
				return nil, unavailable(ctx, err, lastErr)
			}
		}
		desc, err := c.lookupRange(ctx, bound, key)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil { // (past the bound, the next backoff fails)
				return nil, unavailable(ctx, err, lastErr)
			}
			continue
		}
		resp, err := c.sendToRange(ctx, bound, desc, reqs)
		if err == nil {
			return resp, nil
		}
		if errors.Is(err, ErrAmbiguous) {
			return nil, err
		}
		lastErr = err
		var kerr *kvpb.Error
		if !errors.As(err, &kerr) {
			continue
		}
		switch d := kerr.Detail.(type) {
		case *kvpb.Error_KeyMismatch:
			c.cache.evict(desc)
			if nd := d.KeyMismatch.GetDesc(); nd != nil && nd.ContainsKey(key) {
				c.cache.insert(nd)
			}
			if !bytes.Equal(d.KeyMismatch.Key, key) {
				// Another key of the batch is no longer in key's range (a
				// split): the caller must regroup its batch.
				return nil, kerr
			}
		case *kvpb.Error_RangeNotFound:
			c.cache.evict(desc)
		case *kvpb.Error_ConditionFailed:
			return nil, fmt.Errorf("%w: %w", ErrConditionFailed, kerr)
		default:
			if !kerr.Retryable() {
				return nil, kerr
			}
		}
	}
}

// sendToRange tries the range's replicas, leader first, following NotLeader
// hints. It returns the first definitive answer or the last error.
//
// A batch that must not apply twice (onceOnly) is not sent again after an
// attempt that may have been applied: that ends with ErrAmbiguous. No
// attempt runs past bound (the zero time: no bound but ctx's).
func (c *Client) sendToRange(ctx context.Context, bound time.Time, desc *kvpb.RangeDescriptor, reqs []*kvpb.Request) (*kvpb.BatchResponse, error) {
	ba := &kvpb.BatchRequest{RangeId: desc.RangeId, Requests: reqs}
	once := onceOnly(reqs)
	var resp *kvpb.BatchResponse
	err := c.tryLeader(ctx, desc, func(addr string) error {
		var err error
		resp, err = c.sendTo(ctx, bound, addr, ba)
		if err != nil && once && mayHaveApplied(err) {
			return fmt.Errorf("%w: r%d at %s: %w", ErrAmbiguous, desc.RangeId, addr, err)
		}
		return err
	})
	return resp, err
}

// onceOnly reports a batch that must not be applied twice: the one-phase
// commit of a transaction without a start timestamp (a blind write of a
// deferred transaction, kv.BeginDeferred). Its range takes its timestamps,
// so a second copy would commit the same writes again later, over writes
// committed in between. Every other request is safe to repeat: reads;
// puts; the transactional requests, which name their transaction and find
// what an earlier copy did (range/replica/txn.go).
func onceOnly(reqs []*kvpb.Request) bool {
	for _, r := range reqs {
		if p := r.GetOnePc(); p != nil && p.StartTs == 0 {
			return true
		}
	}
	return false
}

// mayHaveApplied reports whether a failed attempt may have been applied
// all the same: a range says so (kvpb.Error.ambiguous) or the failure is
// the transport's or the attempt's deadline, after the request may have
// reached the node. A request the client never sent (unsentError) and a
// range's refusal were not applied.
func mayHaveApplied(err error) bool {
	if isUnsent(err) {
		return false
	}
	var kerr *kvpb.Error
	if errors.As(err, &kerr) {
		return kerr.Ambiguous
	}
	return true
}

// tryLeader calls call with the addresses of desc's replicas, cached leader
// first, following NotLeader hints and moving on after transport failures,
// RangeNotFound and Unavailable, until one succeeds or fails with a
// definitive error. It keeps the range's leader cache up to date.
func (c *Client) tryLeader(ctx context.Context, desc *kvpb.RangeDescriptor, call func(addr string) error) error {
	// A handful of addresses: a slice on the stack, not a map.
	var triedBuf [8]string
	tried := triedBuf[:0]
	candidates := c.candidates(desc)
	var lastErr error
	for len(candidates) > 0 {
		addr := candidates[0]
		candidates = candidates[1:]
		if addr == "" || slices.Contains(tried, addr) {
			continue
		}
		tried = append(tried, addr)
		err := call(addr)
		if err == nil {
			c.cache.setLeader(desc.RangeId, addr)
			return nil
		}
		lastErr = err
		if errors.Is(err, ErrAmbiguous) {
			return err
		}
		var kerr *kvpb.Error
		if !errors.As(err, &kerr) {
			if ctx.Err() != nil {
				return err
			}
			continue // transport failure: next replica
		}
		switch d := kerr.Detail.(type) {
		case *kvpb.Error_NotLeader:
			if hint := d.NotLeader.LeaderAddr; hint != "" && !slices.Contains(tried, hint) {
				c.cache.setLeader(desc.RangeId, hint)
				candidates = append([]string{hint}, candidates...)
			}
		case *kvpb.Error_RangeNotFound, *kvpb.Error_Unavailable:
		default:
			return err
		}
	}
	c.cache.setLeader(desc.RangeId, "")
	if lastErr == nil {
		lastErr = kvpb.NewUnavailable("r%d has no reachable replica", desc.RangeId)
	}
	return lastErr
}

// sendTo makes one attempt, which ends after AttemptTimeout or at bound
// (not the zero time), whichever comes first.
func (c *Client) sendTo(ctx context.Context, bound time.Time, addr string, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	cl, err := c.cfg.Pool.Internal(addr)
	if err != nil {
		return nil, unsentError{err}
	}
	deadline := time.Now().Add(c.cfg.AttemptTimeout)
	if !bound.IsZero() && bound.Before(deadline) {
		deadline = bound
	}
	// Most attempts end before anything waits on their deadline: the
	// timer is made only if something does (internal/lazyctx).
	actx, release := lazyctx.WithDeadline(ctx, deadline)
	defer release()
	resp, err := cl.Batch(actx, ba)
	if err != nil {
		if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable {
			// The connection failed: the request may have arrived.
			kerr := kvpb.NewUnavailable("%s: %s", addr, s.Message())
			kerr.Ambiguous = !isUnsent(err)
			return nil, kerr
		}
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	if c.cfg.Meter != nil {
		c.cfg.Meter(ba, resp)
	}
	return resp, nil
}

// candidates lists the addresses to try for a range: the cached leader, the
// replicas, and for the meta range the seeds.
func (c *Client) candidates(desc *kvpb.RangeDescriptor) []string {
	reps := desc.Replicas
	out := make([]string, 0, 1+len(reps))
	if l := c.cache.leader(desc.RangeId); l != "" {
		out = append(out, l)
	}
	// The replicas from a random one on, so that clients without a
	// leader in their cache spread over them.
	first := 0
	if len(reps) > 1 {
		first = rand.IntN(len(reps))
	}
	for i := range reps {
		out = append(out, reps[(first+i)%len(reps)].Addr)
	}
	if desc.RangeId == MetaRangeID && c.cfg.Seeds != nil {
		out = append(out, c.cfg.Seeds()...)
		c.nodes.Range(func(_, v any) bool {
			out = append(out, v.(string))
			return true
		})
	}
	return out
}

// metaDesc is the routing descriptor of the meta range: its replicas are
// found through the seeds and known nodes.
var metaDesc = &kvpb.RangeDescriptor{RangeId: MetaRangeID, StartKey: keys.MetaMin, EndKey: keys.MetaMax}

// LookupRange returns the descriptor of the range holding key, from the
// cache or from the meta range.
func (c *Client) LookupRange(ctx context.Context, key []byte) (*kvpb.RangeDescriptor, error) {
	return c.lookupRange(ctx, time.Time{}, key)
}

// lookupRange is LookupRange whose reads of the meta range end at bound
// (see sendToRange).
func (c *Client) lookupRange(ctx context.Context, bound time.Time, key []byte) (*kvpb.RangeDescriptor, error) {
	if bytes.Compare(key, keys.MetaMax) < 0 {
		return metaDesc, nil
	}
	if d := c.cache.lookup(key); d != nil {
		return d, nil
	}
	_, end := keys.RangeDescriptorSpan()
	req := &kvpb.Request{Value: &kvpb.Request_Scan{Scan: &kvpb.ScanRequest{StartKey: keys.RangeLookupKey(key), EndKey: end, Limit: 1}}}
	resp, err := c.sendToRange(ctx, bound, metaDesc, []*kvpb.Request{req})
	if err != nil {
		return nil, fmt.Errorf("kv: look up range of %s: %w", keys.Pretty(key), err)
	}
	rows := resp.Responses[0].GetScan().GetRows()
	if len(rows) == 0 {
		return nil, fmt.Errorf("kv: no range holds %s", keys.Pretty(key))
	}
	d := &kvpb.RangeDescriptor{}
	if err := proto.Unmarshal(rows[0].Value, d); err != nil {
		return nil, fmt.Errorf("kv: corrupt descriptor at %s: %w", keys.Pretty(rows[0].Key), err)
	}
	if !d.ContainsKey(key) {
		// Meta is being updated (a split in flight): retry later.
		return nil, kvpb.NewUnavailable("meta has no descriptor for %s yet", keys.Pretty(key))
	}
	c.cache.insert(d)
	return d, nil
}

// EvictRange drops a cached descriptor (after an admin change).
func (c *Client) EvictRange(d *kvpb.RangeDescriptor) { c.cache.evict(d) }

// CallMetaLeader calls call with the addresses that may lead the meta range
// (cached leader, seeds, known nodes), following NotLeader hints as
// tryLeader does, for services that only the meta leader serves (the
// controller). call returns a *kvpb.Error for a structured refusal.
func (c *Client) CallMetaLeader(ctx context.Context, call func(addr string) error) error {
	return c.tryLeader(ctx, metaDesc, call)
}

// maxBackoffDoublings caps the routing backoff at 80-160 ms: a retry
// costs a round of small calls, while a longer sleep would hold a client
// back that long after a new leader is elected (a failover is 1-2 s).
const maxBackoffDoublings = 5

// unavailable is the error of a call that gives up retrying: ErrUnavailable,
// why, and the last failure. When the caller's context has ended, that is
// why, and its error is wrapped too: a statement that was cancelled or ran
// out of time says so (57014), not that the cluster is down. (The bound of
// a call without a deadline is not the caller's: it stays unwrapped.)
func unavailable(ctx context.Context, why, last error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w (last error: %v)", ErrUnavailable, err, last)
	}
	return fmt.Errorf("%w: %v (last error: %v)", ErrUnavailable, why, last)
}

// backoff sleeps before retry number attempt. It fails with ctx's error
// if ctx ends first, and with context.DeadlineExceeded if bound (not the
// zero time) comes first.
func backoff(ctx context.Context, bound time.Time, attempt int) error {
	d := time.Duration(1<<min(attempt, maxBackoffDoublings)) * 5 * time.Millisecond // 10ms .. 160ms
	d = d/2 + rand.N(d/2+1)
	var err error
	if !bound.IsZero() {
		if left := time.Until(bound); left < d {
			d, err = max(left, 0), context.DeadlineExceeded
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return err
	}
}

// unsentError is the failure of a call before its request left this
// process (no connection, no stream, a context that had already ended):
// it cannot have been applied. It keeps the gRPC status of the error it
// wraps.
type unsentError struct{ error }

func (e unsentError) Unwrap() error { return e.error }

func isUnsent(err error) bool {
	var u unsentError
	return errors.As(err, &u)
}
