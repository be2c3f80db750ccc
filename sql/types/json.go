package types

import (
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// json and jsonb. A json value is its input text, checked by PostgreSQL's
// JSON grammar. A jsonb value is a tree printed the way jsonb_out prints
// it: numbers through numeric_out, strings re-escaped (only '"', '\\' and
// control characters), object keys sorted by length then bytes with the
// last of duplicate keys kept, ", " and ": " as separators.

// jsonKind orders the kinds as jsonb's btree ordering does (jbvNull <
// jbvString < jbvNumeric < jbvBool < jbvArray < jbvObject).
type jsonKind uint8

const (
	jNull jsonKind = iota
	jString
	jNumber
	jBool
	jArray
	jObject
)

// jsonValue is a parsed jsonb value.
type jsonValue struct {
	kind  jsonKind
	str   string // string value
	num   *apd.Decimal
	b     bool
	elems []jsonValue // array elements
	pairs []jsonPair  // object members in jsonb order
}

type jsonPair struct {
	key string
	val jsonValue
}

// maxJSONDepth bounds nesting (PostgreSQL's limit is the stack depth).
const maxJSONDepth = 6400

type jsonTok uint8

const (
	tEnd jsonTok = iota
	tInvalid
	tLBrace
	tRBrace
	tLBracket
	tRBracket
	tComma
	tColon
	tString
	tNumber
	tTrue
	tFalse
	tNull
)

// jsonParser is a recursive-descent parser over PostgreSQL's JSON lexer
// rules. With build set it makes a jsonValue tree (the jsonb semantics:
// escapes are decoded and checked); without, it only validates.
type jsonParser struct {
	s     string
	pos   int
	build bool

	tok        jsonTok
	start, end int    // token span
	strVal     string // decoded string token (build only)
	lexErr     error  // a detailed lexer error for tInvalid
	depth      int
}

func jsonSyntaxErr(detail string, args ...any) error {
	return pgerror.New(pgerror.CodeInvalidTextRepresentation, "invalid input syntax for type json").WithDetail(detail, args...)
}

func isJSONAlnum(c byte) bool {
	return isAlnum(c) || c == '_' || c >= 0x80
}

// next lexes the next token.
func (p *jsonParser) next() {
	s := p.s
	i := p.pos
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	p.start = i
	p.lexErr = nil
	if i >= len(s) {
		p.tok, p.end, p.pos = tEnd, i, i
		return
	}
	c := s[i]
	single := tInvalid
	switch c {
	case '{':
		single = tLBrace
	case '}':
		single = tRBrace
	case '[':
		single = tLBracket
	case ']':
		single = tRBracket
	case ',':
		single = tComma
	case ':':
		single = tColon
	case '"':
		p.lexString(i)
		return
	case '-':
		p.lexNumber(i, i+1)
		return
	}
	if single != tInvalid {
		p.tok, p.end, p.pos = single, i+1, i+1
		return
	}
	if c >= '0' && c <= '9' {
		p.lexNumber(i, i)
		return
	}
	j := i
	for j < len(s) && isJSONAlnum(s[j]) {
		j++
	}
	if j == i {
		_, n := utf8.DecodeRuneInString(s[i:])
		p.tok, p.end, p.pos = tInvalid, i+n, i+n
		return
	}
	p.end, p.pos = j, j
	switch s[i:j] {
	case "true":
		p.tok = tTrue
	case "false":
		p.tok = tFalse
	case "null":
		p.tok = tNull
	default:
		p.tok = tInvalid
	}
}

// lexNumber is json_lex_number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// followed by no alphanumerics.
func (p *jsonParser) lexNumber(start, i int) {
	s := p.s
	bad := false
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		bad = true
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			bad = true
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			bad = true
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	for i < len(s) && isJSONAlnum(s[i]) {
		bad = true
		i++
	}
	p.start, p.end, p.pos = start, i, i
	p.tok = tNumber
	if bad {
		p.tok = tInvalid
	}
}

// lexString is json_lex_string.
func (p *jsonParser) lexString(start int) {
	s := p.s
	i := start + 1
	var out []byte
	hiSurrogate := rune(-1)
	plain := i // start of the pending run without escapes
	fail := func(end int, err error) {
		p.tok, p.start, p.end, p.pos, p.lexErr = tInvalid, start, end, end, err
	}
	for {
		if i >= len(s) {
			fail(len(s), nil)
			return
		}
		c := s[i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			fail(i+1, jsonSyntaxErr("Character with value 0x%02x must be escaped.", c))
			return
		}
		if c != '\\' {
			if hiSurrogate >= 0 && p.build {
				fail(i, jsonSyntaxErr("Unicode low surrogate must follow a high surrogate."))
				return
			}
			i++
			continue
		}
		// escape
		if p.build {
			out = append(out, s[plain:i]...)
		}
		i++
		if i >= len(s) {
			fail(len(s), nil)
			return
		}
		e := s[i]
		if e == 'u' {
			if i+4 >= len(s) || !isHex4(s[i+1:min(i+5, len(s))]) {
				end := i + 1
				for end < len(s) && end < i+5 && isJSONAlnum(s[end]) {
					end++
				}
				fail(end, jsonSyntaxErr("\"\\u\" must be followed by four hexadecimal digits."))
				return
			}
			v, _ := strconv.ParseUint(s[i+1:i+5], 16, 32)
			ch := rune(v)
			i += 5
			plain = i
			if !p.build {
				continue
			}
			switch {
			case ch >= 0xd800 && ch <= 0xdbff:
				if hiSurrogate >= 0 {
					fail(i, jsonSyntaxErr("Unicode high surrogate must not follow a high surrogate."))
					return
				}
				hiSurrogate = ch
				continue
			case ch >= 0xdc00 && ch <= 0xdfff:
				if hiSurrogate < 0 {
					fail(i, jsonSyntaxErr("Unicode low surrogate must follow a high surrogate."))
					return
				}
				ch = 0x10000 + (hiSurrogate-0xd800)<<10 + (ch - 0xdc00)
				hiSurrogate = -1
			default:
				if hiSurrogate >= 0 {
					fail(i, jsonSyntaxErr("Unicode low surrogate must follow a high surrogate."))
					return
				}
			}
			if ch == 0 {
				fail(i, pgerror.New(codeUntranslatableCharacter, "unsupported Unicode escape sequence").
					WithDetail("\\u0000 cannot be converted to text."))
				return
			}
			out = utf8.AppendRune(out, ch)
			continue
		}
		if hiSurrogate >= 0 && p.build {
			fail(i, jsonSyntaxErr("Unicode low surrogate must follow a high surrogate."))
			return
		}
		var b byte
		switch e {
		case '"', '\\', '/':
			b = e
		case 'b':
			b = '\b'
		case 'f':
			b = '\f'
		case 'n':
			b = '\n'
		case 'r':
			b = '\r'
		case 't':
			b = '\t'
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			fail(i+n, jsonSyntaxErr("Escape sequence \"\\%s\" is invalid.", s[i:i+n]))
			return
		}
		out = append(out, b)
		i++
		plain = i
	}
	if hiSurrogate >= 0 && p.build {
		fail(i, jsonSyntaxErr("Unicode low surrogate must follow a high surrogate."))
		return
	}
	if p.build {
		if out == nil {
			p.strVal = s[start+1 : i]
		} else {
			p.strVal = string(append(out, s[plain:i]...))
		}
	}
	p.tok, p.end, p.pos = tString, i+1, i+1
}

func isHex4(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i := 0; i < 4; i++ {
		if _, ok := unhex(s[i]); !ok {
			return false
		}
	}
	return true
}

// tokenError is the error for an unexpected current token in a context
// whose expectation is want ("JSON value", "\",\" or \"]\"", ...).
func (p *jsonParser) tokenError(want string) error {
	switch p.tok {
	case tEnd:
		return jsonSyntaxErr("The input string ended unexpectedly.")
	case tInvalid:
		if p.lexErr != nil {
			return p.lexErr
		}
		return jsonSyntaxErr("Token \"%s\" is invalid.", p.s[p.start:p.end])
	}
	return jsonSyntaxErr("Expected %s, but found \"%s\".", want, p.s[p.start:p.end])
}

// parse parses a whole document.
func (p *jsonParser) parse() (jsonValue, error) {
	p.next()
	v, err := p.value()
	if err != nil {
		return v, err
	}
	p.next()
	if p.tok != tEnd {
		return v, p.tokenError("end of input")
	}
	return v, nil
}

// value parses the value starting at the current token.
func (p *jsonParser) value() (jsonValue, error) {
	switch p.tok {
	case tString:
		return jsonValue{kind: jString, str: p.strVal}, nil
	case tNumber:
		if !p.build {
			return jsonValue{}, nil
		}
		d, err := parseNumeric(p.s[p.start:p.end])
		if err != nil {
			return jsonValue{}, err
		}
		return jsonValue{kind: jNumber, num: d}, nil
	case tTrue:
		return jsonValue{kind: jBool, b: true}, nil
	case tFalse:
		return jsonValue{kind: jBool}, nil
	case tNull:
		return jsonValue{kind: jNull}, nil
	case tLBracket:
		return p.array()
	case tLBrace:
		return p.object()
	}
	return jsonValue{}, p.tokenError("JSON value")
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return pgerror.New(pgerror.CodeStatementTooComplex, "stack depth limit exceeded")
	}
	return nil
}

