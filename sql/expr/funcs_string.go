package expr

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

var (
	text  = types.Text
	int4  = types.Int4
	int8  = types.Int8
	bool_ = types.Bool
)

// stringFuncs are the string functions of PostgreSQL's pg_proc. Lengths and
// positions count characters (UTF-8 code points).
var stringFuncs = map[string][]overload{
	"lower":            {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return strings.ToLower(a.(string)), nil })},
	"upper":            {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return strings.ToUpper(a.(string)), nil })},
	"length":           {f1(int4, text, textLength), f1(int4, types.BPChar, bpcharLength), f1(int4, types.Bytea, bytesLength)},
	"char_length":      {f1(int4, text, textLength), f1(int4, types.BPChar, bpcharLength)},
	"character_length": {f1(int4, text, textLength), f1(int4, types.BPChar, bpcharLength)},
	// octet_length(character(n)) counts the padding; length() does not.
	"octet_length": {f1(int4, text, octetLength), f1(int4, types.BPChar, octetLength), f1(int4, types.Bytea, bytesLength)},
	"bit_length":   {f1(int4, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return int64(8 * len(a.(string))), nil })},
	"substring": {
		fN(text, ts(text, int4, int4), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return substr(a[0].(string), a[1].(int64), a[2].(int64), true)
		}),
		f2(text, text, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return substr(a.(string), b.(int64), 0, false) }),
		f2(text, text, text, regexSubstring).bind_(bindRegexSubstring),
	},
	"substr": {
		fN(text, ts(text, int4, int4), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return substr(a[0].(string), a[1].(int64), a[2].(int64), true)
		}),
		f2(text, text, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return substr(a.(string), b.(int64), 0, false) }),
	},
	"position":  {f2(int4, text, text, strpos)},
	"strpos":    {f2(int4, text, text, strpos)},
	"concat":    {fN(text, ts(types.Any), nil).variadic_().lax_().bind_(bindConcat)},
	"concat_ws": {fN(text, ts(text, types.Any), nil).variadic_().lax_().bind_(bindConcatWS)},
	"replace": {fN(text, ts(text, text, text), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		if a[1].(string) == "" {
			return a[0], nil
		}
		return strings.ReplaceAll(a[0].(string), a[1].(string), a[2].(string)), nil
	})},
	"btrim": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return strings.Trim(a.(string), " "), nil }),
		f2(text, text, text, func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return strings.Trim(a.(string), b.(string)), nil })},
	"ltrim": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return strings.TrimLeft(a.(string), " "), nil }),
		f2(text, text, text, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return strings.TrimLeft(a.(string), b.(string)), nil
		})},
	"rtrim": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return strings.TrimRight(a.(string), " "), nil }),
		f2(text, text, text, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return strings.TrimRight(a.(string), b.(string)), nil
		})},
	"left":  {f2(text, text, int4, leftFn)},
	"right": {f2(text, text, int4, rightFn)},
	"lpad": {f2(text, text, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return pad(a.(string), b.(int64), " ", true) }),
		fN(text, ts(text, int4, text), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return pad(a[0].(string), a[1].(int64), a[2].(string), true)
		})},
	"rpad": {f2(text, text, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) { return pad(a.(string), b.(int64), " ", false) }),
		fN(text, ts(text, int4, text), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return pad(a[0].(string), a[1].(int64), a[2].(string), false)
		})},
	"repeat": {f2(text, text, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		n := b.(int64)
		if n <= 0 {
			return "", nil
		}
		if int64(len(a.(string)))*n > 1<<30-1 {
			return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "requested length too large")
		}
		return strings.Repeat(a.(string), int(n)), nil
	})},
	"reverse": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		r := []rune(a.(string))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	})},
	"split_part": {fN(text, ts(text, text, int4), splitPart)},
	"initcap":    {f1(text, text, initcap)},
	"md5": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		s := md5.Sum([]byte(a.(string)))
		return hex.EncodeToString(s[:]), nil
	}), f1(text, types.Bytea, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		s := md5.Sum(a.([]byte))
		return hex.EncodeToString(s[:]), nil
	})},
	"to_hex": {
		f1(text, int4, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			return strconv.FormatUint(uint64(uint32(a.(int64))), 16), nil
		}),
		f1(text, int8, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			return strconv.FormatUint(uint64(a.(int64)), 16), nil
		}),
	},
	"chr": {f1(text, int4, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		n := a.(int64)
		switch {
		case n == 0:
			return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "null character not permitted")
		case n < 0:
			return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "character number must be positive")
		case n > unicode.MaxRune || n >= 0xD800 && n <= 0xDFFF:
			return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "requested character too large for encoding: %d", n)
		}
		return string(rune(n)), nil
	})},
	"ascii": {f1(int4, text, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		r, n := utf8.DecodeRuneInString(a.(string))
		if n == 0 {
			return int64(0), nil
		}
		return int64(r), nil
	})},
	"starts_with": {f2(bool_, text, text, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		return strings.HasPrefix(a.(string), b.(string)), nil
	})},
	"translate": {fN(text, ts(text, text, text), translate)},
	"format":    {fN(text, ts(text, types.Any), nil).variadic_().lax_().bind_(bindFormat)},
	"regexp_replace": {
		fN(text, ts(text, text, text), nil).bind_(bindRegexpReplace),
		fN(text, ts(text, text, text, text), nil).bind_(bindRegexpReplace),
	},
	"like_escape": {f2(text, text, text, likeEscape)},
	"similar_to_escape": {
		f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return similarToEscape(a.(string), "", false) }),
		f2(text, text, text, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return similarToEscape(a.(string), b.(string), true)
		}),
	},
	"quote_ident": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return quoteIdent(a.(string)), nil })},
	"quote_literal": {
		f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) { return quoteLiteral(a.(string)), nil }),
		f1(text, anyElement, nil).bind_(bindQuoteLiteral),
	},
	"quote_nullable": {
		f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) {
			if a == nil {
				return "NULL", nil
			}
			return quoteLiteral(a.(string)), nil
		}).lax_(),
	},
	"overlay": {
		fN(text, ts(text, text, int4, int4), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return overlay(a[0].(string), a[1].(string), a[2].(int64), a[3].(int64))
		}),
		fN(text, ts(text, text, int4), func(_ *Ctx, a []types.Datum) (types.Datum, error) {
			return overlay(a[0].(string), a[1].(string), a[2].(int64), int64(utf8.RuneCountInString(a[1].(string))))
		}),
	},
	"string_to_array": {
		f2(types.TextArray, text, text, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			return stringToArray(a.(string), b, nil), nil
		}).lax_().bind_(bindStringToArray),
		fN(types.TextArray, ts(text, text, text), nil).lax_().bind_(bindStringToArray),
	},
}

