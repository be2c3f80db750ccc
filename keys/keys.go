package keys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds of the keyspace.
var (
	// LocalPrefix starts every node-local key.
	LocalPrefix = []byte{0x01}
	// MetaMin is the start of the meta range.
	MetaMin = []byte{0x02}
	// MetaMax is the end of the meta range and the start of user data.
	MetaMax = []byte{0x03}
	// UserMin is the smallest user key.
	UserMin = MetaMax
	// KeyMax is above every key that a range can hold.
	KeyMax = []byte{0xff, 0xff}
)

// MaxUserKeySize bounds user keys so that encoded keys stay well inside the
// engine's limit.
const MaxUserKeySize = 8 << 10

var (
	// ErrKeyTooLarge is returned for a user key longer than MaxUserKeySize.
	ErrKeyTooLarge = errors.New("keys: key too large")
	// ErrReservedKey is returned for a user key inside the local or meta
	// prefixes, or at or above KeyMax.
	ErrReservedKey = errors.New("keys: key in a reserved part of the keyspace")
)

// ValidateUserKey reports whether k may be written by a client.
func ValidateUserKey(k []byte) error {
	if len(k) > MaxUserKeySize {
		return fmt.Errorf("%w: %d bytes > %d", ErrKeyTooLarge, len(k), MaxUserKeySize)
	}
	if bytes.Compare(k, UserMin) < 0 || bytes.Compare(k, KeyMax) >= 0 {
		return fmt.Errorf("%w: %s", ErrReservedKey, Pretty(k))
	}
	return nil
}

// Meta range contents.
var (
	metaDescPrefix = []byte{0x02, 'd'}
	metaNodePrefix = []byte{0x02, 'n'}
	metaSysPrefix  = []byte{0x02, 's'}
	metaCatPrefix  = []byte{0x02, 'c'}
	metaEvtPrefix  = []byte{0x02, 'e'}
	metaPlatPrefix = []byte{0x02, 'p'}
)

// PlatformKey is the meta key of a platform record (API tokens,
// idempotency records, usage): its kind, a 0 byte, then its id.
func PlatformKey(kind string, id []byte) []byte {
	k := append(append(append([]byte{}, metaPlatPrefix...), kind...), 0)
	return append(k, id...)
}

// PlatformSpan is the span of the platform records of one kind whose id
// starts with prefix.
func PlatformSpan(kind string, prefix []byte) (start, end []byte) {
	start = PlatformKey(kind, prefix)
	return start, prefixEnd(start)
}

// EventKey is the meta key of a controller event: its time, then the node
// that recorded it, so keys sort by time and two recorders never collide.
func EventKey(unixNanos int64, node uint64) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte{}, metaEvtPrefix...), uint64(unixNanos))
	return binary.BigEndian.AppendUint64(k, node)
}

// EventSpan is the span of all controller events.
func EventSpan() (start, end []byte) {
	return metaEvtPrefix, prefixEnd(metaEvtPrefix)
}

// CatalogKey is the meta key of a SQL catalog record (package sql/catalog
// chooses the suffixes).
func CatalogKey(suffix []byte) []byte {
	return append(append([]byte{}, metaCatPrefix...), suffix...)
}

// CatalogSpan is the span of all catalog records.
func CatalogSpan() (start, end []byte) {
	return metaCatPrefix, prefixEnd(metaCatPrefix)
}

// RangeDescriptorKey is where the descriptor of the range ending at end is
// stored in the meta range.
func RangeDescriptorKey(end []byte) []byte {
	return append(append([]byte{}, metaDescPrefix...), end...)
}

// RangeDescriptorSpan is the span of all descriptor keys.
func RangeDescriptorSpan() (start, end []byte) {
	return metaDescPrefix, prefixEnd(metaDescPrefix)
}

// RangeLookupKey is the key to seek (inclusive) to find the descriptor of the
// range holding k: the first descriptor key whose end key is > k.
func RangeLookupKey(k []byte) []byte {
	return append(RangeDescriptorKey(k), 0x00)
}

// NodeKey is the meta key of a node record.
func NodeKey(nodeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, metaNodePrefix...), nodeID)
}

// NodeSpan is the span of all node records.
func NodeSpan() (start, end []byte) {
	return metaNodePrefix, prefixEnd(metaNodePrefix)
}

// SystemKey is the meta key of a named system value (counters).
func SystemKey(name string) []byte {
	return append(append([]byte{}, metaSysPrefix...), name...)
}

// Node-local and per-replica keys.
var (
	localNodePrefix    = []byte{0x01, 'n'}
	localReplicaPrefix = []byte{0x01, 'r'}
)

// NodeLocalKey is a node-local key (cluster id, node id, ...).
func NodeLocalKey(name string) []byte {
	return append(append([]byte{}, localNodePrefix...), name...)
}

// ReplicaPrefix is the prefix of every local key of one range's replica.
func ReplicaPrefix(rangeID uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, localReplicaPrefix...), rangeID)
}

// ReplicasSpan covers the local state of every replica on the node.
func ReplicasSpan() (start, end []byte) {
	return localReplicaPrefix, prefixEnd(localReplicaPrefix)
}

