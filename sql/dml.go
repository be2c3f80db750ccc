package sql

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/sql/types"
)

// tableFor resolves the target table of a DML statement.
func (p *planner) tableFor(rv *pg_query.RangeVar) (*catalog.Table, error) {
	if rv.Schemaname != "" && rv.Schemaname != "public" {
		if rv.Schemaname == "pg_catalog" || rv.Schemaname == "information_schema" {
			return nil, pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied: \"%s\" is a system catalog", rv.Relname)
		}
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s.%s\" does not exist", rv.Schemaname, rv.Relname)
	}
	t := p.cat.Table(p.db.ID, rv.Relname)
	if t == nil {
		e := pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", rv.Relname)
		e.Position = rv.Location + 1
		return nil, e
	}
	return t, nil
}

// tableScope is the scope of a table's row, named by alias.
func tableScope(t *catalog.Table, alias string) *scope {
	return &scope{cols: newScan(t, alias).columns}
}

// returningList plans a RETURNING list over the table's row.
func (p *planner) returningList(list []*pg_query.Node, sc *scope) ([]expr.Expr, []resultCol, error) {
	if len(list) == 0 {
		return nil, nil, nil
	}
	ev := &env{p: p, sc: sc}
	b := p.builder(ev)
	var xs []expr.Expr
	var cols []scopeCol
	for _, n := range list {
		rt := n.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			x, c, err := ev.expandStar(cr)
			if err != nil {
				return nil, nil, err
			}
			xs, cols = append(xs, x...), append(cols, c...)
			continue
		}
		x, err := b.Build(rt.Val, types.Unknown)
		if err != nil {
			return nil, nil, err
		}
		x = resolveUnknown(x)
		c := scopeCol{name: targetName(rt), typ: x.Type()}
		if cr, ok := x.(*expr.ColRef); ok && rt.Name == "" {
			c.tableOID, c.attnum = sc.cols[cr.Idx].tableOID, sc.cols[cr.Idx].attnum
		}
		xs, cols = append(xs, x), append(cols, c)
	}
	return xs, resultCols(cols), nil
}

// writer applies row changes of one statement to a table, maintaining its
// indexes and checking uniqueness.
type writer struct {
	e *execCtx
	t *catalog.Table
	// written holds the row keys this statement wrote (for duplicate
	// checks inside one statement).
	written map[string]bool
}

func newWriter(e *execCtx, t *catalog.Table) *writer {
	return &writer{e: e, t: t, written: map[string]bool{}}
}

// uniqueViolation builds PostgreSQL's 23505 for index ix and row.
func uniqueViolation(t *catalog.Table, ix *catalog.Index, rw row) error {
	var names, vals []string
	for _, id := range ix.Columns {
		c := t.ColumnByID(id)
		names = append(names, c.Name)
		d := rw[t.ColumnIndex(id)]
		if d == nil {
			vals = append(vals, "null")
		} else {
			vals = append(vals, string(types.AppendText(nil, c.Type, d)))
		}
	}
	name := ix.Name
	if ix.Implicit {
		name = t.PrimaryIndex().Name
	}
	e := pgerror.New(pgerror.CodeUniqueViolation, "duplicate key value violates unique constraint \"%s\"", name).
		WithDetail("Key (%s)=(%s) already exists.", strings.Join(names, ", "), strings.Join(vals, ", "))
	e.Table, e.Constraint = t.Name, name
	return e
}

// checkRow applies NOT NULL and typmods to a new row version.
func checkRow(t *catalog.Table, rw row) error {
	for i, c := range t.Columns {
		if rw[i] == nil {
			if c.NotNull {
				e := pgerror.New(pgerror.CodeNotNullViolation, "null value in column \"%s\" of relation \"%s\" violates not-null constraint", c.Name, t.Name)
				e.Table, e.Column = t.Name, c.Name
				return e
			}
			continue
		}
		d, err := types.CheckAssign(c.Type, rw[i])
		if err != nil {
			return err
		}
		rw[i] = d
	}
	return nil
}

