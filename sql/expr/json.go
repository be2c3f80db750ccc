package expr

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// A small JSON model for the json operators and builders. json values keep
// their text exactly (a sub-value of a json document is its original
// span); jsonb values are printed the way PostgreSQL prints jsonb: object
// keys sorted by length then bytes without duplicates (the last wins),
// ", " and ": " separators, numbers as numeric prints them.

// jval is a parsed JSON value.
type jval struct {
	kind byte   // 'o' object, 'a' array, 's' string, 'n' number, 't' true, 'f' false, 'z' null
	str  string // string value (unescaped) or number text
	keys []string
	vals []*jval // object values (parallel to keys) or array elements
	raw  string  // the value's text in the parsed document
}

func errJSONSyntax(s string) error {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return pgerror.New(pgerror.CodeInvalidTextRepresentation, "invalid input syntax for type json").
		WithDetail("The input string ended unexpectedly or contains invalid JSON: %s", s)
}

// parseJSON parses one JSON document.
func parseJSON(s string) (*jval, error) {
	p := jparser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, errJSONSyntax(s)
	}
	return v, nil
}

type jparser struct {
	s string
	i int
}

func (p *jparser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jparser) value() (*jval, error) {
	p.ws()
	if p.i >= len(p.s) {
		return nil, errJSONSyntax(p.s)
	}
	start := p.i
	var v *jval
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		v = &jval{kind: 'o'}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			break
		}
		for {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return nil, errJSONSyntax(p.s)
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, errJSONSyntax(p.s)
			}
			p.i++
			x, err := p.value()
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, k)
			v.vals = append(v.vals, x)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				break
			}
			return nil, errJSONSyntax(p.s)
		}
	case c == '[':
		p.i++
		v = &jval{kind: 'a'}
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			break
		}
		for {
			x, err := p.value()
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, x)
			p.ws()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				break
			}
			return nil, errJSONSyntax(p.s)
		}
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		v = &jval{kind: 's', str: s}
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.s) && strings.IndexByte("0123456789.eE+-", p.s[j]) >= 0 {
			j++
		}
		v = &jval{kind: 'n', str: p.s[p.i:j]}
		p.i = j
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		v = &jval{kind: 't'}
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		v = &jval{kind: 'f'}
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		v = &jval{kind: 'z'}
	default:
		return nil, errJSONSyntax(p.s)
	}
	v.raw = p.s[start:p.i]
	return v, nil
}

// str reads a string literal at p.i (which is '"').
func (p *jparser) str() (string, error) {
	p.i++
	start := p.i
	simple := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			simple = false
			p.i++
		}
		p.i++
	}
	if p.i >= len(p.s) {
		return "", errJSONSyntax(p.s)
	}
	lit := p.s[start:p.i]
	p.i++
	if simple {
		return lit, nil
	}
	s, err := strconv.Unquote(`"` + lit + `"`)
	if err != nil {
		// JSON escapes that Go lacks: \/ ; surrogate pairs are handled by Unquote.
		s, err = strconv.Unquote(`"` + strings.ReplaceAll(lit, `\/`, `/`) + `"`)
		if err != nil {
			return "", errJSONSyntax(p.s)
		}
	}
	return s, nil
}

// jsonQuote appends s as a JSON string literal (escape_json).
func jsonQuote(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			sb.WriteString(`\"`)
		case c == '\\':
			sb.WriteString(`\\`)
		case c == '\b':
			sb.WriteString(`\b`)
		case c == '\f':
			sb.WriteString(`\f`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c < 0x20:
			sb.WriteString(`\u00`)
			sb.WriteByte("0123456789abcdef"[c>>4])
			sb.WriteByte("0123456789abcdef"[c&15])
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			sb.WriteString(s[i : i+n])
			i += n
			continue
		}
		i++
	}
	sb.WriteByte('"')
}

// jsonbNumber is a JSON number as jsonb stores it (numeric output).
func jsonbNumber(s string) string {
	d, _, err := apd.NewFromString(s)
	if err != nil {
		return s
	}
	return numText(fixExp(d))
}

// normalize sorts object keys as jsonb does and drops duplicates (keeping
// the last value), recursively.
func (v *jval) normalize() {
	switch v.kind {
	case 'a':
		for _, x := range v.vals {
			x.normalize()
		}
	case 'o':
		idx := make([]int, len(v.keys))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return jsonbKeyLess(v.keys[idx[a]], v.keys[idx[b]]) })
		var keys []string
		var vals []*jval
		for _, i := range idx {
			v.vals[i].normalize()
			if n := len(keys); n > 0 && keys[n-1] == v.keys[i] {
				vals[n-1] = v.vals[i] // later duplicates win
				continue
			}
			keys = append(keys, v.keys[i])
			vals = append(vals, v.vals[i])
		}
		v.keys, v.vals = keys, vals
	}
}

func jsonbKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// writeJSONB prints v as jsonb output does; v must be normalized.
func (v *jval) writeJSONB(sb *strings.Builder) {
	switch v.kind {
	case 'o':
		sb.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			jsonQuote(sb, k)
			sb.WriteString(": ")
			v.vals[i].writeJSONB(sb)
		}
		sb.WriteByte('}')
	case 'a':
		sb.WriteByte('[')
		for i, x := range v.vals {
			if i > 0 {
				sb.WriteString(", ")
			}
			x.writeJSONB(sb)
		}
		sb.WriteByte(']')
	case 's':
		jsonQuote(sb, v.str)
	case 'n':
		sb.WriteString(jsonbNumber(v.str))
	case 't':
		sb.WriteString("true")
	case 'f':
		sb.WriteString("false")
	default:
		sb.WriteString("null")
	}
}

