package types

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
)

// The key encoding: comparing two encoded keys with bytes.Compare orders
// them as Compare orders the datums, and each encoded value ends itself, so
// the encodings of several columns can be concatenated into one index key.
//
// Layout (ascending; descending inverts every byte of the value, its
// NULL/non-NULL marker included, so NULL sorts last):
//
//	NULL         0x00
//	not NULL     0x01, then the body:
//	bool         0x00 / 0x01
//	int2/4/8     8 bytes big-endian with the sign bit flipped (one width
//	             for all three, so a key sorts the same whatever the
//	             declared width)
//	oid family   4 bytes big-endian
//	float4/8     8 bytes: the IEEE bits with the sign bit flipped (all bits
//	             flipped when negative); -0 as 0, every NaN as ff..ff
//	numeric      a class byte (01 -Inf, 02 negative, 03 zero, 04 positive,
//	             05 +Inf, 06 NaN); for nonzero finite values the decimal
//	             exponent E of 0.ddd×10^E as 4 bytes (sign flipped), then the
//	             significant digits in pairs, each pair as one byte 1..100,
//	             then 0x00; negative values have those bytes inverted
//	text family  the bytes with 0x00 escaped as 00 ff, then 00 01; bpchar
//	             without its trailing spaces
//	bytea        as text
//	date         4 bytes: int32 days since 2000-01-01, sign flipped
//	timestamp(tz) 8 bytes: int64 µs since 2000-01-01, sign flipped
//	time         8 bytes: µs since midnight, sign flipped
//	interval     16 bytes: the 128-bit span (a month = 30 days) in µs
//	uuid         the 16 bytes
//	json         as text; jsonb: the value encoding below
//	array        per element 02 + body or 03 for NULL, then 01
//
// jsonb values: 01 null, 02 string (as text), 03 number (numeric body),
// 04 bool (00/01), 05 array (4-byte count, 00 for a top-level scalar or
// 01 for a real array, elements), 06 object (4-byte count, then key (as
// text) and value per member in jsonb order). A top-level scalar is an
// array of one element marked 00, which puts it where PostgreSQL does:
// after the empty array and before every other array.
//
// Values that Compare holds equal get equal keys, so DecodeKey returns one
// member of the class: numeric without trailing fraction zeros (or with
// exactly the scale of a numeric(p,s) type), float -0 as 0, bpchar
// without trailing spaces (padded again to n for bpchar(n)), an interval
// justified to months of 30 days and days of 24 hours, jsonb numbers
// likewise canonical. The value encoding (AppendValue) is exact.

const (
	keyNull    = 0x00
	keyNotNull = 0x01

	numNegInf = 0x01
	numNeg    = 0x02
	numZero   = 0x03
	numPos    = 0x04
	numPosInf = 0x05
	numNaN    = 0x06

	arrElem = 0x02
	arrNull = 0x03
	arrEnd  = 0x01

	jbNull   = 0x01
	jbString = 0x02
	jbNumber = 0x03
	jbBool   = 0x04
	jbArray  = 0x05
	jbObject = 0x06
)

