package compat

import (
	"flag"
	"testing"

	"github.com/shardingsystem/shard/internal/leakcheck"
	"github.com/shardingsystem/shard/internal/pgtest"
	"github.com/shardingsystem/shard/internal/proctest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.out from the reference PostgreSQL's output")

// TestMain kills any process a failed test left behind, removes the built
// shard binary, and then checks for leaked goroutines.
func TestMain(m *testing.M) { leakcheck.Main(m, proctest.Cleanup) }

// suite is what every subtest shares: the configuration, the PostgreSQL
// programs and the two sides.
type suite struct {
	cfg config
	bin string // PostgreSQL 15's bindir: psql and pgbench come from here
	ref server // the reference PostgreSQL
	tgt server // the system under test
}

// TestCompat starts the reference PostgreSQL and the system under test once
// and runs every comparison against both: the SQL scripts, psql's
// meta-commands, the client programs and pgbench.
func TestCompat(t *testing.T) {
	cfg, err := configFromEnv()
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	// Skips without PostgreSQL 15, or fails under CI=true.
	bin := pgtest.Require(t, cfg.pgBinDir, "psql", "pgbench")
	s := &suite{cfg: cfg, bin: bin}
	s.ref = startPostgres(t, sideReference, bin, cfg.password)
	if cfg.target == targetPostgres {
		s.tgt = startPostgres(t, sideTarget, bin, cfg.password)
	} else {
		s.tgt = startShard(t, cfg)
	}
	t.Logf("reference: %s; target (%s): %s", s.ref.describe(), cfg.target, s.tgt.describe())

	t.Run("sql", s.testScripts)
	t.Run("psql-meta", s.testMeta)
	t.Run("clients", s.testClients)
	t.Run("pgbench", s.testPgbench)
}
