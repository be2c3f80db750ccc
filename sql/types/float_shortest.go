package types

import (
	"math"
	"math/big"
	"strconv"
)

// PostgreSQL prints floats with Ryu's shortest round-trip digits, but
// with the rounding interval's bounds excluded: a decimal lying exactly
// halfway between two floats is never chosen, even though reading it back
// (ties to even) would give the right float. strconv includes the bound
// when the mantissa is even, so for those rare values it prints one digit
// fewer than PostgreSQL: 745315968 as float4 is 7.45316e+08 to strconv and
// 7.4531597e+08 to PostgreSQL. shortestE corrects that.
//
// A halfway decimal of at most 17 (float4: 9) digits only exists when the
// float's binary exponent is small in magnitude, so all other floats skip
// the check; for the rest a cheap test (nudging the candidate up and down
// by a tiny amount and reading it back) rules out nearly all, and only the
// remaining ones are compared exactly.

// shortestE appends |f| (finite, nonzero) in strconv's 'e' format with the
// shortest digits PostgreSQL would print.
func shortestE(buf []byte, f float64, bits int) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'e', -1, bits)
	if !mayBeHalfway(f, bits) {
		return buf
	}
	ds, X := splitE(buf[start:])
	if !nudgeChanges(ds, X, f, bits) {
		return buf
	}
	lo, hi := roundingInterval(f, bits)
	if d := decimalRat(ds, X); d.Cmp(lo) != 0 && d.Cmp(hi) != 0 {
		return buf
	}
	return appendStrictShortest(buf[:start], f, bits, len(ds), lo, hi)
}

// mayBeHalfway reports whether f's binary exponent allows a short decimal
// to sit exactly halfway between f and a neighbor (with margin).
func mayBeHalfway(f float64, bits int) bool {
	if bits == 32 {
		e := int(math.Float32bits(float32(f))>>23&0xff) - 150
		return e >= -12 && e <= 50
	}
	e := int(math.Float64bits(f)>>52&0x7ff) - 1075
	return e >= -20 && e <= 90
}

// splitE returns the digits and the decimal exponent of an 'e' format
// number ("-7.45316e+08" gives "745316", 8), the sign dropped.
func splitE(e []byte) ([]byte, int) {
	if e[0] == '-' {
		e = e[1:]
	}
	var ds []byte
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			ds = append(ds, e[i])
		}
	}
	X, _ := strconv.Atoi(string(e[i+1:]))
	return ds, X
}

// nudgeChanges reports whether the decimal ds×10^(X-len+1), moved up or
// down by one unit seven digits further, reads back as another float:
// whether it is within that distance of a bound of f's interval.
func nudgeChanges(ds []byte, X int, f float64, bits int) bool {
	exp := "e" + strconv.Itoa(X-(len(ds)-1)-7)
	up := string(ds) + "0000001" + exp
	down := []byte(string(ds))
	for i := len(down) - 1; i >= 0; i-- { // ds - 1 (ds > 0)
		if down[i] != '0' {
			down[i]--
			break
		}
		down[i] = '9'
	}
	dn := string(down) + "9999999" + exp
	a, err1 := strconv.ParseFloat(up, bits)
	b, err2 := strconv.ParseFloat(dn, bits)
	af := math.Abs(f)
	return err1 != nil || err2 != nil || a != af || b != af
}

// roundingInterval returns the bounds of the decimals that read back as
// |f|: halfway to each neighbor.
func roundingInterval(f float64, bits int) (lo, hi *big.Rat) {
	af := math.Abs(f)
	var prev, next float64
	if bits == 32 {
		prev = float64(math.Nextafter32(float32(af), 0))
		next = float64(math.Nextafter32(float32(af), float32(math.Inf(1))))
	} else {
		prev = math.Nextafter(af, 0)
		next = math.Nextafter(af, math.Inf(1))
	}
	fr := new(big.Rat).SetFloat64(af)
	if math.IsInf(next, 0) || (bits == 32 && next > math.MaxFloat32) {
		next = af + (af - prev)
	}
	two := big.NewRat(2, 1)
	lo = new(big.Rat).Add(fr, new(big.Rat).SetFloat64(prev))
	lo.Quo(lo, two)
	hi = new(big.Rat).Add(fr, new(big.Rat).SetFloat64(next))
	hi.Quo(hi, two)
	return lo, hi
}

// decimalRat is ds × 10^(X - len(ds) + 1).
func decimalRat(ds []byte, X int) *big.Rat {
	r, _ := new(big.Rat).SetString(string(ds) + "e" + strconv.Itoa(X-len(ds)+1))
	return r
}

// appendStrictShortest appends, in 'e' format, the shortest decimal
// strictly inside (lo, hi), the closest to |f| among those, searching from
// n digits up.
func appendStrictShortest(buf []byte, f float64, bits int, n int, lo, hi *big.Rat) []byte {
	af := math.Abs(f)
	fr := new(big.Rat).SetFloat64(af)
	maxDigits := 17
	if bits == 32 {
		maxDigits = 9
	}
	for L := n; L <= maxDigits; L++ {
		c := strconv.AppendFloat(nil, af, 'e', L-1, bits)
		ds, X := splitE(c)
		base, _ := strconv.ParseUint(string(ds), 10, 64)
		var best *big.Rat
		var bestDigits uint64
		var bestDist *big.Rat
		for _, delta := range []int64{0, -1, 1} {
			cand := uint64(int64(base) + delta)
			if cand == 0 {
				continue
			}
			v := decimalRat([]byte(strconv.FormatUint(cand, 10)), X+len(strconv.FormatUint(cand, 10))-L)
			if v.Cmp(lo) <= 0 || v.Cmp(hi) >= 0 {
				continue
			}
			dist := new(big.Rat).Sub(v, fr)
			dist.Abs(dist)
			if best == nil || dist.Cmp(bestDist) < 0 {
				best, bestDigits, bestDist = v, cand, dist
			}
		}
		if best == nil {
			continue
		}
		s := strconv.FormatUint(bestDigits, 10)
		exp := X + len(s) - L
		for len(s) > 1 && s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if f < 0 {
			buf = append(buf, '-')
		}
		buf = append(buf, s[0])
		if len(s) > 1 {
			buf = append(buf, '.')
			buf = append(buf, s[1:]...)
		}
		buf = append(buf, 'e')
		if exp < 0 {
			buf = append(buf, '-')
			exp = -exp
		} else {
			buf = append(buf, '+')
		}
		if exp < 10 {
			buf = append(buf, '0')
		}
		return strconv.AppendInt(buf, int64(exp), 10)
	}
	return strconv.AppendFloat(buf, f, 'e', -1, bits) // unreachable
}
