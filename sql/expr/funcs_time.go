package expr

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/apd/v3"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

var (
	timestamptz = types.TimestampTZ
	timestamp   = types.Timestamp
	interval    = types.Interval_
	date        = types.Date
)

// nowUTC is the statement's transaction timestamp at microsecond precision.
func nowUTC(c *Ctx) time.Time { return c.Now.UTC().Truncate(time.Microsecond) }

func nowFn(c *Ctx) (types.Datum, error) { return nowUTC(c), nil }

// timeFuncs are the date/time functions. The session time zone is UTC.
var timeFuncs = map[string][]overload{
	"now":                   {f0(timestamptz, nowFn).vol_(stable)},
	"transaction_timestamp": {f0(timestamptz, nowFn).vol_(stable)},
	// A statement has no separate start time: it is the transaction's.
	"statement_timestamp": {f0(timestamptz, nowFn).vol_(stable)},
	"clock_timestamp": {f0(timestamptz, func(*Ctx) (types.Datum, error) {
		return time.Now().UTC().Truncate(time.Microsecond), nil
	}).vol_(volatile)},
	"timeofday": {f0(text, func(*Ctx) (types.Datum, error) {
		return time.Now().UTC().Format("Mon Jan 02 15:04:05.000000 2006 UTC"), nil
	}).vol_(volatile)},
	"date_trunc": {
		f2(timestamp, text, timestamp, nil).bind_(bindDateTrunc),
		f2(timestamptz, text, timestamptz, nil).bind_(bindDateTrunc),
		f2(interval, text, interval, nil).bind_(bindDateTrunc),
	},
	"extract": {
		f2(numeric, text, timestamp, nil).bind_(bindExtract(true)),
		f2(numeric, text, timestamptz, nil).bind_(bindExtract(true)),
		f2(numeric, text, date, nil).bind_(bindExtract(true)),
		f2(numeric, text, types.Time, nil).bind_(bindExtract(true)),
		f2(numeric, text, interval, nil).bind_(bindExtract(true)),
	},
	"date_part": {
		f2(float8, text, timestamp, nil).bind_(bindExtract(false)),
		f2(float8, text, timestamptz, nil).bind_(bindExtract(false)),
		f2(float8, text, date, nil).bind_(bindExtract(false)),
		f2(float8, text, types.Time, nil).bind_(bindExtract(false)),
		f2(float8, text, interval, nil).bind_(bindExtract(false)),
	},
	"to_timestamp": {f1(timestamptz, float8, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		f := a.(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 9.2e12 {
			return nil, errTimestampRange()
		}
		us := math.RoundToEven(f * 1e6)
		return time.UnixMicro(int64(us)).UTC(), nil
	})},
	"timezone": {
		f2(timestamp, text, timestamptz, nil).bind_(bindTimezone),
		f2(timestamptz, text, timestamp, nil).bind_(bindTimezone),
		f2(timestamp, interval, timestamptz, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return b.(time.Time).Add(time.Duration(a.(types.Interval).Micros) * time.Microsecond), nil
		}),
		f2(timestamptz, interval, timestamp, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return b.(time.Time).Add(-time.Duration(a.(types.Interval).Micros) * time.Microsecond), nil
		}),
	},
	"make_date": {fN(date, ts(int4, int4, int4), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		y, m, d := a[0].(int64), a[1].(int64), a[2].(int64)
		if y < 0 {
			y++ // there is no year 0: -1 is 1 BC
		}
		if y == 0 || m < 1 || m > 12 || d < 1 || d > int64(daysIn(int(y), time.Month(m))) {
			return nil, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date field value out of range: %d-%02d-%02d", a[0], m, d)
		}
		return time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC), nil
	})},
	"age": {
		f2(interval, timestamp, timestamp, ageFn),
		f2(interval, timestamptz, timestamptz, ageFn),
		f1(interval, timestamp, func(c *Ctx, a types.Datum) (types.Datum, error) {
			return ageFn(c, nowUTC(c).Truncate(24*time.Hour), a)
		}).vol_(stable),
		f1(interval, timestamptz, func(c *Ctx, a types.Datum) (types.Datum, error) {
			return ageFn(c, nowUTC(c).Truncate(24*time.Hour), a)
		}).vol_(stable),
	},
	"isfinite": {f1(bool_, timestamptz, func(_ *Ctx, _ types.Datum) (types.Datum, error) { return true, nil }),
		f1(bool_, date, func(_ *Ctx, _ types.Datum) (types.Datum, error) { return true, nil })},
}

