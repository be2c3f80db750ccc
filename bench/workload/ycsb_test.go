package workload

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestYCSBMix: many draws of each core workload come out in YCSB's
// proportions (workloads/workload[a-f]), within a percentage point.
func TestYCSBMix(t *testing.T) {
	want := map[string]map[string]float64{
		"A": {opRead: 0.50, opUpdate: 0.50},
		"B": {opRead: 0.95, opUpdate: 0.05},
		"C": {opRead: 1},
		"D": {opRead: 0.95, opInsert: 0.05},
		"E": {opScan: 0.95, opInsert: 0.05},
		"F": {opRead: 0.50, opRMW: 0.50},
	}
	const draws = 100_000
	for letter, mix := range ycsbMixes {
		if sum := mix.read + mix.update + mix.insert + mix.scan + mix.rmw; sum != 100 {
			t.Errorf("%s: percentages add up to %d", letter, sum)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		got := map[string]float64{}
		for range draws {
			got[mix.choose(rng)] += 1.0 / draws
		}
		for op, share := range got {
			if math.Abs(share-want[letter][op]) > 0.01 {
				t.Errorf("%s: %s %.4f of the draws, want %.2f", letter, op, share, want[letter][op])
			}
		}
		for op := range want[letter] {
			if got[op] == 0 {
				t.Errorf("%s: no %s", letter, op)
			}
		}
	}
	if len(ycsbMixes) != len(want) {
		t.Errorf("%d workloads, want %d", len(ycsbMixes), len(want))
	}
}

// TestZipfianSetN: a zipfian moved to n draws as one made for n: growing
// adds ζ's new terms (equal to a few ulps), shrinking computes it again.
func TestZipfianSetN(t *testing.T) {
	z := newZipfian(1000, zipfTheta)
	for n := int64(1000); n <= 5000; n += 37 {
		z.setN(n)
	}
	z.setN(5000)
	fresh := newZipfian(5000, zipfTheta)
	if math.Abs(z.zetaN-fresh.zetaN) > 1e-12*fresh.zetaN || math.Abs(z.eta-fresh.eta) > 1e-12 {
		t.Errorf("grown to 5000: ζ %v η %v; made for 5000: ζ %v η %v", z.zetaN, z.eta, fresh.zetaN, fresh.eta)
	}
	a, b := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		if x, y := z.next(a), fresh.next(b); x != y {
			t.Fatalf("grown draws %d, made draws %d", x, y)
		}
	}
	z.setN(10)
	if small := newZipfian(10, zipfTheta); *z != *small {
		t.Errorf("shrunk to 10: %+v, made for 10: %+v", *z, *small)
	}
	counts := draw(t, z, 10, 10_000)
	if counts[0] < counts[1] || counts[1] < counts[9] {
		t.Errorf("shrunk to 10: %v", counts)
	}
}

