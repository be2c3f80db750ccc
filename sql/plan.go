package sql

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// planStatement plans one parsed statement.
func (se *Session) planStatement(cat *catalog.Catalog, n *pg_query.Node, params *expr.Params) (plan, error) {
	db := cat.DatabaseByID(se.db.ID)
	if db == nil {
		return nil, pgerror.New(pgerror.CodeInvalidCatalogName, "database \"%s\" was dropped", se.db.Name)
	}
	p := &planner{se: se, cat: cat, db: db, params: params}
	pl, err := p.planStatementKind(n)
	if err == nil {
		p.pushDownPlan(pl)
	}
	return pl, err
}

// planStatementKind plans n by its kind.
func (p *planner) planStatementKind(n *pg_query.Node) (plan, error) {
	switch {
	case n.GetSelectStmt() != nil:
		return p.planQuery(n.GetSelectStmt())
	case n.GetInsertStmt() != nil:
		return p.planInsert(n.GetInsertStmt())
	case n.GetUpdateStmt() != nil:
		return p.planUpdate(n.GetUpdateStmt())
	case n.GetDeleteStmt() != nil:
		return p.planDelete(n.GetDeleteStmt())
	case n.GetTransactionStmt() != nil:
		return p.planTransaction(n.GetTransactionStmt())
	case n.GetVariableSetStmt() != nil:
		return p.planSet(n.GetVariableSetStmt())
	case n.GetVariableShowStmt() != nil:
		return p.planShow(n.GetVariableShowStmt().Name)
	case n.GetDiscardStmt() != nil:
		return &sessionPlan{tag: "DISCARD ALL", fn: func(e *execCtx) error {
			if e.se.state != txnIdle {
				return pgerror.New(pgerror.CodeActiveSQLTransaction, "DISCARD ALL cannot run inside a transaction block")
			}
			e.se.settings = map[string]string{}
			e.se.prepared = map[string]*Statement{}
			return nil
		}}, nil
	case n.GetExplainStmt() != nil:
		return p.planExplain(n.GetExplainStmt())
	case n.GetCopyStmt() != nil:
		return p.planCopy(n.GetCopyStmt())
	case n.GetVacuumStmt() != nil:
		tag := "VACUUM"
		if !n.GetVacuumStmt().IsVacuumcmd {
			tag = "ANALYZE"
		}
		// MVCC garbage is collected by the ranges themselves; there is
		// nothing for VACUUM or ANALYZE to do, so they succeed.
		return &sessionPlan{tag: tag, fn: func(*execCtx) error { return nil }}, nil
	case n.GetCheckPointStmt() != nil:
		return &sessionPlan{tag: "CHECKPOINT", fn: func(*execCtx) error { return nil }}, nil
	case n.GetPrepareStmt() != nil:
		return p.planPrepare(n.GetPrepareStmt())
	case n.GetExecuteStmt() != nil:
		return p.planExecute(n.GetExecuteStmt())
	case n.GetDeallocateStmt() != nil:
		name := n.GetDeallocateStmt().Name
		return &sessionPlan{tag: "DEALLOCATE", fn: func(e *execCtx) error {
			if name == "" {
				e.se.prepared = map[string]*Statement{}
				return nil
			}
			if _, ok := e.se.prepared[name]; !ok {
				return pgerror.New(pgerror.CodeUndefinedPreparedStatement, "prepared statement \"%s\" does not exist", name)
			}
			delete(e.se.prepared, name)
			return nil
		}}, nil
	}
	if ddl, err := p.planDDL(n); ddl != nil || err != nil {
		return ddl, err
	}
	return nil, pgerror.Unsupported("%s is not supported", statementName(n))
}

// statementName names a statement kind for error messages.
func statementName(n *pg_query.Node) string {
	s := n.String()
	if i := strings.IndexAny(s, ":{"); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "_stmt")
	return strings.ToUpper(strings.ReplaceAll(s, "_", " ")) + " statement"
}

// sessionPlan runs a function on the session, outside the transaction
// machinery.
type sessionPlan struct {
	tag   string
	fn    func(e *execCtx) error
	cols  []resultCol
	rowFn func(e *execCtx) ([]row, error)
	// whenAborted lets the plan run in an aborted transaction block
	// (ROLLBACK, COMMIT).
	whenAborted bool
}

func (s *sessionPlan) columns() []resultCol { return s.cols }
func (s *sessionPlan) mode() txnMode        { return modeSession }

