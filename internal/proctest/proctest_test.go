package proctest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shardingsystem/shard/internal/freeport"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestCommandWords(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"nodes"}, []string{"nodes", "--host", "H"}},
		{[]string{"ranges", "--json"}, []string{"ranges", "--host", "H", "--json"}},
		{[]string{"ranges", "split", "m"}, []string{"ranges", "split", "--host", "H", "m"}},
		{[]string{"kv", "put", "a", "1"}, []string{"kv", "put", "--host", "H", "a", "1"}},
		{[]string{"kv"}, []string{"kv", "--host", "H"}},
	} {
		i := commandWords(tc.args)
		got := append(append(append([]string{}, tc.args[:i]...), "--host", "H"), tc.args[i:]...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestTail(t *testing.T) {
	if got := tail("a\nb\nc\n", 2); got != "... (1 lines omitted)\nb\nc\n" {
		t.Errorf("tail: %q", got)
	}
	if got := tail("a\nb\n", 5); got != "a\nb\n" {
		t.Errorf("tail: %q", got)
	}
}

func TestPoll(t *testing.T) {
	calls := 0
	err := Poll(time.Second, func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Poll: err %v after %d calls", err, calls)
	}
	err = Poll(200*time.Millisecond, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "never") {
		t.Fatalf("Poll of a failing condition: %v", err)
	}
}

func TestFreeAddrsDistinct(t *testing.T) {
	addrs, err := freeport.Addrs("127.0.0.1", 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("port handed out twice: %v", addrs)
		}
		seen[a] = true
	}
}

// TestNodeLifecycle starts a single node, uses the CLI against it, stops and
// restarts it, and checks that the cluster's cleanup leaves no process and no
// directory behind.
func TestNodeLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	var pid int
	var dir string
	t.Run("cluster", func(t *testing.T) {
		c := NewCluster(t)
		dir = c.Dir()
		n := c.AddNode()
		n.Start()
		if n.ID() != 1 || n.ClusterID() == "" {
			t.Fatalf("bootstrap node: id %d cluster %q", n.ID(), n.ClusterID())
		}
		WaitFor(t, 30*time.Second, "a put", func() error { return n.CLI("kv", "put", "k", "v").Err() })
		if r := n.CLI("kv", "get", "k"); !r.OK() || strings.TrimSpace(r.Stdout) != "v" {
			t.Fatalf("get after put: %v", r)
		}
		leader, err := c.LeaderOf(2)
		if err != nil || leader != n {
			t.Fatalf("leader of r2: %v, %v", leader, err)
		}
		if code := n.Stop(); code != 0 {
			t.Fatalf("SIGTERM: exit code %d", code)
		}
		n.Restart()
		if n.ID() != 1 {
			t.Fatalf("restarted node has id %d", n.ID())
		}
		WaitFor(t, 30*time.Second, "the value after a restart", func() error {
			r := n.CLI("kv", "get", "k")
			if r.OK() && strings.TrimSpace(r.Stdout) != "v" {
				t.Fatalf("get after restart: %v", r)
			}
			return r.Err()
		})
		pid = n.PID()
	})
	if pid == 0 {
		t.Fatal("no pid recorded")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("node pid %d outlived its test: kill(0) = %v", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory %s outlived its test: %v", dir, err)
	}
}

// TestNodesDieWithTestBinary runs this test binary again as a child that
// starts a node and then blocks; killing the child with SIGKILL (as a
// -timeout panic or an OOM kill would end a test binary, with no cleanup)
// must take the node with it.
func TestNodesDieWithTestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	if os.Getenv("PROCTEST_CHILD") == "1" {
		c := NewCluster(t)
		n := c.AddNode()
		n.Start()
		fmt.Printf("NODEPID %d %s %s\n", n.PID(), c.Dir(), build.dir)
		select {} // until killed
	}
	if runtime.GOOS != "linux" {
		t.Skip("parent-death signal is Linux only")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNodesDieWithTestBinary$", "-test.v")
	cmd.Env = append(os.Environ(), "PROCTEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid, dir, binDir := 0, "", ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "NODEPID %d %s %s", &pid, &dir, &binDir); err == nil {
			break
		}
	}
	if pid == 0 || !strings.HasPrefix(filepath.Base(dir), "proctest-") || !strings.HasPrefix(filepath.Base(binDir), "proctest-bin-") {
		t.Fatalf("the child printed no node pid and directories (%d %q %q)", pid, dir, binDir)
	}
	// The killed child cannot clean up after itself.
	defer func() {
		_ = os.RemoveAll(dir)
		_ = os.RemoveAll(binDir)
	}()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	err = Poll(10*time.Second, func() error {
		if alive(pid) {
			return fmt.Errorf("node pid %d still alive", pid)
		}
		return nil
	})
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL) // ours: the child started it
		t.Fatalf("the node outlived its killed test binary: %v", err)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
