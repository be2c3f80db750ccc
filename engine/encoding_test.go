package engine

import (
	"bytes"
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// randKey returns short keys over a small alphabet that includes the bytes
// the encoding treats specially (0x00 sentinel, 0x09 length, 0xff).
func randKey(rng *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 0x09, 'a', 'b', 0xfe, 0xff}
	k := make([]byte, rng.IntN(6))
	for i := range k {
		k[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return k
}

func randTS(rng *rand.Rand) Timestamp {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return MaxTimestamp
	case 2:
		return Timestamp(1 + rng.IntN(3))
	case 3:
		return Timestamp(0x0900 + rng.IntN(3)) // bytes equal to the length byte
	default:
		return Timestamp(rng.Uint64())
	}
}

// oracleCompare is the order the encoding must produce: user key
// ascending, unversioned first, then timestamps descending.
func oracleCompare(ak []byte, ats Timestamp, bk []byte, bts Timestamp) int {
	if c := bytes.Compare(ak, bk); c != 0 {
		return c
	}
	if ats == bts {
		return 0
	}
	if ats == 0 {
		return -1
	}
	if bts == 0 {
		return 1
	}
	return -cmp.Compare(ats, bts)
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		k, ts := randKey(rng), randTS(rng)
		enc := EncodeKey([]byte("junk"), k, ts)[4:]
		if len(enc) != EncodedKeyLen(k, ts) {
			t.Fatalf("EncodedKeyLen(%x, %d) = %d, encoding has %d bytes", k, ts, EncodedKeyLen(k, ts), len(enc))
		}
		into := make([]byte, EncodedKeyLen(k, ts))
		encodeKeyInto(into, k, ts)
		if !bytes.Equal(into, enc) {
			t.Fatalf("encodeKeyInto = %x, EncodeKey = %x", into, enc)
		}
		dk, dts, err := DecodeKey(enc)
		if err != nil || !bytes.Equal(dk, k) || dts != ts {
			t.Fatalf("DecodeKey(EncodeKey(%x, %d)) = %x, %d, %v", k, ts, dk, dts, err)
		}
		if err := validateKey(enc); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEncodingLayout(t *testing.T) {
	got := EncodeKey(nil, []byte("ab"), 0x0102030405060708)
	want := []byte{'a', 'b', 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x09}
	if !bytes.Equal(got, want) {
		t.Fatalf("versioned layout = %x, want %x", got, want)
	}
	if got := EncodeKey(nil, []byte("ab"), 0); !bytes.Equal(got, []byte{'a', 'b', 0}) {
		t.Fatalf("unversioned layout = %x", got)
	}
}

func TestDecodeKeyMalformed(t *testing.T) {
	for _, enc := range [][]byte{
		nil,
		{'a'},
		{0x09},
		{'a', 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x09}, // no sentinel before the ts
		{'a', 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x09}, // zero timestamp
		{0, 0, 0, 0, 0, 0, 0, 1, 0x09},            // too short
		{'a', 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0x0a}, // unknown length byte
	} {
		if _, _, err := DecodeKey(enc); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("DecodeKey(%x) error = %v, want ErrMalformedKey", enc, err)
		}
	}
}

func TestComparerOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type kt struct {
		k  []byte
		ts Timestamp
	}
	items := make([]kt, 3000)
	for i := range items {
		items[i] = kt{randKey(rng), randTS(rng)}
	}
	for i := range 200000 {
		a, b := items[i%len(items)], items[rng.IntN(len(items))]
		ea, eb := EncodeKey(nil, a.k, a.ts), EncodeKey(nil, b.k, b.ts)
		want := oracleCompare(a.k, a.ts, b.k, b.ts)
		if got := Comparer.Compare(ea, eb); got != want {
			t.Fatalf("Compare(%s, %s) = %d, want %d", FormatKey(ea), FormatKey(eb), got, want)
		}
		if Comparer.Equal(ea, eb) != (want == 0) {
			t.Fatalf("Equal(%s, %s) disagrees with Compare", FormatKey(ea), FormatKey(eb))
		}
		// Prefix order is user key order.
		pa, pb := ea[:Comparer.Split(ea)], eb[:Comparer.Split(eb)]
		if got := bytes.Compare(pa, pb); got != bytes.Compare(a.k, b.k) {
			t.Fatalf("prefix order of %x, %x = %d, user key order %d", a.k, b.k, got, bytes.Compare(a.k, b.k))
		}
		if aa, ab := Comparer.AbbreviatedKey(ea), Comparer.AbbreviatedKey(eb); (aa < ab && want >= 0) || (aa > ab && want <= 0) {
			t.Fatalf("AbbreviatedKey(%s)=%x, (%s)=%x contradict Compare %d", FormatKey(ea), aa, FormatKey(eb), ab, want)
		}
	}
}

func TestComparerSplitInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		k, ts := randKey(rng), randTS(rng)
		enc := EncodeKey(nil, k, ts)
		n := Comparer.Split(enc)
		if n != len(k)+1 || !bytes.Equal(enc[:n], EncodeKey(nil, k, 0)) {
			t.Fatalf("Split(%s) = %d, want the prefix %x", FormatKey(enc), n, EncodeKey(nil, k, 0))
		}
		if ts != 0 && Comparer.Compare(enc[:n], enc) >= 0 {
			t.Fatalf("prefix of %s does not sort first", FormatKey(enc))
		}
		// Trimming leading bytes of a prefix yields a prefix.
		for j := 1; j < n; j++ {
			if Comparer.Split(enc[j:n]) != n-j {
				t.Fatalf("Split of trimmed prefix %x", enc[j:n])
			}
		}
		// ImmediateSuccessor: the next user key.
		succ := Comparer.ImmediateSuccessor(nil, enc[:n])
		if !bytes.Equal(succ, EncodeKey(nil, append(slices.Clone(k), 0), 0)) || Comparer.Split(succ) != len(succ) {
			t.Fatalf("ImmediateSuccessor(%x) = %x", enc[:n], succ)
		}
		// Successor: >= a and valid.
		s := Comparer.Successor(nil, enc)
		if Comparer.Compare(enc, s) > 0 || validateKey(s) != nil {
			t.Fatalf("Successor(%s) = %x", FormatKey(enc), s)
		}
		// Separator: a <= sep < b, valid.
		k2, ts2 := randKey(rng), randTS(rng)
		enc2 := EncodeKey(nil, k2, ts2)
		a, b := enc, enc2
		if c := Comparer.Compare(a, b); c == 0 {
			continue
		} else if c > 0 {
			a, b = b, a
		}
		sep := Comparer.Separator([]byte("dst"), a, b)[3:]
		if Comparer.Compare(a, sep) > 0 || Comparer.Compare(sep, b) >= 0 || validateKey(sep) != nil {
			t.Fatalf("Separator(%s, %s) = %x", FormatKey(a), FormatKey(b), sep)
		}
	}
	if s := Comparer.Successor(nil, nil); validateKey(s) != nil {
		t.Fatalf("Successor(empty) = %x is not a valid key", s)
	}
}

// TestComparerPebbleCheck runs pebble's own comparer test suite.
func TestComparerPebbleCheck(t *testing.T) {
	prefixes := [][]byte{
		EncodeKey(nil, nil, 0),
		EncodeKey(nil, []byte("a"), 0),
		EncodeKey(nil, []byte("a\x00"), 0),
		EncodeKey(nil, []byte("a\x09"), 0),
		EncodeKey(nil, []byte("abc"), 0),
		EncodeKey(nil, []byte{0xff, 0xff}, 0),
	}
	var suffixes [][]byte
	for _, ts := range []Timestamp{1, 2, 0x09, 1 << 40, MaxTimestamp - 1, MaxTimestamp} {
		enc := EncodeKey(nil, nil, ts)
		suffixes = append(suffixes, enc[1:])
	}
	if err := pebble.CheckComparer(Comparer, prefixes, suffixes); err != nil {
		t.Fatal(err)
	}
}

func TestTimestamp(t *testing.T) {
	ts := MakeTimestamp(1700000000123, 5)
	if ts.Physical() != 1700000000123 || ts.Logical() != 5 {
		t.Fatalf("MakeTimestamp round trip: %d, %d", ts.Physical(), ts.Logical())
	}
	if got := ts.String(); got != "1700000000123.5" {
		t.Fatalf("String = %q", got)
	}
	if MakeTimestamp(1, 0) <= MakeTimestamp(0, 1<<LogicalBits-1) {
		t.Fatal("physical time does not dominate the logical counter")
	}
	if got := FormatKey(EncodeKey(nil, []byte("k\x01"), ts)); got != `k\x01@1700000000123.5` {
		t.Fatalf("FormatKey = %q", got)
	}
}

// FuzzDecodeKey checks that no input makes the decoder or the comparer
// panic, and that decodable inputs re-encode to themselves.
func FuzzDecodeKey(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add(EncodeKey(nil, []byte("key"), 42))
	f.Add([]byte{0x09})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09})
	f.Fuzz(func(t *testing.T, enc []byte) {
		key, ts, err := DecodeKey(enc)
		if err == nil {
			if re := EncodeKey(nil, key, ts); !bytes.Equal(re, enc) {
				t.Fatalf("DecodeKey(%x) = %x, %d; re-encodes to %x", enc, key, ts, re)
			}
			if Comparer.Split(enc) != len(key)+1 {
				t.Fatalf("Split(%x) = %d", enc, Comparer.Split(enc))
			}
		}
		_ = Comparer.Split(enc)
		_ = Comparer.AbbreviatedKey(enc)
		_ = FormatKey(enc)
		if Comparer.Compare(enc, enc) != 0 {
			t.Fatalf("Compare(%x, itself) != 0", enc)
		}
		_ = Comparer.Successor(nil, enc)
		if len(enc) > 0 {
			_ = Comparer.Separator(nil, enc, EncodeKey(nil, []byte("m"), 7))
		}
	})
}
