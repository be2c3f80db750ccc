package sql

import (
	"context"
	"runtime/debug"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
	"github.com/shardingsystem/shard/wire"
)

// resultCol describes one result column.
type resultCol struct {
	name     string
	typ      types.T
	tableOID int64
	attnum   int16
}

// result is what a statement produced.
type result struct {
	rows [][]types.Datum
	tag  string
}

// txnMode says how a plan uses transactions.
type txnMode int

const (
	// modeSession plans manage the session themselves (BEGIN, SET, DDL).
	modeSession txnMode = iota
	// modeRead and modeWrite plans run inside the session's transaction
	// (or an autocommit one); write statements are restarted on conflicts
	// when autocommit.
	modeRead
	modeWrite
)

// plan is a planned statement.
type plan interface {
	columns() []resultCol
	mode() txnMode
	run(e *execCtx) (*result, error)
}

// execCtx is what running a plan needs.
type execCtx struct {
	ctx context.Context
	se  *Session
	txn *kv.Txn // nil for modeSession plans
	cat *catalog.Catalog
	ev  *expr.Ctx
	w   wire.RowWriter
}

// Statement is a prepared statement; it implements wire.Statement.
type Statement struct {
	se         *Session
	query      string
	ast        *pg_query.Node
	params     *expr.Params
	plan       plan
	catVersion uint64
}

// Prepare implements wire.Session.
func (se *Session) Prepare(ctx context.Context, query string, paramTypes []uint32) (st wire.Statement, err error) {
	defer recoverInternal(&err)
	return se.prepare(ctx, query, paramTypes)
}

// recoverInternal turns a panic in statement processing into an internal
// error (XX000) for this statement, so that a bug fails one statement
// instead of the node.
func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = pgerror.New(pgerror.CodeInternalError, "internal error: %v", r).
			WithDetail("%s", stackTrace())
	}
}

func (se *Session) prepare(ctx context.Context, query string, paramTypes []uint32) (*Statement, error) {
	stmts, err := se.srv.plans.parse(query)
	if err != nil {
		return nil, err
	}
	if len(stmts) > 1 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	st := &Statement{se: se, query: query, params: &expr.Params{}}
	for _, oid := range paramTypes {
		t, ok := types.FromOid(oid)
		if oid == 0 {
			t = types.Unknown
		} else if !ok {
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "type with OID %d does not exist", oid)
		}
		st.params.Types = append(st.params.Types, t)
	}
	if len(stmts) == 1 {
		st.ast = stmts[0].Stmt
	}
	// In a failed block only the statements that end it may run; any
	// other statement fails with 25P02 before it is even planned.
	if se.state == txnAborted && st.ast != nil && st.ast.GetTransactionStmt() == nil {
		return nil, errAborted()
	}
	if err := st.replan(ctx); err != nil {
		if se.state == txnOpen {
			se.state = txnAborted
		}
		return nil, err
	}
	return st, nil
}

// replan plans the statement against the session's current catalog.
// When the plan names an object the catalog lacks, the catalog may only be
// stale (created through another node less than a poll ago): replan once
// after a refresh, so that a table created through one node can be used
// through any other at once.
func (st *Statement) replan(ctx context.Context) error {
	cat := st.se.catalog()
	if st.ast == nil {
		st.plan = emptyPlan{}
	} else {
		declared := append([]types.T(nil), st.params.Types...)
		p, err := st.se.planStatement(cat, st.ast, st.params)
		if err != nil && undefinedObject(err) && st.se.srv.cfg.Catalog.Refresh(ctx) == nil && st.se.catalog().Version != cat.Version {
			cat = st.se.catalog()
			st.params.Types = declared
			p, err = st.se.planStatement(cat, st.ast, st.params)
		}
		if err != nil {
			return err
		}
		st.plan = p
	}
	for i, t := range st.params.Types {
		if t.Oid == types.OidUnknown {
			st.params.Types[i] = types.Text
		}
	}
	st.catVersion = cat.Version
	return nil
}

// ParamTypes implements wire.Statement.
func (st *Statement) ParamTypes() []uint32 {
	out := make([]uint32, len(st.params.Types))
	for i, t := range st.params.Types {
		out[i] = t.Oid
	}
	return out
}

