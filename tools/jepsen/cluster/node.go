package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/internal/spawn"
)

// Node is one node slot: fixed addresses and data directory, at most one
// running `shard start` process. Methods are safe for concurrent use; the
// lifecycle methods (Start, Kill9, Stop, Restart, Pause, Resume) of one
// node should not race each other (the nemesis runs one fault at a time).
type Node struct {
	c *Cluster
	// Index is the slot's number, from 1; Name is "n" + Index. The node id
	// the cluster gives the node (ID) is the same on a fresh cluster, whose
	// nodes join in slot order.
	Index int
	Name  string
	// IP is the node's own address; RPCAddr, SQLAddr and HTTPAddr its
	// listeners as clients reach them.
	IP                         string
	RPCAddr, SQLAddr, HTTPAddr string
	// Dir holds DataDir and the node's log files.
	Dir, DataDir string

	mu struct {
		sync.Mutex
		proc        *process // nil when no process runs
		id          uint64
		paused      bool
		clockOffset time.Duration
		starts      int
	}
}

// process is one run of a node.
type process struct {
	pid   int
	done  chan struct{} // closed once reaped
	state *os.ProcessState
	// signalled is set before the harness kills or stops the process, so
	// that an exit nobody asked for is marked in the log.
	signalled bool
}

// readyLine is what `shard start` prints on stdout once it serves.
var readyLine = regexp.MustCompile(`shard node n(\d+) of cluster (\S+)`)

// StdoutPath and StderrPath are the node's log files; every start appends
// to them after a "=== start" header.
func (n *Node) StdoutPath() string { return filepath.Join(n.Dir, "stdout.log") }
func (n *Node) StderrPath() string { return filepath.Join(n.Dir, "stderr.log") }

// ID is the node id of the last successful start (0 before).
func (n *Node) ID() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.id
}

// DSN is the connection string of database db on this node, as root with
// the cluster's password.
func (n *Node) DSN(db string) string {
	u := url.URL{Scheme: "postgresql", User: url.UserPassword("root", n.c.cfg.Password), Host: n.SQLAddr, Path: "/" + db,
		RawQuery: "sslmode=disable"}
	return u.String()
}

// Running reports whether the node's process is alive (paused or not).
func (n *Node) Running() bool { return n.current().alive() }

// current is the slot's process, nil if none.
func (n *Node) current() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.proc
}

// alive reports whether p (maybe nil) has not been reaped.
func (p *process) alive() bool {
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

// Paused reports whether the node's process is stopped with SIGSTOP.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.paused && n.mu.proc != nil
}

// PID is the running process's id, 0 if none runs.
func (n *Node) PID() int {
	if p := n.current(); p.alive() {
		return p.pid
	}
	return 0
}

// SetClockOffset sets --clock-offset for later starts (0: none); Restart
// applies it.
func (n *Node) SetClockOffset(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.clockOffset = d
}

// ClockOffset is the offset later starts get.
func (n *Node) ClockOffset() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.clockOffset
}

func (n *Node) String() string {
	if id := n.ID(); id != 0 && id != uint64(n.Index) {
		return fmt.Sprintf("%s(id %d)", n.Name, id)
	}
	return n.Name
}

// args are the arguments of the node's next start.
func (n *Node) args() []string {
	c := n.c
	args := []string{"start", "--data-dir", n.DataDir, "--rpc-addr", n.RPCAddr, "--sql-addr", n.SQLAddr,
		"--http-addr", n.HTTPAddr, "--log-level", c.cfg.LogLevel}
	// A fresh node joins through the nodes before it (node 1 bootstraps);
	// a restart may find any of the others up first.
	var join []string
	fresh := n.ID() == 0
	for _, o := range c.nodes {
		if o != n && (!fresh || o.Index < n.Index) {
			join = append(join, o.RPCAddr)
		}
	}
	if len(join) > 0 {
		args = append(args, "--join", strings.Join(join, ","))
	}
	args = append(args, c.cfg.ExtraArgs...)
	if off := n.ClockOffset(); off != 0 {
		args = append(args, "--clock-offset", off.String())
	}
	if a := c.net.listenAddr(n.Index); a != "" {
		args = append(args, "--rpc-listen-addr", a)
	}
	if ip := c.net.sourceIP(n.Index); ip != "" {
		args = append(args, "--rpc-source-addr", ip)
	}
	return args
}