// TestLatestSkew: Latest favours the keys inserted last, as zipfian
// favours key 0, and follows the key space as it grows; Zipfian and
// Uniform draw within it.
func TestLatestSkew(t *testing.T) {
	const n, draws = 1000, 200_000
	g := newGrowingKeys(Latest, newZipfian(n, zipfTheta))
	rng := rand.New(rand.NewPCG(5, 6))
	counts := make([]int, 2*n)
	for range draws {
		counts[g.next(rng, n)]++
	}
	p := 1 / zeta(n, zipfTheta)
	if share := float64(counts[n-1]) / draws; share < 0.9*p || share > 1.1*p {
		t.Errorf("latest key: %.4f of the draws, want %.4f", share, p)
	}
	if !(counts[n-1] > counts[n-2] && counts[n-2] > counts[n-11] && counts[n-11] > counts[n-101]) {
		t.Errorf("counts of the 1st, 2nd, 11th, 101st latest keys: %d %d %d %d",
			counts[n-1], counts[n-2], counts[n-11], counts[n-101])
	}
	var newest, oldest int
	for k := range n / 10 {
		oldest += counts[k]
		newest += counts[n-1-k]
	}
	if newest < 5*oldest {
		t.Errorf("the newest tenth of the keys has %d draws, the oldest %d", newest, oldest)
	}

	// After n more inserts, the new latest key is the hottest.
	clear(counts)
	for range draws {
		k := g.next(rng, 2*n)
		if k < 0 || k >= 2*n {
			t.Fatalf("key %d outside [0, %d)", k, 2*n)
		}
		counts[k]++
	}
	if counts[2*n-1] < counts[n-1]*5 || counts[2*n-1] < counts[2*n-2] {
		t.Errorf("after growing: latest %d, 2nd latest %d, old latest %d", counts[2*n-1], counts[2*n-2], counts[n-1])
	}

	for _, dist := range []string{Zipfian, Uniform} {
		var z *zipfian
		if dist == Zipfian {
			z = newZipfian(10, zipfTheta)
		}
		g := newGrowingKeys(dist, z)
		seen := map[int64]bool{}
		for i := range 10_000 {
			n := int64(10 + i/100)
			k := g.next(rng, n)
			if k < 0 || k >= n {
				t.Fatalf("%s: key %d outside [0, %d)", dist, k, n)
			}
			seen[k] = true
		}
		if len(seen) < 50 {
			t.Errorf("%s: %d distinct keys of 109", dist, len(seen))
		}
	}
}