// Columns implements wire.Statement.
func (st *Statement) Columns() []wire.Column { return wireColumns(st.plan.columns(), nil) }

func wireColumns(cols []resultCol, formats []int16) []wire.Column {
	if cols == nil {
		return nil
	}
	out := make([]wire.Column, len(cols))
	for i, c := range cols {
		out[i] = wire.Column{Name: c.name, TableOID: uint32(c.tableOID), AttrNum: c.attnum,
			TypeOID: c.typ.Oid, TypeSize: c.typ.Size(), TypeMod: c.typ.Mod, Format: formatOf(formats, i)}
	}
	return out
}

// formatOf applies PostgreSQL's format-code rules: none means text, one
// applies to all, else one per item.
func formatOf(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

// Bind implements wire.Statement.
func (st *Statement) Bind(ctx context.Context, params [][]byte, paramFormats []int16, resultFormats []int16) (_ wire.Portal, err error) {
	defer recoverInternal(&err)
	if st.catVersion != st.se.catalog().Version && st.ast != nil {
		if err := st.replan(ctx); err != nil {
			return nil, err
		}
	}
	if len(params) != len(st.params.Types) {
		return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(params), len(st.params.Types))
	}
	if len(paramFormats) > 1 && len(paramFormats) != len(params) {
		return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message has %d parameter formats but %d parameters", len(paramFormats), len(params))
	}
	vals := make([]types.Datum, len(params))
	for i, raw := range params {
		if raw == nil {
			continue
		}
		t := st.params.Types[i]
		var err error
		if formatOf(paramFormats, i) == 1 {
			vals[i], err = types.ParseBinary(t, raw)
		} else {
			vals[i], err = types.ParseText(t, string(raw))
		}
		if err != nil {
			pe := pgerror.Flatten(err)
			if formatOf(paramFormats, i) == 1 && pe.Code == pgerror.CodeInternalError {
				pe.Code = pgerror.CodeInvalidBinaryRepresentation
			}
			return nil, pe
		}
	}
	cols := st.plan.columns()
	if len(resultFormats) > 1 && len(resultFormats) != len(cols) {
		return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message has %d result formats but query has %d columns", len(resultFormats), len(cols))
	}
	return &Portal{st: st, params: vals, formats: append([]int16(nil), resultFormats...)}, nil
}

// Portal is a bound statement; it implements wire.Portal.
type Portal struct {
	st      *Statement
	params  []types.Datum
	formats []int16
	res     *result
	pos     int
	ran     bool
	// ev evaluates reg* output (names need the session).
	ev *expr.Ctx
	// loc is the session's time zone for timestamptz text output; nil
	// for UTC.
	loc *time.Location
}

// Columns implements wire.Portal.
func (p *Portal) Columns() []wire.Column { return wireColumns(p.st.plan.columns(), p.formats) }

// Close implements wire.Portal.
func (p *Portal) Close() { p.res = nil }

// Execute implements wire.Portal.
func (p *Portal) Execute(ctx context.Context, maxRows int, w wire.RowWriter) (_ string, _ bool, err error) {
	defer recoverInternal(&err)
	if !p.ran {
		p.ran = true
		res, err := p.st.se.execute(ctx, p.st.plan, p.params, w)
		if err != nil {
			return "", false, err
		}
		p.res = res
	}
	if p.res == nil {
		return "", false, pgerror.New(pgerror.CodeInvalidCursorName, "portal has been closed")
	}
	cols := p.st.plan.columns()
	if p.ev == nil {
		p.ev = &expr.Ctx{Context: ctx, Session: sessionInfo{p.st.se}}
		p.loc = p.st.se.location()
	}
	buf := make([][]byte, len(cols))
	sent := 0
	for p.pos < len(p.res.rows) {
		if maxRows > 0 && sent >= maxRows {
			return "", true, nil
		}
		row := p.res.rows[p.pos]
		for i, d := range row {
			if d == nil {
				buf[i] = nil
				continue
			}
			// A non-NULL value is never a nil slice, even when empty:
			// nil means NULL to the writer.
			if formatOf(p.formats, i) == 1 {
				b, err := types.AppendBinary(make([]byte, 0, 16), cols[i].typ, d)
				if err != nil {
					return "", false, err
				}
				buf[i] = b
			} else if cols[i].typ.Oid == types.OidTimestampTZ && p.loc != nil {
				buf[i] = appendTimestampTZ(make([]byte, 0, 32), d.(time.Time), p.loc)
			} else if s, ok := expr.RegOutput(p.ev, cols[i].typ, d); ok {
				buf[i] = append(make([]byte, 0, len(s)), s...)
			} else {
				buf[i] = types.AppendText(make([]byte, 0, 16), cols[i].typ, d)
			}
		}
		if err := w.WriteRow(buf); err != nil {
			return "", false, err
		}
		p.pos++
		sent++
	}
	return p.res.tag, false, nil
}

