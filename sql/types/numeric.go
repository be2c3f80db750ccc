package types

import (
	"strconv"

	"github.com/cockroachdb/apd/v3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// numeric values are *apd.Decimal. A value made here is finite with
// Exponent == -dscale (never positive, trailing zeros of the scale kept, no
// negative zero), NaN, or ±Infinity. Values made elsewhere (arithmetic) may
// have a positive exponent; every function here accepts them and treats
// them as dscale 0.

// Limits of PostgreSQL's numeric storage format.
const (
	numericMaxIntDigits = 131072 // weight <= 32767 base-10000 digits
	numericMaxDscale    = 16383  // NUMERIC_DSCALE_MAX
	numericMaxPrecision = 1000   // NUMERIC_MAX_PRECISION
	numericMinScale     = -1000
	numericMaxScale     = 1000
)

var (
	numericNaN    = &apd.Decimal{Form: apd.NaN}
	numericPosInf = &apd.Decimal{Form: apd.Infinite}
	numericNegInf = &apd.Decimal{Form: apd.Infinite, Negative: true}
)

// parseNumeric is numeric_in.
func parseNumeric(s string) (*apd.Decimal, error) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	p := s[i:]
	if d, n := numericSpecial(p); n > 0 {
		if trimSpace(p[n:]) != "" {
			return nil, errSyntax("numeric", s)
		}
		return d, nil
	}
	neg := false
	i = 0
	if i < len(p) && (p[i] == '+' || p[i] == '-') {
		neg = p[i] == '-'
		i++
	}
	var dbuf [40]byte
	dig := dbuf[:0]
	haveDP := false
	frac := 0
	if i < len(p) && p[i] == '.' {
		haveDP = true
		i++
	}
	if i >= len(p) || p[i] < '0' || p[i] > '9' {
		return nil, errSyntax("numeric", s)
	}
	for i < len(p) {
		c := p[i]
		if c >= '0' && c <= '9' {
			if len(dig) > 0 || c != '0' {
				dig = append(dig, c)
			}
			if haveDP {
				frac++
			}
		} else if c == '.' {
			if haveDP {
				return nil, errSyntax("numeric", s)
			}
			haveDP = true
		} else {
			break
		}
		i++
	}
	var exp int64
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		eneg := false
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			eneg = p[i] == '-'
			i++
		}
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			return nil, errSyntax("numeric", s)
		}
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			if exp < 1<<40 {
				exp = exp*10 + int64(p[i]-'0')
			}
			i++
		}
		if exp >= 1<<30 {
			return nil, errNumericOverflow()
		}
		if eneg {
			exp = -exp
		}
	}
	if trimSpace(p[i:]) != "" {
		return nil, errSyntax("numeric", s)
	}
	return makeNumeric(neg, dig, int64(frac)-exp)
}

// numericSpecial recognizes NaN and the infinities at the start of p as
// numeric_in does, returning the value and the bytes consumed.
func numericSpecial(p string) (*apd.Decimal, int) {
	for _, w := range [...]struct {
		word string
		d    *apd.Decimal
	}{
		{"nan", numericNaN}, {"infinity", numericPosInf}, {"+infinity", numericPosInf},
		{"-infinity", numericNegInf}, {"inf", numericPosInf}, {"+inf", numericPosInf},
		{"-inf", numericNegInf},
	} {
		if len(p) >= len(w.word) && asciiEqualFold(p[:len(w.word)], w.word) {
			return w.d, len(w.word)
		}
	}
	return nil, 0
}

// asciiEqualFold compares ASCII case-insensitively; lower must be lower case.
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// makeNumeric builds the value ±dig × 10^-scale (dig: decimal digits
// without leading zeros), with dscale max(scale, 0), checking the storage
// limits.
func makeNumeric(neg bool, dig []byte, scale int64) (*apd.Decimal, error) {
	dscale := scale
	if dscale < 0 {
		dscale = 0
	}
	if dscale > numericMaxDscale {
		return nil, errNumericOverflow()
	}
	d := new(apd.Decimal)
	d.Exponent = int32(-dscale)
	if len(dig) == 0 {
		return d, nil
	}
	if int64(len(dig))-scale > numericMaxIntDigits {
		return nil, errNumericOverflow()
	}
	if scale < 0 {
		for k := int64(0); k < -scale; k++ {
			dig = append(dig, '0')
		}
	}
	setCoeffDigits(&d.Coeff, dig)
	d.Negative = neg
	return d, nil
}

