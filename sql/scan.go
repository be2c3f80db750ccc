package sql

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/sql/types"
)

// accessKind is how a scan finds its rows.
type accessKind int

const (
	accessFull  accessKind = iota // every row of the database's span
	accessPoint                   // point reads of fully given primary keys
	accessShard                   // the shard block(s) of given shard values
	accessIndex                   // entries of a global index, then the rows
)

// scanRel reads rows of one table, in Table.Columns order, keeping those
// that pass filter.
type scanRel struct {
	table   *catalog.Table
	columns []scopeCol
	filter  expr.Expr
	kind    accessKind
	// points holds, for accessPoint, one expression list per key, in
	// primary index column order.
	points [][]expr.Expr
	// shardVals holds the shard values for accessShard, or the index's
	// first-column values for accessIndex.
	shardVals []expr.Expr
	index     *catalog.Index
	// lock marks the rows read for locking (FOR UPDATE); forUpdate the
	// rows of an UPDATE or DELETE, which point lookups lock as they read
	// them in a transaction block (kv.Txn.GetManyForUpdate).
	lock, forUpdate bool
	// where holds the parse nodes of the WHERE conjuncts behind filter,
	// for pushdown (pushdown.go).
	where []*pg_query.Node
	// push is what the scan asks the ranges to do; nil: nothing.
	push *scanPush
}

func (s *scanRel) cols() []scopeCol { return s.columns }

// scanned is a row with its KV key.
type scanned struct {
	key []byte
	row row
}

func (s *scanRel) rows(e *execCtx) ([]row, error) {
	rs, err := s.scan(e)
	if err != nil {
		return nil, err
	}
	out := make([]row, len(rs))
	for i, r := range rs {
		out[i] = r.row
	}
	return out, nil
}

// scan returns the matching rows with their keys.
func (s *scanRel) scan(e *execCtx) ([]scanned, error) {
	t := s.table
	pk := t.PrimaryIndex()
	var found []scanned
	pushed := false
	add := func(k, v []byte) error {
		r, err := rowenc.DecodeRow(t, k, v)
		if err != nil {
			return err
		}
		found = append(found, scanned{key: k, row: r})
		return nil
	}
	switch s.kind {
	case accessPoint:
		var keyList [][]byte
		for _, tuple := range s.points {
			vals := make([]types.Datum, len(tuple))
			ok := true
			for j, x := range tuple {
				d, err := expr.ConstEval(e.ev, x)
				if err != nil {
					return nil, err
				}
				col := t.ColumnByID(pk.Columns[j])
				if d, ok = keyValue(d, x.Type(), col.Type); !ok {
					break
				}
				vals[j] = d
			}
			if !ok {
				continue
			}
			shardPos := -1
			for j, id := range pk.Columns {
				if id == t.ShardColumn {
					shardPos = j
				}
			}
			sc := t.ColumnByID(t.ShardColumn)
			keyList = append(keyList, rowenc.PointKey(t, rowenc.ShardHash(sc.Type, vals[shardPos]), vals))
		}
		keyList = dedupKeys(keyList)
		res, err := s.getMany(e, keyList)
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			if r.Found {
				if err := add(keyList[i], r.Value); err != nil {
					return nil, err
				}
			}
		}
	case accessIndex:
		col := t.ColumnByID(s.index.Columns[0])
		vals, err := keyValues(e, s.shardVals, col.Type)
		if err != nil {
			return nil, err
		}
		if r, done, err := s.lookupLatest(e, vals); err != nil {
			return nil, err
		} else if done {
			if r != nil {
				found = append(found, *r)
			}
			break
		}
		look, err := s.lookupIndex(e, vals)
		if err != nil {
			return nil, err
		}
		res, err := s.getMany(e, look.rowKeys)
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			if r.Found {
				if err := add(look.rowKeys[i], r.Value); err != nil {
					return nil, err
				}
			}
		}
		if err := look.settle(e, s, found); err != nil {
			return nil, err
		}
	default:
		spans, err := s.spans(e)
		if err != nil {
			return nil, err
		}
		if found, pushed, err = s.scanPushed(e, spans); err != nil {
			return nil, err
		}
		if !pushed {
			for _, sp := range spans {
				kvs, err := e.txn.ScanFiltered(e.ctx, sp.start, sp.end, 0, sp.filter)
				if err != nil {
					return nil, err
				}
				for _, kv := range kvs {
					if err := add(kv.Key, kv.Value); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	filter := s.filter
	if pushed {
		filter = s.push.residual
	}
	if filter != nil {
		out := found[:0]
		for _, r := range found {
			ok, err := evalBool(e, filter, r.row)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, r)
			}
		}
		found = out
	}
	if s.lock {
		for _, r := range found {
			e.txn.Lock(r.key)
		}
	}
	return found, nil
}

