// Package types is shard's model of SQL values: the types PostgreSQL 15
// has that shard supports, the Go value (datum) that holds each, and every
// encoding a datum goes through — PostgreSQL's text and binary wire
// formats, an order-preserving key encoding for index keys and a compact
// value encoding for row columns — plus comparison, casts and type
// modifiers. PostgreSQL 15 is the reference for every answer: outputs,
// accepted inputs, error codes and messages.
//
// # Types and families
//
// A type is a T: the pg_type OID and the type modifier (atttypmod): -1 for
// none, n+4 for varchar(n) and bpchar(n), ((p<<16)|(s&0x7ff))+4 for
// numeric(p,s), the fractional precision for timestamp(p), timestamptz(p)
// and time(p), (0x7fff<<16)|p for interval(p). MakeTypmod builds them
// from SQL's numbers, FormatType prints a type as format_type does. An
// array type's modifier applies to its elements.
//
// Types share a Family, which fixes the Go representation of non-NULL
// datums (NULL is always the untyped nil):
//
//	BoolFamily         bool
//	IntFamily          int64 (int2, int4, int8; the range is the type's)
//	OidFamily          int64 in [0, 2^32) (oid, regclass, regtype, ...)
//	FloatFamily        float64 (a float4 holds a value exact in float32)
//	DecimalFamily      *apd.Decimal: Exponent = -dscale (never positive when
//	                   made here), NaN and ±Infinity forms, no negative zero
//	StringFamily       string (text, varchar, bpchar padded to n, name up to
//	                   63 bytes, "char" as 0 or 1 byte)
//	BytesFamily        []byte
//	DateFamily         time.Time at 00:00 UTC of the date
//	TimestampFamily    time.Time in UTC holding the wall clock
//	TimestampTZFamily  time.Time, the instant, in UTC
//	TimeFamily         time.Duration since midnight, 0 to 24h inclusive
//	IntervalFamily     Interval{Months, Days, Micros}, kept apart
//	UUIDFamily         uuid.UUID
//	JSONFamily         JSON: json as its input text, jsonb normalized
//	ArrayFamily        *Array, one dimension, lower bound 1
//	RecordFamily       []Datum (output only; field types inferred)
//
// The date/time infinities are InfinityTime and NegInfinityTime for all
// three date/time families. Datums are immutable: functions here never
// modify their arguments and results may share memory with them.
//
// # The moving parts
//
//	ParseText / AppendText       the type's input and output functions
//	                             (DateStyle ISO, MDY; TimeZone UTC;
//	                             extra_float_digits 1; IntervalStyle
//	                             postgres; bytea_output hex)
//	ParseBinary / AppendBinary   typreceive / typsend
//	Compare                      the default btree operator class
//	Cast                         explicit casts (CheckAssign: assignment)
//	AppendKey / DecodeKey        order-preserving, self-delimiting keys
//	AppendValue / DecodeValue    compact, exact, self-delimiting values
//
// Input functions apply the typmod the way PostgreSQL's do when given one
// (varchar(n) errors when too long, numeric(p,s) rounds and checks), and
// so do the receive functions. Cast truncates as an explicit cast does;
// CheckAssign applies a column's type with INSERT/UPDATE semantics.
//
// # Invariants
//
//   - Text round trip: for every datum d of type t, ParseText(t,
//     AppendText(t, d)) is Compare-equal to d (FuzzParseText checks it).
//   - Key order: for datums a, b (NULL allowed) of type t,
//     sign(bytes.Compare(AppendKey(a), AppendKey(b))) is Compare's sign
//     with NULL first; with desc every byte is inverted, so the order
//     reverses and NULL comes last (TestKeyProperties).
//   - Key equality: Compare-equal datums have identical keys (1.5 and
//     1.50, '1 mon' and '30 days', bpchar 'a' and 'a  ', -0 and 0), so a
//     key decodes to the canonical member of the class; every other
//     datum decodes exactly.
//   - Self-delimiting: DecodeKey and DecodeValue consume exactly one
//     encoded datum and return the rest, so columns concatenate.
//   - Value exactness: DecodeValue(AppendValue(d)) is d, numeric scale,
//     interval fields and float bits included (TestValueRoundTrip).
//   - Robustness: the decoders and parsers return errors, never panic, on
//     any input (the Fuzz targets).
//   - Errors are *pgerror.Error with PostgreSQL's SQLSTATE and message.
//
// The key layout is documented in key.go and the value layout in value.go.
// Both are persistent formats: changing either needs a data migration.
//
// # Known differences from PostgreSQL
//
// Strings compare bytewise (PostgreSQL's C/C.UTF-8 collation); arrays
// have one dimension and lower bound 1 (others are 0A000); reg* types
// print and parse as numbers only; date/time input refuses the words that
// read the clock (now, today, ...) and knows a short list of zone
// abbreviations besides UTC offsets and full zone names; interval input
// ignores a typmod's field restriction (interval(p) is honored); records
// carry no field types, so a record field prints by its Go type.
//
// Float output follows PostgreSQL's Ryu exactly, including its exclusion
// of halfway decimals (float_shortest.go): 1e23 prints as
// 9.999999999999999e+22, as it does in PostgreSQL.
//
// # Debugging
//
// testdata/pg.golden holds PostgreSQL 15's answers for the cases in
// testdata/pg_cases.txt (inputs with text and binary outputs, casts,
// comparisons); TestPostgresGolden replays them. To add a case, append it
// to pg_cases.txt and regenerate against a local server with
// pgref_gen.go. pgcheck_test.go (build tag pgref) sends random datums of
// every type to such a server in text and binary and compares its outputs
// with ours. Fuzz failures land in testdata/fuzz and then run as regular
// tests.
package types
