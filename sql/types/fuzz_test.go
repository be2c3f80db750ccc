package types

import (
	"testing"
)

// Fuzz targets: the decoders and parsers never panic on arbitrary input,
// and what they accept survives a round trip. Run one with, e.g.,
//
//	go test ./sql/types -run '^$' -fuzz FuzzParseText -fuzztime 30s

// fuzzTypes are the types a fuzz input picks from by index.
var fuzzTypes = append([]T{Record, Unknown, Void}, propTypes...)

func fuzzType(i uint8) T { return fuzzTypes[int(i)%len(fuzzTypes)] }

func FuzzDecodeKey(f *testing.F) {
	f.Add([]byte{0x01, 0x80, 0, 0, 0, 0, 0, 0, 1}, uint8(4), false)
	f.Add([]byte{0x01, 0x04, 0x80, 0, 0, 2, 0x0d, 0x33, 0}, uint8(9), false)
	f.Add([]byte{0x01, 0x05, 0, 0, 0, 1, 0, 0x02, 0x61, 0, 1}, uint8(25), false)
	f.Add([]byte{0xfe, 0x9e, 0xff, 0xfe}, uint8(11), true)
	f.Fuzz(func(t *testing.T, b []byte, ti uint8, desc bool) {
		typ := fuzzType(ti)
		d, rest, err := DecodeKey(b, typ, desc)
		if err != nil {
			return
		}
		if len(rest) > len(b) {
			t.Fatalf("rest longer than input")
		}
		// A decoded datum encodes and decodes to an equal one.
		k := AppendKey(nil, typ, d, desc)
		d2, _, err := DecodeKey(k, typ, desc)
		if err != nil {
			t.Fatalf("re-decoding %x: %v", k, err)
		}
		if compareNullable(typ, d, d2) != 0 {
			t.Fatalf("%s re-decoded as %s", show(typ, d), show(typ, d2))
		}
	})
}

func FuzzDecodeValue(f *testing.F) {
	f.Add([]byte{0x01, 0x0a}, uint8(4))
	f.Add([]byte{0x01, 0x30, 0xe2, 0x09}, uint8(9))
	f.Add([]byte{0x01, 0x02, 0x01, 0x02, 0x00}, uint8(27))
	f.Add([]byte{0x01, 0x02, 0x14, 0x01, 0x02, 0x00}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, ti uint8) {
		typ := fuzzType(ti)
		d, rest, err := DecodeValue(b, typ)
		if err != nil {
			return
		}
		if len(rest) > len(b) {
			t.Fatalf("rest longer than input")
		}
		v := AppendValue(nil, typ, d)
		d2, _, err := DecodeValue(v, typ)
		if err != nil {
			t.Fatalf("re-decoding %x: %v", v, err)
		}
		if !datumIdentical(d, d2) {
			t.Fatalf("value %x decodes differently after a round trip", v)
		}
		_ = AppendText(nil, typ, d) // printable without panicking
	})
}

func FuzzParseText(f *testing.F) {
	for _, s := range []string{"1", "-1.5e3", "NaN", "2024-01-02 03:04:05+01", "1 day 02:00",
		"{1,NULL,\"a b\"}", `{"a": [1, 2.50]}`, "\\x0102", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"Jan 2 2024 3:04 PM", "P1Y2M", "infinity", "t"} {
		for i := range fuzzTypes {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, s string, ti uint8) {
		typ := fuzzType(ti)
		d, err := ParseText(typ, s)
		if err != nil || d == nil {
			return
		}
		// Output reads back as an equal datum.
		out := string(AppendText(nil, typ, d))
		d2, err := ParseText(typ, out)
		if err != nil {
			t.Fatalf("ParseText(%q) ok, but its output %q does not parse: %v", s, out, err)
		}
		if Compare(typ, d, d2) != 0 {
			t.Fatalf("ParseText(%q) = %q, which reads back as %q", s, out, AppendText(nil, typ, d2))
		}
		if typ.Family() != RecordFamily {
			if _, err := AppendBinary(nil, typ, d); err != nil {
				t.Fatalf("AppendBinary(%q): %v", out, err)
			}
		}
	})
}

func FuzzParseBinary(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, uint8(5))
	f.Add([]byte{0, 2, 0, 0, 0x40, 0, 0, 2, 0, 12, 0x13, 0x88}, uint8(9))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x17, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7}, uint8(28))
	f.Add([]byte{1, '{', '}'}, uint8(25))
	f.Fuzz(func(t *testing.T, b []byte, ti uint8) {
		typ := fuzzType(ti)
		d, err := ParseBinary(typ, b)
		if err != nil || d == nil {
			return
		}
		out, err := AppendBinary(nil, typ, d)
		if err != nil {
			t.Fatalf("AppendBinary after ParseBinary(%x): %v", b, err)
		}
		d2, err := ParseBinary(typ, out)
		if err != nil {
			t.Fatalf("ParseBinary(%x) ok, but its re-encoding %x fails: %v", b, out, err)
		}
		if Compare(typ, d, d2) != 0 {
			t.Fatalf("binary %x round trips to a different datum", b)
		}
	})
}
