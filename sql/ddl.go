package sql

import (
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/sql/types"
	"github.com/shardingsystem/shard/wire"
)

// ddlPlan runs a schema change. Schema changes commit on their own, even
// inside a transaction block (see doc.go); data they write (backfills,
// deletions) commits with them.
type ddlPlan struct {
	tag string
	fn  func(ctx context.Context, e *execCtx, m *catalog.Mutation) error
	// after runs once the change committed (splits, cache resets).
	after func(ctx context.Context, e *execCtx)
}

func (d *ddlPlan) columns() []resultCol { return nil }
func (d *ddlPlan) mode() txnMode        { return modeSession }

func (d *ddlPlan) run(e *execCtx) (*result, error) {
	if e.se.state == txnAborted {
		return nil, errAborted()
	}
	mark := len(e.se.notices)
	err := e.se.srv.cfg.Catalog.Change(e.ctx, func(ctx context.Context, m *catalog.Mutation) error {
		e.se.notices = e.se.notices[:mark] // a retried change notes again
		return d.fn(ctx, e, m)
	})
	if err != nil {
		err = kvError(err)
		if e.se.state == txnOpen {
			e.se.state = txnAborted
		}
		return nil, err
	}
	if d.after != nil {
		d.after(e.ctx, e)
	}
	return &result{tag: d.tag}, nil
}

// planDDL plans schema statements; nil, nil when n is not one.
func (p *planner) planDDL(n *pg_query.Node) (plan, error) {
	switch {
	case n.GetCreateStmt() != nil:
		return p.planCreateTable(n.GetCreateStmt())
	case n.GetDropStmt() != nil:
		return p.planDrop(n.GetDropStmt())
	case n.GetCreatedbStmt() != nil:
		return p.planCreateDatabase(n.GetCreatedbStmt())
	case n.GetDropdbStmt() != nil:
		return p.planDropDatabase(n.GetDropdbStmt())
	case n.GetTruncateStmt() != nil:
		return p.planTruncate(n.GetTruncateStmt())
	case n.GetIndexStmt() != nil:
		return p.planCreateIndex(n.GetIndexStmt())
	case n.GetAlterTableStmt() != nil:
		return p.planAlterTable(n.GetAlterTableStmt())
	case n.GetCreateRoleStmt() != nil:
		return p.planCreateRole(n.GetCreateRoleStmt())
	case n.GetAlterRoleStmt() != nil:
		return p.planAlterRole(n.GetAlterRoleStmt())
	case n.GetDropRoleStmt() != nil:
		return p.planDropRole(n.GetDropRoleStmt())
	case n.GetRenameStmt() != nil:
		return p.planRename(n.GetRenameStmt())
	case n.GetCreateSchemaStmt() != nil:
		cs := n.GetCreateSchemaStmt()
		if cs.IfNotExists && (cs.Schemaname == "public" || cs.Schemaname == "") {
			return &sessionPlan{tag: "CREATE SCHEMA", fn: func(*execCtx) error { return nil }}, nil
		}
		return nil, pgerror.Unsupported("CREATE SCHEMA is not supported: every table lives in schema public")
	case n.GetCommentStmt() != nil:
		return nil, pgerror.Unsupported("COMMENT is not supported yet")
	case n.GetGrantStmt() != nil, n.GetGrantRoleStmt() != nil:
		return nil, pgerror.Unsupported("GRANT and REVOKE are not supported yet")
	case n.GetCreateExtensionStmt() != nil:
		return nil, pgerror.Unsupported("extensions are not supported")
	case n.GetCreateSeqStmt() != nil:
		return nil, pgerror.Unsupported("CREATE SEQUENCE is not supported yet; use serial or identity columns")
	case n.GetViewStmt() != nil:
		return nil, pgerror.Unsupported("views are not supported yet")
	}
	return nil, nil
}

// ---- CREATE TABLE ----

