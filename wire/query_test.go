package wire

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSimpleQueryStopsAtError(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	ctx := testContext(t)

	results, err := c.Exec(ctx, "SELECT 1; SERIES 2; ERROR 22012 division by zero; SELECT 4").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PgError, got %v", err)
	}
	if pe.Code != "22012" || pe.Severity != "ERROR" || pe.Message != "division by zero" ||
		pe.Detail != "some detail" || pe.Hint != "some hint" || pe.TableName != "t" || pe.ColumnName != "c" || pe.ConstraintName != "k" {
		t.Errorf("error fields: %+v", pe)
	}
	if len(results) != 2 || string(results[0].Rows[0][0]) != "1" || results[1].CommandTag.String() != "SELECT 2" || len(results[1].Rows) != 2 {
		t.Errorf("results before the error: %+v", results)
	}
	if got := ts.b.executedStatements(); slices.Contains(got, "SELECT 4") {
		t.Errorf("statement after the error ran: %q", got)
	}
	// The connection goes on.
	if _, err := c.Exec(ctx, "SELECT 5").ReadAll(); err != nil {
		t.Fatal(err)
	}
}

func TestSimpleQuerySyntaxErrorRunsNothing(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	_, err := c.Exec(testContext(t), "INSERT x; FROB").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42601" || pe.Position != 1 {
		t.Fatalf("want 42601 at position 1, got %v", err)
	}
	if got := ts.b.executedStatements(); len(got) != 0 {
		t.Errorf("ran %q", got)
	}
}

func TestParameterStatusAfterSet(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	if _, err := c.Exec(testContext(t), "SET application_name other").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if got := c.ParameterStatus("application_name"); got != "other" {
		t.Errorf("application_name = %q after SET", got)
	}
}

func TestNotice(t *testing.T) {
	ts := startServer(t, nil)
	ctx := testContext(t)
	var notices []string
	cfg, err := pgconn.ParseConfig(ts.connString(testUser, testPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+" "+n.Message) }
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "NOTICE hello there").ReadAll(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(notices, []string{"NOTICE hello there"}) {
		t.Errorf("notices %q", notices)
	}
}

func TestExtendedWithPgx(t *testing.T) {
	ts := startServer(t, nil)
	ctx := testContext(t)
	// Every exec mode: named cached statements, cached descriptions with
	// the unnamed statement, and unnamed Parse/Describe/Bind/Execute.
	for _, mode := range []pgx.QueryExecMode{
		pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec,
	} {
		cfg, err := pgx.ParseConfig(ts.connString(testUser, testPassword, ""))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DefaultQueryExecMode = mode
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second round hits pgx's statement cache
			var a, b string
			if err := c.QueryRow(ctx, "SELECT $1, $2", "x", "y").Scan(&a, &b); err != nil || a != "x" || b != "y" {
				t.Errorf("mode %v: SELECT $1, $2 = %q %q, %v", mode, a, b, err)
			}
			rows, err := c.Query(ctx, "SERIES 3")
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for rows.Next() {
				var n int64
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				got = append(got, n)
			}
			if rows.Err() != nil || !slices.Equal(got, []int64{1, 2, 3}) {
				t.Errorf("mode %v: SERIES 3 = %v, %v", mode, got, rows.Err())
			}
			_, err = c.Exec(ctx, "ERROR 23505 duplicate key")
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "23505" {
				t.Errorf("mode %v: want 23505, got %v", mode, err)
			}
		}
		_ = c.Close(ctx)
	}
}

func TestPreparedStatements(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	ctx := testContext(t)

	sd, err := c.Prepare(ctx, "s1", "SELECT $1", []uint32{25})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sd.ParamOIDs, []uint32{25}) || len(sd.Fields) != 1 || sd.Fields[0].Name != "p1" {
		t.Errorf("description %+v", sd)
	}
	res := c.ExecPrepared(ctx, "s1", [][]byte{[]byte("hi")}, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "hi" {
		t.Errorf("ExecPrepared: %+v", res)
	}
	_, err = c.Prepare(ctx, "s1", "SELECT 2", nil)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42P05" {
		t.Errorf("duplicate statement: %v", err)
	}
	res = c.ExecPrepared(ctx, "nope", nil, nil, nil).Read()
	if !errors.As(res.Err, &pe) || pe.Code != "26000" {
		t.Errorf("unknown statement: %v", res.Err)
	}
	if err := c.Deallocate(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(ctx, "s1", "SELECT 3", nil); err != nil {
		t.Errorf("prepare after deallocate: %v", err)
	}
	// The unnamed statement.
	res = c.ExecParams(ctx, "SELECT $1", [][]byte{[]byte("unnamed")}, nil, nil, nil).Read()
	if res.Err != nil || string(res.Rows[0][0]) != "unnamed" {
		t.Errorf("ExecParams: %+v", res)
	}
}