// conflict describes an existing row a new row collides with.
type conflict struct {
	index  *catalog.Index // the index whose entry collides (primary for the row key)
	rowKey []byte
	row    []byte // the stored row's value, when the collision is on the primary key
}

// findConflicts checks new rows against stored rows and entries. It returns,
// for each row, the first collision or nil.
func (w *writer) findConflicts(rows []row) ([]*conflict, error) {
	t := w.t
	pk := t.PrimaryIndex()
	type probe struct {
		rowIdx int
		ix     *catalog.Index
		key    []byte
	}
	var probes []probe
	// A hidden row id is made unique by the node that makes it: there is
	// nothing to look up (insert makes the write check it).
	rowID := keyedByRowID(t)
	for i, rw := range rows {
		if !rowID {
			probes = append(probes, probe{i, pk, rowenc.RowKey(t, rw)})
		}
		for _, ix := range t.Indexes {
			if ix.ID == pk.ID || !rowenc.UniqueKeyed(t, ix, rw) {
				continue
			}
			probes = append(probes, probe{i, ix, rowenc.IndexKey(t, ix, rw)})
		}
	}
	out := make([]*conflict, len(rows))
	if len(probes) == 0 {
		return out, nil
	}
	keys := make([][]byte, len(probes))
	for i, pr := range probes {
		keys[i] = pr.key
	}
	res, err := w.e.txn.GetMany(w.e.ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, pr := range probes {
		if !res[i].Found || out[pr.rowIdx] != nil {
			continue
		}
		c := &conflict{index: pr.ix, rowKey: pr.key, row: res[i].Value}
		if pr.ix.ID != pk.ID {
			c.rowKey, c.row = res[i].Value, nil
		}
		out[pr.rowIdx] = c
	}
	return out, nil
}

// insert writes a new row whose conflicts were checked; it still checks
// collisions with rows written earlier by the same statement.
func (w *writer) insert(rw row) error {
	t := w.t
	key := rowenc.RowKey(t, rw)
	if w.written[string(key)] {
		return uniqueViolation(t, t.PrimaryIndex(), rw)
	}
	for _, ix := range t.Indexes {
		if ix.Primary {
			continue
		}
		ik := rowenc.IndexKey(t, ix, rw)
		if rowenc.UniqueKeyed(t, ix, rw) && w.written[string(ik)] {
			return uniqueViolation(t, ix, rw)
		}
		w.written[string(ik)] = true
		if err := w.e.txn.Put(ik, rowenc.IndexValue(key)); err != nil {
			return err
		}
	}
	w.written[string(key)] = true
	if keyedByRowID(t) {
		// Keyed by a generated row id, which nothing probed for
		// (findConflicts): the write itself must find the key new.
		return w.e.txn.Insert(key, rowenc.RowValue(t, rw))
	}
	return w.e.txn.Put(key, rowenc.RowValue(t, rw))
}

// keyedByRowID reports whether t's primary key is its hidden row id.
func keyedByRowID(t *catalog.Table) bool {
	pk := t.PrimaryIndex()
	return len(pk.Columns) == 1 && t.ColumnByID(pk.Columns[0]).Hidden
}

// remove deletes a stored row and its index entries.
func (w *writer) remove(key []byte, rw row) error {
	for _, ix := range w.t.Indexes {
		if ix.Primary {
			continue
		}
		if err := w.e.txn.Delete(rowenc.IndexKey(w.t, ix, rw)); err != nil {
			return err
		}
	}
	return w.e.txn.Delete(key)
}

// update replaces a stored row with a new version.
func (w *writer) update(oldKey []byte, old, nw row) error {
	t := w.t
	newKey := rowenc.RowKey(t, nw)
	moved := !bytes.Equal(oldKey, newKey)
	if moved {
		if w.written[string(newKey)] {
			return uniqueViolation(t, t.PrimaryIndex(), nw)
		}
		_, found, err := w.e.txn.Get(w.e.ctx, newKey)
		if err != nil {
			return err
		}
		if found {
			return uniqueViolation(t, t.PrimaryIndex(), nw)
		}
		if err := w.e.txn.Delete(oldKey); err != nil {
			return err
		}
	}
	for _, ix := range t.Indexes {
		if ix.Primary {
			continue
		}
		ok, nk := rowenc.IndexKey(t, ix, old), rowenc.IndexKey(t, ix, nw)
		if bytes.Equal(ok, nk) && !moved {
			continue
		}
		if !bytes.Equal(ok, nk) {
			if err := w.e.txn.Delete(ok); err != nil {
				return err
			}
			if rowenc.UniqueKeyed(t, ix, nw) {
				if w.written[string(nk)] {
					return uniqueViolation(t, ix, nw)
				}
				_, found, err := w.e.txn.Get(w.e.ctx, nk)
				if err != nil {
					return err
				}
				if found {
					return uniqueViolation(t, ix, nw)
				}
			}
		}
		w.written[string(nk)] = true
		if err := w.e.txn.Put(nk, rowenc.IndexValue(newKey)); err != nil {
			return err
		}
	}
	w.written[string(newKey)] = true
	return w.e.txn.Put(newKey, rowenc.RowValue(t, nw))
}

// ---- INSERT ----

type insertPlan struct {
	t        *catalog.Table
	targets  []int // table column position of each source column
	source   rel
	defaults []expr.Expr // per table column; nil = NULL
	// onConflict: "" (error), "nothing" or "update".
	onConflict    string
	arbiter       *catalog.Index // nil = any unique index
	sets          []setTarget    // DO UPDATE SET, over existing ++ excluded
	conflictWhere expr.Expr
	returning     []expr.Expr
	retCols       []resultCol
	// blind: the upsert writes its rows without reading what they
	// replace (see blindUpsert).
	blind bool
}

type setTarget struct {
	col int
	x   expr.Expr
}

func (ip *insertPlan) columns() []resultCol { return ip.retCols }
func (ip *insertPlan) mode() txnMode        { return modeWrite }

func (p *planner) planInsert(s *pg_query.InsertStmt) (plan, error) {
	if s.WithClause != nil {
		return nil, pgerror.Unsupported("WITH queries are not supported yet")
	}
	t, err := p.tableFor(s.Relation)
	if err != nil {
		return nil, err
	}
	ip := &insertPlan{t: t}
	// Target columns.
	if len(s.Cols) == 0 {
		for i, c := range t.Columns {
			if !c.Hidden {
				ip.targets = append(ip.targets, i)
			}
		}
	} else {
		seen := map[int]bool{}
		for _, n := range s.Cols {
			rt := n.GetResTarget()
			if len(rt.Indirection) > 0 {
				return nil, pgerror.Unsupported("INSERT into array elements or fields is not supported")
			}
			c := t.Column(rt.Name)
			if c == nil || c.Hidden {
				e := pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", rt.Name, t.Name)
				e.Position = rt.Location + 1
				return nil, e
			}
			i := t.ColumnIndex(c.ID)
			if seen[i] {
				return nil, pgerror.New(pgerror.CodeDuplicateColumn, "column \"%s\" specified more than once", rt.Name)
			}
			seen[i] = true
			ip.targets = append(ip.targets, i)
		}
	}
	want := make([]types.T, len(ip.targets))
	for j, i := range ip.targets {
		want[j] = t.Columns[i].Type
		if t.Columns[i].Identity == "a" && s.Override != pg_query.OverridingKind_OVERRIDING_SYSTEM_VALUE {
			return nil, pgerror.New("428C9", "cannot insert a non-DEFAULT value into column \"%s\"", t.Columns[i].Name).
				WithDetail("Column \"%s\" is an identity column defined as GENERATED ALWAYS.", t.Columns[i].Name).
				WithHint("Use OVERRIDING SYSTEM VALUE to override.")
		}
	}
	// Source rows.
	if s.SelectStmt == nil {
		ip.source = &valuesRel{exprs: [][]expr.Expr{{}}}
		ip.targets = nil
	} else {
		sel := s.SelectStmt.GetSelectStmt()
		src, err := p.planSelect(sel, nil, want)
		if err != nil {
			return nil, err
		}
		sc := src.cols()
		if len(sc) > len(ip.targets) {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "INSERT has more expressions than target columns")
		}
		if len(sc) < len(ip.targets) && len(s.Cols) > 0 {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "INSERT has more target columns than expressions")
		}
		ip.targets = ip.targets[:len(sc)]
		// Coerce the source columns to the target types.
		exprs := make([]expr.Expr, len(sc))
		need := false
		for j, c := range sc {
			exprs[j] = &expr.ColRef{Idx: j, T: c.typ, Name: c.name}
			tc := t.Columns[ip.targets[j]]
			if c.typ.Oid != tc.Type.Oid {
				x, err := expr.Coerce(exprs[j], tc.Type)
				if err != nil {
					return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "column \"%s\" is of type %s but expression is of type %s", tc.Name, types.FormatType(tc.Type), types.FormatType(c.typ)).
						WithHint("You will need to rewrite or cast the expression.")
				}
				exprs[j], need = x, true
			}
		}
		if need {
			src = &projectRel{in: src, exprs: exprs, columns: sc}
		}
		ip.source = src
	}
	if ip.defaults, err = p.defaultExprs(t); err != nil {
		return nil, err
	}
	// ON CONFLICT.
	if oc := s.OnConflictClause; oc != nil {
		if oc.Infer != nil && oc.Infer.Conname != "" {
			for _, ix := range t.Indexes {
				if ix.Name == oc.Infer.Conname {
					ip.arbiter = ix
				}
			}
			if ip.arbiter == nil {
				return nil, pgerror.New(pgerror.CodeUndefinedObject, "constraint \"%s\" for table \"%s\" does not exist", oc.Infer.Conname, t.Name)
			}
		} else if oc.Infer != nil && len(oc.Infer.IndexElems) > 0 {
			var cols []uint32
			for _, el := range oc.Infer.IndexElems {
				c := t.Column(el.GetIndexElem().GetName())
				if c == nil {
					return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" does not exist", el.GetIndexElem().GetName())
				}
				cols = append(cols, c.ID)
			}
			for _, ix := range t.Indexes {
				if (ix.Unique || ix.Primary) && !ix.Implicit && sameColumns(ix.Columns, cols) {
					ip.arbiter = ix
					break
				}
			}
			if ip.arbiter == nil {
				return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
			}
		}
		switch oc.Action {
		case pg_query.OnConflictAction_ONCONFLICT_NOTHING:
			ip.onConflict = "nothing"
		case pg_query.OnConflictAction_ONCONFLICT_UPDATE:
			if ip.arbiter == nil {
				return nil, pgerror.New(pgerror.CodeSyntaxError, "ON CONFLICT DO UPDATE requires inference specification or constraint name").
					WithHint("For example, ON CONFLICT (column_name).")
			}
			ip.onConflict = "update"
			alias := t.Name
			if s.Relation.Alias != nil {
				alias = s.Relation.Alias.Aliasname
			}
			sc := tableScope(t, alias)
			ex := tableScope(t, "excluded")
			both := &scope{cols: append(append([]scopeCol(nil), sc.cols...), ex.cols...)}
			if ip.sets, err = p.setList(t, oc.TargetList, both); err != nil {
				return nil, err
			}
			if oc.WhereClause != nil {
				if ip.conflictWhere, err = p.builder(&env{p: p, sc: both}).Build(oc.WhereClause, types.Bool); err != nil {
					return nil, err
				}
			}
		}
	}
	alias := t.Name
	if s.Relation.Alias != nil {
		alias = s.Relation.Alias.Aliasname
	}
	if ip.returning, ip.retCols, err = p.returningList(s.ReturningList, tableScope(t, alias)); err != nil {
		return nil, err
	}
	ip.blind = blindUpsert(ip)
	return ip, nil
}

