package compat

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/proctest"
)

// Timeouts of the reference server's lifecycle.
const (
	pgReadyTimeout = 60 * time.Second // initdb done → accepting password logins
	pgStopGrace    = 15 * time.Second // SIGINT (fast shutdown) → SIGKILL
)

// errNoPostgres means PostgreSQL 15's server programs were not found.
var errNoPostgres = errors.New("compat: PostgreSQL 15 is not installed")

// findPostgres returns the directory holding PostgreSQL 15's postgres,
// initdb, psql and pgbench.
func findPostgres(cfg config) (string, error) {
	var dirs []string
	if cfg.pgBinDir != "" {
		dirs = []string{cfg.pgBinDir}
	} else {
		if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
			dirs = append(dirs, strings.TrimSpace(string(out)))
		}
		dirs = append(dirs, "/usr/lib/postgresql/15/bin")
	}
	var tried []string
	for _, d := range dirs {
		out, err := exec.Command(filepath.Join(d, "postgres"), "--version").Output()
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		if v := strings.TrimSpace(string(out)); !strings.Contains(v, " 15.") {
			tried = append(tried, fmt.Sprintf("%s: %s, not 15", d, v))
			continue
		}
		for _, prog := range []string{"initdb", "psql", "pgbench"} {
			if _, err := os.Stat(filepath.Join(d, prog)); err != nil {
				return "", fmt.Errorf("%w: %v", errNoPostgres, err)
			}
		}
		return d, nil
	}
	return "", fmt.Errorf("%w (tried %s)", errNoPostgres, strings.Join(tried, "; "))
}

// pgServer is a reference PostgreSQL 15 server owned by one test: a fresh
// cluster in a temporary directory (initdb with superuser root and SCRAM
// password authentication), listening on a free loopback port with TLS (a
// self-signed certificate), and the settings that make output
// deterministic (TimeZone UTC, DateStyle ISO, C locale and messages).
// Durability is off: it is a reference, not a store.
type pgServer struct {
	server
	bin  string // bindir
	dir  string // the temporary directory: data/, socket, log, password file
	log  string // the server's stderr
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster has been reaped
}

// startPostgres starts a reference server and registers its stop (and the
// removal of its directory) with t.Cleanup.
func startPostgres(t testing.TB, side, bin string, password string) *pgServer {
	t.Helper()
	s := &pgServer{server: server{side: side, password: password}, bin: bin}
	dir, err := os.MkdirTemp("", "compat-"+side+"-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir, s.log = dir, filepath.Join(dir, "postgres.log")
	t.Cleanup(func() { s.stop(t) })
	if err := s.setUp(); err != nil {
		t.Fatalf("%s: %v", side, err)
	}
	for attempt := 0; ; attempt++ {
		err := s.start()
		if err == nil {
			break
		}
		// Another process may take the port between choosing and binding it.
		if attempt < 3 && strings.Contains(readTail(s.log, 4096), "could not bind") {
			t.Logf("%s: lost port %s to another process; retrying", side, s.addrs[0])
			continue
		}
		t.Fatalf("%s: %v\nserver log:\n%s", side, err, readTail(s.log, 8192))
	}
	return s
}

// setUp runs initdb and writes the TLS certificate. As root it runs
// everything as the postgres user, which PostgreSQL requires.
func (s *pgServer) setUp() error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	pwfile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	if err := s.chown(s.dir, pwfile); err != nil {
		return err
	}
	data := filepath.Join(s.dir, "data")
	cmd := exec.Command(filepath.Join(s.bin, "initdb"), "-D", data, "-U", rootUser,
		"--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Env = pgEnv()
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	crt, key, err := selfSignedCert()
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"server.crt": crt, "server.key": key} {
		p := filepath.Join(data, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		if err := s.chown(p); err != nil {
			return err
		}
	}
	return nil
}

// start starts the postmaster on a free port and waits until root can log
// in with its password.
func (s *pgServer) start() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.addrs = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	data := filepath.Join(s.dir, "data")
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "TimeZone=UTC",
		"-c", "DateStyle=ISO, MDY",
		"-c", "lc_messages=C",
		"-c", "ssl=on",
		"-c", "ssl_cert_file="+filepath.Join(data, "server.crt"),
		"-c", "ssl_key_file="+filepath.Join(data, "server.key"),
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "jit=off",
		"-c", "max_connections=60",
	)
	cmd.Env = pgEnv()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if err := proctest.StartProcess(cmd); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		// Owned by the postmaster: ends when it is reaped, which stop
		// (or the parent-death signal) ensures.
		_ = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	return s.waitReady()
}

// waitReady polls a password login until it works, the postmaster exits
// or pgReadyTimeout passes.
func (s *pgServer) waitReady() error {
	deadline := time.Now().Add(pgReadyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, s.url(defaultDB))
		if err == nil {
			err = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", pgReadyTimeout, err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("postmaster exited while starting: %v", s.cmd.ProcessState)
		case <-tick.C:
		}
	}
}

// stop shuts the server down (fast shutdown, then SIGKILL) and removes its
// directory; on a failed test it logs the end of the server log first
// (PROCTEST_KEEP=1 keeps the directory).
func (s *pgServer) stop(t testing.TB) {
	if s.cmd != nil {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(pgStopGrace):
				t.Logf("%s: still running %v after SIGINT; killing it", s.side, pgStopGrace)
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
	}
	if t.Failed() {
		t.Logf("---- %s server log (end) ----\n%s", s.side, readTail(s.log, 8192))
		if os.Getenv("PROCTEST_KEEP") != "" {
			t.Logf("%s: kept %s", s.side, s.dir)
			return
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		t.Logf("%s: remove %s: %v", s.side, s.dir, err)
	}
}

// chown gives paths to the user the server runs as.
func (s *pgServer) chown(paths ...string) error {
	if s.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	return nil
}

// pgEnv is the environment of the server programs: no PG* variables and
// the C locale.
func pgEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// selfSignedCert returns a PEM certificate and key for localhost, valid
// for a day.
func selfSignedCert() (crt, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// readTail returns up to the last n bytes of a file ("" if unreadable).
func readTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
