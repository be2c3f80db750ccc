package sql

import (
	"errors"
	"fmt"
	"testing"

	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// TestKVErrorCodes: the SQLSTATE a client gets for each kind of kv
// failure; a commit of unknown outcome must not look like a retryable
// conflict (40001), which a client would run again.
func TestKVErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("kv: commit of transaction 7 has an unknown outcome: %w", kv.ErrAmbiguous), pgerror.CodeTransactionResolutionUnknown},
		{fmt.Errorf("%w: %w", kv.ErrAmbiguous, kv.ErrUnavailable), pgerror.CodeTransactionResolutionUnknown},
		{fmt.Errorf("%w: key k", kv.ErrWriteConflict), pgerror.CodeSerializationFailure},
		{kv.ErrUnavailable, pgerror.CodeConnectionFailure},
	} {
		var pe *pgerror.Error
		if !errors.As(kvError(tc.err), &pe) || pe.Code != tc.want {
			t.Errorf("%v: SQLSTATE %v, want %s", tc.err, pe, tc.want)
		}
	}
}
