package main

// CLI contract tests: exit codes, messages and refusals. Argument errors run
// in-process through run(); the rest start real nodes with proctest.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/serverpb"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/internal/proctest"
)

// closedAddr returns a 127.0.0.1 address nothing listens on (a port that was
// free a moment ago). Every in-process command below names it with --host so
// that a command that wrongly gets past its argument checks reaches no one
// (the default --host, 127.0.0.1:7400, may be another test's node).
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// runCLI runs the CLI in-process.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIUnknownCommand(t *testing.T) {
	code, stdout, stderr := runCLI("frobnicate", "--host", closedAddr(t))
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr, `unknown command "frobnicate"`) || !strings.Contains(stderr, "usage: shard COMMAND") {
		t.Errorf("stderr does not name the command and show usage:\n%s", stderr)
	}
	for _, c := range commands() {
		if !strings.Contains(stderr, c.name) {
			t.Errorf("usage on stderr does not list %q:\n%s", c.name, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("stdout not empty: %q", stdout)
	}
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, stdout, _ := runCLI(args...)
		if code != 0 || !strings.Contains(stdout, "usage: shard COMMAND") {
			t.Errorf("shard %v: exit %d, stdout %q", args, code, stdout)
		}
	}
	for _, args := range [][]string{{"start", "-h"}, {"kv", "put", "-h"}, {"ranges", "split", "-h"}, {"nodes", "-h"}} {
		code, _, stderr := runCLI(args...)
		if code != 0 || !strings.Contains(stderr, "-host") && args[0] != "start" || !strings.Contains(stderr, "Usage of shard") {
			t.Errorf("shard %v: exit %d, stderr %q", args, code, stderr)
		}
	}
	// No command at all is a usage error.
	if code, _, _ := runCLI(); code != 2 {
		t.Errorf("shard with no arguments: exit %d, want 2", code)
	}
}

func TestCLIUnknownFlag(t *testing.T) {
	host := closedAddr(t)
	for _, args := range [][]string{
		{"start", "--bogus"},
		{"nodes", "--host", host, "--bogus"},
		{"ranges", "--host", host, "--bogus"},
		{"ranges", "split", "--host", host, "--bogus", "m"},
		{"kv", "put", "--host", host, "--bogus", "k", "v"},
		{"kv", "get", "--host", host, "--limit", "3", "k"}, // --limit belongs to scan only
		{"kv", "scan", "--host", host, "--bogus"},
	} {
		code, stdout, stderr := runCLI(args...)
		if code != 2 {
			t.Errorf("shard %s: exit %d, want 2; stderr:\n%s", strings.Join(args, " "), code, stderr)
		}
		if !strings.Contains(stderr, "flag provided but not defined") || !strings.Contains(stderr, "for usage") {
			t.Errorf("shard %s: stderr does not explain the flag:\n%s", strings.Join(args, " "), stderr)
		}
		if stdout != "" {
			t.Errorf("shard %s: stdout not empty: %q", strings.Join(args, " "), stdout)
		}
	}
}

