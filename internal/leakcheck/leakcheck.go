// Package leakcheck is the TestMain of packages whose tests start child
// processes through internal/spawn: it runs the tests, stops the spawner
// (whose forking goroutine lives until then), and fails the run if any
// goroutine outlived its test.
package leakcheck

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardingsystem/shard/internal/spawn"
)

// Main runs m's tests, then cleanup (if any), stops the spawner and checks
// for leaked goroutines; it exits with the run's code.
func Main(m *testing.M, cleanup ...func()) {
	code := m.Run()
	for _, f := range cleanup {
		f()
	}
	spawn.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
