package types

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// Random datums for the property tests: edge values mixed with random
// ones, every family and a few typmods.

func mustTypmod(t T, mods ...int32) T {
	r, err := MakeTypmod(t, mods)
	if err != nil {
		panic(err)
	}
	return r
}

// propTypes are the types the property tests draw datums of.
var propTypes = []T{
	Bool, Int2, Int4, Int8, Float4, Float8, Numeric, mustTypmod(Numeric, 10, 2),
	Text, Varchar, mustTypmod(BPChar, 5), BPChar, Name, Char, Bytea,
	Date, Time, Timestamp, TimestampTZ, Interval_, UUID, JSONType, JSONB, OidT, Regclass,
	TextArray, Int4Array, T{OidNumericArr, -1}, T{OidJSONBArray, -1}, T{OidFloat8Array, -1},
	T{OidBPCharArray, mustTypmod(BPChar, 3).Mod}, T{OidDateArray, -1}, T{OidUUIDArray, -1},
	T{OidIntervalArr, -1}, T{OidByteaArray, -1}, T{OidBoolArray, -1},
}

// genDatum returns a random non-NULL datum of t.
func genDatum(r *rand.Rand, t T) Datum {
	switch t.Family() {
	case BoolFamily:
		return r.IntN(2) == 0
	case IntFamily:
		lo, hi := intBounds(t)
		switch r.IntN(6) {
		case 0:
			return lo
		case 1:
			return hi
		case 2:
			return int64(r.IntN(21)) - 10
		}
		v := int64(r.Uint64())
		if t.Oid != OidInt8 {
			v = lo + int64(r.Uint64()%uint64(hi-lo+1))
		}
		return v
	case OidFamily:
		return int64(r.Uint32())
	case FloatFamily:
		var f float64
		switch r.IntN(10) {
		case 0:
			f = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1, -1,
				math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64}[r.IntN(10)]
		case 1:
			f = float64(r.IntN(2001) - 1000)
		case 2:
			f = math.Float64frombits(r.Uint64())
		default:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		}
		if t.Oid == OidFloat4 {
			f = float64(float32(f))
		}
		return f
	case DecimalFamily:
		return genNumeric(r, t)
	case StringFamily, UnknownFamily:
		s := genString(r)
		switch t.Oid {
		case OidChar:
			if len(s) > 1 {
				s = s[:1]
			}
			if s == "\x00" {
				s = ""
			}
			return s
		case OidName:
			return truncateName(s)
		}
		if n := stringLimit(t); n >= 0 {
			s, _ = applyStringTypmod(t, s, true)
		}
		return s
	case BytesFamily:
		return []byte(genString(r))
	case DateFamily:
		switch r.IntN(8) {
		case 0:
			return InfinityTime
		case 1:
			return NegInfinityTime
		case 2:
			return dateFromDays(minDateDays + int64(r.IntN(3)))
		case 3:
			return dateFromDays(endDateDays - 1 - int64(r.IntN(3)))
		}
		return dateFromDays(int64(r.IntN(200000)) - 100000)
	case TimestampFamily, TimestampTZFamily:
		switch r.IntN(8) {
		case 0:
			return InfinityTime
		case 1:
			return NegInfinityTime
		case 2:
			return timeFromMicros(minTimestamp + int64(r.IntN(3)))
		case 3:
			return timeFromMicros(endTimestamp - 1 - int64(r.IntN(3)))
		case 4:
			return timeFromMicros(int64(r.IntN(2000000)) - 1000000)
		}
		return timeFromMicros(minTimestamp + int64(r.Uint64()%uint64(endTimestamp-minTimestamp)))
	case TimeFamily:
		if r.IntN(8) == 0 {
			return time.Duration(usPerDay) * time.Microsecond
		}
		return time.Duration(r.Int64N(usPerDay)) * time.Microsecond
	case IntervalFamily:
		switch r.IntN(6) {
		case 0:
			// equal spans written differently
			return []Interval{{Months: 1}, {Days: 30}, {Micros: 30 * usPerDay},
				{Months: -1, Days: 30}, {}, {Days: 1, Micros: -usPerDay}}[r.IntN(6)]
		case 1:
			return Interval{Months: int32(r.Uint32()), Days: int32(r.Uint32()), Micros: int64(r.Uint64())}
		}
		return Interval{Months: int32(r.IntN(41) - 20), Days: int32(r.IntN(81) - 40),
			Micros: r.Int64N(4*usPerDay) - 2*usPerDay}
	case UUIDFamily:
		var u uuid.UUID
		for i := range u {
			u[i] = byte(r.IntN(4)) * 85 // few distinct bytes: shared prefixes
		}
		return u
	case JSONFamily:
		doc := genJSON(r, 0)
		if t.Oid == OidJSONB {
			j, err := normalizeJSONB(doc)
			if err != nil {
				panic(err)
			}
			return j
		}
		return JSON(doc)
	case ArrayFamily:
		et := arrayElemType(t, nil)
		n := r.IntN(5)
		a := &Array{Elem: et, Elems: make([]Datum, n)}
		for i := range a.Elems {
			if r.IntN(6) != 0 {
				a.Elems[i] = genDatum(r, et)
			}
		}
		return a
	}
	panic("genDatum: no generator for " + t.Name())
}