// TestCLIUsageErrors: malformed command lines exit 2 with a message, before
// contacting any node.
func TestCLIUsageErrors(t *testing.T) {
	host := closedAddr(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"kv"}, "kv needs a subcommand"},
		{[]string{"kv", "bogus", "--host", host}, `unknown kv subcommand "bogus"`},
		{[]string{"kv", "put", "--host", host, "k"}, "kv put takes 2 to 2 arguments, got 1"},
		{[]string{"kv", "get", "--host", host}, "kv get takes 1 to 1 arguments, got 0"},
		{[]string{"kv", "delete", "--host", host, "a", "b"}, "kv delete takes 1 to 1 arguments, got 2"},
		{[]string{"kv", "scan", "--host", host, "a", "b", "c"}, "kv scan takes 0 to 2 arguments, got 3"},
		{[]string{"kv", "put", "--host", host, `\x02meta`, "v"}, "reserved"},
		{[]string{"kv", "put", "--host", host, `\x01local`, "v"}, "reserved"},
		{[]string{"kv", "put", "--host", host, "", "v"}, "reserved"},
		{[]string{"kv", "put", "--host", host, `\xff\xff`, "v"}, "reserved"},
		{[]string{"kv", "get", "--host", host, `bad\escape`}, "bad escape"},
		{[]string{"ranges", "split", "--host", host}, "exactly one KEY"},
		{[]string{"ranges", "split", "--host", host, "a", "b"}, "exactly one KEY"},
		{[]string{"ranges", "split", "--host", host, `\x02meta`}, "reserved"},
		{[]string{"ranges", "frobnicate", "--host", host}, `unknown ranges subcommand "frobnicate"`},
		{[]string{"nodes", "--host", host, "extra"}, "unexpected arguments: extra"},
		{[]string{"version", "extra"}, "no arguments"},
		{[]string{"start", "--log-level", "loud"}, `bad --log-level "loud"`},
		{[]string{"start", "--replicas", "0"}, "replicas must be between 1 and 7"},
		{[]string{"start", "--rpc-addr", "127.0.0.1:0"}, "must name a host and a fixed port"},
		{[]string{"start", "--rpc-addr", host, "--join", "nowhere"}, `join address "nowhere"`},
		{[]string{"start", "--rpc-addr", host, "stray"}, "unexpected arguments: stray"},
		{[]string{"jepsen", "--workload", "nope"}, `unknown workload "nope"`},
		{[]string{"jepsen", "--nemesis", "kill;bogus"}, `unknown fault or set "bogus"`},
		{[]string{"jepsen", "--nodes", "4"}, "--nodes 4: want 3 or 5"},
		{[]string{"jepsen", "--count", "0"}, "--count 0"},
		{[]string{"jepsen", "--ops", "-1"}, "--ops -1"},
		{[]string{"jepsen", "--net", "wifi"}, `--net "wifi"`},
		{[]string{"jepsen", "extra"}, "unexpected arguments"},
		{[]string{"bench", "kv", "--rounds", "0"}, "--rounds 0: want at least 1"},
		{[]string{"bench", "failover", "--rounds", "2"}, "failover runs once: no --rounds"},
		{[]string{"bench", "kv", "--compare", "mysql"}, `--compare "mysql": want postgres or etcd`},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("shard %q: exit %d (want 2), stderr:\n%s(want it to contain %q)", tc.args, code, stderr, tc.want)
		}
	}
}

