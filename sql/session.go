package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/wire"
)

// txnState is where a session's transaction block is.
type txnState int

const (
	txnIdle    txnState = iota // autocommit: each statement is a transaction
	txnOpen                    // inside BEGIN ... COMMIT
	txnAborted                 // a statement failed inside the block
)

// maxAutoRetries bounds how often an autocommit statement is restarted
// after a write conflict before 40001 reaches the client.
const maxAutoRetries = 20

// Session is one connection's SQL state. Its methods are called from the
// connection's goroutine, except Cancel.
type Session struct {
	srv  *Server
	role *catalog.Role
	db   *catalog.Database
	// settings holds every session parameter that differs from its
	// default; changed lists reportable ones changed since the last
	// ChangedParameters call.
	settings map[string]string
	changed  []string
	// startup holds the values the client sent at connection: they are the
	// session's defaults, which RESET returns to.
	startup map[string]string

	state txnState
	txn   *kv.Txn
	// txnTime is the transaction's timestamp (now()).
	txnTime    time.Time
	savepoints []savepoint
	// txnSettings are SET LOCAL values, dropped at the end of the block;
	// savedSettings are the settings when the block began, restored if it
	// rolls back (SET is transactional in PostgreSQL).
	txnSettings, savedSettings map[string]string

	// prepared are the SQL-level PREPAREd statements.
	prepared map[string]*Statement
	// implicit is set while the block is an implicit transaction: the
	// statements of one multi-statement Query message, committed at its
	// end (Sync). beginImplicit asks the next statement to open one.
	implicit, beginImplicit bool

	// notices wait to be sent with the statement's result.
	notices []*pgerror.Error
}

type savepoint struct {
	name string
	mark int
}

func (s *Server) newSession(r *catalog.Role, db *catalog.Database, p wire.ConnectParams) *Session {
	se := &Session{srv: s, role: r, db: db, settings: map[string]string{}, startup: map[string]string{}, prepared: map[string]*Statement{}}
	se.startup["session_authorization"] = r.Name
	if r.Superuser {
		se.startup["is_superuser"] = "on"
	}
	for k, v := range p.Options {
		lk := strings.ToLower(k)
		switch lk {
		case "user", "database", "options", "replication":
			continue
		}
		if nv, err := normalizeSetting(lk, v); err == nil {
			se.startup[lk] = nv
		}
	}
	s.sessions.Add(1)
	return se
}

// setting returns the value of a session parameter.
func (se *Session) setting(name string) (string, bool) {
	name = strings.ToLower(name)
	if v, ok := se.txnSettings[name]; ok {
		return v, true
	}
	if v, ok := se.settings[name]; ok {
		return v, true
	}
	if v, ok := se.startup[name]; ok {
		return v, true
	}
	if s, ok := settings[name]; ok {
		return s.def, true
	}
	return "", false
}

func (se *Session) set(name, value string, local bool) error {
	name = strings.ToLower(name)
	v, err := normalizeSetting(name, value)
	if err != nil {
		return err
	}
	if local {
		if se.state == txnIdle {
			return nil // PostgreSQL warns and ignores SET LOCAL outside a block
		}
		if se.txnSettings == nil {
			se.txnSettings = map[string]string{}
		}
		se.txnSettings[name] = v
	} else {
		se.settings[name] = v
	}
	if settings[name].reportable {
		se.changed = append(se.changed, name)
	}
	return nil
}

func (se *Session) reset(name string) error {
	name = strings.ToLower(name)
	if _, err := normalizeSetting(name, ""); err != nil && pgerror.Code(err) == pgerror.CodeUndefinedObject {
		return err
	}
	delete(se.settings, name)
	if settings[name].reportable {
		se.changed = append(se.changed, name)
	}
	return nil
}

// Parameters implements wire.Session.
func (se *Session) Parameters() [][2]string {
	out := make([][2]string, 0, len(reportOrder))
	for _, n := range reportOrder {
		v, _ := se.setting(n)
		out = append(out, [2]string{settings[n].canonical, v})
	}
	return out
}

// ChangedParameters implements wire.Session.
func (se *Session) ChangedParameters() [][2]string {
	if len(se.changed) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out [][2]string
	for _, n := range se.changed {
		if seen[n] {
			continue
		}
		seen[n] = true
		v, _ := se.setting(n)
		out = append(out, [2]string{settings[n].canonical, v})
	}
	se.changed = se.changed[:0]
	return out
}