func (p *planner) planCreateTable(s *pg_query.CreateStmt) (plan, error) {
	rv := s.Relation
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		return nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema \"%s\" does not exist", rv.Schemaname)
	}
	if rv.Relpersistence == "t" {
		return nil, pgerror.Unsupported("temporary tables are not supported yet")
	}
	if s.Partspec != nil || s.Partbound != nil || len(s.InhRelations) > 0 || s.OfTypename != nil {
		return nil, pgerror.Unsupported("partitioned, inherited and typed tables are not supported; shard partitions every table itself")
	}
	db := p.db
	name := rv.Relname
	t := &catalog.Table{DB: db.ID, Name: name, Owner: p.se.role.Name, NextColumnID: 1, NextIndexID: 1}
	var pkCols []string
	var pkName string
	type uniq struct {
		name string
		cols []string
	}
	var uniques []uniq
	for _, el := range s.TableElts {
		switch {
		case el.GetColumnDef() != nil:
			cd := el.GetColumnDef()
			c, isPK, isUnique, err := p.columnDef(t, cd)
			if err != nil {
				return nil, err
			}
			if t.Column(c.Name) != nil {
				return nil, pgerror.New(pgerror.CodeDuplicateColumn, "column \"%s\" specified more than once", c.Name)
			}
			t.Columns = append(t.Columns, c)
			if isPK {
				if pkCols != nil {
					return nil, pgerror.New(pgerror.CodeInvalidTableDefinition, "multiple primary keys for table \"%s\" are not allowed", name)
				}
				pkCols = []string{c.Name}
			}
			if isUnique {
				uniques = append(uniques, uniq{cols: []string{c.Name}})
			}
		case el.GetConstraint() != nil:
			con := el.GetConstraint()
			cols := nodeStrings(con.Keys)
			switch con.Contype {
			case pg_query.ConstrType_CONSTR_PRIMARY:
				if pkCols != nil {
					return nil, pgerror.New(pgerror.CodeInvalidTableDefinition, "multiple primary keys for table \"%s\" are not allowed", name)
				}
				pkCols, pkName = cols, con.Conname
			case pg_query.ConstrType_CONSTR_UNIQUE:
				uniques = append(uniques, uniq{name: con.Conname, cols: cols})
			default:
				return nil, unsupportedConstraint(con)
			}
		case el.GetTableLikeClause() != nil:
			return nil, pgerror.Unsupported("CREATE TABLE ... LIKE is not supported yet")
		}
	}
	for _, c := range t.Columns {
		if c.Sequence != "" {
			c.Sequence = fmt.Sprintf("%s_%s_seq", name, c.Name)
			c.Default = ""
		}
	}
	if err := setPrimaryKey(t, db, pkCols, pkName); err != nil {
		return nil, err
	}
	for _, u := range uniques {
		if _, err := addIndex(t, u.name, u.cols, nil, true, true); err != nil {
			return nil, err
		}
	}
	ifNotExists := s.IfNotExists
	return &ddlPlan{tag: "CREATE TABLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		if m.Cat.DatabaseByID(db.ID) == nil {
			return pgerror.New(pgerror.CodeInvalidCatalogName, "database \"%s\" does not exist", db.Name)
		}
		if m.Cat.Table(db.ID, name) != nil {
			if ifNotExists {
				e.se.noticeCode(pgerror.CodeDuplicateTable, "relation \"%s\" already exists, skipping", name)
				return nil
			}
			return pgerror.New(pgerror.CodeDuplicateTable, "relation \"%s\" already exists", name)
		}
		nt := *t
		nt.ID = m.AllocID()
		return m.PutTable(&nt)
	}}, nil
}

func unsupportedConstraint(con *pg_query.Constraint) error {
	switch con.Contype {
	case pg_query.ConstrType_CONSTR_FOREIGN:
		return pgerror.Unsupported("FOREIGN KEY constraints are not supported yet")
	case pg_query.ConstrType_CONSTR_CHECK:
		return pgerror.Unsupported("CHECK constraints are not supported yet")
	case pg_query.ConstrType_CONSTR_EXCLUSION:
		return pgerror.Unsupported("EXCLUDE constraints are not supported")
	case pg_query.ConstrType_CONSTR_GENERATED:
		return pgerror.Unsupported("generated columns are not supported yet")
	}
	return pgerror.Unsupported("this constraint is not supported")
}