// blindUpsert reports whether an INSERT ... ON CONFLICT DO UPDATE may write
// its rows without reading the rows they replace: the arbiter is the
// primary key, the table has no other index (no entry of an old row to
// remove), there is no WHERE on the update, and the update sets every
// column outside the primary key to its excluded value. The stored row is
// then the new row whether a row existed or not, as in PostgreSQL, and so
// is what RETURNING sees. This is the common "upsert this row" statement;
// it saves a read per row.
func blindUpsert(ip *insertPlan) bool {
	t := ip.t
	if ip.onConflict != "update" || ip.conflictWhere != nil || ip.arbiter == nil || !ip.arbiter.Primary || len(t.Indexes) != 1 {
		return false
	}
	inPK := map[uint32]bool{}
	for _, id := range ip.arbiter.Columns {
		inPK[id] = true
	}
	set := map[int]bool{}
	for _, st := range ip.sets {
		ref, ok := st.x.(*expr.ColRef)
		if !ok || ref.Idx != len(t.Columns)+st.col || ref.T != t.Columns[st.col].Type {
			return false
		}
		set[st.col] = true
	}
	for i, c := range t.Columns {
		if !inPK[c.ID] && !set[i] {
			return false
		}
	}
	return true
}

func sameColumns(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[uint32]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}