// Start starts the node and waits until it prints its ready line, exits
// (an error with its stderr) or ctx ends or StartTimeout passes (the
// process is killed).
func (n *Node) Start(ctx context.Context) error {
	if n.Running() {
		return fmt.Errorf("cluster: %s is already running (pid %d)", n.Name, n.PID())
	}
	if n.c.closed.Load() {
		return ErrClosed
	}
	args := n.args()
	n.mu.Lock()
	n.mu.starts++
	header := fmt.Sprintf("=== start #%d of %s at %s: shard %s\n", n.mu.starts, n.Name, time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	n.mu.Unlock()
	errf, err := os.OpenFile(n.StderrPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	outf, err := os.OpenFile(n.StdoutPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		_ = errf.Close()
		return err
	}
	errOff, _ := errf.Seek(0, 2)
	_, _ = errf.WriteString(header)
	_, _ = outf.WriteString(header)

	cmd := n.c.net.command(n.Index, n.c.cfg.Binary, args)
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(), "SHARD_ROOT_PASSWORD="+n.c.cfg.Password, rpcauth.EnvSecret+"="+n.c.cfg.Secret)
	cmd.Env = append(cmd.Env, n.c.cfg.Env...)
	ready := &readyWriter{f: outf, ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = ready, errf
	if err := spawn.Start(cmd); err != nil {
		_ = errf.Close()
		_ = outf.Close()
		return fmt.Errorf("cluster: start %s: %w", n.Name, err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{})}
	n.mu.Lock()
	n.mu.proc, n.mu.paused = p, false
	n.mu.Unlock()
	n.c.track(p, n)
	go func() {
		// Owned by the process: it ends when the process is reaped, which
		// Kill9, Stop and Close ensure.
		_ = cmd.Wait()
		n.mu.Lock()
		p.state = cmd.ProcessState
		unasked := !p.signalled
		n.mu.Unlock()
		if unasked {
			fmt.Fprintf(errf, "=== cluster: %s exited on its own at %s: %v\n", n.Name, time.Now().Format(time.RFC3339Nano), cmd.ProcessState)
		}
		_ = errf.Close()
		_ = outf.Close()
		n.c.untrack(p)
		close(p.done)
	}()

	timer := time.NewTimer(n.c.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-ready.ready:
		n.mu.Lock()
		n.mu.id = ready.id
		n.mu.Unlock()
		return nil
	case <-p.done:
		n.take()
		return fmt.Errorf("cluster: %s exited with %v while starting; stderr:\n%s", n.Name, p.state, readFrom(n.StderrPath(), errOff+int64(len(header))))
	case <-timer.C:
		err = fmt.Errorf("cluster: %s did not start within %v", n.Name, n.c.cfg.StartTimeout)
	case <-ctx.Done():
		err = fmt.Errorf("cluster: start %s: %w", n.Name, ctx.Err())
	}
	_ = n.Kill9()
	return err
}

// Kill9 kills the node with SIGKILL and waits until it is reaped. A node
// that is not running is not an error.
func (n *Node) Kill9() error {
	p := n.take()
	if p == nil {
		return nil
	}
	return n.kill(p)
}

// Stop sends SIGTERM (resuming a paused node first), waits up to grace for
// the node to exit, then kills it.
func (n *Node) Stop(grace time.Duration) error {
	p := n.take()
	if p == nil {
		return nil
	}
	n.signal(p, syscall.SIGTERM)
	n.signal(p, syscall.SIGCONT)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	return n.kill(p)
}

// Restart kills the node if it runs and starts it again on the same data
// directory, with the current clock offset.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.Kill9(); err != nil {
		return err
	}
	return n.Start(ctx)
}

// Pause stops the node's process with SIGSTOP.
func (n *Node) Pause() error { return n.pauseResume(syscall.SIGSTOP, true) }

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() error { return n.pauseResume(syscall.SIGCONT, false) }

func (n *Node) pauseResume(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.proc
	if p == nil {
		return fmt.Errorf("cluster: %s is not running", n.Name)
	}
	if err := syscall.Kill(p.pid, sig); err != nil {
		return fmt.Errorf("cluster: %v %s: %w", sig, n.Name, err)
	}
	n.mu.paused = paused
	return nil
}

// take detaches the current process from the slot.
func (n *Node) take() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.mu.proc
	n.mu.proc, n.mu.paused = nil, false
	return p
}

// signal marks the process as signalled by the harness and signals it.
func (n *Node) signal(p *process, sig syscall.Signal) {
	n.mu.Lock()
	p.signalled = true
	n.mu.Unlock()
	if p.alive() { // once reaped, the pid may be another process's
		_ = syscall.Kill(p.pid, sig)
	}
}

// killTimeout bounds the wait for a SIGKILLed process to be reaped.
const killTimeout = 10 * time.Second

func (n *Node) kill(p *process) error {
	n.signal(p, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("cluster: %s (pid %d) not reaped %v after SIGKILL", n.Name, p.pid, killTimeout)
	}
}

// readyWriter copies a node's stdout to its log file and notices the ready
// line.
type readyWriter struct {
	f     *os.File
	ready chan struct{}
	id    uint64 // set before ready is closed

	mu   sync.Mutex
	line []byte // the start of an unfinished line, until ready
}

func (w *readyWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.line != nil || !w.seen() {
		w.line = append(w.line, b...)
		for {
			i := bytes.IndexByte(w.line, '\n')
			if i < 0 {
				break
			}
			if m := readyLine.FindSubmatch(w.line[:i]); m != nil && !w.seen() {
				w.id, _ = strconv.ParseUint(string(m[1]), 10, 64)
				close(w.ready)
			}
			w.line = w.line[i+1:]
		}
		if w.seen() {
			w.line = nil
		}
	}
	_, _ = w.f.Write(b) // best effort: the node must not block on its log
	return len(b), nil
}

func (w *readyWriter) seen() bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

// LogTail returns the last lines lines of every node's stderr log, each
// under a header, for a failure's message.
func (c *Cluster) LogTail(lines int) string {
	var b strings.Builder
	for _, n := range c.nodes {
		data, err := os.ReadFile(n.StderrPath())
		if err != nil {
			continue
		}
		ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "---- %s stderr (%s) ----\n%s\n", n.Name, n.StderrPath(), strings.Join(ls[max(0, len(ls)-lines):], "\n"))
	}
	return b.String()
}

// readFrom returns the file's contents from offset on ("" on error).
func readFrom(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// errNotRunning is returned for calls that need a running node.
var errNotRunning = errors.New("cluster: node is not running")
