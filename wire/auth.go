package wire

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/xdg-go/scram"
)

// SCRAM parameters of new verifiers (PostgreSQL's defaults), and the
// bound on what a stored verifier may ask for.
const (
	scramMechanism     = "SCRAM-SHA-256"
	scramPlusMechanism = "SCRAM-SHA-256-PLUS"
	scramIterations    = 4096
	scramSaltLen       = 16
	maxScramIterations = 10_000_000
)

// SCRAMVerifier is a role's SCRAM-SHA-256 verifier: what the server stores
// instead of the password. Its String form is PostgreSQL's
// pg_authid.rolpassword format.
type SCRAMVerifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// String returns the verifier as
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" (base64).
func (v SCRAMVerifier) String() string {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%s$%d:%s$%s:%s", scramMechanism, v.Iterations, b64(v.Salt), b64(v.StoredKey), b64(v.ServerKey))
}

// MakeVerifier returns the PostgreSQL-format SCRAM-SHA-256 verifier of
// password, with a random 16-byte salt and 4096 iterations. The password
// is normalized with SASLprep, or used as is when SASLprep rejects it, as
// PostgreSQL does.
func MakeVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("wire: salt: %w", err)
	}
	stored, server, err := scramKeys(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	return SCRAMVerifier{Iterations: scramIterations, Salt: salt, StoredKey: stored, ServerKey: server}.String(), nil
}

// ParseVerifier parses a verifier in PostgreSQL's format. Errors wrap
// ErrInvalidVerifier.
func ParseVerifier(s string) (SCRAMVerifier, error) {
	bad := func(why string) (SCRAMVerifier, error) {
		return SCRAMVerifier{}, fmt.Errorf("%w: %s", ErrInvalidVerifier, why)
	}
	mech, rest, ok := strings.Cut(s, "$")
	if !ok || mech != scramMechanism {
		return bad("not " + scramMechanism)
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return bad("missing keys")
	}
	iters, salt64, ok1 := strings.Cut(params, ":")
	stored64, server64, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return bad("malformed")
	}
	var v SCRAMVerifier
	var err error
	if v.Iterations, err = strconv.Atoi(iters); err != nil || v.Iterations < 1 || v.Iterations > maxScramIterations {
		return bad("bad iteration count")
	}
	dec := base64.StdEncoding.DecodeString
	if v.Salt, err = dec(salt64); err != nil || len(v.Salt) == 0 {
		return bad("bad salt")
	}
	if v.StoredKey, err = dec(stored64); err != nil || len(v.StoredKey) != sha256.Size {
		return bad("bad stored key")
	}
	if v.ServerKey, err = dec(server64); err != nil || len(v.ServerKey) != sha256.Size {
		return bad("bad server key")
	}
	return v, nil
}

// matches reports whether password is the one v was made from.
func (v SCRAMVerifier) matches(password string) bool {
	stored, server, err := scramKeys(password, v.Salt, v.Iterations)
	return err == nil && hmac.Equal(stored, v.StoredKey) && hmac.Equal(server, v.ServerKey)
}

func (v SCRAMVerifier) credentials() scram.StoredCredentials {
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(v.Salt), Iters: v.Iterations},
		StoredKey:  v.StoredKey,
		ServerKey:  v.ServerKey,
	}
}

// scramKeys derives StoredKey and ServerKey from a password.
func scramKeys(password string, salt []byte, iters int) (stored, server []byte, err error) {
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		client, err = scram.SHA256.NewClientUnprepped("", password, "")
		if err != nil {
			return nil, nil, fmt.Errorf("wire: scram: %w", err)
		}
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
	if err != nil {
		return nil, nil, fmt.Errorf("wire: scram: %w", err)
	}
	return creds.StoredKey, creds.ServerKey, nil
}

// mockVerifier is the verifier used for a role without one: its salt is
// stable per role and its keys match no password, so an unknown role goes
// through the same exchange as a wrong password (PostgreSQL's mock
// authentication).
func (s *Server) mockVerifier(role string) SCRAMVerifier {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, s.mockKey[:])
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(role))
		return m.Sum(nil)
	}
	return SCRAMVerifier{
		Iterations: scramIterations,
		Salt:       derive("salt")[:scramSaltLen],
		StoredKey:  derive("stored"),
		ServerKey:  derive("server"),
	}
}

func authFailed(user string) *pgerror.Error {
	return &pgerror.Error{Code: pgerror.CodeInvalidPassword, Severity: pgerror.SeverityFatal,
		Message: fmt.Sprintf("password authentication failed for user %q", user)}
}

// authenticate runs the authentication exchange for user: nothing when
// insecure, a cleartext password over TLS when allowed, SCRAM-SHA-256
// otherwise. Every failure is FATAL 28P01, whether the role exists or not.
// AuthenticationOk is sent later, once the session is open.
func (c *conn) authenticate(user string) error {
	if c.s.cfg.Insecure {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.StartupTimeout)
	defer cancel()
	if c.tls && c.s.cfg.AllowCleartextOverTLS {
		return c.authCleartext(ctx, user)
	}
	return c.authSCRAM(ctx, user)
}

