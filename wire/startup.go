package wire

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Startup request codes (the first four bytes of an untyped packet).
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	// alpnProtocol is the ALPN name PostgreSQL clients offer (and require
	// for direct TLS).
	alpnProtocol = "postgresql"
	// tlsHandshakeRecord starts a TLS ClientHello: a client using direct
	// TLS (sslnegotiation=direct) sends it instead of an SSLRequest.
	tlsHandshakeRecord = 0x16
)

// startup runs the startup phase: SSLRequest, GSSENCRequest and
// CancelRequest packets, then the StartupMessage. It returns the
// connection's parameters, or nil when there is nothing more to do (a
// CancelRequest was served). A *pgerror.Error is sent as FATAL.
func (c *conn) startup() (*ConnectParams, error) {
	sslDone, gssDone := false, false
	if c.s.cfg.TLS != nil {
		b, err := c.fr.r.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] == tlsHandshakeRecord {
			if err := c.startTLS(true); err != nil {
				return nil, err
			}
			sslDone, gssDone = true, true
		}
	}
	for {
		code, body, err := c.fr.startupPacket()
		if err != nil {
			return nil, err
		}
		switch code {
		case cancelRequestCode:
			var m pgproto3.CancelRequest
			if err := m.Decode(body); err != nil {
				return nil, protocolErrorf("invalid cancel request: %v", err)
			}
			c.s.handleCancelRequest(m.ProcessID, m.SecretKey)
			return nil, nil
		case sslRequestCode:
			if sslDone || len(body) != 4 {
				return nil, unsupportedProtocol(code)
			}
			sslDone = true
			if c.s.cfg.TLS == nil {
				if _, err := c.rw.Write([]byte{'N'}); err != nil {
					return nil, err
				}
				continue
			}
			if c.fr.buffered() > 0 {
				// Bytes sent before the handshake would be taken as if they
				// had been encrypted (CVE-2021-23214).
				return nil, protocolErrorf("received unencrypted data after SSL request").
					WithDetail("This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.")
			}
			if _, err := c.rw.Write([]byte{'S'}); err != nil {
				return nil, err
			}
			if err := c.startTLS(false); err != nil {
				return nil, err
			}
			gssDone = true
		case gssEncRequestCode:
			if gssDone || len(body) != 4 {
				return nil, unsupportedProtocol(code)
			}
			gssDone = true
			if _, err := c.rw.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		default:
			return c.startupMessage(code, body)
		}
	}
}

// startupMessage parses a StartupMessage. Protocol 3.x with x > 0 and
// unknown "_pq_." options are answered with NegotiateProtocolVersion (3.0),
// as PostgreSQL does; other major versions are refused.
func (c *conn) startupMessage(version uint32, body []byte) (*ConnectParams, error) {
	if version>>16 != 3 {
		return nil, unsupportedProtocol(version)
	}
	opts, err := parseStartupOptions(body[4:])
	if err != nil {
		return nil, err
	}
	var unknown []string
	for k := range opts {
		if strings.HasPrefix(k, "_pq_.") {
			unknown = append(unknown, k)
			delete(opts, k)
		}
	}
	if version&0xffff != 0 || len(unknown) > 0 {
		_ = c.w.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	p := &ConnectParams{
		User:       opts["user"],
		Database:   opts["database"],
		Options:    opts,
		RemoteAddr: c.nc.RemoteAddr(),
		TLS:        c.tls,
	}
	if p.User == "" {
		return nil, &pgerror.Error{Code: pgerror.CodeInvalidAuthorizationSpec, Severity: pgerror.SeverityFatal,
			Message: "no PostgreSQL user name specified in startup packet"}
	}
	if p.Database == "" {
		p.Database = p.User
	}
	return p, nil
}

// parseStartupOptions parses the name/value pairs of a StartupMessage:
// NUL-terminated strings, ended by an empty name.
func parseStartupOptions(b []byte) (map[string]string, error) {
	opts := make(map[string]string)
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, protocolErrorf("invalid startup packet layout: expected terminator as last byte")
		}
		if i == 0 {
			if len(b) != 1 {
				return nil, protocolErrorf("invalid startup packet layout: expected terminator as last byte")
			}
			return opts, nil
		}
		name := string(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return nil, protocolErrorf("invalid startup packet layout: missing value for %q", name)
		}
		opts[name] = string(b[:j])
		b = b[j+1:]
	}
}

func unsupportedProtocol(code uint32) *pgerror.Error {
	return protocolErrorf("unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", code>>16, code&0xffff)
}

// startTLS runs the server side of the TLS handshake, after an SSLRequest
// or, when direct, on the client's first bytes; messages then go over TLS.
func (c *conn) startTLS(direct bool) error {
	cfg := c.s.tls
	// The frame reader may hold the ClientHello's first bytes (direct
	// TLS), so the handshake reads through it.
	tc := tls.Server(&bufferedConn{Conn: c.nc, r: c.fr.r}, cfg)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		c.s.log.Warn("TLS handshake failed", "remote", c.nc.RemoteAddr().String(), "err", err)
		return err
	}
	if direct && tc.ConnectionState().NegotiatedProtocol != alpnProtocol {
		c.s.log.Warn("direct TLS connection without ALPN postgresql", "remote", c.nc.RemoteAddr().String())
		return io.ErrUnexpectedEOF
	}
	c.rw, c.tls = tc, true
	c.fr = newFrameReader(tc, c.s.cfg.MaxMessageSize)
	c.w.w = tc
	return nil
}

// withALPN returns a copy of cfg that offers PostgreSQL's ALPN name.
func withALPN(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	for _, p := range cfg.NextProtos {
		if p == alpnProtocol {
			return cfg
		}
	}
	cfg.NextProtos = append(cfg.NextProtos, alpnProtocol)
	return cfg
}

// bufferedConn is a net.Conn whose reads go through r.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