func (b *Builder) buildSQLValueFunction(x *pg_query.SQLValueFunction) (Expr, error) {
	prec := x.Typmod
	switch x.Op {
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return makeCall("current_date", nil, types.Date, stable, true, impl{f0: func(c *Ctx) (types.Datum, error) {
			return nowUTC(c).Truncate(24 * time.Hour), nil
		}}), nil
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return makeCall("current_timestamp", nil, types.TimestampTZ, stable, true, impl{f0: func(c *Ctx) (types.Datum, error) {
			return roundTime(nowUTC(c), prec), nil
		}}), nil
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return makeCall("localtimestamp", nil, types.Timestamp, stable, true, impl{f0: func(c *Ctx) (types.Datum, error) {
			return roundTime(nowUTC(c), prec), nil
		}}), nil
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return makeCall("localtime", nil, types.Time, stable, true, impl{f0: func(c *Ctx) (types.Datum, error) {
			t := roundTime(nowUTC(c), prec)
			return t.Sub(t.Truncate(24 * time.Hour)), nil
		}}), nil
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
		return nil, errUnsupported("current_time (type time with time zone)", x.Location)
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER,
		pg_query.SQLValueFunctionOp_SVFOP_USER, pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return makeCall("current_user", nil, types.Name, stable, true, impl{f0: currentUser}), nil
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return makeCall("current_catalog", nil, types.Name, stable, true, impl{f0: currentDatabase}), nil
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return makeCall("current_schema", nil, types.Name, stable, true, impl{f0: currentSchema}), nil
	}
	return nil, errUnsupported("SQL value function "+x.Op.String(), x.Location)
}

// roundTime rounds t to prec fractional digits of a second (prec < 0 or
// >= 6: unchanged), half up as PostgreSQL's AdjustTimestampForTypmod.
func roundTime(t time.Time, prec int32) time.Time {
	if prec < 0 || prec >= 6 {
		return t
	}
	unit := time.Duration(math.Pow10(int(6-prec))) * time.Microsecond
	return t.Round(unit)
}

// timeField names a field of date_trunc and extract.
type timeField uint8

const (
	fieldUnknown timeField = iota
	fieldMicroseconds
	fieldMilliseconds
	fieldSecond
	fieldMinute
	fieldHour
	fieldDay
	fieldWeek
	fieldMonth
	fieldQuarter
	fieldYear
	fieldDecade
	fieldCentury
	fieldMillennium
	fieldEpoch
	fieldDow
	fieldIsodow
	fieldDoy
	fieldIsoyear
	fieldJulian
	fieldTimezone
	fieldTimezoneHour
	fieldTimezoneMinute
)

var timeFields = map[string]timeField{
	"microseconds": fieldMicroseconds, "microsecond": fieldMicroseconds, "us": fieldMicroseconds, "usec": fieldMicroseconds, "usecs": fieldMicroseconds, "useconds": fieldMicroseconds,
	"milliseconds": fieldMilliseconds, "millisecond": fieldMilliseconds, "ms": fieldMilliseconds, "msec": fieldMilliseconds, "msecs": fieldMilliseconds, "mseconds": fieldMilliseconds,
	"second": fieldSecond, "seconds": fieldSecond, "s": fieldSecond, "sec": fieldSecond, "secs": fieldSecond,
	"minute": fieldMinute, "minutes": fieldMinute, "m": fieldMinute, "min": fieldMinute, "mins": fieldMinute,
	"hour": fieldHour, "hours": fieldHour, "h": fieldHour, "hr": fieldHour, "hrs": fieldHour,
	"day": fieldDay, "days": fieldDay, "d": fieldDay,
	"week": fieldWeek, "weeks": fieldWeek, "w": fieldWeek,
	"month": fieldMonth, "months": fieldMonth, "mon": fieldMonth, "mons": fieldMonth,
	"quarter": fieldQuarter, "qtr": fieldQuarter,
	"year": fieldYear, "years": fieldYear, "y": fieldYear, "yr": fieldYear, "yrs": fieldYear,
	"decade": fieldDecade, "decades": fieldDecade, "dec": fieldDecade, "decs": fieldDecade,
	"century": fieldCentury, "centuries": fieldCentury, "c": fieldCentury, "cent": fieldCentury,
	"millennium": fieldMillennium, "millennia": fieldMillennium, "mil": fieldMillennium, "mils": fieldMillennium,
	"epoch": fieldEpoch, "dow": fieldDow, "isodow": fieldIsodow, "doy": fieldDoy, "isoyear": fieldIsoyear,
	"julian": fieldJulian, "j": fieldJulian,
	"timezone": fieldTimezone, "timezone_h": fieldTimezoneHour, "timezone_m": fieldTimezoneMinute,
}

