package server

import "time"

// Fault injection for the Jepsen harness (tools/jepsen). Two knobs, each a
// hidden flag of `shard start` and a field of Config:
//
//   - ClockOffset: the node's wall clock runs ahead of (or behind) the
//     machine's. The only wall-clock reading that becomes a timestamp is the
//     timestamp oracle's (tsoServer.clock) on the meta range's leader; MVCC
//     versions, GC thresholds and AS OF reads all derive from the oracle's
//     timestamps. Whatever the offset, the oracle never hands out a
//     timestamp at or below one handed out before: a new leader starts above
//     the persisted window (meta/tso.go), and a leader whose clock falls
//     back keeps counting from its last timestamp.
//   - RPCSourceAddr and RPCListenAddr: where network namespaces are
//     unavailable, the harness puts a TCP proxy at each node's advertised
//     rpc address (RPCAddr) that forwards to where the node really listens
//     (RPCListenAddr); outgoing node-to-node connections are made from
//     RPCSourceAddr, so that the proxy knows which node is calling.

// MaxClockOffset bounds Config.ClockOffset.
const MaxClockOffset = time.Hour

// wallClock is the node's wall clock: time.Now shifted by ClockOffset.
func (c Config) wallClock() func() time.Time {
	if c.ClockOffset == 0 {
		return time.Now
	}
	off := c.ClockOffset
	return func() time.Time { return time.Now().Add(off) }
}

// rpcListenAddr is where the rpc server listens.
func (c Config) rpcListenAddr() string {
	if c.RPCListenAddr != "" {
		return c.RPCListenAddr
	}
	return c.RPCAddr
}
