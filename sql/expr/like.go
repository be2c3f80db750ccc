package expr

import (
	"strings"
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
	likeLit       likeKind = iota // one literal character
	likeOne                       // _
	likeMany                      // %
	likeBadEscape                 // an escape character ending the pattern
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
				// An error only if matching gets this far (as in
				// PostgreSQL, where 'abc' LIKE 'abc\' is false).
				lp.toks = append(lp.toks, likeTok{kind: likeBadEscape})
				continue
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

func errLikeEscape() error {
	return pgerror.New(pgerror.CodeInvalidEscapeSequence, "LIKE pattern must not end with escape character")
}

func (lp *likePattern) match(s string) (bool, error) {
	switch lp.shape {
	case 1:
		return s == lp.literal, nil
	case 2:
		return strings.HasPrefix(s, lp.literal), nil
	case 3:
		return strings.HasSuffix(s, lp.literal), nil
	case 4:
		return strings.Contains(s, lp.literal), nil
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
			case likeBadEscape:
				if si < len(s) {
					return false, errLikeEscape()
				}
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
			return false, nil
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
	return true, nil
}

// likeExpr is "arg [NOT] LIKE pattern"; pat is set when the pattern is
// constant.
type likeExpr struct {
	arg, patExpr Expr
	pat          *likePattern
	fold, not    bool
}

func (e *likeExpr) Type() types.T    { return types.Bool }
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
	m, err := pat.match(a.(string))
	if err != nil {
		return nil, err
	}
	return m != e.not, nil
}

// stringOperands resolves both operands of a text operator to text.
func (b *Builder) stringOperands(op string, l, r Expr, loc int32) (Expr, Expr, error) {
	for _, e := range []Expr{l, r} {
		if t := e.Type(); !isStringType(t) && t.Oid != types.OidUnknown {
			return nil, nil, errNoOperator(op, l.Type(), r.Type(), loc)
		}
	}
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
			return nil, err
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
		return nil, errLikeEscape()
	}
	return sb.String(), nil
}
