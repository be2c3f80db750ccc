package types

import (
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Cast converts d (not nil) of type from to type to with PostgreSQL's cast
// rules and error codes (explicit cast semantics: text to anything parses,
// anything to text formats, numeric families convert with range checks,
// int to bool and back, typmod applied).
//
// The casts are PostgreSQL's explicit ones between the families shard
// has: to and from every text type (bool prints as true/false, bpchar
// loses its trailing spaces, varchar(n) and bpchar(n) truncate); among
// int2/int4/int8/float4/float8/numeric (float to int rounds half to even,
// numeric to int half away from zero, 22003 out of range, 0A000 for NaN and
// infinity); int4 and bool; int and oid; int4 and "char"; date,
// timestamp and timestamptz (the session zone is UTC) and their time of
// day; interval and time; json and jsonb, and jsonb scalars to bool and
// numbers; arrays element by element. Anything else is 42846 cannot cast
// type x to y. A nil d gives nil.
func Cast(d Datum, from, to T) (Datum, error) {
	if d == nil {
		return nil, nil
	}
	if from == to && to.Family() != StringFamily {
		return d, nil
	}
	tf := to.Family()
	if tf == StringFamily || to.Oid == OidUnknown {
		return castToString(d, from, to)
	}
	if s, ok := d.(string); ok {
		if from.Oid == OidChar && tf == IntFamily {
			if to.Oid != OidInt4 {
				return nil, errCannotCast(from, to)
			}
			if s == "" {
				return int64(0), nil
			}
			return int64(int8(s[0])), nil
		}
		if from.Oid == OidChar {
			s = string(appendChar(nil, s))
		}
		return ParseText(to, s)
	}
	switch tf {
	case BoolFamily:
		switch v := d.(type) {
		case bool:
			return v, nil
		case int64:
			if from.Oid == OidInt4 {
				return v != 0, nil
			}
		case JSON:
			if from.Oid == OidJSONB {
				return jsonbScalar(v, to)
			}
		}
	case IntFamily:
		switch v := d.(type) {
		case int64:
			if from.Family() == OidFamily {
				switch to.Oid {
				case OidInt4:
					return int64(int32(uint32(v))), nil
				case OidInt8:
					return v, nil
				}
				break
			}
			lo, hi := intBounds(to)
			if v < lo || v > hi {
				return nil, errIntOutOfRange(to)
			}
			return v, nil
		case float64:
			return floatToInt(v, to)
		case *apd.Decimal:
			n, err := numericToInt(v, to)
			if err != nil {
				return nil, err
			}
			return n, nil
		case bool:
			if to.Oid == OidInt4 {
				if v {
					return int64(1), nil
				}
				return int64(0), nil
			}
		case JSON:
			if from.Oid == OidJSONB {
				return jsonbScalar(v, to)
			}
		}
	case FloatFamily:
		var f float64
		switch v := d.(type) {
		case int64:
			if from.Family() != IntFamily {
				return nil, errCannotCast(from, to)
			}
			f = float64(v)
		case float64:
			f = v
		case *apd.Decimal:
			return numericToFloatDatum(v, to)
		case JSON:
			if from.Oid == OidJSONB {
				return jsonbScalar(v, to)
			}
			return nil, errCannotCast(from, to)
		default:
			return nil, errCannotCast(from, to)
		}
		if to.Oid == OidFloat4 {
			if from.Family() == IntFamily {
				return float64(float32(f)), nil
			}
			r, err := toFloat4(f)
			if err != nil {
				return nil, err
			}
			return r, nil
		}
		return f, nil
	case DecimalFamily:
		var n *apd.Decimal
		switch v := d.(type) {
		case int64:
			if from.Family() != IntFamily {
				return nil, errCannotCast(from, to)
			}
			n = numericFromInt(v)
		case float64:
			var err error
			if n, err = numericFromFloat(v, from); err != nil {
				return nil, err
			}
		case *apd.Decimal:
			n = v
		case JSON:
			if from.Oid == OidJSONB {
				return jsonbScalar(v, to)
			}
			return nil, errCannotCast(from, to)
		default:
			return nil, errCannotCast(from, to)
		}
		r, err := applyNumericTypmod(n, to.Mod)
		if err != nil {
			return nil, err
		}
		return r, nil
	case DateFamily:
		if v, ok := d.(time.Time); ok {
			switch from.Family() {
			case DateFamily:
				return v, nil
			case TimestampFamily, TimestampTZFamily:
				us := timeToMicros(v)
				switch us {
				case math.MaxInt64:
					return InfinityTime, nil
				case math.MinInt64:
					return NegInfinityTime, nil
				}
				return dateFromDays(floorDiv(us, usPerDay)), nil
			}
		}
	case TimestampFamily, TimestampTZFamily:
		if v, ok := d.(time.Time); ok {
			switch from.Family() {
			case DateFamily, TimestampFamily, TimestampTZFamily:
				if from.Family() == DateFamily {
					days := dateToDays(v)
					if days != math.MaxInt32 && days != math.MinInt32 && days*usPerDay >= endTimestamp {
						return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range for timestamp")
					}
				}
				return adjustTimestamp(v, to.Mod)
			}
		}
	case TimeFamily:
		switch v := d.(type) {
		case time.Duration:
			return adjustTime(int64(v/time.Microsecond), to.Mod), nil
		case time.Time:
			if from.Family() == TimestampFamily || from.Family() == TimestampTZFamily {
				us := timeToMicros(v)
				if us == math.MaxInt64 || us == math.MinInt64 {
					return nil, nil // PostgreSQL returns NULL
				}
				return adjustTime(us-floorDiv(us, usPerDay)*usPerDay, to.Mod), nil
			}
		case Interval:
			us := v.Micros % usPerDay
			if us < 0 {
				us += usPerDay
			}
			return adjustTime(us, to.Mod), nil
		}
	case IntervalFamily:
		switch v := d.(type) {
		case Interval:
			return applyIntervalTypmod(v, to.Mod), nil
		case time.Duration:
			return applyIntervalTypmod(Interval{Micros: int64(v / time.Microsecond)}, to.Mod), nil
		}
	case UUIDFamily:
		if v, ok := d.(uuid.UUID); ok {
			return v, nil
		}
	case BytesFamily:
		if v, ok := d.([]byte); ok {
			return v, nil
		}
	case JSONFamily:
		if v, ok := d.(JSON); ok {
			if to.Oid == OidJSONB && from.Oid != OidJSONB {
				j, err := normalizeJSONB(string(v))
				if err != nil {
					return nil, err
				}
				return j, nil
			}
			return v, nil
		}
	case OidFamily:
		if v, ok := d.(int64); ok {
			switch {
			case from.Family() == OidFamily:
				return v, nil
			case from.Oid == OidInt8:
				if v < 0 || v > math.MaxUint32 {
					return nil, errIntOutOfRange(to)
				}
				return v, nil
			case from.Oid == OidInt4 || from.Oid == OidInt2:
				return int64(uint32(int32(v))), nil
			}
		}
	case ArrayFamily:
		if a, ok := d.(*Array); ok && from.Family() == ArrayFamily {
			fe := arrayElemType(from, a)
			te := arrayElemType(to, nil)
			out := &Array{Elem: te, Elems: make([]Datum, len(a.Elems))}
			for i, e := range a.Elems {
				r, err := Cast(e, fe, te)
				if err != nil {
					return nil, err
				}
				out.Elems[i] = r
			}
			return out, nil
		}
	}
	return nil, errCannotCast(from, to)
}

// castToString converts d to a text type with explicit-cast semantics.
func castToString(d Datum, from, to T) (Datum, error) {
	var s string
	switch v := d.(type) {
	case string:
		s = v
		switch {
		case from.Oid == OidBPChar && to.Oid != OidBPChar:
			s = bpcharTrim(v)
		case from.Oid == OidChar && to.Oid != OidChar:
			s = string(appendChar(nil, v))
		}
	case bool:
		if v {
			s = "true"
		} else {
			s = "false"
		}
	case int64:
		if to.Oid == OidChar && from.Oid == OidInt4 {
			if v < math.MinInt8 || v > math.MaxInt8 {
				return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "\"char\" out of range")
			}
			if v == 0 {
				return "", nil
			}
			return string([]byte{byte(int8(v))}), nil
		}
		s = string(AppendText(nil, from, d))
	default:
		s = string(AppendText(nil, from, d))
	}
	if to.Oid == OidUnknown {
		return s, nil
	}
	return applyStringTypmod(to, s, true)
}

