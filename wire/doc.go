// Package wire is shard's PostgreSQL v3 wire protocol server: it speaks to
// psql, libpq, pgx, lib/pq and the rest, and hands SQL to the layer above
// through the Backend, Session, Statement and Portal interfaces of
// backend.go. It knows the protocol, not SQL: parsing, planning,
// transactions and type encoding belong to the Session.
//
// # Model
//
// A Server owns listeners and connections. Each accepted connection goes
// through three phases on its own goroutine:
//
//  1. Startup. Untyped packets: SSLRequest (answered 'S' and upgraded to
//     TLS when Config.TLS is set, else 'N'), GSSENCRequest ('N'),
//     CancelRequest (served, then the connection closes without a reply),
//     and the StartupMessage (protocol 3.0; a 3.x client gets
//     NegotiateProtocolVersion down to 3.0). A client that opens with a
//     TLS ClientHello (PostgreSQL 17's sslnegotiation=direct) is upgraded
//     at once, and must negotiate the ALPN protocol "postgresql". The
//     whole phase, authentication included, must end within
//     Config.StartupTimeout.
//  2. Authentication. SCRAM-SHA-256 (RFC 7677, via xdg-go/scram) against
//     the verifier Backend.Verifier returns, in PostgreSQL's rolpassword
//     format (MakeVerifier, ParseVerifier). Over TLS with a single
//     certificate, SCRAM-SHA-256-PLUS (channel binding
//     tls-server-end-point) is offered first, as PostgreSQL does, so
//     clients with channel_binding=require work. With AllowCleartextOverTLS a
//     TLS client is asked for its password in cleartext instead, checked
//     against the same verifier. Config.Insecure skips it. An unknown role
//     runs the same exchange against a mock verifier (stable per role, so
//     the salt does not tell) and fails the same way: FATAL 28P01. Then
//     Backend.Connect opens the Session, and AuthenticationOk, the
//     session's ParameterStatus values, BackendKeyData and ReadyForQuery
//     follow.
//  3. Messages. A reader goroutine frames client messages and hands them
//     over one at a time; the connection goroutine runs them against the
//     Session: the simple protocol (simple.go), the extended protocol
//     (extended.go), COPY FROM STDIN (copy.go). Output is buffered and
//     flushed at ReadyForQuery, Flush, CopyInResponse and before the
//     connection closes, or when 32 KiB are pending.
//
// Framing is done here (frame.go), not by pgproto3.Backend: every message
// body is a fresh allocation the connection owns, so a Bind's parameters
// or a CopyData payload can be kept after the next message is read.
// pgproto3 only decodes bodies and encodes replies. A message over
// Config.MaxMessageSize ends the connection with FATAL 08P01 before its
// body is read; bodies over 64 KiB grow as their bytes arrive, so a
// length header alone does not make the server allocate.
//
// # Errors
//
// Everything the Session returns goes through pgerror.Flatten and out as
// an ErrorResponse (severity, code, message, detail, hint, position,
// table, column, constraint). In the simple protocol an error skips the
// rest of the Query's statements; in the extended protocol it skips every
// message up to the next Sync (Terminate still ends the connection).
// Errors that end the connection are sent with severity FATAL: protocol
// violations and oversized messages (08P01), failed authentication
// (28P01), a missing user (28000), Backend.Connect's own error, server
// shutdown (57P01). A Session error whose severity is FATAL is sent as is
// and ends the connection too (no ReadyForQuery). A FunctionCall
// (fastpath) gets 0A000. A client that just goes away is not an error:
// the connection closes silently.
//
// # Cancellation
//
// Each call into the Session (Prepare, Bind, Execute, Sync) runs under a
// context that is canceled by a matching CancelRequest, by the client
// going away, and by Server.Close. The calls of a connection share one
// such context until a CancelRequest cancels it; the next call gets a new
// one, so a call makes no context of its own. Cancel
// keys route across nodes: the backend PID is Config.NodeID (11 bits)
// << 20 | a per-node connection sequence (20 bits), always a positive
// int32, and the secret is random. A node that receives a CancelRequest
// for another node's PID (NodeOfPID) calls Config.ForwardCancel, which
// the server layer wires to SendCancel on that node's SQL address, where
// Server.Cancel acts on it. A cancel that arrives between statements does
// nothing.
//
// # Implicit transactions
//
// A Session that implements Syncer gets Sync at the end of each Query
// message and at each Sync message, to commit or roll back PostgreSQL's
// implicit transaction; portals are closed at ReadyForQuery when
// TxnStatus is 'I'. A Session without it is expected to autocommit
// statement by statement.
//
// # Lifecycle and goroutines
//
// Serve runs an accept loop per listener. Every connection goroutine and
// every reader goroutine is counted by the Server's WaitGroup; a
// connection also waits for its reader before it returns, and closes its
// Session (after its portals) on every path once Connect succeeded.
// Close's shutdown order is written on Close: listeners close, the
// server context is canceled, every connection is woken by a past read
// deadline and sends FATAL 57P01, then Close waits for all goroutines.
// A Session that ignores its context delays Close by as long as it runs.
// A panic in the Session is not recovered: it is a bug, and hiding it
// would leave the session's state unknown.
//
// # Debugging
//
// Server.Metrics counts accepted and open connections, failed
// authentications, protocol violations and cancel requests (local and
// forwarded).
//
// Config.Logger gets one Debug line per connection event (authenticated,
// closed, lost) with remote address, user, database and pid, and Warn
// lines for failed authentication, TLS handshakes and protocol
// violations, with the SQLSTATE. To see the bytes, point psql at the
// server with PGOPTIONS unset and run it under `strace -e read,write`, or
// use pgx's pgconn with a pgproto3 tracer (pgconn.Frontend().Trace); the
// golden tests in testdata/ are wire transcripts that can be read as
// examples of each exchange (go test ./wire -run TestWireScripts -rewrite
// regenerates them). FuzzServerMessages feeds arbitrary bytes after a
// valid startup: `go test ./wire -run '^$' -fuzz FuzzServerMessages`.
package wire
