package sql

import (
	"sort"

	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// row is one row flowing between operators.
type row = []types.Datum

// scopeCol is a column that names can resolve to.
type scopeCol struct {
	table    string // the table's alias or name; "" when unnamed
	name     string
	typ      types.T
	hidden   bool // not part of *
	tableOID int64
	attnum   int16
}

// rel is a relational operator. Operators materialize their output: simple
// and, for the OLTP statements shard serves, cheap; streaming is future
// work.
type rel interface {
	cols() []scopeCol
	rows(e *execCtx) ([]row, error)
}

// valuesRel is a VALUES list or a FROM-less SELECT's one row.
type valuesRel struct {
	columns []scopeCol
	exprs   [][]expr.Expr
}

func (r *valuesRel) cols() []scopeCol { return r.columns }

func (r *valuesRel) rows(e *execCtx) ([]row, error) {
	out := make([]row, 0, len(r.exprs))
	for _, list := range r.exprs {
		rw := make(row, len(list))
		for i, x := range list {
			d, err := x.Eval(e.ev, nil)
			if err != nil {
				return nil, err
			}
			rw[i] = d
		}
		out = append(out, rw)
	}
	return out, nil
}

// filterRel keeps the rows for which pred is true.
type filterRel struct {
	in   rel
	pred expr.Expr
}

func (r *filterRel) cols() []scopeCol { return r.in.cols() }

func (r *filterRel) rows(e *execCtx) ([]row, error) {
	in, err := r.in.rows(e)
	if err != nil {
		return nil, err
	}
	return filterRows(e, in, r.pred)
}

func filterRows(e *execCtx, in []row, pred expr.Expr) ([]row, error) {
	if pred == nil {
		return in, nil
	}
	out := in[:0:0]
	for _, rw := range in {
		ok, err := evalBool(e, pred, rw)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rw)
		}
	}
	return out, nil
}

func evalBool(e *execCtx, x expr.Expr, rw row) (bool, error) {
	d, err := x.Eval(e.ev, rw)
	if err != nil {
		return false, err
	}
	b, _ := d.(bool)
	return b, nil
}

// projectRel computes expressions over each input row.
type projectRel struct {
	in      rel
	exprs   []expr.Expr
	columns []scopeCol
}

func (r *projectRel) cols() []scopeCol { return r.columns }

func (r *projectRel) rows(e *execCtx) ([]row, error) {
	in, err := r.in.rows(e)
	if err != nil {
		return nil, err
	}
	out := make([]row, len(in))
	for i, src := range in {
		rw := make(row, len(r.exprs))
		for j, x := range r.exprs {
			d, err := x.Eval(e.ev, src)
			if err != nil {
				return nil, err
			}
			rw[j] = d
		}
		out[i] = rw
	}
	return out, nil
}

// joinKind is the kind of a join.
type joinKind int

const (
	joinInner joinKind = iota
	joinLeft
	joinRight
	joinFull
)

// joinRel is a nested-loop join (with a hash table for equi-joins).
type joinRel struct {
	left, right rel
	kind        joinKind
	on          expr.Expr // over left ++ right; nil = true
	// leftKey/rightKey, when set, are column positions of an equality
	// (left.a = right.b) that a hash table can answer.
	leftKey, rightKey []int
}

func (r *joinRel) cols() []scopeCol {
	return append(append([]scopeCol(nil), r.left.cols()...), r.right.cols()...)
}