// TestPortalSuspension runs a portal two rows at a time.
func TestPortalSuspension(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(
		&pgproto3.Parse{Query: "SERIES 5"},
		&pgproto3.Bind{},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Execute{MaxRows: 2},
		&pgproto3.Sync{},
	)
	want := []string{
		"ParseComplete", "BindComplete",
		`DataRow "1"`, `DataRow "2"`, "PortalSuspended",
		`DataRow "3"`, `DataRow "4"`, "PortalSuspended",
		`DataRow "5"`, "CommandComplete SELECT 5",
		"ReadyForQuery I",
	}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The portal was closed at Sync (no transaction block).
	raw.send(&pgproto3.Execute{}, &pgproto3.Sync{})
	if got := raw.recvUntilReady(); got[0] != "ErrorResponse ERROR 34000 unnamed portal does not exist" {
		t.Errorf("portal after Sync: %q", got)
	}
}

// TestPortalsSurviveSyncInTransaction keeps a portal across Syncs inside a
// transaction block and drops it at COMMIT.
func TestPortalsSurviveSyncInTransaction(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(&pgproto3.Query{String: "BEGIN"})
	raw.recvUntilReady()
	raw.send(&pgproto3.Parse{Query: "SERIES 3"}, &pgproto3.Bind{DestinationPortal: "c"}, &pgproto3.Execute{Portal: "c", MaxRows: 1}, &pgproto3.Sync{})
	if got := raw.recvUntilReady(); got[len(got)-2] != "PortalSuspended" || got[len(got)-1] != "ReadyForQuery T" {
		t.Fatalf("first batch: %q", got)
	}
	raw.send(&pgproto3.Execute{Portal: "c"}, &pgproto3.Sync{})
	want := []string{`DataRow "2"`, `DataRow "3"`, "CommandComplete SELECT 3", "ReadyForQuery T"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Fatalf("resumed in a later batch: %q", got)
	}
	raw.send(&pgproto3.Query{String: "COMMIT"})
	raw.recvUntilReady()
	raw.send(&pgproto3.Execute{Portal: "c"}, &pgproto3.Sync{})
	if got := raw.recvUntilReady(); got[0] != `ErrorResponse ERROR 34000 portal "c" does not exist` {
		t.Errorf("portal after COMMIT: %q", got)
	}
}

// TestSkipUntilSync checks that an error skips to Sync and the
// connection stays usable.
func TestSkipUntilSync(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(
		&pgproto3.Parse{Name: "bad", Query: "FROB"},
		&pgproto3.Bind{PreparedStatement: "bad"},
		&pgproto3.Execute{},
		&pgproto3.Query{String: "INSERT skipped"},
		&pgproto3.Parse{Name: "ok", Query: "SELECT 1"},
		&pgproto3.Sync{},
	)
	want := []string{`ErrorResponse ERROR 42601 syntax error at or near "FROB"`, "ReadyForQuery I"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := ts.b.executedStatements(); len(got) != 0 {
		t.Errorf("skipped messages ran: %q", got)
	}
	// "ok" was skipped too, so it does not exist; after Sync all works.
	raw.send(&pgproto3.Parse{Name: "ok", Query: "SELECT 7"}, &pgproto3.Bind{PreparedStatement: "ok"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	want = []string{"ParseComplete", "BindComplete", `DataRow "7"`, "CommandComplete SELECT 1", "ReadyForQuery I"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Fatalf("after Sync: %q", got)
	}
}

func TestSyncHook(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	ctx := testContext(t)
	_, _ = c.Exec(ctx, "SELECT 1; SELECT 2").ReadAll()
	_ = c.ExecParams(ctx, "SELECT 1", nil, nil, nil, nil).Read()
	ts.b.mu.Lock()
	s := ts.b.mu.sessions[0]
	ts.b.mu.Unlock()
	// One Sync per Query message and one per Sync message (pgconn's
	// ExecParams sends one Sync).
	if n := s.syncs.Load(); n != 2 {
		t.Errorf("Sync called %d times, want 2", n)
	}
}