func nodeStrings(ns []*pg_query.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.GetString_().GetSval())
	}
	return out
}

// columnDef converts a column definition.
func (p *planner) columnDef(t *catalog.Table, cd *pg_query.ColumnDef) (c *catalog.Column, isPK, isUnique bool, err error) {
	tn := cd.TypeName
	serial := ""
	if names := tn.GetNames(); len(names) > 0 {
		last := names[len(names)-1].GetString_().GetSval()
		switch last {
		case "serial", "serial4":
			serial = "int4"
		case "bigserial", "serial8":
			serial = "int8"
		case "smallserial", "serial2":
			serial = "int2"
		}
	}
	var typ types.T
	if serial != "" {
		typ, _ = types.ByName(serial)
	} else if typ, err = expr.TypeFromName(tn); err != nil {
		return nil, false, false, err
	}
	c = &catalog.Column{ID: t.NextColumnID, Name: cd.Colname, Type: typ}
	t.NextColumnID++
	if serial != "" {
		c.NotNull = true
		c.Sequence = "pending"
	}
	for _, cn := range cd.Constraints {
		con := cn.GetConstraint()
		switch con.Contype {
		case pg_query.ConstrType_CONSTR_NOTNULL:
			c.NotNull = true
		case pg_query.ConstrType_CONSTR_NULL:
			c.NotNull = false
		case pg_query.ConstrType_CONSTR_DEFAULT:
			if serial != "" {
				return nil, false, false, pgerror.New(pgerror.CodeSyntaxError, "multiple default values specified for column \"%s\" of table \"%s\"", c.Name, t.Name)
			}
			def, err := p.checkDefault(con.RawExpr, typ)
			if err != nil {
				return nil, false, false, err
			}
			c.Default = def
		case pg_query.ConstrType_CONSTR_PRIMARY:
			isPK = true
			c.NotNull = true
		case pg_query.ConstrType_CONSTR_UNIQUE:
			isUnique = true
		case pg_query.ConstrType_CONSTR_IDENTITY:
			if typ.Family() != types.IntFamily {
				return nil, false, false, pgerror.New(pgerror.CodeInvalidParameterValue, "identity column type must be smallint, integer, or bigint")
			}
			c.Identity = con.GeneratedWhen
			c.NotNull = true
			c.Sequence = "pending"
		default:
			return nil, false, false, unsupportedConstraint(con)
		}
	}
	return c, isPK, isUnique, nil
}

// checkDefault plans a default expression once to check it and returns
// its SQL text.
func (p *planner) checkDefault(n *pg_query.Node, typ types.T) (string, error) {
	x, err := p.builder(&env{p: p, sc: &scope{}}).Build(n, typ)
	if err != nil {
		return "", err
	}
	if x.Type().Oid != typ.Oid {
		if _, err := expr.Coerce(x, typ); err != nil {
			return "", pgerror.New(pgerror.CodeDatatypeMismatch, "column is of type %s but default expression is of type %s", types.FormatType(typ), types.FormatType(x.Type())).
				WithHint("You will need to rewrite or cast the expression.")
		}
	}
	return deparseExpr(n)
}