// verifier returns user's verifier, or a mock one and false.
func (c *conn) verifier(ctx context.Context, user string) (SCRAMVerifier, bool) {
	s, err := c.s.backend.Verifier(ctx, user)
	if err == nil {
		v, err := ParseVerifier(s)
		if err == nil {
			return v, true
		}
		c.s.log.Warn("role has an invalid SCRAM verifier", "user", user, "err", err)
	}
	return c.s.mockVerifier(user), false
}

func (c *conn) authCleartext(ctx context.Context, user string) error {
	_ = c.w.send(&pgproto3.AuthenticationCleartextPassword{})
	body, err := c.authResponse()
	if err != nil {
		return err
	}
	var m pgproto3.PasswordMessage
	if err := m.Decode(body); err != nil {
		return protocolErrorf("invalid password message: %v", err)
	}
	v, known := c.verifier(ctx, user)
	if ok := v.matches(m.Password); !ok || !known {
		return c.authError(user)
	}
	return nil
}

func (c *conn) authSCRAM(ctx context.Context, user string) error {
	// Over TLS, SCRAM-SHA-256-PLUS binds the exchange to the server's
	// certificate (tls-server-end-point), so a man in the middle holding
	// another certificate cannot relay it; PostgreSQL lists it first.
	cb := c.s.channelBinding
	mechanisms := []string{scramMechanism}
	if c.tls && cb != nil {
		mechanisms = []string{scramPlusMechanism, scramMechanism}
	}
	_ = c.w.send(&pgproto3.AuthenticationSASL{AuthMechanisms: mechanisms})
	body, err := c.authResponse()
	if err != nil {
		return err
	}
	var first pgproto3.SASLInitialResponse
	if err := first.Decode(body); err != nil {
		return protocolErrorf("malformed SASL message: %v", err)
	}
	if !slices.Contains(mechanisms, first.AuthMechanism) {
		return protocolErrorf("client selected an invalid SASL authentication mechanism")
	}
	// The GS2 flag must agree with the mechanism: 'p' (binding) exactly
	// with the PLUS variant.
	plus, binds := first.AuthMechanism == scramPlusMechanism, len(first.Data) > 0 && first.Data[0] == 'p'
	if plus != binds {
		return protocolErrorf("malformed SCRAM message").
			WithDetail("The channel binding flag does not match the selected mechanism %s.", first.AuthMechanism)
	}
	// PostgreSQL clients leave the SCRAM user name empty: the role is the
	// startup packet's user.
	known := false
	srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) {
		var v SCRAMVerifier
		v, known = c.verifier(ctx, user)
		return v.credentials(), nil
	})
	if err != nil {
		return fmt.Errorf("wire: scram server: %w", err)
	}
	conv := srv.NewConversation()
	if len(mechanisms) > 1 {
		// Advertised PLUS: a client that says it could bind but thinks
		// the server cannot ('y') is being downgraded.
		conv = srv.NewConversationWithChannelBinding(*cb)
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return c.authError(user)
	}
	_ = c.w.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if body, err = c.authResponse(); err != nil {
		return err
	}
	var final pgproto3.SASLResponse
	if err := final.Decode(body); err != nil {
		return protocolErrorf("malformed SASL message: %v", err)
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil || !conv.Valid() || !known {
		return c.authError(user)
	}
	_ = c.w.send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	return nil
}

// serverEndpointBinding returns the tls-server-end-point channel binding
// of cfg's certificate, or nil when cfg does not have exactly one fixed
// certificate (then which one a client saw is not known here).
func serverEndpointBinding(cfg *tls.Config) *scram.ChannelBinding {
	if cfg == nil || len(cfg.Certificates) != 1 || cfg.GetCertificate != nil || cfg.GetConfigForClient != nil {
		return nil
	}
	cert := cfg.Certificates[0]
	leaf := cert.Leaf
	if leaf == nil {
		if len(cert.Certificate) == 0 {
			return nil
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil
		}
	}
	// The binding is the hash of the certificate the client received,
	// which xdg-go computes from a client's view of the connection.
	cb, err := scram.NewTLSServerEndpointBinding(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}})
	if err != nil {
		return nil
	}
	return &cb
}

// authError is 28P01, or 57P01 when the failure came from the server
// shutting down.
func (c *conn) authError(user string) error {
	if c.s.ctx.Err() != nil {
		return errShuttingDown()
	}
	return authFailed(user)
}

// authResponse flushes the pending authentication request and reads the
// client's answer, which must be a password message ('p').
func (c *conn) authResponse() ([]byte, error) {
	if err := c.w.flush(); err != nil {
		return nil, err
	}
	typ, body, err := c.fr.next()
	if err != nil {
		return nil, err
	}
	if typ != 'p' {
		if typ == 'X' {
			return nil, errClientLeft
		}
		return nil, protocolErrorf("expected password response, got message type %d", typ)
	}
	return body, nil
}

// errClientLeft ends a connection the client closed with Terminate.
var errClientLeft = errors.New("client terminated the connection")
