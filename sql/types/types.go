package types

import (
	"fmt"
)

// Oid is a PostgreSQL object id.
type Oid = uint32

// Type OIDs, as PostgreSQL 15 numbers them (pg_type.oid).
const (
	OidBool         Oid = 16
	OidBytea        Oid = 17
	OidChar         Oid = 18 // "char", one byte
	OidName         Oid = 19
	OidInt8         Oid = 20
	OidInt2         Oid = 21
	OidInt2Vector   Oid = 22
	OidInt4         Oid = 23
	OidRegproc      Oid = 24
	OidText         Oid = 25
	OidOid          Oid = 26
	OidOidVector    Oid = 30
	OidJSON         Oid = 114
	OidFloat4       Oid = 700
	OidFloat8       Oid = 701
	OidUnknown      Oid = 705
	OidBoolArray    Oid = 1000
	OidInt2Array    Oid = 1005
	OidInt4Array    Oid = 1007
	OidTextArray    Oid = 1009
	OidInt8Array    Oid = 1016
	OidFloat8Array  Oid = 1022
	OidOidArray     Oid = 1028
	OidNameArray    Oid = 1003
	OidCharArray    Oid = 1002
	OidVarcharArr   Oid = 1015
	OidBPChar       Oid = 1042
	OidVarchar      Oid = 1043
	OidDate         Oid = 1082
	OidTime         Oid = 1083
	OidTimestamp    Oid = 1114
	OidTimestampTZ  Oid = 1184
	OidInterval     Oid = 1186
	OidNumeric      Oid = 1700
	OidRegclass     Oid = 2205
	OidRegtype      Oid = 2206
	OidRegnamespace Oid = 4089
	OidRegrole      Oid = 4096
	OidRecord       Oid = 2249
	OidVoid         Oid = 2278
	OidAny          Oid = 2276
	OidUUID         Oid = 2950
	OidJSONB        Oid = 3802
	OidUUIDArray    Oid = 2951
	OidJSONBArray   Oid = 3807
	OidNumericArr   Oid = 1231
	OidDateArray    Oid = 1182
	OidTSArray      Oid = 1115
	OidTSTZArray    Oid = 1185
	OidFloat4Array  Oid = 1021
	OidByteaArray   Oid = 1001
	OidBPCharArray  Oid = 1014
	OidTimeArray    Oid = 1183
	OidIntervalArr  Oid = 1187
	OidJSONArray    Oid = 199
	OidRegclassArr  Oid = 2210
	OidRegprocArr   Oid = 1008
	OidRegtypeArr   Oid = 2211
	OidRegnspArr    Oid = 4090
	OidRegroleArr   Oid = 4097
	OidRecordArray  Oid = 2287
	OidInt2VecArr   Oid = 1006
	OidOidVecArr    Oid = 1013
)

// Family groups types that share a Go representation and most operators.
type Family uint8

// Families. The Go value that represents a non-NULL datum of each family is
// given; NULL is always the untyped nil.
const (
	UnknownFamily     Family = iota // string (an untyped literal not yet resolved)
	BoolFamily                      // bool
	IntFamily                       // int64 (int2, int4, int8)
	FloatFamily                     // float64 (float4, float8)
	DecimalFamily                   // *apd.Decimal (numeric); never mutated once made
	StringFamily                    // string (text, varchar, bpchar, name, "char")
	BytesFamily                     // []byte (bytea); never mutated once made
	DateFamily                      // time.Time at 00:00 UTC of the date
	TimestampFamily                 // time.Time in UTC holding the wall clock (no zone)
	TimestampTZFamily               // time.Time, an instant, kept in UTC
	IntervalFamily                  // Interval
	UUIDFamily                      // uuid.UUID
	JSONFamily                      // JSON (json and jsonb)
	OidFamily                       // int64 (oid, regclass, regproc, regtype, regnamespace, regrole)
	ArrayFamily                     // *Array
	TimeFamily                      // time.Duration since midnight
	RecordFamily                    // []Datum (row values; output only)
	VoidFamily                      // nil (functions returning void)
)

// Datum is one SQL value: nil for NULL, else the Go type its family
// names. Datums are immutable once built: share them freely.
type Datum = any