// deparseExpr returns the SQL text of an expression.
func deparseExpr(n *pg_query.Node) (string, error) {
	tree := &pg_query.ParseResult{Version: parseTreeVersion, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
		LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE,
		TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}}}}}}}}
	s, err := pg_query.Deparse(tree)
	if err != nil {
		return "", pgerror.Wrap(err, pgerror.CodeInternalError, "deparse")
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

// parseTreeVersion is the parser's tree version, which Deparse checks.
var parseTreeVersion = func() int32 {
	r, err := pg_query.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return r.Version
}()

// setPrimaryKey sets t's primary index (a hidden row id when cols is
// empty), its shard column, and the global index a primary key without the
// shard column needs.
func setPrimaryKey(t *catalog.Table, db *catalog.Database, cols []string, name string) error {
	if len(cols) == 0 {
		c := &catalog.Column{ID: t.NextColumnID, Name: "rowid", Type: types.Int8, NotNull: true, Hidden: true}
		t.NextColumnID++
		t.Columns = append(t.Columns, c)
		cols = []string{"rowid"}
		name = t.Name + "_rowid"
	}
	if name == "" {
		name = t.Name + "_pkey"
	}
	var ids []uint32
	for _, cn := range cols {
		c := t.Column(cn)
		if c == nil {
			return pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" named in key does not exist", cn)
		}
		c.NotNull = true
		ids = append(ids, c.ID)
	}
	t.ShardColumn = ids[0]
	if db.ShardKey != "" {
		if c := t.Column(db.ShardKey); c != nil && !c.Hidden {
			t.ShardColumn = c.ID
		}
	}
	pk := &catalog.Index{ID: t.NextIndexID, Name: name, Columns: ids, Unique: true, Primary: true, Constraint: true}
	t.NextIndexID++
	t.Indexes = append(t.Indexes, pk)
	t.Primary = pk.ID
	hasShard := false
	for _, id := range ids {
		if id == t.ShardColumn {
			hasShard = true
		}
	}
	// A primary key without the shard column gets a global unique index,
	// so that it stays unique across shard values and WHERE id = $1 stays
	// one lookup. A hidden row id does not: no statement can write it
	// (INSERT, UPDATE and COPY refuse the column) and the node that makes
	// one makes it unique (rowIDGen), so there is nothing to check, and a
	// lookup by it may fan out. Its table's INSERT then writes one key, in
	// its shard value's range, and commits in one raft round.
	if !hasShard && !t.ColumnByID(ids[0]).Hidden {
		g := &catalog.Index{ID: t.NextIndexID, Name: name + "_global", Columns: ids, Unique: true, Global: true, Implicit: true}
		t.NextIndexID++
		t.Indexes = append(t.Indexes, g)
	}
	return nil
}

// addIndex adds an index over cols to t.
func addIndex(t *catalog.Table, name string, cols []string, desc []bool, unique, constraint bool) (*catalog.Index, error) {
	var ids []uint32
	for _, cn := range cols {
		c := t.Column(cn)
		if c == nil {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" does not exist", cn)
		}
		ids = append(ids, c.ID)
	}
	if name == "" {
		suffix := "idx"
		if constraint {
			suffix = "key"
		}
		name = t.Name + "_" + strings.Join(cols, "_") + "_" + suffix
	}
	for _, ix := range t.Indexes {
		if ix.Name == name {
			return nil, pgerror.New(pgerror.CodeDuplicateTable, "relation \"%s\" already exists", name)
		}
	}
	ix := &catalog.Index{ID: t.NextIndexID, Name: name, Columns: ids, Desc: desc, Unique: unique, Constraint: constraint,
		Global: ids[0] != t.ShardColumn}
	t.NextIndexID++
	t.Indexes = append(t.Indexes, ix)
	return ix, nil
}

// ---- DROP ----

