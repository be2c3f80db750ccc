package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// PgbenchOptions configure the select and tpcb workloads, which use
// pgbench's tables.
type PgbenchOptions struct {
	// DSN is the connection string of the database.
	DSN string
	// Scale is pgbench's scale factor: Scale branches, 10·Scale tellers,
	// Accounts·Scale accounts; default 1.
	Scale int
	// Accounts is the number of accounts per branch; default pgbench's
	// 100000. Tests make it small for a fast Setup.
	Accounts int
}

// withDefaults returns o with its zero fields filled in.
func (o PgbenchOptions) withDefaults() PgbenchOptions {
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.Accounts == 0 {
		o.Accounts = 100_000
	}
	return o
}

// Validate reports every problem of o (after defaults).
func (o PgbenchOptions) Validate() error {
	var errs []error
	if o.DSN == "" {
		errs = append(errs, errors.New("pgbench: no connection string"))
	}
	if o.Scale < 1 {
		errs = append(errs, fmt.Errorf("pgbench: scale %d", o.Scale))
	}
	if o.Accounts < 1 {
		errs = append(errs, fmt.Errorf("pgbench: %d accounts per branch", o.Accounts))
	}
	return errors.Join(errs...)
}

// tellersPerBranch is pgbench's.
const tellersPerBranch = 10

// pgbenchTables is pgbench's schema, the primary keys declared with the
// tables (shard adds a primary key to an empty table only).
var pgbenchTables = []string{
	"DROP TABLE IF EXISTS pgbench_history, pgbench_tellers, pgbench_accounts, pgbench_branches",
	"CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))",
	"CREATE TABLE pgbench_tellers (tid int NOT NULL PRIMARY KEY, bid int, tbalance int, filler char(84))",
	"CREATE TABLE pgbench_accounts (aid int NOT NULL PRIMARY KEY, bid int, abalance int, filler char(84))",
	"CREATE TABLE pgbench_branches (bid int NOT NULL PRIMARY KEY, bbalance int, filler char(88))",
}

// setupPgbench drops and makes pgbench's tables and loads them as
// `pgbench -i` does (balances 0, blank fillers, empty history), with COPY.
func setupPgbench(ctx context.Context, o PgbenchOptions) error {
	conn, err := connect(ctx, o.DSN)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if err := execAll(ctx, conn, pgbenchTables...); err != nil {
		return err
	}
	scale := int64(o.Scale)
	accounts := int64(o.Accounts)
	if err := copyRows(ctx, conn, "COPY pgbench_branches (bid, bbalance) FROM STDIN", scale,
		func(b []byte, i int64) []byte {
			b = strconv.AppendInt(b, i+1, 10)
			return append(b, "\t0\n"...)
		}); err != nil {
		return err
	}
	if err := copyRows(ctx, conn, "COPY pgbench_tellers (tid, bid, tbalance) FROM STDIN", tellersPerBranch*scale,
		func(b []byte, i int64) []byte {
			b = strconv.AppendInt(b, i+1, 10)
			b = append(b, '\t')
			b = strconv.AppendInt(b, i/tellersPerBranch+1, 10)
			return append(b, "\t0\n"...)
		}); err != nil {
		return err
	}
	return copyRows(ctx, conn, "COPY pgbench_accounts (aid, bid, abalance, filler) FROM STDIN", accounts*scale,
		func(b []byte, i int64) []byte {
			b = strconv.AppendInt(b, i+1, 10)
			b = append(b, '\t')
			b = strconv.AppendInt(b, i/accounts+1, 10)
			return append(b, "\t0\t\n"...)
		})
}

// Select is pgbench's select-only workload (pgbench -S): operation
// "select" is SELECT abalance FROM pgbench_accounts WHERE aid = $1 for a
// uniformly random account.
type Select struct{ opts PgbenchOptions }

// NewSelect returns the select workload for opts.
func NewSelect(opts PgbenchOptions) (*Select, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Select{opts: opts}, nil
}

// Name is "select".
func (*Select) Name() string { return "select" }

// Setup makes and loads pgbench's tables.
func (s *Select) Setup(ctx context.Context) error { return setupPgbench(ctx, s.opts) }

// Worker opens a connection for worker id.
func (s *Select) Worker(ctx context.Context, id int) (Worker, error) {
	sess, err := newSession(ctx, s.opts.DSN, id)
	if err != nil {
		return nil, err
	}
	return &selectWorker{sess: sess, accounts: s.opts.Scale * s.opts.Accounts}, nil
}

type selectWorker struct {
	sess     *session
	accounts int
}

func (w *selectWorker) Op(ctx context.Context, rng *rand.Rand) (string, error) {
	var balance int32
	aid := rng.IntN(w.accounts) + 1
	conn, err := w.sess.get(ctx)
	if err != nil {
		return "select", err
	}
	err = conn.QueryRow(ctx, "SELECT abalance FROM pgbench_accounts WHERE aid = $1", aid).Scan(&balance)
	if err != nil {
		return "select", fmt.Errorf("select account %d: %w", aid, err)
	}
	return "select", nil
}

func (w *selectWorker) Close() { w.sess.close() }