// JSON is a json or jsonb value held as its text. For jsonb the text is
// normalized the way PostgreSQL prints jsonb (keys sorted by length then
// bytes, duplicate keys removed, ", " and ": " separators).
type JSON string

// Interval is a PostgreSQL interval: months, days and microseconds are kept
// apart as PostgreSQL does.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// Array is a one-dimensional array value (lower bound 1).
type Array struct {
	Elem  T
	Elems []Datum
}

// T is a SQL type: its OID and type modifier (-1 when none; for varchar(n)
// and bpchar(n) it is n+4, for numeric(p,s) ((p<<16)|(s&0x7ff))+4, for
// timestamp(p)/timestamptz(p)/time(p) it is p, for interval(p)
// (0x7fff<<16)|p, as PostgreSQL stores atttypmod; see MakeTypmod).
type T struct {
	Oid Oid
	Mod int32
}

// Common types.
var (
	Unknown      = T{OidUnknown, -1}
	Bool         = T{OidBool, -1}
	Int2         = T{OidInt2, -1}
	Int4         = T{OidInt4, -1}
	Int8         = T{OidInt8, -1}
	Float4       = T{OidFloat4, -1}
	Float8       = T{OidFloat8, -1}
	Numeric      = T{OidNumeric, -1}
	Text         = T{OidText, -1}
	Varchar      = T{OidVarchar, -1}
	BPChar       = T{OidBPChar, -1}
	Name         = T{OidName, -1}
	Char         = T{OidChar, -1}
	Bytea        = T{OidBytea, -1}
	Date         = T{OidDate, -1}
	Time         = T{OidTime, -1}
	Timestamp    = T{OidTimestamp, -1}
	TimestampTZ  = T{OidTimestampTZ, -1}
	Interval_    = T{OidInterval, -1}
	UUID         = T{OidUUID, -1}
	JSONType     = T{OidJSON, -1}
	JSONB        = T{OidJSONB, -1}
	OidT         = T{OidOid, -1}
	Regclass     = T{OidRegclass, -1}
	Regproc      = T{OidRegproc, -1}
	Regtype      = T{OidRegtype, -1}
	Regnamespace = T{OidRegnamespace, -1}
	Regrole      = T{OidRegrole, -1}
	Record       = T{OidRecord, -1}
	Void         = T{OidVoid, -1}
	Any          = T{OidAny, -1}
	TextArray    = T{OidTextArray, -1}
	Int2Array    = T{OidInt2Array, -1}
	Int4Array    = T{OidInt4Array, -1}
	Int8Array    = T{OidInt8Array, -1}
	OidArray     = T{OidOidArray, -1}
	NameArray    = T{OidNameArray, -1}
	CharArray    = T{OidCharArray, -1}
	Int2Vector   = T{OidInt2Vector, -1}
	OidVector    = T{OidOidVector, -1}
)

type typeInfo struct {
	name   string // pg_type.typname
	family Family
	size   int16 // pg_type.typlen: -1 variable, -2 C string
	elem   Oid   // element type of an array type
	array  Oid   // array type of this type
	cat    byte  // pg_type.typcategory
}

