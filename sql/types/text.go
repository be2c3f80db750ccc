package types

import (
	"strconv"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// AppendText appends d's PostgreSQL text output (the type's output function;
// DateStyle ISO, TimeZone UTC, extra_float_digits 1) to buf. d is not nil.
//
// The output is chosen by d's Go representation; t selects among the
// variants of one representation (float4 or float8 digits, date, timestamp
// or timestamptz, "char", the element type of an array). A datum whose Go
// type belongs to no family is printed as "?" rather than panicking.
func AppendText(buf []byte, t T, d Datum) []byte {
	switch v := d.(type) {
	case bool:
		if v {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case int64:
		return strconv.AppendInt(buf, v, 10)
	case float64:
		if t.Oid == OidFloat4 {
			return appendFloat(buf, v, 32)
		}
		return appendFloat(buf, v, 64)
	case *apd.Decimal:
		return appendNumeric(buf, v)
	case string:
		if t.Oid == OidChar {
			return appendChar(buf, v)
		}
		return append(buf, v...)
	case []byte:
		return appendBytea(buf, v)
	case time.Time:
		switch t.Family() {
		case DateFamily:
			return appendDate(buf, v)
		case TimestampFamily:
			return appendTimestamp(buf, v, false)
		}
		return appendTimestamp(buf, v, true)
	case Interval:
		return appendInterval(buf, v)
	case uuid.UUID:
		return appendUUID(buf, v)
	case JSON:
		return append(buf, v...)
	case *Array:
		return AppendArrayText(buf, t, v)
	case time.Duration:
		return appendTimeOfDay(buf, int64(v/time.Microsecond))
	case []Datum:
		return appendRecordText(buf, v)
	}
	return append(buf, '?')
}

// appendRecordText is record_out. A record's field types are not carried
// by []Datum; each field prints by its Go representation (time.Time as
// timestamptz, int64 as bigint).
func appendRecordText(buf []byte, fields []Datum) []byte {
	buf = append(buf, '(')
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		if f == nil {
			continue
		}
		start := len(buf)
		buf = AppendText(buf, TypeOfDatum(f), f)
		el := buf[start:]
		need := len(el) == 0
		extra := 0
		for _, c := range el {
			switch {
			case c == '"' || c == '\\':
				need = true
				extra++
			case c == '(' || c == ')' || c == ',' || isSpace(c):
				need = true
			}
		}
		if !need {
			continue
		}
		n := len(el)
		for k := 0; k < extra+2; k++ {
			buf = append(buf, 0)
		}
		w := len(buf) - 1
		buf[w] = '"'
		w--
		for r := start + n - 1; r >= start; r-- {
			c := buf[r]
			buf[w] = c
			w--
			if c == '"' || c == '\\' {
				buf[w] = c // record_out doubles quotes and backslashes
				w--
			}
		}
		buf[w] = '"'
	}
	return append(buf, ')')
}

// TypeOfDatum returns the type a datum's Go representation defaults to:
// bigint, double precision, numeric, text, bytea, timestamptz, interval,
// uuid, jsonb, the array type of the array's element type, time, record;
// unknown for nil.
func TypeOfDatum(d Datum) T {
	switch v := d.(type) {
	case bool:
		return Bool
	case int64:
		return Int8
	case float64:
		return Float8
	case *apd.Decimal:
		return Numeric
	case string:
		return Text
	case []byte:
		return Bytea
	case time.Time:
		return TimestampTZ
	case Interval:
		return Interval_
	case uuid.UUID:
		return UUID
	case JSON:
		return JSONB
	case *Array:
		if at := ArrayOf(v.Elem); at.Oid != OidUnknown {
			return at
		}
		return TextArray
	case time.Duration:
		return Time
	case []Datum:
		return Record
	}
	return Unknown
}

// ParseText parses s with t's input function, applying t's typmod (varchar(n)
// length check, bpchar(n) padding, numeric(p,s) rounding). Errors are
// *pgerror.Error with PostgreSQL's code (22P02, 22003, 22001, 22007, ...).
//
// Input that depends on the clock or the catalog is refused rather than
// guessed: 'now'/'today' for dates (22007) and names for reg* types
// (0A000; numeric OIDs are accepted).
func ParseText(t T, s string) (Datum, error) {
	switch t.Family() {
	case BoolFamily:
		return parseBool(s)
	case IntFamily:
		v, err := parseInt(t, s)
		if err != nil {
			return nil, err
		}
		return v, nil
	case FloatFamily:
		v, err := parseFloat(t, s)
		if err != nil {
			return nil, err
		}
		return v, nil
	case DecimalFamily:
		d, err := parseNumeric(s)
		if err != nil {
			return nil, err
		}
		d, err = applyNumericTypmod(d, t.Mod)
		if err != nil {
			return nil, err
		}
		return d, nil
	case StringFamily:
		if err := checkUTF8(s); err != nil {
			return nil, err
		}
		if t.Oid == OidChar {
			return parseChar(s), nil
		}
		v, err := applyStringTypmod(t, s, false)
		if err != nil {
			return nil, err
		}
		return v, nil
	case BytesFamily:
		b, err := parseBytea(s)
		if err != nil {
			return nil, err
		}
		return b, nil
	case DateFamily:
		days, err := parseDateTime(dtDate, s)
		if err != nil {
			return nil, err
		}
		return dateFromDays(days), nil
	case TimestampFamily, TimestampTZFamily:
		kind := dtTimestamp
		if t.Oid == OidTimestampTZ {
			kind = dtTimestampTZ
		}
		us, err := parseDateTime(kind, s)
		if err != nil {
			return nil, err
		}
		return adjustTimestamp(timeFromMicros(us), t.Mod)
	case TimeFamily:
		us, err := parseDateTime(dtTime, s)
		if err != nil {
			return nil, err
		}
		return adjustTime(us, t.Mod), nil
	case IntervalFamily:
		iv, err := parseInterval(s)
		if err != nil {
			return nil, err
		}
		return applyIntervalTypmod(iv, t.Mod), nil
	case UUIDFamily:
		u, err := parseUUID(s)
		if err != nil {
			return nil, err
		}
		return u, nil
	case JSONFamily:
		if err := checkUTF8(s); err != nil {
			return nil, err
		}
		if t.Oid == OidJSON {
			if err := validateJSON(s); err != nil {
				return nil, err
			}
			return JSON(s), nil
		}
		j, err := normalizeJSONB(s)
		if err != nil {
			return nil, err
		}
		return j, nil
	case OidFamily:
		v, err := parseOid(s)
		if err != nil && t.Oid != OidOid {
			return nil, pgerror.Unsupported("%s input by name is not supported here; give the OID", t.Name())
		}
		if err != nil {
			return nil, err
		}
		return v, nil
	case ArrayFamily:
		if err := checkUTF8(s); err != nil {
			return nil, err
		}
		return parseArrayText(t, s)
	case RecordFamily:
		return nil, pgerror.Unsupported("input of anonymous composite types is not implemented")
	case VoidFamily:
		return nil, nil
	}
	if !t.Known() {
		return nil, pgerror.New(pgerror.CodeUndefinedObject, "type with OID %d does not exist", t.Oid)
	}
	if err := checkUTF8(s); err != nil {
		return nil, err
	}
	return s, nil // unknown
}

// parseBool is boolin: t, true, y, yes, on, 1 and f, false, n, no, off, 0,
// any unique prefix, any case, surrounding blanks allowed.
func parseBool(s string) (Datum, error) {
	p := trimSpace(s)
	if v, ok := boolWord(p); ok {
		return v, nil
	}
	return nil, errSyntax("boolean", s)
}

func boolWord(p string) (bool, bool) {
	n := len(p)
	if n == 0 || n > 5 {
		return false, false
	}
	prefix := func(word string) bool { return n <= len(word) && asciiEqualFold(p, word[:n]) }
	switch p[0] {
	case 't', 'T':
		return true, prefix("true")
	case 'f', 'F':
		return false, prefix("false")
	case 'y', 'Y':
		return true, prefix("yes")
	case 'n', 'N':
		return false, prefix("no")
	case 'o', 'O':
		if n >= 2 && prefix("on") {
			return true, true
		}
		if n >= 2 && prefix("off") {
			return false, true
		}
	case '1':
		return true, n == 1
	case '0':
		return false, n == 1
	}
	return false, false
}

// adjustTime applies a time typmod and makes the Duration.
func adjustTime(us int64, mod int32) time.Duration {
	if p := timePrecision(mod); p >= 0 && p < 6 {
		us = roundMicros(us, p)
	}
	return time.Duration(us) * time.Microsecond
}
