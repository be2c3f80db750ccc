package expr

import (
	"math"
	"time"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// Date and time arithmetic. Dates are time.Time at 00:00 UTC, timestamps
// hold their wall clock in UTC and timestamptz values are instants kept in
// UTC: the session time zone is UTC, so all three add intervals the same
// way (months, then days, then microseconds, as timestamp_pl_interval does).

const (
	usecsPerDay = int64(86400_000_000)
	usecsPerSec = int64(1_000_000)
)

func errIntervalRange() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "interval out of range")
}

func errTimestampRange() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp out of range")
}

func errDateRange() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range")
}

// timeOp is one datetime operator: operand types and result.
type timeOp struct {
	op     string
	l, r   types.Oid
	result types.T
	fn     binFn
}

var timeOps = []timeOp{
	{"+", types.OidDate, types.OidInt4, types.Date, dateAddDays},
	{"+", types.OidInt4, types.OidDate, types.Date, swap(dateAddDays)},
	{"-", types.OidDate, types.OidInt4, types.Date, dateSubDays},
	{"-", types.OidDate, types.OidDate, types.Int4, dateDiff},
	{"+", types.OidDate, types.OidInterval, types.Timestamp, tsAddInterval},
	{"+", types.OidInterval, types.OidDate, types.Timestamp, swap(tsAddInterval)},
	{"-", types.OidDate, types.OidInterval, types.Timestamp, tsSubInterval},
	{"+", types.OidDate, types.OidTime, types.Timestamp, dateAddTime},
	{"+", types.OidTime, types.OidDate, types.Timestamp, swap(dateAddTime)},
	{"+", types.OidTimestamp, types.OidInterval, types.Timestamp, tsAddInterval},
	{"+", types.OidInterval, types.OidTimestamp, types.Timestamp, swap(tsAddInterval)},
	{"-", types.OidTimestamp, types.OidInterval, types.Timestamp, tsSubInterval},
	{"-", types.OidTimestamp, types.OidTimestamp, types.Interval_, tsDiff},
	{"+", types.OidTimestampTZ, types.OidInterval, types.TimestampTZ, tsAddInterval},
	{"+", types.OidInterval, types.OidTimestampTZ, types.TimestampTZ, swap(tsAddInterval)},
	{"-", types.OidTimestampTZ, types.OidInterval, types.TimestampTZ, tsSubInterval},
	{"-", types.OidTimestampTZ, types.OidTimestampTZ, types.Interval_, tsDiff},
	{"+", types.OidInterval, types.OidInterval, types.Interval_, intervalAdd},
	{"-", types.OidInterval, types.OidInterval, types.Interval_, intervalSub},
	{"*", types.OidInterval, types.OidFloat8, types.Interval_, intervalMul},
	{"*", types.OidFloat8, types.OidInterval, types.Interval_, swap(intervalMul)},
	{"/", types.OidInterval, types.OidFloat8, types.Interval_, intervalDiv},
	{"+", types.OidTime, types.OidInterval, types.Time, timeAddInterval},
	{"+", types.OidInterval, types.OidTime, types.Time, swap(timeAddInterval)},
	{"-", types.OidTime, types.OidInterval, types.Time, timeSubInterval},
	{"-", types.OidTime, types.OidTime, types.Interval_, timeDiff},
}

func swap(f binFn) binFn {
	return func(a, b types.Datum) (types.Datum, error) { return f(b, a) }
}

// findTimeOp looks for an operator taking exactly (l, r), or one reachable
// by implicit casts of datetime types (date to timestamp, timestamp to
// timestamptz, integers to int4 or float8).
func findTimeOp(op string, l, r types.T) (timeOp, bool) {
	for _, o := range timeOps {
		if o.op == op && o.l == l.Oid && o.r == r.Oid {
			return o, true
		}
	}
	var best timeOp
	bestCost := 100
	for _, o := range timeOps {
		if o.op != op {
			continue
		}
		cl, okl := timeArgCost(l, o.l)
		cr, okr := timeArgCost(r, o.r)
		if okl && okr && cl+cr < bestCost {
			best, bestCost = o, cl+cr
		}
	}
	return best, bestCost < 100
}

// timeArgCost is how far an implicit cast from t to want goes: 0 exact,
// larger for longer promotions; ok is false when there is none.
func timeArgCost(t types.T, want types.Oid) (int, bool) {
	if t.Oid == want {
		return 0, true
	}
	switch want {
	case types.OidTimestamp:
		return 1, t.Oid == types.OidDate
	case types.OidTimestampTZ:
		return 2, t.Oid == types.OidDate || t.Oid == types.OidTimestamp
	case types.OidFloat8:
		return 3, numRank(t) > 0
	case types.OidInt4:
		return 1, t.Oid == types.OidInt2
	case types.OidInterval:
		return 1, t.Oid == types.OidTime
	}
	return 0, false
}

func dateAddDays(a, b types.Datum) (types.Datum, error) {
	return addDays(a.(time.Time), b.(int64))
}

func dateSubDays(a, b types.Datum) (types.Datum, error) {
	return addDays(a.(time.Time), -b.(int64))
}

func addDays(t time.Time, n int64) (types.Datum, error) {
	if n > 1<<31 || n < -(1<<31) {
		return nil, errDateRange()
	}
	r := t.AddDate(0, 0, int(n))
	if r.Year() > 5874897 || r.Year() < -4713 {
		return nil, errDateRange()
	}
	return r, nil
}

func dateDiff(a, b types.Datum) (types.Datum, error) {
	d := (a.(time.Time).Unix() - b.(time.Time).Unix()) / 86400
	return d, nil
}

func dateAddTime(a, b types.Datum) (types.Datum, error) {
	return a.(time.Time).Add(b.(time.Duration)), nil
}

