package kvpb

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Error makes *Error a Go error, so the structured errors of a batch travel
// through Go code as values and over the wire as messages.
func (e *Error) Error() string {
	if e.GetAmbiguous() {
		return e.detail() + " (the request may have been applied)"
	}
	return e.detail()
}

func (e *Error) detail() string {
	switch d := e.GetDetail().(type) {
	case *Error_NotLeader:
		return fmt.Sprintf("not leader (leader: n%d %s)", d.NotLeader.LeaderNodeId, d.NotLeader.LeaderAddr)
	case *Error_RangeNotFound:
		return fmt.Sprintf("range r%d not found on this node", d.RangeNotFound.RangeId)
	case *Error_KeyMismatch:
		return fmt.Sprintf("key %q is outside range r%d", d.KeyMismatch.Key, d.KeyMismatch.GetDesc().GetRangeId())
	case *Error_ConditionFailed:
		return fmt.Sprintf("condition failed on key %q", d.ConditionFailed.Key)
	case *Error_Unavailable:
		return "unavailable: " + d.Unavailable.Message
	case *Error_Invalid:
		return "invalid request: " + d.Invalid.Message
	case *Error_KeyLocked:
		return fmt.Sprintf("key %q is locked by the transaction that started at %d", d.KeyLocked.Key, d.KeyLocked.GetLock().GetStartTs())
	case *Error_WriteConflict:
		return fmt.Sprintf("write conflict on key %q at %d: %s", d.WriteConflict.Key, d.WriteConflict.ConflictTs, d.WriteConflict.Reason)
	case *Error_TxnNotFound:
		return fmt.Sprintf("transaction %d has no lock or commit on key %q: it was rolled back", d.TxnNotFound.StartTs, d.TxnNotFound.Key)
	case *Error_Program:
		return "scan program: " + d.Program.Message
	}
	return "unknown kv error"
}

// Retryable reports whether the client should retry the batch elsewhere or
// later: routing errors and unavailability are; results are not.
func (e *Error) Retryable() bool {
	switch e.GetDetail().(type) {
	case *Error_NotLeader, *Error_RangeNotFound, *Error_KeyMismatch, *Error_Unavailable:
		return true
	}
	return false
}

// NewNotLeader and the helpers below build structured errors.
func NewNotLeader(nodeID uint64, addr string) *Error {
	return &Error{Detail: &Error_NotLeader{NotLeader: &NotLeaderError{LeaderNodeId: nodeID, LeaderAddr: addr}}}
}

func NewRangeNotFound(rangeID uint64) *Error {
	return &Error{Detail: &Error_RangeNotFound{RangeNotFound: &RangeNotFoundError{RangeId: rangeID}}}
}

func NewKeyMismatch(key []byte, desc *RangeDescriptor) *Error {
	return &Error{Detail: &Error_KeyMismatch{KeyMismatch: &RangeKeyMismatchError{Key: key, Desc: proto.Clone(desc).(*RangeDescriptor)}}}
}

func NewConditionFailed(key []byte, exists bool, actual []byte) *Error {
	return &Error{Detail: &Error_ConditionFailed{ConditionFailed: &ConditionFailedError{Key: key, ActualExists: exists, Actual: actual}}}
}

func NewUnavailable(format string, args ...any) *Error {
	return &Error{Detail: &Error_Unavailable{Unavailable: &UnavailableError{Message: fmt.Sprintf(format, args...)}}}
}

func NewInvalid(format string, args ...any) *Error {
	return &Error{Detail: &Error_Invalid{Invalid: &InvalidRequestError{Message: fmt.Sprintf(format, args...)}}}
}

// NewProgramError reports a scan program's failure; detail is the
// program's encoding of it.
func NewProgramError(message string, detail []byte) *Error {
	return &Error{Detail: &Error_Program{Program: &ProgramError{Message: message, Detail: detail}}}
}

// ContainsKey reports whether k is inside the descriptor's span.
func (d *RangeDescriptor) ContainsKey(k []byte) bool {
	return string(k) >= string(d.GetStartKey()) && string(k) < string(d.GetEndKey())
}

// HasReplica reports whether nodeID holds a replica of the range.
func (d *RangeDescriptor) HasReplica(nodeID uint64) bool {
	for _, r := range d.GetReplicas() {
		if r.NodeId == nodeID {
			return true
		}
	}
	return false
}

// IsVoter reports whether nodeID holds a voting replica.
func (d *RangeDescriptor) IsVoter(nodeID uint64) bool {
	for _, r := range d.GetReplicas() {
		if r.NodeId == nodeID && r.Type == ReplicaType_VOTER {
			return true
		}
	}
	return false
}

func NewKeyLocked(key []byte, l *Lock) *Error {
	return &Error{Detail: &Error_KeyLocked{KeyLocked: &KeyLockedError{Key: key, Lock: l}}}
}

func NewWriteConflict(key []byte, ts uint64, reason string) *Error {
	return &Error{Detail: &Error_WriteConflict{WriteConflict: &WriteConflictError{Key: key, ConflictTs: ts, Reason: reason}}}
}

func NewTxnNotFound(key []byte, startTS uint64) *Error {
	return &Error{Detail: &Error_TxnNotFound{TxnNotFound: &TxnNotFoundError{Key: key, StartTs: startTS}}}
}

// Matches reports whether key's bytes at the filter's offset equal its
// match.
func (f *KeyFilter) Matches(key []byte) bool {
	off := int(f.Offset)
	return off >= 0 && len(key) >= off+len(f.Match) && string(key[off:off+len(f.Match)]) == string(f.Match)
}
