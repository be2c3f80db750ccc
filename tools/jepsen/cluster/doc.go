// Package cluster runs the cluster under test of a Jepsen run: N real
// `shard start` processes, each with its own address, and the network
// between them that the nemeses cut.
//
// # Model
//
// [Start] takes a slot (slot.go), sets up the network, starts node 1 (which
// bootstraps a new cluster), then nodes 2..N (each joining through the
// nodes before it), and waits until the cluster is whole ([Cluster.Whole]:
// every node runs and is live, every range has its replicas and a leader,
// every node answers SQL). A [Node] is a slot with fixed addresses and a
// fixed data directory under the run directory; it runs at most one
// process at a time, and can be killed ([Node.Kill9]), started again on the
// same data ([Node.Start], [Node.Restart]), paused ([Node.Pause], SIGSTOP)
// and resumed ([Node.Resume]), and restarted with a clock offset
// ([Node.SetClockOffset], the hidden `--clock-offset` flag).
//
// Every node gets SHARD_ROOT_PASSWORD: clients log in as root with
// [Cluster.Password] (SCRAM; nodes off loopback cannot run --insecure).
// [Node.DSN] and [Cluster.DSNs] are the workloads' connection strings.
//
// # Networks
//
// Namespaces (root, with ip and iptables): node i runs in namespace
// shard-jepsen-S-ni at 10.199.S.i (S is the slot), on a veth whose root end
// is a port of bridge sjbS at 10.199.S.254, so the harness in the root
// namespace reaches every node, on the default ports (7400, 5433, 8080).
// A partition is an iptables DROP rule in the receiving node's namespace
// ([Cluster.Drop]); [Cluster.Heal] flushes them. See netns.go.
//
// Loopback (anywhere else): node i serves SQL at 127.199.S.i and its rpc
// server behind a TCP proxy of the harness; the nodes tell each other
// apart by source address (hidden flags --rpc-listen-addr and
// --rpc-source-addr), and a partition stalls the proxied connections
// between two nodes. See loopback.go.
//
// Direct (benchmarks): node i listens straight on 127.199.S.i, with no
// proxy; partitions are refused. See direct.go.
//
// In the first two, partitions cut node-to-node traffic only: the harness and the
// clients reach every node, as in Jepsen. [Cluster.Reachable] checks, from
// one node's place in the network, whether another answers.
//
// # Lifecycle and cleanup
//
// [Cluster.Close] kills every process (SIGKILL), then removes every
// namespace, veth, the bridge, the root FORWARD rule and the proxies, and
// releases the slot. It is idempotent and safe from any goroutine: the
// `shard jepsen` command calls it from its signal handler, tests from
// t.Cleanup. A run that dies without Close leaves nothing running (nodes
// are forked through internal/spawn with PR_SET_PDEATHSIG=SIGKILL) but may
// leave network objects: the slot lock (a flock, released by the kernel
// when the run dies) tells the next run that they are leftovers, and Start
// removes them for every slot it can lock.
//
// # Debugging
//
// Node i's logs are Dir/ni/stdout.log and stderr.log, every start appended
// after a "=== start" header with its command line; an exit the harness
// did not ask for is marked "=== cluster: ... exited on its own". The
// network of a live run: `ip netns list | grep shard-jepsen`, `ip netns
// exec shard-jepsen-S-n1 iptables -S INPUT`, `ip link show master sjbS`.
package cluster