// entryKey is the key, or for a non-unique index the key prefix, of the
// entries of the global index s.index whose first column is d.
func (s *scanRel) entryKey(d types.Datum) []byte {
	col := s.table.ColumnByID(s.index.Columns[0])
	return rowenc.IndexLookupPrefix(s.table, s.index, rowenc.ShardHash(col.Type, d), []types.Datum{d})
}

// indexLookup is what lookupIndex read: the keys of the rows to read and,
// for a unique index, the entries that listed them.
type indexLookup struct {
	rowKeys [][]byte
	// entries[i] listed vals[i] at rowKeys[i], read at at without
	// recording it (kv.Txn.GetManyUnnoted) when open[i]: settle decides.
	entries [][]byte
	vals    []types.Datum
	open    []bool
	at      engine.Timestamp
}

// lookupIndex reads the entries of the global index s.index whose first
// column is one of vals (s.shardVals as the column's type).
//
// The entries of a unique one-column index are read as keys, with one
// request per range: an entry with a non-NULL value is keyed by the value
// alone (rowenc.UniqueKeyed), so its lookup prefix is its key. A
// transaction block that then locks a row changed since its snapshot can
// refresh reads of keys, not reads of spans (kv/pessimistic.go), so UPDATE
// ... WHERE id = $1 through the global index of a primary key queues on
// the row's lock where a scan of the index would fail with 40001. Other
// indexes are scanned by prefix.
//
// An entry whose row the statement locks, or the transaction holds locked,
// is left open for settle; the others, and the values with no entry, are
// recorded as read at once, before the rows are read.
func (s *scanRel) lookupIndex(e *execCtx, vals []types.Datum) (*indexLookup, error) {
	ix := s.index
	l := &indexLookup{}
	if ix.Unique && len(ix.Columns) == 1 {
		var keys [][]byte
		var kvals []types.Datum
		seen := map[string]bool{} // an IN list may repeat a value
		for _, d := range vals {
			if k := s.entryKey(d); !seen[string(k)] {
				seen[string(k)] = true
				keys, kvals = append(keys, k), append(kvals, d)
			}
		}
		res, at, err := e.txn.GetManyUnnoted(e.ctx, keys)
		if err != nil {
			return nil, err
		}
		l.at = at
		var now [][]byte
		for i, r := range res {
			if !r.Found {
				now = append(now, keys[i])
				continue
			}
			open := s.forUpdate || s.lock || e.txn.Locked(r.Value)
			if !open {
				now = append(now, keys[i])
			}
			l.rowKeys, l.entries = append(l.rowKeys, r.Value), append(l.entries, keys[i])
			l.vals, l.open = append(l.vals, kvals[i]), append(l.open, open)
		}
		if err := e.txn.NoteReads(e.ctx, now, at); err != nil {
			return nil, err
		}
		return l, nil
	}
	for _, d := range vals {
		prefix := s.entryKey(d)
		kvs, err := e.txn.Scan(e.ctx, prefix, keys.PrefixEnd(prefix), 0)
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			l.rowKeys = append(l.rowKeys, kv.Value)
		}
	}
	l.rowKeys = dedupKeys(l.rowKeys)
	return l, nil
}

