package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

type version struct {
	ts    Timestamp
	value []byte // nil: tombstone
}

// mvccModel is the naive oracle: every version of every key.
type mvccModel map[string][]version

func (m mvccModel) put(k string, ts Timestamp, v []byte) {
	vs := slices.DeleteFunc(m[k], func(x version) bool { return x.ts == ts })
	m[k] = append(vs, version{ts, v})
}

// read returns the newest version <= ts, ok=false if none or a tombstone.
func (m mvccModel) read(k string, ts Timestamp) (version, bool) {
	var best version
	for _, v := range m[k] {
		if v.ts <= ts && v.ts > best.ts {
			best = v
		}
	}
	return best, best.ts != 0 && best.value != nil
}

type mvccRow struct {
	key   string
	ts    Timestamp
	value string
}

func (m mvccModel) scan(start, end string, ts Timestamp, limit int, reverse bool) []mvccRow {
	var keys []string
	for k := range m {
		if k >= start && k < end {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if reverse {
		slices.Reverse(keys)
	}
	var out []mvccRow
	for _, k := range keys {
		if v, ok := m.read(k, ts); ok {
			out = append(out, mvccRow{k, v.ts, string(v.value)})
			if limit > 0 && len(out) == limit {
				break
			}
		}
	}
	return out
}

func collectMVCC(t *testing.T, r Reader, start, end string, ts Timestamp, limit int, reverse bool) []mvccRow {
	t.Helper()
	var out []mvccRow
	fn := func(k []byte, vts Timestamp, v []byte) error {
		out = append(out, mvccRow{string(k), vts, string(v)})
		return nil
	}
	scan := r.ScanMVCC
	if reverse {
		scan = r.ScanMVCCReverse
	}
	if err := scan([]byte(start), []byte(end), ts, limit, fn); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMVCCVersions(t *testing.T) {
	e := openTestEngine(t)
	k := []byte("k")
	commit(t, e, true, func(b *Batch) error {
		return errors.Join(
			b.PutMVCC(k, 10, []byte("v10")),
			b.PutMVCC(k, 20, []byte("v20")),
			b.DeleteMVCC(k, 25),
			b.PutMVCC(k, 30, []byte("")),
			b.Put(k, []byte("raw")),
		)
	})
	for _, tc := range []struct {
		ts      Timestamp
		want    string
		wantTS  Timestamp
		missing bool
	}{
		{ts: 0, missing: true},
		{ts: 9, missing: true},
		{ts: 10, want: "v10", wantTS: 10},
		{ts: 19, want: "v10", wantTS: 10},
		{ts: 20, want: "v20", wantTS: 20},
		{ts: 24, want: "v20", wantTS: 20},
		{ts: 25, missing: true},
		{ts: 29, missing: true},
		{ts: 30, want: "", wantTS: 30},
		{ts: MaxTimestamp, want: "", wantTS: 30},
	} {
		v, vts, err := e.GetMVCC(k, tc.ts)
		if tc.missing {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("GetMVCC@%d = %q, %d, %v; want ErrNotFound", tc.ts, v, vts, err)
			}
			continue
		}
		if err != nil || string(v) != tc.want || vts != tc.wantTS || v == nil {
			t.Errorf("GetMVCC@%d = %q, %d, %v; want %q, %d", tc.ts, v, vts, err, tc.want, tc.wantTS)
		}
	}
	// The unversioned key lives beside the versions without disturbing them.
	if v, err := e.Get(k); err != nil || string(v) != "raw" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if _, _, err := e.GetMVCC([]byte("other"), MaxTimestamp); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetMVCC of a missing key: %v", err)
	}
}

func TestUnversionedScanSkipsVersions(t *testing.T) {
	e := openTestEngine(t)
	commit(t, e, false, func(b *Batch) error {
		for i := range 20 {
			k := fmt.Appendf(nil, "k%02d", i)
			if i%3 != 0 {
				if err := b.Put(k, fmt.Appendf(nil, "v%d", i)); err != nil {
					return err
				}
			}
			for ts := Timestamp(1); ts <= 5; ts++ {
				if err := b.PutMVCC(k, ts, []byte("version")); err != nil {
					return err
				}
			}
		}
		return b.Delete([]byte("k04"))
	})
	for _, flush := range []bool{false, true} {
		if flush {
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		err := e.Scan([]byte("k02"), []byte("k10"), func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"k02=v2", "k05=v5", "k07=v7", "k08=v8"}
		if !slices.Equal(got, want) {
			t.Fatalf("flush=%v: Scan = %v, want %v", flush, got, want)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := e.Scan(nil, nil, func(k, v []byte) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("callback error: got %v after %d calls", err, n)
	}
}

// TestScanMVCCOracle compares reads with a naive model over random
// histories, from the memtable, from sstables and from a snapshot.
func TestScanMVCCOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	e := openTestEngine(t)
	model := mvccModel{}
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("key%02d", i)
	}
	keys = append(keys, "", "key05\x00", "key05\x09")
	write := func(n int) {
		b := e.NewBatch()
		for range n {
			k := keys[rng.IntN(len(keys))]
			ts := Timestamp(1 + rng.IntN(100))
			if k == "key07" {
				ts = Timestamp(1 + rng.IntN(2000)) // one key with many versions
			}
			var err error
			if rng.IntN(5) == 0 {
				err = b.DeleteMVCC([]byte(k), ts)
				model.put(k, ts, nil)
			} else {
				v := fmt.Appendf(nil, "%s@%d#%d", k, ts, rng.IntN(1000))
				err = b.PutMVCC([]byte(k), ts, v)
				model.put(k, ts, v)
			}
			if err == nil && rng.IntN(10) == 0 {
				raw := fmt.Appendf(nil, "raw%d", rng.IntN(1000)) // unversioned noise
				if rng.IntN(3) == 0 {
					raw = []byte{}
				}
				err = b.Put([]byte(k), raw)
			}
			if err == nil && rng.IntN(20) == 0 {
				err = b.Delete([]byte(k))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
	}
	check := func(r Reader, m mvccModel, what string) {
		for range 300 {
			a, b := keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]
			if a > b {
				a, b = b, a
			}
			if rng.IntN(4) == 0 {
				a, b = "", "\xff"
			}
			ts := Timestamp(rng.IntN(2100))
			limit := rng.IntN(5) - 1
			for _, reverse := range []bool{false, true} {
				got := collectMVCC(t, r, a, b, ts, limit, reverse)
				want := m.scan(a, b, ts, limit, reverse)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: scan [%q,%q)@%d limit %d reverse=%v:\n got %v\nwant %v", what, a, b, ts, limit, reverse, got, want)
				}
			}
			k := keys[rng.IntN(len(keys))]
			v, vts, err := r.GetMVCC([]byte(k), ts)
			want, ok := m.read(k, ts)
			if ok != (err == nil) || (ok && (vts != want.ts || !bytes.Equal(v, want.value))) {
				t.Fatalf("%s: GetMVCC(%q@%d) = %q, %d, %v; want %q, %d, %v", what, k, ts, v, vts, err, want.value, want.ts, ok)
			}
			// GetKey is Get and GetMVCC in one.
			kr, err := r.GetKey([]byte(k), ts)
			if err != nil {
				t.Fatalf("%s: GetKey(%q@%d): %v", what, k, ts, err)
			}
			if kr.Found != ok || (ok && (kr.Timestamp != want.ts || !bytes.Equal(kr.Value, want.value))) {
				t.Fatalf("%s: GetKey(%q@%d) version = %q, %d, %v; want %q, %d, %v", what, k, ts, kr.Value, kr.Timestamp, kr.Found, want.value, want.ts, ok)
			}
			raw, err := r.Get([]byte(k))
			if (err == nil) != (kr.Unversioned != nil) || !bytes.Equal(raw, kr.Unversioned) {
				t.Fatalf("%s: GetKey(%q@%d) unversioned = %q; Get = %q, %v", what, k, ts, kr.Unversioned, raw, err)
			}
		}
	}
	for round := range 4 {
		write(400)
		check(e, model, fmt.Sprintf("round %d memtable", round))
		snap := e.NewSnapshot()
		frozen := mvccModel{}
		for k, vs := range model {
			frozen[k] = slices.Clone(vs)
		}
		write(200)
		check(snap, frozen, fmt.Sprintf("round %d snapshot", round))
		if err := snap.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		check(e, model, fmt.Sprintf("round %d flushed", round))
	}
}

func TestScanMVCCManyVersions(t *testing.T) {
	e := openTestEngine(t)
	commit(t, e, false, func(b *Batch) error {
		for _, k := range []string{"a", "b", "c"} {
			for ts := Timestamp(1); ts <= 5000; ts++ {
				if err := b.PutMVCC([]byte(k), ts, fmt.Appendf(nil, "%s%d", k, ts)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []Timestamp{1, 2, 7, 2500, 4999, 5000, MaxTimestamp} {
		got := collectMVCC(t, e, "a", "z", ts, 0, false)
		vts := min(ts, 5000)
		row := func(k string) mvccRow { return mvccRow{k, vts, fmt.Sprintf("%s%d", k, uint64(vts))} }
		want := []mvccRow{row("a"), row("b"), row("c")}
		if !slices.Equal(got, want) {
			t.Fatalf("@%d: %v, want %v", ts, got, want)
		}
		if got := collectMVCC(t, e, "a", "z", ts, 2, true); !slices.Equal(got, []mvccRow{want[2], want[1]}) {
			t.Fatalf("reverse @%d limit 2: %v", ts, got)
		}
	}
}

func TestClearSpan(t *testing.T) {
	e := openTestEngine(t)
	commit(t, e, false, func(b *Batch) error {
		for _, k := range []string{"a", "b", "b\x00", "c", "d"} {
			if err := errors.Join(b.Put([]byte(k), []byte("raw")), b.PutMVCC([]byte(k), 5, []byte("v")), b.DeleteMVCC([]byte(k), 7)); err != nil {
				return err
			}
		}
		return nil
	})
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	commit(t, e, true, func(b *Batch) error { return b.ClearSpan([]byte("b"), []byte("d")) })
	var left []string
	for _, r := range dumpRaw(t, e, nil, nil) {
		k, _, err := DecodeKey([]byte(r.key))
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, string(k))
	}
	want := []string{"a", "a", "a", "d", "d", "d"}
	if !slices.Equal(left, want) {
		t.Fatalf("after ClearSpan [b,d): %q, want %q", left, want)
	}
	b := e.NewBatch()
	defer b.Close()
	for _, span := range [][2]string{{"b", "b"}, {"c", "b"}} {
		if err := b.ClearSpan([]byte(span[0]), []byte(span[1])); !errors.Is(err, ErrInvalidSpan) {
			t.Errorf("ClearSpan%q: %v, want ErrInvalidSpan", span, err)
		}
	}
}

func TestBatchErrors(t *testing.T) {
	e := openTestEngine(t)
	b := e.NewBatch()
	if err := b.Put(make([]byte, MaxKeySize+1), nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Errorf("big key: %v", err)
	}
	if err := b.PutMVCC([]byte("k"), 1, make([]byte, MaxValueSize+1)); !errors.Is(err, ErrValueTooLarge) {
		t.Errorf("big value: %v", err)
	}
	if err := b.PutMVCC([]byte("k"), 0, nil); !errors.Is(err, ErrInvalidTimestamp) {
		t.Errorf("ts 0: %v", err)
	}
	if err := b.DeleteMVCC([]byte("k"), 0); !errors.Is(err, ErrInvalidTimestamp) {
		t.Errorf("ts 0 tombstone: %v", err)
	}
	if !b.Empty() {
		t.Errorf("failed writes left data in the batch")
	}
	if err := b.Put(make([]byte, MaxKeySize), make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if b.Empty() || b.Len() < MaxKeySize {
		t.Errorf("Empty=%v Len=%d after a put", b.Empty(), b.Len())
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := b.Put([]byte("k"), nil); !errors.Is(err, ErrBatchClosed) {
		t.Errorf("Put after Commit: %v", err)
	}
	if err := b.Commit(true); !errors.Is(err, ErrBatchClosed) {
		t.Errorf("second Commit: %v", err)
	}
	b.Close() // no-op
	if v, err := e.Get(make([]byte, MaxKeySize)); err != nil || len(v) != 10 {
		t.Fatalf("Get of the committed key: %d bytes, %v", len(v), err)
	}
	if _, err := e.Get([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
}

func TestClearVersionsBelow(t *testing.T) {
	e := openTestEngine(t)
	b := e.NewBatch()
	for _, k := range []string{"a", "a\x00", "b"} {
		for ts := Timestamp(1); ts <= 5; ts++ {
			if err := b.PutMVCC([]byte(k), ts*10, []byte(fmt.Sprintf("%s@%d", k, ts*10))); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Put([]byte(k), []byte("lock")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	b = e.NewBatch()
	if err := b.ClearVersionsBelow([]byte("a"), 30); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key   string
		ts    Timestamp
		found bool
	}{{"a", 50, true}, {"a", 30, true}, {"a", 29, false}, {"a", 10, false}, {"a\x00", 10, true}, {"b", 10, true}} {
		v, vts, err := e.GetMVCC([]byte(c.key), c.ts)
		if c.found != (err == nil) {
			t.Errorf("GetMVCC(%q, %d) = %q@%d, %v; want found=%v", c.key, c.ts, v, vts, err, c.found)
		}
	}
	if v, err := e.Get([]byte("a")); err != nil || string(v) != "lock" {
		t.Errorf("unversioned entry of a: %q, %v", v, err)
	}
}

// TestVersions walks a key's versions, some flushed to a table and some
// in the memtable, next to keys whose encodings share its bytes.
func TestVersions(t *testing.T) {
	e := openTestEngine(t)
	k := []byte("k")
	commit(t, e, true, func(b *Batch) error {
		return errors.Join(
			b.PutMVCC(k, 10, []byte("v10")),
			b.PutMVCC(k, 20, []byte("v20")),
			b.DeleteMVCC(k, 25),
			b.PutMVCC([]byte("j"), 35, []byte("j35")),
			b.PutMVCC([]byte("k\x00"), 5, []byte("neighbour")),
		)
	})
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	commit(t, e, true, func(b *Batch) error {
		return errors.Join(
			b.PutMVCC(k, 30, []byte("v30")),
			b.PutMVCC(k, 40, []byte("")),
			b.PutMVCC(k, 50, []byte("v50")),
			b.Put(k, []byte("unversioned")),
			b.PutMVCC([]byte("ka"), 45, []byte("ka45")),
		)
	})
	walk := func(r Reader, key []byte, ts Timestamp, limit int) string {
		t.Helper()
		var out []string
		err := r.Versions(key, ts, func(vts Timestamp, v []byte) bool {
			out = append(out, fmt.Sprintf("%d=%s", vts, v))
			return len(out) < limit
		})
		if err != nil {
			t.Fatalf("Versions(%q, %d): %v", key, ts, err)
		}
		return strings.Join(out, " ")
	}
	snap := e.NewSnapshot()
	defer snap.Close()
	for _, r := range []Reader{e, snap} {
		for _, tc := range []struct {
			key   string
			ts    Timestamp
			limit int
			want  string
		}{
			{"k", MaxTimestamp, 10, "50=v50 40= 30=v30"}, // the tombstone at 25 ends it
			{"k", 45, 10, "40= 30=v30"},
			{"k", 24, 10, "20=v20 10=v10"},
			{"k", 10, 10, "10=v10"},
			{"k", 9, 10, ""},
			{"k", 0, 10, ""},
			{"k", MaxTimestamp, 1, "50=v50"}, // fn said stop
			{"k\x00", MaxTimestamp, 10, "5=neighbour"},
			{"missing", MaxTimestamp, 10, ""},
		} {
			if got := walk(r, []byte(tc.key), tc.ts, tc.limit); got != tc.want {
				t.Errorf("%T: Versions(%q, %d) = %q, want %q", r, tc.key, tc.ts, got, tc.want)
			}
		}
	}
}
