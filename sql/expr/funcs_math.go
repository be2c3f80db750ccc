package expr

import (
	"math"
	"math/rand/v2"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

var (
	float8  = types.Float8
	numeric = types.Numeric
)

// mathFuncs are the numeric functions. Integer, float8 and numeric
// overloads exist where PostgreSQL has them; resolution picks float8 for
// integer arguments of float-only functions (float8 is the preferred
// numeric type) and numeric for numeric ones.
var mathFuncs = map[string][]overload{
	"abs": {
		f1(types.Int2, types.Int2, absInt(types.OidInt2)),
		f1(int4, int4, absInt(types.OidInt4)),
		f1(int8, int8, absInt(types.OidInt8)),
		f1(types.Float4, types.Float4, absFloat),
		f1(float8, float8, absFloat),
		f1(numeric, numeric, absNum),
	},
	"round": {
		f1(float8, float8, floatFn(math.RoundToEven)),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) { return decResult(numQuantize(a.(*apd.Decimal), 0)) }),
		f2(numeric, numeric, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return decResult(numQuantize(a.(*apd.Decimal), clampRoundScale(b.(int64))))
		}),
	},
	"trunc": {
		f1(float8, float8, floatFn(math.Trunc)),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) { return decResult(numTrunc(a.(*apd.Decimal), 0)) }),
		f2(numeric, numeric, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return decResult(numTrunc(a.(*apd.Decimal), clampRoundScale(b.(int64))))
		}),
	},
	"ceil":    {f1(float8, float8, floatFn(math.Ceil)), f1(numeric, numeric, ceilNum)},
	"ceiling": {f1(float8, float8, floatFn(math.Ceil)), f1(numeric, numeric, ceilNum)},
	"floor": {f1(float8, float8, floatFn(math.Floor)), f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		return decResult(numCeilFloor(a.(*apd.Decimal), false))
	})},
	"sign": {
		f1(float8, float8, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			x := a.(float64)
			switch {
			case x > 0:
				return 1.0, nil
			case x < 0:
				return -1.0, nil
			}
			return 0.0, nil
		}),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			d := a.(*apd.Decimal)
			if d.Form == apd.NaN {
				return d, nil
			}
			return decFromInt(int64(d.Sign())), nil
		}),
	},
	"mod": {
		f2(types.Int2, types.Int2, types.Int2, binToFn(intArith("%", types.OidInt2))),
		f2(int4, int4, int4, binToFn(intArith("%", types.OidInt4))),
		f2(int8, int8, int8, binToFn(intArith("%", types.OidInt8))),
		f2(numeric, numeric, numeric, binToFn(numArith("%"))),
	},
	"div": {f2(numeric, numeric, numeric, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		x, y := a.(*apd.Decimal), b.(*apd.Decimal)
		if y.IsZero() {
			return nil, errDivZero()
		}
		q, err := numDivScaled(x, y, dscale(x)+dscale(y)+2)
		if err != nil {
			return nil, err
		}
		return decResult(numTrunc(q, 0))
	})},
	"power": {f2(float8, float8, float8, binToFn(float8Arith("^"))), f2(numeric, numeric, numeric, binToFn(numArith("^")))},
	"pow":   {f2(float8, float8, float8, binToFn(float8Arith("^"))), f2(numeric, numeric, numeric, binToFn(numArith("^")))},
	"sqrt": {f1(float8, float8, func(_ *Ctx, a types.Datum) (types.Datum, error) { return floatSqrt(a) }),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) { return decResult(numSqrt(a.(*apd.Decimal))) })},
	"cbrt": {f1(float8, float8, func(_ *Ctx, a types.Datum) (types.Datum, error) { return floatCbrt(a) })},
	"exp": {f1(float8, float8, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		x := a.(float64)
		r := math.Exp(x)
		if math.IsInf(r, 0) && !math.IsInf(x, 0) {
			return nil, errFloatOverflow()
		}
		if r == 0 && !math.IsInf(x, 0) {
			return nil, errFloatUnderflow()
		}
		return r, nil
	}), f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) { return decResult(numExp(a.(*apd.Decimal))) })},
	"ln": {f1(float8, float8, floatLog(math.Log)),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) { return decResult(numLn(a.(*apd.Decimal))) })},
	"log": {
		f1(float8, float8, floatLog(math.Log10)),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			return decResult(numLog(decFromInt(10), a.(*apd.Decimal)))
		}),
		f2(numeric, numeric, numeric, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return decResult(numLog(a.(*apd.Decimal), b.(*apd.Decimal)))
		}),
	},
	"log10": {f1(float8, float8, floatLog(math.Log10)),
		f1(numeric, numeric, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			return decResult(numLog(decFromInt(10), a.(*apd.Decimal)))
		})},
	"pi":           {f0(float8, func(*Ctx) (types.Datum, error) { return math.Pi, nil })},
	"degrees":      {f1(float8, float8, floatFn(func(x float64) float64 { return x * (180 / math.Pi) }))},
	"radians":      {f1(float8, float8, floatFn(func(x float64) float64 { return x * (math.Pi / 180) }))},
	"sin":          {f1(float8, float8, floatFn(math.Sin))},
	"cos":          {f1(float8, float8, floatFn(math.Cos))},
	"tan":          {f1(float8, float8, floatFn(math.Tan))},
	"asin":         {f1(float8, float8, floatFn(math.Asin))},
	"acos":         {f1(float8, float8, floatFn(math.Acos))},
	"atan":         {f1(float8, float8, floatFn(math.Atan))},
	"atan2":        {f2(float8, float8, float8, func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return math.Atan2(a.(float64), b.(float64)), nil })},
	"random":       {f0(float8, func(*Ctx) (types.Datum, error) { return rand.Float64(), nil }).vol_(volatile)},
	"gcd":          {f2(int4, int4, int4, gcdFn(types.OidInt4)), f2(int8, int8, int8, gcdFn(types.OidInt8))},
	"width_bucket": {fN(int4, ts(float8, float8, float8, int4), widthBucket)},
}

