package types

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Date/time input, after PostgreSQL's ParseDateTime and DecodeDateTime
// with DateStyle MDY: the string is split into fields (numbers, dates with
// '-', '/' or '.' separators, times with ':', signed zone offsets, words),
// which are then decoded in order. Supported: ISO 8601 with ' ' or 'T',
// M/D/Y, YYYYMMDD, month names, AM/PM, BC/AD, zone offsets, UTC/Z, a few
// common abbreviations and full zone names ("Europe/Paris"), 'epoch',
// 'infinity' and '-infinity'. The words that depend on the clock (now,
// today, tomorrow, yesterday) are refused: input must be deterministic.

type dtKind uint8

const (
	dtDate dtKind = iota
	dtTimestamp
	dtTimestampTZ
	dtTime
)

func (k dtKind) typeName() string {
	switch k {
	case dtDate:
		return "date"
	case dtTimestamp:
		return "timestamp"
	case dtTimestampTZ:
		return "timestamp with time zone"
	}
	return "time"
}

type fieldKind uint8

const (
	fNumber fieldKind = iota // digits, maybe with a fraction
	fDate                    // digits or words joined by '-', '/' or '.'
	fTime                    // h:m[:s[.f]]
	fTZ                      // +hh[:mm[:ss]] or -hh...
	fWord                    // letters (lower-cased); zone names keep case in orig
)

type dtField struct {
	kind fieldKind
	s    string // lower-cased
	orig string
}

// splitDateTime is ParseDateTime: it splits s into at most len(fields)
// fields.
func splitDateTime(s string, fields []dtField) ([]dtField, bool) {
	out := fields[:0]
	i := 0
	add := func(k fieldKind, start, end int) bool {
		if len(out) == cap(out) {
			return false
		}
		orig := s[start:end]
		out = append(out, dtField{kind: k, s: lowerASCII(orig), orig: orig})
		return true
	}
	for i < len(s) {
		c := s[i]
		start := i
		switch {
		case isSpace(c):
			i++
			continue
		case isDigit(c):
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			kind := fNumber
			if i < len(s) && s[i] == ':' {
				kind = fTime
				for i < len(s) && (isDigit(s[i]) || s[i] == ':' || s[i] == '.') {
					i++
				}
			} else if i < len(s) && (s[i] == '-' || s[i] == '/' || s[i] == '.') {
				delim := s[i]
				i++
				if i < len(s) && isDigit(s[i]) {
					if delim != '.' {
						kind = fDate
					}
					for i < len(s) && isDigit(s[i]) {
						i++
					}
					if i < len(s) && s[i] == delim {
						kind = fDate
						for i < len(s) && (isDigit(s[i]) || s[i] == delim) {
							i++
						}
					}
				} else {
					kind = fDate
					for i < len(s) && (isAlnum(s[i]) || s[i] == delim) {
						i++
					}
				}
			}
			if !add(kind, start, i) {
				return nil, false
			}
		case c == '.':
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if !add(fNumber, start, i) {
				return nil, false
			}
		case isAlpha(c):
			for i < len(s) && isAlpha(s[i]) {
				i++
			}
			kind := fWord
			if i < len(s) {
				n := s[i]
				if n == '-' || n == '/' || n == '.' ||
					((n == '+' || isDigit(n)) && !isDateKeyword(lowerASCII(s[start:i]))) {
					kind = fDate
					for i < len(s) && (isAlnum(s[i]) || strings.IndexByte("+-/_.:", s[i]) >= 0) {
						i++
					}
				} else if n == '_' {
					for i < len(s) && (isAlnum(s[i]) || s[i] == '_' || s[i] == '/') {
						i++
					}
				}
			}
			if !add(kind, start, i) {
				return nil, false
			}
		case c == '+' || c == '-':
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			if i < len(s) && isDigit(s[i]) {
				for i < len(s) && (isDigit(s[i]) || s[i] == ':' || s[i] == '.') {
					i++
				}
				if !add(fTZ, start, i) {
					return nil, false
				}
			} else if i < len(s) && isAlpha(s[i]) {
				for i < len(s) && isAlpha(s[i]) {
					i++
				}
				if !add(fWord, start, i) {
					return nil, false
				}
			} else {
				return nil, false
			}
		case c < 0x80 && isPunct(c):
			i++ // other punctuation only separates fields
		default:
			return nil, false
		}
	}
	return out, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isPunct(c byte) bool { return c > ' ' && c < 0x7f && !isAlnum(c) }

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

var monthNames = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// monthOf returns the month a word names (1..12), or 0.
func monthOf(w string) int64 {
	if len(w) < 3 {
		return 0
	}
	full := [...]string{"january", "february", "march", "april", "may", "june", "july",
		"august", "september", "october", "november", "december"}
	for i, m := range monthNames {
		if w == m || w == full[i] || (i == 8 && w == "sept") {
			return int64(i + 1)
		}
	}
	return 0
}

func isWeekday(w string) bool {
	switch w {
	case "sun", "mon", "tue", "tues", "wed", "wednesday", "thu", "thur", "thurs", "fri", "sat",
		"sunday", "monday", "tuesday", "thursday", "friday", "saturday":
		return true
	}
	return false
}

// isDateKeyword reports whether w is a word of the core date/time token
// table (so that "jan2" is not mistaken for a zone name).
func isDateKeyword(w string) bool {
	if monthOf(w) != 0 || isWeekday(w) {
		return true
	}
	switch w {
	case "am", "pm", "bc", "ad", "t", "z", "zulu", "at", "on", "epoch", "infinity", "allballs",
		"now", "today", "tomorrow", "yesterday":
		return true
	}
	return false
}

// dtResult is what decodeDateTime finds.
type dtResult struct {
	year, mon, day      int64
	hour, min, sec, us  int64
	haveYear, haveMon   bool
	haveDay, haveTime   bool
	monFromText, bc     bool
	year2               bool // a two-digit year: 70..99 -> 19xx, 00..69 -> 20xx
	ampm                int  // 0, 1 am, 2 pm
	haveZone            bool
	zoneOffset          int64 // seconds east of UTC
	zoneLoc             *time.Location
	isoTime             bool // a 'T' was seen: the next number is a time
	julian              bool // the date came as a Julian day (astronomical year)
	haveDateFromCompact bool
}

// dtError builds the errors of date/time input for s.
type dtError struct {
	kind dtKind
	s    string
}

func (e dtError) syntax() error {
	return pgerror.New(pgerror.CodeInvalidDatetimeFormat, "invalid input syntax for type %s: \"%s\"", e.kind.typeName(), e.s)
}

func (e dtError) fieldRange() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date/time field value out of range: \"%s\"", e.s)
}

