package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Timestamp is a hybrid logical timestamp: physical milliseconds since the
// Unix epoch shifted left by LogicalBits, or'ed with a logical counter.
// Timestamps order as plain integers. 0 means "unversioned".
type Timestamp uint64

// MaxTimestamp is the largest timestamp. A read at MaxTimestamp sees the
// newest version of every key.
const MaxTimestamp Timestamp = math.MaxUint64

// LogicalBits is the number of low bits of a Timestamp that hold the logical
// counter.
const LogicalBits = 18

// MakeTimestamp builds a Timestamp from physical milliseconds and a logical
// counter. logical is truncated to LogicalBits bits.
func MakeTimestamp(physicalMillis int64, logical uint32) Timestamp {
	return Timestamp(uint64(physicalMillis)<<LogicalBits | uint64(logical)&(1<<LogicalBits-1))
}

// Physical returns the physical part of t in milliseconds since the epoch.
func (t Timestamp) Physical() int64 { return int64(uint64(t) >> LogicalBits) }

// Logical returns the logical counter of t.
func (t Timestamp) Logical() uint32 { return uint32(uint64(t) & (1<<LogicalBits - 1)) }

// String formats t as "<physical ms>.<logical>", "0" for the zero
// timestamp and "max" for MaxTimestamp.
func (t Timestamp) String() string {
	switch t {
	case 0:
		return "0"
	case MaxTimestamp:
		return "max"
	}
	return strconv.FormatInt(t.Physical(), 10) + "." + strconv.FormatUint(uint64(t.Logical()), 10)
}

// Size limits, checked on every write.
const (
	// MaxKeySize is the largest user key (before encoding) the engine accepts.
	MaxKeySize = 16 << 10
	// MaxValueSize is the largest value the engine accepts.
	MaxValueSize = 16 << 20
)

// Layout constants of the key encoding. See EncodeKey and doc.go.
const (
	// keySentinel ends the user key part of every encoded key.
	keySentinel = 0x00
	// tsLen is the length of the encoded timestamp.
	tsLen = 8
	// versionSuffixLen is the length of the suffix of a versioned key: the
	// timestamp plus the trailing length byte, whose value is
	// versionSuffixLen itself.
	versionSuffixLen = tsLen + 1
	// minVersionedLen is the shortest versioned encoding: the empty user key,
	// the sentinel and the suffix.
	minVersionedLen = 1 + versionSuffixLen
)

// MVCC value tags: the first byte of every value stored under a versioned
// key. Unversioned values are stored without a tag.
const (
	tagTombstone = 0x00
	tagValue     = 0x01
)

// EncodeKey appends the engine encoding of (key, ts) to dst and returns the
// extended slice. ts == 0 encodes an unversioned ("raw") key.
//
// The layout is persisted on disk and must never change:
//
//	unversioned: key || 0x00
//	versioned:   key || 0x00 || ts (8 bytes, big-endian) || 0x09
//
// The prefix returned by Comparer.Split is key || 0x00; the suffix is the
// timestamp and the length byte (empty for unversioned keys).
func EncodeKey(dst, key []byte, ts Timestamp) []byte {
	dst = append(dst, key...)
	dst = append(dst, keySentinel)
	if ts != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(ts))
		dst = append(dst, versionSuffixLen)
	}
	return dst
}

// EncodedKeyLen returns len(EncodeKey(nil, key, ts)).
func EncodedKeyLen(key []byte, ts Timestamp) int {
	if ts == 0 {
		return len(key) + 1
	}
	return len(key) + minVersionedLen
}

// encodeKeyInto writes the encoding of (key, ts) into dst, which must be
// exactly EncodedKeyLen(key, ts) bytes long.
func encodeKeyInto(dst, key []byte, ts Timestamp) {
	n := copy(dst, key)
	dst[n] = keySentinel
	if ts != 0 {
		binary.BigEndian.PutUint64(dst[n+1:], uint64(ts))
		dst[n+1+tsLen] = versionSuffixLen
	}
}

// DecodeKey splits an engine-encoded key into its user key and timestamp
// (0 for unversioned keys). The returned key aliases enc. A malformed
// encoding returns an error wrapping ErrMalformedKey.
func DecodeKey(enc []byte) (key []byte, ts Timestamp, err error) {
	n := len(enc)
	if n == 0 {
		return nil, 0, fmt.Errorf("%w: empty", ErrMalformedKey)
	}
	switch enc[n-1] {
	case keySentinel:
		return enc[:n-1], 0, nil
	case versionSuffixLen:
		if n < minVersionedLen || enc[n-minVersionedLen] != keySentinel {
			return nil, 0, fmt.Errorf("%w: bad version suffix in %x", ErrMalformedKey, enc)
		}
		ts = Timestamp(binary.BigEndian.Uint64(enc[n-versionSuffixLen:]))
		if ts == 0 {
			return nil, 0, fmt.Errorf("%w: zero timestamp in versioned key %x", ErrMalformedKey, enc)
		}
		return enc[:n-minVersionedLen], ts, nil
	default:
		return nil, 0, fmt.Errorf("%w: unknown suffix length byte %#x in %x", ErrMalformedKey, enc[n-1], enc)
	}
}

// decodeMVCCValue strips the tag of a value stored under a versioned key.
// ok is false for a tombstone.
func decodeMVCCValue(raw []byte) (value []byte, ok bool, err error) {
	if len(raw) == 0 {
		return nil, false, fmt.Errorf("%w: versioned value without tag", ErrCorrupt)
	}
	switch raw[0] {
	case tagValue:
		return raw[1:], true, nil
	case tagTombstone:
		if len(raw) != 1 {
			return nil, false, fmt.Errorf("%w: tombstone with %d payload bytes", ErrCorrupt, len(raw)-1)
		}
		return nil, false, nil
	default:
		return nil, false, fmt.Errorf("%w: unknown value tag %#x", ErrCorrupt, raw[0])
	}
}

// checkKey and checkValue enforce the size limits on writes.
func checkKey(key []byte) error {
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes > %d", ErrKeyTooLarge, len(key), MaxKeySize)
	}
	return nil
}

func checkValue(value []byte) error {
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes > %d", ErrValueTooLarge, len(value), MaxValueSize)
	}
	return nil
}