func (v *jval) jsonbText() types.JSON {
	var sb strings.Builder
	v.writeJSONB(&sb)
	return types.JSON(sb.String())
}

// textOfJSON is ->> and #>>: a string's value, other values' text, NULL
// for JSON null.
func textOfJSON(v *jval, jsonb bool) types.Datum {
	switch v.kind {
	case 's':
		return v.str
	case 'z':
		return nil
	}
	if jsonb {
		return string(v.jsonbText())
	}
	return v.raw
}

// asJSON is a sub-value as a json or jsonb datum.
func asJSON(v *jval, jsonb bool) types.Datum {
	if jsonb {
		return v.jsonbText()
	}
	return types.JSON(v.raw)
}

// field returns the object member key (the last one for json, which keeps
// duplicates), or nil.
func (v *jval) field(key string) *jval {
	if v.kind != 'o' {
		return nil
	}
	for i := len(v.keys) - 1; i >= 0; i-- {
		if v.keys[i] == key {
			return v.vals[i]
		}
	}
	return nil
}

// index returns array element i (negative counts from the end), or nil.
func (v *jval) index(i int64) *jval {
	if v.kind != 'a' {
		return nil
	}
	if i < 0 {
		i += int64(len(v.vals))
	}
	if i < 0 || i >= int64(len(v.vals)) {
		return nil
	}
	return v.vals[i]
}

// contains is jsonb @>: every member or element of b is in a.
func (a *jval) contains(b *jval, top bool) bool {
	if a.kind != b.kind {
		// A top-level array contains a scalar that is one of its elements.
		if top && a.kind == 'a' && b.kind != 'o' && b.kind != 'a' {
			for _, x := range a.vals {
				if x.contains(b, false) {
					return true
				}
			}
		}
		return false
	}
	switch a.kind {
	case 'o':
		for i, k := range b.keys {
			x := a.field(k)
			if x == nil || !x.contains(b.vals[i], false) {
				return false
			}
		}
		return true
	case 'a':
		for _, y := range b.vals {
			found := false
			for _, x := range a.vals {
				if y.kind != 'o' && y.kind != 'a' && x.kind != y.kind {
					continue
				}
				if x.contains(y, false) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	case 's':
		return a.str == b.str
	case 'n':
		return jsonbNumber(a.str) == jsonbNumber(b.str) || numEqual(a.str, b.str)
	}
	return true
}

func numEqual(a, b string) bool {
	x, _, err1 := apd.NewFromString(a)
	y, _, err2 := apd.NewFromString(b)
	return err1 == nil && err2 == nil && x.Cmp(y) == 0
}

// toJSONVal converts a datum of type t to a JSON value (to_jsonb).
func toJSONVal(t types.T, d types.Datum) (*jval, error) {
	if d == nil {
		return &jval{kind: 'z'}, nil
	}
	switch t.Family() {
	case types.BoolFamily:
		if d.(bool) {
			return &jval{kind: 't'}, nil
		}
		return &jval{kind: 'f'}, nil
	case types.IntFamily:
		return &jval{kind: 'n', str: itoa(d.(int64))}, nil
	case types.FloatFamily:
		f := d.(float64)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return &jval{kind: 's', str: datumText(t, d)}, nil
		}
		return &jval{kind: 'n', str: datumText(t, d)}, nil
	case types.DecimalFamily:
		if isSpecial(d.(*apd.Decimal)) {
			return &jval{kind: 's', str: numText(d.(*apd.Decimal))}, nil
		}
		return &jval{kind: 'n', str: numText(d.(*apd.Decimal))}, nil
	case types.JSONFamily:
		return parseJSON(string(d.(types.JSON)))
	case types.ArrayFamily:
		arr := d.(*types.Array)
		v := &jval{kind: 'a'}
		for _, e := range arr.Elems {
			x, err := toJSONVal(t.Elem(), e)
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, x)
		}
		return v, nil
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily:
		return &jval{kind: 's', str: jsonTime(t, d.(time.Time))}, nil
	}
	return &jval{kind: 's', str: datumText(t, d)}, nil
}

// jsonTime formats a date or timestamp as JSON does (ISO 8601 with "T").
func jsonTime(t types.T, tm time.Time) string {
	switch t.Oid {
	case types.OidDate:
		return tm.Format("2006-01-02")
	case types.OidTimestamp:
		return tm.Format("2006-01-02T15:04:05.999999")
	}
	return tm.Format("2006-01-02T15:04:05.999999-07:00")
}

// writeJSON prints v as json output of json builders does: arrays from SQL
// arrays without spaces, nested json verbatim.
func (v *jval) writeJSON(sb *strings.Builder) {
	switch v.kind {
	case 'o':
		if v.raw != "" {
			sb.WriteString(v.raw)
			return
		}
		sb.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			jsonQuote(sb, k)
			sb.WriteString(" : ")
			v.vals[i].writeJSON(sb)
		}
		sb.WriteByte('}')
	case 'a':
		if v.raw != "" {
			sb.WriteString(v.raw)
			return
		}
		sb.WriteByte('[')
		for i, x := range v.vals {
			if i > 0 {
				sb.WriteByte(',')
			}
			x.writeJSON(sb)
		}
		sb.WriteByte(']')
	case 's':
		jsonQuote(sb, v.str)
	case 'n':
		sb.WriteString(v.str)
	case 't':
		sb.WriteString("true")
	case 'f':
		sb.WriteString("false")
	default:
		sb.WriteString("null")
	}
}