func (e dtError) monthRange() error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date/time field value out of range: \"%s\"", e.s).
		WithHint("Perhaps you need a different \"datestyle\" setting.")
}

// parseDateTime parses s as a date, timestamp, timestamptz or time, and
// returns microseconds since 2000-01-01 (days for dtDate, microseconds
// since midnight for dtTime). Infinities are math.MaxInt64/MinInt64 (the
// int32 extremes for dates).
func parseDateTime(kind dtKind, s string) (int64, error) {
	e := dtError{kind, s}
	p := trimSpace(s)
	switch lowerASCII(p) {
	case "epoch":
		if kind == dtTime {
			return 0, e.syntax()
		}
		if kind == dtDate {
			return -pgEpochUnixDays, nil
		}
		return -pgEpochUnix * usPerSec, nil
	case "infinity", "+infinity":
		if kind == dtTime {
			return 0, e.syntax()
		}
		if kind == dtDate {
			return math.MaxInt32, nil
		}
		return math.MaxInt64, nil
	case "-infinity":
		if kind == dtTime {
			return 0, e.syntax()
		}
		if kind == dtDate {
			return math.MinInt32, nil
		}
		return math.MinInt64, nil
	case "now", "today", "tomorrow", "yesterday", "current":
		return 0, pgerror.New(pgerror.CodeInvalidDatetimeFormat,
			"date/time value \"%s\" is not supported in input", p).
			WithHint("Use current_date, current_timestamp or now() instead.")
	case "allballs":
		if kind == dtTime {
			return 0, nil
		}
	}
	if v, ok := parseISOFast(kind, p); ok {
		return v, nil
	}
	var buf [16]dtField
	fields, ok := splitDateTime(p, buf[:])
	if !ok || len(fields) == 0 {
		return 0, e.syntax()
	}
	var r dtResult
	if err := r.decode(fields, e); err != nil {
		return 0, err
	}
	return r.compose(kind, e)
}