func (s *sessionPlan) run(e *execCtx) (*result, error) {
	if s.fn != nil {
		if err := s.fn(e); err != nil {
			return nil, err
		}
	}
	res := &result{tag: s.tag}
	if s.rowFn != nil {
		rows, err := s.rowFn(e)
		if err != nil {
			return nil, err
		}
		res.rows = rows
	}
	return res, nil
}

// allowedWhenAborted reports whether a plan may run in a failed block.
func allowedWhenAborted(p plan) bool {
	s, ok := p.(*sessionPlan)
	return ok && s.whenAborted
}

// planTransaction plans BEGIN, COMMIT, ROLLBACK and savepoints.
func (p *planner) planTransaction(ts *pg_query.TransactionStmt) (plan, error) {
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		tag := "BEGIN"
		if ts.Kind == pg_query.TransactionStmtKind_TRANS_STMT_START {
			tag = "START TRANSACTION"
		}
		return &sessionPlan{tag: tag, fn: func(e *execCtx) error {
			if err := checkTxnOptions(ts.Options); err != nil {
				return err
			}
			if e.se.state != txnIdle {
				_ = e.w.Notice(&pgerror.Error{Code: "25001", Severity: "WARNING", Message: "there is already a transaction in progress"})
				return nil
			}
			return e.se.begin(e.ctx)
		}}, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		sp := &sessionPlan{whenAborted: true}
		sp.fn = func(e *execCtx) error {
			if e.se.state == txnIdle {
				_ = e.w.Notice(&pgerror.Error{Code: "25P01", Severity: "WARNING", Message: "there is no transaction in progress"})
				sp.tag = "COMMIT"
				return nil
			}
			tag, err := e.se.endTxn(e.ctx, true)
			sp.tag = tag
			return err
		}
		return sp, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		return &sessionPlan{tag: "ROLLBACK", whenAborted: true, fn: func(e *execCtx) error {
			if e.se.state == txnIdle {
				_ = e.w.Notice(&pgerror.Error{Code: "25P01", Severity: "WARNING", Message: "there is no transaction in progress"})
				return nil
			}
			_, err := e.se.endTxn(e.ctx, false)
			return err
		}}, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		return &sessionPlan{tag: "SAVEPOINT", fn: func(e *execCtx) error {
			if e.se.state == txnIdle {
				return pgerror.New(pgerror.CodeNoActiveSQLTransaction, "SAVEPOINT can only be used in transaction blocks")
			}
			e.se.savepoints = append(e.se.savepoints, savepoint{name: ts.SavepointName, mark: e.se.txn.Savepoint()})
			return nil
		}}, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		return &sessionPlan{tag: "RELEASE", fn: func(e *execCtx) error {
			i, err := e.se.findSavepoint(ts.SavepointName, "RELEASE SAVEPOINT")
			if err != nil {
				return err
			}
			e.se.savepoints = e.se.savepoints[:i]
			return nil
		}}, nil
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return &sessionPlan{tag: "ROLLBACK", whenAborted: true, fn: func(e *execCtx) error {
			i, err := e.se.findSavepoint(ts.SavepointName, "ROLLBACK TO SAVEPOINT")
			if err != nil {
				if e.se.state == txnAborted {
					return err
				}
				e.se.state = txnAborted
				return err
			}
			e.se.txn.RollbackTo(e.se.savepoints[i].mark)
			e.se.savepoints = e.se.savepoints[:i+1]
			e.se.state = txnOpen
			return nil
		}}, nil
	}
	return nil, pgerror.Unsupported("two-phase commit (PREPARE TRANSACTION) is not supported")
}

func checkTxnOptions(opts []*pg_query.Node) error {
	for _, o := range opts {
		de := o.GetDefElem()
		if de == nil {
			continue
		}
		if de.Defname == "transaction_read_only" || de.Defname == "transaction_deferrable" || de.Defname == "transaction_isolation" {
			continue
		}
	}
	return nil
}

func (se *Session) findSavepoint(name, what string) (int, error) {
	if se.state == txnIdle {
		return 0, pgerror.New(pgerror.CodeNoActiveSQLTransaction, "%s can only be used in transaction blocks", what)
	}
	for i := len(se.savepoints) - 1; i >= 0; i-- {
		if se.savepoints[i].name == name {
			return i, nil
		}
	}
	return 0, pgerror.New("3B001", "savepoint \"%s\" does not exist", name)
}

