package expr

import (
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// POSIX regular expressions are run with Go's regexp (RE2) after
// translating the ARE escapes RE2 lacks; back references are not supported.

// regexCache holds compiled non-constant patterns.
var regexCache struct {
	sync.Mutex
	m map[regexKey]*regexp.Regexp
}

type regexKey struct {
	pat   string
	flags string
}

// compileRegex compiles an ARE pattern with flags ("i" case-insensitive,
// "n" newline-sensitive).
func compileRegex(pat, flags string) (*regexp.Regexp, error) {
	k := regexKey{pat, flags}
	regexCache.Lock()
	re, ok := regexCache.m[k]
	regexCache.Unlock()
	if ok {
		return re, nil
	}
	prefix := "(?s)"
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "(?i)"
		case 'n', 'm':
			prefix = strings.Replace(prefix, "(?s)", "", 1) + "(?m)"
		case 'c', 'g':
		default:
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid regular expression option: \"%c\"", f)
		}
	}
	re, err := regexp.Compile(prefix + translateRegex(pat))
	if err != nil {
		return nil, pgerror.New(pgerror.CodeInvalidRegularExpression, "invalid regular expression: %s", regexErrText(err))
	}
	regexCache.Lock()
	if regexCache.m == nil || len(regexCache.m) > 1000 {
		regexCache.m = map[regexKey]*regexp.Regexp{}
	}
	regexCache.m[k] = re
	regexCache.Unlock()
	return re, nil
}

// translateRegex rewrites PostgreSQL ARE syntax that RE2 spells
// differently: \m \M \y (word boundaries), \Y, \Z, [[:<:]] and [[:>:]].
func translateRegex(p string) string {
	if !strings.ContainsAny(p, `\[`) {
		return p
	}
	p = strings.ReplaceAll(p, "[[:<:]]", `\b`)
	p = strings.ReplaceAll(p, "[[:>:]]", `\b`)
	var sb strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			switch p[i+1] {
			case 'm', 'M', 'y':
				sb.WriteString(`\b`)
				i++
				continue
			case 'Y':
				sb.WriteString(`\B`)
				i++
				continue
			case 'Z':
				sb.WriteString(`\z`)
				i++
				continue
			}
			sb.WriteByte(p[i])
			sb.WriteByte(p[i+1])
			i++
			continue
		}
		sb.WriteByte(p[i])
	}
	return sb.String()
}

// regexExpr is "arg ~ pattern" and its variants.
type regexExpr struct {
	arg, patExpr Expr
	re           *regexp.Regexp
	flags        string
	not          bool
}

func (e *regexExpr) Type() types.T    { return types.Bool }
func (e *regexExpr) children() []Expr { return []Expr{e.arg, e.patExpr} }
func (e *regexExpr) foldable() bool   { return true }

func (e *regexExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.arg.Eval(c, row)
	if err != nil {
		return nil, err
	}
	re := e.re
	if re == nil {
		p, err := e.patExpr.Eval(c, row)
		if err != nil || p == nil {
			return nil, err
		}
		if re, err = compileRegex(p.(string), e.flags); err != nil {
			return nil, err
		}
	}
	if a == nil {
		return nil, nil
	}
	return re.MatchString(a.(string)) != e.not, nil
}

func (b *Builder) regexMatch(op string, l, r Expr, loc int32) (Expr, error) {
	l, r, err := b.stringOperands(op, l, r, loc)
	if err != nil {
		return nil, err
	}
	e := &regexExpr{arg: l, patExpr: r, not: op[0] == '!'}
	if strings.HasSuffix(op, "*") {
		e.flags = "i"
	}
	if k, ok := r.(*Const); ok {
		if k.D == nil {
			return &Const{T: types.Bool}, nil
		}
		if e.re, err = compileRegex(k.D.(string), e.flags); err != nil {
			return nil, err
		}
	}
	return fold(e), nil
}

// constRegex compiles the pattern now when the pattern (and flags) are
// constants, for regexp_replace and substring.
func constRegex(pat Expr, flags Expr) (*regexp.Regexp, error) {
	k, ok := pat.(*Const)
	if !ok || k.D == nil {
		return nil, nil
	}
	f := ""
	if flags != nil {
		fk, ok := flags.(*Const)
		if !ok || fk.D == nil {
			return nil, nil
		}
		f = strings.ReplaceAll(fk.D.(string), "g", "")
	}
	return compileRegex(k.D.(string), f)
}

func bindRegexSubstring(args []Expr) (impl, error) {
	re, err := constRegex(args[1], nil)
	if err != nil || re == nil {
		return impl{f2: regexSubstring}, err
	}
	return impl{f2: func(_ *Ctx, a, _ types.Datum) (types.Datum, error) { return regexSubmatch(re, a.(string)), nil }}, nil
}