func parseField(s string) timeField { return timeFields[strings.ToLower(strings.TrimSpace(s))] }

func errUnitNotRecognized(unit string, t types.T) error {
	return pgerror.New(pgerror.CodeInvalidParameterValue, "unit \"%s\" not recognized for type %s", unit, typeName(t))
}

func errUnitNotSupported(unit string, t types.T) error {
	return pgerror.New(pgerror.CodeFeatureNotSupported, "unit \"%s\" not supported for type %s", unit, typeName(t))
}

// bindDateTrunc resolves a constant unit now; otherwise per row.
func bindDateTrunc(args []Expr) (impl, error) {
	t := args[1].Type()
	trunc := func(unit string, d types.Datum) (types.Datum, error) {
		return dateTrunc(unit, t, d)
	}
	if k, ok := args[0].(*Const); ok && k.D != nil {
		unit := k.D.(string)
		if parseField(unit) == fieldUnknown {
			return impl{}, errUnitNotRecognized(unit, t)
		}
		return impl{f2: func(_ *Ctx, _, d types.Datum) (types.Datum, error) { return trunc(unit, d) }}, nil
	}
	return impl{f2: func(_ *Ctx, u, d types.Datum) (types.Datum, error) { return trunc(u.(string), d) }}, nil
}

func dateTrunc(unit string, t types.T, d types.Datum) (types.Datum, error) {
	f := parseField(unit)
	if t.Oid == types.OidInterval {
		return intervalTrunc(unit, f, d.(types.Interval))
	}
	tm := d.(time.Time)
	y, mo, day := tm.Date()
	h, mi, s := tm.Clock()
	ns := tm.Nanosecond()
	switch f {
	case fieldMicroseconds:
		return tm.Truncate(time.Microsecond), nil
	case fieldMilliseconds:
		return time.Date(y, mo, day, h, mi, s, ns/1e6*1e6, time.UTC), nil
	case fieldSecond:
		return time.Date(y, mo, day, h, mi, s, 0, time.UTC), nil
	case fieldMinute:
		return time.Date(y, mo, day, h, mi, 0, 0, time.UTC), nil
	case fieldHour:
		return time.Date(y, mo, day, h, 0, 0, 0, time.UTC), nil
	case fieldDay:
		return time.Date(y, mo, day, 0, 0, 0, 0, time.UTC), nil
	case fieldWeek:
		wd := (int(tm.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, mo, day-wd, 0, 0, 0, 0, time.UTC), nil
	case fieldMonth:
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC), nil
	case fieldQuarter:
		return time.Date(y, (mo-1)/3*3+1, 1, 0, 0, 0, 0, time.UTC), nil
	case fieldYear:
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case fieldDecade:
		return time.Date(floorDiv(y, 10)*10, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case fieldCentury:
		if y > 0 {
			return time.Date((y+99)/100*100-99, 1, 1, 0, 0, 0, 0, time.UTC), nil
		}
		return time.Date(-((99-(y-1))/100)*100+1, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case fieldMillennium:
		if y > 0 {
			return time.Date((y+999)/1000*1000-999, 1, 1, 0, 0, 0, 0, time.UTC), nil
		}
		return time.Date(-((999-(y-1))/1000)*1000+1, 1, 1, 0, 0, 0, 0, time.UTC), nil
	case fieldUnknown:
		return nil, errUnitNotRecognized(unit, t)
	}
	return nil, errUnitNotSupported(unit, t)
}

func intervalTrunc(unit string, f timeField, iv types.Interval) (types.Datum, error) {
	r := types.Interval{}
	switch f {
	case fieldMillennium:
		r.Months = iv.Months / 12000 * 12000
	case fieldCentury:
		r.Months = iv.Months / 1200 * 1200
	case fieldDecade:
		r.Months = iv.Months / 120 * 120
	case fieldYear:
		r.Months = iv.Months / 12 * 12
	case fieldQuarter:
		r.Months = iv.Months / 3 * 3
	case fieldMonth:
		r.Months = iv.Months
	case fieldDay:
		r.Months, r.Days = iv.Months, iv.Days
	case fieldHour, fieldMinute, fieldSecond, fieldMilliseconds, fieldMicroseconds:
		r.Months, r.Days = iv.Months, iv.Days
		unit := map[timeField]int64{fieldHour: 3600e6, fieldMinute: 60e6, fieldSecond: 1e6, fieldMilliseconds: 1e3, fieldMicroseconds: 1}[f]
		r.Micros = iv.Micros / unit * unit
	case fieldUnknown:
		return nil, errUnitNotRecognized(unit, types.Interval_)
	default:
		return nil, errUnitNotSupported(unit, types.Interval_)
	}
	return r, nil
}

// bindExtract builds extract (numeric result) or date_part (float8).
func bindExtract(asNumeric bool) func(args []Expr) (impl, error) {
	return func(args []Expr) (impl, error) {
		t := args[1].Type()
		conv := func(d *apd.Decimal, err error) (types.Datum, error) {
			if err != nil {
				return nil, err
			}
			if asNumeric {
				return d, nil
			}
			return decToFloat(d)
		}
		if k, ok := args[0].(*Const); ok && k.D != nil {
			unit := k.D.(string)
			f := parseField(unit)
			if f == fieldUnknown {
				return impl{}, errUnitNotRecognized(unit, t)
			}
			return impl{f2: func(_ *Ctx, _, d types.Datum) (types.Datum, error) { return conv(extract(unit, f, t, d)) }}, nil
		}
		return impl{f2: func(_ *Ctx, u, d types.Datum) (types.Datum, error) {
			unit := u.(string)
			return conv(extract(unit, parseField(unit), t, d))
		}}, nil
	}
}

// decimalOf returns n / 10^scale as a numeric of that scale.
func decimalOf(n int64, scale int32) *apd.Decimal { return apd.New(n, -scale) }

func extract(unit string, f timeField, t types.T, d types.Datum) (*apd.Decimal, error) {
	switch t.Oid {
	case types.OidInterval:
		return extractInterval(unit, f, d.(types.Interval))
	case types.OidTime:
		us := int64(d.(time.Duration) / time.Microsecond)
		switch f {
		case fieldMicroseconds:
			return decFromInt(us % 60e6), nil
		case fieldMilliseconds:
			return decimalOf(us%60e6, 3), nil
		case fieldSecond:
			return decimalOf(us%60e6, 6), nil
		case fieldMinute:
			return decFromInt(us / 60e6 % 60), nil
		case fieldHour:
			return decFromInt(us / 3600e6), nil
		case fieldEpoch:
			return decimalOf(us, 6), nil
		case fieldUnknown:
			return nil, errUnitNotRecognized(unit, t)
		}
		return nil, errUnitNotSupported(unit, t)
	}
	tm := d.(time.Time)
	isDate := t.Oid == types.OidDate
	y, mo, day := tm.Date()
	switch f {
	case fieldMicroseconds, fieldMilliseconds, fieldSecond, fieldMinute, fieldHour, fieldTimezone, fieldTimezoneHour, fieldTimezoneMinute:
		if isDate {
			return nil, errUnitNotSupported(unit, t)
		}
	}
	secUs := int64(tm.Second())*1e6 + int64(tm.Nanosecond()/1000)
	switch f {
	case fieldMicroseconds:
		return decFromInt(secUs), nil
	case fieldMilliseconds:
		return decimalOf(secUs, 3), nil
	case fieldSecond:
		return decimalOf(secUs, 6), nil
	case fieldMinute:
		return decFromInt(int64(tm.Minute())), nil
	case fieldHour:
		return decFromInt(int64(tm.Hour())), nil
	case fieldDay:
		return decFromInt(int64(day)), nil
	case fieldMonth:
		return decFromInt(int64(mo)), nil
	case fieldQuarter:
		return decFromInt(int64((mo-1)/3 + 1)), nil
	case fieldYear:
		if y <= 0 {
			return decFromInt(int64(y - 1)), nil
		}
		return decFromInt(int64(y)), nil
	case fieldDecade:
		return decFromInt(int64(floorDiv(y, 10))), nil
	case fieldCentury:
		if y > 0 {
			return decFromInt(int64((y + 99) / 100)), nil
		}
		return decFromInt(-int64((99 - (y - 1)) / 100)), nil
	case fieldMillennium:
		if y > 0 {
			return decFromInt(int64((y + 999) / 1000)), nil
		}
		return decFromInt(-int64((999 - (y - 1)) / 1000)), nil
	case fieldWeek:
		_, w := tm.ISOWeek()
		return decFromInt(int64(w)), nil
	case fieldIsoyear:
		iy, _ := tm.ISOWeek()
		return decFromInt(int64(iy)), nil
	case fieldDow:
		return decFromInt(int64(tm.Weekday())), nil
	case fieldIsodow:
		wd := int64(tm.Weekday())
		if wd == 0 {
			wd = 7
		}
		return decFromInt(wd), nil
	case fieldDoy:
		return decFromInt(int64(tm.YearDay())), nil
	case fieldEpoch:
		if isDate {
			return decFromInt(tm.Unix()), nil
		}
		return decimalOf(tm.UnixMicro(), 6), nil
	case fieldJulian:
		jd := tm.Unix()/86400 + 2440588
		if floorDiv64(tm.Unix(), 86400) != tm.Unix()/86400 {
			jd--
		}
		if isDate {
			return decFromInt(jd), nil
		}
		dayUs := tm.UnixMicro() - floorDiv64(tm.UnixMicro(), usecsPerDay)*usecsPerDay
		frac, err := numDivScaled(decFromInt(dayUs), decFromInt(usecsPerDay), 20)
		if err != nil {
			return nil, err
		}
		return numAdd(decFromInt(jd), frac)
	case fieldTimezone, fieldTimezoneHour, fieldTimezoneMinute:
		if t.Oid == types.OidTimestampTZ {
			return decFromInt(0), nil
		}
		return nil, errUnitNotSupported(unit, t)
	case fieldUnknown:
		return nil, errUnitNotRecognized(unit, t)
	}
	return nil, errUnitNotSupported(unit, t)
}

func extractInterval(unit string, f timeField, iv types.Interval) (*apd.Decimal, error) {
	us := iv.Micros
	switch f {
	case fieldMicroseconds:
		return decFromInt(us % 60e6), nil
	case fieldMilliseconds:
		return decimalOf(us%60e6, 3), nil
	case fieldSecond:
		return decimalOf(us%60e6, 6), nil
	case fieldMinute:
		return decFromInt(us / 60e6 % 60), nil
	case fieldHour:
		return decFromInt(us / 3600e6), nil
	case fieldDay:
		return decFromInt(int64(iv.Days)), nil
	case fieldMonth:
		return decFromInt(int64(iv.Months % 12)), nil
	case fieldQuarter:
		return decFromInt(int64(iv.Months%12/3 + 1)), nil
	case fieldYear:
		return decFromInt(int64(iv.Months / 12)), nil
	case fieldDecade:
		return decFromInt(int64(iv.Months / 120)), nil
	case fieldCentury:
		return decFromInt(int64(iv.Months / 1200)), nil
	case fieldMillennium:
		return decFromInt(int64(iv.Months / 12000)), nil
	case fieldEpoch:
		// Years count 365.25 days, months 30 days.
		years, months := int64(iv.Months/12), int64(iv.Months%12)
		secs := years*31557600 + months*30*86400 + int64(iv.Days)*86400
		return numAdd(decFromInt(secs), decimalOf(us, 6))
	case fieldUnknown:
		return nil, errUnitNotRecognized(unit, types.Interval_)
	}
	return nil, errUnitNotSupported(unit, types.Interval_)
}

// zoneCache holds loaded time zones by name.
var zoneCache sync.Map // string -> *time.Location

// zoneByName resolves a time zone name for AT TIME ZONE: a tz database
// name, UTC/GMT/Z, or a POSIX-style offset ("+05" is five hours west).
func zoneByName(name string) (*time.Location, error) {
	if l, ok := zoneCache.Load(name); ok {
		return l.(*time.Location), nil
	}
	var loc *time.Location
	switch strings.ToLower(name) {
	case "utc", "gmt", "z", "zulu", "etc/utc", "universal":
		loc = time.UTC
	}
	if loc == nil {
		if off, ok := parsePosixOffset(name); ok {
			loc = time.FixedZone(name, -off)
		}
	}
	if loc == nil {
		l, err := time.LoadLocation(name)
		if err != nil {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "time zone \"%s\" not recognized", name)
		}
		loc = l
	}
	zoneCache.Store(name, loc)
	return loc, nil
}

// parsePosixOffset parses [+-]hh[:mm[:ss]] into seconds.
func parsePosixOffset(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	sign := 1
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		sign, s = -1, s[1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return 0, false
	}
	secs := 0
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, false
		}
		secs += n * []int{3600, 60, 1}[i]
	}
	return sign * secs, true
}

