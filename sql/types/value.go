package types

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// The value encoding stores a column of a row: compact, exact (it round
// trips every datum, numeric scale and interval fields included) and
// self-delimiting, but not ordered. A value starts with a tag byte:
//
//	00 NULL
//	01 a value follows (02 false and 03 true for bool, with nothing after)
//
// Bodies: integers and oids as zigzag/unsigned varints; float8 as 8
// bytes and float4 as 4 (IEEE bits, little-endian); numeric as one
// uvarint holding the zigzag exponent above four flag bits (infinite, NaN,
// negative, big coefficient), then the coefficient (a uvarint, or a
// length and big-endian bytes); strings,
// bytea and json as a uvarint length and the bytes; date as zigzag days;
// timestamps as zigzag µs since 2000-01-01; time as uvarint µs; interval
// as three zigzag varints (months, days, µs); uuid as 16 bytes; arrays as
// a uvarint count and one value per element; records as a uvarint count
// and, per field, the uvarint OID of its type and its value.

const (
	valNull  = 0x00
	valValue = 0x01
	valFalse = 0x02
	valTrue  = 0x03

	// numeric flags
	vnFinite   = 0x00
	vnInfinite = 0x01
	vnNaN      = 0x02
	vnNegative = 0x04
	vnBig      = 0x08
)

// AppendValue appends d (which may be nil) in a compact self-delimiting
// encoding for row values.
func AppendValue(buf []byte, t T, d Datum) []byte {
	switch v := d.(type) {
	case nil:
		return append(buf, valNull)
	case bool:
		if v {
			return append(buf, valTrue)
		}
		return append(buf, valFalse)
	case int64:
		buf = append(buf, valValue)
		if t.Family() == OidFamily {
			return binary.AppendUvarint(buf, uint64(v))
		}
		return binary.AppendVarint(buf, v)
	case float64:
		buf = append(buf, valValue)
		if t.Oid == OidFloat4 {
			return binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(v)))
		}
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
	case *apd.Decimal:
		return appendNumericValue(append(buf, valValue), v)
	case string:
		buf = append(buf, valValue)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		return append(buf, v...)
	case []byte:
		buf = append(buf, valValue)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		return append(buf, v...)
	case JSON:
		buf = append(buf, valValue)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		return append(buf, v...)
	case time.Time:
		buf = append(buf, valValue)
		if t.Family() == DateFamily {
			return binary.AppendVarint(buf, dateToDays(v))
		}
		return binary.AppendVarint(buf, timeToMicros(v))
	case time.Duration:
		buf = append(buf, valValue)
		return binary.AppendUvarint(buf, uint64(v/time.Microsecond))
	case Interval:
		buf = append(buf, valValue)
		buf = binary.AppendVarint(buf, int64(v.Months))
		buf = binary.AppendVarint(buf, int64(v.Days))
		return binary.AppendVarint(buf, v.Micros)
	case uuid.UUID:
		buf = append(buf, valValue)
		return append(buf, v[:]...)
	case *Array:
		buf = append(buf, valValue)
		buf = binary.AppendUvarint(buf, uint64(len(v.Elems)))
		et := arrayElemType(t, v)
		for _, e := range v.Elems {
			buf = AppendValue(buf, et, e)
		}
		return buf
	case []Datum:
		buf = append(buf, valValue)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		for _, e := range v {
			ft := TypeOfDatum(e)
			buf = binary.AppendUvarint(buf, uint64(ft.Oid))
			buf = AppendValue(buf, ft, e)
		}
		return buf
	}
	return append(buf, valNull)
}

func appendNumericValue(buf []byte, d *apd.Decimal) []byte {
	var flags uint64
	if d.Negative {
		flags |= vnNegative
	}
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(buf, vnNaN)
	case apd.Infinite:
		return append(buf, byte(vnInfinite|flags))
	}
	// One uvarint holds the zigzag exponent and the flags.
	zz := uint64(int64(d.Exponent)<<1) ^ uint64(int64(d.Exponent)>>63)
	if d.Coeff.IsUint64() {
		buf = binary.AppendUvarint(buf, zz<<4|flags)
		return binary.AppendUvarint(buf, d.Coeff.Uint64())
	}
	buf = binary.AppendUvarint(buf, zz<<4|flags|vnBig)
	mag := d.Coeff.Bytes()
	buf = binary.AppendUvarint(buf, uint64(len(mag)))
	return append(buf, mag...)
}

