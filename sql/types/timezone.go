package types

import (
	"strings"
	"sync"
	"time"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Time zones in date/time input: numeric offsets, a few abbreviations and
// the full names of the system's zone database. The session zone is
// always UTC, so zones only matter for timestamptz input.

// zoneAbbrevs holds a few zone abbreviations of PostgreSQL's Default set
// (offset east of UTC, seconds).
var zoneAbbrevs = map[string]int64{
	"utc": 0, "gmt": 0, "ut": 0, "z": 0, "zulu": 0, "wet": 0,
	"est": -5 * 3600, "edt": -4 * 3600, "cst": -6 * 3600, "cdt": -5 * 3600,
	"mst": -7 * 3600, "mdt": -6 * 3600, "pst": -8 * 3600, "pdt": -7 * 3600,
	"akst": -9 * 3600, "akdt": -8 * 3600, "hst": -10 * 3600,
	"cet": 3600, "cest": 2 * 3600, "eet": 2 * 3600, "eest": 3 * 3600, "west": 3600,
	"bst": 3600, "msk": 3 * 3600, "ist": 2 * 3600, "jst": 9 * 3600,
	"aest": 10 * 3600, "aedt": 11 * 3600, "nzst": 12 * 3600, "nzdt": 13 * 3600,
}

// zoneCache remembers the zones loaded by name (time.LoadLocation reads
// the zone database on every call).
var zoneCache sync.Map // string -> *time.Location

// loadZone returns the zone named name, as time.LoadLocation finds it.
func loadZone(name string) (*time.Location, bool) {
	if name == "" || name == "Local" {
		return nil, false
	}
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), true
	}
	// PostgreSQL matches zone names in any case; the zone database's
	// files are spelled "America/New_York", "EST5EDT", "UTC".
	for _, cand := range [...]string{name, zoneTitle(name), strings.ToUpper(name)} {
		if loc, err := time.LoadLocation(cand); err == nil {
			zoneCache.Store(name, loc)
			return loc, true
		}
	}
	return nil, false
}

// zoneTitle spells a zone name the way the zone database does:
// "america/new_york" becomes "America/New_York".
func zoneTitle(name string) string {
	b := []byte(strings.ToLower(name))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '/' || c == '_' || c == '-'
	}
	return string(b)
}

// setZoneName resolves a full time zone name such as "America/New_York".
func (r *dtResult) setZoneName(name string, e dtError) error {
	if r.haveZone {
		return e.syntax()
	}
	loc, ok := loadZone(name)
	if !ok {
		return pgerror.New(pgerror.CodeInvalidParameterValue, "time zone \"%s\" not recognized", lowerASCII(name))
	}
	r.haveZone, r.zoneLoc = true, loc
	return nil
}

// decodeZoneOffset is DecodeTimezone: +hh, +hhmm, +hh:mm, +hh:mm:ss;
// it returns seconds east of UTC.
func decodeZoneOffset(s string, e dtError) (int64, error) {
	neg := s[0] == '-'
	p := strings.TrimLeft(s[1:], " \t")
	var parts [3]int64
	n := 0
	cur := int64(-1)
	digits := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isDigit(c) {
			if cur < 0 {
				cur = 0
			}
			if cur < 1e9 {
				cur = cur*10 + int64(c-'0')
			}
			digits++
			continue
		}
		if c != ':' || cur < 0 || n == 2 {
			return 0, e.syntax()
		}
		parts[n] = cur
		n++
		cur = -1
	}
	if cur < 0 {
		return 0, e.syntax()
	}
	parts[n] = cur
	n++
	hr, min, sec := parts[0], parts[1], parts[2]
	if n == 1 && digits > 2 {
		hr, min = parts[0]/100, parts[0]%100
	}
	if hr > 15 || min >= 60 || sec >= 60 {
		return 0, pgerror.New(codeInvalidTimeZoneDisplacement, "time zone displacement out of range: \"%s\"", e.s)
	}
	off := (hr*60+min)*60 + sec
	if neg {
		off = -off
	}
	return off, nil
}

// zoneOffsetAt returns the offset (seconds east) that loc has at the
// local wall-clock time us (microseconds since 2000-01-01 local). Like
// PostgreSQL's DetermineTimeZoneOffset, a time skipped by a spring-forward
// transition takes the offset from before it, and a time repeated by a
// fall-back transition takes the offset from after it.
func zoneOffsetAt(loc *time.Location, us int64) int64 {
	local := pgEpochUnix + floorDiv(us, usPerSec)
	offsetAt := func(sec int64) int64 {
		_, off := time.Unix(sec, 0).In(loc).Zone()
		return int64(off)
	}
	before, after := offsetAt(local-86400), offsetAt(local+86400)
	validBefore := offsetAt(local-before) == before
	validAfter := offsetAt(local-after) == after
	switch {
	case validBefore && validAfter:
		return after
	case validBefore:
		return before
	case validAfter:
		return after
	}
	return before
}
