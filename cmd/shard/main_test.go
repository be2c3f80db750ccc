package main

import (
	"testing"

	"github.com/shardingsystem/shard/internal/leakcheck"
	"github.com/shardingsystem/shard/internal/proctest"
)

// TestMain kills any node process a failed test left behind, removes the
// built binary, and then checks for leaked goroutines (of the in-process CLI
// tests and of proctest itself).
func TestMain(m *testing.M) { leakcheck.Main(m, proctest.Cleanup) }
