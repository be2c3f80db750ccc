package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// cliTimeout bounds one CLI process; the CLI's own --timeout (15 s by
// default) normally ends it first.
const cliTimeout = 60 * time.Second

// Result is the outcome of one CLI process.
type Result struct {
	Args    []string
	Stdout  string
	Stderr  string
	Code    int // exit code; -1 if the process could not run or was killed
	Elapsed time.Duration
}

// OK reports exit code 0.
func (r Result) OK() bool { return r.Code == 0 }

// Err is nil for exit code 0 and otherwise describes the failure.
func (r Result) Err() error {
	if r.OK() {
		return nil
	}
	return errors.New(r.String())
}

func (r Result) String() string {
	return fmt.Sprintf("shard %s: exit %d after %v\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code,
		r.Elapsed.Round(time.Millisecond), strings.TrimSpace(r.Stdout), strings.TrimSpace(r.Stderr))
}

// Run runs the shard binary with args and returns what it printed and its
// exit code. It never fails the test, so goroutines may call it.
func (c *Cluster) Run(args ...string) Result {
	return run(c.bin, c.environ(), args)
}

func run(bin string, env, args []string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := startCmd(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		r.Code = -1
		r.Stderr += fmt.Sprintf("\n[proctest: %v]", err)
	}
	if ctx.Err() != nil {
		r.Stderr += fmt.Sprintf("\n[proctest: killed after %v]", cliTimeout)
	}
	return r
}

// CLI runs a client command against this node: `--host RPCADDR` goes right
// after the command words ("kv put", "ranges split", "nodes", ...), because
// flags after the first positional argument are not parsed.
func (n *Node) CLI(args ...string) Result {
	i := commandWords(args)
	full := make([]string, 0, len(args)+2)
	full = append(full, args[:i]...)
	full = append(full, "--host", n.RPCAddr)
	full = append(full, args[i:]...)
	return run(n.c.bin, n.c.environ(), full)
}

// commandWords counts the leading words of args that name the command.
func commandWords(args []string) int {
	switch {
	case len(args) == 0:
		return 0
	case args[0] == "kv" && len(args) > 1:
		return 2
	case args[0] == "ranges" && len(args) > 1 && !strings.HasPrefix(args[1], "-"),
		args[0] == "node" && len(args) > 1:
		return 2
	}
	return 1
}
