package wire

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func testTLS(t testing.TB) (*tls.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := LoadOrCreateCert(dir, []string{"db.example", "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

func TestLoadOrCreateCert(t *testing.T) {
	cfg, dir := testTLS(t)
	for name, mode := range map[string]os.FileMode{"node.crt": 0o644, "node.key": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	cert, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cert.DNSNames, []string{"db.example", "localhost"}) {
		t.Errorf("DNS names %q", cert.DNSNames)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"10.1.2.3", "127.0.0.1", "::1"}) {
		t.Errorf("IPs %q", ips)
	}
	if years := cert.NotAfter.Sub(cert.NotBefore).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("valid %.1f years", years)
	}
	if pk, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}

	// Loading again gives the same certificate.
	again, err := LoadOrCreateCert(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.Certificates[0].Certificate[0], cfg.Certificates[0].Certificate[0]) {
		t.Error("second call made a new certificate")
	}

	// Half a pair is an error, not a silent regeneration.
	if err := os.Remove(filepath.Join(dir, "node.crt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCert(dir, nil); err == nil {
		t.Error("key without certificate: no error")
	}
}

func TestTLSRequire(t *testing.T) {
	tlsCfg, dir := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = tlsCfg })
	ctx := testContext(t)
	root := filepath.Join(dir, "node.crt")
	for _, extra := range []string{
		"sslmode=require",
		"sslmode=verify-full sslrootcert=" + root,
		"sslmode=require sslnegotiation=direct",
		"sslmode=require channel_binding=require",
		"sslmode=require channel_binding=disable",
	} {
		c, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, extra))
		if err != nil {
			t.Fatalf("%s: %v", extra, err)
		}
		if _, ok := c.Conn().(*tls.Conn); !ok {
			t.Errorf("%s: connection is %T", extra, c.Conn())
		}
		if !ts.b.lastConnect().TLS {
			t.Errorf("%s: ConnectParams.TLS is false", extra)
		}
		if _, err := c.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
			t.Errorf("%s: %v", extra, err)
		}
		_ = c.Close(ctx)
	}
	// Plain connections still work, without channel binding.
	c, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, "sslmode=disable"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	if _, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, "sslmode=disable channel_binding=require")); err == nil {
		t.Error("channel binding without TLS succeeded")
	}
	// A wrong password fails with channel binding too.
	_, err = pgconn.Connect(ctx, ts.connString(testUser, "wrong", "sslmode=require channel_binding=require"))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Errorf("wrong password with channel binding: %v", err)
	}
}

func TestTLSNotConfigured(t *testing.T) {
	ts := startServer(t, nil)
	ctx := testContext(t)
	if _, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, "sslmode=require")); err == nil || !strings.Contains(err.Error(), "server refused TLS") {
		t.Errorf("sslmode=require against a server without TLS: %v", err)
	}
	c, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, "sslmode=prefer"))
	if err != nil {
		t.Fatalf("sslmode=prefer: %v", err)
	}
	_ = c.Close(ctx)
}

func TestCleartextOverTLS(t *testing.T) {
	tlsCfg, _ := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = tlsCfg; c.AllowCleartextOverTLS = true })
	ctx := testContext(t)
	c, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, "sslmode=require"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	_, err = pgconn.Connect(ctx, ts.connString(testUser, "wrong", "sslmode=require"))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Errorf("wrong cleartext password: %v", err)
	}
	// A plain connection still gets SCRAM.
	c, err = pgconn.Connect(ctx, ts.connString(testUser, testPassword, "sslmode=disable"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
}

// TestUnencryptedDataAfterSSLRequest sends a StartupMessage right behind
// the SSLRequest, in the same packet: it must not be taken as if it came
// over TLS.
func TestUnencryptedDataAfterSSLRequest(t *testing.T) {
	tlsCfg, _ := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = tlsCfg })
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ssl := []byte{0, 0, 0, 8, 4, 210, 22, 47}
	startup, _ := startupMessage(map[string]string{"user": testUser}).Encode(nil)
	if _, err := nc.Write(append(ssl, startup...)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, _ := readAll(nc, buf)
	if got := string(buf[:n]); !strings.Contains(got, "received unencrypted data after SSL request") {
		t.Errorf("got %q", got)
	}
}

// readAll reads until EOF or a full buffer.
func readAll(nc net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := nc.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