// addInterval adds months (clamping the day to the month's end), days and
// microseconds to t, in that order.
func addInterval(t time.Time, iv types.Interval) (time.Time, error) {
	if iv.Months != 0 {
		y, m, d := t.Date()
		total := int64(y)*12 + int64(m-1) + int64(iv.Months)
		ny, nm := int(floorDiv64(total, 12)), time.Month(total-floorDiv64(total, 12)*12+1)
		if dim := daysIn(ny, nm); d > dim {
			d = dim
		}
		hh, mm, ss := t.Clock()
		t = time.Date(ny, nm, d, hh, mm, ss, t.Nanosecond(), time.UTC)
	}
	if iv.Days != 0 {
		t = t.AddDate(0, 0, int(iv.Days))
	}
	if iv.Micros != 0 {
		t = t.Add(time.Duration(iv.Micros) * time.Microsecond)
	}
	if y := t.Year(); y > 294276 || y < -4713 {
		return time.Time{}, errTimestampRange()
	}
	return t, nil
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func tsAddInterval(a, b types.Datum) (types.Datum, error) {
	r, err := addInterval(a.(time.Time), b.(types.Interval))
	if err != nil {
		return nil, err
	}
	return r, nil
}

func tsSubInterval(a, b types.Datum) (types.Datum, error) {
	iv := b.(types.Interval)
	r, err := addInterval(a.(time.Time), types.Interval{Months: -iv.Months, Days: -iv.Days, Micros: -iv.Micros})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// tsDiff is timestamp - timestamp: whole days and the remaining time
// (timestamp_mi followed by interval_justify_hours).
func tsDiff(a, b types.Datum) (types.Datum, error) {
	x, y := a.(time.Time), b.(time.Time)
	d := x.UnixMicro() - y.UnixMicro()
	return types.Interval{Days: int32(d / usecsPerDay), Micros: d % usecsPerDay}, nil
}

func intervalAdd(a, b types.Datum) (types.Datum, error) {
	x, y := a.(types.Interval), b.(types.Interval)
	return makeInterval(int64(x.Months)+int64(y.Months), int64(x.Days)+int64(y.Days), x.Micros, y.Micros, false)
}

func intervalSub(a, b types.Datum) (types.Datum, error) {
	x, y := a.(types.Interval), b.(types.Interval)
	return makeInterval(int64(x.Months)-int64(y.Months), int64(x.Days)-int64(y.Days), x.Micros, y.Micros, true)
}

func makeInterval(months, days, m1, m2 int64, sub bool) (types.Datum, error) {
	if months > math.MaxInt32 || months < math.MinInt32 || days > math.MaxInt32 || days < math.MinInt32 {
		return nil, errIntervalRange()
	}
	var us int64
	if sub {
		us = m1 - m2
		if (m1^m2)&(m1^us) < 0 {
			return nil, errIntervalRange()
		}
	} else {
		us = m1 + m2
		if (m1^us)&(m2^us) < 0 {
			return nil, errIntervalRange()
		}
	}
	return types.Interval{Months: int32(months), Days: int32(days), Micros: us}, nil
}

// tsRound is TSROUND: round to microsecond precision in seconds units.
func tsRound(f float64) float64 { return math.RoundToEven(f*1e6) / 1e6 }

// intervalMul is interval_mul: fractional months cascade into days and
// fractional days into time, never upwards.
func intervalMul(a, b types.Datum) (types.Datum, error) {
	iv, f := a.(types.Interval), b.(float64)
	if math.IsNaN(f) {
		return nil, errIntervalRange()
	}
	return intervalScale(iv, float64(iv.Months)*f, float64(iv.Days)*f, float64(iv.Micros)*f)
}

func intervalDiv(a, b types.Datum) (types.Datum, error) {
	iv, f := a.(types.Interval), b.(float64)
	if f == 0 {
		return nil, errDivZero()
	}
	if math.IsNaN(f) {
		return nil, errIntervalRange()
	}
	return intervalScale(iv, float64(iv.Months)/f, float64(iv.Days)/f, float64(iv.Micros)/f)
}

func intervalScale(iv types.Interval, months, days, micros float64) (types.Datum, error) {
	if math.IsInf(months, 0) || math.Abs(months) > math.MaxInt32 || math.Abs(days) > math.MaxInt32 {
		return nil, errIntervalRange()
	}
	rm := int32(months)
	rd := int32(days)
	monthRemDays := tsRound((months - float64(rm)) * 30)
	secRem := tsRound((days - float64(rd) + monthRemDays - math.Trunc(monthRemDays)) * 86400)
	if math.Abs(secRem) >= 86400 {
		rd += int32(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	rd += int32(monthRemDays)
	us := math.RoundToEven(micros + secRem*1e6)
	if math.IsNaN(us) || math.Abs(us) >= 9.2233720368547758e18 {
		return nil, errIntervalRange()
	}
	return types.Interval{Months: rm, Days: rd, Micros: int64(us)}, nil
}

const dayDuration = 24 * time.Hour

func timeAddInterval(a, b types.Datum) (types.Datum, error) {
	t := (a.(time.Duration) + time.Duration(b.(types.Interval).Micros)*time.Microsecond) % dayDuration
	if t < 0 {
		t += dayDuration
	}
	return t, nil
}

func timeSubInterval(a, b types.Datum) (types.Datum, error) {
	iv := b.(types.Interval)
	return timeAddInterval(a, types.Interval{Micros: -iv.Micros})
}

func timeDiff(a, b types.Datum) (types.Datum, error) {
	return types.Interval{Micros: int64(a.(time.Duration)-b.(time.Duration)) / 1000}, nil
}
