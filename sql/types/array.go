package types

import (
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Array text I/O, after array_out and array_in, for one-dimensional arrays
// with lower bound 1 (the only ones *Array represents): "{1,2,NULL}",
// elements quoted when empty, equal to NULL in any case, or holding '"',
// '\\', '{', '}', ',' or white space.

// arrayElemType returns the element type of array type t; the array's
// typmod applies to the elements (varchar(3)[]).
func arrayElemType(t T, a *Array) T {
	if e := t.Elem(); e.Oid != 0 {
		return T{e.Oid, t.Mod}
	}
	if a != nil {
		return a.Elem
	}
	return Unknown
}

// AppendArrayText is array_out: it appends a's text form, elements
// printed with the output function of t's element type and quoted as
// PostgreSQL quotes them. AppendText calls it for arrays.
func AppendArrayText(buf []byte, t T, a *Array) []byte {
	et := arrayElemType(t, a)
	buf = append(buf, '{')
	for i, e := range a.Elems {
		if i > 0 {
			buf = append(buf, ',')
		}
		if e == nil {
			buf = append(buf, "NULL"...)
			continue
		}
		start := len(buf)
		buf = AppendText(buf, et, e)
		buf = quoteArrayElem(buf, start)
	}
	return append(buf, '}')
}

// quoteArrayElem quotes buf[start:] in place when array_out would.
func quoteArrayElem(buf []byte, start int) []byte {
	el := buf[start:]
	need := len(el) == 0 || (len(el) == 4 && asciiEqualFold(string(el), "null"))
	extra := 0
	for _, c := range el {
		switch {
		case c == '"' || c == '\\':
			need = true
			extra++
		case c == '{' || c == '}' || c == ',' || isSpace(c):
			need = true
		}
	}
	if !need {
		return buf
	}
	n := len(el)
	for k := 0; k < extra+2; k++ {
		buf = append(buf, 0)
	}
	// Move from the back: closing quote, the escaped bytes, opening quote.
	w := len(buf) - 1
	buf[w] = '"'
	w--
	for r := start + n - 1; r >= start; r-- {
		c := buf[r]
		buf[w] = c
		w--
		if c == '"' || c == '\\' {
			buf[w] = '\\'
			w--
		}
	}
	buf[w] = '"'
	return buf
}

// arrayLiteralErr is 22P02 malformed array literal with a detail.
func arrayLiteralErr(s, detail string, args ...any) error {
	return pgerror.New(pgerror.CodeInvalidTextRepresentation, "malformed array literal: \"%s\"", s).WithDetail(detail, args...)
}

func errMultiDim() error {
	return pgerror.Unsupported("multidimensional arrays are not supported")
}

// parseArrayText is array_in for a one-dimensional array of t's element
// type, applying t's typmod to each element.
func parseArrayText(t T, s string) (Datum, error) {
	et := arrayElemType(t, nil)
	i := 0
	skip := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	skip()
	lo, hi, haveDims := int64(1), int64(0), false
	if i < len(s) && s[i] == '[' {
		// [lo:hi]= or [hi]=
		var ok bool
		lo, hi, i, ok = parseArrayDims(s, i)
		if !ok {
			return nil, arrayLiteralErr(s, "\"[\" must introduce explicitly-specified array dimensions.")
		}
		skip()
		if i < len(s) && s[i] == '[' {
			return nil, errMultiDim()
		}
		if i >= len(s) || s[i] != '=' {
			return nil, arrayLiteralErr(s, "Missing \"=\" after array dimensions.")
		}
		i++
		skip()
		haveDims = true
	}
	if i >= len(s) || s[i] != '{' {
		return nil, arrayLiteralErr(s, "Array value must start with \"{\" or dimension information.")
	}
	i++
	arr := &Array{Elem: et}
	skip()
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		var scratch []byte
		for {
			skip()
			if i >= len(s) {
				return nil, arrayLiteralErr(s, "Unexpected end of input.")
			}
			c := s[i]
			var elem string
			isNull := false
			switch c {
			case '{':
				if len(arr.Elems) == 0 {
					return nil, errMultiDim()
				}
				return nil, arrayLiteralErr(s, "Unexpected \"{\" character.")
			case ',', '}':
				return nil, arrayLiteralErr(s, "Unexpected \"%s\" character.", string(c))
			case '"':
				i++
				start := i
				scratch = scratch[:0]
				escaped := false
				for {
					if i >= len(s) {
						return nil, arrayLiteralErr(s, "Unexpected end of input.")
					}
					ch := s[i]
					if ch == '"' {
						break
					}
					if ch == '\\' {
						if !escaped {
							scratch = append(scratch, s[start:i]...)
							escaped = true
						}
						i++
						if i >= len(s) {
							return nil, arrayLiteralErr(s, "Unexpected end of input.")
						}
						scratch = append(scratch, s[i])
					} else if escaped {
						scratch = append(scratch, ch)
					}
					i++
				}
				if escaped {
					elem = string(scratch)
				} else {
					elem = s[start:i]
				}
				i++ // closing quote
				skip()
				if i >= len(s) {
					return nil, arrayLiteralErr(s, "Unexpected end of input.")
				}
				if s[i] != ',' && s[i] != '}' {
					return nil, arrayLiteralErr(s, "Unexpected array element.")
				}
			default:
				start := i
				hasEscape := false
				for {
					if i >= len(s) {
						return nil, arrayLiteralErr(s, "Unexpected end of input.")
					}
					ch := s[i]
					if ch == ',' || ch == '}' {
						break
					}
					switch ch {
					case '"':
						return nil, arrayLiteralErr(s, "Unexpected array element.")
					case '{':
						return nil, arrayLiteralErr(s, "Unexpected \"{\" character.")
					case '\\':
						hasEscape = true
						i++
						if i >= len(s) {
							return nil, arrayLiteralErr(s, "Unexpected end of input.")
						}
					}
					i++
				}
				if !hasEscape {
					end := i
					for end > start && isSpace(s[end-1]) {
						end--
					}
					elem = s[start:end]
					isNull = len(elem) == 4 && asciiEqualFold(elem, "null")
				} else {
					// Resolve escapes; trailing blanks go unless escaped.
					scratch = scratch[:0]
					keep := 0
					for k := start; k < i; k++ {
						ch := s[k]
						if ch == '\\' {
							k++
							scratch = append(scratch, s[k])
							keep = len(scratch)
							continue
						}
						scratch = append(scratch, ch)
						if !isSpace(ch) {
							keep = len(scratch)
						}
					}
					elem = string(scratch[:keep])
				}
			}
			if isNull {
				arr.Elems = append(arr.Elems, nil)
			} else {
				d, err := ParseText(et, elem)
				if err != nil {
					return nil, err
				}
				arr.Elems = append(arr.Elems, d)
			}
			if s[i] == '}' {
				i++
				break
			}
			i++ // ','
		}
	}
	skip()
	if i < len(s) {
		return nil, arrayLiteralErr(s, "Junk after closing right brace.")
	}
	if haveDims {
		if hi-lo+1 != int64(len(arr.Elems)) {
			return nil, arrayLiteralErr(s, "Specified array dimensions do not match array contents.")
		}
		if lo != 1 && len(arr.Elems) > 0 {
			return nil, pgerror.Unsupported("array lower bounds other than 1 are not supported")
		}
	}
	return arr, nil
}

// parseArrayDims parses "[lo:hi]" or "[hi]" at s[i].
func parseArrayDims(s string, i int) (lo, hi int64, next int, ok bool) {
	i++ // '['
	num := func() (int64, bool) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		neg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			neg = s[i] == '-'
			i++
		}
		st := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		v, ok := atoi(s[st:i])
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if neg {
			v = -v
		}
		return v, ok
	}
	a, ok := num()
	if !ok {
		return 0, 0, i, false
	}
	lo, hi = 1, a
	if i < len(s) && s[i] == ':' {
		i++
		b, ok := num()
		if !ok {
			return 0, 0, i, false
		}
		lo, hi = a, b
	}
	if i >= len(s) || s[i] != ']' {
		return 0, 0, i, false
	}
	return lo, hi, i + 1, true
}
