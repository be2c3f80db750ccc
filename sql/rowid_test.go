package sql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestRepeatedRowIDDoesNotReplaceRow: a node whose clock went back across
// a restart makes a row id it made before. The INSERT that gets it must
// not replace the row stored under it (nothing probes a row id for
// conflicts): its write finds the key taken, and the statement is retried
// with the next id, in a one-phase and in a two-phase commit. Every row is
// there after.
func TestRepeatedRowIDDoesNotReplaceRow(t *testing.T) {
	c, addr := startShardedDB(t)
	ctx := context.Background()
	conn := connect(t, addr, "sk")
	mustExec(t, conn, "CREATE TABLE events (grp int NOT NULL, note text)")
	stuck := func() int64 { return 1_700_000_000_000_000 }
	for _, q := range []string{
		"INSERT INTO events VALUES (1, 'first')",
		"INSERT INTO events VALUES (1, 'second')",
		// Two shard values, two ranges: a two-phase commit.
		"INSERT INTO events VALUES (1, 'third'), (2, 'fourth')",
	} {
		c.Server(1).SQL().SetRowIDClock(stuck)
		mustExec(t, conn, q)
	}
	rows, err := conn.Query(ctx, "SELECT note FROM events ORDER BY note")
	if err != nil {
		t.Fatal(err)
	}
	notes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := "[first fourth second third]"; fmt.Sprint(notes) != want {
		t.Fatalf("rows %v, want %s", notes, want)
	}
}
