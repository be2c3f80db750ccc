package wire

import (
	"context"
	"io"
	"net"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Backend is what the wire server needs from the SQL layer. It is safe for
// concurrent use.
type Backend interface {
	// Verifier returns the role's SCRAM-SHA-256 verifier in PostgreSQL's
	// pg_authid.rolpassword format
	// ("SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>").
	// A role that does not exist or may not log in returns a *pgerror.Error
	// (28P01 or 28000); the wire server then still fails authentication
	// the same way as for a wrong password, so roles are not disclosed.
	Verifier(ctx context.Context, role string) (string, error)
	// Connect opens a session for an authenticated role. It fails with
	// 3D000 for an unknown database and 42501 when the role may not
	// connect to it.
	Connect(ctx context.Context, p ConnectParams) (Session, error)
}

// ConnectParams describe a new connection.
type ConnectParams struct {
	User     string
	Database string
	// Options holds every startup parameter the client sent
	// (application_name, client_encoding, DateStyle, options, ...).
	Options    map[string]string
	RemoteAddr net.Addr
	TLS        bool
}

// Session is one client connection's SQL state: its transaction, settings
// and prepared plans. The wire server calls it from one goroutine. A
// CancelRequest cancels the context of the call running then; a session
// must stop its statement when that context is done.
type Session interface {
	// Parameters returns the ParameterStatus values to send at startup, in
	// order (server_version, server_encoding, client_encoding, DateStyle,
	// TimeZone, integer_datetimes, standard_conforming_strings,
	// IntervalStyle, is_superuser, session_authorization,
	// application_name, ...).
	Parameters() [][2]string
	// ChangedParameters returns the reportable parameters whose value
	// changed since the last call (after a SET), to send as ParameterStatus.
	ChangedParameters() [][2]string
	// SplitSimple checks the syntax of a simple-protocol query string and
	// splits it into its statements (an empty slice for an empty query).
	// A syntax error anywhere fails the whole string with 42601.
	SplitSimple(query string) ([]string, error)
	// Prepare parses and plans one statement. paramTypes holds the types
	// the client gave (0 = infer); the returned Statement reports the
	// full list.
	Prepare(ctx context.Context, query string, paramTypes []uint32) (Statement, error)
	// TxnStatus returns the ReadyForQuery status: 'I' idle, 'T' in a
	// transaction block, 'E' in a failed transaction block.
	TxnStatus() byte
	// Close ends the session, rolling back an open transaction.
	Close()
}

// Column describes one result column (a RowDescription field).
type Column struct {
	Name     string
	TableOID uint32
	AttrNum  int16
	TypeOID  uint32
	TypeSize int16
	TypeMod  int32
	Format   int16 // 0 text, 1 binary
}

// Statement is a prepared statement.
type Statement interface {
	// ParamTypes returns the OIDs of the parameters ($1...), inferred
	// where the client gave none.
	ParamTypes() []uint32
	// Columns describes the result rows (formats all text), or nil when
	// the statement returns no rows.
	Columns() []Column
	// Bind makes a portal: params are the raw parameter values (nil is
	// NULL) in paramFormats (PostgreSQL's rules: none = all text, one =
	// all that format, else one per parameter); resultFormats likewise
	// for the result columns. Errors: 08P01 for a wrong count, 22P02/22P03
	// for a bad value.
	Bind(ctx context.Context, params [][]byte, paramFormats []int16, resultFormats []int16) (Portal, error)
}

// Portal is a bound statement ready to run.
type Portal interface {
	// Columns describes the result rows with their formats, or nil.
	Columns() []Column
	// Execute runs the portal, or resumes a suspended one, writing at most
	// maxRows rows (0 = all). It returns the command tag ("SELECT 3",
	// "INSERT 0 1", ...) when done, or suspended = true when maxRows rows
	// were written and more remain (then the tag is empty).
	Execute(ctx context.Context, maxRows int, w RowWriter) (tag string, suspended bool, err error)
	// Close releases the portal's resources.
	Close()
}

// RowWriter receives what a portal produces.
type RowWriter interface {
	// WriteRow sends one DataRow; values are already encoded in the
	// portal's result formats, nil is NULL. The slices may be reused by
	// the caller after WriteRow returns.
	WriteRow(values [][]byte) error
	// CopyIn starts COPY FROM STDIN: it sends CopyInResponse (overall
	// format 0 text or 1 binary, one format per column) and returns a
	// reader of the CopyData payloads, which ends with io.EOF at CopyDone
	// and with a *pgerror.Error (57014) at CopyFail.
	CopyIn(format int16, columnFormats []int16) (io.Reader, error)
	// Notice sends a NoticeResponse.
	Notice(n *pgerror.Error) error
}

// Syncer is implemented by a Session that keeps PostgreSQL's implicit
// transactions: the statements of one simple Query message, or the
// extended-protocol messages up to a Sync, run in one transaction unless
// an explicit block is open. The wire server calls Sync at the end of each
// Query message (after its last statement or its error) and at each Sync
// message (also after an error skipped messages), before ReadyForQuery;
// the session commits the implicit transaction, or rolls it back if one
// of its statements failed. An error is sent as an ErrorResponse. A Session
// without Sync is expected to commit each statement on its own.
type Syncer interface {
	Sync(ctx context.Context) error
}