// TestCLIConfigReportsEveryProblem: one invocation reports every bad flag
// value, not just the first.
func TestCLIConfigReportsEveryProblem(t *testing.T) {
	code, _, stderr := runCLI("start", "--rpc-addr", "nohost", "--replicas", "9", "--data-dir", "")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{"rpc address", "replicas", "data directory"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
}

func TestCLIVersion(t *testing.T) {
	code, stdout, _ := runCLI("version")
	if code != 0 || !strings.HasPrefix(stdout, "shard ") {
		t.Errorf("version: exit %d, stdout %q", code, stdout)
	}
}

// TestCLIUnreachableHost: every client command against a port where nothing
// listens fails fast with exit 1 and "cannot reach".
func TestCLIUnreachableHost(t *testing.T) {
	host := closedAddr(t)
	for _, args := range [][]string{
		{"nodes", "--host", host},
		{"ranges", "--host", host},
		{"ranges", "split", "--host", host, "m"},
		{"kv", "put", "--host", host, "k", "v"},
		{"kv", "get", "--host", host, "k"},
		{"kv", "delete", "--host", host, "k"},
		{"kv", "scan", "--host", host},
		{"kv", "get", "--host", host, "--json", "k"},
	} {
		start := time.Now()
		code, stdout, stderr := runCLI(args...)
		took := time.Since(start)
		if code != 1 || !strings.Contains(stderr, "cannot reach") || !strings.Contains(stderr, host) {
			t.Errorf("shard %s: exit %d (want 1), stderr:\n%s", strings.Join(args, " "), code, stderr)
		}
		if stdout != "" {
			t.Errorf("shard %s: stdout not empty: %q", strings.Join(args, " "), stdout)
		}
		if took > 15*time.Second {
			t.Errorf("shard %s took %v to give up", strings.Join(args, " "), took)
		}
	}
}

// TestCLIUnreachableHostProcess is the same through the real binary, with
// the default --timeout.
func TestCLIUnreachableHostProcess(t *testing.T) {
	c := proctest.NewCluster(t)
	r := c.Run("kv", "get", "--host", closedAddr(t), "k")
	if r.Code != 1 || !strings.Contains(r.Stderr, "cannot reach") {
		t.Errorf("want exit 1 and \"cannot reach\": %v", r)
	}
	if r.Elapsed > 15*time.Second {
		t.Errorf("took %v to give up", r.Elapsed)
	}
}

// TestCLIKeySizeLimit: a key over 8 KiB is refused with exit 2 and a clear
// message, and nothing is written; a key of exactly 8 KiB works.
func TestCLIKeySizeLimit(t *testing.T) {
	c := proctest.NewCluster(t)
	n := c.AddNode()
	n.Start()
	proctest.WaitFor(t, 30*time.Second, "the node to take writes", func() error {
		return n.CLI("kv", "put", "ready", "1").Err()
	})

	big := "k" + strings.Repeat("x", 9<<10-1) // 9 KiB
	for _, args := range [][]string{{"kv", "put", big, "v"}, {"kv", "get", big}, {"kv", "delete", big}, {"ranges", "split", big}} {
		r := n.CLI(args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "key too large") || !strings.Contains(r.Stderr, "9216 bytes > 8192") {
			t.Errorf("shard %s <9 KiB key>: want exit 2 and \"key too large: 9216 bytes > 8192\"; got exit %d, stderr %.300s",
				strings.Join(args[:2], " "), r.Code, r.Stderr)
		}
	}
	max := "k" + strings.Repeat("x", 8<<10-1) // exactly 8 KiB
	if r := n.CLI("kv", "put", max, "at the limit"); !r.OK() {
		t.Fatalf("put of an 8 KiB key: exit %d, stderr %.300s", r.Code, r.Stderr)
	}
	if r := n.CLI("kv", "get", max); !r.OK() || r.Stdout != "at the limit\n" {
		t.Fatalf("get of an 8 KiB key: exit %d, stdout %q", r.Code, r.Stdout)
	}

	rows, err := scan(n, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		if len(row.Key) > 8<<10 {
			t.Errorf("scan shows a key of %d bytes", len(row.Key))
		}
		got = append(got, row.Key[:min(len(row.Key), 10)])
	}
	if len(rows) != 2 || rows[0].Key != max || rows[1].Key != "ready" {
		t.Errorf("scan after the refused put: want the 8 KiB key and \"ready\", got %q", got)
	}
}

// dirState is a directory's contents: name -> mode, size, mtime and bytes
// of every entry, recursively.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		s := info.Mode().String() + " " + info.ModTime().String()
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s += " " + string(b)
		}
		out[path] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCLIStartRefusesForeignDataDir: a non-empty directory without a SHARD
// marker is refused and left exactly as it was.
func TestCLIStartRefusesForeignDataDir(t *testing.T) {
	c := proctest.NewCluster(t)
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
	}{
		{"unrelated file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("\\documentclass{article}\n"), 0o600)
		}},
		{"empty subdirectory", func(dir string) error { return os.Mkdir(filepath.Join(dir, "lost+found"), 0o700) }},
		{"a store but no marker", func(dir string) error {
			if err := os.Mkdir(filepath.Join(dir, "store"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "store", "CURRENT"), []byte("MANIFEST-000001\n"), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := c.AddNode()
			if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(n.DataDir); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, n.DataDir)
			err := n.TryStart()
			var ee *proctest.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("start in a foreign directory: want the process to exit, got %v", err)
			}
			if ee.Code == 0 || !strings.Contains(ee.Stderr, n.DataDir) {
				t.Errorf("want a non-zero exit and a message naming %s; got exit %d, stderr:\n%s", n.DataDir, ee.Code, ee.Stderr)
			}
			if !strings.Contains(ee.Stderr, "not a shard data directory") {
				t.Errorf("message does not say why:\n%s", ee.Stderr)
			}
			after := dirState(t, n.DataDir)
			if len(after) != len(before) {
				t.Errorf("directory changed: before %v\nafter %v", before, after)
			}
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s changed: %q -> %q", k, v, after[k])
				}
			}
		})
	}
}

