package wire

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// conn is one client connection. Its goroutine (run) owns every field but
// mu; a reader goroutine it starts after authentication feeds it frames.
type conn struct {
	s *Server
	// nc is the accepted connection; rw is what messages go over (nc or
	// a TLS connection on top of it).
	nc, rw net.Conn
	fr     *frameReader
	w      msgWriter
	tls    bool

	pid, secret uint32
	session     Session

	// ctx is canceled when the server closes or the client goes away; the
	// context of every call into the session derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	// frames carries the reader goroutine's messages; stopReader ends it
	// and readerDone says it has ended.
	frames     chan frame
	stopReader chan struct{}
	readerDone chan struct{}
	// readErr holds a read error that the COPY reader received, for the
	// main loop to act on.
	readErr error
	// terminated is set when the client sent Terminate; fatalSent when
	// the session's error was FATAL. Either ends the connection.
	terminated, fatalSent bool

	ext extendedState

	mu struct {
		sync.Mutex
		// call is the context of the calls into the session, derived
		// from ctx, and cancelCall cancels it. Calls share one context
		// until a CancelRequest cancels it, so that a call makes no
		// context of its own; the next call then makes a new one.
		call       context.Context
		cancelCall context.CancelFunc
	}
}

// frame is one client message, or the read error that ends the stream.
type frame struct {
	typ  byte
	body []byte
	err  error
}

func errShuttingDown() *pgerror.Error {
	return &pgerror.Error{Code: pgerror.CodeAdminShutdown, Severity: pgerror.SeverityFatal,
		Message: "terminating connection due to administrator command"}
}

// serveConn runs one accepted connection to its end.
func (s *Server) serveConn(nc net.Conn) {
	c := &conn{s: s, nc: nc, rw: nc}
	c.fr = newFrameReader(nc, s.cfg.MaxMessageSize)
	c.w.w = nc
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	defer c.cancel()
	c.run()
}

// run is the connection's lifecycle: startup (TLS, protocol), SCRAM
// authentication, Backend.Connect, then messages until the client leaves,
// an error ends the connection or the server closes.
func (c *conn) run() {
	log := c.s.log.With("remote", c.nc.RemoteAddr().String())
	params, err := c.startup()
	if err != nil {
		c.fail(log, "startup failed", err)
		return
	}
	if params == nil { // a CancelRequest, or a client that gave up
		return
	}
	log = log.With("user", params.User, "database", params.Database)
	if err := c.authenticate(params.User); err != nil {
		c.fail(log, "authentication failed", err)
		return
	}
	connectCtx, cancel := context.WithDeadline(c.ctx, time.Now().Add(c.s.cfg.StartupTimeout))
	session, err := c.s.backend.Connect(connectCtx, *params)
	cancel()
	if err != nil {
		// Whatever the backend returns goes to the client as FATAL.
		if c.s.ctx.Err() != nil {
			err = errShuttingDown()
		} else {
			err = pgerror.Flatten(err)
		}
		c.fail(log, "connect failed", err)
		return
	}
	c.session = session
	defer c.closeSession()

	// Clear the startup deadline before registering: Close sets its
	// deadlines after marking the server closed, so it cannot lose.
	_ = c.nc.SetDeadline(time.Time{})
	var key [4]byte
	_, _ = rand.Read(key[:])
	c.secret = binary.BigEndian.Uint32(key[:])
	if err := c.s.register(c); err != nil {
		c.fail(log, "connection refused", err)
		return
	}
	defer c.s.unregister(c)
	log = log.With("pid", c.pid)
	log.Debug("connection authenticated", "tls", c.tls)

	_ = c.w.send(&pgproto3.AuthenticationOk{})
	for _, p := range session.Parameters() {
		_ = c.w.send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	_ = c.w.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: key[:]})
	c.readyForQuery()

	c.frames = make(chan frame)
	c.stopReader = make(chan struct{})
	c.readerDone = make(chan struct{})
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		c.readLoop()
	}()
	// Stop the reader: closing the connection unblocks its read,
	// stopReader its send. Then the session is closed (deferred above).
	defer func() {
		_ = c.rw.Close()
		close(c.stopReader)
		<-c.readerDone
	}()

	err = c.serve()
	switch {
	case err == nil && c.fatalSent:
		log.Warn("session ended the connection with a FATAL error")
	case err == nil:
		log.Debug("connection closed by client")
	case c.s.ctx.Err() != nil:
		log.Debug("connection closed by server shutdown")
		c.sendFatal(errShuttingDown())
	default:
		var pe *pgerror.Error
		if errors.As(err, &pe) {
			c.count(pe)
			log.Warn("closing connection", "code", pe.Code, "err", pe.Message)
			c.sendFatal(pe)
		} else {
			log.Debug("connection lost", "err", err)
		}
	}
}

// fail ends a connection before it is ready: a *pgerror.Error is sent as
// FATAL, any other error (the client left) only logged.
func (c *conn) fail(log *slog.Logger, what string, err error) {
	var pe *pgerror.Error
	if !errors.As(err, &pe) {
		if c.s.ctx.Err() != nil {
			c.sendFatal(errShuttingDown())
			return
		}
		log.Debug(what, "err", err)
		return
	}
	c.count(pe)
	log.Warn(what, "code", pe.Code, "err", pe.Message)
	c.sendFatal(pe)
}