// setList plans UPDATE SET items over sc (whose first columns are the
// table's row).
func (p *planner) setList(t *catalog.Table, list []*pg_query.Node, sc *scope) ([]setTarget, error) {
	b := p.builder(&env{p: p, sc: sc})
	var out []setTarget
	seen := map[int]bool{}
	for _, n := range list {
		rt := n.GetResTarget()
		if len(rt.Indirection) > 0 {
			return nil, pgerror.Unsupported("UPDATE of array elements or fields is not supported")
		}
		c := t.Column(rt.Name)
		if c == nil || c.Hidden {
			e := pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", rt.Name, t.Name)
			e.Position = rt.Location + 1
			return nil, e
		}
		i := t.ColumnIndex(c.ID)
		if seen[i] {
			return nil, pgerror.New(pgerror.CodeDuplicateColumn, "multiple assignments to same column \"%s\"", c.Name)
		}
		seen[i] = true
		var x expr.Expr
		if rt.Val.GetSetToDefault() != nil {
			d, err := p.defaultExpr(t, c)
			if err != nil {
				return nil, err
			}
			x = d
			if x == nil {
				x = &expr.Const{T: c.Type}
			}
		} else {
			var err error
			if x, err = b.Build(rt.Val, c.Type); err != nil {
				return nil, err
			}
		}
		if x.Type().Oid != c.Type.Oid {
			cx, err := expr.Coerce(x, c.Type)
			if err != nil {
				return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "column \"%s\" is of type %s but expression is of type %s", c.Name, types.FormatType(c.Type), types.FormatType(x.Type())).
					WithHint("You will need to rewrite or cast the expression.")
			}
			x = cx
		}
		out = append(out, setTarget{col: i, x: x})
	}
	return out, nil
}

