// Package pgerror is the error type that the SQL layer returns and the wire
// layer sends: a PostgreSQL SQLSTATE code with a message and the optional
// fields of an ErrorResponse.
//
// Every error that leaves package sql is either a *Error or is turned into one
// by Flatten (internal errors get SQLSTATE XX000, with the Go error as the
// message), so a client never sees a Go error string without a code.
package pgerror