// setCoeffDigits sets z to the decimal digits dig.
func setCoeffDigits(z *apd.BigInt, dig []byte) {
	if len(dig) <= 19 {
		var v uint64
		for _, c := range dig {
			v = v*10 + uint64(c-'0')
		}
		z.SetUint64(v)
		return
	}
	z.SetString(string(dig), 10)
}

// appendNumeric is numeric_out: plain notation with dscale digits after
// the point.
func appendNumeric(buf []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(buf, "NaN"...)
	case apd.Infinite:
		if d.Negative {
			return append(buf, "-Infinity"...)
		}
		return append(buf, "Infinity"...)
	}
	zero := d.Coeff.Sign() == 0
	if d.Negative && !zero {
		buf = append(buf, '-')
	}
	ds := len(buf)
	buf = d.Coeff.Append(buf, 10)
	e := int(d.Exponent)
	if e >= 0 {
		if !zero {
			for k := 0; k < e; k++ {
				buf = append(buf, '0')
			}
		}
		return buf
	}
	scale := -e
	n := len(buf) - ds
	if n > scale {
		buf = append(buf, 0)
		p := len(buf) - 1 - scale
		copy(buf[p+1:], buf[p:len(buf)-1])
		buf[p] = '.'
		return buf
	}
	// 0.000ddd: shift the digits right by k.
	k := 2 + scale - n
	for j := 0; j < k; j++ {
		buf = append(buf, '0')
	}
	copy(buf[ds+k:], buf[ds:ds+n])
	buf[ds] = '0'
	buf[ds+1] = '.'
	for j := ds + 2; j < ds+k; j++ {
		buf[j] = '0'
	}
	return buf
}

// numericString formats d.
func numericString(d *apd.Decimal) string {
	var tmp [32]byte
	return string(appendNumeric(tmp[:0], d))
}

// isFinite reports whether d is a finite number.
func isFinite(d *apd.Decimal) bool { return d.Form == apd.Finite }

var pow10Small = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// pow10 sets z to 10^n.
func pow10(z *apd.BigInt, n int64) *apd.BigInt {
	if n < int64(len(pow10Small)) {
		return z.SetUint64(pow10Small[n])
	}
	return z.Exp(apd.NewBigInt(10), apd.NewBigInt(n), nil)
}

// roundNumeric returns d rounded half away from zero to scale digits after
// the point (a negative scale rounds to tens, hundreds, ...); the result
// has dscale max(scale, 0). d is not modified.
func roundNumeric(d *apd.Decimal, scale int32) *apd.Decimal {
	if !isFinite(d) {
		return d
	}
	target := -scale
	final := target
	if final > 0 {
		final = 0
	}
	e := d.Exponent
	if e == final && e == target {
		return d
	}
	r := new(apd.Decimal)
	r.Negative = d.Negative
	var p apd.BigInt
	switch {
	case e > target:
		r.Coeff.Mul(&d.Coeff, pow10(&p, int64(e-target)))
	case e < target:
		var rem apd.BigInt
		pow10(&p, int64(target-e))
		r.Coeff.QuoRem(&d.Coeff, &p, &rem)
		rem.Add(&rem, &rem)
		if rem.Cmp(&p) >= 0 {
			r.Coeff.Add(&r.Coeff, apd.NewBigInt(1))
		}
	default:
		r.Coeff.Set(&d.Coeff)
	}
	if target > final {
		r.Coeff.Mul(&r.Coeff, pow10(&p, int64(target-final)))
	}
	r.Exponent = final
	if r.Coeff.Sign() == 0 {
		r.Negative = false
	}
	return r
}

// numericTypmod decodes numeric's typmod ((precision << 16) | (scale &
// 0x7ff)) + 4, scale being an 11-bit signed number.
func numericTypmod(mod int32) (prec, scale int32, ok bool) {
	if mod < 4 {
		return 0, 0, false
	}
	m := mod - 4
	return (m >> 16) & 0xffff, ((m & 0x7ff) ^ 1024) - 1024, true
}

// applyNumericTypmod is apply_typmod: round to the scale and fail with
// 22003 when the integer part does not fit the precision.
func applyNumericTypmod(d *apd.Decimal, mod int32) (*apd.Decimal, error) {
	prec, scale, ok := numericTypmod(mod)
	if !ok {
		return d, nil
	}
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return d, nil
	case apd.Infinite:
		return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "numeric field overflow").
			WithDetail("A field with precision %d, scale %d cannot hold an infinite value.", prec, scale)
	}
	r := roundNumeric(d, scale)
	if r.Coeff.Sign() != 0 {
		maxDigits := int64(prec - scale)
		if apd.NumDigits(&r.Coeff)+int64(r.Exponent) > maxDigits {
			e := pgerror.New(pgerror.CodeNumericValueOutOfRange, "numeric field overflow")
			if maxDigits == 0 {
				return nil, e.WithDetail("A field with precision %d, scale %d must round to an absolute value less than 1.", prec, scale)
			}
			return nil, e.WithDetail("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", prec, scale, maxDigits)
		}
	}
	return r, nil
}