// regexSubstring is substring(text from pattern): the first parenthesized
// subexpression's match, or the whole match; NULL without a match.
func regexSubstring(_ *Ctx, a, b types.Datum) (types.Datum, error) {
	re, err := compileRegex(b.(string), "")
	if err != nil {
		return nil, err
	}
	return regexSubmatch(re, a.(string)), nil
}

func regexSubmatch(re *regexp.Regexp, s string) types.Datum {
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil
	}
	if len(m) > 2 {
		if m[2] < 0 {
			return nil
		}
		return s[m[2]:m[3]]
	}
	return s[m[0]:m[1]]
}

func bindRegexpReplace(args []Expr) (impl, error) {
	var flagsExpr Expr
	if len(args) == 4 {
		flagsExpr = args[3]
	}
	re, err := constRegex(args[1], flagsExpr)
	if err != nil {
		return impl{}, err
	}
	return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
		flags := ""
		if len(ds) == 4 {
			flags = ds[3].(string)
		}
		r := re
		if r == nil {
			var err error
			if r, err = compileRegex(ds[1].(string), strings.ReplaceAll(flags, "g", "")); err != nil {
				return nil, err
			}
		}
		return regexReplace(r, ds[0].(string), ds[2].(string), strings.Contains(flags, "g")), nil
	}}, nil
}

// regexReplace replaces the first (or every) match; in repl \1..\9 insert
// subexpression matches, \& the whole match and \\ a backslash.
func regexReplace(re *regexp.Regexp, s, repl string, global bool) string {
	n := 1
	if global {
		n = -1
	}
	ms := re.FindAllStringSubmatchIndex(s, n)
	if ms == nil {
		return s
	}
	var sb strings.Builder
	last := 0
	for _, m := range ms {
		sb.WriteString(s[last:m[0]])
		for i := 0; i < len(repl); i++ {
			c := repl[i]
			if c != '\\' || i+1 >= len(repl) {
				sb.WriteByte(c)
				continue
			}
			i++
			switch d := repl[i]; {
			case d >= '1' && d <= '9':
				g := int(d - '0')
				if 2*g+1 < len(m) && m[2*g] >= 0 {
					sb.WriteString(s[m[2*g]:m[2*g+1]])
				}
			case d == '&':
				sb.WriteString(s[m[0]:m[1]])
			case d == '\\':
				sb.WriteByte('\\')
			default:
				sb.WriteByte('\\')
				sb.WriteByte(d)
			}
		}
		last = m[1]
	}
	sb.WriteString(s[last:])
	return sb.String()
}

// similarToEscape is similar_to_escape(pattern[, escape]): a SQL regular
// expression (SIMILAR TO) rewritten as an anchored POSIX one.
func similarToEscape(pat string, esc string, hasEsc bool) (types.Datum, error) {
	if !hasEsc {
		esc = `\`
	}
	if utf8.RuneCountInString(esc) > 1 {
		return nil, pgerror.New(pgerror.CodeInvalidEscapeSequence, "invalid escape string").
			WithHint("Escape string must be empty or one character.")
	}
	e, _ := utf8.DecodeRuneInString(esc)
	var sb strings.Builder
	sb.WriteString("^(?:")
	afterEsc, inClass := false, false
	for _, c := range pat {
		switch {
		case afterEsc:
			if c == '"' && !inClass {
				return nil, pgerror.Unsupported("escape-double-quote separators in SIMILAR TO are not supported")
			}
			sb.WriteByte('\\')
			sb.WriteRune(c)
			afterEsc = false
		case esc != "" && c == e:
			afterEsc = true
		case inClass:
			if c == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteRune(c)
			if c == ']' {
				inClass = false
			}
		case c == '[':
			sb.WriteRune(c)
			inClass = true
		case c == '%':
			sb.WriteString(".*")
		case c == '_':
			sb.WriteByte('.')
		case c == '(':
			sb.WriteString("(?:")
		case c == '\\' || c == '.' || c == '^' || c == '$':
			sb.WriteByte('\\')
			sb.WriteRune(c)
		default:
			sb.WriteRune(c)
		}
	}
	sb.WriteString(")$")
	return sb.String(), nil
}

// regexErrText words an RE2 syntax error as PostgreSQL's regex library does.
func regexErrText(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		switch se.Code {
		case syntax.ErrMissingParen, syntax.ErrUnexpectedParen:
			return "parentheses () not balanced"
		case syntax.ErrMissingBracket:
			return "brackets [] not balanced"
		case syntax.ErrMissingRepeatArgument, syntax.ErrInvalidRepeatOp:
			return "quantifier operand invalid"
		case syntax.ErrInvalidEscape:
			return "invalid escape \\ sequence"
		case syntax.ErrInvalidCharRange:
			return "invalid character range"
		case syntax.ErrInvalidRepeatSize:
			return "invalid repetition count(s)"
		}
		return string(se.Code)
	}
	return err.Error()
}
