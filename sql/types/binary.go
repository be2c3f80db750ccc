package types

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// PostgreSQL binary send/receive formats (the typsend/typreceive
// functions), all big-endian: int2/int4/int8, float4/float8 as IEEE bits,
// numeric as base-10000 digits with weight, sign and dscale, text types as
// their bytes, "char" as one byte, date as int32 days and timestamps and
// time as int64 microseconds (since 2000-01-01, since midnight), interval
// as int64 µs + int32 days + int32 months, uuid as 16 bytes, jsonb as a
// version byte 1 and the text, arrays with their header, records as
// (count, then oid/length/bytes per field).

// AppendBinary appends d's PostgreSQL binary send format to buf. d is not nil.
//
// It fails (22003) for an integer that does not fit t (an int64 datum sent
// as int2 or int4) and (42804) for a datum whose Go type does not match t.
// An empty value appends nothing (buf stays nil if it was): callers frame
// values with their length, so empty and NULL stay distinct.
func AppendBinary(buf []byte, t T, d Datum) ([]byte, error) {
	switch v := d.(type) {
	case bool:
		if v {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case int64:
		switch t.Oid {
		case OidInt2:
			if v < math.MinInt16 || v > math.MaxInt16 {
				return buf, errIntOutOfRange(t)
			}
			return binary.BigEndian.AppendUint16(buf, uint16(v)), nil
		case OidInt4:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return buf, errIntOutOfRange(t)
			}
			return binary.BigEndian.AppendUint32(buf, uint32(v)), nil
		}
		if t.Family() == OidFamily {
			if v < 0 || v > math.MaxUint32 {
				return buf, errIntOutOfRange(t)
			}
			return binary.BigEndian.AppendUint32(buf, uint32(v)), nil
		}
		return binary.BigEndian.AppendUint64(buf, uint64(v)), nil
	case float64:
		if v != v {
			// PostgreSQL's NaN is the quiet NaN without payload.
			if t.Oid == OidFloat4 {
				return binary.BigEndian.AppendUint32(buf, 0x7fc00000), nil
			}
			return binary.BigEndian.AppendUint64(buf, 0x7ff8000000000000), nil
		}
		if t.Oid == OidFloat4 {
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(v))), nil
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(v)), nil
	case *apd.Decimal:
		return appendNumericBinary(buf, v), nil
	case string:
		if t.Oid == OidChar {
			if v == "" {
				return append(buf, 0), nil
			}
			return append(buf, v[0]), nil
		}
		return append(buf, v...), nil
	case []byte:
		return append(buf, v...), nil
	case time.Time:
		if t.Family() == DateFamily {
			return binary.BigEndian.AppendUint32(buf, uint32(int32(dateToDays(v)))), nil
		}
		return binary.BigEndian.AppendUint64(buf, uint64(timeToMicros(v))), nil
	case time.Duration:
		return binary.BigEndian.AppendUint64(buf, uint64(v/time.Microsecond)), nil
	case Interval:
		buf = binary.BigEndian.AppendUint64(buf, uint64(v.Micros))
		buf = binary.BigEndian.AppendUint32(buf, uint32(v.Days))
		return binary.BigEndian.AppendUint32(buf, uint32(v.Months)), nil
	case uuid.UUID:
		return append(buf, v[:]...), nil
	case JSON:
		if t.Oid == OidJSONB {
			buf = append(buf, 1)
		}
		return append(buf, v...), nil
	case *Array:
		return appendArrayBinary(buf, t, v)
	case []Datum:
		return appendRecordBinary(buf, v)
	}
	return buf, pgerror.New(pgerror.CodeDatatypeMismatch, "types: cannot send %T as %s", d, FormatType(t))
}

