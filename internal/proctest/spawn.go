package proctest

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
)

// Every process is started from one goroutine locked to its OS thread for
// the life of the test binary. Linux sends the parent-death signal
// (sysProcAttr) when the *thread* that forked the child ends, not the
// process, and the Go runtime does end threads (one whose goroutine exits
// while locked to it; see go.dev/issue/27505). Forking from a thread that
// lives until Cleanup keeps nodes from being killed under a running test.
var spawner struct {
	sync.Mutex
	reqs   chan spawnReq // nil until the first start; closed by Cleanup
	closed bool
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

// errSpawnerClosed is returned for starts after Cleanup.
var errSpawnerClosed = errors.New("proctest: Cleanup has run; no more processes")

// startCmd runs cmd.Start on the spawner's thread.
func startCmd(cmd *exec.Cmd) error {
	spawner.Lock()
	if spawner.closed {
		spawner.Unlock()
		return errSpawnerClosed
	}
	if spawner.reqs == nil {
		spawner.reqs = make(chan spawnReq)
		go spawnLoop(spawner.reqs)
	}
	reqs := spawner.reqs
	// Hold the lock while sending so that Cleanup cannot close reqs under us.
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	reqs <- r
	spawner.Unlock()
	return <-r.err
}

func spawnLoop(reqs <-chan spawnReq) {
	// Never unlocked: when the loop ends (Cleanup), the thread ends with it.
	runtime.LockOSThread()
	for r := range reqs {
		r.err <- r.cmd.Start()
	}
}

// stopSpawner ends the spawner's goroutine and its thread.
func stopSpawner() {
	spawner.Lock()
	defer spawner.Unlock()
	if !spawner.closed && spawner.reqs != nil {
		close(spawner.reqs)
	}
	spawner.closed = true
}

// StartProcess starts cmd, a helper process that is not a shard node (say,
// a reference database server), the way nodes are started: from the
// spawner's thread and, on Linux, with the parent-death signal, so it dies
// with the test binary. Fields of cmd.SysProcAttr that the caller set
// (Credential, ...) are kept. The caller owns the process: it stops it and
// waits for it; Cleanup does not know about it.
func StartProcess(cmd *exec.Cmd) error {
	cmd.SysProcAttr = withParentDeathSignal(cmd.SysProcAttr)
	return startCmd(cmd)
}