// binToFn adapts an operator body to a function body.
func binToFn(f binFn) fn2 {
	return func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return f(a, b) }
}

func decResult(d *apd.Decimal, err error) (types.Datum, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

func clampRoundScale(n int64) int32 {
	return int32(max(min(n, numMaxDisplayScale), -numMaxDisplayScale))
}

func ceilNum(_ *Ctx, a types.Datum) (types.Datum, error) {
	return decResult(numCeilFloor(a.(*apd.Decimal), true))
}

func floatFn(f func(float64) float64) fn1 {
	return func(_ *Ctx, a types.Datum) (types.Datum, error) { return f(a.(float64)), nil }
}

func floatLog(f func(float64) float64) fn1 {
	return func(_ *Ctx, a types.Datum) (types.Datum, error) {
		x := a.(float64)
		switch {
		case x == 0:
			return nil, errLogZero()
		case x < 0:
			return nil, errLogNegative()
		}
		return f(x), nil
	}
}

func floatSqrt(a types.Datum) (types.Datum, error) {
	x := a.(float64)
	if x < 0 {
		return nil, pgerror.New("2201F", "cannot take square root of a negative number")
	}
	return math.Sqrt(x), nil
}

func floatCbrt(a types.Datum) (types.Datum, error) { return math.Cbrt(a.(float64)), nil }

func absInt(oid types.Oid) fn1 {
	lo, _ := intRange(oid)
	return func(_ *Ctx, a types.Datum) (types.Datum, error) {
		x := a.(int64)
		if x == lo {
			return nil, errIntOutOfRange(oid)
		}
		if x < 0 {
			return -x, nil
		}
		return x, nil
	}
}

func absFloat(_ *Ctx, a types.Datum) (types.Datum, error) { return math.Abs(a.(float64)), nil }

func absNum(_ *Ctx, a types.Datum) (types.Datum, error) {
	r := new(apd.Decimal)
	r.Abs(a.(*apd.Decimal))
	return r, nil
}

// absFn is the @ operator.
func absFn(t types.T) unaryFn {
	var f fn1
	switch t.Family() {
	case types.IntFamily:
		f = absInt(t.Oid)
	case types.FloatFamily:
		f = absFloat
	case types.DecimalFamily:
		f = absNum
	default:
		return nil
	}
	return func(a types.Datum) (types.Datum, error) { return f(nil, a) }
}

func gcdFn(oid types.Oid) fn2 {
	return func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		x, y := a.(int64), b.(int64)
		for y != 0 {
			x, y = y, x%y
		}
		if x < 0 {
			if lo, _ := intRange(oid); x == lo {
				return nil, errIntOutOfRange(oid)
			}
			x = -x
		}
		return x, nil
	}
}

func widthBucket(_ *Ctx, a []types.Datum) (types.Datum, error) {
	x, lo, hi, n := a[0].(float64), a[1].(float64), a[2].(float64), a[3].(int64)
	if n <= 0 {
		return nil, pgerror.New("2201G", "count must be greater than zero")
	}
	if lo == hi {
		return nil, pgerror.New("2201G", "lower bound cannot equal upper bound")
	}
	if lo < hi {
		switch {
		case x < lo:
			return int64(0), nil
		case x >= hi:
			return n + 1, nil
		}
		return int64(float64(n)*(x-lo)/(hi-lo)) + 1, nil
	}
	switch {
	case x > lo:
		return int64(0), nil
	case x <= hi:
		return n + 1, nil
	}
	return int64(float64(n)*(lo-x)/(lo-hi)) + 1, nil
}