func textLength(_ *Ctx, a types.Datum) (types.Datum, error) {
	return int64(utf8.RuneCountInString(a.(string))), nil
}

func bpcharLength(_ *Ctx, a types.Datum) (types.Datum, error) {
	return int64(utf8.RuneCountInString(strings.TrimRight(a.(string), " "))), nil
}

func octetLength(_ *Ctx, a types.Datum) (types.Datum, error) { return int64(len(a.(string))), nil }

func bytesLength(_ *Ctx, a types.Datum) (types.Datum, error) { return int64(len(a.([]byte))), nil }

// substr is substring(s from start [for count]) on characters.
func substr(s string, start, count int64, hasCount bool) (types.Datum, error) {
	if hasCount && count < 0 {
		return nil, pgerror.New("22011", "negative substring length not allowed")
	}
	from := start
	if from < 1 {
		from = 1
	}
	var to int64 = -1 // exclusive end position (1-based), -1 = end
	if hasCount {
		to = start + count
		if to < start { // overflow
			to = -1
		} else if to <= from {
			return "", nil
		}
	}
	// Walk runes to byte offsets.
	pos := int64(1)
	bstart, bend := len(s), len(s)
	for i := range s {
		if pos == from {
			bstart = i
		}
		if to >= 0 && pos == to {
			bend = i
			break
		}
		pos++
	}
	if bstart > bend {
		return "", nil
	}
	return s[bstart:bend], nil
}

func strpos(_ *Ctx, a, b types.Datum) (types.Datum, error) {
	s, sub := a.(string), b.(string)
	i := strings.Index(s, sub)
	if i < 0 {
		return int64(0), nil
	}
	return int64(utf8.RuneCountInString(s[:i]) + 1), nil
}

func leftFn(_ *Ctx, a, b types.Datum) (types.Datum, error) {
	r := []rune(a.(string))
	n := b.(int64)
	if n < 0 {
		n = int64(len(r)) + n
		if n < 0 {
			n = 0
		}
	}
	if n > int64(len(r)) {
		n = int64(len(r))
	}
	return string(r[:n]), nil
}

func rightFn(_ *Ctx, a, b types.Datum) (types.Datum, error) {
	r := []rune(a.(string))
	n := b.(int64)
	if n < 0 {
		n = int64(len(r)) + n
		if n < 0 {
			n = 0
		}
	}
	if n > int64(len(r)) {
		n = int64(len(r))
	}
	return string(r[int64(len(r))-n:]), nil
}

