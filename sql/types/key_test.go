package types

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"strings"
	"testing"
)

// compareNullable orders NULL first, then as Compare does.
func compareNullable(t T, a, b Datum) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return Compare(t, a, b)
}

// keyExact reports whether DecodeKey must return exactly the datum
// encoded (the other types return the canonical member of its class).
func keyExact(t T) bool {
	switch t.Family() {
	case DecimalFamily, IntervalFamily, FloatFamily:
		return false
	case StringFamily:
		return t.Oid != OidBPChar
	case JSONFamily:
		return t.Oid == OidJSON
	case ArrayFamily:
		return keyExact(t.Elem())
	}
	return true
}

func sign(c int) int { return cmp.Compare(c, 0) }

// TestKeyProperties checks, for random pairs of datums of every type, that
// bytewise order of keys is Compare's order ascending and its reverse
// descending, that keys decode to an equal datum (the same one for exact
// types) leaving what follows, and that re-encoding is stable.
func TestKeyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for _, typ := range propTypes {
		t.Run(FormatType(typ), func(t *testing.T) {
			gen := func() Datum {
				if r.IntN(12) == 0 {
					return nil
				}
				return genDatum(r, typ)
			}
			for i := 0; i < iters; i++ {
				a, b := gen(), gen()
				if i%5 == 0 {
					b = a
				}
				want := compareNullable(typ, a, b)
				if back := compareNullable(typ, b, a); back != -want {
					t.Fatalf("Compare not antisymmetric for %v, %v: %d, %d", a, b, want, back)
				}
				for _, desc := range []bool{false, true} {
					ka := AppendKey(nil, typ, a, desc)
					kb := AppendKey(nil, typ, b, desc)
					got := sign(bytes.Compare(ka, kb))
					if desc {
						got = -got
					}
					if got != want {
						t.Fatalf("desc=%v: keys of %s and %s order %d, Compare says %d\n%x\n%x",
							desc, show(typ, a), show(typ, b), got, want, ka, kb)
					}
					checkKeyDecode(t, typ, a, desc)
				}
			}
		})
	}
}

func show(t T, d Datum) string {
	if d == nil {
		return "NULL"
	}
	return string(AppendText(nil, t, d))
}

func checkKeyDecode(t *testing.T, typ T, d Datum, desc bool) {
	t.Helper()
	prefix := []byte("pre")
	k := AppendKey(append([]byte{}, prefix...), typ, d, desc)
	k = append(k, 0x00, 0x01, 0xff) // what follows must be left alone
	got, rest, err := DecodeKey(k[len(prefix):], typ, desc)
	if err != nil {
		t.Fatalf("DecodeKey(%s, desc %v): %v\n%x", show(typ, d), desc, err, k)
	}
	if !bytes.Equal(rest, []byte{0x00, 0x01, 0xff}) {
		t.Fatalf("DecodeKey(%s) left %x", show(typ, d), rest)
	}
	if compareNullable(typ, got, d) != 0 {
		t.Fatalf("DecodeKey(%s, desc %v) = %s", show(typ, d), desc, show(typ, got))
	}
	if keyExact(typ) && !datumIdentical(got, d) {
		t.Fatalf("DecodeKey(%s) = %s, not identical", show(typ, d), show(typ, got))
	}
	if k2 := AppendKey(nil, typ, got, desc); !bytes.Equal(k2, k[len(prefix):len(k)-3]) {
		t.Fatalf("re-encoding %s gives %x, not %x", show(typ, got), k2, k[len(prefix):len(k)-3])
	}
}

// TestKeyConcatenation decodes several columns encoded back to back.
func TestKeyConcatenation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 500; i++ {
		var key []byte
		var typs []T
		var vals []Datum
		var descs []bool
		for j := 0; j < 4; j++ {
			typ := propTypes[r.IntN(len(propTypes))]
			var d Datum
			if r.IntN(5) != 0 {
				d = genDatum(r, typ)
			}
			desc := r.IntN(2) == 0
			key = AppendKey(key, typ, d, desc)
			typs, vals, descs = append(typs, typ), append(vals, d), append(descs, desc)
		}
		rest := key
		for j := range typs {
			d, next, err := DecodeKey(rest, typs[j], descs[j])
			if err != nil {
				t.Fatalf("column %d (%s): %v", j, FormatType(typs[j]), err)
			}
			if compareNullable(typs[j], d, vals[j]) != 0 {
				t.Fatalf("column %d: %s, want %s", j, show(typs[j], d), show(typs[j], vals[j]))
			}
			rest = next
		}
		if len(rest) != 0 {
			t.Fatalf("left %x", rest)
		}
	}
}

