package workload

import (
	"testing"

	"github.com/shardingsystem/shard/internal/leakcheck"
)

// TestMain checks, after the tests, that no goroutine outlived its test
// (PostgreSQL servers are started through internal/spawn): Run must stop
// all it starts.
func TestMain(m *testing.M) { leakcheck.Main(m) }
