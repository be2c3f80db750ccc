package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardingsystem/shard/internal/proctest"
)

// TestMain kills any node process a failed test left behind, removes the
// built binary, and then checks for leaked goroutines (of the in-process CLI
// tests and of proctest itself).
func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
