package workload

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/shardingsystem/shard/internal/spawn"
)

// TestMain stops the PostgreSQL spawner (internal/pgtest) and then checks
// that no goroutine outlived its test: Run must stop all it starts.
func TestMain(m *testing.M) {
	code := m.Run()
	spawn.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