// appendNumericBinary is numeric_send.
func appendNumericBinary(buf []byte, d *apd.Decimal) []byte {
	header := func(ndigits, weight int, sign uint16, dscale int) []byte {
		buf = binary.BigEndian.AppendUint16(buf, uint16(ndigits))
		buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
		buf = binary.BigEndian.AppendUint16(buf, sign)
		return binary.BigEndian.AppendUint16(buf, uint16(dscale))
	}
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return header(0, 0, 0xC000, 0)
	case apd.Infinite:
		// numeric_send sends the infinities with dscale 32 (their header
		// bits); receivers ignore it.
		if d.Negative {
			return header(0, 0, 0xF000, 0x20)
		}
		return header(0, 0, 0xD000, 0x20)
	}
	dscale := 0
	if d.Exponent < 0 {
		dscale = int(-d.Exponent)
	}
	var tmp [48]byte
	D := d.Coeff.Append(tmp[:0], 10)
	if len(D) == 1 && D[0] == '0' {
		return header(0, 0, 0, dscale)
	}
	intDigits := len(D) + int(d.Exponent)
	lead := ((-intDigits)%4 + 4) % 4
	weight := (intDigits+lead)/4 - 1
	total := lead + len(D)
	ngroups := (total + 3) / 4
	// Trailing zero groups are not sent.
	digitAt := func(k int) uint16 {
		if k < lead || k >= lead+len(D) {
			return 0
		}
		return uint16(D[k-lead] - '0')
	}
	group := func(g int) uint16 {
		k := g * 4
		return digitAt(k)*1000 + digitAt(k+1)*100 + digitAt(k+2)*10 + digitAt(k+3)
	}
	for ngroups > 0 && group(ngroups-1) == 0 {
		ngroups--
	}
	sign := uint16(0)
	if d.Negative {
		sign = 0x4000
	}
	buf = header(ngroups, weight, sign, dscale)
	for g := 0; g < ngroups; g++ {
		buf = binary.BigEndian.AppendUint16(buf, group(g))
	}
	return buf
}

