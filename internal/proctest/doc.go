// Package proctest starts real `shard` processes for end-to-end tests.
//
// The model: a test builds the shard binary once per test binary
// ([Binary]), makes a [Cluster] (one temporary directory holding every
// node's data directory and logs) and adds [Node]s to it. A Node is a slot
// with fixed addresses and a fixed data directory; it runs at most one
// process at a time, and can be started, stopped (SIGTERM), killed (SIGKILL)
// and restarted any number of times. CLI commands run as separate processes
// of the same binary ([Cluster.Run], [Node.CLI]).
//
// A test reads like an operator's session:
//
//	c := proctest.StartCluster(t, 3) // bootstrap node1, join node2 and node3, wait for 3 replicas
//	if r := c.Node(1).CLI("kv", "put", "k", "v"); !r.OK() {
//		t.Fatal(r)
//	}
//	leader, err := c.LeaderOf(2) // from `shard ranges --json`
//	...
//	leader.Kill9()
//	proctest.WaitFor(t, 10*time.Second, "a write", func() error {
//		return c.Node(3).CLI("kv", "put", "k", "v2").Err()
//	})
//	leader.SetJoin(c.RPCAddrs(leader)...)
//	leader.Start()
//
// TestMain of a package that uses proctest calls [Cleanup] after m.Run.
//
// Moving parts:
//   - build.go: `go build ./cmd/shard` into a temporary directory, once.
//   - node.go: one node's process, its log files, readiness (the
//     "shard node nN of cluster ID" line on stdout) and signals.
//   - cluster.go: node slots, `shard ranges --json`, leaders, waiting for
//     replication.
//   - cli.go: running a CLI command and collecting stdout, stderr and the
//     exit code.
//   - wait.go: polling a condition until it holds; tests never sleep.
//   - spawn.go: internal/spawn's goroutine, locked to its thread, forks every
//     process; [StartProcess] starts a test's helper process (a reference
//     PostgreSQL server, say) the same way.
//
// Lifecycle and guarantees: processes never outlive the test. The cluster's
// t.Cleanup stops every node (SIGTERM, SIGKILL after a short grace period)
// before removing the directory; on Linux every node also gets
// PR_SET_PDEATHSIG=SIGKILL, so a test binary that dies (a panic, a -timeout)
// takes its nodes with it (processes are forked from one locked thread that
// lives until Cleanup, because the signal follows the forking thread, not
// the process: spawn.go); and [Cleanup], called from TestMain, kills any
// process still registered and removes the built binary.
//
// A node process that exits without being told to gets a "=== proctest: ...
// exited on its own" line in its stderr log.
//
// Debugging: when a test fails, the cleanup prints the tail of every node's
// stderr and stdout (PROCTEST_LOG_LINES, default 200 lines per file, 0 for
// all). PROCTEST_KEEP=1 keeps a failed test's directory and prints its path.
// Each start of a node appends to the same log files after a "=== start"
// header, so a restart's logs follow the previous run's.
package proctest