func (p *jsonParser) array() (jsonValue, error) {
	if err := p.enter(); err != nil {
		return jsonValue{}, err
	}
	defer func() { p.depth-- }()
	v := jsonValue{kind: jArray}
	p.next()
	if p.tok == tRBracket {
		return v, nil
	}
	for {
		e, err := p.value()
		if err != nil {
			return v, err
		}
		if p.build {
			v.elems = append(v.elems, e)
		}
		p.next()
		switch p.tok {
		case tComma:
			p.next()
		case tRBracket:
			return v, nil
		default:
			return v, p.tokenError("\",\" or \"]\"")
		}
	}
}

func (p *jsonParser) object() (jsonValue, error) {
	if err := p.enter(); err != nil {
		return jsonValue{}, err
	}
	defer func() { p.depth-- }()
	v := jsonValue{kind: jObject}
	p.next()
	if p.tok == tRBrace {
		return v, nil
	}
	first := true
	for {
		if p.tok != tString {
			if first {
				return v, p.tokenError("string or \"}\"")
			}
			return v, p.tokenError("string")
		}
		first = false
		key := p.strVal
		p.next()
		if p.tok != tColon {
			return v, p.tokenError("\":\"")
		}
		p.next()
		e, err := p.value()
		if err != nil {
			return v, err
		}
		if p.build {
			v.pairs = append(v.pairs, jsonPair{key, e})
		}
		p.next()
		switch p.tok {
		case tComma:
			p.next()
		case tRBrace:
			if p.build {
				sortJSONPairs(&v)
			}
			return v, nil
		default:
			return v, p.tokenError("\",\" or \"}\"")
		}
	}
}

