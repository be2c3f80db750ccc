package expr

import (
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// binFn computes a binary operator on two non-NULL datums of the operand
// types it was resolved for.
type binFn func(a, b types.Datum) (types.Datum, error)

// numRank orders the numeric types by implicit castability:
// int2 < int4 < int8 < numeric < float4 < float8. 0 for other types.
func numRank(t types.T) int {
	switch t.Oid {
	case types.OidInt2:
		return 1
	case types.OidInt4:
		return 2
	case types.OidInt8:
		return 3
	case types.OidNumeric:
		return 4
	case types.OidFloat4:
		return 5
	case types.OidFloat8:
		return 6
	}
	return 0
}

// arithType is the type both operands of + - * / % are converted to, as
// PostgreSQL's operator resolution picks it: the wider integer, numeric
// over integers, float4 only with float4, any other float mix float8.
func arithType(op string, lt, rt types.T) (types.T, bool) {
	a, b := numRank(lt), numRank(rt)
	if a == 0 || b == 0 {
		return types.T{}, false
	}
	hi := lt
	if b > a {
		hi = rt
	}
	if op == "^" {
		if a == 4 && b <= 4 || b == 4 && a <= 4 {
			return types.Numeric, true
		}
		return types.Float8, true
	}
	if op == "%" && numRank(hi) >= 5 {
		return types.T{}, false
	}
	switch {
	case lt.Oid == types.OidFloat4 && rt.Oid == types.OidFloat4:
		return types.Float4, true
	case numRank(hi) >= 5:
		return types.Float8, true
	}
	return types.T{Oid: hi.Oid, Mod: -1}, true
}

// arithFn returns the function computing op on two values of type t.
func arithFn(op string, t types.T) binFn {
	switch t.Family() {
	case types.IntFamily:
		return intArith(op, t.Oid)
	case types.FloatFamily:
		if t.Oid == types.OidFloat4 {
			return float4Arith(op)
		}
		return float8Arith(op)
	case types.DecimalFamily:
		return numArith(op)
	}
	return nil
}

func intArith(op string, oid types.Oid) binFn {
	lo, hi := intRange(oid)
	check := func(r int64) (types.Datum, error) {
		if r < lo || r > hi {
			return nil, errIntOutOfRange(oid)
		}
		return r, nil
	}
	switch op {
	case "+":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(int64), b.(int64)
			r := x + y
			if (x^r)&(y^r) < 0 {
				return nil, errIntOutOfRange(oid)
			}
			return check(r)
		}
	case "-":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(int64), b.(int64)
			r := x - y
			if (x^y)&(x^r) < 0 {
				return nil, errIntOutOfRange(oid)
			}
			return check(r)
		}
	case "*":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(int64), b.(int64)
			if mulOverflows(x, y) {
				return nil, errIntOutOfRange(oid)
			}
			return check(x * y)
		}
	case "/":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(int64), b.(int64)
			if y == 0 {
				return nil, errDivZero()
			}
			if y == -1 {
				if x == math.MinInt64 {
					return nil, errIntOutOfRange(oid)
				}
				return check(-x)
			}
			return x / y, nil
		}
	case "%":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(int64), b.(int64)
			if y == 0 {
				return nil, errDivZero()
			}
			if y == -1 {
				return int64(0), nil
			}
			return x % y, nil
		}
	case "&":
		return func(a, b types.Datum) (types.Datum, error) { return a.(int64) & b.(int64), nil }
	case "|":
		return func(a, b types.Datum) (types.Datum, error) { return a.(int64) | b.(int64), nil }
	case "#":
		return func(a, b types.Datum) (types.Datum, error) { return a.(int64) ^ b.(int64), nil }
	case "<<", ">>":
		bitsN := int64(intWidth(oid) * 8)
		left := op == "<<"
		return func(a, b types.Datum) (types.Datum, error) {
			x, n := a.(int64), b.(int64)&(bitsN-1) // C shifts modulo the width on x86
			var r int64
			if left {
				r = x << n
				switch bitsN {
				case 16:
					r = int64(int16(r))
				case 32:
					r = int64(int32(r))
				}
			} else {
				r = x >> n
			}
			return r, nil
		}
	}
	return nil
}

