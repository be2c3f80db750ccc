package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// fillSpanSource writes unversioned keys and MVCC histories (with
// tombstones) for keys a..z.
func fillSpanSource(t *testing.T, e *Engine, tag string) {
	t.Helper()
	commit(t, e, false, func(b *Batch) error {
		for c := 'a'; c <= 'z'; c++ {
			for i := range 30 {
				k := fmt.Appendf(nil, "%c%03d", c, i)
				for ts := Timestamp(1); ts <= 4; ts++ {
					if err := b.PutMVCC(k, ts*10, fmt.Appendf(nil, "%s-%s@%d", tag, k, ts*10)); err != nil {
						return err
					}
				}
				if i%5 == 0 {
					if err := b.DeleteMVCC(k, 45); err != nil {
						return err
					}
				}
				if i%7 == 0 {
					if err := b.Put(k, fmt.Appendf(nil, "%s-raw", tag)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func exportSpan(t *testing.T, e *Engine, start, end string) []byte {
	t.Helper()
	snap := e.NewSnapshot()
	defer snap.Close()
	var buf bytes.Buffer
	n, err := snap.ExportSpan([]byte(start), []byte(end), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("ExportSpan reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestExportIngest(t *testing.T) {
	for _, tableSize := range []uint64{ingestTableSize, 4 << 10} {
		t.Run(fmt.Sprintf("tableSize=%d", tableSize), func(t *testing.T) {
			src, dst := openTestEngine(t), openTestEngine(t)
			dst.ingest.tableSize = tableSize
			fillSpanSource(t, src, "src")
			fillSpanSource(t, dst, "stale")
			// Stale keys in the span that the source does not have, on disk
			// and in the memtable.
			commit(t, dst, false, func(b *Batch) error {
				return errors.Join(b.Put([]byte("g-only-in-dst"), []byte("x")), b.PutMVCC([]byte("h-only"), 99, []byte("x")))
			})
			if err := dst.Flush(); err != nil {
				t.Fatal(err)
			}
			commit(t, dst, false, func(b *Batch) error { return b.PutMVCC([]byte("k-memtable"), 7, []byte("x")) })

			const start, end = "f", "m"
			stream := exportSpan(t, src, start, end)
			outsideBefore := append(dumpRaw(t, dst, nil, []byte(start)), dumpRaw(t, dst, []byte(end), nil)...)
			if err := dst.IngestSpan([]byte(start), []byte(end), bytes.NewReader(stream)); err != nil {
				t.Fatal(err)
			}
			want := dumpRaw(t, src, []byte(start), []byte(end))
			if got := dumpRaw(t, dst, []byte(start), []byte(end)); !equalRaw(got, want) {
				t.Fatalf("span after ingest has %d entries, source has %d", len(got), len(want))
			}
			outsideAfter := append(dumpRaw(t, dst, nil, []byte(start)), dumpRaw(t, dst, []byte(end), nil)...)
			if !equalRaw(outsideAfter, outsideBefore) {
				t.Fatal("ingest changed keys outside the span")
			}
			// MVCC reads through the public API agree too.
			for _, ts := range []Timestamp{15, 45, MaxTimestamp} {
				a := collectMVCC(t, src, start, end, ts, 0, false)
				b := collectMVCC(t, dst, start, end, ts, 0, false)
				if !slices.Equal(a, b) || len(a) == 0 {
					t.Fatalf("@%d: %d rows in source, %d in target", ts, len(a), len(b))
				}
			}
			if n, _ := dst.fs.List(dst.fs.PathJoin(dst.dir, ingestTmpDir)); len(n) != 0 {
				t.Fatalf("temporary files left: %v", n)
			}
			if m := dst.Metrics(); m.Ingests != 1 {
				t.Fatalf("Ingests = %d", m.Ingests)
			}
		})
	}
}

func TestIngestEmptySpanClears(t *testing.T) {
	src, dst := openTestEngine(t), openTestEngine(t)
	fillSpanSource(t, dst, "stale")
	stream := exportSpan(t, src, "c", "e")
	if err := dst.IngestSpan([]byte("c"), []byte("e"), bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if got := dumpRaw(t, dst, []byte("c"), []byte("e")); len(got) != 0 {
		t.Fatalf("%d entries left in an emptied span", len(got))
	}
	if got := dumpRaw(t, dst, []byte("e"), []byte("f")); len(got) == 0 {
		t.Fatal("neighbouring span was cleared")
	}
}

// TestIngestRejectsDamagedStreams truncates and corrupts a stream in many
// places; every attempt must fail and leave the target exactly as it was.
func TestIngestRejectsDamagedStreams(t *testing.T) {
	src, dst := openTestEngine(t), openTestEngine(t)
	dst.ingest.tableSize = 4 << 10
	fillSpanSource(t, src, "src")
	fillSpanSource(t, dst, "stale")
	stream := exportSpan(t, src, "b", "y")
	before := dumpRaw(t, dst, nil, nil)
	rng := rand.New(rand.NewPCG(21, 22))
	try := func(what string, damaged []byte, want error) {
		t.Helper()
		err := dst.IngestSpan([]byte("b"), []byte("y"), bytes.NewReader(damaged))
		if !errors.Is(err, want) {
			t.Fatalf("%s: IngestSpan = %v, want %v", what, err, want)
		}
	}
	cuts := []int{0, 1, 7, 8, 9, 16, len(stream) - 1, len(stream) - 5}
	for range 40 {
		cuts = append(cuts, rng.IntN(len(stream)))
	}
	for _, n := range cuts {
		try(fmt.Sprintf("truncated at %d/%d", n, len(stream)), stream[:n], ErrCorrupt)
	}
	for range 60 {
		damaged := slices.Clone(stream)
		pos := rng.IntN(len(damaged))
		damaged[pos] ^= byte(1 << rng.IntN(8))
		try(fmt.Sprintf("bit flip at %d", pos), damaged, ErrCorrupt)
	}
	// A well-formed stream for another span.
	try("other span", exportSpan(t, src, "b", "x"), ErrInvalidSpan)
	if after := dumpRaw(t, dst, nil, nil); !equalRaw(after, before) {
		t.Fatal("a rejected ingest changed the target")
	}
	if n, _ := dst.fs.List(dst.fs.PathJoin(dst.dir, ingestTmpDir)); len(n) != 0 {
		t.Fatalf("temporary files left: %v", n)
	}
	if err := dst.IngestSpan([]byte("b"), []byte("y"), bytes.NewReader(stream)); err != nil {
		t.Fatalf("the intact stream after all that: %v", err)
	}
}

// TestIngestStreamValidation builds well-checksummed streams whose content
// is wrong: entries out of order or outside the span.
func TestIngestStreamValidation(t *testing.T) {
	e := openTestEngine(t)
	build := func(keys ...[]byte) []byte {
		var buf bytes.Buffer
		sw, err := newSpanWriter(&buf, []byte("b"), []byte("d"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := sw.add(k, []byte{tagValue, 'v'}); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.finish(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for name, stream := range map[string][]byte{
		"before span":  build(EncodeKey(nil, []byte("a"), 1)),
		"after span":   build(EncodeKey(nil, []byte("d"), 1)),
		"out of order": build(EncodeKey(nil, []byte("b"), 1), EncodeKey(nil, []byte("b"), 2)),
		"duplicate":    build(EncodeKey(nil, []byte("c"), 0), EncodeKey(nil, []byte("c"), 0)),
		"malformed":    build([]byte("c")),
	} {
		if err := e.IngestSpan([]byte("b"), []byte("d"), bytes.NewReader(stream)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if got := dumpRaw(t, e, nil, nil); len(got) != 0 {
		t.Fatalf("rejected streams left %d entries", len(got))
	}
}

// TestIngestIsAtomicForReaders scans the span in a loop while it is
// replaced: each scan sees the old contents or the new, never a mix.
func TestIngestIsAtomicForReaders(t *testing.T) {
	src, dst := openTestEngine(t), openTestEngine(t)
	dst.ingest.tableSize = 4 << 10
	fillSpanSource(t, src, "new")
	fillSpanSource(t, dst, "old")
	if err := dst.Flush(); err != nil {
		t.Fatal(err)
	}
	oldRows := collectMVCC(t, dst, "b", "y", MaxTimestamp, 0, false)
	newRows := collectMVCC(t, src, "b", "y", MaxTimestamp, 0, false)
	stream := exportSpan(t, src, "b", "y")
	// The reader runs until it sees the new contents, which it must once
	// IngestSpan has returned.
	var wg sync.WaitGroup
	scans := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var rows []mvccRow
			err := dst.ScanMVCC([]byte("b"), []byte("y"), MaxTimestamp, 0, func(k []byte, ts Timestamp, v []byte) error {
				rows = append(rows, mvccRow{string(k), ts, string(v)})
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			scans++
			switch {
			case slices.Equal(rows, newRows):
				return
			case slices.Equal(rows, oldRows):
			default:
				t.Errorf("scan saw a mix of old and new (%d rows)", len(rows))
				return
			}
		}
	}()
	if err := dst.IngestSpan([]byte("b"), []byte("y"), bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("%d concurrent scans", scans)
}

func TestApproximateSpanStats(t *testing.T) {
	e := openTestEngine(t)
	fillSpanSource(t, e, "x")
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	full, err := e.ApproximateSpanStats([]byte("a"), []byte("{"))
	if err != nil || full == 0 {
		t.Fatalf("full span: %d, %v", full, err)
	}
	empty, err := e.ApproximateSpanStats([]byte("0"), []byte("1"))
	if err != nil || empty >= full {
		t.Fatalf("empty span: %d (full %d), %v", empty, full, err)
	}
	if _, err := e.ApproximateSpanStats([]byte("b"), []byte("a")); !errors.Is(err, ErrInvalidSpan) {
		t.Fatalf("inverted span: %v", err)
	}
}

// TestIngestWriteFailure fails the writes of the temporary sstables: the
// ingest returns the error, the target is unchanged and the temporary
// files are gone.
func TestIngestWriteFailure(t *testing.T) {
	var failing atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && strings.Contains(op.Path, ingestTmpDir) &&
			(op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileSync) {
			return errorfs.ErrInjected
		}
		return nil
	})
	src := openTestEngine(t)
	dst := openTestEngineOn(t, errorfs.Wrap(vfs.NewMem(), inj), "/db")
	fillSpanSource(t, src, "src")
	fillSpanSource(t, dst, "stale")
	stream := exportSpan(t, src, "b", "y")
	before := dumpRaw(t, dst, nil, nil)
	failing.Store(true)
	if err := dst.IngestSpan([]byte("b"), []byte("y"), bytes.NewReader(stream)); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("IngestSpan with failing writes: %v", err)
	}
	failing.Store(false)
	if after := dumpRaw(t, dst, nil, nil); !equalRaw(after, before) {
		t.Fatal("a failed ingest changed the target")
	}
	if n, _ := dst.fs.List(dst.fs.PathJoin(dst.dir, ingestTmpDir)); len(n) != 0 {
		t.Fatalf("temporary files left: %v", n)
	}
	if err := dst.IngestSpan([]byte("b"), []byte("y"), bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
}

// TestIngestSpanWithPuts: unversioned keys outside the span are set by the
// same ingest, on either side of it; a put inside the span, or a damaged
// stream, changes nothing.
func TestIngestSpanWithPuts(t *testing.T) {
	src, dst := openTestEngine(t), openTestEngine(t)
	fillSpanSource(t, src, "src")
	fillSpanSource(t, dst, "stale")
	commit(t, dst, false, func(b *Batch) error { return b.Put([]byte("a-state"), []byte("old")) })
	stream := exportSpan(t, src, "c", "e")
	before := dumpRaw(t, dst, nil, nil)
	inside := []KeyValue{{Key: []byte("a-state"), Value: []byte("new")}, {Key: []byte("d-state"), Value: []byte("x")}}
	if err := dst.IngestSpan([]byte("c"), []byte("e"), bytes.NewReader(stream), inside...); !errors.Is(err, ErrInvalidSpan) {
		t.Fatalf("a put inside the span: %v", err)
	}
	damaged := stream[:len(stream)-3]
	puts := []KeyValue{{Key: []byte("z-state"), Value: []byte("after")}, {Key: []byte("a-state"), Value: []byte("new")}}
	if err := dst.IngestSpan([]byte("c"), []byte("e"), bytes.NewReader(damaged), puts...); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a damaged stream: %v", err)
	}
	if after := dumpRaw(t, dst, nil, nil); !equalRaw(after, before) {
		t.Fatal("a rejected ingest changed the target")
	}
	if err := dst.IngestSpan([]byte("c"), []byte("e"), bytes.NewReader(stream), puts...); err != nil {
		t.Fatal(err)
	}
	for _, p := range puts {
		if v, err := dst.Get(p.Key); err != nil || string(v) != string(p.Value) {
			t.Fatalf("%s = %q (%v), want %q", p.Key, v, err, p.Value)
		}
	}
	if !equalRaw(dumpRaw(t, dst, []byte("c"), []byte("e")), dumpRaw(t, src, []byte("c"), []byte("e"))) {
		t.Fatal("the span is not the source's")
	}
}
