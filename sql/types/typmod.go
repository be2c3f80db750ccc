package types

import (
	"math"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Type modifiers: building them from SQL (varchar(20), numeric(10,2),
// timestamp(3)), printing types with them (format_type) and applying them
// to values on assignment.

// Interval typmods are (range << 16) | precision, as in PostgreSQL.
const (
	intervalFullRange     = 0x7fff
	intervalFullPrecision = 0xffff
	maxStringLength       = 10485760 // MaxAttrSize
	maxTimePrecision      = 6
)

// MakeTypmod applies the SQL type modifiers mods (the numbers in
// "varchar(20)", "numeric(10,2)", "timestamp(3)") to t, with PostgreSQL's
// checks and errors (22023 for a bad value, 42601 for a type that takes
// none). varchar(n) and bpchar(n) store n+4; numeric(p[,s]) stores
// ((p<<16)|(s&0x7ff))+4 with 1 <= p <= 1000 and -1000 <= s <= 1000;
// timestamp(p), timestamptz(p) and time(p) store p (values above 6 become
// 6, as PostgreSQL does with a warning); interval(p) stores
// (0x7fff<<16)|p. For an array type the modifier applies to its elements.
// An empty mods returns t unchanged.
func MakeTypmod(t T, mods []int32) (T, error) {
	if len(mods) == 0 {
		return t, nil
	}
	if t.Family() == ArrayFamily {
		et, err := MakeTypmod(t.Elem(), mods)
		if err != nil {
			return t, err
		}
		return T{t.Oid, et.Mod}, nil
	}
	badMod := func() (T, error) {
		return t, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid type modifier")
	}
	switch t.Oid {
	case OidVarchar, OidBPChar:
		if len(mods) != 1 {
			return badMod()
		}
		name := "varchar"
		if t.Oid == OidBPChar {
			name = "char"
		}
		n := mods[0]
		if n < 1 {
			return t, pgerror.New(pgerror.CodeInvalidParameterValue, "length for type %s must be at least 1", name)
		}
		if n > maxStringLength {
			return t, pgerror.New(pgerror.CodeInvalidParameterValue, "length for type %s cannot exceed %d", name, maxStringLength)
		}
		return T{t.Oid, n + 4}, nil
	case OidNumeric:
		if len(mods) > 2 {
			return t, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid NUMERIC type modifier")
		}
		p := mods[0]
		if p < 1 || p > numericMaxPrecision {
			return t, pgerror.New(pgerror.CodeInvalidParameterValue, "NUMERIC precision %d must be between 1 and %d", p, numericMaxPrecision)
		}
		var s int32
		if len(mods) == 2 {
			s = mods[1]
			if s < numericMinScale || s > numericMaxScale {
				return t, pgerror.New(pgerror.CodeInvalidParameterValue, "NUMERIC scale %d must be between %d and %d", s, numericMinScale, numericMaxScale)
			}
		}
		return T{t.Oid, ((p << 16) | (s & 0x7ff)) + 4}, nil
	case OidTimestamp, OidTimestampTZ, OidTime:
		if len(mods) != 1 {
			return badMod()
		}
		p := mods[0]
		if p < 0 {
			what := "TIMESTAMP"
			if t.Oid == OidTime {
				what = "TIME"
			}
			tz := ""
			if t.Oid == OidTimestampTZ {
				tz = " WITH TIME ZONE"
			}
			return t, pgerror.New(pgerror.CodeInvalidParameterValue, "%s(%d)%s precision must not be negative", what, p, tz)
		}
		return T{t.Oid, min(p, maxTimePrecision)}, nil
	case OidInterval:
		if len(mods) != 1 {
			return badMod()
		}
		p := mods[0]
		if p < 0 {
			return t, pgerror.New(pgerror.CodeInvalidParameterValue, "INTERVAL(%d) precision must not be negative", p)
		}
		return T{t.Oid, intervalFullRange<<16 | min(p, maxTimePrecision)}, nil
	}
	return t, pgerror.New(pgerror.CodeSyntaxError, "type modifier is not allowed for type \"%s\"", t.Name())
}

// FormatType is PostgreSQL's format_type(oid, typmod): "integer",
// "character varying(20)", "numeric(10,2)", "timestamp(3) without time
// zone", "text[]", "\"char\"", ...
func FormatType(t T) string {
	var buf []byte
	return string(appendFormatType(buf, t))
}

func appendFormatType(buf []byte, t T) []byte {
	if i, ok := infos[t.Oid]; ok && i.cat == 'A' && i.elem != 0 && t.Oid != OidInt2Vector && t.Oid != OidOidVector {
		buf = appendFormatType(buf, T{i.elem, t.Mod})
		return append(buf, "[]"...)
	}
	mod := t.Mod
	withMod := func(base string, show bool, m int32) []byte {
		buf = append(buf, base...)
		if show {
			buf = append(buf, '(')
			buf = strconv.AppendInt(buf, int64(m), 10)
			buf = append(buf, ')')
		}
		return buf
	}
	switch t.Oid {
	case OidBool:
		return append(buf, "boolean"...)
	case OidInt2:
		return append(buf, "smallint"...)
	case OidInt4:
		return append(buf, "integer"...)
	case OidInt8:
		return append(buf, "bigint"...)
	case OidFloat4:
		return append(buf, "real"...)
	case OidFloat8:
		return append(buf, "double precision"...)
	case OidChar:
		return append(buf, `"char"`...)
	case OidAny:
		return append(buf, `"any"`...)
	case OidBPChar:
		if mod < 4 {
			return append(buf, "bpchar"...)
		}
		return withMod("character", true, mod-4)
	case OidVarchar:
		return withMod("character varying", mod >= 4, mod-4)
	case OidNumeric:
		buf = append(buf, "numeric"...)
		if p, s, ok := numericTypmod(mod); ok {
			buf = append(buf, '(')
			buf = strconv.AppendInt(buf, int64(p), 10)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(s), 10)
			buf = append(buf, ')')
		}
		return buf
	case OidTimestamp:
		buf = withMod("timestamp", mod >= 0, mod)
		return append(buf, " without time zone"...)
	case OidTimestampTZ:
		buf = withMod("timestamp", mod >= 0, mod)
		return append(buf, " with time zone"...)
	case OidTime:
		buf = withMod("time", mod >= 0, mod)
		return append(buf, " without time zone"...)
	case OidInterval:
		buf = append(buf, "interval"...)
		if mod >= 0 {
			buf = append(buf, intervalFieldsText(mod>>16&0x7fff)...)
			if p := mod & 0xffff; p != intervalFullPrecision {
				buf = append(buf, '(')
				buf = strconv.AppendInt(buf, int64(p), 10)
				buf = append(buf, ')')
			}
		}
		return buf
	}
	return append(buf, t.Name()...)
}

// intervalFieldsText is the fields part of intervaltypmodout.
func intervalFieldsText(rng int32) string {
	const (
		month  = 1 << 1
		year   = 1 << 2
		day    = 1 << 3
		hour   = 1 << 10
		minute = 1 << 11
		second = 1 << 12
	)
	switch rng {
	case year:
		return " year"
	case month:
		return " month"
	case day:
		return " day"
	case hour:
		return " hour"
	case minute:
		return " minute"
	case second:
		return " second"
	case year | month:
		return " year to month"
	case day | hour:
		return " day to hour"
	case day | hour | minute:
		return " day to minute"
	case day | hour | minute | second:
		return " day to second"
	case hour | minute:
		return " hour to minute"
	case hour | minute | second:
		return " hour to second"
	case minute | second:
		return " minute to second"
	}
	return ""
}

// CheckAssign applies t's typmod and range to d with assignment semantics
// (INSERT and UPDATE of a column of type t): varchar(n)/bpchar(n) fail
// with 22001 when too long unless only spaces are cut, bpchar(n) pads,
// numeric(p,s) rounds to s and fails with 22003 beyond p, int2/int4 and
// oid check their range (22003), float4 rounds (22003 on overflow),
// timestamps, time and interval round to their precision, name keeps 63
// bytes and "char" one; arrays apply it to each element. d must already
// be of t's family (42804 otherwise); nil stays nil.
func CheckAssign(t T, d Datum) (Datum, error) {
	if d == nil {
		return nil, nil
	}
	mismatch := func() (Datum, error) {
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "types: a %T datum cannot be assigned to a column of type %s", d, FormatType(t))
	}
	switch t.Family() {
	case IntFamily, OidFamily:
		v, ok := d.(int64)
		if !ok {
			return mismatch()
		}
		lo, hi := intBounds(t)
		if t.Family() == OidFamily {
			lo, hi = 0, math.MaxUint32
		}
		if v < lo || v > hi {
			return nil, errIntOutOfRange(t)
		}
		return v, nil
	case FloatFamily:
		v, ok := d.(float64)
		if !ok {
			return mismatch()
		}
		if t.Oid == OidFloat4 {
			f, err := toFloat4(v)
			if err != nil {
				return nil, err
			}
			return f, nil
		}
		return v, nil
	case DecimalFamily:
		v, ok := d.(*apd.Decimal)
		if !ok {
			return mismatch()
		}
		r, err := applyNumericTypmod(v, t.Mod)
		if err != nil {
			return nil, err
		}
		return r, nil
	case StringFamily:
		v, ok := d.(string)
		if !ok {
			return mismatch()
		}
		s, err := applyStringTypmod(t, v, false)
		if err != nil {
			return nil, err
		}
		return s, nil
	case TimestampFamily, TimestampTZFamily:
		v, ok := d.(time.Time)
		if !ok {
			return mismatch()
		}
		return adjustTimestamp(v, t.Mod)
	case DateFamily:
		v, ok := d.(time.Time)
		if !ok {
			return mismatch()
		}
		days := dateToDays(v)
		if days != math.MaxInt32 && days != math.MinInt32 && (days < minDateDays || days >= endDateDays) {
			return nil, errDateRange()
		}
		return v, nil
	case TimeFamily:
		v, ok := d.(time.Duration)
		if !ok {
			return mismatch()
		}
		return adjustTime(int64(v/time.Microsecond), t.Mod), nil
	case IntervalFamily:
		v, ok := d.(Interval)
		if !ok {
			return mismatch()
		}
		return applyIntervalTypmod(v, t.Mod), nil
	case ArrayFamily:
		a, ok := d.(*Array)
		if !ok {
			return mismatch()
		}
		et := arrayElemType(t, a)
		var out *Array
		for i, e := range a.Elems {
			r, err := CheckAssign(et, e)
			if err != nil {
				return nil, err
			}
			if out == nil && !sameDatum(r, e) {
				out = &Array{Elem: et, Elems: append([]Datum(nil), a.Elems...)}
			}
			if out != nil {
				out.Elems[i] = r
			}
		}
		if out != nil {
			return out, nil
		}
		return a, nil
	}
	return d, nil
}

// sameDatum reports whether CheckAssign returned its input unchanged.
func sameDatum(a, b Datum) bool {
	switch x := a.(type) {
	case *apd.Decimal:
		y, ok := b.(*apd.Decimal)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case *Array:
		y, ok := b.(*Array)
		return ok && x == y
	case []byte, []Datum:
		return false
	}
	return a == b
}