// lookupLatest reads a lookup of one value through a unique one-column
// global index, for an autocommit read (a lazy transaction, kv.BeginLazy),
// with no timestamp from the oracle: the entry's newest version, then the
// newest version of its row (kv.Txn.GetVia). When the row has the value
// it implies the entry, and the two are what one read at the moment of
// the second would return; when it does not (the row changed in between),
// the statement runs again with a snapshot (kv.ErrNeedSnapshot). r is the
// row, nil if there is none; done is false when the lookup is not of this
// kind or the transaction has a timestamp, and nothing was read.
func (s *scanRel) lookupLatest(e *execCtx, vals []types.Datum) (r *scanned, done bool, err error) {
	t, ix := s.table, s.index
	if !ix.Unique || len(ix.Columns) != 1 || s.forUpdate || s.lock || len(vals) != 1 {
		return nil, false, nil
	}
	col := t.ColumnByID(ix.Columns[0])
	v := vals[0]
	rowKey, res, ok, err := e.txn.GetVia(e.ctx, s.entryKey(v))
	if err != nil || !ok || rowKey == nil {
		return nil, ok, err
	}
	if !res.Found {
		return nil, true, kv.ErrNeedSnapshot
	}
	rw, err := rowenc.DecodeRow(t, rowKey, res.Value)
	if err != nil {
		return nil, true, err
	}
	if pos := t.ColumnIndex(col.ID); rw[pos] == nil || types.Compare(col.Type, rw[pos], v) != 0 {
		return nil, true, kv.ErrNeedSnapshot
	}
	return &scanned{key: rowKey, row: rw}, true, nil
}

// settle records as read (kv.Txn.NoteReads) each open entry that the rows
// read after it, found, do not imply. The entry of value v for row key k
// is implied when the transaction holds k's lock and the row it read at k
// is there with v in the indexed column: the commit checks the row from
// the version read (a row written, or locked, kv/pessimistic.go), and as
// long as the row has v the unique index's entry for v is that one. So
// TPC-B's UPDATE by id, and its SELECT of the row it updated, need no
// refresh of the index. An open entry whose row is gone, changed or not
// locked is recorded, and refreshed like any read.
func (l *indexLookup) settle(e *execCtx, s *scanRel, found []scanned) error {
	if !slices.Contains(l.open, true) {
		return nil
	}
	rows := make(map[string]row, len(found))
	for _, f := range found {
		rows[string(f.key)] = f.row
	}
	pos := s.table.ColumnIndex(s.index.Columns[0])
	typ := s.table.Columns[pos].Type
	var note [][]byte
	for i, entry := range l.entries {
		if !l.open[i] {
			continue
		}
		r, ok := rows[string(l.rowKeys[i])]
		if ok && e.txn.Locked(l.rowKeys[i]) && r[pos] != nil && types.Compare(typ, r[pos], l.vals[i]) == 0 {
			continue
		}
		note = append(note, entry)
	}
	return e.txn.NoteReads(e.ctx, note, l.at)
}

// getMany reads rows by key, locking them first for an UPDATE, a DELETE
// or FOR UPDATE.
func (s *scanRel) getMany(e *execCtx, keys [][]byte) ([]kv.KeyResult, error) {
	if s.forUpdate || s.lock {
		return e.txn.GetManyForUpdate(e.ctx, keys)
	}
	return e.txn.GetMany(e.ctx, keys)
}

func appendUniqueHash(hs []uint64, h uint64) []uint64 {
	for _, x := range hs {
		if x == h {
			return hs
		}
	}
	return append(hs, h)
}

func dedupKeys(ks [][]byte) [][]byte {
	seen := map[string]bool{}
	out := ks[:0]
	for _, k := range ks {
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, k)
		}
	}
	return out
}

// keyValue converts a lookup value to the column's type for key encoding;
// ok is false when the value cannot equal any value of the column (NULL, or
// a fractional number for an integer column).
func keyValue(d types.Datum, from, to types.T) (types.Datum, bool) {
	if d == nil {
		return nil, false
	}
	if from.Family() == to.Family() {
		if to.Family() == types.IntFamily {
			v := d.(int64)
			switch to.Oid {
			case types.OidInt2:
				return d, v >= -1<<15 && v < 1<<15
			case types.OidInt4:
				return d, v >= -1<<31 && v < 1<<31
			}
		}
		if to.Family() == types.StringFamily && to.Oid == types.OidBPChar {
			return d, true
		}
		return d, true
	}
	c, err := types.Cast(d, from, to)
	if err != nil {
		return nil, false
	}
	back, err := types.Cast(c, to, from)
	if err != nil || types.Compare(from, back, d) != 0 {
		return nil, false
	}
	return c, true
}

