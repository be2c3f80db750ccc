package workload

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// safeToRetry is an error pgx says is safe to retry, as its "conn closed"
// is even after a request was sent.
type safeToRetry struct{}

func (safeToRetry) Error() string     { return "conn closed" }
func (safeToRetry) SafeToRetry() bool { return true }

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	for _, c := range []struct {
		err               error
		write, committing bool
		want              history.Type
	}{
		{io.ErrUnexpectedEOF, false, true, history.Fail},               // a read has no effect
		{io.ErrUnexpectedEOF, true, false, history.Fail},               // before COMMIT: nothing committed
		{io.ErrUnexpectedEOF, true, true, history.Info},                // COMMIT in flight
		{safeToRetry{}, true, true, history.Info},                      // pgx's "conn closed" after a send
		{fmt.Errorf("x: %w", safeToRetry{}), true, true, history.Info}, // wrapped
		{pg("40001"), true, true, history.Fail},                        // serialization failure: rolled back
		{pg("23505"), true, true, history.Fail},                        // unique violation
		{pg("57014"), true, true, history.Info},                        // timeout: may have applied
		{pg("XX000"), true, true, history.Info},                        // internal error: unknown
		{pg("08006"), true, true, history.Info},                        // connection failure
		{pgx.ErrTxCommitRollback, true, true, history.Fail},            // COMMIT answered ROLLBACK
		{errors.New("timeout: context deadline exceeded"), true, true, history.Info},
	} {
		if got := Classify(c.err, c.write, c.committing); got != c.want {
			t.Errorf("Classify(%v, write=%v, committing=%v) = %s, want %s", c.err, c.write, c.committing, got, c.want)
		}
	}
}
