package proctest

import (
	"os/exec"

	"github.com/shardingsystem/shard/internal/spawn"
)

// Every process is started through internal/spawn: from one goroutine
// locked to its OS thread for the life of the test binary and, on Linux,
// with the parent-death signal, so that nodes die with the test binary but
// never under a running test (see the spawn package). Cleanup stops the
// spawner.

// startCmd starts cmd through the spawner.
func startCmd(cmd *exec.Cmd) error { return spawn.Start(cmd) }

// stopSpawner ends the spawner's goroutine and its thread.
func stopSpawner() { spawn.Stop() }

// StartProcess starts cmd, a helper process that is not a shard node (say,
// a reference database server), the way nodes are started: from the
// spawner's thread and, on Linux, with the parent-death signal, so it dies
// with the test binary. Fields of cmd.SysProcAttr that the caller set
// (Credential, ...) are kept. The caller owns the process: it stops it and
// waits for it; Cleanup does not know about it.
func StartProcess(cmd *exec.Cmd) error { return spawn.Start(cmd) }
