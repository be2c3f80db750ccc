package pgerror

import (
	"context"
	"errors"
	"fmt"
)

// SQLSTATE codes used by shard. See
// https://www.postgresql.org/docs/15/errcodes-appendix.html.
const (
	CodeSuccessfulCompletion          = "00000"
	CodeWarning                       = "01000"
	CodeConnectionException           = "08000"
	CodeProtocolViolation             = "08P01"
	CodeFeatureNotSupported           = "0A000"
	CodeInvalidParameterValue         = "22023"
	CodeDataException                 = "22000"
	CodeStringDataRightTruncation     = "22001"
	CodeNumericValueOutOfRange        = "22003"
	CodeInvalidDatetimeFormat         = "22007"
	CodeDatetimeFieldOverflow         = "22008"
	CodeDivisionByZero                = "22012"
	CodeInvalidTextRepresentation     = "22P02"
	CodeInvalidBinaryRepresentation   = "22P03"
	CodeInvalidEscapeSequence         = "22025"
	CodeCharacterNotInRepertoire      = "22021"
	CodeArraySubscriptError           = "2202E"
	CodeNotNullViolation              = "23502"
	CodeForeignKeyViolation           = "23503"
	CodeUniqueViolation               = "23505"
	CodeCheckViolation                = "23514"
	CodeInvalidTransactionState       = "25000"
	CodeActiveSQLTransaction          = "25001"
	CodeNoActiveSQLTransaction        = "25P01"
	CodeInFailedSQLTransaction        = "25P02"
	CodeReadOnlySQLTransaction        = "25006"
	CodeInvalidSQLStatementName       = "26000"
	CodeInvalidCursorName             = "34000"
	CodeInvalidAuthorizationSpec      = "28000"
	CodeInvalidPassword               = "28P01"
	CodeSerializationFailure          = "40001"
	CodeDeadlockDetected              = "40P01"
	CodeSyntaxError                   = "42601"
	CodeInsufficientPrivilege         = "42501"
	CodeUndefinedColumn               = "42703"
	CodeUndefinedFunction             = "42883"
	CodeUndefinedTable                = "42P01"
	CodeUndefinedObject               = "42704"
	CodeUndefinedParameter            = "42P02"
	CodeDuplicateColumn               = "42701"
	CodeDuplicateDatabase             = "42P04"
	CodeDuplicateTable                = "42P07"
	CodeDuplicateObject               = "42710"
	CodeAmbiguousColumn               = "42702"
	CodeAmbiguousFunction             = "42725"
	CodeDatatypeMismatch              = "42804"
	CodeGroupingError                 = "42803"
	CodeInvalidColumnReference        = "42P10"
	CodeInvalidTableDefinition        = "42P16"
	CodeWrongObjectType               = "42809"
	CodeCannotCoerce                  = "42846"
	CodeInvalidCatalogName            = "3D000"
	CodeInvalidSchemaName             = "3F000"
	CodeUndefinedSchema               = "3F000"
	CodeObjectInUse                   = "55006"
	CodeObjectNotInPrerequisiteState  = "55000"
	CodeQueryCanceled                 = "57014"
	CodeAdminShutdown                 = "57P01"
	CodeProgramLimitExceeded          = "54000"
	CodeTooManyConnections            = "53300"
	CodeDiskFull                      = "53100"
	CodeInternalError                 = "XX000"
	CodeStatementTooComplex           = "54001"
	CodeCardinalityViolation          = "21000"
	CodeInvalidRecursion              = "42P19"
	CodeIndeterminateDatatype         = "42P18"
	CodeUndefinedPreparedStatement    = "26000"
	CodeDuplicatePreparedStatement    = "42P05"
	CodeInvalidParameterValueSetting  = "22023"
	CodeCantChangeRuntimeParam        = "55P02"
	CodeConnectionFailure             = "08006"
	CodeUndefinedDatabase             = "3D000"
	CodeNullValueNotAllowed           = "22004"
	CodeInvalidRegularExpression      = "2201B"
	CodeInvalidEscapeCharacter        = "22019"
	CodeInvalidDatabaseDefinition     = "42P12"
	CodeInvalidObjectDefinition       = "42P17"
	CodeDependentObjectsStillExist    = "2BP01"
	CodeTransactionResolutionUnknown  = "08007"
	CodeInvalidColumnDefinition       = "42611"
	CodeDuplicateAlias                = "42712"
	CodeWindowingError                = "42P20"
	CodeInvalidForeignKey             = "42830"
	CodeInvalidName                   = "42602"
	CodeNameTooLong                   = "42622"
	CodeReservedName                  = "42939"
	CodeInvalidTextRepresentationNote = "22P02"
)

// Severity values of an ErrorResponse.
const (
	SeverityError  = "ERROR"
	SeverityFatal  = "FATAL"
	SeverityNotice = "NOTICE"
)

// Error is a PostgreSQL error: what an ErrorResponse carries.
type Error struct {
	Code     string // SQLSTATE, five characters
	Severity string // "ERROR" unless set
	Message  string
	Detail   string
	Hint     string
	Position int32 // 1-based character position in the statement, 0 if none
	// Constraint, Table and Column name the object involved, when known.
	Constraint, Table, Column string
	cause                     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the error this one was made from, if any.
func (e *Error) Unwrap() error { return e.cause }

// New returns an error with code and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Severity: SeverityError, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with code whose message is the formatted prefix
// followed by err's message; errors.Is sees err through it.
func Wrap(err error, code, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if msg != "" {
		msg += ": "
	}
	return &Error{Code: code, Severity: SeverityError, Message: msg + err.Error(), cause: err}
}

// WithDetail sets the detail field and returns e.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// WithHint sets the hint field and returns e.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// Unsupported returns a 0A000 error naming what is not supported.
func Unsupported(format string, args ...any) *Error {
	return New(CodeFeatureNotSupported, format, args...)
}

// Flatten returns err as a *Error: err itself (or the *Error it wraps),
// 57014 for a canceled context, else XX000 with err's message.
func Flatten(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		if pe.Severity == "" {
			pe.Severity = SeverityError
		}
		return pe
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeQueryCanceled, Severity: SeverityError, Message: "canceling statement due to user request", cause: err}
	}
	return &Error{Code: CodeInternalError, Severity: SeverityError, Message: err.Error(), cause: err}
}

// Code returns err's SQLSTATE, or "" when err is nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	return Flatten(err).Code
}