// count counts an error that ends the connection.
func (c *conn) count(pe *pgerror.Error) {
	switch pe.Code {
	case pgerror.CodeInvalidPassword:
		c.s.metrics.authFailures.Add(1)
	case pgerror.CodeProtocolViolation:
		c.s.metrics.protocolErrors.Add(1)
	}
}

// sendFatal sends err as a FATAL ErrorResponse and flushes; the caller
// closes the connection.
func (c *conn) sendFatal(err error) {
	_ = c.w.send(errorResponse(err, pgerror.SeverityFatal))
	_ = c.w.flush()
}

// readLoop reads messages and hands them to the main loop until a read
// fails; the failure is handed over too. A client that goes away cancels
// the connection's context, and with it the statement running now.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	for {
		typ, body, err := c.fr.next()
		if err != nil {
			var pe *pgerror.Error
			if !errors.As(err, &pe) {
				c.cancel()
			}
			select {
			case c.frames <- frame{err: err}:
			case <-c.stopReader:
			}
			return
		}
		select {
		case c.frames <- frame{typ: typ, body: body}:
		case <-c.stopReader:
			return
		}
	}
}

// next returns the next frame from the reader.
func (c *conn) next() frame {
	if c.readErr != nil {
		return frame{err: c.readErr}
	}
	return <-c.frames
}

// serve is the main loop: one message at a time until Terminate (nil), a
// read or write error, or a protocol violation (a *pgerror.Error to send
// as FATAL).
func (c *conn) serve() error {
	for {
		if err := c.s.ctx.Err(); err != nil {
			return err
		}
		f := c.next()
		if f.err != nil {
			return f.err
		}
		if err := c.dispatch(f.typ, f.body); err != nil {
			return err
		}
		if c.terminated {
			return nil
		}
		if c.fatalSent {
			_ = c.w.flush()
			return nil
		}
		if c.w.err != nil {
			return c.w.err
		}
	}
}

// dispatch handles one message.
func (c *conn) dispatch(typ byte, body []byte) error {
	if typ == 'X' {
		c.terminated = true
		return nil
	}
	msg, err := decodeFrontend(typ, body)
	if err != nil {
		return err
	}
	if c.ext.ignoreTillSync && typ != 'S' {
		return nil
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		c.simpleQuery(m.String)
	case *pgproto3.Parse:
		c.parse(m)
	case *pgproto3.Bind:
		c.bind(m)
	case *pgproto3.Describe:
		c.describe(m)
	case *pgproto3.Execute:
		c.execute(m)
	case *pgproto3.Close:
		c.closeMsg(m)
	case *pgproto3.Sync:
		c.sync()
	case *pgproto3.Flush:
		_ = c.w.flush()
	case *pgproto3.FunctionCall:
		c.sendError(pgerror.Unsupported("fastpath function calls are not supported"))
		c.readyForQuery()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Left over from a COPY that failed: PostgreSQL ignores them.
	}
	return nil
}

// callContext returns the context of a call into the session, which a
// CancelRequest cancels. Nothing a call starts may go on using it after
// the call returns: the call's end does not cancel it.
func (c *conn) callContext() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.call == nil || c.mu.call.Err() != nil {
		c.mu.call, c.mu.cancelCall = context.WithCancel(c.ctx)
	}
	return c.mu.call
}

// cancelRunning cancels the running call, if any: a CancelRequest that
// comes between two calls cancels a context no call uses any more. Safe
// to call from any goroutine.
func (c *conn) cancelRunning() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.cancelCall != nil {
		c.mu.cancelCall()
	}
}

// closeSession closes the portals, then the session.
func (c *conn) closeSession() {
	c.ext.closePortals()
	c.session.Close()
}

// sendError sends err as an ErrorResponse. An error the session marked
// FATAL ends the connection once it is sent, without ReadyForQuery.
func (c *conn) sendError(err error) {
	m := errorResponse(err, "")
	if m.Severity == pgerror.SeverityFatal || m.Severity == "PANIC" {
		c.fatalSent = true
	}
	_ = c.w.send(m)
}

// sendChangedParameters reports parameters a statement changed.
func (c *conn) sendChangedParameters() {
	for _, p := range c.session.ChangedParameters() {
		_ = c.w.send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
}

// readyForQuery ends a simple query or a Sync: portals go when no
// transaction block is open, then ReadyForQuery is sent and flushed.
func (c *conn) readyForQuery() {
	if c.fatalSent {
		return
	}
	status := c.session.TxnStatus()
	if status == 'I' {
		c.ext.closePortals()
	}
	_ = c.w.send(&pgproto3.ReadyForQuery{TxStatus: status})
	_ = c.w.flush()
}

// endImplicit ends the implicit transaction of a simple query or of the
// messages up to a Sync, for sessions that keep one (see Syncer).
func (c *conn) endImplicit() {
	s, ok := c.session.(Syncer)
	if !ok || c.fatalSent {
		return
	}
	err := s.Sync(c.callContext())
	if err != nil {
		c.sendError(err)
	}
}
