package engine

import (
	"bytes"
	"cmp"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ComparerName is persisted in every store. Pebble refuses to open a store
// whose recorded comparer name differs; bump the version suffix only
// together with a migration of the key encoding.
const ComparerName = "shard.mvcc.v1"

// Comparer orders engine-encoded keys (see EncodeKey): by user key
// ascending, then the unversioned key, then versions by descending
// timestamp. It is the only comparer a store is ever opened with.
//
// It follows the contract of pebble's base.Comparer:
//   - Split(k) is the length of the prefix key||0x00; the suffix is empty
//     for unversioned keys and ts||0x09 for versioned ones.
//   - Compare(a, b) = bytes.Compare(prefix(a), prefix(b)), ties broken by
//     ComparePointSuffixes; the empty suffix sorts first.
//   - Prefixes compare like their user keys (the 0x00 sentinel preserves
//     bytewise order), and removing leading bytes from a prefix yields a
//     prefix.
//   - Equal is bytes.Equal, because every (key, ts) has one encoding.
//
// Do not modify the value this variable points to.
var Comparer = &pebble.Comparer{
	Name:                 ComparerName,
	Split:                splitKey,
	Compare:              compareKeys,
	Equal:                bytes.Equal,
	ComparePointSuffixes: compareSuffixes,
	CompareRangeSuffixes: compareSuffixes,
	AbbreviatedKey:       abbreviatedKey,
	Separator:            separator,
	Successor:            successor,
	ImmediateSuccessor:   immediateSuccessor,
	FormatKey:            formatKey,
	ValidateKey:          validateKey,
}

// splitKey returns the length of the prefix of an encoded key. It is total:
// bytes that are not a versioned key are treated as all prefix.
func splitKey(k []byte) int {
	n := len(k)
	if n >= minVersionedLen && k[n-1] == versionSuffixLen && k[n-minVersionedLen] == keySentinel {
		return n - versionSuffixLen
	}
	return n
}

func compareKeys(a, b []byte) int {
	an, bn := splitKey(a), splitKey(b)
	if c := bytes.Compare(a[:an], b[:bn]); c != 0 {
		return c
	}
	return compareSuffixes(a[an:], b[bn:])
}

// compareSuffixes orders the empty (unversioned) suffix first, then
// versions newest first. For well-formed 9-byte suffixes, reversed byte
// order is descending big-endian timestamp order because the trailing length
// byte is equal.
func compareSuffixes(a, b []byte) int {
	if len(a) == 0 || len(b) == 0 {
		return cmp.Compare(len(a), len(b))
	}
	return bytes.Compare(b, a)
}

// abbreviatedKey abbreviates the prefix: prefixes decide the order first, so
// an abbreviation of the prefix respects Compare.
func abbreviatedKey(k []byte) uint64 {
	return pebble.DefaultComparer.AbbreviatedKey(k[:splitKey(k)])
}

// userKeyOf returns the user key of an encoded key's prefix, or ok=false for
// bytes that are not an engine key.
func userKeyOf(k []byte) (userKey []byte, ok bool) {
	p := k[:splitKey(k)]
	if len(p) == 0 || p[len(p)-1] != keySentinel {
		return nil, false
	}
	return p[:len(p)-1], true
}

// separator shortens index-block separators by separating user keys with
// pebble's bytewise separator and re-adding the sentinel. For a < b with
// user keys ak < bk it returns s||0x00 with ak < s < bk, or a itself.
func separator(dst, a, b []byte) []byte {
	ak, aok := userKeyOf(a)
	bk, bok := userKeyOf(b)
	if !aok || !bok || len(ak) == 0 || len(bk) == 0 || bytes.Equal(ak, bk) {
		return append(dst, a...)
	}
	n := len(dst)
	dst = pebble.DefaultComparer.Separator(dst, ak, bk)
	if bytes.Equal(dst[n:], ak) {
		return append(dst[:n], a...)
	}
	return append(dst, keySentinel)
}

// successor returns a short key >= a: a bytewise successor of the user key
// made unversioned, or a itself. The empty input yields the encoding of the
// empty user key, the smallest valid key.
func successor(dst, a []byte) []byte {
	if len(a) == 0 {
		return append(dst, keySentinel)
	}
	ak, ok := userKeyOf(a)
	if !ok {
		return append(dst, a...)
	}
	n := len(dst)
	dst = pebble.DefaultComparer.Successor(dst, ak)
	if bytes.Equal(dst[n:], ak) {
		return append(dst[:n], a...)
	}
	return append(dst, keySentinel)
}

// immediateSuccessor is called with a prefix key||0x00 and returns the
// smallest larger prefix: the user key key||0x00, encoded key||0x00||0x00.
func immediateSuccessor(dst, a []byte) []byte {
	return append(append(dst, a...), keySentinel)
}

func validateKey(k []byte) error {
	_, _, err := DecodeKey(k)
	return err
}

// formatKey renders an encoded key as user-key@ts for pebble's logs and
// debugging tools: printable bytes as is, others hex-escaped.
func formatKey(k []byte) fmt.Formatter { return keyFormatter(k) }

// FormatKey renders an engine-encoded key for humans, e.g. `/t/1\x00@1700000000000.3`.
func FormatKey(k []byte) string { return fmt.Sprint(keyFormatter(k)) }

type keyFormatter []byte

func (k keyFormatter) Format(s fmt.State, _ rune) {
	key, ts, err := DecodeKey(k)
	if err != nil {
		fmt.Fprintf(s, "malformed:%x", []byte(k))
		return
	}
	pebble.DefaultComparer.FormatKey(key).Format(s, 's')
	if ts != 0 {
		fmt.Fprintf(s, "@%s", ts)
	}
}