// valueReader reads value bodies; a short or malformed read sets bad.
type valueReader struct {
	b   []byte
	bad bool
}

func (r *valueReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *valueReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *valueReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *valueReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// DecodeValue decodes one AppendValue value from the front of b.
//
// It returns the datum (nil for NULL) and the rest of b. Nothing returned
// aliases b except the rest: b may be reused once the rest is consumed.
// Malformed input is an error (XX001), never a panic.
func DecodeValue(b []byte, t T) (Datum, []byte, error) {
	r := valueReader{b: b}
	d := r.value(t, 0)
	if r.bad {
		return nil, b, errCorrupt("value")
	}
	return d, r.b, nil
}

func (r *valueReader) value(t T, depth int) Datum {
	tag := r.byte()
	switch tag {
	case valNull:
		return nil
	case valFalse:
		return false
	case valTrue:
		return true
	case valValue:
	default:
		r.bad = true
		return nil
	}
	if depth > maxKeyDepth {
		r.bad = true
		return nil
	}
	switch t.Family() {
	case IntFamily:
		return r.varint()
	case OidFamily:
		return int64(r.uvarint())
	case FloatFamily:
		if t.Oid == OidFloat4 {
			b := r.bytes(4)
			if r.bad {
				return nil
			}
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		b := r.bytes(8)
		if r.bad {
			return nil
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	case DecimalFamily:
		return r.numeric()
	case StringFamily, UnknownFamily:
		return string(r.bytes(r.uvarint()))
	case BytesFamily:
		return append([]byte{}, r.bytes(r.uvarint())...)
	case JSONFamily:
		return JSON(r.bytes(r.uvarint()))
	case DateFamily:
		return dateFromDays(r.varint())
	case TimestampFamily, TimestampTZFamily:
		return timeFromMicros(r.varint())
	case TimeFamily:
		us := r.uvarint()
		if us > usPerDay {
			r.bad = true
		}
		return time.Duration(us) * time.Microsecond
	case IntervalFamily:
		m, d, us := r.varint(), r.varint(), r.varint()
		if m != int64(int32(m)) || d != int64(int32(d)) {
			r.bad = true
		}
		return Interval{Months: int32(m), Days: int32(d), Micros: us}
	case UUIDFamily:
		b := r.bytes(16)
		if r.bad {
			return nil
		}
		return uuid.UUID(b)
	case ArrayFamily:
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.bad = true
			return nil
		}
		et := arrayElemType(t, nil)
		arr := &Array{Elem: et, Elems: make([]Datum, 0, n)}
		for i := uint64(0); i < n && !r.bad; i++ {
			arr.Elems = append(arr.Elems, r.value(et, depth+1))
		}
		return arr
	case RecordFamily:
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.bad = true
			return nil
		}
		rec := make([]Datum, 0, n)
		for i := uint64(0); i < n && !r.bad; i++ {
			oid := r.uvarint()
			ft, ok := FromOid(Oid(oid))
			if !ok || oid > math.MaxUint32 {
				r.bad = true
				return nil
			}
			rec = append(rec, r.value(ft, depth+1))
		}
		return rec
	}
	r.bad = true
	return nil
}

func (r *valueReader) numeric() *apd.Decimal {
	h := r.uvarint()
	flags := h & 0x0f
	switch {
	case r.bad:
		return nil
	case flags == vnNaN && h == vnNaN:
		return numericNaN
	case flags&^vnNegative == vnInfinite && h>>4 == 0:
		if flags&vnNegative != 0 {
			return numericNegInf
		}
		return numericPosInf
	case flags&^(vnNegative|vnBig) != 0:
		r.bad = true
		return nil
	}
	zz := h >> 4
	exp := int64(zz>>1) ^ -int64(zz&1)
	if exp < -numericMaxDscale || exp > numericMaxIntDigits {
		r.bad = true
		return nil
	}
	d := &apd.Decimal{Exponent: int32(exp), Negative: flags&vnNegative != 0}
	if flags&vnBig != 0 {
		mag := r.bytes(r.uvarint())
		if r.bad {
			return nil
		}
		d.Coeff.SetBytes(mag)
	} else {
		d.Coeff.SetUint64(r.uvarint())
	}
	return d
}