// execute runs a plan with bound parameters.
func (se *Session) execute(ctx context.Context, pl plan, params []types.Datum, w wire.RowWriter) (*result, error) {
	ctx, done := se.statementContext(ctx)
	defer done()
	defer se.flushNotices(w)
	e := &execCtx{se: se, cat: se.catalog(), w: w}
	ctx = context.WithValue(ctx, execKey{}, e)
	e.ctx = ctx
	e.ev = &expr.Ctx{Context: ctx, Params: params, Session: sessionInfo{se}}
	if pl.mode() == modeSession {
		if se.state == txnAborted && !allowedWhenAborted(pl) {
			return nil, errAborted()
		}
		e.ev.Now = se.now()
		return pl.run(e)
	}
	if q := se.srv.cfg.StorageQuota; q != nil {
		switch pl.(type) {
		case *insertPlan, *updatePlan, *copyPlan:
			if err := q(se.db); err != nil {
				return nil, err
			}
		}
	}
	var res *result
	_, isCopy := pl.(*copyPlan)
	err := se.inTxn(ctx, !isCopy, pl.mode() == modeRead, func(ctx context.Context, txn *kv.Txn) error {
		e.ctx, e.txn = ctx, txn
		e.ev.Context = ctx
		e.ev.Now = se.now()
		r, err := pl.run(e)
		res = r
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// now is the transaction timestamp.
func (se *Session) now() time.Time {
	if se.txnTime.IsZero() {
		return time.Now()
	}
	return se.txnTime
}

// location returns the session's time zone, nil for UTC.
func (se *Session) location() *time.Location {
	name, _ := se.setting("timezone")
	if name == "" || name == "UTC" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// appendTimestampTZ prints an instant in loc as PostgreSQL does: the wall
// clock there and the offset ("+02", "+05:30").
func appendTimestampTZ(b []byte, t time.Time, loc *time.Location) []byte {
	lt := t.In(loc)
	wall := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), lt.Nanosecond(), time.UTC)
	b = types.AppendText(b, types.Timestamp, wall)
	_, off := lt.Zone()
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	b = append(b, byte('0'+off/36000), byte('0'+off/3600%10))
	if m := off % 3600 / 60; m != 0 || off%60 != 0 {
		b = append(b, ':', byte('0'+m/10), byte('0'+m%10))
	}
	if sec := off % 60; sec != 0 {
		b = append(b, ':', byte('0'+sec/10), byte('0'+sec%10))
	}
	return b
}

func stackTrace() string {
	b := debug.Stack()
	if len(b) > 4000 {
		b = b[:4000]
	}
	return string(b)
}

// emptyPlan is an empty query.
type emptyPlan struct{}

func (emptyPlan) columns() []resultCol          { return nil }
func (emptyPlan) mode() txnMode                 { return modeSession }
func (emptyPlan) run(*execCtx) (*result, error) { return &result{}, nil }

// undefinedObject reports whether err says a named object does not exist.
func undefinedObject(err error) bool {
	switch pgerror.Flatten(err).Code {
	case pgerror.CodeUndefinedTable, pgerror.CodeUndefinedColumn, pgerror.CodeUndefinedObject,
		pgerror.CodeUndefinedFunction, pgerror.CodeInvalidSchemaName:
		return true
	}
	return false
}
