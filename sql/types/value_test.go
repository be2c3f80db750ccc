package types

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestValueRoundTrip checks that every family decodes exactly what it
// encoded, leaving what follows.
func TestValueRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 23))
	types := append([]T{Record}, propTypes...)
	for _, typ := range types {
		t.Run(FormatType(typ), func(t *testing.T) {
			for i := 0; i < 1000; i++ {
				var d Datum
				switch {
				case r.IntN(10) == 0:
				case typ == Record:
					d = genRecord(r)
				default:
					d = genDatum(r, typ)
				}
				buf := AppendValue([]byte("x"), typ, d)
				buf = append(buf, 0xfe)
				got, rest, err := DecodeValue(buf[1:], typ)
				if err != nil {
					t.Fatalf("DecodeValue(%s): %v\n%x", show(typ, d), err, buf)
				}
				if !bytes.Equal(rest, []byte{0xfe}) {
					t.Fatalf("DecodeValue(%s) left %x", show(typ, d), rest)
				}
				if !datumIdentical(got, d) {
					t.Fatalf("DecodeValue(%s) = %s", show(typ, d), show(typ, got))
				}
			}
		})
	}
}

func genRecord(r *rand.Rand) []Datum {
	rec := make([]Datum, r.IntN(4))
	for i := range rec {
		switch r.IntN(6) {
		case 0:
		case 1:
			rec[i] = genDatum(r, Int8)
		case 2:
			rec[i] = genDatum(r, Text)
		case 3:
			rec[i] = genDatum(r, Numeric)
		case 4:
			rec[i] = genDatum(r, TimestampTZ)
		case 5:
			rec[i] = genRecord(r)
		}
	}
	return rec
}

// TestValueSizes pins the compactness of common values.
func TestValueSizes(t *testing.T) {
	for _, c := range []struct {
		typ  T
		d    Datum
		size int
	}{
		{Int8, nil, 1},
		{Bool, true, 1},
		{Int4, int64(5), 2},
		{Int8, int64(-64), 2},
		{Int8, int64(1 << 40), 7},
		{Float8, 1.5, 9},
		{Float4, 1.5, 5},
		{Text, "abc", 5},
		{Numeric, mustParse(Numeric, "12.50"), 4},
		{Date, mustParse(Date, "2024-01-02"), 4},
		{Time, 3 * time.Second, 5},
		{UUID, mustParse(UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), 17},
		{Int4Array, mustParse(Int4Array, "{1,NULL,3}"), 7},
	} {
		if got := len(AppendValue(nil, c.typ, c.d)); got != c.size {
			t.Errorf("%s %v: %d bytes; want %d", FormatType(c.typ), show(c.typ, c.d), got, c.size)
		}
	}
}

func mustParse(t T, s string) Datum {
	d, err := ParseText(t, s)
	if err != nil {
		panic(err)
	}
	return d
}