func (p *planner) planDrop(s *pg_query.DropStmt) (plan, error) {
	db := p.db
	var names []string
	for _, o := range s.Objects {
		parts := nodeStrings(o.GetList().GetItems())
		if len(parts) == 0 {
			continue
		}
		if len(parts) == 2 && parts[0] != "public" {
			return nil, pgerror.New(pgerror.CodeInvalidSchemaName, "schema \"%s\" does not exist", parts[0])
		}
		names = append(names, parts[len(parts)-1])
	}
	switch s.RemoveType {
	case pg_query.ObjectType_OBJECT_TABLE:
		return &ddlPlan{tag: "DROP TABLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
			var missing []string
			for _, n := range names {
				t := m.Cat.Table(db.ID, n)
				if t == nil {
					if !s.MissingOk {
						return pgerror.New(pgerror.CodeUndefinedTable, "table \"%s\" does not exist", n)
					}
					missing = append(missing, n)
					continue
				}
				if _, err := deleteTableRows(ctx, m.Txn, t); err != nil {
					return err
				}
				if err := m.DeleteTable(t); err != nil {
					return err
				}
			}
			for _, n := range missing {
				e.se.noticef("table \"%s\" does not exist, skipping", n)
			}
			return nil
		}}, nil
	case pg_query.ObjectType_OBJECT_INDEX:
		return &ddlPlan{tag: "DROP INDEX", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
			for _, n := range names {
				t, ix := findIndex(m.Cat, db.ID, n)
				if ix == nil {
					if s.MissingOk {
						e.se.noticef("index \"%s\" does not exist, skipping", n)
						continue
					}
					return pgerror.New(pgerror.CodeUndefinedObject, "index \"%s\" does not exist", n)
				}
				if ix.Primary || ix.Constraint {
					return pgerror.New("2BP01", "cannot drop index %s because constraint %s on table %s requires it", n, n, t.Name).
						WithHint("You can drop constraint %s on table %s instead.", n, t.Name)
				}
				nt := cloneTable(t)
				if err := dropIndexEntries(ctx, m, nt, ix); err != nil {
					return err
				}
				if err := m.PutTable(nt); err != nil {
					return err
				}
			}
			return nil
		}}, nil
	case pg_query.ObjectType_OBJECT_SCHEMA:
		return nil, pgerror.Unsupported("DROP SCHEMA is not supported")
	case pg_query.ObjectType_OBJECT_SEQUENCE:
		return nil, pgerror.Unsupported("DROP SEQUENCE is not supported yet")
	case pg_query.ObjectType_OBJECT_VIEW:
		if s.MissingOk {
			return &sessionPlan{tag: "DROP VIEW", fn: func(*execCtx) error { return nil }}, nil
		}
		return nil, pgerror.Unsupported("views are not supported yet")
	}
	return nil, pgerror.Unsupported("this DROP is not supported")
}

// noticef queues a notice for the client.
func (se *Session) noticef(format string, args ...any) {
	se.noticeCode(pgerror.CodeSuccessfulCompletion, format, args...)
}

// noticeCode queues a notice with a SQLSTATE.
func (se *Session) noticeCode(code, format string, args ...any) {
	se.notices = append(se.notices, &pgerror.Error{Code: code, Severity: pgerror.SeverityNotice, Message: fmt.Sprintf(format, args...)})
}

// flushNotices sends queued notices.
func (se *Session) flushNotices(w wire.RowWriter) {
	for _, n := range se.notices {
		if w != nil {
			_ = w.Notice(n)
		}
	}
	se.notices = nil
}

func findIndex(cat *catalog.Catalog, db uint32, name string) (*catalog.Table, *catalog.Index) {
	for _, t := range cat.Tables(db) {
		for _, ix := range t.Indexes {
			if ix.Name == name && !ix.Implicit {
				return t, ix
			}
		}
	}
	return nil, nil
}

func cloneTable(t *catalog.Table) *catalog.Table {
	nt := *t
	nt.Columns = make([]*catalog.Column, len(t.Columns))
	for i, c := range t.Columns {
		cc := *c
		nt.Columns[i] = &cc
	}
	nt.Indexes = make([]*catalog.Index, len(t.Indexes))
	for i, ix := range t.Indexes {
		cx := *ix
		nt.Indexes[i] = &cx
	}
	return &nt
}

// dropIndexEntries removes ix from t and deletes its entries.
func dropIndexEntries(ctx context.Context, m *catalog.Mutation, t *catalog.Table, ix *catalog.Index) error {
	start, end := rowenc.DatabaseSpan(t.DB)
	kvs, err := m.Txn.ScanFiltered(ctx, start, end, 0, rowenc.TableFilter(t, ix.ID))
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		if h, _, ok := rowenc.DecodeHeader(kv.Key); ok && h.Table == t.ID && h.Index == ix.ID {
			if err := m.Txn.Delete(kv.Key); err != nil {
				return err
			}
		}
	}
	for i, x := range t.Indexes {
		if x.ID == ix.ID {
			t.Indexes = append(t.Indexes[:i], t.Indexes[i+1:]...)
			break
		}
	}
	return nil
}

// ---- DATABASES ----

