// Package spawn starts child processes that die with the program that
// started them.
//
// On Linux every child gets PR_SET_PDEATHSIG=SIGKILL, so a program that
// dies (a panic, a test's -timeout, kill -9) takes its children with it.
// The kernel sends that signal when the *thread* that forked the child
// ends, not the process, and the Go runtime does end threads (one whose
// goroutine exits while locked to it; see go.dev/issue/27505). So every
// child is forked from one goroutine locked to its OS thread, which lives
// until [Stop]: a child is never killed under a program that still runs.
//
// Users: internal/proctest (nodes of end-to-end tests) and
// tools/jepsen/cluster (nodes of fault tests). Elsewhere the parent-death
// signal is not available and only the callers' cleanups stop children.
package spawn

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
)

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("spawn: stopped; no more processes")

var spawner struct {
	sync.Mutex
	reqs   chan request // nil until the first start; closed by Stop
	closed bool
}

type request struct {
	cmd *exec.Cmd
	err chan error
}

// Start starts cmd (cmd.Start) from the spawner's thread, with the
// parent-death signal added to cmd.SysProcAttr (fields the caller set are
// kept). The caller owns the process: it waits for it. Safe for concurrent
// use.
func Start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = withParentDeathSignal(cmd.SysProcAttr)
	spawner.Lock()
	if spawner.closed {
		spawner.Unlock()
		return ErrStopped
	}
	if spawner.reqs == nil {
		spawner.reqs = make(chan request)
		go loop(spawner.reqs)
	}
	// Hold the lock while sending so that Stop cannot close reqs under us.
	r := request{cmd: cmd, err: make(chan error, 1)}
	spawner.reqs <- r
	spawner.Unlock()
	return <-r.err
}

func loop(reqs <-chan request) {
	// Never unlocked: when the loop ends (Stop), the thread ends with it.
	runtime.LockOSThread()
	for r := range reqs {
		r.err <- r.cmd.Start()
	}
}

// Stop ends the spawner's goroutine and its thread, which on Linux kills
// (SIGKILL) every child still running. Later Starts return ErrStopped. Call
// it when the program is done with children (a TestMain after m.Run, before
// checking for leaked goroutines).
func Stop() {
	spawner.Lock()
	defer spawner.Unlock()
	if !spawner.closed && spawner.reqs != nil {
		close(spawner.reqs)
	}
	spawner.closed = true
}
