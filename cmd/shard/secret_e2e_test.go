package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/internal/rpcauth"
)

// TestE2EClusterSecret: a node's gRPC services (admin, and node to node)
// refuse callers without the cluster's secret. The CLI without it is
// refused with a message saying what is missing; a node cannot join
// without the secret or with a wrong one; with it, both work.
func TestE2EClusterSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	c := proctest.NewCluster(t)
	n1 := c.AddNode()
	n1.Start()
	b, err := os.ReadFile(filepath.Join(n1.DataDir, rpcauth.SecretFile))
	if err != nil || strings.TrimSpace(string(b)) != c.Secret() {
		t.Fatalf("the secret file holds %q (%v), want the secret the node was given", b, err)
	}
	if fi, err := os.Stat(filepath.Join(n1.DataDir, rpcauth.SecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the secret file's mode: %v %v", fi.Mode(), err)
	}

	// The CLI without the secret (none in the environment, no ./shard-data).
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, rpcauth.EnvSecret+"=") {
			env = append(env, kv)
		}
	}
	cli := func(extraEnv ...string) (string, error) {
		cmd := exec.Command(c.Bin(), "nodes", "--host", n1.RPCAddr, "--timeout", "5s")
		cmd.Env, cmd.Dir = append(env, extraEnv...), t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := cli()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(out, rpcauth.EnvSecret) || !strings.Contains(out, "refused") {
		t.Fatalf("the CLI without the secret: %v\n%s", err, out)
	}
	if out, err := cli(rpcauth.EnvSecret + "=not-the-secret"); err == nil {
		t.Fatalf("the CLI with a wrong secret was answered:\n%s", out)
	}
	if out, err := cli(rpcauth.EnvSecret + "=" + c.Secret()); err != nil || !strings.Contains(out, n1.RPCAddr) {
		t.Fatalf("the CLI with the secret: %v\n%s", err, out)
	}

	// Joining without the secret, or with a wrong one, fails.
	for _, tc := range []struct{ secret, want string }{
		{"", "joining a cluster needs its secret"},
		{"wrong-secret", "secret"},
	} {
		n := c.AddNode()
		n.SetJoin(n1.RPCAddr)
		c.SetEnv(rpcauth.EnvSecret + "=" + tc.secret)
		err := n.TryStart()
		var xe *proctest.ExitError
		if !errors.As(err, &xe) || !strings.Contains(xe.Stderr, tc.want) {
			t.Fatalf("joining with secret %q: %v", tc.secret, err)
		}
	}
	c.SetEnv()
	n2 := c.AddNode()
	n2.SetJoin(n1.RPCAddr)
	n2.Start()
	if r := n2.CLI("nodes"); !r.OK() || !strings.Contains(r.Stdout, n2.RPCAddr) {
		t.Fatalf("after a join with the secret: %v", r)
	}
}
