package workload

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/jackc/pgx/v5/pgconn"
)

// A Workload makes the schema and data of a benchmark and the workers that
// run its operations. Run calls Setup once (unless Options.SkipSetup),
// then Worker once per worker, from one goroutine, before the clock
// starts.
type Workload interface {
	// Name names the workload in the result ("kv", "select", "tpcb",
	// "ycsb").
	Name() string
	// Setup makes the schema and loads the data, replacing what an
	// earlier Setup made.
	Setup(ctx context.Context) error
	// Worker opens worker id's connection (ids are 0..Concurrency-1).
	Worker(ctx context.Context, id int) (Worker, error)
}

// A Checker is a Workload whose data must satisfy an invariant after a
// run, whatever the operations were: the runner's caller checks it once
// the workers are done. Check returns an error that says what does not
// hold.
type Checker interface {
	Check(ctx context.Context) error
}

// A Worker runs operations on its own connection. It is used by one
// goroutine only.
type Worker interface {
	// Op makes one attempt of one operation with choices drawn from rng,
	// and names the operation (one histogram per name). An error for which
	// IsRetry holds counts as a retry: the runner calls Op again at once
	// and times the operation from its first attempt, and a Worker that
	// must repeat the same operation (a transaction's parameters) keeps
	// them for that call. Any other error counts as an error of the
	// operation. An attempt interrupted by the end of the run (ctx done)
	// is not counted at all.
	Op(ctx context.Context, rng *rand.Rand) (op string, err error)
	// Close closes the connection; Run calls it once, after the worker's
	// last Op.
	Close()
}

// SQLSTATEs of the errors that a client retries: serialization_failure
// and deadlock_detected.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// IsRetry reports whether err (or an error it wraps) is a PostgreSQL
// error whose SQLSTATE asks the client to retry the transaction: 40001 or
// 40P01.
func IsRetry(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
}