func genString(r *rand.Rand) string {
	const alphabet = "\x00\x01ab \xff\xc3\xa9Zz"
	n := r.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func genNumeric(r *rand.Rand, t T) *apd.Decimal {
	_, _, constrained := numericTypmod(t.Mod)
	switch r.IntN(12) {
	case 0:
		return numericNaN
	case 1:
		if !constrained {
			return numericPosInf
		}
	case 2:
		if !constrained {
			return numericNegInf
		}
	}
	if prec, sc, ok := numericTypmod(t.Mod); ok {
		limit := int64(math.Pow10(int(prec)))
		v := r.Int64N(2*limit-1) - (limit - 1)
		d := &apd.Decimal{Exponent: -sc, Negative: v < 0}
		if v < 0 {
			v = -v
		}
		d.Coeff.SetInt64(v)
		if v == 0 {
			d.Negative = false
		}
		return d
	}
	var digits []byte
	nd := r.IntN(25)
	for i := 0; i < nd; i++ {
		digits = append(digits, byte('0'+r.IntN(10)))
	}
	if r.IntN(3) == 0 {
		digits = append(digits, '0', '0', '0') // trailing zeros
	}
	scale := int64(r.IntN(30)) - 5
	k := 0
	for k < len(digits) && digits[k] == '0' {
		k++
	}
	d, err := makeNumeric(r.IntN(2) == 0, digits[k:], scale)
	if err != nil {
		panic(err)
	}
	return d
}

// genJSON returns random JSON text (not normalized).
func genJSON(r *rand.Rand, depth int) string {
	k := r.IntN(7)
	if depth > 2 && k >= 5 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return "null"
	case 1:
		return []string{"true", "false"}[r.IntN(2)]
	case 2:
		return []string{"0", "1", "1.0", "-2.50", "1e3", "12345678901234567890", "0.001"}[r.IntN(7)]
	case 3, 4:
		return strconv.Quote([]string{"", "a", "b", "ab", "é", "a\"b", "\t", "zz"}[r.IntN(8)])
	case 5:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, n := 0, r.IntN(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(genJSON(r, depth+1))
		}
		b.WriteByte(']')
		return b.String()
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := 0, r.IntN(4); i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote([]string{"a", "b", "aa", "c", "ba"}[r.IntN(5)]))
		b.WriteByte(':')
		b.WriteString(genJSON(r, depth+1))
	}
	b.WriteByte('}')
	return b.String()
}

// datumIdentical reports whether a and b are the same datum, exactly:
// numeric scale, float bits (any NaN matches any NaN), instants,
// interval fields, array elements.
func datumIdentical(a, b Datum) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		if !ok {
			return false
		}
		if x != x || y != y {
			return x != x && y != y
		}
		return math.Float64bits(x) == math.Float64bits(y)
	case *apd.Decimal:
		y, ok := b.(*apd.Decimal)
		if !ok {
			return false
		}
		if x.Form != y.Form {
			return x.Form >= apd.NaNSignaling && y.Form >= apd.NaNSignaling
		}
		return x.Form == apd.NaN || x.Form == apd.NaNSignaling ||
			(x.Negative == y.Negative && x.Exponent == y.Exponent && x.Coeff.Cmp(&y.Coeff) == 0)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case *Array:
		y, ok := b.(*Array)
		if !ok || len(x.Elems) != len(y.Elems) {
			return false
		}
		for i := range x.Elems {
			if !datumIdentical(x.Elems[i], y.Elems[i]) {
				return false
			}
		}
		return true
	case []Datum:
		y, ok := b.([]Datum)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !datumIdentical(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
