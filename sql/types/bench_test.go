package types

import (
	"testing"
)

// Benchmarks of the per-row paths. Run with
//
//	go test ./sql/types -run '^$' -bench . -benchmem

var benchCases = []struct {
	name string
	t    T
	in   string
}{
	{"int4", Int4, "123456"},
	{"int8", Int8, "-9876543210"},
	{"float8", Float8, "3.14159"},
	{"numeric", Numeric, "12345.678"},
	{"text", Text, "hello, world"},
	{"varchar10", mustTypmod(Varchar, 10), "hello"},
	{"timestamptz", TimestampTZ, "2024-01-02 03:04:05.123456+00"},
	{"date", Date, "2024-01-02"},
	{"uuid", UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"interval", Interval_, "1 day 02:03:04"},
	{"jsonb", JSONB, `{"a": 1, "b": [true, null]}`},
	{"int4[]", Int4Array, "{1,2,3,4}"},
}

func BenchmarkParseText(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := ParseText(c.t, c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendText(b *testing.B) {
	for _, c := range benchCases {
		d := mustParse(c.t, c.in)
		buf := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = AppendText(buf[:0], c.t, d)
			}
		})
	}
}

func BenchmarkAppendBinary(b *testing.B) {
	for _, c := range benchCases {
		d := mustParse(c.t, c.in)
		buf := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf, _ = AppendBinary(buf[:0], c.t, d)
			}
		})
	}
}

func BenchmarkKey(b *testing.B) {
	for _, c := range benchCases {
		d := mustParse(c.t, c.in)
		buf := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = AppendKey(buf[:0], c.t, d, false)
				if _, _, err := DecodeKey(buf, c.t, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValue(b *testing.B) {
	for _, c := range benchCases {
		d := mustParse(c.t, c.in)
		buf := make([]byte, 0, 256)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = AppendValue(buf[:0], c.t, d)
				if _, _, err := DecodeValue(buf, c.t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	for _, c := range benchCases {
		d1, d2 := mustParse(c.t, c.in), mustParse(c.t, c.in)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				Compare(c.t, d1, d2)
			}
		})
	}
}
