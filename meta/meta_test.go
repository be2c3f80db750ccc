package meta_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
)

// fakeDB is an in-memory meta.DB: a map read in key order under one mutex.
// CPut is really conditional and fails the way the kv client does (an error
// wrapping a *kvpb.Error with a ConditionFailed detail); Send applies a
// batch of puts atomically. Values are copied in and out. Safe for
// concurrent use.
type fakeDB struct {
	// beforeCPut, if set, runs at the start of every CPut with no lock
	// held: it may write to the db (a racing writer) or return an error,
	// which CPut returns without writing. Set it before the db is shared.
	beforeCPut func(key []byte) error
	// sendErr, if set, fails every Send before it applies anything.
	sendErr error

	mu struct {
		sync.Mutex
		kv map[string][]byte
		// Calls, for tests that check how the db was used.
		puts, cputs, condFailed int
		sendSizes               []int // requests per Send
	}
}

var _ meta.DB = (*fakeDB)(nil)

func newFakeDB() *fakeDB {
	db := &fakeDB{}
	db.mu.kv = map[string][]byte{}
	return db
}

func (db *fakeDB) Get(_ context.Context, key []byte) ([]byte, bool, error) {
	db.mu.Lock()
	v, ok := db.mu.kv[string(key)]
	db.mu.Unlock()
	// Let another goroutine run between a read and the write that follows
	// it, so that concurrent read-modify-writes really do collide.
	runtime.Gosched()
	return bytes.Clone(v), ok, nil
}

func (db *fakeDB) Put(_ context.Context, key, value []byte) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.mu.puts++
	db.mu.kv[string(key)] = bytes.Clone(value)
	return nil
}