// jsonKeyLess is jsonb's key order: shorter first, then bytewise.
func jsonKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// sortJSONPairs orders v's members as jsonb stores them and removes
// duplicate keys, keeping the last value given.
func sortJSONPairs(v *jsonValue) {
	ps := v.pairs
	if len(ps) < 2 {
		return
	}
	sort.SliceStable(ps, func(i, j int) bool { return jsonKeyLess(ps[i].key, ps[j].key) })
	out := ps[:0]
	for i := 0; i < len(ps); i++ {
		if i+1 < len(ps) && ps[i+1].key == ps[i].key {
			continue // a later duplicate wins
		}
		out = append(out, ps[i])
	}
	v.pairs = out
}

// validateJSON checks s with the json input function.
func validateJSON(s string) error {
	p := jsonParser{s: s}
	_, err := p.parse()
	return err
}

// parseJSONB parses s into a jsonb tree.
func parseJSONB(s string) (jsonValue, error) {
	p := jsonParser{s: s, build: true}
	return p.parse()
}

// normalizeJSONB parses s as jsonb and prints it the way jsonb_out does.
func normalizeJSONB(s string) (JSON, error) {
	v, err := parseJSONB(s)
	if err != nil {
		return "", err
	}
	return JSON(appendJSONValue(make([]byte, 0, len(s)+8), &v)), nil
}

// appendJSONValue prints v as jsonb_out does.
func appendJSONValue(buf []byte, v *jsonValue) []byte {
	switch v.kind {
	case jNull:
		return append(buf, "null"...)
	case jBool:
		if v.b {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case jNumber:
		return appendNumeric(buf, v.num)
	case jString:
		return appendJSONString(buf, v.str)
	case jArray:
		buf = append(buf, '[')
		for i := range v.elems {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendJSONValue(buf, &v.elems[i])
		}
		return append(buf, ']')
	}
	buf = append(buf, '{')
	for i := range v.pairs {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = appendJSONString(buf, v.pairs[i].key)
		buf = append(buf, ": "...)
		buf = appendJSONValue(buf, &v.pairs[i].val)
	}
	return append(buf, '}')
}

// appendJSONString is escape_json.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			if c < 0x20 {
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			} else {
				buf = append(buf, c)
			}
		}
	}
	return append(buf, '"')
}
