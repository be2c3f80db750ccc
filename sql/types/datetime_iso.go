package types

// A fast path for the ISO 8601 forms that clients and PostgreSQL itself
// print; everything else goes through the general parser of
// datetime_parse.go.

// parseISOFast parses the common ISO 8601 forms without allocating:
// YYYY-MM-DD, then optionally ' ' or 'T' and hh:mm[:ss[.ffffff]], then
// optionally Z or ±hh[[:]mm]. It reports false for anything else, which
// then goes through the general parser.
func parseISOFast(kind dtKind, p string) (int64, bool) {
	num := func(s string) (int64, bool) {
		var v int64
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		return v, true
	}
	if kind == dtTime || len(p) < 10 || p[4] != '-' || p[7] != '-' {
		return 0, false
	}
	y, ok1 := num(p[0:4])
	m, ok2 := num(p[5:7])
	d, ok3 := num(p[8:10])
	if !ok1 || !ok2 || !ok3 || y == 0 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, false
	}
	days := daysFromCivil(y, m, d) - pgEpochUnixDays
	p = p[10:]
	if kind == dtDate {
		if p != "" {
			return 0, false
		}
		return days, true
	}
	var tod int64
	if p != "" {
		if len(p) < 6 || (p[0] != ' ' && p[0] != 'T') || p[3] != ':' {
			return 0, false
		}
		h, ok1 := num(p[1:3])
		mi, ok2 := num(p[4:6])
		if !ok1 || !ok2 || h > 23 || mi > 59 {
			return 0, false
		}
		p = p[6:]
		var sec, us int64
		if len(p) >= 3 && p[0] == ':' {
			var ok bool
			if sec, ok = num(p[1:3]); !ok || sec > 59 {
				return 0, false
			}
			p = p[3:]
			if len(p) > 0 && p[0] == '.' {
				n := 1
				for n < len(p) && isDigit(p[n]) {
					n++
				}
				if n == 1 || n > 7 {
					return 0, false
				}
				us, _ = num(p[1:n])
				for k := n; k < 7; k++ {
					us *= 10
				}
				p = p[n:]
			}
		}
		tod = ((h*60+mi)*60+sec)*usPerSec + us
	}
	us := days*usPerDay + tod
	if p == "" {
		return us, true
	}
	var off int64
	switch {
	case p == "Z":
	case (p[0] == '+' || p[0] == '-') && (len(p) == 3 || len(p) == 5 || (len(p) == 6 && p[3] == ':')):
		h, ok1 := num(p[1:3])
		var mi int64
		ok2 := true
		switch len(p) {
		case 5:
			mi, ok2 = num(p[3:5])
		case 6:
			mi, ok2 = num(p[4:6])
		}
		if !ok1 || !ok2 || h > 15 || mi > 59 {
			return 0, false
		}
		off = (h*60 + mi) * 60
		if p[0] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	if kind == dtTimestampTZ {
		us -= off * usPerSec
	}
	return us, true
}
