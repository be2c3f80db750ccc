package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Limits of the configuration.
const (
	// MaxNodeID is the largest node ID a cancel key can carry: a backend
	// PID has 11 bits of node ID and 20 bits of connection sequence.
	MaxNodeID = 1<<nodeBits - 1
	// minMessageSize is the smallest MaxMessageSize accepted: every
	// fixed-size message and a short query must fit.
	minMessageSize = 1 << 10
	// maxMessageSize is PostgreSQL's own limit for one message (1 GiB - 1).
	maxMessageSize = 1<<30 - 1
)

// Config configures a Server. DefaultConfig gives the defaults; Serve
// refuses a Config that Validate rejects.
type Config struct {
	// TLS, when set, lets clients upgrade with SSLRequest (and PostgreSQL
	// 17's direct TLS). nil answers SSLRequest with 'N'.
	TLS *tls.Config
	// Insecure trusts every client: no password is asked ("trust").
	Insecure bool
	// AllowCleartextOverTLS asks a TLS client for its password in
	// cleartext (AuthenticationCleartextPassword) and checks it against the
	// role's SCRAM verifier, for clients without SCRAM. Plain connections
	// always use SCRAM-SHA-256.
	AllowCleartextOverTLS bool
	// MaxMessageSize bounds one client message, header included; a larger
	// message closes the connection with FATAL 08P01.
	MaxMessageSize int
	// StartupTimeout bounds the time from accept to the end of
	// authentication (PostgreSQL's authentication_timeout).
	StartupTimeout time.Duration
	// NodeID is this node's ID (at most MaxNodeID); it goes into every
	// backend PID so that any node can route a CancelRequest.
	NodeID uint32
	// ForwardCancel is called, with a deadline, for a CancelRequest whose
	// PID belongs to another node (see NodeOfPID); it usually calls
	// SendCancel with that node's SQL address. nil drops such requests.
	ForwardCancel func(ctx context.Context, nodeID, pid, secret uint32) error
	// Logger receives the server's log; nil discards it. Levels: Debug for
	// one connection's lifecycle (accepted, authenticated, closed), Info
	// for the server's (serving, closed), Warn for what an operator may
	// need to look at (failed authentication, TLS handshake failures,
	// protocol violations, failed cancel forwarding), Error for failures
	// that stop the server (a listener that fails).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: no TLS, SCRAM-SHA-256, 64 MiB
// messages, 60 s to authenticate, node 0.
func DefaultConfig() Config {
	return Config{
		MaxMessageSize: 64 << 20,
		StartupTimeout: time.Minute,
	}
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var errs []error
	if c.MaxMessageSize < minMessageSize || c.MaxMessageSize > maxMessageSize {
		errs = append(errs, fmt.Errorf("max message size must be between %d and %d bytes, not %d", minMessageSize, maxMessageSize, c.MaxMessageSize))
	}
	if c.StartupTimeout <= 0 {
		errs = append(errs, errors.New("startup timeout must be positive"))
	}
	if c.NodeID > MaxNodeID {
		errs = append(errs, fmt.Errorf("node ID %d does not fit a cancel key (at most %d)", c.NodeID, MaxNodeID))
	}
	if c.AllowCleartextOverTLS && c.TLS == nil {
		errs = append(errs, errors.New("cleartext passwords over TLS need a TLS config"))
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		errs = append(errs, errors.New("TLS config has no certificate"))
	}
	return errors.Join(errs...)
}
