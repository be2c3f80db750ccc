package testcluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// maxKeptLines bounds the log lines kept in memory.
const maxKeptLines = 20000

// logBuffer keeps the last maxKeptLines log lines of every node and, when
// SHARD_TEST_LOG is set, copies them to stderr. slog's text handler writes
// one record per Write call.
type logBuffer struct {
	echoLevel slog.Level
	echo      io.Writer // nil: keep only

	mu struct {
		sync.Mutex
		lines   []string // ring of maxKeptLines
		next    int
		wrapped bool
	}
}

func newLogBuffer() *logBuffer {
	b := &logBuffer{}
	if v := os.Getenv("SHARD_TEST_LOG"); v != "" {
		var lv slog.Level
		if err := lv.UnmarshalText([]byte(v)); err == nil {
			b.echoLevel, b.echo = lv, os.Stderr
		}
	}
	return b
}

func (b *logBuffer) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	b.mu.Lock()
	if len(b.mu.lines) < maxKeptLines {
		b.mu.lines = append(b.mu.lines, line)
	} else {
		b.mu.lines[b.mu.next] = line
		b.mu.next = (b.mu.next + 1) % maxKeptLines
		b.mu.wrapped = true
	}
	b.mu.Unlock()
	return len(p), nil
}

// tail returns the last n lines kept (n <= 0: all), oldest first.
func (b *logBuffer) tail(n int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	all := append(append([]string(nil), b.mu.lines[b.mu.next:]...), b.mu.lines[:b.mu.next]...)
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// logger returns node i's logger: Info and above into the buffer, and the
// echo level to stderr.
func (b *logBuffer) logger(i int) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})
	if b.echo != nil {
		h = teeHandler{h, slog.NewTextHandler(b.echo, &slog.HandlerOptions{Level: b.echoLevel})}
	}
	return slog.New(h).With("n", i)
}

// dump prints the tail of the logs into the test's output.
func (b *logBuffer) dump(tb testing.TB) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("SHARD_TEST_LOG_LINES")); err == nil {
		n = v
	}
	lines := b.tail(n)
	tb.Logf("last %d log lines of the cluster (SHARD_TEST_LOG_LINES to change):\n%s", len(lines), strings.Join(lines, "\n"))
}

// teeHandler sends each record to two handlers, each with its own level.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if t.a.Enabled(ctx, r.Level) {
		err = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		if e := t.b.Handle(ctx, r); err == nil {
			err = e
		}
	}
	return err
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{t.a.WithGroup(name), t.b.WithGroup(name)}
}