// TestCLIStartRefusesDataDirOfAnotherCluster: a node's data directory
// started with --join pointing at a node of another cluster is refused and
// keeps its own cluster.
func TestCLIStartRefusesDataDirOfAnotherCluster(t *testing.T) {
	c := proctest.NewCluster(t)
	a := c.AddNode()
	a.Start()
	clusterA := a.ClusterID()
	proctest.WaitFor(t, 30*time.Second, "a write to cluster A", func() error {
		return a.CLI("kv", "put", "owner", "cluster A").Err()
	})
	if code := a.Stop(); code != 0 {
		t.Fatalf("SIGTERM of A: exit %d", code)
	}

	b := c.AddNode()
	b.Start()
	clusterB := b.ClusterID()
	if clusterA == clusterB || clusterB == "" {
		t.Fatalf("two bootstraps gave cluster ids %q and %q", clusterA, clusterB)
	}

	a.SetJoin(b.RPCAddr)
	err := a.TryStart()
	var ee *proctest.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("start of A's directory with --join B: want the process to exit, got %v", err)
	}
	if ee.Code == 0 || !strings.Contains(ee.Stderr, "another cluster") {
		t.Errorf("want a non-zero exit and a message about another cluster; got exit %d, stderr:\n%s", ee.Code, ee.Stderr)
	}
	for _, want := range []string{clusterA, clusterB, a.DataDir} {
		if !strings.Contains(ee.Stderr, want) {
			t.Errorf("message does not name %s:\n%s", want, ee.Stderr)
		}
	}
	// B did not admit A.
	r := b.CLI("nodes", "--json")
	var nodes []struct {
		ID      uint64 `json:"id"`
		RPCAddr string `json:"rpc_addr"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &nodes); err != nil || !r.OK() {
		t.Fatalf("nodes --json on B: %v (%v)", r, err)
	}
	if len(nodes) != 1 || nodes[0].RPCAddr != b.RPCAddr {
		t.Errorf("cluster B's nodes after the refused start: %+v", nodes)
	}

	// A's directory still holds cluster A and its data.
	a.SetJoin()
	a.Start()
	if a.ClusterID() != clusterA {
		t.Errorf("A restarted alone in cluster %s, want %s", a.ClusterID(), clusterA)
	}
	proctest.WaitFor(t, 30*time.Second, "A's data after the refused start", func() error {
		r := a.CLI("kv", "get", "owner")
		if r.OK() && r.Stdout != "cluster A\n" {
			t.Fatalf("A's key: %v", r)
		}
		return r.Err()
	})
}

// TestCLIStartRefusesDataDirInUse: a second process on a running node's data
// directory exits with an error naming the directory; the node keeps
// serving.
func TestCLIStartRefusesDataDirInUse(t *testing.T) {
	c := proctest.NewCluster(t)
	a := c.AddNode()
	a.Start()
	twin := c.AddNode()
	twin.DataDir = a.DataDir
	err := twin.TryStart()
	var ee *proctest.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("second process on a data directory in use: want it to exit, got %v", err)
	}
	if ee.Code == 0 || !strings.Contains(ee.Stderr, a.DataDir) {
		t.Errorf("want a non-zero exit and a message naming %s; got exit %d, stderr:\n%s", a.DataDir, ee.Code, ee.Stderr)
	}
	t.Logf("message for a data directory in use: %s", strings.TrimSpace(ee.Stderr[strings.LastIndex(ee.Stderr, "shard start:"):]))
	proctest.WaitFor(t, 30*time.Second, "the first node to keep serving", func() error {
		return a.CLI("kv", "put", "still", "here").Err()
	})
}

// TestCLIStartOnBusyPortLeavesNoTrace: a new node whose rpc port is taken
// must fail without joining the cluster: no node record in the cluster it
// named with --join, and no half-made data directory.
func TestCLIStartOnBusyPortLeavesNoTrace(t *testing.T) {
	c := proctest.NewCluster(t)
	a := c.AddNode()
	a.Start()
	proctest.WaitFor(t, 30*time.Second, "the first node to take writes", func() error {
		return a.CLI("kv", "put", "k", "v").Err()
	})

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := c.AddNode()
	b.RPCAddr = busy.Addr().String()
	b.SetJoin(a.RPCAddr)
	err = b.TryStart()
	var ee *proctest.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("start on a busy port: want the process to exit, got %v", err)
	}
	if ee.Code == 0 || !strings.Contains(ee.Stderr, b.RPCAddr) {
		t.Errorf("want a non-zero exit and a message naming %s; got exit %d, stderr:\n%s", b.RPCAddr, ee.Code, ee.Stderr)
	}

	r := a.CLI("nodes", "--json")
	var nodes []struct {
		ID      uint64 `json:"id"`
		RPCAddr string `json:"rpc_addr"`
		Live    bool   `json:"live"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &nodes); err != nil || !r.OK() {
		t.Fatalf("nodes --json: %v (%v)", r, err)
	}
	if len(nodes) != 1 {
		t.Errorf("a node that never served was admitted: shard nodes lists %+v "+
			"(server.New joins the cluster before it listens on --rpc-addr)", nodes)
	}
	if entries, err := os.ReadDir(b.DataDir); err == nil {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the failed start left data directory %s behind with %v", b.DataDir, names)
	}

	// Once the port is free, the node joins and serves.
	if err := busy.Close(); err != nil {
		t.Fatal(err)
	}
	b.Start()
	proctest.WaitFor(t, 30*time.Second, "the new node to read the cluster's data", func() error {
		r := b.CLI("kv", "get", "k")
		if r.OK() && r.Stdout != "v\n" {
			t.Fatalf("get through the new node: %v", r)
		}
		return r.Err()
	})
}