func (r *dtResult) decode(fields []dtField, e dtError) error {
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch f.kind {
		case fWord:
			if err := r.decodeWord(f, e); err != nil {
				return err
			}
		case fDate:
			if f.s[0] == 'j' && len(f.s) > 1 && allDigits(f.s[1:]) {
				// Julian day number
				if r.haveYear || r.haveMon || r.haveDay {
					return e.syntax()
				}
				jd, ok := atoi(f.s[1:])
				if !ok {
					return e.fieldRange()
				}
				r.year, r.mon, r.day = civilFromDays(jd - 2440588)
				r.haveYear, r.haveMon, r.haveDay, r.julian = true, true, true, true
				continue
			}
			if isAlpha(f.s[0]) && strings.IndexByte(f.s, '/') >= 0 && monthOf(wordPrefix(f.s)) == 0 {
				if err := r.setZoneName(f.orig, e); err != nil {
					return err
				}
				continue
			}
			if r.haveYear || r.haveMon || r.haveDay {
				if isAlpha(f.s[0]) {
					if err := r.setZoneName(f.orig, e); err != nil {
						return err
					}
					continue
				}
				return e.syntax()
			}
			if err := r.decodeDate(f.s, e); err != nil {
				return err
			}
		case fTime:
			if r.haveTime {
				return e.syntax()
			}
			if err := r.decodeTime(f.s, e); err != nil {
				return err
			}
			r.isoTime = false
		case fTZ:
			if r.haveZone {
				return e.syntax()
			}
			off, err := decodeZoneOffset(f.s, e)
			if err != nil {
				return err
			}
			r.haveZone, r.zoneOffset = true, off
		case fNumber:
			if err := r.decodeNumber(f.s, e); err != nil {
				return err
			}
		}
	}
	if r.isoTime {
		return e.syntax()
	}
	return nil
}

func wordPrefix(s string) string {
	i := 0
	for i < len(s) && isAlpha(s[i]) {
		i++
	}
	return s[:i]
}

func (r *dtResult) decodeWord(f dtField, e dtError) error {
	w := f.s
	if m := monthOf(w); m != 0 {
		if r.haveMon && !r.monFromText && !r.haveDay && r.mon >= 1 && r.mon <= 31 {
			// "2 Jan 2024": the number read as a month was the day.
			r.day, r.haveDay = r.mon, true
		} else if r.haveMon {
			return e.syntax()
		}
		r.mon, r.haveMon, r.monFromText = m, true, true
		return nil
	}
	switch {
	case isWeekday(w), w == "ad", w == "at", w == "on":
		return nil
	case w == "am" || w == "pm":
		if r.ampm != 0 {
			return e.syntax()
		}
		r.ampm = 1
		if w == "pm" {
			r.ampm = 2
		}
		return nil
	case w == "bc":
		if r.bc {
			return e.syntax()
		}
		r.bc = true
		return nil
	case w == "t":
		r.isoTime = true
		return nil
	case w == "allballs":
		if r.haveTime {
			return e.syntax()
		}
		r.haveTime = true
		return nil
	}
	if off, ok := zoneAbbrevs[w]; ok {
		if r.haveZone {
			return e.syntax()
		}
		r.haveZone, r.zoneOffset = true, off
		return nil
	}
	if strings.IndexByte(w, '/') >= 0 || strings.IndexByte(w, '_') >= 0 {
		return r.setZoneName(f.orig, e)
	}
	return e.syntax()
}

// atoi parses a run of digits (no sign), failing past 9 digits.
func atoi(s string) (int64, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, true
}

