// Command shard is the shard database: the server (`shard start`), the CLI
// that talks to a running node, and later the demo. Flags are parsed only
// here; each command is a thin wrapper over a library package.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	_ "time/tzdata" // SET TimeZone works on machines without zoneinfo
)

// usageError is a mistake in the command line: printed with a hint, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "start a 3-node cluster in this process with a sample database, and print how to connect", runDemo},
		{"start", "start a node (bootstraps a new cluster unless --join is given)", runStart},
		{"db", "db create NAME --shard-key COL [--template T] | list | delete NAME | connect NAME: manage databases through the HTTP API", runDB},
		{"token", "token create [--name N] | list | delete ID: API tokens", runToken},
		{"nodes", "list the cluster's nodes", runNodes},
		{"ranges", "list ranges with their load; `ranges hot` the busiest; `ranges explain RANGE` the controller's reasoning; `ranges split KEY`; `ranges transfer-leader RANGE NODE`; `ranges relocate RANGE FROM TO`; `ranges merge RANGE`", runRanges},
		{"node", "node drain ID | decommission ID | activate ID: move a node's leaderships or replicas away", runNode},
		{"events", "list the controller's decisions and why: events [--range R] [--limit N]", runEvents},
		{"kv", "debug key-value access: kv put KEY VALUE | get KEY [--as-of TS] | delete KEY | scan [START [END]] | txn 'get A; put B V; delete C'", runKV},
		{"bench", "bench WORKLOAD [--compare postgres|etcd]: run a benchmark (kv, ycsb, select, tpcb, failover) on a 3-node cluster it starts, and on a peer side by side", runBench},
		{"jepsen", "run Jepsen-style fault tests: jepsen --workload W --nemesis N --time D --count K", runJepsen},
		{"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			if err == nil {
				return 0
			}
			fmt.Fprintf(stderr, "shard %s: %v\n", c.name, err)
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "run 'shard %s -h' for usage\n", c.name)
				return 2
			}
			return 1
		}
	}
	fmt.Fprintf(stderr, "shard: unknown command %q\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: shard COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'shard COMMAND -h' for a command's flags")
}