func (db *fakeDB) CPut(_ context.Context, key, value, expected []byte, expectedExists bool) error {
	if db.beforeCPut != nil {
		if err := db.beforeCPut(key); err != nil {
			return err
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.mu.cputs++
	actual, exists := db.mu.kv[string(key)]
	if exists != expectedExists || (exists && !bytes.Equal(actual, expected)) {
		db.mu.condFailed++
		return fmt.Errorf("fake db: %w", kvpb.NewConditionFailed(bytes.Clone(key), exists, bytes.Clone(actual)))
	}
	db.mu.kv[string(key)] = bytes.Clone(value)
	return nil
}

func (db *fakeDB) Delete(_ context.Context, key []byte) (bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	_, ok := db.mu.kv[string(key)]
	delete(db.mu.kv, string(key))
	return ok, nil
}

func (db *fakeDB) Scan(_ context.Context, start, end []byte, limit int) ([]*kvpb.KeyValue, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var ks []string
	for k := range db.mu.kv {
		if k >= string(start) && k < string(end) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	if limit > 0 && len(ks) > limit {
		ks = ks[:limit]
	}
	out := make([]*kvpb.KeyValue, 0, len(ks))
	for _, k := range ks {
		out = append(out, &kvpb.KeyValue{Key: []byte(k), Value: bytes.Clone(db.mu.kv[k])})
	}
	return out, nil
}

func (db *fakeDB) Send(_ context.Context, key []byte, reqs []*kvpb.Request) (*kvpb.BatchResponse, error) {
	if db.sendErr != nil {
		return nil, db.sendErr
	}
	if bytes.Compare(key, keys.MetaMin) < 0 || bytes.Compare(key, keys.MetaMax) >= 0 {
		return nil, fmt.Errorf("fake db: batch addressed to %s, outside the meta range", keys.Pretty(key))
	}
	// Check the whole batch before applying any of it.
	for _, r := range reqs {
		if r.GetPut() == nil && r.GetDelete() == nil {
			return nil, kvpb.NewInvalid("fake db: only puts and deletes in a batch, got %T", r.GetValue())
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.mu.sendSizes = append(db.mu.sendSizes, len(reqs))
	resp := &kvpb.BatchResponse{}
	for _, r := range reqs {
		if d := r.GetDelete(); d != nil {
			_, found := db.mu.kv[string(d.Key)]
			delete(db.mu.kv, string(d.Key))
			resp.Responses = append(resp.Responses, &kvpb.Response{Value: &kvpb.Response_Delete{Delete: &kvpb.DeleteResponse{Found: found}}})
			continue
		}
		db.mu.kv[string(r.GetPut().Key)] = bytes.Clone(r.GetPut().Value)
		resp.Responses = append(resp.Responses, &kvpb.Response{Value: &kvpb.Response_Put{Put: &kvpb.PutResponse{}}})
	}
	return resp, nil
}

// contents returns a copy of everything stored.
func (db *fakeDB) contents() map[string][]byte {
	db.mu.Lock()
	defer db.mu.Unlock()
	return maps.Clone(db.mu.kv)
}

// set stores value at key without going through the DB interface.
func (db *fakeDB) set(key, value []byte) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.mu.kv[string(key)] = bytes.Clone(value)
}

func (db *fakeDB) writes() (puts, cputs, condFailed int, sendSizes []int) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.mu.puts, db.mu.cputs, db.mu.condFailed, slices.Clone(db.mu.sendSizes)
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rdesc(id uint64, start, end []byte, gen uint64, nodes ...uint64) *kvpb.RangeDescriptor {
	d := &kvpb.RangeDescriptor{RangeId: id, StartKey: start, EndKey: end, Generation: gen}
	for _, n := range nodes {
		d.Replicas = append(d.Replicas, &kvpb.ReplicaDescriptor{NodeId: n, Type: kvpb.ReplicaType_VOTER, Addr: fmt.Sprintf("10.0.0.%d:26257", n)})
	}
	return d
}

func counter(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// stored decodes the descriptor at end's key, nil if there is none.
func stored(t *testing.T, db *fakeDB, end []byte) *kvpb.RangeDescriptor {
	t.Helper()
	k := keys.RangeDescriptorKey(end)
	v, ok, _ := db.Get(context.Background(), k)
	if !ok {
		return nil
	}
	d, err := meta.DecodeDescriptor(k, v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkTiling fails unless descs cover [keys.MetaMin, keys.KeyMax) with no
// gap and no overlap, each with a distinct range id.
func checkTiling(t *testing.T, descs []*kvpb.RangeDescriptor) {
	t.Helper()
	if len(descs) == 0 {
		t.Fatal("no descriptors")
	}
	ds := slices.Clone(descs)
	slices.SortFunc(ds, func(a, b *kvpb.RangeDescriptor) int { return bytes.Compare(a.StartKey, b.StartKey) })
	ids := map[uint64]bool{}
	at := keys.MetaMin
	for _, d := range ds {
		if !bytes.Equal(d.StartKey, at) {
			t.Fatalf("r%d starts at %s, want %s (gap or overlap) in %v", d.RangeId, keys.Pretty(d.StartKey), keys.Pretty(at), ds)
		}
		if bytes.Compare(d.StartKey, d.EndKey) >= 0 {
			t.Fatalf("r%d is empty or inverted: [%s, %s)", d.RangeId, keys.Pretty(d.StartKey), keys.Pretty(d.EndKey))
		}
		if ids[d.RangeId] {
			t.Fatalf("range id %d used twice in %v", d.RangeId, ds)
		}
		ids[d.RangeId] = true
		at = d.EndKey
	}
	if !bytes.Equal(at, keys.KeyMax) {
		t.Fatalf("descriptors end at %s, want %s", keys.Pretty(at), keys.Pretty(keys.KeyMax))
	}
}

var (
	firstReplica = &kvpb.ReplicaDescriptor{NodeId: 1, Type: kvpb.ReplicaType_VOTER, Addr: "10.0.0.1:26257"}
	firstNode    = &kvpb.NodeDescriptor{NodeId: 1, RpcAddr: "10.0.0.1:26257", SqlAddr: "10.0.0.1:5432", HttpAddr: "10.0.0.1:8080"}
)

func TestInitialDescriptorsTile(t *testing.T) {
	descs := meta.InitialDescriptors(firstReplica)
	checkTiling(t, descs)
	if d := descs[0]; d.RangeId != meta.MetaRangeID || !bytes.Equal(d.StartKey, keys.MetaMin) || !bytes.Equal(d.EndKey, keys.MetaMax) {
		t.Errorf("first descriptor %v, want the meta range r%d [%s, %s)", d, meta.MetaRangeID, keys.Pretty(keys.MetaMin), keys.Pretty(keys.MetaMax))
	}
	if d := descs[1]; d.RangeId != meta.FirstUserRangeID || !bytes.Equal(d.StartKey, keys.UserMin) {
		t.Errorf("second descriptor %v, want the user range r%d from %s", d, meta.FirstUserRangeID, keys.Pretty(keys.UserMin))
	}
	for _, d := range descs {
		if d.Generation == 0 || len(d.Replicas) != 1 || !proto.Equal(d.Replicas[0], firstReplica) {
			t.Errorf("r%d: generation %d, replicas %v; want generation > 0 on the first node only", d.RangeId, d.Generation, d.Replicas)
		}
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	descs := meta.InitialDescriptors(firstReplica)
	bootstrap := func(t *testing.T, db *fakeDB) error {
		t.Helper()
		return meta.New(db).Bootstrap(ctx, descs, firstNode)
	}
	// clean is what a bootstrap without trouble leaves.
	cleanDB := newFakeDB()
	if err := bootstrap(t, cleanDB); err != nil {
		t.Fatal(err)
	}
	clean := cleanDB.contents()

	t.Run("fresh", func(t *testing.T) {
		m := meta.New(cleanDB)
		got, err := m.Descriptors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(descs) {
			t.Fatalf("got %d descriptors, want %d", len(got), len(descs))
		}
		for i := range got {
			if !proto.Equal(got[i], descs[i]) {
				t.Errorf("descriptor %d: got %v, want %v", i, got[i], descs[i])
			}
		}
		checkTiling(t, got)
		nodes, err := m.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 || !proto.Equal(nodes[0], firstNode) {
			t.Errorf("nodes %v, want [%v]", nodes, firstNode)
		}
		for name, want := range map[string]uint64{meta.CounterRangeID: meta.FirstUserRangeID, meta.CounterNodeID: firstNode.NodeId} {
			if v := clean[string(keys.SystemKey(name))]; !bytes.Equal(v, counter(want)) {
				t.Errorf("counter %s = %x, want %x", name, v, counter(want))
			}
		}
		if len(clean) != len(descs)+3 {
			t.Errorf("bootstrap wrote %d records, want %d descriptors, a node and two counters", len(clean), len(descs))
		}
	})

	t.Run("twice", func(t *testing.T) {
		db := newFakeDB()
		for i := range 2 {
			if err := bootstrap(t, db); err != nil {
				t.Fatalf("bootstrap %d: %v", i+1, err)
			}
		}
		if got := db.contents(); !maps.EqualFunc(got, clean, bytes.Equal) {
			t.Fatalf("after two bootstraps: %v, want %v", got, clean)
		}
	})

	// A first run that stops after n of its writes, then a complete rerun:
	// the outcome is that of a clean bootstrap.
	for n := range len(clean) {
		t.Run(fmt.Sprintf("crash after %d writes", n), func(t *testing.T) {
			db := newFakeDB()
			errCrash := errors.New("crash")
			var calls int
			db.beforeCPut = func([]byte) error {
				if calls++; calls > n {
					return errCrash
				}
				return nil
			}
			if err := bootstrap(t, db); !errors.Is(err, errCrash) {
				t.Fatalf("first bootstrap: %v, want %v", err, errCrash)
			}
			if got := len(db.contents()); got != n {
				t.Fatalf("first bootstrap left %d records, want %d", got, n)
			}
			db.beforeCPut = nil
			if err := bootstrap(t, db); err != nil {
				t.Fatal(err)
			}
			if got := db.contents(); !maps.EqualFunc(got, clean, bytes.Equal) {
				t.Fatalf("after the rerun: %v, want %v", got, clean)
			}
		})
	}

	// Records already present, here different from what bootstrap would
	// write (a later generation, a used counter, a moved node), are kept.
	t.Run("keeps existing records", func(t *testing.T) {
		db := newFakeDB()
		metaDesc := rdesc(meta.MetaRangeID, keys.MetaMin, keys.MetaMax, 4, 1, 2, 3)
		node := &kvpb.NodeDescriptor{NodeId: 1, RpcAddr: "10.9.9.9:26257"}
		existing := map[string][]byte{
			string(keys.RangeDescriptorKey(keys.MetaMax)): marshal(t, metaDesc),
			string(keys.NodeKey(1)):                       marshal(t, node),
			string(keys.SystemKey(meta.CounterRangeID)):   counter(40),
		}
		for k, v := range existing {
			db.set([]byte(k), v)
		}
		if err := bootstrap(t, db); err != nil {
			t.Fatal(err)
		}
		got := db.contents()
		for k, v := range existing {
			if !bytes.Equal(got[k], v) {
				t.Errorf("%s overwritten: %x, was %x", keys.Pretty([]byte(k)), got[k], v)
			}
		}
		for k, v := range clean {
			if _, ok := existing[k]; !ok && !bytes.Equal(got[k], v) {
				t.Errorf("%s = %x, want %x", keys.Pretty([]byte(k)), got[k], v)
			}
		}
		if len(got) != len(clean) {
			t.Errorf("%d records, want %d", len(got), len(clean))
		}
	})

	t.Run("write error", func(t *testing.T) {
		db := newFakeDB()
		errDown := errors.New("meta range unavailable")
		db.beforeCPut = func([]byte) error { return errDown }
		if err := bootstrap(t, db); !errors.Is(err, errDown) {
			t.Fatalf("got %v, want %v", err, errDown)
		}
	})
}

func TestAllocateID(t *testing.T) {
	ctx := context.Background()
	bootstrapped := func(t *testing.T) *fakeDB {
		t.Helper()
		db := newFakeDB()
		if err := meta.New(db).Bootstrap(ctx, meta.InitialDescriptors(firstReplica), firstNode); err != nil {
			t.Fatal(err)
		}
		return db
	}

	t.Run("concurrent", func(t *testing.T) {
		db := bootstrapped(t)
		m := meta.New(db)
		const workers, each = 16, 64
		got := make([][]uint64, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range each {
					id, err := m.AllocateID(ctx, meta.CounterRangeID)
					if err != nil {
						t.Error(err)
						return
					}
					got[w] = append(got[w], id)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		seen := map[uint64]int{}
		for w, ids := range got {
			if !slices.IsSorted(ids) {
				t.Errorf("worker %d got ids out of order: %v", w, ids)
			}
			for _, id := range ids {
				if prev, dup := seen[id]; dup {
					t.Fatalf("id %d handed out to workers %d and %d", id, prev, w)
				}
				seen[id] = w
			}
		}
		// Ids continue from the bootstrap's last range id with no gap.
		first := uint64(meta.FirstUserRangeID + 1)
		for id := first; id < first+workers*each; id++ {
			if _, ok := seen[id]; !ok {
				t.Fatalf("id %d never handed out", id)
			}
		}
		v, _, _ := db.Get(ctx, keys.SystemKey(meta.CounterRangeID))
		if want := counter(first + workers*each - 1); !bytes.Equal(v, want) {
			t.Fatalf("counter %x, want %x", v, want)
		}
		// The other counter is untouched.
		if v, _, _ := db.Get(ctx, keys.SystemKey(meta.CounterNodeID)); !bytes.Equal(v, counter(firstNode.NodeId)) {
			t.Fatalf("node counter %x, want %x", v, counter(firstNode.NodeId))
		}
		// The fake yields between a read and the write after it, so the
		// workers collide by the thousand; none at all would mean the test
		// never exercised the retry.
		_, _, lost, _ := db.writes()
		if lost == 0 {
			t.Fatal("no conditional put lost a race: the workers never collided")
		}
		t.Logf("%d conditional puts lost a race and were retried", lost)
	})

	t.Run("retries a lost race", func(t *testing.T) {
		db := bootstrapped(t)
		_, before, _, _ := db.writes()
		var once sync.Once
		db.beforeCPut = func(k []byte) error {
			once.Do(func() { db.set(k, counter(10)) }) // another allocator got there first
			return nil
		}
		id, err := meta.New(db).AllocateID(ctx, meta.CounterNodeID)
		if err != nil {
			t.Fatal(err)
		}
		if id != 11 {
			t.Fatalf("got id %d, want 11 (after the racing writer's 10)", id)
		}
		if _, cputs, lost, _ := db.writes(); cputs-before != 2 || lost != 1 {
			t.Fatalf("%d conditional puts, %d failed; want 2 and 1", cputs-before, lost)
		}
	})

	t.Run("missing counter", func(t *testing.T) {
		_, err := meta.New(newFakeDB()).AllocateID(ctx, meta.CounterRangeID)
		if !errors.Is(err, meta.ErrCorrupt) {
			t.Fatalf("got %v, want %v", err, meta.ErrCorrupt)
		}
	})

	t.Run("malformed counter", func(t *testing.T) {
		db := newFakeDB()
		db.set(keys.SystemKey(meta.CounterRangeID), []byte{0, 0, 7})
		_, err := meta.New(db).AllocateID(ctx, meta.CounterRangeID)
		if !errors.Is(err, meta.ErrCorrupt) {
			t.Fatalf("got %v, want %v", err, meta.ErrCorrupt)
		}
	})

	t.Run("write error", func(t *testing.T) {
		db := bootstrapped(t)
		errDown := errors.New("meta range unavailable")
		db.beforeCPut = func([]byte) error { return errDown }
		if _, err := meta.New(db).AllocateID(ctx, meta.CounterRangeID); !errors.Is(err, errDown) {
			t.Fatalf("got %v, want %v", err, errDown)
		}
	})
}

func TestDescriptors(t *testing.T) {
	ctx := context.Background()
	mid := []byte("m")
	want := []*kvpb.RangeDescriptor{
		rdesc(meta.MetaRangeID, keys.MetaMin, keys.MetaMax, 1, 1, 2, 3),
		rdesc(meta.FirstUserRangeID, keys.UserMin, mid, 2, 1, 2, 3),
		rdesc(5, mid, keys.KeyMax, 1, 2, 3, 4),
	}
	db := newFakeDB()
	m := meta.New(db)
	// Out of key order, next to records that are not descriptors.
	if err := m.WriteDescriptors(ctx, want[2], want[0], want[1]); err != nil {
		t.Fatal(err)
	}
	if err := m.PutNode(ctx, firstNode); err != nil {
		t.Fatal(err)
	}
	db.set(keys.SystemKey(meta.CounterRangeID), counter(5))

	got, err := m.Descriptors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d descriptors %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("descriptor %d: got %v, want %v", i, got[i], want[i])
		}
	}
	checkTiling(t, got)

	// One undecodable record fails the listing.
	db.set(keys.RangeDescriptorKey([]byte("g")), marshal(t, want[1]))
	if _, err := m.Descriptors(ctx); !errors.Is(err, meta.ErrCorrupt) {
		t.Fatalf("with a misplaced descriptor: got %v, want %v", err, meta.ErrCorrupt)
	}
}

func TestDecodeDescriptor(t *testing.T) {
	d := rdesc(7, []byte("a"), []byte("c"), 3, 1, 2)
	enc := marshal(t, d)
	for _, tc := range []struct {
		name  string
		key   []byte
		value []byte
		ok    bool
	}{
		{"at its end key", keys.RangeDescriptorKey(d.EndKey), enc, true},
		{"at another end key", keys.RangeDescriptorKey([]byte("b")), enc, false},
		{"at its start key", keys.RangeDescriptorKey(d.StartKey), enc, false},
		{"at a node key", keys.NodeKey(1), enc, false},
		{"garbage", keys.RangeDescriptorKey(d.EndKey), []byte{0xff, 0xff, 0xff, 0xff}, false},
		{"truncated", keys.RangeDescriptorKey(d.EndKey), enc[:len(enc)-1], false},
		{"empty value", keys.RangeDescriptorKey(d.EndKey), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := meta.DecodeDescriptor(tc.key, tc.value)
			switch {
			case tc.ok && err != nil:
				t.Fatal(err)
			case tc.ok && !proto.Equal(got, d):
				t.Fatalf("got %v, want %v", got, d)
			case !tc.ok && !errors.Is(err, meta.ErrCorrupt):
				t.Fatalf("got %v, %v; want %v", got, err, meta.ErrCorrupt)
			}
		})
	}
}

func TestWriteDescriptors(t *testing.T) {
	ctx := context.Background()
	// A split's two halves.
	left := rdesc(meta.FirstUserRangeID, keys.UserMin, []byte("m"), 2, 1)
	right := rdesc(9, []byte("m"), keys.KeyMax, 1, 1)

	db := newFakeDB()
	if err := meta.New(db).WriteDescriptors(ctx, left, right); err != nil {
		t.Fatal(err)
	}
	puts, cputs, _, sends := db.writes()
	if puts != 0 || cputs != 0 || !slices.Equal(sends, []int{2}) {
		t.Fatalf("%d puts, %d conditional puts, batches %v; want one batch of 2", puts, cputs, sends)
	}
	for _, d := range []*kvpb.RangeDescriptor{left, right} {
		if got := stored(t, db, d.EndKey); !proto.Equal(got, d) {
			t.Errorf("at %s: %v, want %v", keys.Pretty(d.EndKey), got, d)
		}
	}

	// A failed batch writes neither, and is not retried piecewise.
	db = newFakeDB()
	db.sendErr = errors.New("meta range unavailable")
	if err := meta.New(db).WriteDescriptors(ctx, left, right); !errors.Is(err, db.sendErr) {
		t.Fatalf("got %v, want %v", err, db.sendErr)
	}
	if got := db.contents(); len(got) != 0 {
		t.Fatalf("a failed batch left %d records", len(got))
	}
	if puts, cputs, _, _ := db.writes(); puts != 0 || cputs != 0 {
		t.Fatalf("after a failed batch: %d puts, %d conditional puts", puts, cputs)
	}
}

func TestSyncDescriptor(t *testing.T) {
	ctx := context.Background()
	end := []byte("m")
	gen := func(g uint64, nodes ...uint64) *kvpb.RangeDescriptor { return rdesc(4, []byte("c"), end, g, nodes...) }
	for _, tc := range []struct {
		name  string
		old   []byte // the entry at the end key, nil: none
		d     *kvpb.RangeDescriptor
		wrote bool
	}{
		{"absent", nil, gen(2, 1, 2, 3), true},
		{"equal", marshal(t, gen(2, 1, 2, 3)), gen(2, 1, 2, 3), false},
		{"older generation", marshal(t, gen(1, 1)), gen(2, 1, 2, 3), true},
		// Before a split, the left-hand range ended at the right-hand's end
		// key; the right-hand range takes the entry over, whatever the left
		// range's generation.
		{"other range after a split", marshal(t, rdesc(2, keys.UserMin, end, 1, 1)), gen(1, 1), true},
		{"other range of a higher generation", marshal(t, rdesc(2, keys.UserMin, end, 9, 1)), gen(1, 1), true},
		{"newer generation", marshal(t, gen(3, 1, 2)), gen(2, 1, 2, 3), false},
		{"corrupt entry", []byte{0xff, 0xff, 0xff}, gen(2, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newFakeDB()
			k := keys.RangeDescriptorKey(end)
			if tc.old != nil {
				db.set(k, tc.old)
			}
			wrote, err := meta.New(db).SyncDescriptor(ctx, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if wrote != tc.wrote {
				t.Fatalf("wrote = %v, want %v", wrote, tc.wrote)
			}
			v, _, _ := db.Get(ctx, k)
			want := tc.old
			if tc.wrote {
				want = marshal(t, tc.d)
			}
			if !bytes.Equal(v, want) {
				t.Fatalf("entry %x, want %x", v, want)
			}
			if _, cputs, _, _ := db.writes(); !tc.wrote && cputs != 0 {
				t.Fatalf("%d conditional puts for no write", cputs)
			}
		})
	}

	// Another writer changes the entry between the read and the
	// conditional put: nothing is written, no error, the racer's entry
	// stays for the next round to look at.
	for _, tc := range []struct {
		name        string
		old, racing *kvpb.RangeDescriptor
	}{
		{"racing writer over an entry", gen(1, 1), gen(3, 1, 2)},
		{"racing writer over no entry", nil, rdesc(2, keys.UserMin, end, 1, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newFakeDB()
			k := keys.RangeDescriptorKey(end)
			if tc.old != nil {
				db.set(k, marshal(t, tc.old))
			}
			db.beforeCPut = func(key []byte) error {
				db.set(key, marshal(t, tc.racing))
				return nil
			}
			wrote, err := meta.New(db).SyncDescriptor(ctx, gen(2, 1, 2, 3))
			if err != nil || wrote {
				t.Fatalf("got (%v, %v), want (false, nil)", wrote, err)
			}
			if got := stored(t, db, end); !proto.Equal(got, tc.racing) {
				t.Fatalf("entry %v, want the racer's %v", got, tc.racing)
			}
		})
	}

	t.Run("write error", func(t *testing.T) {
		db := newFakeDB()
		errDown := errors.New("meta range unavailable")
		db.beforeCPut = func([]byte) error { return errDown }
		wrote, err := meta.New(db).SyncDescriptor(ctx, gen(1, 1))
		if wrote || !errors.Is(err, errDown) {
			t.Fatalf("got (%v, %v), want (false, %v)", wrote, err, errDown)
		}
	})
}

func TestShouldReplace(t *testing.T) {
	base := rdesc(4, []byte("c"), []byte("m"), 5, 1, 2, 3)
	with := func(f func(d *kvpb.RangeDescriptor)) *kvpb.RangeDescriptor {
		d := proto.Clone(base).(*kvpb.RangeDescriptor)
		f(d)
		return d
	}
	for _, tc := range []struct {
		name   string
		old, d *kvpb.RangeDescriptor
		want   bool
	}{
		{"equal", base, with(func(*kvpb.RangeDescriptor) {}), false},
		{"old is an older generation", with(func(d *kvpb.RangeDescriptor) { d.Generation = 4 }), base, true},
		{"old is a newer generation", with(func(d *kvpb.RangeDescriptor) { d.Generation = 6 }), base, false},
		{"old is a much newer generation", with(func(d *kvpb.RangeDescriptor) { d.Generation = 100; d.Replicas = nil }), base, false},
		{"same generation, other replicas", with(func(d *kvpb.RangeDescriptor) { d.Replicas = d.Replicas[:1] }), base, true},
		{"same generation, other start key", with(func(d *kvpb.RangeDescriptor) { d.StartKey = []byte("a") }), base, true},
		{"other range, older generation", with(func(d *kvpb.RangeDescriptor) { d.RangeId = 2; d.Generation = 1 }), base, true},
		{"other range, newer generation", with(func(d *kvpb.RangeDescriptor) { d.RangeId = 2; d.Generation = 9 }), base, true},
		{"other range, same everything else", with(func(d *kvpb.RangeDescriptor) { d.RangeId = 2 }), base, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := meta.ShouldReplace(tc.old, tc.d); got != tc.want {
				t.Fatalf("ShouldReplace(%v, %v) = %v, want %v", tc.old, tc.d, got, tc.want)
			}
		})
	}
}