// Suffixes of per-replica keys, after ReplicaPrefix.
const (
	ReplicaLogSuffix     = 'l' // raft log entries: + index:8
	ReplicaStableSuffix  = 's' // raft stable store: + name
	ReplicaAppliedSuffix = 'a' // last applied raft index
	ReplicaDescSuffix    = 'd' // the replica's range descriptor
	// ReplicaBootstrapSuffix marks a replica whose raft group must be
	// bootstrapped with its descriptor's voters (a new cluster's ranges, the
	// right-hand side of a split) and has not been yet.
	ReplicaBootstrapSuffix = 'b'
	// ReplicaGCSuffix holds the replica's MVCC garbage collection threshold.
	ReplicaGCSuffix = 'g'
)

// ReplicaKey is ReplicaPrefix(rangeID) + suffix + rest.
func ReplicaKey(rangeID uint64, suffix byte, rest []byte) []byte {
	k := append(ReplicaPrefix(rangeID), suffix)
	return append(k, rest...)
}

// RangeIDFromReplicaKey extracts the range id from a per-replica key.
func RangeIDFromReplicaKey(k []byte) (uint64, bool) {
	if !bytes.HasPrefix(k, localReplicaPrefix) || len(k) < len(localReplicaPrefix)+8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(localReplicaPrefix):]), true
}

// PrefixEnd returns the smallest key above every key with prefix p.
func PrefixEnd(p []byte) []byte { return prefixEnd(p) }

func prefixEnd(p []byte) []byte {
	end := append([]byte{}, p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return KeyMax
}

// Pretty prints a key for people: /meta/..., /local/..., or the user key with
// non-printable bytes escaped.
func Pretty(k []byte) string {
	switch {
	case len(k) == 0:
		return "/Min"
	case bytes.Equal(k, KeyMax):
		return "/Max"
	case bytes.HasPrefix(k, metaDescPrefix):
		return "/meta/desc" + prettyTail(k[len(metaDescPrefix):])
	case bytes.HasPrefix(k, metaNodePrefix) && len(k) == len(metaNodePrefix)+8:
		return "/meta/node/" + strconv.FormatUint(binary.BigEndian.Uint64(k[len(metaNodePrefix):]), 10)
	case bytes.HasPrefix(k, metaEvtPrefix) && len(k) == len(metaEvtPrefix)+16:
		return "/meta/event/" + strconv.FormatUint(binary.BigEndian.Uint64(k[len(metaEvtPrefix):]), 10)
	case bytes.HasPrefix(k, metaSysPrefix):
		return "/meta/sys/" + string(k[len(metaSysPrefix):])
	case bytes.Equal(k, MetaMin):
		return "/meta"
	case bytes.Equal(k, MetaMax):
		return "/user"
	case bytes.HasPrefix(k, LocalPrefix):
		return "/local" + prettyTail(k[1:])
	}
	return prettyBytes(k)
}

func prettyTail(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return "/" + Pretty(b)
}

// Escape prints a key (or any bytes) so that Parse reads it back exactly:
// printable ASCII as is, every other byte (and the backslash) as \xNN.
func Escape(b []byte) string { return prettyBytes(b) }

func prettyBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

// Parse reads a key as people type it: the text itself, with \xNN escapes
// for arbitrary bytes.
func Parse(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		if i+3 < len(s) && s[i+1] == 'x' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("keys: bad escape %q in %q", s[i:i+4], s)
			}
			out = append(out, byte(v))
			i += 3
			continue
		}
		if i+1 < len(s) && s[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		return nil, fmt.Errorf("keys: bad escape at offset %d in %q", i, s)
	}
	return out, nil
}

// SQL data layout, as far as range management needs it (sql/rowenc owns
// the rest): 't' db:4 hash:8 table:4 index:4 columns... A database owns the
// span of 't' db; one shard value's rows, in every table, share the block
// 't' db hash.
const (
	sqlPrefix     = 't'
	tenantLen     = 1 + 4
	shardBlockLen = tenantLen + 8
)

// Tenant returns the prefix of the database whose span holds k ('t' db),
// or nil when k is not a SQL key. Ranges of different tenants never merge.
func Tenant(k []byte) []byte {
	if len(k) < tenantLen || k[0] != sqlPrefix {
		return nil
	}
	return k[:tenantLen:tenantLen]
}

// TenantID returns the id of the database whose span holds k, and false
// when k is not a SQL key.
func TenantID(k []byte) (uint32, bool) {
	t := Tenant(k)
	if t == nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(t[1:]), true
}

// TenantSpan returns the ids of the databases whose keys [start, end)
// covers, first to last, when the span holds nothing but SQL keys.
func TenantSpan(start, end []byte) (first, last uint32, ok bool) {
	first, ok = TenantID(start)
	if !ok {
		return 0, 0, false
	}
	last, ok = TenantID(end)
	if !ok {
		return 0, 0, false
	}
	if len(end) == tenantLen {
		// Ends where database last starts: last is not covered.
		if last == 0 {
			return 0, 0, false
		}
		last--
	}
	return first, last, last >= first
}

// ShardBoundary returns the start of the shard block holding k ('t' db
// hash), the key at which a range may be split without one shard value
// straddling two ranges. A key that is not inside a SQL shard block (other
// user keys, or a bare database prefix) is its own boundary.
func ShardBoundary(k []byte) []byte {
	if len(k) < shardBlockLen || k[0] != sqlPrefix {
		return k
	}
	return k[:shardBlockLen:shardBlockLen]
}

// SameTenant reports whether a range [start, end) lies inside one
// database's span (end may be that span's end).
func SameTenant(start, end []byte) bool {
	t := Tenant(start)
	if t == nil {
		return false
	}
	return bytes.Compare(end, prefixEnd(t)) <= 0
}