// TestCLIExplainServerUnavailable: "cannot reach a shard node at HOST" is
// for a HOST the CLI could not connect to. When HOST answers that the
// cluster is unavailable (its kv client timed out; the last internal error
// was a refused connection to another node), the CLI must not claim HOST is
// unreachable. The server message below is the one `shard kv put` prints
// through a live node whose two peers were killed (TestE2EQuorumLoss).
func TestCLIExplainServerUnavailable(t *testing.T) {
	const host = "127.0.0.1:43969"
	server := status.Error(codes.Unavailable, serverpb.ClusterUnavailablePrefix+`kv: unavailable: context deadline exceeded (last error: unavailable: `+
		`127.0.0.1:32855: connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:32855: connect: connection refused")`)
	if msg := explain(host, server).Error(); strings.Contains(msg, "cannot reach a shard node at "+host) {
		t.Errorf("a server-side unavailable error is reported as an unreachable --host: %q\n"+
			"cause: cmd/shard/client.go explain matches \"connection refused\"/\"connection error\" anywhere in the "+
			"status message; server/admin.go toStatus maps kv.ErrUnavailable to codes.Unavailable and its message "+
			"embeds the kv client's last dial error to another node", msg)
	}
	// The client-side dial failure stays "cannot reach".
	client := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp `+
		host+`: connect: connection refused"`)
	if msg := explain(host, client).Error(); !strings.Contains(msg, "cannot reach a shard node at "+host) {
		t.Errorf("a refused connection to --host: %q", msg)
	}
}

// TestCLIKeysRoundTrip: a key as `kv scan` prints it can be given back to
// `kv get`, for keys with escapes, high bytes and the smallest user key.
func TestCLIKeysRoundTrip(t *testing.T) {
	c := proctest.NewCluster(t)
	n := c.AddNode()
	n.Start()
	keys := []string{`\x03`, `\x03\x00`, `back\\slash`, `tab\x09`, `caf\xc3\xa9`, `\xff\xfe\xff`, `/user`, `/Max`, "plain"}
	for i, k := range keys {
		v := fmt.Sprintf("value %d", i)
		proctest.WaitFor(t, 30*time.Second, "put "+k, func() error { return n.CLI("kv", "put", k, v).Err() })
	}
	rows, err := scan(n, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(keys) {
		t.Errorf("scan returned %d rows for %d keys: %v", len(rows), len(keys), rows)
	}
	for _, row := range rows {
		r := n.CLI("kv", "get", row.Key)
		if !r.OK() || r.Stdout != row.Value+"\n" {
			t.Errorf("scan printed key %q (value %q), but `kv get %s` gives exit %d, stdout %q, stderr %q\n"+
				"cause: cmd/shard/kv.go prints user keys with keys.Pretty, which names the smallest user key "+
				"\\x03 (keys.MetaMax == keys.UserMin) \"/user\" (keys/keys.go Pretty); keys.Parse reads that back "+
				"as the 5-byte key \"/user\"",
				row.Key, row.Value, row.Key, r.Code, r.Stdout, strings.TrimSpace(r.Stderr))
		}
	}
}
