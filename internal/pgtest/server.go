package pgtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/freeport"
	"github.com/shardingsystem/shard/internal/spawn"
)

// Timeouts of the server's lifecycle.
const (
	readyTimeout = 60 * time.Second // initdb done → accepting password logins
	stopGrace    = 15 * time.Second // SIGINT (fast shutdown) → SIGKILL
)

// Options configure a server. The zero value is a plain server: superuser
// root, no TLS, 100 connections.
type Options struct {
	// Name names the server in log lines and its directory; default
	// "postgres".
	Name string
	// BinDir and Programs are passed to Require: where to look for the
	// programs (default: pg_config, then Debian's directory) and which
	// programs besides postgres and initdb the test needs.
	BinDir   string
	Programs []string
	// User and Password are the superuser's; defaults "root" and
	// "pgtest-password".
	User     string
	Password string
	// TLS serves TLS with a self-signed certificate; DSN then asks for
	// sslmode=require (encrypted, not verified).
	TLS bool
	// MaxConnections is max_connections; default 100.
	MaxConnections int
	// Settings are more server settings (postgres -c name=value); they
	// override the package's (TimeZone, DateStyle, lc_messages, fsync, ...).
	Settings map[string]string
}

// withDefaults returns o with its zero fields filled in.
func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "postgres"
	}
	if o.User == "" {
		o.User = "root"
	}
	if o.Password == "" {
		o.Password = "pgtest-password"
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 100
	}
	return o
}

// Validate reports every problem of o.
func (o Options) Validate() error {
	var errs []error
	if strings.ContainsAny(o.Name, "/ ") {
		errs = append(errs, fmt.Errorf("pgtest: name %q: no slashes or spaces", o.Name))
	}
	if strings.ContainsAny(o.Password, "\n\r") {
		errs = append(errs, errors.New("pgtest: the password is one line"))
	}
	if o.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("pgtest: max connections %d", o.MaxConnections))
	}
	return errors.Join(errs...)
}

// Server is a running PostgreSQL owned by one test (Start) or by a
// program (Launch).
type Server struct {
	opts Options
	bin  string // the programs' directory
	dir  string // the temporary directory: data/, socket, log, password file
	log  string // the server's stdout and stderr
	addr string // 127.0.0.1:port
	cred *syscall.Credential
	// logf reports what happens; failed says whether the owner failed
	// (the test), to keep the log and the directory.
	logf   func(format string, args ...any)
	failed func() bool

	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster has been reaped

	stopOnce sync.Once
}

// Start starts a server and registers its Stop with t.Cleanup. It skips
// or fails t as Require does when PostgreSQL 15 is missing, and fails t
// when the server does not start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := launch(opts, Require(t, opts.BinDir, opts.Programs...), t.Logf, t.Failed)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Launch starts a server for a program (the benchmark harness compares
// against one): the programs are found as Find does (an error wrapping
// ErrNotInstalled when PostgreSQL 15 is missing), logf gets progress
// lines (nil: none). The caller stops it with Stop.
func Launch(opts Options, logf func(format string, args ...any)) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	bin, err := Find(opts.BinDir, opts.Programs...)
	if err != nil {
		return nil, err
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s, err := launch(opts, bin, logf, func() bool { return false })
	if err != nil && s != nil {
		s.Stop()
	}
	return s, err
}

// launch sets up and starts a server; on failure the returned server (if
// any) holds what must be cleaned up with Stop.
func launch(opts Options, bin string, logf func(string, ...any), failed func() bool) (*Server, error) {
	s := &Server{opts: opts, bin: bin, logf: logf, failed: failed}
	dir, err := os.MkdirTemp("", "pgtest-"+opts.Name+"-")
	if err != nil {
		return nil, err
	}
	s.dir, s.log = dir, filepath.Join(dir, "postgres.log")
	if err := s.setUp(); err != nil {
		return s, fmt.Errorf("%s: %v", opts.Name, err)
	}
	for attempt := 0; ; attempt++ {
		err := s.start()
		if err == nil {
			return s, nil
		}
		// Another process may take the port between choosing and binding
		// it; then the postmaster has exited.
		if attempt < 3 && s.exited() && strings.Contains(s.LogTail(4096), "could not bind") {
			logf("%s: lost port %s to another process; retrying", opts.Name, s.addr)
			continue
		}
		return s, fmt.Errorf("%s: %v\nserver log:\n%s", opts.Name, err, s.LogTail(8192))
	}
}

// Addr is the server's host:port (on 127.0.0.1).
func (s *Server) Addr() string { return s.addr }

// HostPort splits Addr.
func (s *Server) HostPort() (host, port string) {
	host, port, _ = net.SplitHostPort(s.addr)
	return host, port
}

