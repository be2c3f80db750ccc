package kv

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/kvpb"
)

// TestMayHaveApplied: what a failed attempt says about whether it took
// effect, which decides whether a once-only request is sent again.
func TestMayHaveApplied(t *testing.T) {
	ambiguous := kvpb.NewNotLeader(2, "n2")
	ambiguous.Ambiguous = true
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a range's refusal", kvpb.NewNotLeader(2, "n2"), false},
		{"a split", kvpb.NewKeyMismatch([]byte("k"), &kvpb.RangeDescriptor{RangeId: 3}), false},
		{"a proposal in flight when leadership was lost", ambiguous, true},
		{"a broken connection", status.Error(codes.Unavailable, "connection reset"), true},
		{"the attempt's deadline", status.Error(codes.DeadlineExceeded, "deadline exceeded"), true},
		{"no connection to send on", unsentError{status.Error(codes.Unavailable, "connection refused")}, false},
		{"a context that had ended", unsentError{status.FromContextError(context.Canceled).Err()}, false},
	} {
		if got := mayHaveApplied(tc.err); got != tc.want {
			t.Errorf("%s (%v): mayHaveApplied = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	// Wrapping keeps the gRPC status the retry logic reads.
	if s, ok := status.FromError(unsentError{status.Error(codes.Unavailable, "x")}); !ok || s.Code() != codes.Unavailable {
		t.Errorf("an unsent error lost its status: %v", s)
	}
	if !errors.Is(unknownOutcome(5, errors.New("timeout")), ErrAmbiguous) {
		t.Error("an unknown outcome does not match ErrAmbiguous")
	}
}

// TestOnceOnly: only the one-phase commit of a transaction without a
// start timestamp must not be sent twice.
func TestOnceOnly(t *testing.T) {
	onePC := func(start uint64) []*kvpb.Request {
		return []*kvpb.Request{{Value: &kvpb.Request_OnePc{OnePc: &kvpb.OnePCRequest{StartTs: start}}}}
	}
	if !onceOnly(onePC(0)) {
		t.Error("a deferred one-phase commit may be sent twice")
	}
	if onceOnly(onePC(7)) {
		t.Error("a one-phase commit with a start timestamp is not sent twice")
	}
	if onceOnly([]*kvpb.Request{{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte("k")}}}}) {
		t.Error("a put is not sent twice")
	}
}