var infos = map[Oid]typeInfo{
	OidUnknown:      {"unknown", UnknownFamily, -2, 0, 0, 'X'},
	OidBool:         {"bool", BoolFamily, 1, 0, OidBoolArray, 'B'},
	OidInt2:         {"int2", IntFamily, 2, 0, OidInt2Array, 'N'},
	OidInt4:         {"int4", IntFamily, 4, 0, OidInt4Array, 'N'},
	OidInt8:         {"int8", IntFamily, 8, 0, OidInt8Array, 'N'},
	OidFloat4:       {"float4", FloatFamily, 4, 0, OidFloat4Array, 'N'},
	OidFloat8:       {"float8", FloatFamily, 8, 0, OidFloat8Array, 'N'},
	OidNumeric:      {"numeric", DecimalFamily, -1, 0, OidNumericArr, 'N'},
	OidText:         {"text", StringFamily, -1, 0, OidTextArray, 'S'},
	OidVarchar:      {"varchar", StringFamily, -1, 0, OidVarcharArr, 'S'},
	OidBPChar:       {"bpchar", StringFamily, -1, 0, 1014, 'S'},
	OidName:         {"name", StringFamily, 64, 0, OidNameArray, 'S'},
	OidChar:         {"char", StringFamily, 1, 0, OidCharArray, 'Z'},
	OidBytea:        {"bytea", BytesFamily, -1, 0, OidByteaArray, 'U'},
	OidDate:         {"date", DateFamily, 4, 0, OidDateArray, 'D'},
	OidTime:         {"time", TimeFamily, 8, 0, 1183, 'D'},
	OidTimestamp:    {"timestamp", TimestampFamily, 8, 0, OidTSArray, 'D'},
	OidTimestampTZ:  {"timestamptz", TimestampTZFamily, 8, 0, OidTSTZArray, 'D'},
	OidInterval:     {"interval", IntervalFamily, 16, 0, 1187, 'T'},
	OidUUID:         {"uuid", UUIDFamily, 16, 0, OidUUIDArray, 'U'},
	OidJSON:         {"json", JSONFamily, -1, 0, 199, 'U'},
	OidJSONB:        {"jsonb", JSONFamily, -1, 0, OidJSONBArray, 'U'},
	OidOid:          {"oid", OidFamily, 4, 0, OidOidArray, 'N'},
	OidRegclass:     {"regclass", OidFamily, 4, 0, 2210, 'N'},
	OidRegproc:      {"regproc", OidFamily, 4, 0, 1008, 'N'},
	OidRegtype:      {"regtype", OidFamily, 4, 0, 2211, 'N'},
	OidRegnamespace: {"regnamespace", OidFamily, 4, 0, 4090, 'N'},
	OidRegrole:      {"regrole", OidFamily, 4, 0, 4097, 'N'},
	OidRecord:       {"record", RecordFamily, -1, 0, 2287, 'P'},
	OidVoid:         {"void", VoidFamily, 4, 0, 0, 'P'},
	OidAny:          {"any", UnknownFamily, 4, 0, 0, 'P'},
	OidInt2Vector:   {"int2vector", ArrayFamily, -1, OidInt2, 1006, 'A'},
	OidOidVector:    {"oidvector", ArrayFamily, -1, OidOid, 1013, 'A'},
	OidBoolArray:    {"_bool", ArrayFamily, -1, OidBool, 0, 'A'},
	OidInt2Array:    {"_int2", ArrayFamily, -1, OidInt2, 0, 'A'},
	OidInt4Array:    {"_int4", ArrayFamily, -1, OidInt4, 0, 'A'},
	OidInt8Array:    {"_int8", ArrayFamily, -1, OidInt8, 0, 'A'},
	OidFloat4Array:  {"_float4", ArrayFamily, -1, OidFloat4, 0, 'A'},
	OidFloat8Array:  {"_float8", ArrayFamily, -1, OidFloat8, 0, 'A'},
	OidNumericArr:   {"_numeric", ArrayFamily, -1, OidNumeric, 0, 'A'},
	OidTextArray:    {"_text", ArrayFamily, -1, OidText, 0, 'A'},
	OidVarcharArr:   {"_varchar", ArrayFamily, -1, OidVarchar, 0, 'A'},
	OidNameArray:    {"_name", ArrayFamily, -1, OidName, 0, 'A'},
	OidCharArray:    {"_char", ArrayFamily, -1, OidChar, 0, 'A'},
	OidByteaArray:   {"_bytea", ArrayFamily, -1, OidBytea, 0, 'A'},
	OidDateArray:    {"_date", ArrayFamily, -1, OidDate, 0, 'A'},
	OidTSArray:      {"_timestamp", ArrayFamily, -1, OidTimestamp, 0, 'A'},
	OidTSTZArray:    {"_timestamptz", ArrayFamily, -1, OidTimestampTZ, 0, 'A'},
	OidUUIDArray:    {"_uuid", ArrayFamily, -1, OidUUID, 0, 'A'},
	OidJSONBArray:   {"_jsonb", ArrayFamily, -1, OidJSONB, 0, 'A'},
	OidOidArray:     {"_oid", ArrayFamily, -1, OidOid, 0, 'A'},
	OidBPCharArray:  {"_bpchar", ArrayFamily, -1, OidBPChar, 0, 'A'},
	OidTimeArray:    {"_time", ArrayFamily, -1, OidTime, 0, 'A'},
	OidIntervalArr:  {"_interval", ArrayFamily, -1, OidInterval, 0, 'A'},
	OidJSONArray:    {"_json", ArrayFamily, -1, OidJSON, 0, 'A'},
	OidRegclassArr:  {"_regclass", ArrayFamily, -1, OidRegclass, 0, 'A'},
	OidRegprocArr:   {"_regproc", ArrayFamily, -1, OidRegproc, 0, 'A'},
	OidRegtypeArr:   {"_regtype", ArrayFamily, -1, OidRegtype, 0, 'A'},
	OidRegnspArr:    {"_regnamespace", ArrayFamily, -1, OidRegnamespace, 0, 'A'},
	OidRegroleArr:   {"_regrole", ArrayFamily, -1, OidRegrole, 0, 'A'},
	OidRecordArray:  {"_record", ArrayFamily, -1, OidRecord, 0, 'A'},
	OidInt2VecArr:   {"_int2vector", ArrayFamily, -1, OidInt2Vector, 0, 'A'},
	OidOidVecArr:    {"_oidvector", ArrayFamily, -1, OidOidVector, 0, 'A'},
}