// floatToInt is dtoi2/dtoi4/dtoi8: round half to even, then range check.
func floatToInt(f float64, to T) (Datum, error) {
	r := math.RoundToEven(f)
	var ok bool
	switch to.Oid {
	case OidInt2:
		ok = r >= math.MinInt16 && r < -math.MinInt16
	case OidInt4:
		ok = r >= math.MinInt32 && r < -math.MinInt32
	default:
		ok = r >= math.MinInt64 && r < -float64(math.MinInt64)
	}
	if !ok { // NaN fails every comparison
		return nil, errIntOutOfRange(to)
	}
	return int64(r), nil
}

// numericToFloatDatum converts a numeric to float4/float8.
func numericToFloatDatum(d *apd.Decimal, to T) (Datum, error) {
	f, err := numericToFloat(d, to)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// jsonbScalar is the jsonb to bool/numeric/int/float casts: the value must
// be a scalar of the right kind (22023 otherwise).
func jsonbScalar(j JSON, to T) (Datum, error) {
	v, err := parseJSONB(string(j))
	if err != nil {
		return nil, err
	}
	want := jNumber
	if to.Family() == BoolFamily {
		want = jBool
	}
	if v.kind != want {
		kind := map[jsonKind]string{jNull: "null", jString: "string", jNumber: "numeric",
			jBool: "boolean", jArray: "array", jObject: "object"}[v.kind]
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot cast jsonb %s to type %s", kind, FormatType(T{to.Oid, -1}))
	}
	if want == jBool {
		return v.b, nil
	}
	return Cast(v.num, Numeric, to)
}
