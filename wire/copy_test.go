package wire

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

func TestCopyFrom(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	ctx := testContext(t)

	// Large enough to take many CopyData messages.
	var want []string
	var sb strings.Builder
	for i := range 20000 {
		line := strings.Repeat("x", i%50) + "|row"
		want = append(want, line)
		sb.WriteString(line + "\n")
	}
	tag, err := c.CopyFrom(ctx, strings.NewReader(sb.String()), "COPY t FROM STDIN")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "COPY 20000" || !slices.Equal(ts.b.table("t"), want) {
		t.Errorf("tag %q, %d rows", tag, len(ts.b.table("t")))
	}
	if _, err := c.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "a\nb\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestCopyFail(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	ctx := testContext(t)

	_, err := c.CopyFrom(ctx, &failingReader{}, "COPY t FROM STDIN")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || !strings.HasPrefix(pe.Message, "COPY from stdin failed: ") || !strings.Contains(pe.Message, "disk on fire") {
		t.Fatalf("want 57014 COPY from stdin failed, got %v", err)
	}
	if rows := ts.b.table("t"); len(rows) != 0 {
		t.Errorf("failed COPY stored %q", rows)
	}
	if _, err := c.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
}

// TestCopyIgnoresFlushAndSync sends Flush and Sync inside a COPY, as some
// drivers do; both are ignored and the copy completes.
func TestCopyIgnoresFlushAndSync(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(&pgproto3.Query{String: "COPY u FROM STDIN"})
	if got := raw.recv(); got != "CopyInResponse 0 [0]" {
		t.Fatalf("got %q", got)
	}
	raw.send(&pgproto3.CopyData{Data: []byte("one\n")}, &pgproto3.Flush{}, &pgproto3.Sync{},
		&pgproto3.CopyData{Data: []byte("two\n")}, &pgproto3.CopyDone{})
	want := []string{"CommandComplete COPY 2", "ReadyForQuery I"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if got := ts.b.table("u"); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("table %q", got)
	}
}

// TestCopyUnexpectedMessage aborts the COPY on a Query inside it; the
// data that follows the error is ignored.
func TestCopyUnexpectedMessage(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(&pgproto3.Query{String: "COPY u FROM STDIN"})
	raw.recv()
	raw.send(&pgproto3.CopyData{Data: []byte("one\n")}, &pgproto3.Query{String: "SELECT 1"})
	want := []string{"ErrorResponse ERROR 08P01 unexpected message type 0x51 during COPY from stdin", "ReadyForQuery I"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	raw.send(&pgproto3.CopyData{Data: []byte("late\n")}, &pgproto3.CopyDone{}, &pgproto3.Query{String: "SELECT 2"})
	want = []string{"RowDescription ?column?:20:0", `DataRow "2"`, "CommandComplete SELECT 1", "ReadyForQuery I"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Fatalf("after the failed COPY: %q", got)
	}
}

// TestCopyClientGone ends the connection in the middle of a COPY: the
// statement fails and the session is closed (checked at cleanup).
func TestCopyClientGone(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(&pgproto3.Query{String: "COPY u FROM STDIN"})
	raw.recv()
	raw.send(&pgproto3.CopyData{Data: []byte("one\n")})
	_ = raw.nc.Close()
	waitFor(t, func() bool {
		ts.b.mu.Lock()
		defer ts.b.mu.Unlock()
		return ts.b.mu.sessions[0].closed.Load() == 1
	})
	if got := ts.b.table("u"); len(got) != 0 {
		t.Errorf("table %q", got)
	}
}