// appendArrayBinary is array_send for a one-dimensional array.
func appendArrayBinary(buf []byte, t T, a *Array) ([]byte, error) {
	et := arrayElemType(t, a)
	ndim, hasNull := uint32(0), uint32(0)
	if len(a.Elems) > 0 {
		ndim = 1
	}
	for _, e := range a.Elems {
		if e == nil {
			hasNull = 1
			break
		}
	}
	buf = binary.BigEndian.AppendUint32(buf, ndim)
	buf = binary.BigEndian.AppendUint32(buf, hasNull)
	buf = binary.BigEndian.AppendUint32(buf, et.Oid)
	if ndim == 1 {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(a.Elems)))
		buf = binary.BigEndian.AppendUint32(buf, 1)
	}
	for _, e := range a.Elems {
		if e == nil {
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
			continue
		}
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		var err error
		buf, err = AppendBinary(buf, et, e)
		if err != nil {
			return buf, err
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

// appendRecordBinary is record_send with field types inferred from the
// datums (see TypeOfDatum).
func appendRecordBinary(buf []byte, fields []Datum) ([]byte, error) {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(fields)))
	for _, f := range fields {
		ft := TypeOfDatum(f)
		if f == nil {
			buf = binary.BigEndian.AppendUint32(buf, OidUnknown)
			buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, ft.Oid)
		at := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		var err error
		buf, err = AppendBinary(buf, ft, f)
		if err != nil {
			return buf, err
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	}
	return buf, nil
}

// ParseBinary parses b in t's binary receive format, applying t's typmod as
// the receive functions do. b is not retained: bytea and text results are
// copies. Malformed input is 22P03.
func ParseBinary(t T, b []byte) (Datum, error) {
	fixed := func(n int) error {
		if len(b) != n {
			return errBinary(FormatType(t))
		}
		return nil
	}
	switch t.Family() {
	case BoolFamily:
		if err := fixed(1); err != nil {
			return nil, err
		}
		return b[0] != 0, nil
	case IntFamily:
		switch t.Oid {
		case OidInt2:
			if err := fixed(2); err != nil {
				return nil, err
			}
			return int64(int16(binary.BigEndian.Uint16(b))), nil
		case OidInt4:
			if err := fixed(4); err != nil {
				return nil, err
			}
			return int64(int32(binary.BigEndian.Uint32(b))), nil
		}
		if err := fixed(8); err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	case OidFamily:
		if err := fixed(4); err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint32(b)), nil
	case FloatFamily:
		if t.Oid == OidFloat4 {
			if err := fixed(4); err != nil {
				return nil, err
			}
			return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
		}
		if err := fixed(8); err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case DecimalFamily:
		d, err := parseNumericBinary(b)
		if err != nil {
			return nil, err
		}
		d, err = applyNumericTypmod(d, t.Mod)
		if err != nil {
			return nil, err
		}
		return d, nil
	case StringFamily, UnknownFamily:
		if t.Oid == OidChar {
			if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
				return "", nil
			}
			if err := fixed(1); err != nil {
				return nil, err
			}
			return string(b), nil
		}
		s := string(b)
		if err := checkUTF8(s); err != nil {
			return nil, err
		}
		if t.Oid == OidName && len(s) > nameMaxBytes {
			return nil, pgerror.New(pgerror.CodeNameTooLong, "identifier too long").
				WithDetail("Identifier must be less than 64 characters.")
		}
		v, err := applyStringTypmod(t, s, false)
		if err != nil {
			return nil, err
		}
		return v, nil
	case BytesFamily:
		return append([]byte{}, b...), nil
	case DateFamily:
		if err := fixed(4); err != nil {
			return nil, err
		}
		days := int64(int32(binary.BigEndian.Uint32(b)))
		if days != math.MaxInt32 && days != math.MinInt32 && (days < minDateDays || days >= endDateDays) {
			return nil, errDateRange()
		}
		return dateFromDays(days), nil
	case TimestampFamily, TimestampTZFamily:
		if err := fixed(8); err != nil {
			return nil, err
		}
		return adjustTimestamp(timeFromMicros(int64(binary.BigEndian.Uint64(b))), t.Mod)
	case TimeFamily:
		if err := fixed(8); err != nil {
			return nil, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us < 0 || us > usPerDay {
			return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "time out of range")
		}
		return adjustTime(us, t.Mod), nil
	case IntervalFamily:
		if err := fixed(16); err != nil {
			return nil, err
		}
		iv := Interval{
			Micros: int64(binary.BigEndian.Uint64(b)),
			Days:   int32(binary.BigEndian.Uint32(b[8:])),
			Months: int32(binary.BigEndian.Uint32(b[12:])),
		}
		return applyIntervalTypmod(iv, t.Mod), nil
	case UUIDFamily:
		if err := fixed(16); err != nil {
			return nil, err
		}
		return uuid.UUID(b), nil
	case JSONFamily:
		if t.Oid == OidJSONB {
			if len(b) == 0 || b[0] != 1 {
				v := -1
				if len(b) > 0 {
					v = int(b[0])
				}
				return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "unsupported jsonb version number %d", v)
			}
			b = b[1:]
		}
		return ParseText(t, string(b))
	case ArrayFamily:
		return parseArrayBinary(t, b)
	case RecordFamily:
		return nil, pgerror.Unsupported("input of anonymous composite types is not implemented")
	case VoidFamily:
		return nil, nil
	}
	return nil, pgerror.New(pgerror.CodeUndefinedObject, "type with OID %d does not exist", t.Oid)
}

