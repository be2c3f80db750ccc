package types

import (
	"bytes"
	"cmp"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// Compare orders two non-NULL datums of the same family as PostgreSQL's
// default btree operator class does: -1, 0 or +1. It is safe for
// concurrent use, as is everything in this package.
//
// Strings compare bytewise (the C collation; for UTF-8 that is code point
// order), bpchar ignoring trailing spaces. Floats put NaN above everything
// and equal to itself, and -0 equal to 0; numeric likewise (NaN greatest,
// then +Infinity), 1.5 equal to 1.50. Intervals compare by their span with
// a month worth 30 days, so '1 mon' = '30 days'. jsonb follows PostgreSQL's
// jsonb ordering (Object > Array > Boolean > Number > String > Null, then
// by size, then member by member); json, which PostgreSQL cannot order,
// compares as text. Arrays compare element by element, a NULL element
// above any value, then by length. Records compare field by field, NULL
// fields last.
func Compare(t T, a, b Datum) int {
	switch x := a.(type) {
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return compareFloat(x, y)
		}
	case *apd.Decimal:
		if y, ok := b.(*apd.Decimal); ok {
			return compareNumeric(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			if t.Oid == OidBPChar {
				return strings.Compare(bpcharTrim(x), bpcharTrim(y))
			}
			return strings.Compare(x, y)
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case time.Duration:
		if y, ok := b.(time.Duration); ok {
			return cmp.Compare(x, y)
		}
	case Interval:
		if y, ok := b.(Interval); ok {
			return compareInterval(x, y)
		}
	case uuid.UUID:
		if y, ok := b.(uuid.UUID); ok {
			return bytes.Compare(x[:], y[:])
		}
	case JSON:
		if y, ok := b.(JSON); ok {
			if t.Oid == OidJSON {
				return strings.Compare(string(x), string(y))
			}
			return compareJSONB(x, y)
		}
	case *Array:
		if y, ok := b.(*Array); ok {
			return compareArray(t, x, y)
		}
	case []Datum:
		if y, ok := b.([]Datum); ok {
			return compareRecord(x, y)
		}
	}
	// Datums of different representations (a caller's bug): order them by
	// the OIDs of their default types rather than panicking.
	return cmp.Compare(TypeOfDatum(a).Oid, TypeOfDatum(b).Oid)
}

// compareFloat is float8_cmp_internal.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numericRank orders the numeric forms: -Infinity, finite, +Infinity, NaN.
func numericRank(d *apd.Decimal) int {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return 3
	case apd.Infinite:
		if d.Negative {
			return 0
		}
		return 2
	}
	return 1
}

// compareNumeric is cmp_numerics.
func compareNumeric(a, b *apd.Decimal) int {
	ra, rb := numericRank(a), numericRank(b)
	if ra != rb || ra != 1 {
		return cmp.Compare(ra, rb)
	}
	return a.Cmp(b)
}

// compareInterval is interval_cmp_internal.
func compareInterval(a, b Interval) int {
	ah, al := intervalSpan(a)
	bh, bl := intervalSpan(b)
	if c := cmp.Compare(ah, bh); c != 0 {
		return c
	}
	return cmp.Compare(al, bl)
}

// compareJSONB compares two normalized jsonb texts by their key encodings,
// which are built to order as PostgreSQL's compareJsonbContainers does.
// Unparsable text (not made by this package) compares as text.
func compareJSONB(a, b JSON) int {
	if a == b {
		return 0
	}
	ka, erra := appendJSONBKey(nil, string(a))
	kb, errb := appendJSONBKey(nil, string(b))
	if erra != nil || errb != nil {
		return strings.Compare(string(a), string(b))
	}
	return bytes.Compare(ka, kb)
}

// compareArray is array_cmp for one-dimensional arrays.
func compareArray(t T, a, b *Array) int {
	et := arrayElemType(t, a)
	n := min(len(a.Elems), len(b.Elems))
	for i := 0; i < n; i++ {
		x, y := a.Elems[i], b.Elems[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		if c := Compare(et, x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Elems), len(b.Elems))
}

// compareRecord is record_cmp with field types inferred from the datums.
func compareRecord(a, b []Datum) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		tx, ty := TypeOfDatum(x), TypeOfDatum(y)
		if tx != ty {
			return cmp.Compare(tx.Oid, ty.Oid)
		}
		if c := Compare(tx, x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
