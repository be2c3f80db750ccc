package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/server"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("shard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses flags anywhere among the arguments (`kv put a 1 --host
// X` works as well as `kv put --host X a 1`; after `--` everything is an
// argument), leaving the positional arguments in order for fs.Args. Flag
// errors become usage errors; -h is not an error.
func parseFlags(fs *flag.FlagSet, args []string) (bool, error) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		if err != nil {
			return false, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments for fs.Args.
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return false, usageError{err.Error()}
	}
	return false, nil
}

// hideFlags keeps flags out of fs's -h listing; they still parse.
func hideFlags(fs *flag.FlagSet, names ...string) {
	hidden := map[string]bool{}
	for _, n := range names {
		hidden[n] = true
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		shown.SetOutput(fs.Output())
		fs.VisitAll(func(f *flag.Flag) {
			if !hidden[f.Name] {
				shown.Var(f.Value, f.Name, f.Usage)
				shown.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		shown.PrintDefaults()
	}
}

func runStart(args []string, stdout, stderr io.Writer) error {
	cfg := server.DefaultConfig()
	fs := newFlagSet("start", stderr)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory")
	fs.StringVar(&cfg.RPCAddr, "rpc-addr", cfg.RPCAddr, "node-to-node and admin gRPC address (host:port other nodes can reach)")
	fs.StringVar(&cfg.SQLAddr, "sql-addr", cfg.SQLAddr, "PostgreSQL protocol address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "HTTP API address")
	join := fs.String("join", "", "comma-separated rpc addresses of existing nodes; empty bootstraps a new cluster")
	fs.IntVar(&cfg.Replicas, "replicas", cfg.Replicas, "replicas per range")
	fs.StringVar(&cfg.CertsDir, "certs-dir", cfg.CertsDir, "directory of the SQL TLS certificate (node.crt, node.key); default: generated in the data directory")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "let SQL clients connect without a password and, in a cluster created so, everyone call the gRPC services without the cluster secret (only when every listen address is loopback)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	cc := &cfg.Controller
	maxBytes := byteSize(cc.RangeMaxBytes)
	fs.Var(&maxBytes, "range-max-bytes", "split a range larger than this (e.g. 64MiB)")
	fs.Float64Var(&cc.SplitQPS, "split-qps", cc.SplitQPS, "split a range serving more reads or writes per second than this, sustained for --split-window")
	fs.Float64Var(&cc.SplitCPU, "split-cpu", cc.SplitCPU, "split a range using more than this share of a core, sustained for --split-window")
	fs.DurationVar(&cc.SplitWindow, "split-window", cc.SplitWindow, "how long load must stay over the threshold before a split")
	fs.DurationVar(&cc.MergeAfter, "merge-after", cc.MergeAfter, "merge adjacent small ranges that stayed cold this long")
	fs.DurationVar(&cc.MergeCooldown, "merge-cooldown", cc.MergeCooldown, "never merge a range within this long after it split")
	fs.DurationVar(&cc.DeadAfter, "dead-after", cc.DeadAfter, "a node not heard from this long is dead and its replicas are re-created elsewhere")
	fs.BoolVar(&cfg.ControllerOff, "controller-off", false, "gather load but never split, merge or move ranges automatically")
	templates := fs.String("templates", "", "JSON file of database templates that replace or add to the built-in ones")
	// Fault injection for the Jepsen harness (tools/jepsen), not for users.
	fs.DurationVar(&cfg.ClockOffset, "clock-offset", 0, "shift the node's wall clock by this much (fault testing)")
	fs.StringVar(&cfg.RPCSourceAddr, "rpc-source-addr", "", "local IP of outgoing node-to-node connections (fault testing)")
	fs.StringVar(&cfg.RPCListenAddr, "rpc-listen-addr", "", "listen here for rpc instead of --rpc-addr, which a proxy forwards to it (fault testing)")
	hideFlags(fs, "clock-offset", "rpc-source-addr", "rpc-listen-addr")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cc.RangeMaxBytes = uint64(maxBytes)
	if *join != "" {
		for _, j := range strings.Split(*join, ",") {
			if j = strings.TrimSpace(j); j != "" {
				cfg.Join = append(cfg.Join, j)
			}
		}
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return usagef("bad --log-level %q", *level)
	}
	cfg.RootPassword = os.Getenv("SHARD_ROOT_PASSWORD")
	cfg.AdminToken = os.Getenv("SHARD_ADMIN_TOKEN")
	cfg.ClusterSecret = os.Getenv(rpcauth.EnvSecret)
	if *templates != "" {
		ts, err := api.LoadTemplates(*templates)
		if err != nil {
			return usagef("%v", err)
		}
		cfg.Templates = ts
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		s.Stop()
		return err
	}
	fmt.Fprintf(stdout, "shard node n%d of cluster %s\n  rpc:      %s\n  sql:      %s\n  http:     %s\n  data dir: %s\n", s.NodeID(), s.ClusterID(), cfg.RPCAddr, cfg.SQLAddr, s.HTTPAddr(), cfg.DataDir)
	if pw := s.GeneratedRootPassword(); pw != "" {
		fmt.Fprintf(stdout, "  SQL superuser: root, password %s (shown once; also in %s, mode 0600)\n", pw, filepath.Join(cfg.DataDir, server.RootPasswordFile))
	}
	if sec := s.GeneratedClusterSecret(); sec != "" {
		fmt.Fprintf(stdout, "  cluster secret: %s (give it to joining nodes and the CLI as %s; also in %s, mode 0600)\n",
			sec, rpcauth.EnvSecret, filepath.Join(cfg.DataDir, rpcauth.SecretFile))
	}
	if tok := s.GeneratedAdminToken(); tok != "" {
		fmt.Fprintf(stdout, "  API admin token: %s (shown once; also in %s, mode 0600)\n", tok, filepath.Join(cfg.DataDir, server.AdminTokenFile))
	}
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	s.Stop()
	return nil
}

// byteSize is a flag value of bytes: a number with an optional unit (B, KB,
// MB, GB, KiB, MiB, GiB; case-insensitive).
type byteSize uint64

func (b *byteSize) String() string {
	v := uint64(*b)
	for _, u := range []struct {
		name string
		n    uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.n && v%u.n == 0 {
			return fmt.Sprintf("%d%s", v/u.n, u.name)
		}
	}
	return fmt.Sprintf("%d", v)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		n      uint64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"b", 1}}
	t := strings.ToLower(strings.TrimSpace(s))
	mult := uint64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.n
			break
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || v == 0 {
		return fmt.Errorf("%q is not a positive size (e.g. 64MiB)", s)
	}
	*b = byteSize(v * mult)
	return nil
}
