package sql

import (
	"fmt"

	"github.com/shardingsystem/shard/sql/types"
)

// rowMaker builds the rows of one view by column name.
type rowMaker struct {
	rel  string
	cols []virtualColumn
	idx  map[string]int
}

func newRowMaker(rel string, cols []virtualColumn) *rowMaker {
	m := &rowMaker{rel: rel, cols: cols, idx: make(map[string]int, len(cols))}
	for i, c := range cols {
		m.idx[c.name] = i
	}
	return m
}

// row makes a row from name, value pairs; columns not named are NULL.
// Values are converted to the Datum representation of their column:
// Go integers to int64, float32 to float64, a byte to a one-character
// string, []int16 / []int64 / []string to arrays. Naming a column the
// view does not have is a bug and panics.
func (m *rowMaker) row(pairs ...any) row {
	r := make(row, len(m.cols))
	for i := 0; i+1 < len(pairs); i += 2 {
		name := pairs[i].(string)
		j, ok := m.idx[name]
		if !ok {
			panic(fmt.Sprintf("sql: %s has no column %s", m.rel, name))
		}
		r[j] = datumFor(m.cols[j].typ, pairs[i+1])
	}
	return r
}

func datumFor(t types.T, v any) types.Datum {
	if v == nil {
		return nil
	}
	switch t.Family() {
	case types.IntFamily, types.OidFamily:
		switch x := v.(type) {
		case int:
			return int64(x)
		case int16:
			return int64(x)
		case int32:
			return int64(x)
		case uint32:
			return int64(x)
		}
	case types.FloatFamily:
		switch x := v.(type) {
		case int:
			return float64(x)
		case float32:
			return float64(x)
		}
	case types.StringFamily:
		switch x := v.(type) {
		case rune:
			return charString(byte(x))
		case byte:
			return charString(x)
		}
	case types.ArrayFamily:
		a := &types.Array{Elem: t.Elem()}
		switch x := v.(type) {
		case []int16:
			for _, e := range x {
				a.Elems = append(a.Elems, int64(e))
			}
			return a
		case []int64:
			for _, e := range x {
				a.Elems = append(a.Elems, e)
			}
			return a
		case []string:
			for _, e := range x {
				a.Elems = append(a.Elems, e)
			}
			return a
		}
	}
	return v
}

// charString is a "char" value: 0 is the empty string.
func charString(c byte) string {
	if c == 0 {
		return ""
	}
	return string(rune(c))
}

// yesNo is information_schema's yes_or_no.
func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}
