package sql

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// sessionInfo adapts a Session to expr.Session.
type sessionInfo struct{ se *Session }

var _ expr.Session = sessionInfo{}

func (s sessionInfo) User() string     { return s.se.role.Name }
func (s sessionInfo) Database() string { return s.se.db.Name }

func (s sessionInfo) Setting(name string) (string, error) {
	if strings.EqualFold(name, "version") {
		return VersionString(), nil
	}
	v, ok := s.se.setting(name)
	if !ok {
		return "", pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", name)
	}
	return v, nil
}

func (s sessionInfo) SetSetting(name, value string, local bool) (string, error) {
	if err := s.se.set(name, value, local); err != nil {
		return "", err
	}
	v, _ := s.se.setting(name)
	return v, nil
}

func (s sessionInfo) RelationOid(name string) (int64, error) {
	name = strings.TrimPrefix(name, "public.")
	unq := strings.Trim(name, `"`)
	cat := s.se.catalog()
	if t := cat.Table(s.se.db.ID, unq); t != nil {
		return t.OID(), nil
	}
	if t, ix := findIndex(cat, s.se.db.ID, unq); ix != nil {
		return t.IndexOID(ix), nil
	}
	if oid, ok := virtualOID(strings.TrimPrefix(unq, "pg_catalog.")); ok {
		return oid, nil
	}
	return 0, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", name)
}

func (s sessionInfo) RelationName(oid int64) (string, bool) {
	cat := s.se.catalog()
	if t := cat.TableByOID(oid); t != nil {
		return t.Name, true
	}
	if _, ix := cat.IndexByOID(oid); ix != nil {
		return ix.Name, true
	}
	if name, ok := virtualName(oid); ok {
		return name, true
	}
	return "", false
}

func (s sessionInfo) RoleName(oid int64) (string, bool) {
	if r := s.se.catalog().RoleByOID(oid); r != nil {
		return r.Name, true
	}
	return predefinedRoleName(oid)
}

func (s sessionInfo) IndexDef(oid int64) (string, bool) {
	t, ix := s.se.catalog().IndexByOID(oid)
	if ix == nil {
		return "", false
	}
	return indexDef(t, ix), true
}

// indexDef is pg_get_indexdef's text.
func indexDef(t *catalog.Table, ix *catalog.Index) string {
	var cols []string
	for j, id := range ix.Columns {
		c := quoteIdent(t.ColumnByID(id).Name)
		if j < len(ix.Desc) && ix.Desc[j] {
			c += " DESC"
		}
		cols = append(cols, c)
	}
	u := ""
	if ix.Unique {
		u = "UNIQUE "
	}
	return "CREATE " + u + "INDEX " + quoteIdent(ix.Name) + " ON public." + quoteIdent(t.Name) + " USING btree (" + strings.Join(cols, ", ") + ")"
}

func (s sessionInfo) ConstraintDef(oid int64) (string, bool) {
	t, ix := s.se.catalog().IndexByOID(oid)
	if ix == nil || !ix.Constraint {
		return "", false
	}
	return constraintDef(t, ix), true
}

func constraintDef(t *catalog.Table, ix *catalog.Index) string {
	var cols []string
	for _, id := range ix.Columns {
		cols = append(cols, quoteIdent(t.ColumnByID(id).Name))
	}
	kind := "UNIQUE"
	if ix.Primary {
		kind = "PRIMARY KEY"
	}
	return kind + " (" + strings.Join(cols, ", ") + ")"
}

func (s sessionInfo) RelationSize(int64) int64 { return 0 }

func (s sessionInfo) RelationVisible(oid int64) bool { return relationVisible(oid) }

func (s sessionInfo) BackendPID() int32 { return 0 }

// quoteIdent quotes an identifier when PostgreSQL would.
func quoteIdent(s string) string {
	if s == "" {
		return `""`
	}
	safe := s[0] >= 'a' && s[0] <= 'z' || s[0] == '_'
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
	}
	if safe && !isKeyword(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func isKeyword(s string) bool {
	res, err := pg_query.Scan(s)
	if err != nil || len(res.Tokens) != 1 {
		return false
	}
	return res.Tokens[0].KeywordKind == pg_query.KeywordKind_RESERVED_KEYWORD ||
		res.Tokens[0].KeywordKind == pg_query.KeywordKind_TYPE_FUNC_NAME_KEYWORD ||
		res.Tokens[0].KeywordKind == pg_query.KeywordKind_COL_NAME_KEYWORD
}

// ---- PREPARE / EXECUTE ----

func (p *planner) planPrepare(s *pg_query.PrepareStmt) (plan, error) {
	var oids []uint32
	for _, a := range s.Argtypes {
		t, err := expr.TypeFromName(a.GetTypeName())
		if err != nil {
			return nil, err
		}
		oids = append(oids, t.Oid)
	}
	name := s.Name
	return &sessionPlan{tag: "PREPARE", fn: func(e *execCtx) error {
		if _, ok := e.se.prepared[name]; ok {
			return pgerror.New(pgerror.CodeDuplicatePreparedStatement, "prepared statement \"%s\" already exists", name)
		}
		st := &Statement{se: e.se, params: &expr.Params{}, ast: s.Query}
		for _, o := range oids {
			t, _ := types.FromOid(o)
			st.params.Types = append(st.params.Types, t)
		}
		if err := st.replan(e.ctx); err != nil {
			return err
		}
		e.se.prepared[name] = st
		return nil
	}}, nil
}

// executePlan runs a PREPAREd statement.
type executePlan struct {
	st   *Statement
	args []expr.Expr
}

func (x *executePlan) columns() []resultCol { return x.st.plan.columns() }
func (x *executePlan) mode() txnMode        { return modeSession }

func (x *executePlan) run(e *execCtx) (*result, error) {
	vals := make([]types.Datum, len(x.args))
	for i, a := range x.args {
		d, err := expr.ConstEval(e.ev, a)
		if err != nil {
			return nil, err
		}
		vals[i] = d
	}
	return e.se.execute(e.ctx, x.st.plan, vals, e.w)
}

func (p *planner) planExecute(s *pg_query.ExecuteStmt) (plan, error) {
	st, ok := p.se.prepared[s.Name]
	if !ok {
		return nil, pgerror.New(pgerror.CodeUndefinedPreparedStatement, "prepared statement \"%s\" does not exist", s.Name)
	}
	if len(s.Params) != len(st.params.Types) {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "wrong number of parameters for prepared statement \"%s\"", s.Name).
			WithDetail("Expected %d parameters but got %d.", len(st.params.Types), len(s.Params))
	}
	b := p.builder(&env{p: p, sc: &scope{}})
	x := &executePlan{st: st}
	for i, a := range s.Params {
		v, err := b.Build(a, st.params.Types[i])
		if err != nil {
			return nil, err
		}
		if v.Type().Oid != st.params.Types[i].Oid {
			if v, err = expr.Coerce(v, st.params.Types[i]); err != nil {
				return nil, err
			}
		}
		x.args = append(x.args, v)
	}
	return x, nil
}
