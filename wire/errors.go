package wire

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Errors returned by the package's API.
var (
	// ErrInvalidConfig wraps what Config.Validate reports when Serve is
	// given a bad config.
	ErrInvalidConfig = errors.New("wire: invalid config")
	// ErrInvalidVerifier is returned by ParseVerifier for a string that is
	// not a SCRAM-SHA-256 verifier in PostgreSQL's format.
	ErrInvalidVerifier = errors.New("wire: invalid SCRAM-SHA-256 verifier")
	// ErrCancelFailed is returned by SendCancel when the request could not
	// be delivered.
	ErrCancelFailed = errors.New("wire: cancel request failed")
)

// errorResponse turns err into an ErrorResponse; severity overrides the
// error's own when not empty (FATAL for errors that end the connection).
func errorResponse(err error, severity string) *pgproto3.ErrorResponse {
	pe := pgerror.Flatten(err)
	sev := pe.Severity
	if severity != "" {
		sev = severity
	}
	if sev == "" {
		sev = pgerror.SeverityError
	}
	code := pe.Code
	if len(code) != 5 {
		code = pgerror.CodeInternalError
	}
	return &pgproto3.ErrorResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                code,
		Message:             noNUL(pe.Message),
		Detail:              noNUL(pe.Detail),
		Hint:                noNUL(pe.Hint),
		Position:            pe.Position,
		TableName:           noNUL(pe.Table),
		ColumnName:          noNUL(pe.Column),
		ConstraintName:      noNUL(pe.Constraint),
	}
}

// noticeResponse turns n into a NoticeResponse (severity NOTICE unless set).
func noticeResponse(n *pgerror.Error) *pgproto3.NoticeResponse {
	sev := n.Severity
	if sev == "" || sev == pgerror.SeverityError || sev == pgerror.SeverityFatal {
		sev = pgerror.SeverityNotice
	}
	code := n.Code
	if len(code) != 5 {
		code = "00000"
	}
	return &pgproto3.NoticeResponse{
		Severity:            sev,
		SeverityUnlocalized: sev,
		Code:                code,
		Message:             noNUL(n.Message),
		Detail:              noNUL(n.Detail),
		Hint:                noNUL(n.Hint),
		Position:            n.Position,
		TableName:           noNUL(n.Table),
		ColumnName:          noNUL(n.Column),
		ConstraintName:      noNUL(n.Constraint),
	}
}

// noNUL drops NUL bytes, which would end a field of the message early
// (an error message may quote a client's binary value).
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}
