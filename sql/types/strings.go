package types

import (
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Text-like types: length typmods of varchar and bpchar, name, "char",
// bytea and uuid I/O.

// nameMaxBytes is NAMEDATALEN-1.
const nameMaxBytes = 63

// checkUTF8 rejects what PostgreSQL's UTF8 encoding rejects in text: invalid
// sequences and NUL bytes.
func checkUTF8(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return errBadUTF8([]byte(s[i:]))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return errBadUTF8([]byte(s[i:]))
		}
		i += n
	}
	return nil
}

// stringLimit returns n of varchar(n)/bpchar(n), or -1.
func stringLimit(t T) int {
	if (t.Oid == OidVarchar || t.Oid == OidBPChar) && t.Mod >= 4 {
		return int(t.Mod - 4)
	}
	return -1
}

// runeCut returns the byte length of the first n characters of s and
// whether s has more than n characters.
func runeCut(s string, n int) (int, bool) {
	if len(s) <= n {
		return len(s), false
	}
	i, k := 0, 0
	for i < len(s) && k < n {
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, sz := utf8.DecodeRuneInString(s[i:])
			i += sz
		}
		k++
	}
	return i, i < len(s)
}

// applyStringTypmod applies t's length to s: explicit casts truncate,
// assignment and input fail with 22001 unless only spaces are cut; bpchar
// pads with spaces; name truncates to 63 bytes; "char" keeps one byte.
func applyStringTypmod(t T, s string, explicit bool) (string, error) {
	switch t.Oid {
	case OidName:
		return truncateName(s), nil
	case OidChar:
		if len(s) > 1 {
			return s[:1], nil
		}
		return s, nil
	}
	n := stringLimit(t)
	if n < 0 {
		return s, nil
	}
	cut, over := runeCut(s, n)
	if over {
		if !explicit && strings.TrimLeft(s[cut:], " ") != "" {
			what := "character varying"
			if t.Oid == OidBPChar {
				what = "character"
			}
			return "", pgerror.New(pgerror.CodeStringDataRightTruncation, "value too long for type %s(%d)", what, n)
		}
		s = s[:cut]
	}
	if t.Oid == OidBPChar {
		if k := utf8.RuneCountInString(s); k < n {
			s += strings.Repeat(" ", n-k)
		}
	}
	return s, nil
}

// truncateName cuts s to at most 63 bytes at a character boundary.
func truncateName(s string) string {
	if len(s) <= nameMaxBytes {
		return s
	}
	i := nameMaxBytes
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// bpcharTrim drops trailing spaces, as bpchar comparison and bpchar to
// text conversion do.
func bpcharTrim(s string) string {
	return strings.TrimRight(s, " ")
}

// parseChar is charin: one byte, or \ooo octal.
func parseChar(s string) string {
	if len(s) == 4 && s[0] == '\\' && isOctal(s[1]) && isOctal(s[2]) && isOctal(s[3]) {
		b := (s[1]-'0')<<6 | (s[2]-'0')<<3 | (s[3] - '0')
		if b == 0 {
			return ""
		}
		return string([]byte{b})
	}
	if len(s) == 0 {
		return ""
	}
	return s[:1]
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// appendChar is charout: high-bit bytes as \ooo, NUL as nothing.
func appendChar(buf []byte, s string) []byte {
	if len(s) == 0 || s[0] == 0 {
		return buf
	}
	c := s[0]
	if c >= 0x80 {
		return append(buf, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
	}
	return append(buf, c)
}

// appendBytea is byteaout with bytea_output = hex.
func appendBytea(buf []byte, b []byte) []byte {
	buf = append(buf, '\\', 'x')
	for _, c := range b {
		buf = append(buf, hexDigits[c>>4], hexDigits[c&15])
	}
	return buf
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseBytea is byteain: \x hex format, or the escape format.
func parseBytea(s string) ([]byte, error) {
	if len(s) >= 2 && s[0] == '\\' && s[1] == 'x' {
		out := make([]byte, 0, (len(s)-2)/2)
		for i := 2; i < len(s); {
			c := s[i]
			if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
				i++
				continue
			}
			hi, ok := unhex(c)
			if !ok {
				return nil, errHexDigit(s[i:])
			}
			if i+1 >= len(s) {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid hexadecimal data: odd number of digits")
			}
			lo, ok := unhex(s[i+1])
			if !ok {
				return nil, errHexDigit(s[i+1:])
			}
			out = append(out, hi<<4|lo)
			i += 2
		}
		return out, nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			out = append(out, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 4
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i += 2
			continue
		}
		return nil, pgerror.New(pgerror.CodeInvalidTextRepresentation, "invalid input syntax for type bytea")
	}
	return out, nil
}

func errHexDigit(rest string) error {
	_, n := utf8.DecodeRuneInString(rest)
	return pgerror.New(pgerror.CodeInvalidParameterValue, "invalid hexadecimal digit: \"%s\"", rest[:n])
}

// parseUUID is uuid_in: 32 hex digits, a hyphen allowed after any group
// of four, optionally in braces.
func parseUUID(s string) (uuid.UUID, error) {
	var u uuid.UUID
	p := s
	braces := false
	if len(p) > 0 && p[0] == '{' {
		braces = true
		p = p[1:]
	}
	for i := 0; i < 16; i++ {
		if len(p) < 2 {
			return u, errSyntax("uuid", s)
		}
		hi, ok1 := unhex(p[0])
		lo, ok2 := unhex(p[1])
		if !ok1 || !ok2 {
			return u, errSyntax("uuid", s)
		}
		u[i] = hi<<4 | lo
		p = p[2:]
		if len(p) > 0 && p[0] == '-' && i%2 == 1 && i < 15 {
			p = p[1:]
		}
	}
	if braces {
		if len(p) == 0 || p[0] != '}' {
			return u, errSyntax("uuid", s)
		}
		p = p[1:]
	}
	if p != "" {
		return u, errSyntax("uuid", s)
	}
	return u, nil
}

// appendUUID is uuid_out: lower-case 8-4-4-4-12.
func appendUUID(buf []byte, u uuid.UUID) []byte {
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf = append(buf, '-')
		}
		buf = append(buf, hexDigits[c>>4], hexDigits[c&15])
	}
	return buf
}