func mulOverflows(x, y int64) bool {
	if x == 0 || y == 0 {
		return false
	}
	hi, lo := bits.Mul64(uint64(absU(x)), uint64(absU(y)))
	neg := (x < 0) != (y < 0)
	if hi != 0 {
		return true
	}
	if neg {
		return lo > 1<<63
	}
	return lo > math.MaxInt64
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

func float8Arith(op string) binFn {
	switch op {
	case "+":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(float64), b.(float64)
			return checkFloat(x+y, x, y, false)
		}
	case "-":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(float64), b.(float64)
			return checkFloat(x-y, x, y, false)
		}
	case "*":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(float64), b.(float64)
			return checkFloat(x*y, x, y, true)
		}
	case "/":
		return func(a, b types.Datum) (types.Datum, error) {
			x, y := a.(float64), b.(float64)
			if y == 0 && !math.IsNaN(x) {
				return nil, errDivZero()
			}
			r := x / y
			if math.IsInf(r, 0) && !math.IsInf(x, 0) {
				return nil, errFloatOverflow()
			}
			if r == 0 && x != 0 && !math.IsInf(y, 0) {
				return nil, errFloatUnderflow()
			}
			return r, nil
		}
	case "^":
		return func(a, b types.Datum) (types.Datum, error) { return floatPow(a.(float64), b.(float64)) }
	}
	return nil
}

// checkFloat reports overflow (an infinite result from finite inputs) and,
// for products, underflow (zero from non-zero inputs).
func checkFloat(r, x, y float64, mul bool) (types.Datum, error) {
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return nil, errFloatOverflow()
	}
	if mul && r == 0 && x != 0 && y != 0 {
		return nil, errFloatUnderflow()
	}
	return r, nil
}

func float4Arith(op string) binFn {
	f8 := float8Arith(op)
	return func(a, b types.Datum) (types.Datum, error) {
		x, y := a.(float64), b.(float64)
		var r float32
		switch op {
		case "+":
			r = float32(x) + float32(y)
		case "-":
			r = float32(x) - float32(y)
		case "*":
			r = float32(x) * float32(y)
		case "/":
			if y == 0 && !math.IsNaN(x) {
				return nil, errDivZero()
			}
			r = float32(x) / float32(y)
		default:
			return f8(a, b)
		}
		return checkFloat(float64(r), x, y, op == "*" || op == "/")
	}
}

func floatPow(x, y float64) (types.Datum, error) {
	if x == 0 && y < 0 {
		return nil, pgerror.New("2201F", "zero raised to a negative power is undefined")
	}
	if x < 0 && y != math.Floor(y) && !math.IsInf(y, 0) {
		return nil, pgerror.New("2201F", "a negative number raised to a non-integer power yields a complex result")
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return nil, errFloatOverflow()
	}
	if r == 0 && x != 0 && !math.IsInf(y, 0) {
		return nil, errFloatUnderflow()
	}
	return r, nil
}

func numArith(op string) binFn {
	var f func(a, b *apd.Decimal) (*apd.Decimal, error)
	switch op {
	case "+":
		f = numAdd
	case "-":
		f = numSub
	case "*":
		f = numMul
	case "/":
		f = numDiv
	case "%":
		f = numMod
	case "^":
		f = numPow
	default:
		return nil
	}
	return func(a, b types.Datum) (types.Datum, error) {
		r, err := f(a.(*apd.Decimal), b.(*apd.Decimal))
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// unaryFn is a one-argument operator on a non-NULL datum.
type unaryFn func(a types.Datum) (types.Datum, error)

func negateFn(t types.T) unaryFn {
	switch t.Family() {
	case types.IntFamily:
		lo, _ := intRange(t.Oid)
		return func(a types.Datum) (types.Datum, error) {
			x := a.(int64)
			if x == lo {
				return nil, errIntOutOfRange(t.Oid)
			}
			return -x, nil
		}
	case types.FloatFamily:
		return func(a types.Datum) (types.Datum, error) { return -a.(float64), nil }
	case types.DecimalFamily:
		return func(a types.Datum) (types.Datum, error) {
			r := new(apd.Decimal)
			r.Neg(a.(*apd.Decimal))
			return fixExp(r), nil
		}
	case types.IntervalFamily:
		return func(a types.Datum) (types.Datum, error) {
			iv := a.(types.Interval)
			if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 || iv.Micros == math.MinInt64 {
				return nil, errIntervalRange()
			}
			return types.Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros}, nil
		}
	}
	return nil
}