// AppendKey appends d (which may be nil) in an order-preserving encoding:
// comparing encoded keys bytewise orders them as Compare would, NULL first
// (last when desc). The encoding is self-delimiting.
//
// A jsonb datum that does not parse (one not made by this package) is
// encoded as its text.
func AppendKey(buf []byte, t T, d Datum, desc bool) []byte {
	start := len(buf)
	if d == nil {
		buf = append(buf, keyNull)
	} else {
		buf = append(buf, keyNotNull)
		buf = appendKeyBody(buf, t, d)
	}
	if desc {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

func appendKeyBody(buf []byte, t T, d Datum) []byte {
	switch v := d.(type) {
	case bool:
		if v {
			return append(buf, 1)
		}
		return append(buf, 0)
	case int64:
		if t.Family() == OidFamily {
			return binary.BigEndian.AppendUint32(buf, uint32(v))
		}
		return binary.BigEndian.AppendUint64(buf, uint64(v)^(1<<63))
	case float64:
		return binary.BigEndian.AppendUint64(buf, floatKeyBits(v))
	case *apd.Decimal:
		return appendNumericKey(buf, v)
	case string:
		if t.Oid == OidBPChar {
			v = bpcharTrim(v)
		}
		return appendEscaped(buf, v)
	case []byte:
		return appendEscapedBytes(buf, v)
	case time.Time:
		if t.Family() == DateFamily {
			return binary.BigEndian.AppendUint32(buf, uint32(int32(dateToDays(v)))^(1<<31))
		}
		return binary.BigEndian.AppendUint64(buf, uint64(timeToMicros(v))^(1<<63))
	case time.Duration:
		return binary.BigEndian.AppendUint64(buf, uint64(v/time.Microsecond)^(1<<63))
	case Interval:
		hi, lo := intervalSpan(v)
		buf = binary.BigEndian.AppendUint64(buf, uint64(hi)^(1<<63))
		return binary.BigEndian.AppendUint64(buf, lo)
	case uuid.UUID:
		return append(buf, v[:]...)
	case JSON:
		if t.Oid == OidJSONB {
			if k, err := appendJSONBKey(buf, string(v)); err == nil {
				return k
			}
		}
		return appendEscaped(buf, string(v))
	case *Array:
		et := arrayElemType(t, v)
		for _, e := range v.Elems {
			if e == nil {
				buf = append(buf, arrNull)
				continue
			}
			buf = append(buf, arrElem)
			buf = appendKeyBody(buf, et, e)
		}
		return append(buf, arrEnd)
	case []Datum:
		for _, e := range v {
			if e == nil {
				buf = append(buf, arrNull)
				continue
			}
			buf = append(buf, arrElem)
			buf = binary.BigEndian.AppendUint32(buf, TypeOfDatum(e).Oid)
			buf = appendKeyBody(buf, TypeOfDatum(e), e)
		}
		return append(buf, arrEnd)
	}
	return buf
}

// floatKeyBits maps a float to bits that order as compareFloat does.
func floatKeyBits(f float64) uint64 {
	if f != f {
		return math.MaxUint64
	}
	if f == 0 {
		f = 0 // -0 as 0
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		return ^b
	}
	return b | 1<<63
}

func floatFromKeyBits(b uint64) float64 {
	if b == math.MaxUint64 {
		return math.NaN()
	}
	if b&(1<<63) != 0 {
		return math.Float64frombits(b &^ (1 << 63))
	}
	return math.Float64frombits(^b)
}

// appendEscaped appends s with 0x00 escaped as 00 ff, then 00 01.
func appendEscaped(buf []byte, s string) []byte {
	for {
		i := indexByteString(s, 0)
		if i < 0 {
			buf = append(buf, s...)
			return append(buf, 0x00, 0x01)
		}
		buf = append(buf, s[:i]...)
		buf = append(buf, 0x00, 0xff)
		s = s[i+1:]
	}
}

func appendEscapedBytes(buf []byte, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, 0)
		if i < 0 {
			buf = append(buf, s...)
			return append(buf, 0x00, 0x01)
		}
		buf = append(buf, s[:i]...)
		buf = append(buf, 0x00, 0xff)
		s = s[i+1:]
	}
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// appendNumericKey appends the numeric key body.
func appendNumericKey(buf []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(buf, numNaN)
	case apd.Infinite:
		if d.Negative {
			return append(buf, numNegInf)
		}
		return append(buf, numPosInf)
	}
	var tmp [48]byte
	digits, E := numericDigits(tmp[:0], d)
	if len(digits) == 0 {
		return append(buf, numZero)
	}
	cls := byte(numPos)
	if d.Negative {
		cls = numNeg
	}
	buf = append(buf, cls)
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(int32(E))^(1<<31))
	for i := 0; i < len(digits); i += 2 {
		p := (digits[i] - '0') * 10
		if i+1 < len(digits) {
			p += digits[i+1] - '0'
		}
		buf = append(buf, p+1)
	}
	buf = append(buf, 0x00)
	if d.Negative {
		for i := start; i < len(buf); i++ {
			buf[i] = ^buf[i]
		}
	}
	return buf
}

// appendJSONBKey appends the key body of the jsonb text s.
func appendJSONBKey(buf []byte, s string) ([]byte, error) {
	v, err := parseJSONB(s)
	if err != nil {
		return buf, err
	}
	if v.kind != jArray && v.kind != jObject {
		buf = append(buf, jbArray, 0, 0, 0, 1, 0)
	}
	return appendJSONValueKey(buf, &v), nil
}

func appendJSONValueKey(buf []byte, v *jsonValue) []byte {
	switch v.kind {
	case jNull:
		return append(buf, jbNull)
	case jString:
		return appendEscaped(append(buf, jbString), v.str)
	case jNumber:
		return appendNumericKey(append(buf, jbNumber), v.num)
	case jBool:
		if v.b {
			return append(buf, jbBool, 1)
		}
		return append(buf, jbBool, 0)
	case jArray:
		buf = append(buf, jbArray)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v.elems)))
		buf = append(buf, 1)
		for i := range v.elems {
			buf = appendJSONValueKey(buf, &v.elems[i])
		}
		return buf
	}
	buf = append(buf, jbObject)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(v.pairs)))
	for i := range v.pairs {
		buf = appendEscaped(buf, v.pairs[i].key)
		buf = appendJSONValueKey(buf, &v.pairs[i].val)
	}
	return buf
}
