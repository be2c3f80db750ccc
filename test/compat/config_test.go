package compat

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Target names the system under test (SHARD_COMPAT_TARGET).
const (
	targetShard    = "shard"    // a 3-node shard cluster (default)
	targetPostgres = "postgres" // a second reference PostgreSQL: validates the harness
)

// config is the suite's configuration, read from the environment once per
// test binary (see doc.go for the variables).
type config struct {
	// target is targetShard or targetPostgres.
	target string
	// shardAddr, if set, is the SQL address of a shard node that is
	// already running; no cluster is started.
	shardAddr string
	// password is root's password on both sides.
	password string
	// pgBinDir holds the reference server's postgres, initdb, psql and
	// pgbench; empty means `pg_config --bindir`, then the Debian path.
	pgBinDir string
	// ci reports CI=true: a missing client program fails instead of
	// skipping (internal/pgtest reads CI itself for PostgreSQL).
	ci bool

	// pgbench sizes: -s for -i, -c for every run, -T for the TPC-B-like
	// and select-only runs (the prepared select-only run uses pgbenchTime/2).
	pgbenchScale   int
	pgbenchClients int
	pgbenchTime    time.Duration
}

// defaultConfig is the CI-sized configuration.
func defaultConfig() config {
	return config{
		target:         targetShard,
		password:       "compat-root-password",
		pgbenchScale:   1,
		pgbenchClients: 4,
		pgbenchTime:    10 * time.Second,
	}
}

// configFromEnv applies the SHARD_COMPAT_* variables (and CI,
// SHARD_ROOT_PASSWORD) to the defaults.
func configFromEnv() (config, error) {
	c := defaultConfig()
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: not an integer", name, v))
				return
			}
			*dst = n
		}
	}
	str("SHARD_COMPAT_TARGET", &c.target)
	str("SHARD_COMPAT_ADDR", &c.shardAddr)
	str("SHARD_ROOT_PASSWORD", &c.password)
	str("SHARD_COMPAT_PG_BINDIR", &c.pgBinDir)
	c.ci = os.Getenv("CI") == "true"
	num("SHARD_COMPAT_PGBENCH_SCALE", &c.pgbenchScale)
	num("SHARD_COMPAT_PGBENCH_CLIENTS", &c.pgbenchClients)
	secs := int(c.pgbenchTime / time.Second)
	num("SHARD_COMPAT_PGBENCH_TIME", &secs)
	c.pgbenchTime = time.Duration(secs) * time.Second
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// Validate reports every problem of c.
func (c config) Validate() error {
	var errs []error
	if c.target != targetShard && c.target != targetPostgres {
		errs = append(errs, fmt.Errorf("SHARD_COMPAT_TARGET=%q: want %q or %q", c.target, targetShard, targetPostgres))
	}
	if c.shardAddr != "" {
		if _, _, err := net.SplitHostPort(c.shardAddr); err != nil {
			errs = append(errs, fmt.Errorf("SHARD_COMPAT_ADDR=%q: %v", c.shardAddr, err))
		}
		if c.target != targetShard {
			errs = append(errs, fmt.Errorf("SHARD_COMPAT_ADDR is set but SHARD_COMPAT_TARGET=%q", c.target))
		}
	}
	if c.password == "" {
		errs = append(errs, errors.New("empty root password"))
	}
	if c.pgbenchScale < 1 {
		errs = append(errs, fmt.Errorf("SHARD_COMPAT_PGBENCH_SCALE=%d: want >= 1", c.pgbenchScale))
	}
	if c.pgbenchClients < 1 {
		errs = append(errs, fmt.Errorf("SHARD_COMPAT_PGBENCH_CLIENTS=%d: want >= 1", c.pgbenchClients))
	}
	if c.pgbenchTime < 2*time.Second {
		errs = append(errs, fmt.Errorf("SHARD_COMPAT_PGBENCH_TIME=%v: want >= 2 s", c.pgbenchTime))
	}
	return errors.Join(errs...)
}