func (r *joinRel) rows(e *execCtx) ([]row, error) {
	lrows, err := r.left.rows(e)
	if err != nil {
		return nil, err
	}
	rrows, err := r.right.rows(e)
	if err != nil {
		return nil, err
	}
	nl, nr := len(r.left.cols()), len(r.right.cols())
	lcols, rcols := r.left.cols(), r.right.cols()
	var index map[string][]int
	if len(r.leftKey) > 0 {
		index = map[string][]int{}
		for j, rr := range rrows {
			if k, ok := joinKey(rr, r.rightKey, rcols); ok {
				index[k] = append(index[k], j)
			}
		}
	}
	var out []row
	rightMatched := make([]bool, len(rrows))
	for _, lr := range lrows {
		matched := false
		try := func(j int) error {
			combined := make(row, 0, nl+nr)
			combined = append(append(combined, lr...), rrows[j]...)
			ok := true
			if r.on != nil {
				var err error
				if ok, err = evalBool(e, r.on, combined); err != nil {
					return err
				}
			}
			if ok {
				matched = true
				rightMatched[j] = true
				out = append(out, combined)
			}
			return nil
		}
		if index != nil {
			if k, ok := joinKey(lr, r.leftKey, lcols); ok {
				for _, j := range index[k] {
					if err := try(j); err != nil {
						return nil, err
					}
				}
			}
		} else {
			for j := range rrows {
				if err := try(j); err != nil {
					return nil, err
				}
			}
		}
		if !matched && (r.kind == joinLeft || r.kind == joinFull) {
			combined := make(row, nl+nr)
			copy(combined, lr)
			out = append(out, combined)
		}
	}
	if r.kind == joinRight || r.kind == joinFull {
		for j, m := range rightMatched {
			if !m {
				combined := make(row, nl+nr)
				copy(combined[nl:], rrows[j])
				out = append(out, combined)
			}
		}
	}
	return out, nil
}

// joinKey encodes the key columns of rw; ok is false when one is NULL
// (NULL never joins).
func joinKey(rw row, idx []int, cols []scopeCol) (string, bool) {
	var b []byte
	for _, i := range idx {
		if rw[i] == nil {
			return "", false
		}
		b = types.AppendKey(b, keyType(cols[i].typ), rw[i], false)
	}
	return string(b), true
}

// keyType is the type used to encode values compared across int widths or
// string types, so equal values encode equally.
func keyType(t types.T) types.T {
	switch t.Family() {
	case types.IntFamily:
		return types.Int8
	case types.FloatFamily:
		return types.Float8
	case types.StringFamily:
		return types.Text
	}
	return types.T{Oid: t.Oid, Mod: -1}
}

// sortKey orders rows by one column.
type sortKey struct {
	idx        int
	desc       bool
	nullsFirst bool
}

// sortRel sorts its input.
type sortRel struct {
	in   rel
	keys []sortKey
}

func (r *sortRel) cols() []scopeCol { return r.in.cols() }

func (r *sortRel) rows(e *execCtx) ([]row, error) {
	in, err := r.in.rows(e)
	if err != nil {
		return nil, err
	}
	cols := r.in.cols()
	sort.SliceStable(in, func(a, b int) bool {
		return compareRows(in[a], in[b], r.keys, cols) < 0
	})
	return in, nil
}