// Known reports whether t's OID is a type shard knows.
func (t T) Known() bool { _, ok := infos[t.Oid]; return ok }

// Name returns the type's pg_type.typname ("int4", "_text", ...).
func (t T) Name() string {
	if i, ok := infos[t.Oid]; ok {
		return i.name
	}
	return fmt.Sprintf("oid%d", t.Oid)
}

// Family returns the type's family.
func (t T) Family() Family {
	if t.Oid < uint32(len(familyByOid)) {
		return familyByOid[t.Oid]
	}
	return infos[t.Oid].family
}

// familyByOid caches the families of the low OIDs (all built-in types),
// sparing the map lookup on every datum.
var familyByOid = func() (f [4100]Family) {
	for oid, i := range infos {
		if oid < uint32(len(f)) {
			f[oid] = i.family
		}
	}
	return f
}()

// Size returns pg_type.typlen: the fixed size in bytes, or -1 (varlena).
func (t T) Size() int16 {
	if i, ok := infos[t.Oid]; ok {
		return i.size
	}
	return -1
}

// Category returns pg_type.typcategory.
func (t T) Category() byte { return infos[t.Oid].cat }

// Elem returns the element type of an array type.
func (t T) Elem() T { return T{infos[t.Oid].elem, -1} }

// ArrayOf returns the array type whose elements are t, or Unknown.
func ArrayOf(t T) T {
	if a := infos[t.Oid].array; a != 0 {
		return T{a, -1}
	}
	return Unknown
}

// FromOid returns the type with OID oid (typmod -1); ok is false when shard
// does not know it.
func FromOid(oid Oid) (T, bool) {
	_, ok := infos[oid]
	return T{oid, -1}, ok
}

// ByName returns the type a SQL type name denotes ("integer", "int4",
// "character varying", "timestamp with time zone", "text[]" spelled "_text",
// ...), with typmod -1; ok is false when unknown.
func ByName(name string) (T, bool) {
	if t, ok := aliases[name]; ok {
		return t, true
	}
	for oid, i := range infos {
		if i.name == name {
			return T{oid, -1}, true
		}
	}
	return Unknown, false
}

var aliases = map[string]T{
	"boolean": Bool, "smallint": Int2, "integer": Int4, "int": Int4, "bigint": Int8,
	"real": Float4, "double precision": Float8, "float": Float8, "decimal": Numeric,
	"character varying": Varchar, "character": BPChar, "char": BPChar, "string": Text,
	"timestamp without time zone": Timestamp, "timestamp with time zone": TimestampTZ,
	"time without time zone": Time, "serial": Int4, "bigserial": Int8, "smallserial": Int2,
	"serial4": Int4, "serial8": Int8, "serial2": Int2,
}
