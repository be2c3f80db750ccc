package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/pgtest"
	"github.com/shardingsystem/shard/internal/proctest"
)

// TestE2EDemo runs `shard demo` as a new user would (the README's first
// command, with free ports so it cannot collide with anything) and uses
// what it prints: the psql command works and sees the sample data, the
// printed API call answers, and Ctrl-C stops it cleanly and removes its
// temporary data.
func TestE2EDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	bin := proctest.Binary(t)
	psqlDir := pgtest.Require(t, "", "psql")
	cmd := exec.Command(bin, "demo", "--sql-port", "0", "--http-port", "0", "--rpc-port", "0", "--duration", "3m")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var printed strings.Builder
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			printed.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Press Ctrl-C to stop") && !signalled {
				signalled = true
				close(ready)
			}
		}
		exited <- cmd.Wait()
	}()
	defer func() { _ = cmd.Process.Kill() }() // a no-op once it exited
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("shard demo exited before it was ready (%v):\n%s", err, printed.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("shard demo not ready within 2 minutes:\n%s", printed.String())
	}
	text := printed.String()
	t.Logf("shard demo printed:\n%s", text)
	m := regexp.MustCompile(`psql '([^']+)'`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no psql command printed")
	}
	q := exec.Command(filepath.Join(psqlDir, "psql"), m[1], "-tA", "-c", "SELECT count(*) FROM orders", "-c", "SELECT count(*) FROM shops")
	res, err := q.CombinedOutput()
	if err != nil || strings.Fields(string(res))[0] != "1000" || strings.Fields(string(res))[1] != "20" {
		t.Fatalf("the printed psql command: %s (%v)", res, err)
	}
	curl := regexp.MustCompile(`curl -H 'Authorization: Bearer (\S+)' (\S+)`).FindStringSubmatch(text)
	if curl == nil {
		t.Fatalf("no API call printed")
	}
	c := exec.Command("curl", "-sf", "-H", "Authorization: Bearer "+curl[1], curl[2])
	if b, err := c.Output(); err != nil || !strings.Contains(string(b), `"range_id"`) {
		t.Fatalf("the printed API call: %s (%v)", b, err)
	}
	dir := regexp.MustCompile(`data:\s+(\S+) \(removed on exit\)`).FindStringSubmatch(text)
	if dir == nil {
		t.Fatalf("no temporary data directory printed")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("shard demo after Ctrl-C: %v\n%s", err, printed.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("shard demo did not stop within a minute of Ctrl-C")
	}
	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Fatalf("the demo's data directory %s is still there (%v)", dir[1], err)
	}
}