func compareRows(a, b row, keys []sortKey, cols []scopeCol) int {
	for _, k := range keys {
		x, y := a[k.idx], b[k.idx]
		var c int
		switch {
		case x == nil && y == nil:
			c = 0
		case x == nil:
			c = 1
			if k.nullsFirst {
				c = -1
			}
			if k.desc {
				c = -c
			}
		case y == nil:
			c = -1
			if k.nullsFirst {
				c = 1
			}
			if k.desc {
				c = -c
			}
		default:
			c = types.Compare(cols[k.idx].typ, x, y)
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// limitRel applies LIMIT and OFFSET.
type limitRel struct {
	in            rel
	limit, offset expr.Expr // nil when absent
}

func (r *limitRel) cols() []scopeCol { return r.in.cols() }

func (r *limitRel) rows(e *execCtx) ([]row, error) {
	off, err := evalCount(e, r.offset, "OFFSET")
	if err != nil {
		return nil, err
	}
	lim, err := evalCount(e, r.limit, "LIMIT")
	if err != nil {
		return nil, err
	}
	in, err := r.in.rows(e)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if off >= int64(len(in)) {
			return nil, nil
		}
		in = in[off:]
	}
	if lim >= 0 && lim < int64(len(in)) {
		in = in[:lim]
	}
	return in, nil
}

// evalCount evaluates a LIMIT or OFFSET expression; -1 means none.
func evalCount(e *execCtx, x expr.Expr, what string) (int64, error) {
	if x == nil {
		return -1, nil
	}
	d, err := expr.ConstEval(e.ev, x)
	if err != nil {
		return 0, err
	}
	if d == nil {
		return -1, nil
	}
	if x.Type().Family() != types.IntFamily {
		if d, err = types.Cast(d, x.Type(), types.Int8); err != nil {
			return 0, err
		}
	}
	n := d.(int64)
	if n < 0 {
		if what == "LIMIT" {
			return 0, pgerror.New("2201W", "LIMIT must not be negative")
		}
		return 0, pgerror.New("2201X", "OFFSET must not be negative")
	}
	return n, nil
}

// distinctRel removes duplicate rows (or rows duplicate on the first n
// columns, for DISTINCT ON, keeping the first).
type distinctRel struct {
	in rel
	on int // number of leading columns compared; 0 = all
}

func (r *distinctRel) cols() []scopeCol { return r.in.cols() }

func (r *distinctRel) rows(e *execCtx) ([]row, error) {
	in, err := r.in.rows(e)
	if err != nil {
		return nil, err
	}
	cols := r.in.cols()
	n := r.on
	if n == 0 {
		n = len(cols)
	}
	seen := map[string]bool{}
	var out []row
	for _, rw := range in {
		k := rowKeyString(rw[:n], cols)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, rw)
	}
	return out, nil
}

// rowKeyString encodes a row so that equal rows (NULLs equal, as DISTINCT
// and GROUP BY treat them) give equal strings.
func rowKeyString(rw row, cols []scopeCol) string {
	var b []byte
	for i, d := range rw {
		b = types.AppendKey(b, keyType(cols[i].typ), d, false)
	}
	return string(b)
}

// setOpRel is UNION, INTERSECT or EXCEPT.
type setOpRel struct {
	left, right rel
	op          string // "union", "intersect", "except"
	all         bool
	columns     []scopeCol
}

func (r *setOpRel) cols() []scopeCol { return r.columns }

func (r *setOpRel) rows(e *execCtx) ([]row, error) {
	l, err := r.left.rows(e)
	if err != nil {
		return nil, err
	}
	rr, err := r.right.rows(e)
	if err != nil {
		return nil, err
	}
	cols := r.columns
	switch r.op {
	case "union":
		all := append(append([]row(nil), l...), rr...)
		if r.all {
			return all, nil
		}
		return (&distinctRel{in: &staticRel{columns: cols, data: all}}).rows(e)
	default:
		counts := map[string]int{}
		for _, x := range rr {
			counts[rowKeyString(x, cols)]++
		}
		var out []row
		seen := map[string]bool{}
		for _, x := range l {
			k := rowKeyString(x, cols)
			in := counts[k] > 0
			if (r.op == "intersect") != in {
				continue
			}
			if r.all {
				if r.op == "intersect" {
					counts[k]--
				}
			} else {
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, x)
		}
		return out, nil
	}
}

// staticRel returns fixed rows.
type staticRel struct {
	columns []scopeCol
	data    []row
}

func (r *staticRel) cols() []scopeCol             { return r.columns }
func (r *staticRel) rows(*execCtx) ([]row, error) { return r.data, nil }

// funcRel produces rows from a function of the execution (virtual tables),
// keeping those that pass filter.
type funcRel struct {
	columns []scopeCol
	gen     func(e *execCtx) ([]row, error)
	filter  expr.Expr
}

func (r *funcRel) cols() []scopeCol { return r.columns }

func (r *funcRel) rows(e *execCtx) ([]row, error) {
	rows, err := r.gen(e)
	if err != nil {
		return nil, err
	}
	return filterRows(e, rows, r.filter)
}