func (p *planner) planCreateDatabase(s *pg_query.CreatedbStmt) (plan, error) {
	if !p.se.role.Superuser && !p.se.role.CreateDB {
		return nil, pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied to create database")
	}
	name := s.Dbname
	shardKey := ""
	for _, o := range s.Options {
		de := o.GetDefElem()
		switch strings.ToLower(de.Defname) {
		case "shard_key":
			v, err := setArg(de.Arg)
			if err != nil {
				if de.Arg.GetString_() != nil {
					v = de.Arg.GetString_().Sval
				} else {
					return nil, err
				}
			}
			shardKey = v
		case "owner", "template", "encoding", "locale", "lc_collate", "lc_ctype", "connection_limit", "is_template", "allow_connections", "tablespace", "strategy", "locale_provider", "icu_locale", "collation_version", "oid":
		default:
			return nil, pgerror.New(pgerror.CodeSyntaxError, "option \"%s\" not recognized", de.Defname)
		}
	}
	var created *catalog.Database
	return &ddlPlan{tag: "CREATE DATABASE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		if e.se.state != txnIdle {
			return pgerror.New(pgerror.CodeActiveSQLTransaction, "CREATE DATABASE cannot run inside a transaction block")
		}
		if m.Cat.Database(name) != nil {
			return pgerror.New(pgerror.CodeDuplicateDatabase, "database \"%s\" already exists", name)
		}
		created = &catalog.Database{ID: m.AllocID(), Name: name, ShardKey: shardKey, Owner: e.se.role.Name}
		return m.PutDatabase(created)
	}, after: func(ctx context.Context, e *execCtx) {
		e.se.srv.SplitDatabase(ctx, created)
	}}, nil
}

// splitDatabase gives a new database its own ranges: cut at its span's
// ends and at its initial shard boundaries. Failures only cost locality.
func (s *Server) SplitDatabase(ctx context.Context, db *catalog.Database) {
	if s.cfg.Splitter == nil || db == nil {
		return
	}
	start, end := rowenc.DatabaseSpan(db.ID)
	cuts := [][]byte{start, end}
	n := uint64(s.cfg.InitialShards)
	for i := uint64(1); i < n; i++ {
		cuts = append(cuts, rowenc.HashSplitKey(db.ID, i*(^uint64(0)/n)))
	}
	for _, k := range cuts {
		if err := s.cfg.Splitter.SplitAt(ctx, k); err != nil {
			s.log.Warn("split of new database failed", "db", db.Name, "err", err)
		}
	}
}

func (p *planner) planDropDatabase(s *pg_query.DropdbStmt) (plan, error) {
	name := s.Dbname
	return &ddlPlan{tag: "DROP DATABASE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		if e.se.state != txnIdle {
			return pgerror.New(pgerror.CodeActiveSQLTransaction, "DROP DATABASE cannot run inside a transaction block")
		}
		db := m.Cat.Database(name)
		if db == nil {
			if s.MissingOk {
				e.se.noticef("database \"%s\" does not exist, skipping", name)
				return nil
			}
			return pgerror.New(pgerror.CodeInvalidCatalogName, "database \"%s\" does not exist", name)
		}
		if db.ID == e.se.db.ID {
			return pgerror.New(pgerror.CodeObjectInUse, "cannot drop the currently open database")
		}
		if !e.se.role.Superuser && db.Owner != e.se.role.Name {
			return pgerror.New(pgerror.CodeInsufficientPrivilege, "must be owner of database %s", name)
		}
		for _, t := range m.Cat.Tables(db.ID) {
			if err := m.DeleteTable(t); err != nil {
				return err
			}
		}
		start, end := rowenc.DatabaseSpan(db.ID)
		kvs, err := m.Txn.Scan(ctx, start, end, 0)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := m.Txn.Delete(kv.Key); err != nil {
				return err
			}
		}
		return m.DeleteDatabase(db)
	}}, nil
}

// ---- TRUNCATE ----

type truncatePlan struct {
	tables []*catalog.Table
}

func (tp *truncatePlan) columns() []resultCol { return nil }
func (tp *truncatePlan) mode() txnMode        { return modeWrite }

func (tp *truncatePlan) run(e *execCtx) (*result, error) {
	for _, t := range tp.tables {
		if _, err := deleteTableRows(e.ctx, e.txn, t); err != nil {
			return nil, err
		}
	}
	return &result{tag: "TRUNCATE TABLE"}, nil
}

