// Package nemesis injects faults into a cluster under test
// (tools/jepsen/cluster) and records them as a timeline for the report.
//
// # Faults
//
// A [Fault] has a start and, unless it is instant, a heal. The faults, by
// set ([Sets]; [All] lists them with a line of doc each):
//
//	kill       kill-random, kill-minority, kill-leader (of Options.RangeID or a
//	           random range), kill-meta-leader: SIGKILL; the heal restarts the
//	           nodes on their data
//	pause      pause-random, pause-leader: SIGSTOP; the heal sends SIGCONT
//	partition  partition-isolate, partition-halves, partition-bridge,
//	           partition-one-way: drops between nodes ([Grudge]: iptables in
//	           the nodes' namespaces, or the loopback proxies); the heal
//	           removes every drop
//	clock      clock-offset: restart a node with --clock-offset ±[Max/10, Max]
//	           and move the meta range's leadership (the timestamp oracle) to
//	           it; the heal restarts it with the true clock
//	churn      split (a random range inside a database, at a random shard-hash
//	           boundary), transfer-leader (a random range to another replica),
//	           merge (a random range with its right-hand neighbour of the same
//	           database, on the same nodes), move-replica (a follower to a node
//	           without one, or out and back in): instant, through the admin
//	           API; decommission (a random node's replicas move away; the heal
//	           reactivates it unless the controller had removed it)
//	all        every fault; none: no fault
//
// [Lookup] reads a spec of sets and fault names separated by commas.
//
// # Schedule
//
// [Nemesis.Run] (the runner's Faults) alternates a fault-free gap of
// Options.Interval with one fault, drawn with Options.Seed, held for
// Interval and healed, until its context ends; then [Nemesis.HealAll]
// undoes whatever may remain (paused nodes, drops, clock offsets, nodes not
// running, including one that exited on its own) and waits until the
// cluster is whole before the workload's final reads. Only one fault is
// active at a time, so each heal undoes exactly its fault.
//
// # Events
//
// Every start, heal and note is an [Event] stamped by Options.Clock (time
// since the test's start): kind, phase, fault number, nodes, detail,
// error. A fault that fails to start is an event with an error, not an
// error of Run; Run fails only when the cluster cannot be made whole.
// [Nemesis.Faults] pairs the events into the report's faults.
package nemesis