// planSet plans SET and RESET.
func (p *planner) planSet(vs *pg_query.VariableSetStmt) (plan, error) {
	switch vs.Kind {
	case pg_query.VariableSetKind_VAR_SET_VALUE, pg_query.VariableSetKind_VAR_SET_CURRENT:
		name := strings.ToLower(vs.Name)
		var vals []string
		for _, a := range vs.Args {
			v, err := setArg(a)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		value := strings.Join(vals, ", ")
		switch name {
		case "transaction", "session characteristics":
			return &sessionPlan{tag: "SET", fn: func(*execCtx) error { return nil }}, nil
		case "transaction_isolation", "transaction isolation level":
			name = "transaction_isolation"
		case "time zone":
			name = "timezone"
		case "names":
			name = "client_encoding"
		case "role", "session authorization":
			return nil, pgerror.Unsupported("SET %s is not supported", strings.ToUpper(name))
		}
		return &sessionPlan{tag: "SET", fn: func(e *execCtx) error { return e.se.set(name, value, vs.IsLocal) }}, nil
	case pg_query.VariableSetKind_VAR_SET_DEFAULT, pg_query.VariableSetKind_VAR_RESET:
		name := strings.ToLower(vs.Name)
		if name == "time zone" {
			name = "timezone"
		}
		tag := "RESET"
		if vs.Kind == pg_query.VariableSetKind_VAR_SET_DEFAULT {
			tag = "SET"
		}
		return &sessionPlan{tag: tag, fn: func(e *execCtx) error { return e.se.reset(name) }}, nil
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		return &sessionPlan{tag: "RESET", fn: func(e *execCtx) error {
			e.se.settings = map[string]string{}
			return nil
		}}, nil
	case pg_query.VariableSetKind_VAR_SET_MULTI:
		return &sessionPlan{tag: "SET", fn: func(*execCtx) error { return nil }}, nil
	}
	return nil, pgerror.Unsupported("this form of SET is not supported")
}

// setArg renders one SET argument as the setting's text.
func setArg(n *pg_query.Node) (string, error) {
	if c := n.GetAConst(); c != nil {
		switch {
		case c.GetSval() != nil:
			return c.GetSval().Sval, nil
		case c.GetIval() != nil:
			return itoa64(int64(c.GetIval().Ival)), nil
		case c.GetFval() != nil:
			return c.GetFval().Fval, nil
		case c.GetBoolval() != nil:
			if c.GetBoolval().Boolval {
				return "on", nil
			}
			return "off", nil
		}
	}
	if tc := n.GetTypeCast(); tc != nil {
		return setArg(tc.Arg)
	}
	return "", pgerror.New(pgerror.CodeSyntaxError, "unsupported SET value")
}

// planShow plans SHOW name.
func (p *planner) planShow(name string) (plan, error) {
	lname := strings.ToLower(name)
	switch lname {
	case "all":
		return &sessionPlan{tag: "SHOW", cols: []resultCol{{name: "name", typ: types.Text}, {name: "setting", typ: types.Text}, {name: "description", typ: types.Text}},
			rowFn: func(e *execCtx) ([]row, error) {
				var out []row
				for _, k := range sortedSettingNames() {
					v, _ := e.se.setting(k)
					out = append(out, row{k, v, ""})
				}
				return out, nil
			}}, nil
	case "time zone":
		lname = "timezone"
	case "transaction isolation level":
		lname = "transaction_isolation"
	case "session authorization":
		lname = "session_authorization"
	}
	header := lname
	if s, ok := settings[lname]; ok {
		header = s.canonical
	}
	if lname == "timezone" {
		header = "TimeZone"
	}
	return &sessionPlan{tag: "SHOW", cols: []resultCol{{name: header, typ: types.Text}}, rowFn: func(e *execCtx) ([]row, error) {
		v, ok := e.se.setting(lname)
		if !ok {
			if strings.Contains(lname, ".") {
				return nil, pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", name)
			}
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", name)
		}
		return []row{{v}}, nil
	}}, nil
}

func itoa64(v int64) string {
	if v < 0 {
		return "-" + itoa64(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa64(v/10) + string(rune('0'+v%10))
}

func errArgType(what string, t types.T) error {
	return pgerror.New(pgerror.CodeDatatypeMismatch, "argument of %s must be type boolean, not type %s", what, types.FormatType(t))
}

// mkEq builds left = right, coercing right to left's type when their
// families differ.
func mkEq(l, r expr.Expr) (expr.Expr, error) {
	if l.Type().Family() != r.Type().Family() {
		cr, err := expr.Coerce(r, l.Type())
		if err != nil {
			return nil, err
		}
		r = cr
	}
	return expr.NewCmp("=", l, r), nil
}