// conjuncts flattens an AND tree.
func conjuncts(x expr.Expr) []expr.Expr {
	if a, ok := x.(*expr.And); ok {
		var out []expr.Expr
		for _, y := range a.Args {
			out = append(out, conjuncts(y)...)
		}
		return out
	}
	return []expr.Expr{x}
}

// rowIndependent reports whether x can be computed before reading rows.
func rowIndependent(x expr.Expr) bool {
	ok := true
	expr.Walk(x, func(y expr.Expr) bool {
		switch y.(type) {
		case *expr.ColRef, *subquery, *outerRef:
			ok = false
		}
		return ok
	})
	return ok && !expr.Volatile(x)
}

// chooseAccess picks the access path of a scan from its filter.
func (s *scanRel) chooseAccess() {
	if s.filter == nil {
		return
	}
	t := s.table
	eq := map[int][]expr.Expr{} // column position → candidate values (IN list or one)
	for _, c := range conjuncts(s.filter) {
		switch x := c.(type) {
		case *expr.Cmp:
			if x.Op != "=" {
				continue
			}
			if cr, ok := x.L.(*expr.ColRef); ok && rowIndependent(x.R) {
				eq[cr.Idx] = []expr.Expr{x.R}
			} else if cr, ok := x.R.(*expr.ColRef); ok && rowIndependent(x.L) {
				eq[cr.Idx] = []expr.Expr{x.L}
			}
		case *expr.InList:
			cr, ok := x.Arg.(*expr.ColRef)
			if !ok || x.Not {
				continue
			}
			all := true
			for _, it := range x.List {
				if !rowIndependent(it) {
					all = false
				}
			}
			if all && len(eq[cr.Idx]) == 0 {
				eq[cr.Idx] = x.List
			}
		}
	}
	pk := t.PrimaryIndex()
	shardPos := t.ColumnIndex(t.ShardColumn)
	// Every primary key column given, the shard column among them.
	inPK := false
	combos := 1
	for _, id := range pk.Columns {
		vals := eq[t.ColumnIndex(id)]
		combos *= max(len(vals), 1)
		if len(vals) == 0 {
			combos = 0
		}
		if id == t.ShardColumn {
			inPK = true
		}
	}
	if inPK && combos > 0 && combos <= 1024 {
		s.kind = accessPoint
		s.points = [][]expr.Expr{{}}
		for _, id := range pk.Columns {
			vals := eq[t.ColumnIndex(id)]
			var next [][]expr.Expr
			for _, prefix := range s.points {
				for _, v := range vals {
					next = append(next, append(append([]expr.Expr(nil), prefix...), v))
				}
			}
			s.points = next
		}
		return
	}
	if vals := eq[shardPos]; len(vals) > 0 {
		s.kind, s.shardVals = accessShard, vals
		return
	}
	for _, ix := range t.Indexes {
		if !ix.Global {
			continue
		}
		if vals := eq[t.ColumnIndex(ix.Columns[0])]; len(vals) > 0 {
			s.kind, s.shardVals, s.index = accessIndex, vals, ix
			return
		}
	}
}

// describe says how the scan reads, for EXPLAIN.
func (s *scanRel) describe() string {
	t := s.table
	switch s.kind {
	case accessPoint:
		return fmt.Sprintf("point lookup on %s (%d key(s)): single shard", t.Name, len(s.points))
	case accessShard:
		return fmt.Sprintf("shard scan on %s (%d shard value(s))", t.Name, len(s.shardVals))
	case accessIndex:
		return fmt.Sprintf("global index lookup %s on %s, then row lookup", s.index.Name, t.Name)
	}
	return fmt.Sprintf("full scan on %s: fans out to every range of the database", t.Name)
}

