package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"
)

// TPCB is pgbench's TPC-B-like workload (pgbench's default script):
// operation "tpcb" is one transaction that moves a random delta to a
// random account, teller and branch and records it in the history. A
// transaction that fails with a serialization failure or a deadlock is
// retried with the same parameters (see Worker.Op).
type TPCB struct{ opts PgbenchOptions }

// NewTPCB returns the tpcb workload for opts.
func NewTPCB(opts PgbenchOptions) (*TPCB, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &TPCB{opts: opts}, nil
}

// Name is "tpcb".
func (*TPCB) Name() string { return "tpcb" }

// Setup makes and loads pgbench's tables.
func (t *TPCB) Setup(ctx context.Context) error { return setupPgbench(ctx, t.opts) }

// Check checks that no transaction was lost or half applied: every
// delta recorded in the history was added once to the accounts', the
// tellers' and the branches' balances, which start at 0. Together with
// the runner's error count it is what "zero anomalies" means for a run.
func (t *TPCB) Check(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, t.opts.DSN)
	if err != nil {
		return fmt.Errorf("tpcb check: %w", err)
	}
	defer conn.Close(context.Background())
	var history, accounts, tellers, branches int64
	err = conn.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT sum(abalance) FROM pgbench_accounts),
		(SELECT sum(tbalance) FROM pgbench_tellers),
		(SELECT sum(bbalance) FROM pgbench_branches)`).Scan(&history, &accounts, &tellers, &branches)
	if err != nil {
		return fmt.Errorf("tpcb check: %w", err)
	}
	if accounts != history || tellers != history || branches != history {
		return fmt.Errorf("tpcb check: the history's deltas add up to %d, but the balances of the accounts to %d, the tellers to %d, the branches to %d",
			history, accounts, tellers, branches)
	}
	return nil
}

// Worker opens a connection for worker id.
func (t *TPCB) Worker(ctx context.Context, id int) (Worker, error) {
	sess, err := newSession(ctx, t.opts.DSN, id)
	if err != nil {
		return nil, err
	}
	return &tpcbWorker{sess: sess, opts: t.opts}, nil
}

// tpcbParams are one transaction's choices, as pgbench's script draws
// them.
type tpcbParams struct {
	aid, bid, tid, delta int
}

// tpcbWorker is one tpcb connection. After an attempt that asks for a
// retry it keeps the parameters for the next attempt.
type tpcbWorker struct {
	sess    *session
	opts    PgbenchOptions
	p       tpcbParams
	pending bool // p is a transaction to retry
}

// The transaction's statements, pgbench's.
const (
	tpcbUpdateAccount = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"
	tpcbSelectAccount = "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
	tpcbUpdateTeller  = "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2"
	tpcbUpdateBranch  = "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2"
	tpcbInsertHistory = "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)"
)

func (w *tpcbWorker) Op(ctx context.Context, rng *rand.Rand) (string, error) {
	if !w.pending {
		scale := w.opts.Scale
		w.p = tpcbParams{
			aid:   rng.IntN(scale*w.opts.Accounts) + 1,
			bid:   rng.IntN(scale) + 1,
			tid:   rng.IntN(tellersPerBranch*scale) + 1,
			delta: rng.IntN(10001) - 5000,
		}
	}
	conn, err := w.sess.get(ctx)
	if err != nil {
		return "tpcb", err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return w.txn(ctx, tx) })
	w.pending = IsRetry(err)
	if err != nil {
		return "tpcb", fmt.Errorf("tpcb transaction: %w", err)
	}
	return "tpcb", nil
}

// txn is the transaction's body: pgbench's statements with w.p.
func (w *tpcbWorker) txn(ctx context.Context, tx pgx.Tx) error {
	p := w.p
	if _, err := tx.Exec(ctx, tpcbUpdateAccount, p.delta, p.aid); err != nil {
		return fmt.Errorf("update account %d: %w", p.aid, err)
	}
	var balance int32
	if err := tx.QueryRow(ctx, tpcbSelectAccount, p.aid).Scan(&balance); err != nil {
		return fmt.Errorf("select account %d: %w", p.aid, err)
	}
	if _, err := tx.Exec(ctx, tpcbUpdateTeller, p.delta, p.tid); err != nil {
		return fmt.Errorf("update teller %d: %w", p.tid, err)
	}
	if _, err := tx.Exec(ctx, tpcbUpdateBranch, p.delta, p.bid); err != nil {
		return fmt.Errorf("update branch %d: %w", p.bid, err)
	}
	if _, err := tx.Exec(ctx, tpcbInsertHistory, p.tid, p.bid, p.aid, p.delta); err != nil {
		return fmt.Errorf("insert history: %w", err)
	}
	return nil
}

func (w *tpcbWorker) Close() { w.sess.close() }
