package workload

import (
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// draw counts how often each key of [0, n) comes out of g in draws.
func draw(t *testing.T, g keyGen, n int64, draws int) []int {
	t.Helper()
	counts := make([]int, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for range draws {
		k := g.next(rng)
		if k < 0 || k >= n {
			t.Fatalf("key %d outside [0, %d)", k, n)
		}
		counts[k]++
	}
	return counts
}

// TestZipfianSkew: key 0 comes out about 1/ζ(n, θ) of the time (13% for
// a thousand keys), key 1 about 1/2^θ of that, and popularity falls with
// the key; uniform keys have no favourite.
func TestZipfianSkew(t *testing.T) {
	const n, draws = 1000, 200_000
	z, err := newKeyGen(Zipfian, n)
	if err != nil {
		t.Fatal(err)
	}
	counts := draw(t, z, n, draws)
	p0 := 1 / zeta(n, zipfTheta)
	share0 := float64(counts[0]) / draws
	if share0 < 0.9*p0 || share0 > 1.1*p0 || p0 < 0.1 {
		t.Errorf("key 0: %.4f of the draws, want %.4f", share0, p0)
	}
	if ratio := float64(counts[1]) / float64(counts[0]); ratio < 0.45 || ratio > 0.55 {
		t.Errorf("key 1 / key 0 = %.3f, want about 0.5", ratio)
	}
	if !(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[100]) {
		t.Errorf("counts of keys 0, 1, 10, 100: %d %d %d %d", counts[0], counts[1], counts[10], counts[100])
	}
	var top10 int
	for _, c := range counts[:10] {
		top10 += c
	}
	if share := float64(top10) / draws; share < 0.3 {
		t.Errorf("the top 10 keys of %d have %.2f of the draws", n, share)
	}

	u, err := newKeyGen(Uniform, n)
	if err != nil {
		t.Fatal(err)
	}
	counts = draw(t, u, n, draws)
	if top := slices.Max(counts); float64(top)/draws > 0.002 {
		t.Errorf("uniform: the most drawn key has %d of %d draws", top, draws)
	}
	if _, err := newKeyGen("gaussian", n); err == nil {
		t.Error("unknown distribution accepted")
	}
}

// TestZipfianSmall: one and two keys work.
func TestZipfianSmall(t *testing.T) {
	if c := draw(t, newZipfian(1, zipfTheta), 1, 1000); c[0] != 1000 {
		t.Errorf("one key: %v", c)
	}
	if c := draw(t, newZipfian(2, zipfTheta), 2, 10000); c[0] < c[1] || c[1] < 3000 {
		t.Errorf("two keys: %v", c)
	}
}

// TestKeysReproducible: the same seed draws the same keys.
func TestKeysReproducible(t *testing.T) {
	z := newZipfian(10_000, zipfTheta)
	seq := func(seed uint64) []int64 {
		rng := newRand(seed, 3)
		var ks []int64
		for range 50 {
			ks = append(ks, z.next(rng))
		}
		return ks
	}
	if a, b := seq(7), seq(7); !slices.Equal(a, b) {
		t.Errorf("seed 7: %v then %v", a, b)
	}
	if a, b := seq(7), seq(8); slices.Equal(a, b) {
		t.Errorf("seeds 7 and 8 drew the same keys %v", a)
	}
}

// TestBatchKeys: a write's keys are distinct and ascending, even when the
// batch is every key.
func TestBatchKeys(t *testing.T) {
	kv, err := NewKV(KVOptions{DSN: "x", Keys: 16, Batch: 16, Distribution: Zipfian})
	if err != nil {
		t.Fatal(err)
	}
	w := &kvWorker{kv: kv, seen: map[int64]bool{}}
	rng := newRand(1, 0)
	for range 100 {
		keys := w.batchKeys(rng)
		if len(keys) != 16 || !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != 16 {
			t.Fatalf("keys %v", keys)
		}
	}
	const want = "INSERT INTO kv (k, v) VALUES ($1, $2), ($3, $4) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
	if got := upsertSQL(2); got != want {
		t.Errorf("upsert:\n got %s\nwant %s", got, want)
	}
}

func TestKVOptions(t *testing.T) {
	_, err := NewKV(KVOptions{ReadPercent: 101, Keys: 4, Batch: 5, Distribution: "normal"})
	for _, want := range []string{"connection string", "read percent", "batch 5", "distribution"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if _, err := NewTPCB(PgbenchOptions{DSN: "x", Scale: -1}); err == nil {
		t.Error("scale -1 accepted")
	}
}

// TestRowReader: COPY's text is the rows in order, whatever the reads'
// sizes.
func TestRowReader(t *testing.T) {
	r := &rowReader{n: 3, row: func(b []byte, i int64) []byte {
		return append(b, strings.Repeat(string(rune('a'+i)), int(i)+1)+"\n"...)
	}}
	var got []byte
	buf := make([]byte, 2)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil || n == 0 {
			t.Fatalf("read: %d, %v", n, err)
		}
	}
	if string(got) != "a\nbb\nccc\n" {
		t.Errorf("got %q", got)
	}
}
