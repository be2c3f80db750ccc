package proctest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// mainPackage is the import path of the shard command.
const mainPackage = "github.com/shardingsystem/shard/cmd/shard"

var build struct {
	once sync.Once
	dir  string // temporary directory holding the binary
	path string
	err  error
}

// Binary returns the path of a shard binary built from the module that
// contains the working directory. The first call builds it (go build into a
// temporary directory); later calls in the same test binary reuse it. A build
// failure fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.err = buildBinary() })
	if build.err != nil {
		t.Fatalf("proctest: %v", build.err)
	}
	return build.path
}

func buildBinary() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "proctest-bin-")
	if err != nil {
		return "", fmt.Errorf("make build directory: %w", err)
	}
	build.dir = dir
	path := filepath.Join(dir, "shard")
	cmd := exec.Command("go", "build", "-o", path, mainPackage)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %v\n%s", mainPackage, root, err, out.String())
	}
	return path, nil
}

// moduleRoot is the directory of the go.mod that `go env GOMOD` reports.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// Cleanup kills every node process still running, ends the goroutine that
// starts processes, and removes the built binary. Call it from TestMain after
// m.Run and before checking for leaked goroutines; per-test cleanups
// normally leave no process for it to kill.
func Cleanup() {
	killAll()
	stopSpawner()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
}
