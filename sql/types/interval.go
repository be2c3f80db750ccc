package types

import (
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Interval text I/O in IntervalStyle postgres, after PostgreSQL's
// EncodeInterval and DecodeInterval / DecodeISO8601Interval.

// appendInterval is interval_out with IntervalStyle postgres:
// "1 year 2 mons 3 days 04:05:06", "-1 days +02:03:04", "00:00:00".
func appendInterval(buf []byte, iv Interval) []byte {
	year := int64(iv.Months / 12)
	mon := int64(iv.Months % 12)
	t := iv.Micros
	hour := t / usPerHour
	t -= hour * usPerHour
	min := t / usPerMinute
	t -= min * usPerMinute
	sec := t / usPerSec
	fsec := t - sec*usPerSec

	isZero, isBefore := true, false
	buf = appendIntervalPart(buf, year, "year", &isZero, &isBefore)
	buf = appendIntervalPart(buf, mon, "mon", &isZero, &isBefore)
	buf = appendIntervalPart(buf, int64(iv.Days), "day", &isZero, &isBefore)
	if isZero || hour != 0 || min != 0 || sec != 0 || fsec != 0 {
		minus := hour < 0 || min < 0 || sec < 0 || fsec < 0
		if !isZero {
			buf = append(buf, ' ')
		}
		if minus {
			buf = append(buf, '-')
		} else if isBefore {
			buf = append(buf, '+')
		}
		buf = appendPad(buf, absU(hour), 2)
		buf = append(buf, ':')
		buf = appendPad(buf, absU(min), 2)
		buf = append(buf, ':')
		buf = appendPad(buf, absU(sec), 2)
		buf = appendFraction(buf, absU(fsec))
	}
	return buf
}

// absU returns |v| for the values appendInterval splits (|v| < MaxInt64).
func absU(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// appendIntervalPart is AddPostgresIntPart.
func appendIntervalPart(buf []byte, v int64, unit string, isZero, isBefore *bool) []byte {
	if v == 0 {
		return buf
	}
	if !*isZero {
		buf = append(buf, ' ')
	}
	if *isBefore && v > 0 {
		buf = append(buf, '+')
	}
	buf = strconv.AppendInt(buf, v, 10)
	buf = append(buf, ' ')
	buf = append(buf, unit...)
	if v != 1 {
		buf = append(buf, 's')
	}
	*isBefore = v < 0
	*isZero = false
	return buf
}

// Interval units (the deltatktbl entries of PostgreSQL).
type ivUnit uint8

const (
	ivNone ivUnit = iota
	ivMicrosecond
	ivMillisecond
	ivSecond
	ivMinute
	ivHour
	ivDay
	ivWeek
	ivMonth
	ivYear
	ivDecade
	ivCentury
	ivMillennium
	ivAgo
)

// Field masks for duplicate detection.
const (
	ivmMicro = 1 << iota
	ivmMilli
	ivmSecond
	ivmMinute
	ivmHour
	ivmDay
	ivmWeek
	ivmMonth
	ivmYear
	ivmDecade
	ivmCentury
	ivmMillennium
	ivmAllSecs = ivmMicro | ivmMilli | ivmSecond
	ivmTime    = ivmHour | ivmMinute | ivmAllSecs
)

func intervalUnit(w string) ivUnit {
	if len(w) > 10 {
		w = w[:10] // TOKMAXLEN
	}
	switch w {
	case "us", "usec", "usecs", "usecond", "useconds", "microsecon":
		return ivMicrosecond
	case "ms", "msec", "msecs", "msecond", "mseconds", "millisecon":
		return ivMillisecond
	case "s", "sec", "secs", "second", "seconds":
		return ivSecond
	case "m", "min", "mins", "minute", "minutes":
		return ivMinute
	case "h", "hr", "hrs", "hour", "hours":
		return ivHour
	case "d", "day", "days":
		return ivDay
	case "w", "week", "weeks":
		return ivWeek
	case "mon", "mons", "month", "months":
		return ivMonth
	case "y", "yr", "yrs", "year", "years":
		return ivYear
	case "dec", "decs", "decade", "decades":
		return ivDecade
	case "c", "cent", "century", "centuries":
		return ivCentury
	case "mil", "mils", "millennia", "millennium":
		return ivMillennium
	}
	return ivNone
}

// ivAcc accumulates an interval with PostgreSQL's overflow checks.
type ivAcc struct {
	years        int64 // tm_year: folded into months at the end
	months, days int32
	us           int64
	ok           bool
}

func (a *ivAcc) addMicros(v int64, frac float64, scale int64) {
	hi, lo := bits.Mul64(uint64(absI(v)), uint64(scale))
	if hi != 0 || lo > math.MaxInt64 {
		a.ok = false
		return
	}
	p := int64(lo)
	if v < 0 {
		p = -p
	}
	a.addUS(p)
	a.addFracMicros(frac, scale)
}

func absI(v int64) int64 {
	if v < 0 {
		if v == math.MinInt64 {
			return math.MaxInt64
		}
		return -v
	}
	return v
}

func (a *ivAcc) addUS(v int64) {
	r := a.us + v
	if (v > 0 && r < a.us) || (v < 0 && r > a.us) {
		a.ok = false
		return
	}
	a.us = r
}

// addFracMicros is AdjustFractMicroseconds.
func (a *ivAcc) addFracMicros(frac float64, scale int64) {
	if frac == 0 {
		return
	}
	frac *= float64(scale)
	us := int64(frac)
	frac -= float64(us)
	us += int64(math.RoundToEven(frac))
	a.addUS(us)
}

func (a *ivAcc) addDays(v int64, scale int64) {
	d := int64(a.days) + v*scale
	if v > math.MaxInt32 || v < math.MinInt32 || d > math.MaxInt32 || d < math.MinInt32 {
		a.ok = false
		return
	}
	a.days = int32(d)
}

// addFracDays is AdjustFractDays.
func (a *ivAcc) addFracDays(frac float64, scale int64) {
	if frac == 0 {
		return
	}
	frac *= float64(scale)
	extra := int64(frac)
	a.addDays(extra, 1)
	a.addFracMicros(frac-float64(extra), usPerDay)
}

func (a *ivAcc) addMonths(v int64) {
	m := int64(a.months) + v
	if v > math.MaxInt32 || v < math.MinInt32 || m > math.MaxInt32 || m < math.MinInt32 {
		a.ok = false
		return
	}
	a.months = int32(m)
}

func (a *ivAcc) addYears(v int64, frac float64, scale int64) {
	y := a.years + v*scale
	if v > math.MaxInt32 || v < math.MinInt32 || y > math.MaxInt32 || y < math.MinInt32 {
		a.ok = false
		return
	}
	a.years = y
	if frac != 0 {
		a.addMonths(int64(math.RoundToEven(frac * float64(scale) * 12)))
	}
}

// interval folds the years into the months (tm2interval), reporting false
// when the total does not fit: 22008 interval out of range.
func (a *ivAcc) interval() (Interval, bool) {
	m := a.years*12 + int64(a.months)
	if m > math.MaxInt32 || m < math.MinInt32 {
		return Interval{}, false
	}
	return Interval{Months: int32(m), Days: a.days, Micros: a.us}, true
}

func (a *ivAcc) add(unit ivUnit, v int64, frac float64) {
	switch unit {
	case ivMicrosecond:
		a.addMicros(v, frac, 1)
	case ivMillisecond:
		a.addMicros(v, frac, 1000)
	case ivSecond:
		a.addMicros(v, frac, usPerSec)
	case ivMinute:
		a.addMicros(v, frac, usPerMinute)
	case ivHour:
		a.addMicros(v, frac, usPerHour)
	case ivDay:
		a.addDays(v, 1)
		a.addFracMicros(frac, usPerDay)
	case ivWeek:
		a.addDays(v, 7)
		a.addFracDays(frac, 7)
	case ivMonth:
		a.addMonths(v)
		a.addFracDays(frac, 30)
	case ivYear:
		a.addYears(v, frac, 1)
	case ivDecade:
		a.addYears(v, frac, 10)
	case ivCentury:
		a.addYears(v, frac, 100)
	case ivMillennium:
		a.addYears(v, frac, 1000)
	}
}

func unitMask(u ivUnit, frac float64) int {
	switch u {
	case ivMicrosecond:
		return ivmMicro
	case ivMillisecond:
		return ivmMilli
	case ivSecond:
		if frac != 0 {
			return ivmAllSecs
		}
		return ivmSecond
	case ivMinute:
		return ivmMinute
	case ivHour:
		return ivmHour
	case ivDay:
		return ivmDay
	case ivWeek:
		return ivmWeek
	case ivMonth:
		return ivmMonth
	case ivYear:
		return ivmYear
	case ivDecade:
		return ivmDecade
	case ivCentury:
		return ivmCentury
	}
	return ivmMillennium
}

// ivToken is one field of interval input.
type ivToken struct {
	s    string
	word bool
}

// parseInterval is interval_in (without a fields restriction).
func parseInterval(s string) (Interval, error) {
	syntax := func() error {
		return pgerror.New(pgerror.CodeInvalidDatetimeFormat, "invalid input syntax for type interval: \"%s\"", s)
	}
	overflow := func() error {
		return pgerror.New(codeIntervalFieldOverflow, "interval field value out of range: \"%s\"", s)
	}
	p := trimSpace(s)
	if len(p) > 0 && (p[0] == 'P' || p[0] == 'p') {
		iv, ok, bad := parseISOInterval(p[1:])
		if bad {
			return Interval{}, syntax()
		}
		if !ok {
			return Interval{}, errIntervalRange()
		}
		return iv, nil
	}
	var tb [24]ivToken
	toks := tb[:0]
	for i := 0; i < len(p); {
		c := p[i]
		start := i
		switch {
		case isSpace(c) || c == '@' || c == ',':
			i++
			continue
		case isDigit(c) || c == '+' || c == '-' || c == '.':
			i++
			if c == '+' || c == '-' {
				sign := c
				for i < len(p) && isSpace(p[i]) {
					i++
				}
				if i < len(p) && isDigit(p[i]) && i > start+1 {
					// "- 1 day": the sign applies across the blank
					if len(toks) == cap(toks) {
						return Interval{}, syntax()
					}
					j := i
					for j < len(p) && (isDigit(p[j]) || p[j] == ':' || p[j] == '.' || p[j] == '-') {
						j++
					}
					toks = append(toks, ivToken{string(sign) + p[i:j], false})
					i = j
					continue
				}
			}
			for i < len(p) && (isDigit(p[i]) || p[i] == ':' || p[i] == '.' || p[i] == '-') {
				i++
			}
		case isAlpha(c):
			for i < len(p) && isAlpha(p[i]) {
				i++
			}
		default:
			return Interval{}, syntax()
		}
		if len(toks) == cap(toks) {
			return Interval{}, syntax()
		}
		toks = append(toks, ivToken{p[start:i], isAlpha(c)})
	}
	if len(toks) == 0 {
		return Interval{}, syntax()
	}
	acc := ivAcc{ok: true}
	mask := 0
	unit := ivNone
	ago := false
	for i := len(toks) - 1; i >= 0; i-- {
		tk := toks[i]
		if tk.word {
			w := lowerASCII(tk.s)
			if w == "ago" {
				if i != len(toks)-1 || ago {
					return Interval{}, syntax()
				}
				ago = true
				unit = ivAgo // a number right before "ago" has no unit
				continue
			}
			u := intervalUnit(w)
			if u == ivNone {
				return Interval{}, syntax()
			}
			unit = u
			continue
		}
		f := tk.s
		neg := f[0] == '-'
		body := f
		if f[0] == '+' || f[0] == '-' {
			body = f[1:]
		}
		if strings.IndexByte(body, ':') >= 0 {
			us, ok, bad := parseIntervalTime(body)
			if bad {
				return Interval{}, syntax()
			}
			if !ok {
				return Interval{}, overflow()
			}
			if neg {
				us = -us
			}
			if mask&ivmTime != 0 {
				return Interval{}, syntax()
			}
			mask |= ivmTime
			acc.addUS(us)
			unit = ivDay
			continue
		}
		switch unit {
		case ivNone:
			unit = ivSecond
		case ivAgo:
			return Interval{}, syntax()
		}
		// [sign]digits[.frac] or [sign]years-months
		j := 0
		for j < len(body) && isDigit(body[j]) {
			j++
		}
		if j == 0 && !(len(body) > 1 && body[0] == '.') {
			return Interval{}, syntax()
		}
		v, err := strconv.ParseInt(body[:j], 10, 64)
		if j == 0 {
			v, err = 0, nil
		}
		if err != nil {
			return Interval{}, overflow()
		}
		var frac float64
		rest := body[j:]
		u := unit
		switch {
		case rest == "":
		case rest[0] == '-':
			v2, ok := atoi(rest[1:])
			if !ok || len(rest) == 1 {
				return Interval{}, syntax()
			}
			if v2 >= 12 {
				return Interval{}, overflow()
			}
			hi, lo := bits.Mul64(uint64(v), 12)
			if hi != 0 || lo > math.MaxInt32 {
				return Interval{}, overflow()
			}
			v = int64(lo) + v2
			u = ivMonth
		case rest[0] == '.':
			for k := 1; k < len(rest); k++ {
				if !isDigit(rest[k]) {
					return Interval{}, syntax()
				}
			}
			frac, _ = strconv.ParseFloat("0"+rest, 64)
		default:
			return Interval{}, syntax()
		}
		if neg {
			v, frac = -v, -frac
		}
		acc.add(u, v, frac)
		if !acc.ok {
			return Interval{}, overflow()
		}
		m := unitMask(u, frac)
		if mask&m != 0 {
			return Interval{}, syntax()
		}
		mask |= m
		if u == ivHour {
			unit = ivDay
		}
	}
	if mask == 0 {
		return Interval{}, syntax()
	}
	if !acc.ok {
		return Interval{}, overflow()
	}
	iv, ok := acc.interval()
	if !ok {
		return Interval{}, errIntervalRange()
	}
	if ago {
		if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 || iv.Micros == math.MinInt64 {
			return Interval{}, overflow()
		}
		iv = Interval{-iv.Months, -iv.Days, -iv.Micros}
	}
	return iv, nil
}

// parseIntervalTime parses h:m, h:m:s[.f] or m:s.f into microseconds.
func parseIntervalTime(s string) (us int64, ok, bad bool) {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if n == 3 {
				return 0, false, true
			}
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	last := parts[n-1]
	frac := ""
	if i := strings.IndexByte(last, '.'); i >= 0 {
		last, frac = last[:i], last[i:]
	}
	for k := 1; k < len(frac); k++ {
		if !isDigit(frac[k]) {
			return 0, false, true
		}
	}
	parts[n-1] = last
	var h, m, sec int64
	for k := 0; k < n; k++ {
		if parts[k] == "" || strings.IndexByte(parts[k], '-') >= 0 {
			return 0, false, true
		}
	}
	hv, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		if len(parts[0]) > 0 && allDigits(parts[0]) {
			return 0, false, false
		}
		return 0, false, true
	}
	mv, ok1 := atoi(parts[1])
	if !ok1 {
		return 0, false, true
	}
	switch {
	case n == 3:
		sv, ok2 := atoi(parts[2])
		if !ok2 {
			return 0, false, true
		}
		h, m, sec = hv, mv, sv
	case frac != "":
		h, m, sec = 0, hv, mv
	default:
		h, m = hv, mv
	}
	var fus int64
	if frac != "" && frac != "." {
		f, _ := strconv.ParseFloat("0"+frac, 64)
		fus = int64(math.RoundToEven(f * usPerSec))
	}
	if m > 59 || sec > 60 || fus > usPerSec {
		return 0, false, false
	}
	hi, lo := bits.Mul64(uint64(h), usPerHour)
	rest := m*usPerMinute + sec*usPerSec + fus
	if hi != 0 || lo > math.MaxInt64 || int64(lo) > math.MaxInt64-rest {
		return 0, false, false
	}
	return int64(lo) + rest, true, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// parseISOInterval parses the part after 'P' of ISO 8601 "format with
// designators": nYnMnWnDTnHnMnS, numbers signed and fractional.
func parseISOInterval(s string) (iv Interval, ok, bad bool) {
	acc := ivAcc{ok: true}
	inTime := false
	if s == "" {
		return Interval{}, false, true
	}
	for len(s) > 0 {
		if s[0] == 'T' || s[0] == 't' {
			if inTime {
				return Interval{}, false, true
			}
			inTime = true
			s = s[1:]
			continue
		}
		j := 0
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
			j++
		}
		if j == 0 || j >= len(s) {
			return Interval{}, false, true
		}
		num := s[:j]
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return Interval{}, false, true
		}
		v := int64(f)
		frac := f - float64(v)
		if math.Abs(f) > math.MaxInt64/2 {
			return Interval{}, false, false
		}
		d := s[j]
		if d >= 'a' && d <= 'z' {
			d -= 'a' - 'A'
		}
		s = s[j+1:]
		switch {
		case !inTime && d == 'Y':
			acc.add(ivYear, v, frac)
		case !inTime && d == 'M':
			acc.add(ivMonth, v, frac)
		case !inTime && d == 'W':
			acc.add(ivWeek, v, frac)
		case !inTime && d == 'D':
			acc.add(ivDay, v, frac)
		case inTime && d == 'H':
			acc.add(ivHour, v, frac)
		case inTime && d == 'M':
			acc.add(ivMinute, v, frac)
		case inTime && d == 'S':
			acc.add(ivSecond, v, frac)
		default:
			return Interval{}, false, true
		}
		if !acc.ok {
			return Interval{}, false, false
		}
	}
	iv, ok = acc.interval()
	return iv, ok, false
}

