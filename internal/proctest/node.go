package proctest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Timeouts of node lifecycle operations. They are generous: a loaded
// two-core machine running the race detector is slow.
const (
	// startTimeout bounds a start: a joining node may retry for 30 s.
	startTimeout = 60 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 20 * time.Second
	// cleanupGrace is Stop's grace period during cleanup.
	cleanupGrace = 5 * time.Second
	// killTimeout bounds the wait for a SIGKILLed process to be reaped.
	killTimeout = 10 * time.Second
)

// readyLine is what `shard start` prints on stdout once it serves.
var readyLine = regexp.MustCompile(`shard node n(\d+) of cluster (\S+)`)

// Node is one node slot of a Cluster: fixed addresses and data directory,
// and at most one running process. A test may change the addresses or the
// data directory before the node's first start (to provoke a failure); they
// must not change while other goroutines use the node. Its methods may fail the test, so call
// the lifecycle methods (Start, Stop, Kill9, Restart) only from the test's
// goroutine; CLI, Ranges and the accessors are safe from any goroutine.
type Node struct {
	c *Cluster
	// Name is the slot's label in logs and messages ("node1"); the node id
	// the cluster gives the node is ID.
	Name                       string
	DataDir                    string
	RPCAddr, SQLAddr, HTTPAddr string
	dir                        string // holds DataDir and the log files
	// picked are the addresses proctest chose; only a node still on them
	// is retried with new ports.
	picked [3]string

	mu struct {
		sync.Mutex
		// Join is passed as --join on the next start.
		join []string
		// extra holds additional `shard start` flags.
		extra   []string
		proc    *process // nil when no process runs
		id      uint64
		cluster string
		starts  int
	}
}

// process is one run of a node.
type process struct {
	cmd   *exec.Cmd
	out   *readyWatcher
	done  chan struct{} // closed once the process has been reaped
	state *os.ProcessState
	// signalled is set before proctest signals the process, so that an
	// exit nobody asked for is marked in the log.
	signalled atomic.Bool
}

// StdoutPath and StderrPath are the node's log files, appended to by
// every start.
func (n *Node) StdoutPath() string { return filepath.Join(n.dir, "stdout.log") }
func (n *Node) StderrPath() string { return filepath.Join(n.dir, "stderr.log") }

// SetJoin sets the --join addresses of the next start (none: bootstrap a new
// cluster, or restart alone).
func (n *Node) SetJoin(addrs ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.join = append([]string(nil), addrs...)
}

// SetExtraArgs sets additional `shard start` flags for later starts.
func (n *Node) SetExtraArgs(args ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.extra = append([]string(nil), args...)
}

// ID is the node id printed by the last successful start (0 before).
func (n *Node) ID() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.id
}

// ClusterID is the cluster id printed by the last successful start.
func (n *Node) ClusterID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.cluster
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	p := n.mu.proc
	n.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// PID is the running process's id, 0 if none runs.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.proc == nil {
		return 0
	}
	return n.mu.proc.cmd.Process.Pid
}

func (n *Node) String() string {
	if id := n.ID(); id != 0 {
		return fmt.Sprintf("%s(n%d %s)", n.Name, id, n.RPCAddr)
	}
	return fmt.Sprintf("%s(%s)", n.Name, n.RPCAddr)
}

// StartArgs are the arguments of the node's next `shard start`.
func (n *Node) StartArgs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	args := []string{"start", "--data-dir", n.DataDir, "--rpc-addr", n.RPCAddr,
		"--sql-addr", n.SQLAddr, "--http-addr", n.HTTPAddr, "--log-level", n.c.logLevel}
	if len(n.mu.join) > 0 {
		args = append(args, "--join", strings.Join(n.mu.join, ","))
	}
	return append(args, n.mu.extra...)
}

// ExitError is a node process that exited while starting.
type ExitError struct {
	Node   string
	Code   int    // exit code; -1 if killed by a signal
	Stderr string // what the process wrote to stderr during this start
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited with code %d while starting; stderr:\n%s", e.Node, e.Code, e.Stderr)
}