// applyWhere attaches a WHERE clause to from.
func (p *planner) applyWhere(from rel, in *scope, where *pg_query.Node, lock bool) (rel, error) {
	b := p.builder(&env{p: p, sc: in})
	pred, err := b.Build(where, types.Bool)
	if err != nil {
		return nil, err
	}
	if pred.Type().Oid != types.OidBool && pred.Type().Oid != types.OidUnknown {
		return nil, errArgType("WHERE", pred.Type())
	}
	if s, ok := from.(*scanRel); ok {
		s.filter = pred
		s.where = []*pg_query.Node{where}
		s.lock = lock
		s.chooseAccess()
		return s, nil
	}
	// Push single-table conjuncts into the scans of a join, where that
	// does not change outer-join results.
	var parts []*pg_query.Node
	if be := where.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_AND_EXPR {
		parts = be.Args
	} else {
		parts = []*pg_query.Node{where}
	}
	addEquiKeys(from, conjuncts(pred))
	for _, s := range pushableScans(from) {
		sb := p.builder(&env{p: p, sc: &scope{cols: s.cols()}})
		var mine []expr.Expr
		var nodes []*pg_query.Node
		for _, part := range parts {
			if hasSubLink(part) {
				continue
			}
			x, err := sb.Build(part, types.Bool)
			if err != nil {
				continue
			}
			mine = append(mine, x)
			nodes = append(nodes, part)
		}
		if len(mine) == 0 {
			continue
		}
		s.addFilter(mine)
		if sc, ok := s.(*scanRel); ok {
			sc.where = append(sc.where, nodes...)
		}
	}
	return &filterRel{in: from, pred: pred}, nil
}

// filterable is a leaf that can apply conjuncts of a WHERE early.
type filterable interface {
	cols() []scopeCol
	addFilter(conj []expr.Expr)
}

func (s *scanRel) addFilter(mine []expr.Expr) {
	if s.filter != nil {
		mine = append(mine, s.filter)
	}
	if len(mine) == 1 {
		s.filter = mine[0]
	} else {
		s.filter = &expr.And{Args: mine}
	}
	s.chooseAccess()
}

func (r *funcRel) addFilter(mine []expr.Expr) {
	if r.filter != nil {
		mine = append(mine, r.filter)
	}
	if len(mine) == 1 {
		r.filter = mine[0]
	} else {
		r.filter = &expr.And{Args: mine}
	}
}

// addEquiKeys gives the inner joins of a left-deep join tree hash keys
// from WHERE equalities between their sides (FROM a, b WHERE a.x = b.y).
func addEquiKeys(r rel, conj []expr.Expr) {
	j, ok := r.(*joinRel)
	if !ok {
		return
	}
	if j.kind == joinInner && len(j.leftKey) == 0 {
		nl, nr := len(j.left.cols()), len(j.right.cols())
		lk, rk := equiKeys(&expr.And{Args: conj}, nl)
		for i := range lk {
			if lk[i] < nl && rk[i] < nr {
				j.leftKey = append(j.leftKey, lk[i])
				j.rightKey = append(j.rightKey, rk[i])
			}
		}
	}
	addEquiKeys(j.left, conj)
}

// pushableScans returns the leaves under r whose rows a WHERE conjunct may
// filter early: those not on the null-extended side of an outer join.
func pushableScans(r rel) []filterable {
	switch x := r.(type) {
	case *scanRel:
		return []filterable{x}
	case *funcRel:
		return []filterable{x}
	case *joinRel:
		var out []filterable
		if x.kind == joinInner || x.kind == joinLeft {
			out = append(out, pushableScans(x.left)...)
		}
		if x.kind == joinInner || x.kind == joinRight {
			out = append(out, pushableScans(x.right)...)
		}
		return out
	case *aliasRel:
		if _, ok := x.in.(*joinRel); ok {
			return nil // USING joins rename columns; keep it simple
		}
	}
	return nil
}

func hasSubLink(n *pg_query.Node) bool {
	return strings.Contains(n.String(), "sub_link") || strings.Contains(n.String(), "SubLink")
}
