package engine

import (
	"io"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger discards everything below Warn so test output stays readable.
func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testOptions(fs vfs.FS, dir string) Options {
	return Options{
		Dir:          dir,
		FS:           fs,
		CacheSize:    8 << 20,
		MemTableSize: 1 << 20,
		Logger:       testLogger(),
	}
}

// openTestEngine opens an engine on a fresh in-memory filesystem and closes
// it when the test ends.
func openTestEngine(t testing.TB) *Engine {
	t.Helper()
	return openTestEngineOn(t, vfs.NewMem(), "/db")
}

func openTestEngineOn(t testing.TB, fs vfs.FS, dir string) *Engine {
	t.Helper()
	e, err := Open(testOptions(fs, dir))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil && err != ErrClosed {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// rawEntry is one stored entry: engine-encoded key and stored value.
type rawEntry struct{ key, value string }

// dumpRaw returns every stored entry of the user keys in [start, end)
// (nil end: to the end), straight from pebble.
func dumpRaw(t testing.TB, e *Engine, start, end []byte) []rawEntry {
	t.Helper()
	it, err := newSpanIter(e.db, start, end)
	if err != nil {
		t.Fatal(err)
	}
	var out []rawEntry
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rawEntry{string(it.Key()), string(v)})
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func commit(t testing.TB, e *Engine, sync bool, fn func(b *Batch) error) {
	t.Helper()
	b := e.NewBatch()
	if err := fn(b); err != nil {
		b.Close()
		t.Fatal(err)
	}
	if err := b.Commit(sync); err != nil {
		t.Fatal(err)
	}
}

func equalRaw(a, b []rawEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