// decodeDate is DecodeDate: parts joined by one delimiter, with an
// optional month name; YMD when the first part has more than two digits,
// else MDY.
func (r *dtResult) decodeDate(s string, e dtError) error {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '-' || s[i] == '/' || s[i] == '.' {
			if n == 3 || i == start {
				return e.syntax()
			}
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	var nums [3]string
	nn := 0
	for _, p := range parts[:n] {
		if isAlpha(p[0]) {
			m := monthOf(p)
			if m == 0 || r.haveMon {
				if p == "bc" && !r.bc {
					r.bc = true
					continue
				}
				if p == "ad" {
					continue
				}
				return e.syntax()
			}
			r.mon, r.haveMon, r.monFromText = m, true, true
			continue
		}
		nums[nn] = p
		nn++
	}
	if !r.monFromText && nn == 3 && len(nums[0]) > 2 {
		// YMD
		return r.setYMD(nums[0], nums[1], nums[2], e)
	}
	if !r.monFromText && nn == 3 {
		return r.setYMD(nums[2], nums[0], nums[1], e)
	}
	for _, p := range nums[:nn] {
		if err := r.decodeNumber(p, e); err != nil {
			return err
		}
	}
	return nil
}

func (r *dtResult) setYMD(y, m, d string, e dtError) error {
	yv, ok1 := atoi(y)
	mv, ok2 := atoi(m)
	dv, ok3 := atoi(d)
	if !ok1 || !ok2 || !ok3 {
		if ok2 && ok3 && len(y) > 9 {
			return e.fieldRange()
		}
		return e.syntax()
	}
	r.year, r.mon, r.day = yv, mv, dv
	r.haveYear, r.haveMon, r.haveDay = true, true, true
	r.year2 = len(y) <= 2
	return nil
}

// decodeNumber is DecodeNumber/DecodeNumberField: a bare number fills the
// next date field, or is a run-together date or time.
func (r *dtResult) decodeNumber(s string, e dtError) error {
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i:]
		if strings.IndexByte(frac[1:], '.') >= 0 {
			return e.syntax()
		}
	}
	haveDate := r.haveYear && r.haveMon && r.haveDay
	if r.isoTime || (haveDate && !r.haveTime && (len(intPart) == 6 || len(intPart) == 4) && !r.haveZone) {
		r.isoTime = false
		// hhmmss, hhmm or hh after a date (or after 'T').
		var h, m, sec int64
		var ok bool
		switch len(intPart) {
		case 6:
			h, _ = atoi(intPart[0:2])
			m, _ = atoi(intPart[2:4])
			sec, ok = atoi(intPart[4:6])
		case 4:
			h, _ = atoi(intPart[0:2])
			m, ok = atoi(intPart[2:4])
		case 2:
			h, ok = atoi(intPart)
		}
		if !ok {
			return e.syntax()
		}
		r.hour, r.min, r.sec, r.haveTime = h, m, sec, true
		return r.setFraction(frac, e)
	}
	if frac != "" {
		if intPart == "" && r.haveTime && r.us == 0 {
			return r.setFraction(frac, e)
		}
		return e.syntax()
	}
	if e.kind == dtTime && !r.haveTime && !r.haveYear && !r.haveMon && !r.haveDay && (len(s) == 6 || len(s) == 4) {
		r.isoTime = true
		return r.decodeNumber(s, e)
	}
	if !r.haveYear && !r.haveMon && !r.haveDay && (len(s) == 8 || len(s) == 6) {
		yl := len(s) - 4
		return r.setYMD(s[:yl], s[yl:yl+2], s[yl+2:], e)
	}
	v, ok := atoi(s)
	if !ok {
		if len(s) > 9 {
			return e.fieldRange()
		}
		return e.syntax()
	}
	switch {
	case len(s) >= 3 && !r.haveYear:
		r.year, r.haveYear = v, true
	case r.haveMon && !r.haveDay && (r.monFromText || r.haveYear) && v <= 31:
		r.day, r.haveDay = v, true
	case !r.haveMon && !r.haveYear:
		r.mon, r.haveMon = v, true
	case !r.haveDay && r.haveMon:
		r.day, r.haveDay = v, true
	case !r.haveYear:
		r.year, r.haveYear, r.year2 = v, true, len(s) <= 2
	default:
		return e.syntax()
	}
	return nil
}