func (p *planner) planTruncate(s *pg_query.TruncateStmt) (plan, error) {
	tp := &truncatePlan{}
	for _, r := range s.Relations {
		t, err := p.tableFor(r.GetRangeVar())
		if err != nil {
			return nil, err
		}
		tp.tables = append(tp.tables, t)
	}
	return tp, nil
}

// ---- CREATE INDEX ----

func (p *planner) planCreateIndex(s *pg_query.IndexStmt) (plan, error) {
	if s.WhereClause != nil {
		return nil, pgerror.Unsupported("partial indexes are not supported yet")
	}
	if len(s.IndexIncludingParams) > 0 {
		return nil, pgerror.Unsupported("INCLUDE columns are not supported yet")
	}
	if am := strings.ToLower(s.AccessMethod); am != "" && am != "btree" && am != "hash" {
		return nil, pgerror.Unsupported("index access method \"%s\" is not supported", am)
	}
	var cols []string
	var desc []bool
	for _, el := range s.IndexParams {
		ie := el.GetIndexElem()
		if ie.Expr != nil {
			return nil, pgerror.Unsupported("expression indexes are not supported yet")
		}
		cols = append(cols, ie.Name)
		desc = append(desc, ie.Ordering == pg_query.SortByDir_SORTBY_DESC)
	}
	if _, err := p.tableFor(s.Relation); err != nil {
		return nil, err
	}
	db := p.db
	tname := s.Relation.Relname
	return &ddlPlan{tag: "CREATE INDEX", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		t := m.Cat.Table(db.ID, tname)
		if t == nil {
			return pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", tname)
		}
		if s.Idxname != "" {
			if _, ix := findIndex(m.Cat, db.ID, s.Idxname); ix != nil || m.Cat.Table(db.ID, s.Idxname) != nil {
				if s.IfNotExists {
					e.se.noticeCode(pgerror.CodeDuplicateTable, "relation \"%s\" already exists, skipping", s.Idxname)
					return nil
				}
				return pgerror.New(pgerror.CodeDuplicateTable, "relation \"%s\" already exists", s.Idxname)
			}
		}
		nt := cloneTable(t)
		name := s.Idxname
		if name == "" {
			name = uniqueIndexName(m.Cat, db.ID, nt, cols, "idx")
		}
		ix, err := addIndex(nt, name, cols, desc, s.Unique, false)
		if err != nil {
			return err
		}
		if err := backfillIndex(ctx, m, nt, ix); err != nil {
			return err
		}
		return m.PutTable(nt)
	}}, nil
}

// uniqueIndexName picks PostgreSQL's default index name, numbered when
// taken.
func uniqueIndexName(cat *catalog.Catalog, db uint32, t *catalog.Table, cols []string, suffix string) string {
	base := t.Name + "_" + strings.Join(cols, "_") + "_" + suffix
	name := base
	for i := 1; ; i++ {
		if _, ix := findIndex(cat, db, name); ix == nil && cat.Table(db, name) == nil {
			taken := false
			for _, x := range t.Indexes {
				if x.Name == name {
					taken = true
				}
			}
			if !taken {
				return name
			}
		}
		name = base + itoa(i)
	}
}

// backfillIndex writes ix's entries for every existing row of t, checking
// uniqueness.
func backfillIndex(ctx context.Context, m *catalog.Mutation, t *catalog.Table, ix *catalog.Index) error {
	start, end := rowenc.DatabaseSpan(t.DB)
	kvs, err := m.Txn.ScanFiltered(ctx, start, end, 0, rowenc.TableFilter(t, t.Primary))
	if err != nil {
		return err
	}
	pk := t.PrimaryIndex()
	seen := map[string]bool{}
	for _, kv := range kvs {
		h, _, ok := rowenc.DecodeHeader(kv.Key)
		if !ok || h.Table != t.ID || h.Index != pk.ID {
			continue
		}
		rw, err := rowenc.DecodeRow(t, kv.Key, kv.Value)
		if err != nil {
			return err
		}
		k := rowenc.IndexKey(t, ix, rw)
		if rowenc.UniqueKeyed(t, ix, rw) {
			if seen[string(k)] {
				var names, vals []string
				for _, id := range ix.Columns {
					c := t.ColumnByID(id)
					names = append(names, c.Name)
					vals = append(vals, string(types.AppendText(nil, c.Type, rw[t.ColumnIndex(id)])))
				}
				return pgerror.New(pgerror.CodeUniqueViolation, "could not create unique index \"%s\"", ix.Name).
					WithDetail("Key (%s)=(%s) is duplicated.", strings.Join(names, ", "), strings.Join(vals, ", "))
			}
			seen[string(k)] = true
		}
		if err := m.Txn.Put(k, rowenc.IndexValue(kv.Key)); err != nil {
			return err
		}
	}
	return nil
}