// intervalTypmodPrecision returns the fractional precision of an interval
// typmod ((range << 16) | precision), or -1.
func intervalTypmodPrecision(mod int32) int32 {
	if mod < 0 {
		return -1
	}
	p := mod & 0xffff
	if p == 0xffff {
		return -1
	}
	return p
}

// applyIntervalTypmod rounds the microseconds to the typmod's precision.
func applyIntervalTypmod(iv Interval, mod int32) Interval {
	if p := intervalTypmodPrecision(mod); p >= 0 && p < 6 {
		iv.Micros = roundMicros(iv.Micros, p)
	}
	return iv
}

// intervalSpan is interval_cmp_value: the interval as a 128-bit count of
// microseconds with a month worth 30 days, the measure PostgreSQL orders
// and compares intervals by. It returns the high (signed) and low words.
func intervalSpan(iv Interval) (hi int64, lo uint64) {
	days := int64(iv.Months)*30 + int64(iv.Days) // fits in 64 bits easily
	// days * usPerDay as 128-bit signed
	h, l := mul64x64(days, usPerDay)
	// add Micros (sign-extended)
	var ext int64
	if iv.Micros < 0 {
		ext = -1
	}
	l2, c := bits.Add64(l, uint64(iv.Micros), 0)
	h2, _ := bits.Add64(uint64(h), uint64(ext), c)
	return int64(h2), l2
}

// mul64x64 is the signed 128-bit product of a and b (b > 0).
func mul64x64(a int64, b int64) (int64, uint64) {
	neg := a < 0
	ua := uint64(a)
	if neg {
		ua = uint64(-a)
	}
	h, l := bits.Mul64(ua, uint64(b))
	if neg {
		// two's complement negate the 128-bit value
		l = ^l + 1
		h = ^h
		if l == 0 {
			h++
		}
	}
	return int64(h), l
}
