package workload

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// closeTimeout bounds the goodbye to the server when a connection closes.
const closeTimeout = 5 * time.Second

// connect opens a connection to dsn.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// closeConn closes conn, which may be broken already.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// execAll runs statements in order, stopping at the first error.
func execAll(ctx context.Context, conn *pgx.Conn, statements ...string) error {
	for _, s := range statements {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// copyRows runs copySQL (a COPY ... FROM STDIN in text format) with rows
// 0..n-1, each made by row (one line, with its newline, appended to b).
// pgx's CopyFrom is not used: it speaks the binary format, which shard
// does not support.
func copyRows(ctx context.Context, conn *pgx.Conn, copySQL string, n int64, row func(b []byte, i int64) []byte) error {
	r := &rowReader{n: n, row: row}
	if _, err := conn.PgConn().CopyFrom(ctx, r, copySQL); err != nil {
		return fmt.Errorf("%s: %w", copySQL, err)
	}
	return nil
}

// rowReader reads rows 0..n-1 as row makes them, one at a time.
type rowReader struct {
	n, next int64
	row     func(b []byte, i int64) []byte
	buf     []byte // the current row, reused for the next
	pending []byte // what of buf is still to be read
}

func (r *rowReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.pending) == 0 {
			if r.next == r.n {
				break
			}
			r.buf = r.row(r.buf[:0], r.next)
			r.pending = r.buf
			r.next++
		}
		c := copy(p[n:], r.pending)
		r.pending = r.pending[c:]
		n += c
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// session is a worker's connection. A connection string may name several
// hosts (host1:port1,host2:port2,...): worker id tries them from host id
// mod n on, so the workers spread over the hosts and a worker whose host
// is down connects to the next. A connection that broke (the server
// died) is replaced at the next use, so a run goes on through a node's
// death; the failed attempt is an error of its operation.
type session struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
}

// newSession connects worker id to dsn.
func newSession(ctx context.Context, dsn string, id int) (*session, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	rotateHosts(cfg, id)
	s := &session{cfg: cfg}
	if _, err := s.get(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// rotateHosts makes the host at index id mod n the first that cfg tries,
// the others following in order.
func rotateHosts(cfg *pgx.ConnConfig, id int) {
	n := len(cfg.Fallbacks)
	if n == 0 {
		return
	}
	all := make([]*pgconn.FallbackConfig, 0, n+1)
	all = append(all, &pgconn.FallbackConfig{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig})
	all = append(all, cfg.Fallbacks...)
	k := id % len(all)
	all = append(all[k:], all[:k]...)
	cfg.Host, cfg.Port, cfg.TLSConfig = all[0].Host, all[0].Port, all[0].TLSConfig
	cfg.Fallbacks = all[1:]
}

// get returns the connection, opening a new one if there is none or it
// broke.
func (s *session) get(ctx context.Context) (*pgx.Conn, error) {
	if s.conn != nil && !s.conn.IsClosed() {
		return s.conn, nil
	}
	if s.conn != nil {
		closeConn(s.conn)
		s.conn = nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s.conn = conn
	return conn, nil
}

// close closes the connection, if any.
func (s *session) close() {
	if s != nil && s.conn != nil {
		closeConn(s.conn)
		s.conn = nil
	}
}
