package types

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// DecodeKey decodes one AppendKey value from the front of b.
//
// It returns the datum (nil for NULL) and the rest of b. For types whose
// Compare-equal values share a key, the datum is the canonical member of
// its class (see the layout in key.go). Nothing returned aliases b except
// the rest. Records cannot be decoded (0A000). Malformed input is an error
// (XX001), never a panic.
func DecodeKey(b []byte, t T, desc bool) (Datum, []byte, error) {
	r := keyReader{b: b}
	if desc {
		r.mask = 0xff
	}
	switch r.byte() {
	case keyNull:
		if r.bad {
			return nil, b, errCorrupt("key")
		}
		return nil, r.b, nil
	case keyNotNull:
	default:
		return nil, b, errCorrupt("key")
	}
	d, err := r.body(t, 0)
	if err != nil {
		return nil, b, err
	}
	if r.bad {
		return nil, b, errCorrupt("key")
	}
	return d, r.b, nil
}

// keyReader reads key bytes, xoring each with mask (0xff when the value
// was encoded descending). A short or malformed read sets bad.
type keyReader struct {
	b    []byte
	mask byte
	bad  bool
}

func (r *keyReader) byte() byte {
	if len(r.b) == 0 {
		r.bad = true
		return 0
	}
	c := r.b[0] ^ r.mask
	r.b = r.b[1:]
	return c
}

func (r *keyReader) uint32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	if r.mask != 0 {
		v = ^v
	}
	return v
}

func (r *keyReader) uint64() uint64 {
	if len(r.b) < 8 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	if r.mask != 0 {
		v = ^v
	}
	return v
}

// escapedString reads an escaped string up to its terminator.
func (r *keyReader) escapedString() string {
	if r.mask == 0 {
		// Fast path: no escapes before the terminator.
		if i := bytes.IndexByte(r.b, 0); i >= 0 && i+1 < len(r.b) && r.b[i+1] == 0x01 {
			s := string(r.b[:i])
			r.b = r.b[i+2:]
			return s
		}
	}
	var tmp [64]byte
	return string(r.escaped(tmp[:0]))
}

// escaped reads an escaped byte string up to its terminator.
func (r *keyReader) escaped(buf []byte) []byte {
	for {
		if len(r.b) == 0 {
			r.bad = true
			return buf
		}
		c := r.b[0] ^ r.mask
		if c != 0 {
			buf = append(buf, c)
			r.b = r.b[1:]
			continue
		}
		if len(r.b) < 2 {
			r.bad = true
			r.b = nil
			return buf
		}
		switch r.b[1] ^ r.mask {
		case 0xff:
			buf = append(buf, 0)
			r.b = r.b[2:]
		case 0x01:
			r.b = r.b[2:]
			return buf
		default:
			r.bad = true
			r.b = nil
			return buf
		}
	}
}

// maxKeyDepth bounds nesting of arrays and jsonb in keys.
const maxKeyDepth = 1000

func (r *keyReader) body(t T, depth int) (Datum, error) {
	if depth > maxKeyDepth {
		return nil, errCorrupt("key")
	}
	switch t.Family() {
	case BoolFamily:
		switch r.byte() {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		r.bad = true
		return nil, nil
	case IntFamily:
		v := int64(r.uint64() ^ (1 << 63))
		lo, hi := intBounds(t)
		if v < lo || v > hi {
			r.bad = true
		}
		return v, nil
	case OidFamily:
		return int64(r.uint32()), nil
	case FloatFamily:
		return floatFromKeyBits(r.uint64()), nil
	case DecimalFamily:
		dscale := int64(-1)
		if _, scale, ok := numericTypmod(t.Mod); ok {
			dscale = int64(max(scale, 0))
		}
		return r.numeric(dscale), nil
	case StringFamily, UnknownFamily:
		s := r.escapedString()
		if t.Oid == OidBPChar {
			if n := stringLimit(t); n >= 0 {
				s, _ = applyStringTypmod(t, s, true)
			}
		}
		return s, nil
	case BytesFamily:
		return r.escaped([]byte{}), nil
	case DateFamily:
		return dateFromDays(int64(int32(r.uint32() ^ (1 << 31)))), nil
	case TimestampFamily, TimestampTZFamily:
		return timeFromMicros(int64(r.uint64() ^ (1 << 63))), nil
	case TimeFamily:
		us := int64(r.uint64() ^ (1 << 63))
		if us < 0 || us > usPerDay {
			r.bad = true
		}
		return time.Duration(us) * time.Microsecond, nil
	case IntervalFamily:
		hi := int64(r.uint64() ^ (1 << 63))
		lo := r.uint64()
		iv := intervalFromSpan(hi, lo)
		if h, l := intervalSpan(iv); h != hi || l != lo {
			r.bad = true // no Interval has this span
		}
		return iv, nil
	case UUIDFamily:
		var u uuid.UUID
		for i := range u {
			u[i] = r.byte()
		}
		return u, nil
	case JSONFamily:
		if t.Oid == OidJSON {
			return JSON(r.escapedString()), nil
		}
		out, ok := r.jsonb(nil, 0, true)
		if !ok {
			r.bad = true
			return nil, nil
		}
		return JSON(out), nil
	case ArrayFamily:
		et := arrayElemType(t, nil)
		arr := &Array{Elem: et}
		for !r.bad {
			switch r.byte() {
			case arrEnd:
				return arr, nil
			case arrNull:
				arr.Elems = append(arr.Elems, nil)
			case arrElem:
				e, err := r.body(et, depth+1)
				if err != nil {
					return nil, err
				}
				arr.Elems = append(arr.Elems, e)
			default:
				r.bad = true
			}
		}
		return nil, nil
	case RecordFamily:
		return nil, pgerror.Unsupported("records cannot be decoded from keys")
	}
	return nil, errCorrupt("key")
}

// numeric reads a numeric key body; dscale >= 0 forces the scale.
func (r *keyReader) numeric(dscale int64) *apd.Decimal {
	switch r.byte() {
	case numNaN:
		return numericNaN
	case numPosInf:
		return numericPosInf
	case numNegInf:
		return numericNegInf
	case numZero:
		return numericFromDigits(false, nil, 0, dscale)
	case numPos:
		return r.magnitude(false, dscale)
	case numNeg:
		r.mask ^= 0xff
		d := r.magnitude(true, dscale)
		r.mask ^= 0xff
		return d
	}
	r.bad = true
	return numericNaN
}

func (r *keyReader) magnitude(neg bool, dscale int64) *apd.Decimal {
	E := int64(int32(r.uint32() ^ (1 << 31)))
	var tmp [48]byte
	digits := tmp[:0]
	for {
		c := r.byte()
		if r.bad {
			return numericNaN
		}
		if c == 0 {
			break
		}
		if c > 100 {
			r.bad = true
			return numericNaN
		}
		p := c - 1
		digits = append(digits, '0'+p/10, '0'+p%10)
		if len(digits) > 2*(numericMaxIntDigits+numericMaxDscale) {
			r.bad = true
			return numericNaN
		}
	}
	if len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1] // padding of an odd count
	}
	if len(digits) == 0 || digits[0] == '0' || E > numericMaxIntDigits || E < -numericMaxDscale-1 {
		r.bad = true
		return numericNaN
	}
	return numericFromDigits(neg, digits, E, dscale)
}