// ycsbForTest is a workload that is never set up, for drawing operations.
func ycsbForTest(t *testing.T, opts YCSBOptions) *YCSB {
	t.Helper()
	opts.DSN = "x"
	y, err := NewYCSB(opts)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// TestYCSBDraw: workload D's inserts take the keys after the loaded ones,
// in order, and reads stay below a key being inserted; E's scans ask for
// 1 to MaxScanLength rows; updates choose a field.
func TestYCSBDraw(t *testing.T) {
	y := ycsbForTest(t, YCSBOptions{Workload: "d", RecordCount: 100})
	if y.opts.Distribution != Latest {
		t.Errorf("D's distribution %q", y.opts.Distribution)
	}
	w0, w1 := y.newWorker(nil, 0), y.newWorker(nil, 1)
	rng := newRand(1, 0)
	op := w0.draw(rng)
	for op.name != opInsert {
		op = w0.draw(rng)
	}
	if op.key != 100 {
		t.Fatalf("first insert's key %d", op.key)
	}
	// w0's insert of 100 is in flight: w1's reads stay below it.
	var inserts int64
	for range 2000 {
		op := w1.draw(rng)
		switch op.name {
		case opInsert:
			inserts++
			if op.key != 100+inserts {
				t.Fatalf("insert %d: key %d", inserts, op.key)
			}
			y.inserts.release(w1.held)
		case opRead:
			if op.key >= 100 {
				t.Fatalf("read of key %d while key 100 is being inserted", op.key)
			}
		default:
			t.Fatalf("D drew %+v", op)
		}
	}
	y.inserts.release(w0.held)
	if n := y.inserts.known(); n != 101+inserts {
		t.Fatalf("%d keys known after %d inserts", n, 1+inserts)
	}
	var recent int
	for range 1000 {
		if op := w1.draw(rng); op.name == opRead && op.key >= 100 {
			recent++
		}
	}
	if recent < 500 {
		t.Errorf("%d reads of 1000 draws read inserted keys", recent)
	}

	e := ycsbForTest(t, YCSBOptions{Workload: "E", RecordCount: 1000}).newWorker(nil, 0)
	rows := map[int64]bool{}
	for range 10_000 {
		op := e.draw(rng)
		if op.name == opScan {
			if op.rows < 1 || op.rows > 100 {
				t.Fatalf("scan of %d rows", op.rows)
			}
			rows[op.rows] = true
		}
		e.y.inserts.release(e.held)
	}
	if len(rows) != 100 {
		t.Errorf("scans of %d different lengths, want 100", len(rows))
	}

	a := ycsbForTest(t, YCSBOptions{Workload: "A", FieldCount: 3, RecordCount: 50}).newWorker(nil, 0)
	fields := map[int]bool{}
	for range 1000 {
		op := a.draw(rng)
		if op.key < 0 || op.key >= 50 {
			t.Fatalf("%+v", op)
		}
		if op.name == opUpdate {
			fields[op.field] = true
		}
	}
	if len(fields) != 3 {
		t.Errorf("updated fields %v of 3", fields)
	}
}

// TestInsertKeys: workers that insert concurrently take distinct keys,
// and every key below known has been inserted (run it with -race).
func TestInsertKeys(t *testing.T) {
	const loaded, workers, rounds = 10, 4, 20_000
	var k insertKeys
	k.next.Store(loaded)
	inserted := make([]atomic.Bool, loaded+workers*rounds)
	for i := range loaded {
		inserted[i].Store(true)
	}
	held := make([]*heldKey, workers)
	for id := range held {
		held[id] = k.slot(id)
	}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for id := range workers {
		wg.Go(func() {
			rng := newRand(7, id)
			for range rounds {
				if rng.IntN(2) == 0 {
					key := k.take(held[id])
					if inserted[key].Swap(true) {
						bad.Store(key) // taken twice
					}
					k.release(held[id])
					continue
				}
				n := k.known()
				if !inserted[n-1].Load() || !inserted[rng.Int64N(n)].Load() {
					bad.Store(n)
				}
			}
		})
	}
	wg.Wait()
	if b := bad.Load(); b != 0 {
		t.Errorf("a key taken twice or a known key not inserted: %d", b)
	}
	if n := k.known(); n != k.next.Load() || !inserted[n-1].Load() || n > int64(len(inserted)) {
		t.Errorf("%d keys known, next %d", n, k.next.Load())
	}
}

func TestYCSBOptions(t *testing.T) {
	_, err := NewYCSB(YCSBOptions{Workload: "G", RecordCount: -1, FieldCount: -2, FieldLength: -3,
		Distribution: "normal", MaxScanLength: -4})
	for _, want := range []string{"connection string", `workload "G"`, "-1 records", "-2 fields",
		"field length -3", "distribution", "max scan length -4"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	y := ycsbForTest(t, YCSBOptions{})
	want := YCSBOptions{DSN: "x", Workload: "B", RecordCount: 100_000, FieldCount: 10, FieldLength: 100,
		Distribution: Zipfian, MaxScanLength: 100}
	if y.opts != want {
		t.Errorf("defaults %+v, want %+v", y.opts, want)
	}
	if y := ycsbForTest(t, YCSBOptions{Workload: "c", Distribution: Uniform}); y.opts.Workload != "C" || y.zipf != nil {
		t.Errorf("c, uniform: %+v", y.opts)
	}
}

func TestYCSBSQL(t *testing.T) {
	s := newYCSBSQL(2)
	for _, c := range []struct{ got, want string }{
		{s.create, "CREATE TABLE usertable (ycsb_key bigint PRIMARY KEY, field0 text, field1 text)"},
		{s.copy, "COPY usertable (ycsb_key, field0, field1) FROM STDIN"},
		{s.read, "SELECT field0, field1 FROM usertable WHERE ycsb_key = $1"},
		{s.scan, "SELECT field0, field1 FROM usertable WHERE ycsb_key >= $1 ORDER BY ycsb_key LIMIT $2"},
		{s.insert, "INSERT INTO usertable (ycsb_key, field0, field1) VALUES ($1, $2, $3)"},
		{s.update[1], "UPDATE usertable SET field1 = $2 WHERE ycsb_key = $1"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	rng := newRand(1, 0)
	for _, n := range []int{1, 10, 100, 101} {
		b := appendText([]byte("x"), rng, n)
		if len(b) != n+1 || strings.Trim(string(b[1:]), textChars) != "" {
			t.Errorf("%d characters: %q", n, b)
		}
	}
}