// decodeTime is DecodeTime: h:m, h:m:s or h:m:s.f.
func (r *dtResult) decodeTime(s string, e dtError) error {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ':' {
			if n == 3 {
				return e.syntax()
			}
			parts[n] = s[start:i]
			n++
			start = i + 1
		}
	}
	if n < 2 {
		return e.syntax()
	}
	h, ok := atoi(parts[0])
	if !ok {
		return e.syntax()
	}
	last := parts[n-1]
	frac := ""
	if i := strings.IndexByte(last, '.'); i >= 0 {
		last, frac = last[:i], last[i:]
	}
	var m, sec int64
	if n == 2 {
		m, ok = atoi(last)
	} else {
		m, ok = atoi(parts[1])
		if ok {
			sec, ok = atoi(last)
		}
	}
	if !ok {
		return e.syntax()
	}
	if n == 2 && frac != "" {
		// mm:ss.fff
		h, m, sec = 0, h, m
	}
	r.hour, r.min, r.sec, r.haveTime = h, m, sec, true
	return r.setFraction(frac, e)
}

// setFraction sets the microseconds from ".fff" the way PostgreSQL does:
// rint(strtod(frac) * 1e6).
func (r *dtResult) setFraction(frac string, e dtError) error {
	if frac == "" || frac == "." {
		return nil
	}
	for i := 1; i < len(frac); i++ {
		if !isDigit(frac[i]) {
			return e.syntax()
		}
	}
	f, err := strconv.ParseFloat("0"+frac, 64)
	if err != nil {
		return e.syntax()
	}
	r.us = int64(math.RoundToEven(f * usPerSec))
	return nil
}

// compose checks the fields and builds the value.
func (r *dtResult) compose(kind dtKind, e dtError) (int64, error) {
	var tod int64
	if r.haveTime {
		h := r.hour
		switch r.ampm {
		case 1:
			if h > 12 {
				return 0, e.fieldRange()
			}
			if h == 12 {
				h = 0
			}
		case 2:
			if h > 12 {
				return 0, e.fieldRange()
			}
			if h != 12 {
				h += 12
			}
		}
		if h < 0 || r.min > 59 || r.sec > 60 || r.us < 0 || r.us > usPerSec ||
			h > 24 || (h == 24 && (r.min > 0 || r.sec > 0 || r.us > 0)) {
			return 0, e.fieldRange()
		}
		tod = ((h*60+r.min)*60+r.sec)*usPerSec + r.us
	} else if r.ampm != 0 {
		return 0, e.syntax()
	}
	if kind == dtTime {
		if r.haveYear || r.haveMon || r.haveDay {
			if !(r.haveYear && r.haveMon && r.haveDay) {
				return 0, e.syntax()
			}
		}
		if !r.haveTime {
			return 0, e.syntax()
		}
		if tod > usPerDay {
			return 0, e.fieldRange()
		}
		return tod, nil
	}
	if !(r.haveYear && r.haveMon && r.haveDay) {
		return 0, e.syntax()
	}
	y := r.year
	if r.julian {
		if r.bc {
			return 0, e.syntax()
		}
	} else if r.bc {
		if y <= 0 {
			return 0, e.fieldRange()
		}
		y = 1 - y
	} else if r.year2 {
		if y < 70 {
			y += 2000
		} else if y < 100 {
			y += 1900
		}
	} else if y == 0 {
		return 0, e.fieldRange()
	}
	if r.mon < 1 || r.mon > 12 {
		return 0, e.monthRange()
	}
	if r.day < 1 || r.day > daysInMonth(y, r.mon) {
		return 0, e.fieldRange()
	}
	days := daysFromCivil(y, r.mon, r.day) - pgEpochUnixDays
	if kind == dtDate {
		if days < minDateDays || days >= endDateDays {
			return 0, pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range: \"%s\"", e.s)
		}
		return days, nil
	}
	tsErr := pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp out of range: \"%s\"", e.s)
	if days < minTimestamp/usPerDay-1 || days > endTimestamp/usPerDay+1 {
		return 0, tsErr
	}
	us := days*usPerDay + tod
	if kind == dtTimestampTZ && r.haveZone {
		off := r.zoneOffset
		if r.zoneLoc != nil {
			off = zoneOffsetAt(r.zoneLoc, us)
		}
		us -= off * usPerSec
	}
	if us < minTimestamp || us >= endTimestamp {
		return 0, tsErr
	}
	return us, nil
}