// numericFromInt returns v as a numeric.
func numericFromInt(v int64) *apd.Decimal { return new(apd.Decimal).SetInt64(v) }

// numericToInt is numeric_int2/4/8: round half away from zero, then check
// t's range.
func numericToInt(d *apd.Decimal, t T) (int64, error) {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return 0, pgerror.New(pgerror.CodeFeatureNotSupported, "cannot convert NaN to %s", intTypeName(t))
	case apd.Infinite:
		return 0, pgerror.New(pgerror.CodeFeatureNotSupported, "cannot convert infinity to %s", intTypeName(t))
	}
	r := roundNumeric(d, 0)
	if !r.Coeff.IsUint64() || r.Coeff.Uint64() > 1<<63 {
		return 0, errIntOutOfRange(t)
	}
	u := r.Coeff.Uint64()
	var v int64
	if r.Negative {
		v = -int64(u) // -(1<<63) wraps to MinInt64 as wanted
	} else {
		if u > 1<<63-1 {
			return 0, errIntOutOfRange(t)
		}
		v = int64(u)
	}
	lo, hi := intBounds(t)
	if v < lo || v > hi {
		return 0, errIntOutOfRange(t)
	}
	return v, nil
}

// numericToFloat is numeric_float8/numeric_float4: the numeric's text read
// back with the float's input function.
func numericToFloat(d *apd.Decimal, t T) (float64, error) {
	var tmp [40]byte
	s := appendNumeric(tmp[:0], d)
	return parseFloat(t, string(s))
}

// numericFromFloat is float8_numeric/float4_numeric: the float printed
// with DBL_DIG (FLT_DIG) significant digits, read as numeric.
func numericFromFloat(f float64, t T) (*apd.Decimal, error) {
	switch {
	case f != f:
		return numericNaN, nil
	case f > 1.7976931348623157e308:
		return numericPosInf, nil
	case f < -1.7976931348623157e308:
		return numericNegInf, nil
	}
	digits := 15
	if t.Oid == OidFloat4 {
		digits = 6
	}
	var tmp [40]byte
	return parseNumeric(string(strconv.AppendFloat(tmp[:0], f, 'g', digits, 64)))
}

// numericDigits returns the significant decimal digits of finite d without
// leading or trailing zeros, and the exponent E with |d| = 0.digits × 10^E.
// digits is empty for zero. The digits are appended to buf.
func numericDigits(buf []byte, d *apd.Decimal) ([]byte, int64) {
	start := len(buf)
	buf = d.Coeff.Append(buf, 10)
	nd := len(buf) - start
	if nd == 1 && buf[start] == '0' {
		return buf[:start], 0
	}
	E := int64(nd) + int64(d.Exponent)
	for buf[len(buf)-1] == '0' {
		buf = buf[:len(buf)-1]
	}
	return buf, E
}

// numericFromDigits is the inverse of numericDigits: ±0.digits × 10^E with
// dscale max(0, len(digits)-E), or with exactly dscale digits when dscale
// >= 0.
func numericFromDigits(neg bool, digits []byte, E int64, dscale int64) *apd.Decimal {
	scale := int64(len(digits)) - E
	if scale < 0 {
		scale = 0
	}
	if dscale >= 0 {
		scale = dscale
	}
	d := new(apd.Decimal)
	d.Exponent = int32(-scale)
	if len(digits) == 0 {
		return d
	}
	// value = digits × 10^(E-len); exponent -scale.
	shift := E - int64(len(digits)) + scale
	var tmp [40]byte
	dig := append(tmp[:0], digits...)
	if shift >= 0 {
		for k := int64(0); k < shift; k++ {
			dig = append(dig, '0')
		}
	} else {
		keep := int64(len(dig)) + shift // truncation of hidden digits
		if keep <= 0 {
			return d
		}
		dig = dig[:keep]
	}
	setCoeffDigits(&d.Coeff, dig)
	d.Negative = neg && d.Coeff.Sign() != 0
	return d
}
