package types

import (
	"math"
	"strconv"
	"time"
)

// Dates and timestamps are time.Time values in UTC; PostgreSQL counts them
// from 2000-01-01 (days for date, microseconds for timestamps), and so do
// the binary, key and value encodings. The calendar is the proleptic
// Gregorian one, years <= 0 print as BC (year 0 is 1 BC).

const (
	pgEpochUnix     = 946684800 // 2000-01-01 00:00:00 UTC
	pgEpochUnixDays = 10957     // days from 1970-01-01 to 2000-01-01
	usPerSec        = 1000000
	usPerMinute     = 60 * usPerSec
	usPerHour       = 60 * usPerMinute
	usPerDay        = 24 * usPerHour

	// minDateDays and endDateDays bound date: 4714-11-24 BC (Julian day 0)
	// to 5874897-12-31 (endDateDays is the first day out of range).
	minDateDays = -2451545
	endDateDays = 2147483494 - 2451545
	// minTimestamp and endTimestamp bound timestamps: 4714-11-24 00:00 BC
	// to 294276-12-31 23:59:59.999999 (endTimestamp is out of range).
	minTimestamp = -211813488000000000
	endTimestamp = 9223371331200000000
)

// InfinityTime and NegInfinityTime represent 'infinity' and '-infinity'
// for date, timestamp and timestamptz: the instants 2000-01-01 ±
// 2^31-1 days (-2^31 days), past every valid date and timestamp. Their
// binary forms are PostgreSQL's: the int32 extremes as dates, the int64
// extremes as timestamps. Test for them with Equal.
var (
	InfinityTime    = time.Unix(pgEpochUnix+math.MaxInt32*86400, 0).UTC()
	NegInfinityTime = time.Unix(pgEpochUnix+math.MinInt32*86400, 0).UTC()
)

// timeFromMicros is the time us microseconds after 2000-01-01 UTC; the
// int64 extremes are the infinities.
func timeFromMicros(us int64) time.Time {
	switch us {
	case math.MaxInt64:
		return InfinityTime
	case math.MinInt64:
		return NegInfinityTime
	}
	sec := us / usPerSec
	rem := us % usPerSec
	if rem < 0 {
		sec--
		rem += usPerSec
	}
	return time.Unix(pgEpochUnix+sec, rem*1000).UTC()
}

// timeToMicros is the inverse of timeFromMicros, saturating outside the
// int64 range (sub-microsecond digits are dropped).
func timeToMicros(t time.Time) int64 {
	sec := t.Unix() - pgEpochUnix
	us := int64(t.Nanosecond() / 1000)
	const maxSec = math.MaxInt64 / usPerSec
	if sec > maxSec || (sec == maxSec && us > math.MaxInt64%usPerSec) {
		return math.MaxInt64
	}
	if sec < -maxSec-1 {
		return math.MinInt64
	}
	if sec < 0 && us > 0 {
		sec++
		us -= usPerSec
	}
	return sec*usPerSec + us
}

// dateFromDays is the date d days after 2000-01-01; the int32 extremes
// are the infinities.
func dateFromDays(d int64) time.Time {
	switch {
	case d >= math.MaxInt32:
		return InfinityTime
	case d <= math.MinInt32:
		return NegInfinityTime
	}
	return time.Unix(pgEpochUnix+d*86400, 0).UTC()
}

// dateToDays is the inverse of dateFromDays (a time of day is dropped).
func dateToDays(t time.Time) int64 {
	switch {
	case t.Equal(InfinityTime):
		return math.MaxInt32
	case t.Equal(NegInfinityTime):
		return math.MinInt32
	}
	return floorDiv(t.Unix()-pgEpochUnix, 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (astronomical year numbering).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendPad appends v (>= 0) with at least width digits.
func appendPad(buf []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// appendYMD appends YYYY-MM-DD of pg day number days and reports whether
// the year is BC.
func appendYMD(buf []byte, days int64) ([]byte, bool) {
	y, m, d := civilFromDays(days + pgEpochUnixDays)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	buf = appendPad(buf, y, 4)
	buf = append(buf, '-')
	buf = appendPad(buf, m, 2)
	buf = append(buf, '-')
	buf = appendPad(buf, d, 2)
	return buf, bc
}

// appendDate is date_out.
func appendDate(buf []byte, t time.Time) []byte {
	days := dateToDays(t)
	switch days {
	case math.MaxInt32:
		return append(buf, "infinity"...)
	case math.MinInt32:
		return append(buf, "-infinity"...)
	}
	buf, bc := appendYMD(buf, days)
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

// appendTimestamp is timestamp_out (tz false) and timestamptz_out in UTC.
func appendTimestamp(buf []byte, t time.Time, tz bool) []byte {
	us := timeToMicros(t)
	switch us {
	case math.MaxInt64:
		return append(buf, "infinity"...)
	case math.MinInt64:
		return append(buf, "-infinity"...)
	}
	days := floorDiv(us, usPerDay)
	buf, bc := appendYMD(buf, days)
	buf = append(buf, ' ')
	buf = appendTimeOfDay(buf, us-days*usPerDay)
	if tz {
		buf = append(buf, "+00"...)
	}
	if bc {
		buf = append(buf, " BC"...)
	}
	return buf
}

// appendTimeOfDay is time_out: HH:MM:SS with the fraction's trailing zeros
// trimmed.
func appendTimeOfDay(buf []byte, us int64) []byte {
	h := us / usPerHour
	us -= h * usPerHour
	m := us / usPerMinute
	us -= m * usPerMinute
	s := us / usPerSec
	us -= s * usPerSec
	buf = appendPad(buf, h, 2)
	buf = append(buf, ':')
	buf = appendPad(buf, m, 2)
	buf = append(buf, ':')
	buf = appendPad(buf, s, 2)
	return appendFraction(buf, us)
}

// appendFraction appends .ffffff of us (0 <= us < 1e6) without trailing
// zeros, or nothing when us is 0.
func appendFraction(buf []byte, us int64) []byte {
	if us == 0 {
		return buf
	}
	buf = append(buf, '.')
	buf = appendPad(buf, us, 6)
	for buf[len(buf)-1] == '0' {
		buf = buf[:len(buf)-1]
	}
	return buf
}

// Typmod rounding of fractional seconds (AdjustTimestampForTypmod,
// AdjustTimeForTypmod, AdjustIntervalForTypmod): half away from zero.
var fracScales = [...]int64{1000000, 100000, 10000, 1000, 100, 10, 1}

// roundMicros rounds us to prec (0..6) fractional digits.
func roundMicros(us int64, prec int32) int64 {
	if prec < 0 || prec >= 6 {
		return us
	}
	sc := fracScales[prec]
	if us >= 0 {
		return (us + sc/2) / sc * sc
	}
	return -((-us + sc/2) / sc * sc)
}

// timePrecision returns the fractional-second precision of a datetime typmod.
func timePrecision(mod int32) int32 {
	if mod < 0 {
		return -1
	}
	return mod & 0xffff
}

// adjustTimestamp applies t's precision typmod to a timestamp and checks
// its range.
func adjustTimestamp(v time.Time, mod int32) (time.Time, error) {
	us := timeToMicros(v)
	if us == math.MaxInt64 || us == math.MinInt64 {
		return v, nil
	}
	if p := timePrecision(mod); p >= 0 && p < 6 {
		us = roundMicros(us, p)
		v = timeFromMicros(us)
	}
	if us < minTimestamp || us >= endTimestamp {
		return v, errTimestampRange()
	}
	return v, nil
}
