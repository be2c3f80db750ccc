package types

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// pgxTypes are the types checked against pgx's binary codecs.
var pgxTypes = []T{
	Bool, Int2, Int4, Int8, Float4, Float8, Numeric, mustTypmod(Numeric, 10, 2),
	Text, Varchar, mustTypmod(BPChar, 5), Name, Bytea,
	Date, Time, Timestamp, TimestampTZ, Interval_, UUID, JSONType, JSONB, OidT,
	TextArray, Int4Array, T{OidNumericArr, -1}, T{OidFloat8Array, -1}, T{OidDateArray, -1},
	T{OidUUIDArray, -1}, T{OidBoolArray, -1}, T{OidByteaArray, -1}, T{OidTSTZArray, -1},
	T{OidInt8Array, -1},
}

// TestBinaryAgainstPgx encodes random datums with AppendBinary, decodes
// them with pgx's pgtype.Map, encodes pgx's value again and parses that
// with ParseBinary: the result must equal the datum, and both encodings
// must agree byte for byte.
func TestBinaryAgainstPgx(t *testing.T) {
	m := pgtype.NewMap()
	r := rand.New(rand.NewPCG(29, 31))
	for _, typ := range pgxTypes {
		t.Run(FormatType(typ), func(t *testing.T) {
			for i := 0; i < 500; i++ {
				d := genDatum(r, typ)
				if typ.Family() == StringFamily || typ == TextArray || typ.Family() == JSONFamily {
					d = validUTF8Datum(typ, d)
				}
				ours, err := AppendBinary([]byte{}, typ, d) // not nil: nil is NULL to pgx
				if err != nil {
					t.Fatalf("AppendBinary(%s): %v", show(typ, d), err)
				}
				dst := pgxDest(typ)
				if err := m.Scan(typ.Oid, pgtype.BinaryFormatCode, ours, dst); err != nil {
					t.Fatalf("pgx cannot scan %s (%x): %v", show(typ, d), ours, err)
				}
				v := reflect.ValueOf(dst).Elem().Interface()
				theirs, err := m.Encode(typ.Oid, pgtype.BinaryFormatCode, v, nil)
				if err != nil {
					t.Fatalf("pgx cannot encode %#v: %v", v, err)
				}
				back, err := ParseBinary(typ, theirs)
				if err != nil {
					t.Fatalf("ParseBinary(pgx's %x for %s): %v", theirs, show(typ, d), err)
				}
				// pgx drops the dscale of numeric zero; otherwise the text
				// must match too.
				if Compare(typ, back, d) != 0 || (show(typ, back) != show(typ, d) && !pgxEncodesDifferently(typ, d)) {
					t.Fatalf("%s went through pgx as %s", show(typ, d), show(typ, back))
				}
				if !bytes.Equal(ours, theirs) && !pgxEncodesDifferently(typ, d) {
					t.Fatalf("%s: ours %x, pgx %x", show(typ, d), ours, theirs)
				}
			}
		})
	}
}

// pgxEncodesDifferently lists the values whose pgx encoding is valid but
// not byte-identical to PostgreSQL's: numerics (pgx does not strip zero
// digit groups the way numeric_send does) and empty arrays (pgx sends one
// dimension of length 0, PostgreSQL none).
func pgxEncodesDifferently(t T, d Datum) bool {
	if a, ok := d.(*Array); ok && len(a.Elems) == 0 {
		return true
	}
	return t.Family() == DecimalFamily || t.Oid == OidNumericArr
}

// pgxDest returns a pointer to the pgx value a type scans into.
func pgxDest(t T) any {
	switch t.Oid {
	case OidBool:
		return new(bool)
	case OidInt2, OidInt4, OidInt8:
		return new(int64)
	case OidFloat4:
		return new(pgtype.Float4)
	case OidFloat8:
		return new(float64)
	case OidNumeric:
		return new(pgtype.Numeric)
	case OidText, OidVarchar, OidBPChar, OidName:
		return new(string)
	case OidBytea, OidJSON, OidJSONB:
		return new([]byte)
	case OidDate:
		return new(pgtype.Date)
	case OidTime:
		return new(pgtype.Time)
	case OidTimestamp:
		return new(pgtype.Timestamp)
	case OidTimestampTZ:
		return new(pgtype.Timestamptz)
	case OidInterval:
		return new(pgtype.Interval)
	case OidUUID:
		return new(pgtype.UUID)
	case OidOid:
		return new(uint32)
	case OidTextArray:
		return new([]pgtype.Text)
	case OidInt4Array:
		return new([]pgtype.Int4)
	case OidInt8Array:
		return new([]pgtype.Int8)
	case OidNumericArr:
		return new([]pgtype.Numeric)
	case OidFloat8Array:
		return new([]pgtype.Float8)
	case OidDateArray:
		return new([]pgtype.Date)
	case OidUUIDArray:
		return new([]pgtype.UUID)
	case OidBoolArray:
		return new([]pgtype.Bool)
	case OidByteaArray:
		return new([][]byte)
	case OidTSTZArray:
		return new([]pgtype.Timestamptz)
	}
	panic("pgxDest: " + t.Name())
}

// validUTF8Datum replaces strings that PostgreSQL would not accept.
func validUTF8Datum(t T, d Datum) Datum {
	switch v := d.(type) {
	case string:
		if checkUTF8(v) != nil {
			s, _ := applyStringTypmod(arrayElemType(t, nil), "ok", true)
			if t.Family() != ArrayFamily {
				s, _ = applyStringTypmod(t, "ok", true)
			}
			return s
		}
	case *Array:
		for i, e := range v.Elems {
			if e != nil {
				v.Elems[i] = validUTF8Datum(t, e)
			}
		}
	}
	return d
}