// User and Password are the superuser's.
func (s *Server) User() string     { return s.opts.User }
func (s *Server) Password() string { return s.opts.Password }

// BinDir is the directory of the server's programs (psql and pgbench, if
// Options.Programs asked for them, are there too).
func (s *Server) BinDir() string { return s.bin }

// Dir is the server's temporary directory.
func (s *Server) Dir() string { return s.dir }

// DSN is a connection URL for database db ("" is postgres) as the
// superuser, with sslmode=require when the server serves TLS and
// sslmode=disable otherwise.
func (s *Server) DSN(db string) string {
	if db == "" {
		db = "postgres"
	}
	mode := "disable"
	if s.opts.TLS {
		mode = "require"
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(s.opts.User, s.opts.Password),
		Host:     s.addr,
		Path:     "/" + db,
		RawQuery: "sslmode=" + mode + "&connect_timeout=10",
	}
	return u.String()
}

// setUp runs initdb and writes the TLS certificate. As root it runs
// everything as the postgres user, which PostgreSQL requires.
func (s *Server) setUp() error {
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
	if err := os.WriteFile(pwfile, []byte(s.opts.Password+"\n"), 0o600); err != nil {
		return err
	}
	if err := s.chown(s.dir, pwfile); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", s.opts.User,
		"--auth=scram-sha-256", "--pwfile="+pwfile, "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Env = serverEnv()
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if !s.opts.TLS {
		return nil
	}
	crt, key, err := selfSignedCert()
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"server.crt": crt, "server.key": key} {
		p := filepath.Join(s.data(), name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		if err := s.chown(p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// settings are the server's -c settings: the package's, then the test's.
func (s *Server) settings() map[string]string {
	set := map[string]string{
		"listen_addresses":   "127.0.0.1",
		"TimeZone":           "UTC",
		"DateStyle":          "ISO, MDY",
		"lc_messages":        "C",
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"jit":                "off",
		"max_connections":    strconv.Itoa(s.opts.MaxConnections),
	}
	if s.opts.TLS {
		set["ssl"] = "on"
		set["ssl_cert_file"] = filepath.Join(s.data(), "server.crt")
		set["ssl_key_file"] = filepath.Join(s.data(), "server.key")
	}
	maps.Copy(set, s.opts.Settings)
	return set
}

// start starts the postmaster on a free port and waits until the
// superuser can log in with its password.
func (s *Server) start() error {
	addrs, err := freeport.Addrs("127.0.0.1", 1)
	if err != nil {
		return err
	}
	s.addr = addrs[0]
	_, port, _ := net.SplitHostPort(s.addr)
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{"-D", s.data(), "-p", port, "-k", s.dir}
	set := s.settings()
	for _, name := range slices.Sorted(maps.Keys(set)) {
		args = append(args, "-c", name+"="+set[name])
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.Env = serverEnv()
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if err := spawn.Start(cmd); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		// Owned by the Server: ends when the postmaster is reaped, which
		// Stop (or the parent-death signal) ensures.
		_ = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	return s.waitReady()
}

// exited reports whether the postmaster has been reaped.
func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// waitReady polls a password login until it works, the postmaster exits
// or readyTimeout passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN(""))
		if err == nil {
			err = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyTimeout, err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("postmaster exited while starting: %v", s.cmd.ProcessState)
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast shutdown, then SIGKILL after a grace
// period), waits for it and removes its directory; when the test has
// failed it logs the end of the server log first (PROCTEST_KEEP=1 keeps
// the directory). Later calls do nothing. Start registers it with
// t.Cleanup; call it earlier to stop the server mid-test.
func (s *Server) Stop() {
	s.stopOnce.Do(s.stop)
}

func (s *Server) stop() {
	name := s.opts.Name
	if s.cmd != nil && !s.exited() {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(stopGrace):
			s.logf("%s: still running %v after SIGINT; killing it", name, stopGrace)
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.failed() {
		s.logf("---- %s server log (end) ----\n%s", name, s.LogTail(8192))
		if os.Getenv("PROCTEST_KEEP") != "" {
			s.logf("%s: kept %s", name, s.dir)
			return
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.logf("%s: remove %s: %v", name, s.dir, err)
	}
}

// chown gives paths to the user the server runs as.
func (s *Server) chown(paths ...string) error {
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

// serverEnv is the environment of the server programs: Environ and the C
// locale.
func serverEnv() []string { return append(Environ(), "LC_ALL=C") }

// Environ is the test binary's environment without the variables that
// change what PostgreSQL's programs do or print: every PG* (PGTZ,
// PGOPTIONS, PGSERVICE, ...), LC_*, LANG and LANGUAGE. Add the connection
// settings and a locale of your own.
func Environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
