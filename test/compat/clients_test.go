package compat

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientTimeout bounds one client run against one side.
const clientTimeout = 2 * time.Minute

// systemPython is Debian's Python, the one python3-psycopg2 installs into
// (a python3 earlier on PATH may be another installation without it).
const systemPython = "/usr/bin/python3"

// client runs one client program against a server and returns its
// transcript; an error means the program did not get through its script
// (the transcript then holds what it printed so far).
type client struct {
	name string
	// available reports why the client cannot run on this machine ("" if
	// it can).
	available func() string
	run       func(ctx context.Context, srv server) (string, error)
}

// testClients runs every client against both sides, one subtest each, and
// compares the transcripts.
func (s *suite) testClients(t *testing.T) {
	for i, c := range s.clients() {
		t.Run(c.name, func(t *testing.T) {
			if why := c.available(); why != "" {
				if s.cfg.ci {
					t.Fatal(why)
				}
				t.Skip(why)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*clientTimeout)
			defer cancel()
			ref, err := c.run(ctx, s.ref)
			if err != nil {
				t.Fatalf("against the reference PostgreSQL: %v\ntranscript:\n%s", err, ref)
			}
			tgt, err := c.run(ctx, s.tgt.at(i))
			if err != nil {
				t.Errorf("against %s: %v\ntranscript so far:\n%s", s.tgt.describe(), err, tgt)
			}
			if s.cfg.target == targetShard {
				for _, prefix := range knownDeviations[c.name] {
					ref, tgt = dropLines(ref, prefix), dropLines(tgt, prefix)
					t.Logf("known deviation, not compared: %q", prefix)
				}
			}
			if d := unifiedDiff(sideReference, sideTarget, ref, tgt); d != "" {
				t.Errorf("%s transcript differs from PostgreSQL's:\n%s", c.name, d)
			}
			if testing.Verbose() {
				t.Logf("transcript:\n%s", ref)
			}
		})
	}
}

// knownDeviations lists, per client, transcript lines (by prefix) where
// shard knowingly differs from PostgreSQL; each is documented in package
// sql's doc.go.
//
//   - An extended-protocol pipeline (a pgx batch) is not one implicit
//     transaction: each statement commits on its own, so the rows a batch
//     inserted before its failing statement stay, and the counts after it
//     differ.
var knownDeviations = map[string][]string{
	"pgx": {"rows of the failed batch:", "after the errors:"},
}

// dropLines removes the lines starting with prefix.
func dropLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (s *suite) clients() []client {
	always := func() string { return "" }
	goClient := func(run func(context.Context, string, *transcript) error) func(context.Context, server) (string, error) {
		return func(ctx context.Context, srv server) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, clientTimeout)
			defer cancel()
			var tr transcript
			err := run(ctx, srv.url(defaultDB), &tr)
			return tr.String(), err
		}
	}
	nodeDir, _ := filepath.Abs(filepath.Join("clients", "node"))
	pythonDir, _ := filepath.Abs(filepath.Join("clients", "python"))
	return []client{
		{name: "pgx", available: always, run: goClient(runPgx)},
		{name: "pq", available: always, run: goClient(runPq)},
		{
			name: "node-postgres",
			available: func() string {
				if _, err := exec.LookPath("node"); err != nil {
					return "node is not installed (.ci/run installs nodejs and npm)"
				}
				if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "pg")); err != nil {
					return "node-postgres is not installed: run `npm ci` in test/compat/clients/node (.ci/run does)"
				}
				return ""
			},
			run: func(ctx context.Context, srv server) (string, error) {
				return runProgram(ctx, srv, nodeDir, "node", "client.js")
			},
		},
		{
			name: "psycopg2",
			available: func() string {
				if err := exec.Command(systemPython, "-c", "import psycopg2").Run(); err != nil {
					return fmt.Sprintf("%s cannot import psycopg2 (%v): install the Debian package python3-psycopg2 (.ci/run does)", systemPython, err)
				}
				return ""
			},
			run: func(ctx context.Context, srv server) (string, error) {
				return runProgram(ctx, srv, pythonDir, systemPython, "client.py")
			},
		},
	}
}

// runProgram runs a client program in dir with the connection URL as its
// argument; its stdout is the transcript, and a non-zero exit is an error
// carrying its stderr.
func runProgram(ctx context.Context, srv server, dir, prog string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, append(args, srv.url(defaultDB))...)
	cmd.Dir = dir
	cmd.Env = append(srv.env(defaultDB), "TZ=UTC", "PYTHONDONTWRITEBYTECODE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %v: %v\nstderr:\n%s", prog, args, err, stderr.String())
	}
	return stdout.String(), nil
}