// SplitSimple implements wire.Session. A Query message of several
// statements runs them in one implicit transaction, as PostgreSQL does,
// unless one of them manages transactions or the schema itself.
func (se *Session) SplitSimple(query string) ([]string, error) {
	stmts, err := se.srv.plans.parse(query)
	if err != nil {
		return nil, err
	}
	texts, err := splitStatements(query)
	if err != nil {
		return nil, err
	}
	if len(stmts) > 1 && se.state == txnIdle {
		se.beginImplicit = true
		for _, st := range stmts {
			n := st.Stmt
			if n.GetSelectStmt() == nil && n.GetInsertStmt() == nil && n.GetUpdateStmt() == nil && n.GetDeleteStmt() == nil {
				se.beginImplicit = false
			}
		}
	}
	return texts, nil
}

// Sync implements wire.Syncer: it ends an implicit transaction.
func (se *Session) Sync(ctx context.Context) error {
	se.beginImplicit = false
	if !se.implicit {
		return nil
	}
	_, err := se.endTxn(ctx, se.state == txnOpen)
	return err
}

// TxnStatus implements wire.Session.
func (se *Session) TxnStatus() byte {
	if se.implicit {
		return 'I'
	}
	switch se.state {
	case txnOpen:
		return 'T'
	case txnAborted:
		return 'E'
	}
	return 'I'
}

// Close implements wire.Session.
func (se *Session) Close() {
	if se.txn != nil {
		_ = se.txn.Rollback(context.Background())
		se.txn = nil
	}
	se.srv.sessions.Add(-1)
}

// catalog returns the catalog the session plans with.
func (se *Session) catalog() *catalog.Catalog { return se.srv.cfg.Catalog.Get() }

// begin opens a transaction block.
func (se *Session) begin(ctx context.Context) error {
	if se.implicit {
		se.implicit = false // BEGIN turns the implicit block into an explicit one
		return nil
	}
	if se.state != txnIdle {
		return nil // PostgreSQL warns "there is already a transaction in progress"
	}
	txn, err := se.srv.cfg.KV.Begin(ctx)
	if err != nil {
		return kvError(err)
	}
	// A block's UPDATE and DELETE lock the rows they change as they read
	// them (kv/pessimistic.go): writers of a hot row queue instead of
	// failing at COMMIT.
	txn.SetPessimistic()
	se.txn, se.state, se.txnTime = txn, txnOpen, time.Now()
	se.savepoints = nil
	se.savedSettings = make(map[string]string, len(se.settings))
	for k, v := range se.settings {
		se.savedSettings[k] = v
	}
	return nil
}

// endTxn closes the block, committing when commit and the block did not
// fail; it returns the command tag.
func (se *Session) endTxn(ctx context.Context, commit bool) (string, error) {
	txn, state := se.txn, se.state
	for k := range se.txnSettings {
		if settings[k].reportable {
			se.changed = append(se.changed, k)
		}
	}
	if (!commit || state == txnAborted) && se.savedSettings != nil {
		for k, v := range se.settings {
			if se.savedSettings[k] != v && settings[k].reportable {
				se.changed = append(se.changed, k)
			}
		}
		se.settings = se.savedSettings
	}
	se.txn, se.state, se.savepoints, se.txnSettings, se.savedSettings = nil, txnIdle, nil, nil, nil
	se.implicit = false
	if txn == nil {
		if commit {
			return "COMMIT", nil
		}
		return "ROLLBACK", nil
	}
	if !commit || state == txnAborted {
		_ = txn.Rollback(ctx)
		return "ROLLBACK", nil
	}
	if _, err := txn.Commit(ctx); err != nil {
		return "", kvError(err)
	}
	return "COMMIT", nil
}