func pad(s string, n int64, fill string, left bool) (types.Datum, error) {
	if n <= 0 {
		return "", nil
	}
	if n > 1<<28 {
		return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "requested length too large")
	}
	r := []rune(s)
	if int64(len(r)) >= n || fill == "" {
		if int64(len(r)) > n {
			r = r[:n]
		}
		return string(r), nil
	}
	fr := []rune(fill)
	padding := make([]rune, 0, n-int64(len(r)))
	for i := 0; int64(len(padding)) < n-int64(len(r)); i++ {
		padding = append(padding, fr[i%len(fr)])
	}
	if left {
		return string(padding) + s, nil
	}
	return s + string(padding), nil
}

func splitPart(_ *Ctx, a []types.Datum) (types.Datum, error) {
	s, delim, n := a[0].(string), a[1].(string), a[2].(int64)
	if n == 0 {
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "field position must not be zero")
	}
	var parts []string
	if delim == "" {
		parts = []string{s}
		if s == "" {
			parts = nil
		}
	} else {
		parts = strings.Split(s, delim)
		if s == "" {
			parts = nil
		}
	}
	if n < 0 {
		n = int64(len(parts)) + n + 1
	}
	if n < 1 || n > int64(len(parts)) {
		return "", nil
	}
	return parts[n-1], nil
}

func initcap(_ *Ctx, a types.Datum) (types.Datum, error) {
	var sb strings.Builder
	prevAlnum := false
	for _, r := range a.(string) {
		if prevAlnum {
			sb.WriteRune(unicode.ToLower(r))
		} else {
			sb.WriteRune(unicode.ToUpper(r))
		}
		prevAlnum = unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	return sb.String(), nil
}

func translate(_ *Ctx, a []types.Datum) (types.Datum, error) {
	from, to := []rune(a[1].(string)), []rune(a[2].(string))
	var sb strings.Builder
	for _, r := range a[0].(string) {
		i := -1
		for j, f := range from {
			if f == r {
				i = j
				break
			}
		}
		switch {
		case i < 0:
			sb.WriteRune(r)
		case i < len(to):
			sb.WriteRune(to[i])
		}
	}
	return sb.String(), nil
}

func overlay(s, repl string, from, count int64) (types.Datum, error) {
	if from < 1 {
		return nil, pgerror.New("22011", "negative substring length not allowed")
	}
	head, err := substr(s, 1, from-1, true)
	if err != nil {
		return nil, err
	}
	tail, err := substr(s, from+count, 0, false)
	if err != nil {
		return nil, err
	}
	return head.(string) + repl + tail.(string), nil
}

// textOf returns a function that formats datums of t as text (for
// functions taking "any").
func textOf(t types.T) func(types.Datum) string {
	return func(d types.Datum) string { return datumText(t, d) }
}

func bindConcat(args []Expr) (impl, error) {
	fs := make([]func(types.Datum) string, len(args))
	for i, a := range args {
		fs[i] = textOf(a.Type())
	}
	return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
		var sb strings.Builder
		for i, d := range ds {
			if d != nil {
				sb.WriteString(fs[i](d))
			}
		}
		return sb.String(), nil
	}}, nil
}

func bindConcatWS(args []Expr) (impl, error) {
	fs := make([]func(types.Datum) string, len(args))
	for i, a := range args {
		fs[i] = textOf(a.Type())
	}
	return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
		if ds[0] == nil {
			return nil, nil
		}
		sep := ds[0].(string)
		var sb strings.Builder
		first := true
		for i, d := range ds[1:] {
			if d == nil {
				continue
			}
			if !first {
				sb.WriteString(sep)
			}
			first = false
			sb.WriteString(fs[i+1](d))
		}
		return sb.String(), nil
	}}, nil
}

func bindQuoteLiteral(args []Expr) (impl, error) {
	f := textOf(args[0].Type())
	return impl{f1: func(_ *Ctx, a types.Datum) (types.Datum, error) { return quoteLiteral(f(a)), nil }}, nil
}