// TestKeyCanonical pins the canonical members DecodeKey returns.
func TestKeyCanonical(t *testing.T) {
	for _, c := range []struct {
		typ       T
		in, out   string
		wantExact bool
	}{
		{Numeric, "1.50", "1.5", false},
		{Numeric, "-0.000", "0", false},
		{Numeric, "1200", "1200", true},
		{Numeric, "1e-5", "0.00001", true},
		{mustTypmod(Numeric, 10, 2), "1.50", "1.50", true},
		{mustTypmod(Numeric, 10, 2), "0", "0.00", true},
		{mustTypmod(Numeric, 5, -2), "1200", "1200", true},
		{Float8, "-0", "0", false},
		{mustTypmod(BPChar, 4), "ab", "ab  ", true},
		{BPChar, "ab  ", "ab", false},
		{Interval_, "1 mon", "1 mon", true},
		{Interval_, "30 days", "1 mon", false},
		{Interval_, "-25 hours", "-1 days -01:00:00", true},
		{Interval_, "1 day -1 hour", "23:00:00", false},
		{JSONB, `{"a": 1.50, "b": [2.0]}`, `{"a": 1.5, "b": [2]}`, false},
		{JSONB, `"x"`, `"x"`, true},
	} {
		d, err := ParseText(c.typ, c.in)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := DecodeKey(AppendKey(nil, c.typ, d, false), c.typ, false)
		if err != nil {
			t.Fatal(err)
		}
		if s := show(c.typ, got); s != c.out {
			t.Errorf("%s %q: key decodes to %q; want %q", FormatType(c.typ), c.in, s, c.out)
		}
	}
}

// TestKeyLayout pins a few encodings byte for byte.
func TestKeyLayout(t *testing.T) {
	for _, c := range []struct {
		typ  T
		in   string
		desc bool
		want string
	}{
		{Int4, "1", false, "01 8000000000000001"},
		{Int4, "-1", false, "01 7fffffffffffffff"},
		{Int4, "1", true, "fe 7ffffffffffffffe"},
		{Bytea, "\\x610062", false, "01 6100ff62 0001"},
		{Text, "ab", true, "fe 9e9d fffe"},
		{Bool, "t", false, "01 01"},
		{Numeric, "12.5", false, "01 04 80000002 0d33 00"},
		{Numeric, "-12.5", false, "01 02 7ffffffd f2cc ff"},
		{Numeric, "0", false, "01 03"},
		{Numeric, "NaN", false, "01 06"},
		{Date, "2000-01-02", false, "01 80000001"},
		{UUID, "00010203-0405-0607-0809-0a0b0c0d0e0f", false, "01 000102030405060708090a0b0c0d0e0f"},
		{Int4Array, "{1,NULL}", false, "01 02 8000000000000001 03 01"},
	} {
		d, err := ParseText(c.typ, c.in)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendKey(nil, c.typ, d, c.desc)
		want := strings.ReplaceAll(c.want, " ", "")
		if hexs := hexString(got); hexs != want {
			t.Errorf("key %s %q desc %v = %s; want %s", FormatType(c.typ), c.in, c.desc, hexs, want)
		}
	}
	if got := AppendKey(nil, Int4, nil, false); !bytes.Equal(got, []byte{0}) {
		t.Errorf("NULL key %x", got)
	}
	if got := AppendKey(nil, Int4, nil, true); !bytes.Equal(got, []byte{0xff}) {
		t.Errorf("NULL desc key %x", got)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestJSONBOrderOracle compares the jsonb order (built on the key
// encoding) with a direct transcription of PostgreSQL's
// compareJsonbContainers on random documents.
func TestJSONBOrderOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	for i := 0; i < 5000; i++ {
		a, _ := normalizeJSONB(genJSON(r, 0))
		b, _ := normalizeJSONB(genJSON(r, 0))
		va, _ := parseJSONB(string(a))
		vb, _ := parseJSONB(string(b))
		want := jsonOracle(wrapScalar(va), wrapScalar(vb))
		if got := Compare(JSONB, a, b); got != want {
			t.Fatalf("Compare(%s, %s) = %d; oracle says %d", a, b, got, want)
		}
	}
}

// oracleValue is a jsonb container value the way PostgreSQL iterates it:
// a top-level scalar is a raw-scalar array of one element.
type oracleValue struct {
	jsonValue
	raw bool
}

func wrapScalar(v jsonValue) oracleValue {
	if v.kind == jArray || v.kind == jObject {
		return oracleValue{v, false}
	}
	return oracleValue{jsonValue{kind: jArray, elems: []jsonValue{v}}, true}
}

// jsonOracle is compareJsonbContainers: containers compare by type, then
// raw-scalar flag and size, then the members in order.
func jsonOracle(a, b oracleValue) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind)
	}
	switch a.kind {
	case jArray:
		res := 0
		if a.raw != b.raw {
			res = 1
			if a.raw {
				res = -1
			}
		}
		if len(a.elems) != len(b.elems) {
			return cmp.Compare(len(a.elems), len(b.elems))
		}
		if res != 0 {
			return res
		}
		for i := range a.elems {
			if c := jsonOracle(oracleValue{a.elems[i], false}, oracleValue{b.elems[i], false}); c != 0 {
				return c
			}
		}
		return 0
	case jObject:
		if len(a.pairs) != len(b.pairs) {
			return cmp.Compare(len(a.pairs), len(b.pairs))
		}
		for i := range a.pairs {
			if c := strings.Compare(a.pairs[i].key, b.pairs[i].key); c != 0 {
				return c
			}
			if c := jsonOracle(oracleValue{a.pairs[i].val, false}, oracleValue{b.pairs[i].val, false}); c != 0 {
				return c
			}
		}
		return 0
	case jString:
		return strings.Compare(a.str, b.str)
	case jNumber:
		return compareNumeric(a.num, b.num)
	case jBool:
		return cmp.Compare(boolInt(a.b), boolInt(b.b))
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
