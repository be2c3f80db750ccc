package expr

import (
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Numeric arithmetic follows PostgreSQL's numeric.c: the display scale of a
// value is -Exponent (a Decimal never has a positive exponent once it leaves
// this file), sums keep the larger scale, products add scales, and
// quotients, roots, logarithms and powers choose a scale that gives at least
// 16 significant digits (select_div_scale and friends).

const (
	numMinSigDigits    = 16   // NUMERIC_MIN_SIG_DIGITS
	numMaxDisplayScale = 1000 // NUMERIC_MAX_DISPLAY_SCALE
)

// exactCtx does exact addition, subtraction and multiplication (precision 0
// disables rounding).
var exactCtx = apd.BaseContext

// roundCtx rounds half away from zero, as PostgreSQL's numeric does; its
// precision bounds Quantize.
var roundCtx = func() apd.Context {
	c := apd.BaseContext
	c.Precision = 4000
	c.Rounding = apd.RoundHalfUp
	return c
}()

func errNumericRange() error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value overflows numeric format")
}

func errDivZero() error {
	return pgerror.New(pgerror.CodeDivisionByZero, "division by zero")
}

// decFromInt returns i as a numeric of scale 0.
func decFromInt(i int64) *apd.Decimal { return apd.New(i, 0) }

// decFromFloat converts a float to numeric as float8_numeric does (15
// significant digits).
func decFromFloat(f float64) (*apd.Decimal, error) {
	if math.IsNaN(f) {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if math.IsInf(f, 0) {
		return &apd.Decimal{Form: apd.Infinite, Negative: f < 0}, nil
	}
	d, _, err := apd.NewFromString(strconv.FormatFloat(f, 'g', 15, 64))
	if err != nil {
		return nil, err
	}
	return fixExp(d), nil
}

// decToFloat converts d to float64 (numeric_float8).
func decToFloat(d *apd.Decimal) (float64, error) {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return math.NaN(), nil
	case apd.Infinite:
		if d.Negative {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	}
	f, err := d.Float64()
	if err != nil || math.IsInf(f, 0) {
		return 0, pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: overflow")
	}
	return f, nil
}

// fixExp makes d's exponent non-positive (scale 0 for integers) so that the
// exponent is minus the display scale. It modifies and returns d.
func fixExp(d *apd.Decimal) *apd.Decimal {
	if d.Form == apd.Finite && d.Exponent > 0 {
		var m apd.BigInt
		m.Exp(apd.NewBigInt(10), apd.NewBigInt(int64(d.Exponent)), nil)
		d.Coeff.Mul(&d.Coeff, &m)
		d.Exponent = 0
	}
	if d.Form == apd.Finite && d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	return d
}

// dscale returns d's display scale.
func dscale(d *apd.Decimal) int32 {
	if d.Exponent >= 0 {
		return 0
	}
	return -d.Exponent
}

// isSpecial reports whether d is NaN or infinite.
func isSpecial(d *apd.Decimal) bool { return d.Form != apd.Finite }

// numWeight returns the weight (power of 10000) of d's most significant
// base-10000 digit and that digit, as PostgreSQL's NumericVar holds them;
// (0, 0) for zero.
func numWeight(d *apd.Decimal) (weight int, first int) {
	if d.IsZero() || isSpecial(d) {
		return 0, 0
	}
	s := d.Coeff.String()
	// The most significant decimal digit has exponent p.
	p := len(s) - 1 + int(d.Exponent)
	w := floorDiv(p, 4)
	n := p - 4*w + 1 // decimal digits in the first base-10000 digit (1..4)
	for i := 0; i < n; i++ {
		first *= 10
		if i < len(s) {
			first += int(s[i] - '0')
		}
	}
	return w, first
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func clampScale(s int) int32 {
	if s < 0 {
		s = 0
	}
	if s > numMaxDisplayScale {
		s = numMaxDisplayScale
	}
	return int32(s)
}

// numQuantize rounds d (half away from zero) to scale digits after the
// point. scale may be negative (round(x, -2)); the result then has scale 0.
func numQuantize(d *apd.Decimal, scale int32) (*apd.Decimal, error) {
	if isSpecial(d) {
		return d, nil
	}
	r := new(apd.Decimal)
	if _, err := roundCtx.Quantize(r, d, -scale); err != nil {
		return nil, errNumericRange()
	}
	return fixExp(r), nil
}

func numAdd(a, b *apd.Decimal) (*apd.Decimal, error) {
	r := new(apd.Decimal)
	if _, err := exactCtx.Add(r, a, b); err != nil {
		return specialResult(a, b, r, err)
	}
	return fixExp(r), nil
}

func numSub(a, b *apd.Decimal) (*apd.Decimal, error) {
	r := new(apd.Decimal)
	if _, err := exactCtx.Sub(r, a, b); err != nil {
		return specialResult(a, b, r, err)
	}
	return fixExp(r), nil
}

func numMul(a, b *apd.Decimal) (*apd.Decimal, error) {
	r := new(apd.Decimal)
	if _, err := exactCtx.Mul(r, a, b); err != nil {
		return specialResult(a, b, r, err)
	}
	return fixExp(r), nil
}

// specialResult maps apd's invalid operations on NaN and infinities to
// PostgreSQL's NaN result; other failures are overflow.
func specialResult(a, b, r *apd.Decimal, err error) (*apd.Decimal, error) {
	if isSpecial(a) || isSpecial(b) {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	return nil, errNumericRange()
}

// divScale is PostgreSQL's select_div_scale.
func divScale(a, b *apd.Decimal) int32 {
	w1, f1 := numWeight(a)
	w2, f2 := numWeight(b)
	qw := w1 - w2
	if f1 <= f2 {
		qw--
	}
	s := numMinSigDigits - qw*4
	s = max(s, int(dscale(a)), int(dscale(b)))
	return clampScale(s)
}

// numDivScaled divides a by b and rounds the quotient to scale digits.
func numDivScaled(a, b *apd.Decimal, scale int32) (*apd.Decimal, error) {
	if isSpecial(a) || isSpecial(b) {
		return numDivSpecial(a, b)
	}
	if b.IsZero() {
		return nil, errDivZero()
	}
	if a.IsZero() {
		return numQuantize(decFromInt(0), scale)
	}
	// Integer digits of the quotient, at most one more than this.
	intDigits := (a.NumDigits() + int64(a.Exponent)) - (b.NumDigits() + int64(b.Exponent)) + 1
	prec := intDigits + int64(scale) + 5
	if prec < 5 {
		prec = 5
	}
	c := apd.BaseContext
	c.Precision = uint32(prec)
	c.Rounding = apd.RoundDown
	q := new(apd.Decimal)
	if _, err := c.Quo(q, a, b); err != nil {
		return nil, errNumericRange()
	}
	return numQuantize(q, scale)
}

func numDivSpecial(a, b *apd.Decimal) (*apd.Decimal, error) {
	if a.Form == apd.NaN || b.Form == apd.NaN {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if a.Form == apd.Infinite {
		if b.Form == apd.Infinite {
			return &apd.Decimal{Form: apd.NaN}, nil
		}
		if b.IsZero() {
			return nil, errDivZero()
		}
		return &apd.Decimal{Form: apd.Infinite, Negative: a.Negative != b.Negative}, nil
	}
	// finite / infinity
	return decFromInt(0), nil
}

// numDiv is numeric division with PostgreSQL's result scale.
func numDiv(a, b *apd.Decimal) (*apd.Decimal, error) {
	if isSpecial(a) || isSpecial(b) {
		return numDivSpecial(a, b)
	}
	return numDivScaled(a, b, divScale(a, b))
}

// numMod is numeric remainder; the sign follows the dividend.
func numMod(a, b *apd.Decimal) (*apd.Decimal, error) {
	if isSpecial(a) || isSpecial(b) {
		if a.Form == apd.Finite && b.Form == apd.Infinite {
			return a, nil
		}
		if b.Form == apd.Finite && b.IsZero() {
			return nil, errDivZero()
		}
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if b.IsZero() {
		return nil, errDivZero()
	}
	c := apd.BaseContext
	c.Precision = uint32(max(a.NumDigits(), b.NumDigits()) + int64(max(dscale(a), dscale(b))) + 10)
	r := new(apd.Decimal)
	if _, err := c.Rem(r, a, b); err != nil {
		return nil, errNumericRange()
	}
	return fixExp(r), nil
}

// numTrunc truncates d toward zero at scale digits.
func numTrunc(d *apd.Decimal, scale int32) (*apd.Decimal, error) {
	if isSpecial(d) {
		return d, nil
	}
	c := roundCtx
	c.Rounding = apd.RoundDown
	r := new(apd.Decimal)
	if _, err := c.Quantize(r, d, -scale); err != nil {
		return nil, errNumericRange()
	}
	return fixExp(r), nil
}

// numCeilFloor returns ceil (or floor) of d with scale 0.
func numCeilFloor(d *apd.Decimal, ceil bool) (*apd.Decimal, error) {
	if isSpecial(d) {
		return d, nil
	}
	c := roundCtx
	if ceil {
		c.Rounding = apd.RoundCeiling
	} else {
		c.Rounding = apd.RoundFloor
	}
	r := new(apd.Decimal)
	if _, err := c.Quantize(r, d, 0); err != nil {
		return nil, errNumericRange()
	}
	return fixExp(r), nil
}

// numWithPrecision evaluates f with a context precise enough for scale
// digits after the point of a result near 10^weight, then rounds to scale.
func numWithPrecision(weight int, scale int32, f func(c *apd.Context, r *apd.Decimal) error) (*apd.Decimal, error) {
	p := weight + 1 + int(scale) + 8
	if p < 16 {
		p = 16
	}
	c := apd.BaseContext
	c.Precision = uint32(p)
	c.Rounding = apd.RoundHalfEven
	r := new(apd.Decimal)
	if err := f(&c, r); err != nil {
		return nil, err
	}
	return numQuantize(r, scale)
}

// numSqrt is sqrt(numeric) with numeric_sqrt's result scale.
func numSqrt(d *apd.Decimal) (*apd.Decimal, error) {
	if d.Sign() < 0 {
		return nil, pgerror.New("2201F", "cannot take square root of a negative number")
	}
	if isSpecial(d) {
		return d, nil
	}
	w, _ := numWeight(d)
	sweight := w*4/2 + 1
	scale := clampScale(max(numMinSigDigits-sweight, int(dscale(d))))
	return numWithPrecision(sweight, scale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Sqrt(r, d)
		return err
	})
}

// lnDweight is estimate_ln_dweight: the decimal weight of ln(d).
func lnDweight(d *apd.Decimal) int {
	if d.Sign() <= 0 || isSpecial(d) {
		return 0
	}
	f, _ := d.Float64()
	if f >= 0.9 && f <= 1.1 {
		x := new(apd.Decimal)
		exactCtx.Sub(x, d, decFromInt(1))
		if x.IsZero() {
			return 0
		}
		return int(x.NumDigits()) - 1 + int(x.Exponent)
	}
	return int(math.Log10(math.Abs(math.Log(f))))
}

func errLogZero() error {
	return pgerror.New("2201E", "cannot take logarithm of zero")
}

func errLogNegative() error {
	return pgerror.New("2201E", "cannot take logarithm of a negative number")
}

// numLn is ln(numeric).
func numLn(d *apd.Decimal) (*apd.Decimal, error) {
	switch {
	case d.IsZero():
		return nil, errLogZero()
	case d.Sign() < 0:
		return nil, errLogNegative()
	case isSpecial(d):
		return d, nil
	}
	dw := lnDweight(d)
	scale := clampScale(max(numMinSigDigits-dw, int(dscale(d))))
	return numWithPrecision(dw, scale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Ln(r, d)
		return err
	})
}

// numLog is log(base, x) for numerics.
func numLog(base, x *apd.Decimal) (*apd.Decimal, error) {
	for _, d := range []*apd.Decimal{base, x} {
		if d.IsZero() {
			return nil, errLogZero()
		}
		if d.Sign() < 0 {
			return nil, errLogNegative()
		}
	}
	if isSpecial(base) || isSpecial(x) {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	if base.Cmp(decFromInt(1)) == 0 {
		return nil, errDivZero()
	}
	dw := lnDweight(x) - lnDweight(base)
	scale := clampScale(max(numMinSigDigits-dw, int(dscale(base)), int(dscale(x))))
	return numWithPrecision(max(dw, 0)+20, scale, func(c *apd.Context, r *apd.Decimal) error {
		var lb, lx apd.Decimal
		if _, err := c.Ln(&lb, base); err != nil {
			return err
		}
		if _, err := c.Ln(&lx, x); err != nil {
			return err
		}
		_, err := c.Quo(r, &lx, &lb)
		return err
	})
}

// numExp is exp(numeric).
func numExp(d *apd.Decimal) (*apd.Decimal, error) {
	if isSpecial(d) {
		if d.Form == apd.Infinite && d.Negative {
			return decFromInt(0), nil
		}
		return d, nil
	}
	f, _ := d.Float64()
	val := f * 0.434294481903252
	val = math.Max(-2000, math.Min(2000, val))
	scale := clampScale(max(numMinSigDigits-int(val), int(dscale(d))))
	return numWithPrecision(max(int(val), 0), scale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Exp(r, d)
		if err != nil {
			return errNumericRange()
		}
		return nil
	})
}

// numPow is numeric ^ numeric (power_var).
func numPow(base, exp *apd.Decimal) (*apd.Decimal, error) {
	if isSpecial(base) || isSpecial(exp) {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	isInt := exp.Exponent >= 0
	if !isInt {
		var frac apd.Decimal
		numTruncInto(&frac, exp)
		isInt = frac.Cmp(exp) == 0
	}
	if base.IsZero() && exp.Sign() < 0 {
		return nil, pgerror.New("2201F", "zero raised to a negative power is undefined")
	}
	if base.Sign() < 0 && !isInt {
		return nil, pgerror.New("2201F", "a negative number raised to a non-integer power yields a complex result")
	}
	bf, _ := base.Float64()
	ef, _ := exp.Float64()
	est := 0.0
	if !base.IsZero() {
		est = ef * math.Log10(math.Abs(bf))
	}
	if est > 131072 {
		return nil, errNumericRange()
	}
	var scale int32
	if isInt && math.Abs(ef) <= math.MaxInt32 {
		scale = clampScale(max(numMinSigDigits, int(dscale(base))))
	} else {
		est = math.Max(-2000, math.Min(2000, est))
		scale = clampScale(max(numMinSigDigits-int(est), int(dscale(base)), int(dscale(exp))))
	}
	return numWithPrecision(max(int(est), 0)+2, scale, func(c *apd.Context, r *apd.Decimal) error {
		_, err := c.Pow(r, base, exp)
		if err != nil {
			return errNumericRange()
		}
		return nil
	})
}

func numTruncInto(r, d *apd.Decimal) {
	c := roundCtx
	c.Rounding = apd.RoundDown
	c.Quantize(r, d, 0)
}

// numText formats d as numeric output does.
func numText(d *apd.Decimal) string {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return "NaN"
	case apd.Infinite:
		if d.Negative {
			return "-Infinity"
		}
		return "Infinity"
	}
	return d.Text('f')
}
