package types

import (
	"math"
	"strconv"
	"strings"
)

// Integer and floating-point text I/O, as int2in/int4in/int8in and
// float4in/float8in/float8out do it.

// isSpace is C's isspace in the C locale, which PostgreSQL's input
// functions use to skip blanks.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// trimSpace strips isSpace bytes from both ends of s.
func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// intTypeName is the name int input errors use.
func intTypeName(t T) string {
	switch t.Oid {
	case OidInt2:
		return "smallint"
	case OidInt4:
		return "integer"
	}
	return "bigint"
}

// intBounds returns the range of t's integers.
func intBounds(t T) (lo, hi int64) {
	switch t.Oid {
	case OidInt2:
		return math.MinInt16, math.MaxInt16
	case OidInt4:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// parseInt is pg_strtoint16/32/64 of PostgreSQL 15: optional blanks, an
// optional sign, at least one decimal digit, optional blanks.
func parseInt(t T, s string) (int64, error) {
	lo, hi := intBounds(t)
	p := trimSpace(s)
	neg := false
	if len(p) > 0 && (p[0] == '-' || p[0] == '+') {
		neg = p[0] == '-'
		p = p[1:]
	}
	if len(p) == 0 {
		return 0, errSyntax(intTypeName(t), s)
	}
	// Accumulate negatively so that the minimum value parses.
	var v int64
	overflow := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, errSyntax(intTypeName(t), s)
		}
		d := int64(c - '0')
		if v < (math.MinInt64+d)/10 {
			overflow = true
			continue
		}
		v = v*10 - d
	}
	if !neg {
		if v == math.MinInt64 {
			overflow = true
		}
		v = -v
	}
	if overflow || v < lo || v > hi {
		return 0, errValueOutOfRange(intTypeName(t), s)
	}
	return v, nil
}

// parseOid is oidin: an unsigned 32-bit number; negative values that fit
// in int32 wrap around as PostgreSQL allows.
func parseOid(s string) (int64, error) {
	p := trimSpace(s)
	if p == "" {
		return 0, errSyntax("oid", s)
	}
	v, err := strconv.ParseInt(p, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, errValueOutOfRange("oid", s)
		}
		return 0, errSyntax("oid", s)
	}
	if v < math.MinInt32 || v > math.MaxUint32 {
		return 0, errValueOutOfRange("oid", s)
	}
	if v < 0 {
		v += 1 << 32
	}
	return v, nil
}

// floatTypeName is the name float input errors use.
func floatTypeName(t T) string {
	if t.Oid == OidFloat4 {
		return "real"
	}
	return "double precision"
}

// parseFloat is float4in/float8in: strtod/strtof over the trimmed text,
// accepting NaN and the infinities, rejecting overflow and underflow to
// zero (denormals are kept).
func parseFloat(t T, s string) (float64, error) {
	bits := 64
	if t.Oid == OidFloat4 {
		bits = 32
	}
	p := trimSpace(s)
	if p == "" {
		return 0, errSyntax(floatTypeName(t), s)
	}
	if special, ok := parseFloatSpecial(p); ok {
		return special, nil
	}
	num := p
	if isHexFloat(p) && !strings.ContainsAny(p, "pP") {
		num = p + "p0" // strtod accepts hex without a binary exponent
	}
	for i := 0; i < len(num); i++ {
		// strconv also accepts underscores and words strtod does not.
		c := num[i]
		if c == '_' || c == 'i' || c == 'I' || c == 'n' || c == 'N' {
			return 0, errSyntax(floatTypeName(t), s)
		}
	}
	f, err := strconv.ParseFloat(num, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, errFloatOutOfRange(floatTypeName(t), s)
		}
		return 0, errSyntax(floatTypeName(t), s)
	}
	if f == 0 && hasNonZeroMantissa(p) {
		return 0, errFloatOutOfRange(floatTypeName(t), s)
	}
	return f, nil
}

// parseFloatSpecial recognizes the words float8in accepts.
func parseFloatSpecial(p string) (float64, bool) {
	if len(p) < 3 || len(p) > 9 {
		return 0, false
	}
	switch strings.ToLower(p) {
	case "nan":
		return math.NaN(), true
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), true
	case "-infinity", "-inf":
		return math.Inf(-1), true
	}
	return 0, false
}

func isHexFloat(p string) bool {
	if len(p) > 0 && (p[0] == '-' || p[0] == '+') {
		p = p[1:]
	}
	return len(p) > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')
}

// hasNonZeroMantissa reports whether the mantissa of a numeric literal
// has a nonzero digit, that is whether a zero result is an underflow.
func hasNonZeroMantissa(p string) bool {
	hex := isHexFloat(p)
	if hex {
		p = p[strings.IndexAny(p, "xX")+1:]
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= '1' && c <= '9':
			return true
		case hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')):
			return true
		case !hex && (c == 'e' || c == 'E'), hex && (c == 'p' || c == 'P'):
			return false
		}
	}
	return false
}

// appendFloat is float8out/float4out with extra_float_digits > 0: the
// shortest text that reads back to the same value, in fixed notation when
// the decimal exponent is in [-4, 15) ([-4, 6) for float4) and in
// exponential notation otherwise.
func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	var tmp [40]byte
	e := shortestE(tmp[:0], f, bits)
	// e is [-]d[.ddd]e±dd[d].
	mant := e
	neg := false
	if mant[0] == '-' {
		neg = true
		mant = mant[1:]
	}
	ei := 0
	for mant[ei] != 'e' {
		ei++
	}
	exp := 0
	for _, c := range mant[ei+2:] {
		exp = exp*10 + int(c-'0')
	}
	if mant[ei+1] == '-' {
		exp = -exp
	}
	limit := 15
	if bits == 32 {
		limit = 6
	}
	if exp < -4 || exp >= limit {
		return append(buf, e...)
	}
	// Collect the significant digits.
	var dig [20]byte
	nd := 0
	for _, c := range mant[:ei] {
		if c != '.' {
			dig[nd] = c
			nd++
		}
	}
	if neg {
		buf = append(buf, '-')
	}
	if exp < 0 {
		buf = append(buf, '0', '.')
		for i := 0; i < -exp-1; i++ {
			buf = append(buf, '0')
		}
		return append(buf, dig[:nd]...)
	}
	intDigits := exp + 1
	if nd <= intDigits {
		buf = append(buf, dig[:nd]...)
		for i := nd; i < intDigits; i++ {
			buf = append(buf, '0')
		}
		return buf
	}
	buf = append(buf, dig[:intDigits]...)
	buf = append(buf, '.')
	return append(buf, dig[intDigits:nd]...)
}

// toFloat4 rounds f to float4 precision, failing as float84 does on
// overflow and underflow.
func toFloat4(f float64) (float64, error) {
	r := float64(float32(f))
	if math.IsInf(r, 0) && !math.IsInf(f, 0) {
		return 0, errOverflow()
	}
	if r == 0 && f != 0 {
		return 0, errUnderflow()
	}
	return r, nil
}