// jsonb decodes a jsonb key body into its text; top is true for the
// outermost value (where a scalar is wrapped as a one-element array).
func (r *keyReader) jsonb(buf []byte, depth int, top bool) ([]byte, bool) {
	if depth > maxKeyDepth {
		return buf, false
	}
	switch r.byte() {
	case jbNull:
		return append(buf, "null"...), true
	case jbString:
		return appendJSONString(buf, r.escapedString()), !r.bad
	case jbNumber:
		d := r.numeric(-1)
		if r.bad || d.Form != apd.Finite {
			return buf, false // jsonb numbers are finite
		}
		return appendNumeric(buf, d), true
	case jbBool:
		switch r.byte() {
		case 0:
			return append(buf, "false"...), true
		case 1:
			return append(buf, "true"...), true
		}
		return buf, false
	case jbArray:
		n := r.uint32()
		raw := r.byte()
		if r.bad || n > uint32(len(r.b)) {
			return buf, false
		}
		if raw == 0 {
			if !top || n != 1 {
				return buf, false
			}
			return r.jsonb(buf, depth+1, false)
		}
		if raw != 1 {
			return buf, false
		}
		buf = append(buf, '[')
		for i := uint32(0); i < n; i++ {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			var ok bool
			if buf, ok = r.jsonb(buf, depth+1, false); !ok {
				return buf, false
			}
		}
		return append(buf, ']'), true
	case jbObject:
		n := r.uint32()
		if r.bad || n > uint32(len(r.b)) {
			return buf, false
		}
		buf = append(buf, '{')
		for i := uint32(0); i < n; i++ {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendJSONString(buf, r.escapedString())
			buf = append(buf, ": "...)
			var ok bool
			if buf, ok = r.jsonb(buf, depth+1, false); !ok {
				return buf, false
			}
		}
		return append(buf, '}'), !r.bad
	}
	return buf, false
}

// intervalFromSpan is the canonical interval of a 128-bit span: whole
// 30-day months, then days, then microseconds below a day, all with the
// span's sign (as justify_interval would make it).
func intervalFromSpan(hi int64, lo uint64) Interval {
	neg := hi < 0
	if neg {
		// negate the 128-bit value
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	// Spans made from an Interval stay below 2^74 µs, so the day count
	// fits in 64 bits; reducing hi first keeps Div64 from panicking on
	// corrupt input.
	days, rem := bits.Div64(uint64(hi)%usPerDay, lo, usPerDay)
	if days > math.MaxInt64/2 {
		days = 0 // corrupt; the caller's span check rejects it
	}
	// Greedy: as many 30-day months as fit, then days, the rest in µs;
	// this fits whenever the span came from an Interval.
	months := min(days/30, math.MaxInt32)
	days -= months * 30
	extra := uint64(0)
	if days > math.MaxInt32 {
		extra = days - math.MaxInt32
		days = math.MaxInt32
	}
	rem += extra * usPerDay
	iv := Interval{Months: int32(months), Days: int32(days), Micros: int64(rem)}
	if neg {
		iv = Interval{-iv.Months, -iv.Days, -iv.Micros}
	}
	return iv
}