// ---- ROLES ----

func (p *planner) requireSuperuser(what string) error {
	if !p.se.role.Superuser {
		return pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied to %s", what)
	}
	return nil
}

func roleOptions(r *catalog.Role, opts []*pg_query.Node) error {
	for _, o := range opts {
		de := o.GetDefElem()
		switch de.Defname {
		case "password":
			if de.Arg == nil {
				r.Verifier = ""
				continue
			}
			pw := de.Arg.GetString_().GetSval()
			v, err := wire.MakeVerifier(pw)
			if err != nil {
				return err
			}
			r.Verifier = v
		case "superuser":
			r.Superuser = de.Arg.GetBoolean().GetBoolval()
		case "canlogin":
			r.Login = de.Arg.GetBoolean().GetBoolval()
		case "createdb":
			r.CreateDB = de.Arg.GetBoolean().GetBoolval()
		case "createrole", "inherit", "replication", "bypassrls", "connectionlimit", "validUntil", "addroleto", "rolemembers", "adminmembers":
		default:
			return pgerror.Unsupported("role option %s is not supported", de.Defname)
		}
	}
	return nil
}

func (p *planner) planCreateRole(s *pg_query.CreateRoleStmt) (plan, error) {
	if err := p.requireSuperuser("create role"); err != nil {
		return nil, err
	}
	r := &catalog.Role{Name: s.Role, Login: s.StmtType == pg_query.RoleStmtType_ROLESTMT_USER}
	if err := roleOptions(r, s.Options); err != nil {
		return nil, err
	}
	return &ddlPlan{tag: "CREATE ROLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		if m.Cat.Role(r.Name) != nil {
			return pgerror.New(pgerror.CodeDuplicateObject, "role \"%s\" already exists", r.Name)
		}
		nr := *r
		return m.PutRole(&nr)
	}}, nil
}

func (p *planner) planAlterRole(s *pg_query.AlterRoleStmt) (plan, error) {
	name := s.Role.GetRolename()
	if !p.se.role.Superuser && name != p.se.role.Name {
		return nil, pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied to alter role")
	}
	return &ddlPlan{tag: "ALTER ROLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		old := m.Cat.Role(name)
		if old == nil {
			return pgerror.New(pgerror.CodeUndefinedObject, "role \"%s\" does not exist", name)
		}
		nr := *old
		if err := roleOptions(&nr, s.Options); err != nil {
			return err
		}
		if !e.se.role.Superuser && (nr.Superuser != old.Superuser || nr.CreateDB != old.CreateDB) {
			return pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied to alter role")
		}
		return m.PutRole(&nr)
	}}, nil
}

func (p *planner) planDropRole(s *pg_query.DropRoleStmt) (plan, error) {
	if err := p.requireSuperuser("drop role"); err != nil {
		return nil, err
	}
	return &ddlPlan{tag: "DROP ROLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		for _, rn := range s.Roles {
			name := rn.GetRoleSpec().GetRolename()
			r := m.Cat.Role(name)
			if r == nil {
				if s.MissingOk {
					e.se.noticef("role \"%s\" does not exist, skipping", name)
					continue
				}
				return pgerror.New(pgerror.CodeUndefinedObject, "role \"%s\" does not exist", name)
			}
			if name == e.se.role.Name {
				return pgerror.New(pgerror.CodeObjectInUse, "current user cannot be dropped")
			}
			if err := m.DeleteRole(r); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}