func (ip *insertPlan) run(e *execCtx) (*result, error) {
	src, err := ip.source.rows(e)
	if err != nil {
		return nil, err
	}
	ins := &inserter{ip: ip, w: newWriter(e, ip.t)}
	for start := 0; start < len(src); start += insertBatch {
		end := min(start+insertBatch, len(src))
		if err := ins.add(src[start:end]); err != nil {
			return nil, err
		}
	}
	return &result{rows: ins.ret, tag: fmt.Sprintf("INSERT 0 %d", ins.count)}, nil
}

// insertBatch is how many rows are checked for conflicts in one round.
const insertBatch = 1024

// inserter inserts batches of source rows.
type inserter struct {
	ip    *insertPlan
	w     *writer
	count int
	ret   []row
}

func (ins *inserter) add(src []row) error {
	ip, e, t := ins.ip, ins.w.e, ins.ip.t
	rows := make([]row, 0, len(src))
	for _, s := range src {
		rw, err := ip.buildRow(e, s)
		if err != nil {
			return err
		}
		rows = append(rows, rw)
	}
	if ip.blind {
		return ins.putAll(rows)
	}
	conflicts, err := ins.w.findConflicts(rows)
	if err != nil {
		return err
	}
	for i, rw := range rows {
		c := conflicts[i]
		if c != nil && ip.arbiter != nil && c.index.ID != ip.arbiter.ID && !(c.index.Implicit && ip.arbiter.Primary) {
			return uniqueViolation(t, c.index, rw)
		}
		switch {
		case c == nil:
			if err := ins.w.insert(rw); err != nil {
				if ip.onConflict == "nothing" && pgerror.Code(err) == pgerror.CodeUniqueViolation {
					continue
				}
				if ip.onConflict == "update" && pgerror.Code(err) == pgerror.CodeUniqueViolation {
					return pgerror.New("21000", "ON CONFLICT DO UPDATE command cannot affect row a second time").
						WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
				}
				return err
			}
		case ip.onConflict == "nothing":
			continue
		case ip.onConflict == "update":
			if ins.w.written[string(c.rowKey)] {
				return pgerror.New("21000", "ON CONFLICT DO UPDATE command cannot affect row a second time").
					WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
			}
			v := c.row
			if v == nil { // the conflict is on another index: read the row
				var found bool
				if v, found, err = e.txn.Get(e.ctx, c.rowKey); err != nil {
					return err
				}
				if !found {
					return kv.ErrWriteConflict
				}
			}
			old, err := rowenc.DecodeRow(t, c.rowKey, v)
			if err != nil {
				return err
			}
			both := append(append(make(row, 0, 2*len(old)), old...), rw...)
			if ip.conflictWhere != nil {
				ok, err := evalBool(e, ip.conflictWhere, both)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			nw := append(row(nil), old...)
			for _, st := range ip.sets {
				if nw[st.col], err = st.x.Eval(e.ev, both); err != nil {
					return err
				}
			}
			if err := checkRow(t, nw); err != nil {
				return err
			}
			if err := ins.w.update(c.rowKey, old, nw); err != nil {
				return err
			}
			rw = nw
		default:
			return uniqueViolation(t, c.index, rw)
		}
		if err := ins.done(rw); err != nil {
			return err
		}
	}
	return nil
}

// putAll writes the rows of a blind upsert (blindUpsert), each replacing
// whatever its key held.
func (ins *inserter) putAll(rows []row) error {
	e, t := ins.w.e, ins.ip.t
	for _, rw := range rows {
		key := rowenc.RowKey(t, rw)
		if ins.w.written[string(key)] {
			return pgerror.New("21000", "ON CONFLICT DO UPDATE command cannot affect row a second time").
				WithHint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
		}
		ins.w.written[string(key)] = true
		if err := e.txn.Put(key, rowenc.RowValue(t, rw)); err != nil {
			return err
		}
		if err := ins.done(rw); err != nil {
			return err
		}
	}
	return nil
}

// done counts a written row and evaluates RETURNING on it.
func (ins *inserter) done(rw row) error {
	ins.count++
	ip, e := ins.ip, ins.w.e
	if ip.returning == nil {
		return nil
	}
	out := make(row, len(ip.returning))
	for j, x := range ip.returning {
		var err error
		if out[j], err = x.Eval(e.ev, rw); err != nil {
			return err
		}
	}
	ins.ret = append(ins.ret, out)
	return nil
}

// buildRow makes a table row from a source row: targets, then defaults.
func (ip *insertPlan) buildRow(e *execCtx, src row) (row, error) {
	t := ip.t
	rw := make(row, len(t.Columns))
	given := make([]bool, len(t.Columns))
	for j, i := range ip.targets {
		if _, isDef := src[j].(defaultValue); isDef {
			continue
		}
		rw[i], given[i] = src[j], true
	}
	for i, d := range ip.defaults {
		if given[i] || d == nil {
			continue
		}
		v, err := d.Eval(e.ev, nil)
		if err != nil {
			return nil, err
		}
		rw[i] = v
	}
	if err := checkRow(t, rw); err != nil {
		return nil, err
	}
	return rw, nil
}

// defaultExprs plans the defaults of every column.
func (p *planner) defaultExprs(t *catalog.Table) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(t.Columns))
	for i, c := range t.Columns {
		x, err := p.defaultExpr(t, c)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// defaultExpr plans one column's default: its expression, a sequence, the
// hidden row id, or nil for NULL.
func (p *planner) defaultExpr(t *catalog.Table, c *catalog.Column) (expr.Expr, error) {
	if c.Hidden {
		return &rowIDExpr{}, nil
	}
	if c.Sequence != "" && c.Default == "" {
		return &nextvalExpr{name: sequenceName(t.DB, c.Sequence), t: c.Type}, nil
	}
	if c.Default == "" {
		return nil, nil
	}
	stmts, err := parse("SELECT " + c.Default)
	if err != nil {
		return nil, fmt.Errorf("default of %s.%s: %w", t.Name, c.Name, err)
	}
	val := stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val
	x, err := p.builder(&env{p: p, sc: &scope{}}).Build(val, c.Type)
	if err != nil {
		return nil, err
	}
	if x.Type().Oid != c.Type.Oid {
		if x, err = expr.Coerce(x, c.Type); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func sequenceName(db uint32, name string) string { return fmt.Sprintf("%d.%s", db, name) }

// rowIDExpr makes a hidden row id.
type rowIDExpr struct{}

func (rowIDExpr) Type() types.T { return types.Int8 }
func (rowIDExpr) Eval(c *expr.Ctx, _ []types.Datum) (types.Datum, error) {
	e := execFrom(c.Context)
	return e.se.srv.rowIDs.next(), nil
}

// nextvalExpr takes the next value of a sequence.
type nextvalExpr struct {
	name string
	t    types.T
}

func (n *nextvalExpr) Type() types.T { return n.t }
func (n *nextvalExpr) Eval(c *expr.Ctx, _ []types.Datum) (types.Datum, error) {
	e := execFrom(c.Context)
	v, err := e.se.srv.seqs.next(c.Context, n.name)
	if err != nil {
		return nil, kvError(err)
	}
	return v, nil
}

// replaceFunc plans functions that need the planner: nextval.
func (p *planner) replaceFunc(n *pg_query.Node) (expr.Expr, error) {
	fc := n.GetFuncCall()
	if fc == nil || len(fc.Funcname) == 0 {
		return nil, nil
	}
	name := strings.ToLower(fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval())
	if name != "nextval" {
		return nil, nil
	}
	if len(fc.Args) != 1 {
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function nextval with %d arguments does not exist", len(fc.Args))
	}
	arg := fc.Args[0]
	if tc := arg.GetTypeCast(); tc != nil {
		arg = tc.Arg
	}
	c := arg.GetAConst()
	if c == nil || c.GetSval() == nil {
		return nil, pgerror.Unsupported("nextval needs a constant sequence name")
	}
	seq := strings.TrimPrefix(c.GetSval().Sval, "public.")
	// The sequence must belong to a column of a table of this database.
	for _, t := range p.cat.Tables(p.db.ID) {
		for _, col := range t.Columns {
			if col.Sequence == seq {
				return &nextvalExpr{name: sequenceName(p.db.ID, seq), t: types.Int8}, nil
			}
		}
	}
	return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", seq)
}

// ---- UPDATE ----

type updatePlan struct {
	scan      *scanRel
	sets      []setTarget
	returning []expr.Expr
	retCols   []resultCol
}

func (up *updatePlan) columns() []resultCol { return up.retCols }
func (up *updatePlan) mode() txnMode        { return modeWrite }

func (p *planner) planUpdate(s *pg_query.UpdateStmt) (plan, error) {
	if s.WithClause != nil {
		return nil, pgerror.Unsupported("WITH queries are not supported yet")
	}
	if len(s.FromClause) > 0 {
		return nil, pgerror.Unsupported("UPDATE ... FROM is not supported yet")
	}
	t, err := p.tableFor(s.Relation)
	if err != nil {
		return nil, err
	}
	alias := t.Name
	if s.Relation.Alias != nil {
		alias = s.Relation.Alias.Aliasname
	}
	scan := newScan(t, alias)
	scan.forUpdate = true
	sc := &scope{cols: scan.columns}
	if s.WhereClause != nil {
		if _, err := p.applyWhere(scan, sc, s.WhereClause, false); err != nil {
			return nil, err
		}
	}
	up := &updatePlan{scan: scan}
	if up.sets, err = p.setList(t, s.TargetList, sc); err != nil {
		return nil, err
	}
	if up.returning, up.retCols, err = p.returningList(s.ReturningList, sc); err != nil {
		return nil, err
	}
	return up, nil
}

func (up *updatePlan) run(e *execCtx) (*result, error) {
	found, err := up.scan.scan(e)
	if err != nil {
		return nil, err
	}
	t := up.scan.table
	w := newWriter(e, t)
	var ret []row
	for _, f := range found {
		nw := append(row(nil), f.row...)
		for _, st := range up.sets {
			if nw[st.col], err = st.x.Eval(e.ev, f.row); err != nil {
				return nil, err
			}
		}
		if err := checkRow(t, nw); err != nil {
			return nil, err
		}
		if err := w.update(f.key, f.row, nw); err != nil {
			return nil, err
		}
		if up.returning != nil {
			out := make(row, len(up.returning))
			for j, x := range up.returning {
				if out[j], err = x.Eval(e.ev, nw); err != nil {
					return nil, err
				}
			}
			ret = append(ret, out)
		}
	}
	return &result{rows: ret, tag: fmt.Sprintf("UPDATE %d", len(found))}, nil
}

// ---- DELETE ----

type deletePlan struct {
	scan      *scanRel
	returning []expr.Expr
	retCols   []resultCol
}

func (dp *deletePlan) columns() []resultCol { return dp.retCols }
func (dp *deletePlan) mode() txnMode        { return modeWrite }

func (p *planner) planDelete(s *pg_query.DeleteStmt) (plan, error) {
	if s.WithClause != nil {
		return nil, pgerror.Unsupported("WITH queries are not supported yet")
	}
	if len(s.UsingClause) > 0 {
		return nil, pgerror.Unsupported("DELETE ... USING is not supported yet")
	}
	t, err := p.tableFor(s.Relation)
	if err != nil {
		return nil, err
	}
	alias := t.Name
	if s.Relation.Alias != nil {
		alias = s.Relation.Alias.Aliasname
	}
	scan := newScan(t, alias)
	scan.forUpdate = true
	sc := &scope{cols: scan.columns}
	if s.WhereClause != nil {
		if _, err := p.applyWhere(scan, sc, s.WhereClause, false); err != nil {
			return nil, err
		}
	}
	dp := &deletePlan{scan: scan}
	if dp.returning, dp.retCols, err = p.returningList(s.ReturningList, sc); err != nil {
		return nil, err
	}
	return dp, nil
}

func (dp *deletePlan) run(e *execCtx) (*result, error) {
	found, err := dp.scan.scan(e)
	if err != nil {
		return nil, err
	}
	w := newWriter(e, dp.scan.table)
	var ret []row
	for _, f := range found {
		if err := w.remove(f.key, f.row); err != nil {
			return nil, err
		}
		if dp.returning != nil {
			out := make(row, len(dp.returning))
			for j, x := range dp.returning {
				if out[j], err = x.Eval(e.ev, f.row); err != nil {
					return nil, err
				}
			}
			ret = append(ret, out)
		}
	}
	return &result{rows: ret, tag: fmt.Sprintf("DELETE %d", len(found))}, nil
}

// deleteTableRows deletes every row and index entry of t in txn.
func deleteTableRows(ctx context.Context, txn *kv.Txn, t *catalog.Table) (int, error) {
	start, end := rowenc.DatabaseSpan(t.DB)
	kvs, err := txn.ScanFiltered(ctx, start, end, 0, rowenc.TableFilter(t, 0))
	if err != nil {
		return 0, err
	}
	n := 0
	pk := t.PrimaryIndex()
	for _, kv := range kvs {
		h, _, ok := rowenc.DecodeHeader(kv.Key)
		if !ok || h.Table != t.ID {
			continue
		}
		if pk != nil && h.Index == pk.ID {
			n++
		}
		if err := txn.Delete(kv.Key); err != nil {
			return 0, err
		}
	}
	return n, nil
}
