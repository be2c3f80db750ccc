package jepsen

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/pgtest"
	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/tools/jepsen/checker"
	"github.com/shardingsystem/shard/tools/jepsen/history"
	"github.com/shardingsystem/shard/tools/jepsen/workload"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// TestReferencePostgres runs every workload and its checker against a real
// PostgreSQL 15 at REPEATABLE READ (snapshot isolation): the checkers must
// find nothing that snapshot isolation forbids, and list-append's G2-item
// (write skew, which it allows) is only reported. This validates the
// workloads and checkers on a database whose behaviour is known.
func TestReferencePostgres(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{Name: "jepsen", Settings: map[string]string{
		"default_transaction_isolation": "repeatable read",
	}})
	ctx := context.Background()
	for _, name := range workload.Names() {
		t.Run(name, func(t *testing.T) {
			w, err := workload.New(name)
			if err != nil {
				t.Fatal(err)
			}
			db := "ref_" + map[string]string{"list-append": "la", "bank-sharded": "bs"}[name] + name[:3]
			if err := CreateDatabase(ctx, pg.DSN("postgres"), db, ""); err != nil {
				t.Fatal(err)
			}
			target := Target{DSNs: []string{pg.DSN(db)}}
			if err := Setup(ctx, target, w); err != nil {
				t.Fatal(err)
			}
			h, err := Generate(ctx, target, Load{Workload: w, Concurrency: 8, Time: 4 * time.Second, Seed: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			chk, err := checkerFor(w)
			if err != nil {
				t.Fatal(err)
			}
			res := chk.Check(h)
			t.Logf("%s against PostgreSQL 15: %s", name, res)
			if !res.Valid || res.Unknown {
				t.Fatalf("%s: %s", name, res)
			}
			if res.Counts.OK == 0 {
				t.Fatalf("%s: nothing succeeded", name)
			}
		})
	}
	// A write deleted behind the checker's back: the set checker finds it
	// lost, and the probe finds it gone by key and by scan; put back, the
	// probe finds it both ways.
	t.Run("set-lost", func(t *testing.T) {
		w := workload.NewSet()
		if err := CreateDatabase(ctx, pg.DSN("postgres"), "ref_lost", ""); err != nil {
			t.Fatal(err)
		}
		target := Target{DSNs: []string{pg.DSN("ref_lost")}, Names: []string{"pg"}}
		if err := Setup(ctx, target, w); err != nil {
			t.Fatal(err)
		}
		rec := history.NewRecorder(4)
		load := Load{Workload: w, Concurrency: 4, Time: time.Second, Seed: 1, Recorder: rec, OpTimeout: 5 * time.Second}
		if _, err := Generate(ctx, target, load, nil); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, pg.DSN("ref_lost"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		const gone = 3
		if _, err := conn.Exec(ctx, `DELETE FROM elements WHERE v = $1`, gone); err != nil {
			t.Fatal(err)
		}
		if err := final(ctx, target, load, rec); err != nil {
			t.Fatal(err)
		}
		res := checker.Set{}.Check(rec.History())
		if res.Valid || res.Stats[string(checker.KindLost)] != 1 {
			t.Fatalf("the set checker missed the deleted element: %s", res)
		}
		probe := func() string {
			var lines []string
			probeLost(ctx, target, w, res, func(f string, args ...any) { lines = append(lines, fmt.Sprintf(f, args...)) })
			return strings.Join(lines, "\n")
		}
		if got, want := probe(), " 3: point read 0, scan false;"; !strings.HasPrefix(got, "lost elements now, through pg: ") || !strings.Contains(got, want) {
			t.Fatalf("probe of a deleted element: %q, want it through pg with %q", got, want)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO elements VALUES ($1)`, gone); err != nil {
			t.Fatal(err)
		}
		if got, want := probe(), " 3: point read 1, scan true;"; !strings.HasPrefix(got, "lost elements now, through pg: ") || !strings.Contains(got, want) {
			t.Fatalf("probe of a present element: %q, want it through pg with %q", got, want)
		}
	})
	// At READ COMMITTED, the bank's read-then-write transfers lose
	// updates: the checker must see the total drift.
	t.Run("bank-read-committed", func(t *testing.T) {
		w := workload.NewBank()
		if err := CreateDatabase(ctx, pg.DSN("postgres"), "ref_rc", ""); err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, pg.DSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `ALTER DATABASE ref_rc SET default_transaction_isolation = 'read committed'`); err != nil {
			t.Fatal(err)
		}
		target := Target{DSNs: []string{pg.DSN("ref_rc")}}
		if err := Setup(ctx, target, w); err != nil {
			t.Fatal(err)
		}
		h, err := Generate(ctx, target, Load{Workload: w, Concurrency: 8, Time: 4 * time.Second, Seed: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		chk, _ := checkerFor(w)
		res := chk.Check(h)
		t.Logf("bank at READ COMMITTED: %s", res)
		if res.Valid || res.Stats[string(checker.KindWrongTotal)] == 0 {
			t.Fatalf("the bank checker missed the lost updates of READ COMMITTED: %s", res)
		}
	})
}
