package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Workload is one kind of test traffic. Methods are safe for concurrent use.
type Workload interface {
	// Name is the workload's name on the command line.
	Name() string
	// Setup creates and fills the workload's tables, once, before any
	// client runs.
	Setup(ctx context.Context, conn *pgx.Conn) error
	// Next returns the next operation (an Invoke without index, time or
	// process) for a client.
	Next(rng *rand.Rand) history.Op
	// Invoke runs op on conn and returns its completion (type, results
	// and error filled in). A completion of type Info means conn may be
	// unusable: the caller closes it.
	Invoke(ctx context.Context, conn *pgx.Conn, op history.Op) history.Op
	// Final returns the operations to run, in order, after the faults are
	// healed, for the checker (none when the checker needs none).
	Final() []history.Op
}

// Sharded is a Workload whose tables belong in a database with a shard
// key (CREATE DATABASE ... WITH shard_key); ShardKey is empty for none. The
// harness creates the database so on shard, and without it on PostgreSQL.
type Sharded interface {
	ShardKey() string
}

// New returns the named workload. Names: register, bank, bank-sharded,
// set, list-append.
func New(name string) (Workload, error) {
	switch name {
	case "register":
		return NewRegister(), nil
	case "bank":
		return NewBank(), nil
	case "bank-sharded":
		return NewShardedBank(), nil
	case "set":
		return NewSet(), nil
	case "list-append":
		return NewListAppend(), nil
	}
	return nil, fmt.Errorf("workload: unknown workload %q (%s)", name, strings.Join(Names(), ", "))
}

// Names lists the workloads New knows.
func Names() []string { return []string{"register", "bank", "bank-sharded", "set", "list-append"} }

// Classify returns the outcome of an operation that ended with err:
// Fail when it certainly had no effect, Info when it may have. write says
// whether the op writes; committing says whether the failure came while a
// write or a COMMIT could have been applied (false: before any statement
// of a transaction was sent, or in a statement of an explicit transaction
// before COMMIT, whose effects COMMIT never made visible).
func Classify(err error, write, committing bool) history.Type {
	if !write || !committing {
		return history.Fail
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "25P02",                     // in failed transaction
			strings.HasPrefix(pe.Code, "22"),       // data exception
			strings.HasPrefix(pe.Code, "23"),       // integrity constraint violation
			strings.HasPrefix(pe.Code, "42"),       // syntax error or access rule violation
			strings.HasPrefix(pe.Code, "0A"),       // feature not supported
			pe.Code == "53100", pe.Code == "54000": // disk full, program limit
			return history.Fail
		}
		// 57014 (timeout/cancel), 08xxx, XX000, 57P01 ...: the write may
		// have been applied.
		return history.Info
	}
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		// COMMIT answered ROLLBACK: the transaction had already failed.
		return history.Fail
	}
	// Not even pgconn.SafeToRetry is trusted here: pgx reports "conn
	// closed" (safe to retry) from a read that follows a lost connection,
	// after the COMMIT was sent; the smoke tier once saw such a commit
	// take effect (a G1a that was the harness's mistake).
	return history.Info
}

// complete fills done's type and error from err (nil: OK).
func complete(op history.Op, err error, write, committing bool) history.Op {
	if err == nil {
		op.Type = history.OK
		return op
	}
	op.Type = Classify(err, write, committing)
	op.Error = errString(err)
	return op
}

func errString(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code + ": " + pe.Message
	}
	return err.Error()
}

// inTxn runs fn in an explicit transaction at the server's default
// isolation level and commits. It returns the error and whether it came at COMMIT or later
// (committing): an error before COMMIT left nothing behind.
func inTxn(ctx context.Context, conn *pgx.Conn, fn func(tx pgx.Tx) error) (err error, committing bool) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err, false
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err, false
	}
	if err := tx.Commit(ctx); err != nil {
		return err, true
	}
	return nil, true
}
