package types

import (
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Every error the codecs return is a *pgerror.Error carrying the SQLSTATE
// and message text PostgreSQL 15 uses for the same failure. The helpers
// below build the recurring ones; they run only on error paths.

// SQLSTATE codes used here that package pgerror does not name.
const (
	codeInvalidTimeZoneDisplacement = "22009"
	codeIntervalFieldOverflow       = "22015"
	codeUntranslatableCharacter     = "22P05"
)

// errSyntax is 22P02 invalid input syntax for type typ: "s".
func errSyntax(typ, s string) *pgerror.Error {
	return pgerror.New(pgerror.CodeInvalidTextRepresentation, "invalid input syntax for type %s: \"%s\"", typ, s)
}

// errValueOutOfRange is 22003 value "s" is out of range for type typ.
func errValueOutOfRange(typ, s string) *pgerror.Error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value \"%s\" is out of range for type %s", s, typ)
}

// errFloatOutOfRange is 22003 "s" is out of range for type typ.
func errFloatOutOfRange(typ, s string) *pgerror.Error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "\"%s\" is out of range for type %s", s, typ)
}

// errIntOutOfRange is 22003 "smallint out of range" and the like.
func errIntOutOfRange(t T) *pgerror.Error {
	switch t.Oid {
	case OidInt2:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "smallint out of range")
	case OidInt8:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "bigint out of range")
	case OidOid, OidRegclass, OidRegproc, OidRegtype, OidRegnamespace, OidRegrole:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "OID out of range")
	}
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "integer out of range")
}

// errBinary is 22P03, the error of a malformed binary value.
func errBinary(typ string) *pgerror.Error {
	return pgerror.New(pgerror.CodeInvalidBinaryRepresentation, "incorrect binary data format for type %s", typ)
}

// errCannotCast is 42846 cannot cast type a to b.
func errCannotCast(from, to T) *pgerror.Error {
	return pgerror.New(pgerror.CodeCannotCoerce, "cannot cast type %s to %s", FormatType(from), FormatType(to))
}

// errCorrupt reports an undecodable key or value encoding (XX001 in
// PostgreSQL's terms: data corrupted).
func errCorrupt(what string) *pgerror.Error {
	return pgerror.New("XX001", "types: corrupt %s encoding", what)
}

// errBadUTF8 is 22021 for an invalid byte sequence at b.
func errBadUTF8(b []byte) *pgerror.Error {
	n := len(b)
	if n > 8 {
		n = 8
	}
	var hex []byte
	for i := 0; i < n; i++ {
		if i > 0 {
			hex = append(hex, ' ')
		}
		hex = append(hex, '0', 'x', hexDigits[b[i]>>4], hexDigits[b[i]&15])
		if i == 0 && b[0] < 0x80 {
			break
		}
	}
	return pgerror.New(pgerror.CodeCharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": %s", hex)
}

const hexDigits = "0123456789abcdef"

// errOverflow and errUnderflow are float8/float4 range errors of casts
// and arithmetic.
func errOverflow() *pgerror.Error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: overflow")
}

func errUnderflow() *pgerror.Error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: underflow")
}

// errNumericOverflow is 22003 value overflows numeric format.
func errNumericOverflow() *pgerror.Error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value overflows numeric format")
}

// errTimestampRange is 22008 timestamp out of range.
func errTimestampRange() *pgerror.Error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "timestamp out of range")
}

// errDateRange is 22008 date out of range.
func errDateRange() *pgerror.Error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "date out of range")
}

// errIntervalRange is 22008 interval out of range.
func errIntervalRange() *pgerror.Error {
	return pgerror.New(pgerror.CodeDatetimeFieldOverflow, "interval out of range")
}
