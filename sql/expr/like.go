package expr

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// LIKE and ILIKE patterns are compiled once when constant (and per row
// otherwise) into a token list matched with the classic backtracking
// wildcard algorithm; common shapes (prefix%, %suffix, %infix%, no
// wildcards) take string fast paths. The escape character is always
// backslash here: LIKE ... ESCAPE 'c' arrives as like_escape(pattern, 'c'),
// which rewrites the pattern to use backslash, as PostgreSQL does.

type likeKind uint8

const (
	likeLit  likeKind = iota // one literal character
	likeOne                  // _
	likeMany                 // %
)

type likeTok struct {
	kind likeKind
	r    rune
}

// likePattern is a compiled LIKE pattern.
type likePattern struct {
	toks []likeTok
	fold bool // ILIKE
	// Fast paths (case-sensitive only): exactly one of these shapes.
	shape   uint8 // 0 general, 1 equal, 2 prefix, 3 suffix, 4 contains
	literal string
}

func compileLike(p string, fold bool) (*likePattern, error) {
	lp := &likePattern{fold: fold}
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		i += n
		switch r {
		case '\\':
			if i >= len(p) {
				return nil, pgerror.New(pgerror.CodeInvalidEscapeSequence, "LIKE pattern must not end with escape character")
			}
			r, n = utf8.DecodeRuneInString(p[i:])
			i += n
			lp.toks = append(lp.toks, likeTok{likeLit, r})
		case '%':
			if k := len(lp.toks); k > 0 && lp.toks[k-1].kind == likeMany {
				continue
			}
			lp.toks = append(lp.toks, likeTok{kind: likeMany})
		case '_':
			lp.toks = append(lp.toks, likeTok{kind: likeOne})
		default:
			if fold {
				r = unicode.ToLower(r)
			}
			lp.toks = append(lp.toks, likeTok{likeLit, r})
		}
	}
	if !fold {
		lp.shape, lp.literal = likeShape(lp.toks)
	}
	return lp, nil
}

// likeShape recognizes the fast-path shapes.
func likeShape(toks []likeTok) (uint8, string) {
	lead := len(toks) > 0 && toks[0].kind == likeMany
	trail := len(toks) > 1 && toks[len(toks)-1].kind == likeMany
	mid := toks
	if lead {
		mid = mid[1:]
	}
	if trail {
		mid = mid[:len(mid)-1]
	}
	var sb strings.Builder
	for _, t := range mid {
		if t.kind != likeLit {
			return 0, ""
		}
		sb.WriteRune(t.r)
	}
	switch {
	case lead && trail:
		return 4, sb.String()
	case lead:
		return 3, sb.String()
	case trail:
		return 2, sb.String()
	}
	return 1, sb.String()
}

func (lp *likePattern) match(s string) bool {
	switch lp.shape {
	case 1:
		return s == lp.literal
	case 2:
		return strings.HasPrefix(s, lp.literal)
	case 3:
		return strings.HasSuffix(s, lp.literal)
	case 4:
		return strings.Contains(s, lp.literal)
	}
	toks := lp.toks
	ti, si := 0, 0
	starT, starS := -1, 0
	for si < len(s) || ti < len(toks) {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case likeMany:
				starT, starS = ti, si
				ti++
				continue
			case likeOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case likeLit:
				if si < len(s) {
					r, n := utf8.DecodeRuneInString(s[si:])
					if lp.fold {
						r = unicode.ToLower(r)
					}
					if r == t.r {
						si += n
						ti++
						continue
					}
				}
			}
		}
		// Mismatch: let the last % absorb one more character.
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
	return true
}

// likeExpr is "arg [NOT] LIKE pattern"; pat is set when the pattern is
// constant.
type likeExpr struct {
	arg, patExpr Expr
	pat          *likePattern
	fold, not    bool
}

func (e *likeExpr) Type() types.T     { return types.Bool }
func (e *likeExpr) children() []Expr { return []Expr{e.arg, e.patExpr} }
func (e *likeExpr) foldable() bool   { return true }

func (e *likeExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.arg.Eval(c, row)
	if err != nil {
		return nil, err
	}
	pat := e.pat
	if pat == nil {
		p, err := e.patExpr.Eval(c, row)
		if err != nil || p == nil {
			return nil, err
		}
		if pat, err = compileLike(p.(string), e.fold); err != nil {
			return nil, err
		}
	}
	if a == nil {
		return nil, nil
	}
	return pat.match(a.(string)) != e.not, nil
}

// stringOperands resolves both operands of a text operator to text.
func (b *Builder) stringOperands(op string, l, r Expr, loc int32) (Expr, Expr, error) {
	l, r, err := b.resolveUntyped(l, r, loc)
	if err != nil {
		return nil, nil, err
	}
	if !isStringType(l.Type()) || !isStringType(r.Type()) {
		return nil, nil, errNoOperator(op, l.Type(), r.Type(), loc)
	}
	if l, err = b.coerceCmp(l, types.Text, loc); err != nil {
		return nil, nil, err
	}
	if r, err = b.coerceCmp(r, types.Text, loc); err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func (b *Builder) like(op string, l, r Expr, loc int32) (Expr, error) {
	l, r, err := b.stringOperands(op, l, r, loc)
	if err != nil {
		return nil, err
	}
	e := &likeExpr{arg: l, patExpr: r, fold: strings.HasSuffix(op, "*"), not: op[0] == '!'}
	if k, ok := r.(*Const); ok {
		if k.D == nil {
			return &Const{T: types.Bool}, nil
		}
		if e.pat, err = compileLike(k.D.(string), e.fold); err != nil {
			return nil, withPos(err, loc)
		}
	}
	return fold(e), nil
}

// likeEscape is like_escape(pattern, escape): pattern rewritten to use
// backslash as its escape character.
func likeEscape(_ *Ctx, a, b types.Datum) (types.Datum, error) {
	p, esc := a.(string), b.(string)
	if utf8.RuneCountInString(esc) > 1 {
		return nil, pgerror.New(pgerror.CodeInvalidEscapeSequence, "invalid escape string").
			WithHint("Escape string must be empty or one character.")
	}
	var sb strings.Builder
	if esc == "" {
		// No escape character: backslashes are literal.
		for _, r := range p {
			if r == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteRune(r)
		}
		return sb.String(), nil
	}
	e, _ := utf8.DecodeRuneInString(esc)
	if e == '\\' {
		return p, nil
	}
	afterEsc := false
	for _, r := range p {
		switch {
		case afterEsc:
			if r == '\\' {
				sb.WriteString(`\\`)
			} else {
				sb.WriteByte('\\')
				sb.WriteRune(r)
			}
			afterEsc = false
		case r == e:
			afterEsc = true
		case r == '\\':
			sb.WriteString(`\\`)
		default:
			sb.WriteRune(r)
		}
	}
	if afterEsc {
		return nil, pgerror.New(pgerror.CodeInvalidEscapeSequence, "LIKE pattern must not end with escape character")
	}
	return sb.String(), nil
}

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
		return nil, pgerror.New(pgerror.CodeInvalidRegularExpression, "invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
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

func (e *regexExpr) Type() types.T     { return types.Bool }
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
			return nil, withPos(err, loc)
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
