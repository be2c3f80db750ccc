package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error: an RFC 9457 problem with a stable machine code.
type Error struct {
	Status int
	// Code is stable: clients branch on it.
	Code   string
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Detail) }

// Errorf returns an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// The stable codes.
const (
	CodeUnauthorized     = "unauthorized"           // 401: no or bad token
	CodeForbidden        = "forbidden"              // 403: the token may not do this
	CodeInvalidJSON      = "invalid_json"           // 400: the body is not the JSON expected
	CodeInvalidArgument  = "invalid_argument"       // 400: a field is missing or malformed
	CodeUnknownTemplate  = "unknown_template"       // 400
	CodeNotFound         = "not_found"              // 404
	CodeAlreadyExists    = "already_exists"         // 409
	CodeIdempotencyReuse = "idempotency_key_reused" // 422: same key, another body
	CodeInProgress       = "request_in_progress"    // 409: same key, first request still running
	CodeQuotaExceeded    = "quota_exceeded"         // 403: a template limit
	CodeUnavailable      = "unavailable"            // 503: the cluster cannot answer now
	CodeInternal         = "internal"               // 500
	CodeMethodNotAllowed = "method_not_allowed"     // 405
)

// problem is the RFC 9457 body.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`
}

// problemTypeBase prefixes a code to make the problem's type URI.
const problemTypeBase = "https://github.com/shardingsystem/shard/blob/main/docs/api.md#"

// asError converts any error into an *Error (500 for unknown ones).
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Detail: err.Error()}
}

// WriteProblem writes err as application/problem+json: for the node's
// endpoints outside /v1 that share the API's errors.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) { writeProblem(w, r, err) }

// writeProblem writes err as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	body, _ := json.Marshal(problem{Type: problemTypeBase + e.Code, Title: http.StatusText(e.Status), Status: e.Status,
		Detail: e.Detail, Instance: r.URL.Path, Code: e.Code})
	w.Header().Set("Content-Type", "application/problem+json")
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="shard"`)
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}