// inTxn runs fn in the session's transaction: the open block's, or a new
// one committed afterwards (autocommit), restarted on write conflicts when
// retry is set. A failure inside a block aborts the block. An autocommit
// statement that only reads (readOnly) first runs in a lazy transaction
// (kv.BeginLazy): a read of one key needs no timestamp from the oracle; a
// statement that needs a snapshot after all runs again in a transaction
// from Begin (it has sent nothing yet: results are materialized). An
// autocommit statement that writes runs in a deferred transaction
// (kv.BeginDeferred): its first read takes the timestamp, and a blind
// write to one range needs none of its own.
func (se *Session) inTxn(ctx context.Context, retry, readOnly bool, fn func(ctx context.Context, txn *kv.Txn) error) error {
	if se.state == txnIdle && se.beginImplicit {
		se.beginImplicit = false
		if err := se.begin(ctx); err != nil {
			return err
		}
		se.implicit = true
	}
	switch se.state {
	case txnAborted:
		return errAborted()
	case txnOpen:
		mark := se.txn.Savepoint()
		if err := fn(ctx, se.txn); err != nil {
			se.txn.RollbackTo(mark)
			se.state = txnAborted
			return kvError(err)
		}
		return nil
	}
	lazy := readOnly
	for attempt := 0; ; attempt++ {
		var txn *kv.Txn
		switch {
		case lazy:
			txn = se.srv.cfg.KV.BeginLazy()
		case !readOnly:
			txn = se.srv.cfg.KV.BeginDeferred()
		default:
			var err error
			if txn, err = se.srv.cfg.KV.Begin(ctx); err != nil {
				return kvError(err)
			}
		}
		se.txnTime = time.Now()
		err := fn(ctx, txn)
		if lazy && errors.Is(err, kv.ErrNeedSnapshot) {
			_ = txn.Rollback(ctx)
			lazy = false
			attempt--
			continue
		}
		if err == nil {
			_, err = txn.Commit(ctx)
		} else {
			_ = txn.Rollback(ctx)
		}
		if err == nil {
			return nil
		}
		if !retry || attempt >= maxAutoRetries || !errors.Is(err, kv.ErrWriteConflict) || ctx.Err() != nil {
			return kvError(err)
		}
		time.Sleep(time.Duration(1+attempt*attempt) * time.Millisecond)
	}
}

func errAborted() error {
	return pgerror.New(pgerror.CodeInFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
}

// kvError translates errors of the kv layer into SQLSTATEs.
func kvError(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgerror.Error
	if errors.As(err, &pe) {
		return pe
	}
	switch {
	case errors.Is(err, kv.ErrAmbiguous):
		return pgerror.Wrap(err, pgerror.CodeTransactionResolutionUnknown, "the outcome of the commit is unknown").
			WithHint("It may or may not have taken effect; read the data to find out.")
	case errors.Is(err, kv.ErrWriteConflict), errors.Is(err, kv.ErrTxnAborted):
		return pgerror.Wrap(err, pgerror.CodeSerializationFailure, "could not serialize access due to concurrent update").
			WithHint("The transaction might succeed if retried.")
	case errors.Is(err, context.Canceled):
		return pgerror.New(pgerror.CodeQueryCanceled, "canceling statement due to user request")
	case errors.Is(err, context.DeadlineExceeded):
		return pgerror.New(pgerror.CodeQueryCanceled, "canceling statement due to statement timeout")
	case errors.Is(err, kv.ErrUnavailable):
		return pgerror.Wrap(err, pgerror.CodeConnectionFailure, "cluster unavailable")
	}
	return pgerror.Wrap(err, pgerror.CodeInternalError, "")
}

// statementContext returns the context a statement runs under: the
// call's, which the wire server cancels on a CancelRequest, bounded by
// statement_timeout when it is set.
func (se *Session) statementContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if v, _ := se.setting("statement_timeout"); v != "0" && v != "" {
		if d, err := parseDurationSetting(v); err == nil && d > 0 {
			return context.WithTimeout(ctx, d)
		}
	}
	return ctx, func() {}
}

func parseDurationSetting(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var n int64
	var unit string
	if _, err := fmt.Sscanf(v, "%d%s", &n, &unit); err != nil {
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil {
			return 0, err
		}
		unit = "ms"
	}
	switch strings.TrimSpace(unit) {
	case "ms", "":
		return time.Duration(n) * time.Millisecond, nil
	case "s":
		return time.Duration(n) * time.Second, nil
	case "min":
		return time.Duration(n) * time.Minute, nil
	case "us":
		return time.Duration(n) * time.Microsecond, nil
	}
	return 0, fmt.Errorf("bad duration %q", v)
}
