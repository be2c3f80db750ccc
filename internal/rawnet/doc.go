// Package rawnet makes the reads and writes of a node's TCP connections
// (node-to-node gRPC and PostgreSQL clients) raw system calls, which the Go
// scheduler does not see.
//
// # Why
//
// A goroutine's ordinary system call (syscall.Syscall) marks its processor
// (P) as in a system call. When the call outlasts a tick of the runtime's
// monitor thread (sysmon, every 20 µs while it finds work), and the process
// has other goroutines to run, sysmon hands the P to another thread, waking
// it; when the call returns, its thread finds its P gone, queues the
// goroutine and goes to sleep. Every retake also keeps sysmon polling at 20
// µs. On a busy node sharing a few cores, a loopback socket write (which
// runs the receiver's side of TCP too) often outlasts that tick, so a
// message cost two or three context switches more than its system calls.
// `shard bench select --concurrency 32` on a 2-vCPU VM switched context
// 2.3-3.2 times per select with ordinary calls and 1.2-1.4 with raw ones,
// and spent a fifth less CPU per select over five interleaved pairs
// (docs/benchmarks.md, sixteenth round).
//
// # Invariants
//
//   - Only calls that cannot block are made raw: the sockets are
//     non-blocking (the runtime's poller made them so), a call that would
//     block returns EAGAIN, and the wait for readiness is the runtime
//     poller's (syscall.RawConn), which releases the P as before. A raw
//     call holds its P for as long as the kernel takes to copy the bytes.
//   - A Conn behaves as the *net.TCPConn it wraps: the same deadlines,
//     errors (*net.OpError around an *os.SyscallError, net.ErrClosed, a
//     timeout for an expired deadline, io.EOF at the end), and one Write's
//     bytes are never interleaved with another's.
//   - Where raw calls are not available (not Linux), Wrap returns the
//     connection unchanged.
package rawnet