// parseNumericBinary is numeric_recv (before the typmod).
func parseNumericBinary(b []byte) (*apd.Decimal, error) {
	if len(b) < 8 {
		return nil, errBinary("numeric")
	}
	ndigits := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if ndigits > 0x7fff || len(b) != 8+2*ndigits {
		return nil, errBinary("numeric")
	}
	switch sign {
	case 0, 0x4000:
	case 0xC000:
		return numericNaN, nil
	case 0xD000:
		return numericPosInf, nil
	case 0xF000:
		return numericNegInf, nil
	default:
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "invalid sign in external \"numeric\" value")
	}
	if dscale&0x3FFF != dscale {
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "invalid scale in external \"numeric\" value")
	}
	dig := make([]byte, 0, 4*ndigits)
	for i := 0; i < ndigits; i++ {
		g := binary.BigEndian.Uint16(b[8+2*i:])
		if g >= 10000 {
			return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "invalid digit in external \"numeric\" value")
		}
		dig = append(dig, byte('0'+g/1000), byte('0'+g/100%10), byte('0'+g/10%10), byte('0'+g%10))
	}
	// value = dig × 10^(4*(weight-ndigits+1)); keep dscale digits.
	exp := 4 * (weight - ndigits + 1)
	shift := exp + dscale
	if shift >= 0 {
		if len(dig)+shift > numericMaxIntDigits+numericMaxDscale+8 {
			return nil, errNumericOverflow()
		}
		for k := 0; k < shift; k++ {
			dig = append(dig, '0')
		}
	} else if -shift >= len(dig) {
		dig = dig[:0]
	} else {
		dig = dig[:len(dig)+shift]
	}
	k := 0
	for k < len(dig) && dig[k] == '0' {
		k++
	}
	dig = dig[k:]
	if len(dig)-dscale > numericMaxIntDigits {
		return nil, errNumericOverflow()
	}
	d := new(apd.Decimal)
	d.Exponent = int32(-dscale)
	if len(dig) > 0 {
		setCoeffDigits(&d.Coeff, dig)
		d.Negative = sign == 0x4000
	}
	return d, nil
}

// parseArrayBinary is array_recv for at most one dimension with lower
// bound 1.
func parseArrayBinary(t T, b []byte) (Datum, error) {
	et := arrayElemType(t, nil)
	bad := func() error { return errBinary(FormatType(t)) }
	if len(b) < 12 {
		return nil, bad()
	}
	ndim := int32(binary.BigEndian.Uint32(b))
	flags := binary.BigEndian.Uint32(b[4:])
	elemOid := binary.BigEndian.Uint32(b[8:])
	b = b[12:]
	switch {
	case ndim < 0 || ndim > 6:
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "invalid number of dimensions: %d", ndim)
	case ndim > 1:
		return nil, errMultiDim()
	}
	if flags != 0 && flags != 1 {
		return nil, pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "invalid array flags")
	}
	if elemOid != et.Oid {
		return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "binary data has array element type %d (%s) instead of expected %d (%s)",
			elemOid, T{elemOid, -1}.Name(), et.Oid, et.Name())
	}
	arr := &Array{Elem: et}
	if ndim == 0 {
		if len(b) != 0 {
			return nil, bad()
		}
		return arr, nil
	}
	if len(b) < 8 {
		return nil, bad()
	}
	n := int32(binary.BigEndian.Uint32(b))
	lbound := int32(binary.BigEndian.Uint32(b[4:]))
	b = b[8:]
	if n < 0 || int(n) > len(b)/4 {
		return nil, bad()
	}
	if lbound != 1 && n > 0 {
		return nil, pgerror.Unsupported("array lower bounds other than 1 are not supported")
	}
	arr.Elems = make([]Datum, 0, n)
	for i := int32(0); i < n; i++ {
		if len(b) < 4 {
			return nil, bad()
		}
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l == -1 {
			arr.Elems = append(arr.Elems, nil)
			continue
		}
		if l < 0 || int(l) > len(b) {
			return nil, bad()
		}
		d, err := ParseBinary(et, b[:l])
		if err != nil {
			return nil, err
		}
		arr.Elems = append(arr.Elems, d)
		b = b[l:]
	}
	if len(b) != 0 {
		return nil, bad()
	}
	return arr, nil
}