// bindTimezone is "x AT TIME ZONE zone": a timestamptz shows its wall clock
// in zone (timestamp result); a timestamp is read as a wall clock in zone
// (timestamptz result).
func bindTimezone(args []Expr) (impl, error) {
	toLocal := args[1].Type().Oid == types.OidTimestampTZ
	conv := func(loc *time.Location, d types.Datum) types.Datum {
		t := d.(time.Time)
		if toLocal {
			w := t.In(loc)
			return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
		}
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc).UTC()
	}
	if k, ok := args[0].(*Const); ok && k.D != nil {
		loc, err := zoneByName(k.D.(string))
		if err != nil {
			return impl{}, err
		}
		return impl{f2: func(_ *Ctx, _, d types.Datum) (types.Datum, error) { return conv(loc, d), nil }}, nil
	}
	return impl{f2: func(_ *Ctx, z, d types.Datum) (types.Datum, error) {
		loc, err := zoneByName(z.(string))
		if err != nil {
			return nil, err
		}
		return conv(loc, d), nil
	}}, nil
}

// ageFn is age(a, b): the difference as years, months and days field by
// field (timestamp_age), not a plain subtraction.
func ageFn(_ *Ctx, a, b types.Datum) (types.Datum, error) {
	t1, t2 := a.(time.Time), b.(time.Time)
	neg := t1.Before(t2)
	y1, mo1, d1 := t1.Date()
	y2, mo2, d2 := t2.Date()
	fsec := int64(t1.Nanosecond()/1000) - int64(t2.Nanosecond()/1000)
	sec := t1.Second() - t2.Second()
	min := t1.Minute() - t2.Minute()
	hour := t1.Hour() - t2.Hour()
	mday := d1 - d2
	mon := int(mo1) - int(mo2)
	year := y1 - y2
	if neg {
		fsec, sec, min, hour, mday, mon, year = -fsec, -sec, -min, -hour, -mday, -mon, -year
	}
	for fsec < 0 {
		fsec += usecsPerSec
		sec--
	}
	for sec < 0 {
		sec += 60
		min--
	}
	for min < 0 {
		min += 60
		hour--
	}
	for hour < 0 {
		hour += 24
		mday--
	}
	for mday < 0 {
		// Borrow the length of the earlier timestamp's month.
		if neg {
			mday += daysIn(y1, mo1)
		} else {
			mday += daysIn(y2, mo2)
		}
		mon--
	}
	for mon < 0 {
		mon += 12
		year--
	}
	if neg {
		fsec, sec, min, hour, mday, mon, year = -fsec, -sec, -min, -hour, -mday, -mon, -year
	}
	months := int64(year)*12 + int64(mon)
	if months > math.MaxInt32 || months < math.MinInt32 {
		return nil, errIntervalRange()
	}
	us := ((int64(hour)*60+int64(min))*60+int64(sec))*usecsPerSec + fsec
	return types.Interval{Months: int32(months), Days: int32(mday), Micros: us}, nil
}