// quoteLiteral is quote_literal: single quotes doubled, and an E” string
// with doubled backslashes when there are backslashes.
func quoteLiteral(s string) string {
	var sb strings.Builder
	if strings.Contains(s, `\`) {
		sb.WriteByte('E')
	}
	sb.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\'' || c == '\\' {
			sb.WriteByte(c)
		}
		sb.WriteByte(c)
	}
	sb.WriteByte('\'')
	return sb.String()
}

// quoteIdent is quote_ident: quotes unless s is a lower-case identifier
// that is not a reserved word.
func quoteIdent(s string) string {
	safe := s != ""
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case (c >= '0' && c <= '9' || c == '$') && i > 0:
		default:
			safe = false
		}
	}
	if safe && !reservedKeywords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// reservedKeywords are PostgreSQL's keywords that quote_ident quotes (every
// category except unreserved).
var reservedKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization
		between bigint binary bit boolean both case cast char character check coalesce collate collation
		column concurrently constraint create cross current_catalog current_date current_role
		current_schema current_time current_timestamp current_user dec decimal default deferrable desc
		distinct do else end except exists extract false fetch float for foreign freeze from full grant
		greatest group grouping having ilike in initially inner inout int integer intersect interval into
		is isnull join lateral leading least left like limit localtime localtimestamp national natural
		nchar none normalize not notnull null nullif numeric offset on only or order out outer overlaps
		overlay placing position precision primary real references returning right row select
		session_user setof similar smallint some substring symmetric system_user table tablesample then
		time timestamp to trailing treat trim true union unique user using values varchar variadic
		verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest
		xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable`) {
		m[k] = true
	}
	return m
}()

// bindFormat implements format(): %[n$][-][width]{s,I,L} and %%.
func bindFormat(args []Expr) (impl, error) {
	fs := make([]func(types.Datum) string, len(args))
	for i, a := range args {
		fs[i] = textOf(a.Type())
	}
	return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
		if ds[0] == nil {
			return nil, nil
		}
		return formatText(ds[0].(string), ds[1:], fs[1:])
	}}, nil
}

func formatText(f string, ds []types.Datum, fs []func(types.Datum) string) (types.Datum, error) {
	var sb strings.Builder
	next := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(f) {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "unterminated format() type specifier").
				WithHint("For a single \"%%\" use \"%%%%\".")
		}
		if f[i] == '%' {
			sb.WriteByte('%')
			continue
		}
		// optional argument position n$
		j := i
		for j < len(f) && f[j] >= '0' && f[j] <= '9' {
			j++
		}
		if j < len(f) && f[j] == '$' && j > i {
			n, _ := strconv.Atoi(f[i:j])
			if n == 0 {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "format specifies argument 0, but arguments are numbered from 1")
			}
			next = n - 1
			i = j + 1
		}
		left := false
		if i < len(f) && f[i] == '-' {
			left = true
			i++
		}
		width := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			width = width*10 + int(f[i]-'0')
			i++
		}
		if i >= len(f) {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "unterminated format() type specifier").
				WithHint("For a single \"%%\" use \"%%%%\".")
		}
		if next >= len(ds) {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "too few arguments for format()")
		}
		d := ds[next]
		var s string
		switch f[i] {
		case 's':
			if d != nil {
				s = fs[next](d)
			}
		case 'I':
			if d == nil {
				return nil, pgerror.New(pgerror.CodeNullValueNotAllowed, "null values cannot be formatted as an SQL identifier")
			}
			s = quoteIdent(fs[next](d))
		case 'L':
			if d == nil {
				s = "NULL"
			} else {
				s = quoteLiteral(fs[next](d))
			}
		default:
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "unrecognized format() type specifier \"%c\"", f[i]).
				WithHint("For a single \"%%\" use \"%%%%\".")
		}
		next++
		if n := utf8.RuneCountInString(s); n < width {
			if left {
				s += strings.Repeat(" ", width-n)
			} else {
				s = strings.Repeat(" ", width-n) + s
			}
		}
		sb.WriteString(s)
	}
	return sb.String(), nil
}

func bindStringToArray(args []Expr) (impl, error) {
	if len(args) == 2 {
		return impl{f2: func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
			if a == nil {
				return nil, nil
			}
			return stringToArray(a.(string), b, nil), nil
		}}, nil
	}
	return impl{fN: func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		if a[0] == nil {
			return nil, nil
		}
		return stringToArray(a[0].(string), a[1], a[2]), nil
	}}, nil
}

// stringToArray splits s at delim (NULL: every character; "": no split);
// elements equal to null become NULL.
func stringToArray(s string, delim, null types.Datum) *types.Array {
	arr := &types.Array{Elem: types.Text}
	if s == "" {
		return arr
	}
	var parts []string
	switch {
	case delim == nil:
		for _, r := range s {
			parts = append(parts, string(r))
		}
	case delim.(string) == "":
		parts = []string{s}
	default:
		parts = strings.Split(s, delim.(string))
	}
	for _, p := range parts {
		if null != nil && p == null.(string) {
			arr.Elems = append(arr.Elems, nil)
		} else {
			arr.Elems = append(arr.Elems, p)
		}
	}
	return arr
}