// Start starts the node and waits until it serves; it fails the test if the
// node does not come up.
func (n *Node) Start() {
	n.c.t.Helper()
	if err := n.TryStart(); err != nil {
		n.c.t.Fatalf("start %s: %v", n.Name, err)
	}
}

// TryStart starts the node and waits until it prints its ready line, exits
// (an *ExitError) or startTimeout passes (the process is killed). A fresh
// node that loses one of its ports to another process before binding it
// gets new ports and a new data directory and is tried again (not if the
// test set the node's addresses itself).
func (n *Node) TryStart() error {
	for attempt := 0; ; attempt++ {
		err := n.startOnce()
		var ee *ExitError
		if attempt < 3 && errors.As(err, &ee) && strings.Contains(ee.Stderr, "address already in use") && n.fresh() &&
			n.picked == [3]string{n.RPCAddr, n.SQLAddr, n.HTTPAddr} {
			n.c.t.Logf("proctest: %s lost a port to another process; retrying with new ports", n.Name)
			if err := n.c.renew(n); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// fresh reports whether the node has never started successfully.
func (n *Node) fresh() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.id == 0
}

func (n *Node) startOnce() error {
	if n.Running() {
		return fmt.Errorf("%s is already running (pid %d)", n.Name, n.PID())
	}
	args := n.StartArgs()
	n.mu.Lock()
	n.mu.starts++
	starts := n.mu.starts
	n.mu.Unlock()

	header := fmt.Sprintf("=== start #%d of %s at %s: shard %s\n", starts, n.Name,
		time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	errf, err := os.OpenFile(n.StderrPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	outf, err := os.OpenFile(n.StdoutPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		_ = errf.Close()
		return err
	}
	errOff, _ := errf.Seek(0, io.SeekEnd)
	_, _ = errf.WriteString(header)
	_, _ = outf.WriteString(header)

	cmd := exec.Command(n.c.bin, args...)
	cmd.Dir = n.dir
	cmd.Env = n.c.environ()
	cmd.Stdout = newReadyWatcher(outf)
	cmd.Stderr = errf
	p := &process{cmd: cmd, out: cmd.Stdout.(*readyWatcher), done: make(chan struct{})}
	if err := startCmd(cmd); err != nil {
		_ = errf.Close()
		_ = outf.Close()
		return fmt.Errorf("exec %s: %w", n.c.bin, err)
	}
	register(p)
	go func() {
		// The waiter is owned by the process: it ends when the process is
		// reaped, which every path out of a test ensures.
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		if !p.signalled.Load() {
			fmt.Fprintf(errf, "=== proctest: %s exited on its own at %s: %v\n", n.Name, time.Now().Format(time.RFC3339Nano), p.state)
		}
		_ = errf.Close()
		_ = outf.Close()
		unregister(p)
		close(p.done)
	}()
	n.mu.Lock()
	n.mu.proc = p
	n.mu.Unlock()

	select {
	case <-p.out.ready:
		id, cluster := p.out.result()
		n.mu.Lock()
		n.mu.id, n.mu.cluster = id, cluster
		n.mu.Unlock()
		return nil
	case <-p.done:
		n.mu.Lock()
		n.mu.proc = nil
		n.mu.Unlock()
		return &ExitError{Node: n.Name, Code: p.state.ExitCode(), Stderr: readFrom(n.StderrPath(), errOff+int64(len(header)))}
	case <-time.After(startTimeout):
		n.kill(p)
		n.mu.Lock()
		n.mu.proc = nil
		n.mu.Unlock()
		return fmt.Errorf("%s did not print its ready line within %v; stderr:\n%s", n.Name, startTimeout,
			tail(readFrom(n.StderrPath(), errOff+int64(len(header))), 50))
	}
}

// Kill9 kills the node with SIGKILL and waits until it is gone.
func (n *Node) Kill9() {
	n.c.t.Helper()
	p := n.take()
	if p == nil {
		n.c.t.Fatalf("kill -9 %s: not running", n.Name)
	}
	if err := n.kill(p); err != nil {
		n.c.t.Fatalf("kill -9 %s: %v", n.Name, err)
	}
}

// Stop sends SIGTERM and waits for a clean exit, returning the exit code;
// a node that is still running after the grace period is killed and the
// test fails.
func (n *Node) Stop() int {
	n.c.t.Helper()
	p := n.take()
	if p == nil {
		n.c.t.Fatalf("stop %s: not running", n.Name)
	}
	code, err := n.stop(p, stopGrace)
	if err != nil {
		n.c.t.Fatalf("stop %s: %v", n.Name, err)
	}
	return code
}

// Restart stops the node (SIGTERM) if it runs, then starts it again with its
// current --join list.
func (n *Node) Restart() {
	n.c.t.Helper()
	if n.Running() {
		if code := n.Stop(); code != 0 {
			n.c.t.Fatalf("restart %s: clean stop exited with code %d", n.Name, code)
		}
	}
	n.take() // forget a process that died by itself
	n.Start()
}

// take detaches the current process from the slot.
func (n *Node) take() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.proc
	n.mu.proc = nil
	return p
}

func (n *Node) kill(p *process) error {
	p.signalled.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d not reaped %v after SIGKILL", p.cmd.Process.Pid, killTimeout)
	}
}

// stop sends SIGTERM, waits grace, then SIGKILLs; the error reports a
// process that needed SIGKILL.
func (n *Node) stop(p *process, grace time.Duration) (int, error) {
	p.signalled.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, err
	}
	select {
	case <-p.done:
		return p.state.ExitCode(), nil
	case <-time.After(grace):
	}
	if err := n.kill(p); err != nil {
		return -1, err
	}
	return -1, fmt.Errorf("still running %v after SIGTERM; killed", grace)
}

// readyWatcher copies a node's stdout to a file and notices the ready line.
type readyWatcher struct {
	f     *os.File
	ready chan struct{}

	mu struct {
		sync.Mutex
		line    []byte // partial line
		seen    bool
		id      uint64
		cluster string
	}
}

func newReadyWatcher(f *os.File) *readyWatcher {
	return &readyWatcher{f: f, ready: make(chan struct{})}
}

func (w *readyWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.mu.seen {
		w.mu.line = append(w.mu.line, b...)
		for {
			i := bytes.IndexByte(w.mu.line, '\n')
			if i < 0 {
				break
			}
			if m := readyLine.FindSubmatch(w.mu.line[:i]); m != nil {
				w.mu.id, _ = strconv.ParseUint(string(m[1]), 10, 64)
				w.mu.cluster = string(m[2])
				w.mu.seen = true
				w.mu.line = nil
				close(w.ready)
				break
			}
			w.mu.line = w.mu.line[i+1:]
		}
	}
	// The log file is best effort: the node must not block or fail on it.
	_, _ = w.f.Write(b)
	return len(b), nil
}

func (w *readyWatcher) result() (uint64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.id, w.mu.cluster
}

// readFrom returns the file's contents from offset on ("" on error).
func readFrom(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// tail returns the last n lines of s (all of them if n <= 0).
func tail(s string, n int) string {
	if n <= 0 {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("... (%d lines omitted)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}

// Every running process, for Cleanup.
var live struct {
	sync.Mutex
	procs map[*process]bool
}

func register(p *process) {
	live.Lock()
	defer live.Unlock()
	if live.procs == nil {
		live.procs = map[*process]bool{}
	}
	live.procs[p] = true
}

func unregister(p *process) {
	live.Lock()
	defer live.Unlock()
	delete(live.procs, p)
}

func killAll() {
	live.Lock()
	var ps []*process
	for p := range live.procs {
		ps = append(ps, p)
	}
	live.Unlock()
	for _, p := range ps {
		p.signalled.Store(true)
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(killTimeout):
		}
	}
}
