package rowenc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

// Prefix is the first byte of every SQL key.
const Prefix = 't'

// headerLen is the length of db, hash, table and index.
const headerLen = 1 + 4 + 8 + 4 + 4

const valueFormat = 0x01

// ErrCorrupt means a stored row or index entry could not be decoded.
var ErrCorrupt = errors.New("rowenc: corrupt row")

// DatabasePrefix returns the key prefix of database db.
func DatabasePrefix(db uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{Prefix}, db)
}

// DatabaseSpan returns the span database db owns.
func DatabaseSpan(db uint32) (start, end []byte) {
	p := DatabasePrefix(db)
	return p, keys.PrefixEnd(p)
}

// HashPrefix returns the prefix of one shard block of database db.
func HashPrefix(db uint32, hash uint64) []byte {
	return binary.BigEndian.AppendUint64(DatabasePrefix(db), hash)
}

// IndexPrefix returns the prefix of index ix of table t within one shard
// block.
func IndexPrefix(db uint32, hash uint64, table, index uint32) []byte {
	b := HashPrefix(db, hash)
	b = binary.BigEndian.AppendUint32(b, table)
	return binary.BigEndian.AppendUint32(b, index)
}

// ShardHash returns the hash that places a shard value.
func ShardHash(t types.T, d types.Datum) uint64 {
	var buf [64]byte
	return xxhash.Sum64(types.AppendKey(buf[:0], t, d, false))
}

// HashSplitKey returns the key at which a database's span is cut so that
// shard hashes below h fall left: snapped to a hash boundary.
func HashSplitKey(db uint32, h uint64) []byte { return HashPrefix(db, h) }

// Header is the fixed part of a SQL key.
type Header struct {
	DB    uint32
	Hash  uint64
	Table uint32
	Index uint32
}

// DecodeHeader splits a SQL key into its header and the encoded columns.
func DecodeHeader(key []byte) (Header, []byte, bool) {
	if len(key) < headerLen || key[0] != Prefix {
		return Header{}, nil, false
	}
	return Header{
		DB:    binary.BigEndian.Uint32(key[1:]),
		Hash:  binary.BigEndian.Uint64(key[5:]),
		Table: binary.BigEndian.Uint32(key[13:]),
		Index: binary.BigEndian.Uint32(key[17:]),
	}, key[headerLen:], true
}

// Row is one row of a table: a datum per column, in Table.Columns order.
type Row = []types.Datum

// ShardValueHash returns the hash of row's shard value.
func ShardValueHash(t *catalog.Table, row Row) uint64 {
	i := t.ColumnIndex(t.ShardColumn)
	return ShardHash(t.Columns[i].Type, row[i])
}

func appendColumns(b []byte, t *catalog.Table, ix *catalog.Index, cols []uint32, row Row) []byte {
	for j, id := range cols {
		i := t.ColumnIndex(id)
		desc := ix != nil && j < len(ix.Desc) && ix.Desc[j]
		b = types.AppendKey(b, t.Columns[i].Type, row[i], desc)
	}
	return b
}

// RowKey returns the KV key of row.
func RowKey(t *catalog.Table, row Row) []byte {
	pk := t.PrimaryIndex()
	b := IndexPrefix(t.DB, ShardValueHash(t, row), t.ID, pk.ID)
	return appendColumns(b, t, pk, pk.Columns, row)
}

// PointKey returns the KV key of the row whose primary key columns hold
// pkVals (in primary index column order) and whose shard value hashes to
// hash.
func PointKey(t *catalog.Table, hash uint64, pkVals []types.Datum) []byte {
	pk := t.PrimaryIndex()
	b := IndexPrefix(t.DB, hash, t.ID, pk.ID)
	for j, id := range pk.Columns {
		c := t.ColumnByID(id)
		desc := j < len(pk.Desc) && pk.Desc[j]
		b = types.AppendKey(b, c.Type, pkVals[j], desc)
	}
	return b
}

func inPrimary(pk *catalog.Index, id uint32) bool {
	for _, c := range pk.Columns {
		if c == id {
			return true
		}
	}
	return false
}

// RowValue returns the KV value of row.
func RowValue(t *catalog.Table, row Row) []byte {
	pk := t.PrimaryIndex()
	b := make([]byte, 1, 64)
	b[0] = valueFormat
	var tmp []byte
	for i, c := range t.Columns {
		if row[i] == nil || inPrimary(pk, c.ID) {
			continue
		}
		tmp = types.AppendValue(tmp[:0], c.Type, row[i])
		b = binary.AppendUvarint(b, uint64(c.ID))
		b = binary.AppendUvarint(b, uint64(len(tmp)))
		b = append(b, tmp...)
	}
	return b
}

// DecodeRow decodes a row from its KV pair.
func DecodeRow(t *catalog.Table, key, value []byte) (Row, error) {
	h, rest, ok := DecodeHeader(key)
	if !ok || h.Table != t.ID {
		return nil, fmt.Errorf("%w: key is not a row of table %s", ErrCorrupt, t.Name)
	}
	pk := t.PrimaryIndex()
	row := make(Row, len(t.Columns))
	for j, id := range pk.Columns {
		i := t.ColumnIndex(id)
		desc := j < len(pk.Desc) && pk.Desc[j]
		d, r, err := types.DecodeKey(rest, t.Columns[i].Type, desc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s key column %s: %v", ErrCorrupt, t.Name, t.Columns[i].Name, err)
		}
		row[i], rest = d, r
	}
	err := walkValue(t, value, func(id uint32, data []byte) error {
		i := t.ColumnIndex(id)
		if i < 0 {
			return nil // a dropped column
		}
		d, _, err := types.DecodeValue(data, t.Columns[i].Type)
		if err != nil {
			return fmt.Errorf("%w: %s column %s: %v", ErrCorrupt, t.Name, t.Columns[i].Name, err)
		}
		row[i] = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row, nil
}

// hasNull reports whether any of the index's columns is NULL in row.
func hasNull(t *catalog.Table, ix *catalog.Index, row Row) bool {
	for _, id := range ix.Columns {
		if row[t.ColumnIndex(id)] == nil {
			return true
		}
	}
	return false
}

// IndexHash returns the hash placing ix's entry for row.
func IndexHash(t *catalog.Table, ix *catalog.Index, row Row) uint64 {
	if !ix.Global {
		return ShardValueHash(t, row)
	}
	i := t.ColumnIndex(ix.Columns[0])
	return ShardHash(t.Columns[i].Type, row[i])
}

// UniqueKeyed reports whether ix's entry for row is keyed by the index
// columns alone (so that a second row with the same values collides): a
// unique index whose columns are all non-NULL.
func UniqueKeyed(t *catalog.Table, ix *catalog.Index, row Row) bool {
	return ix.Unique && !hasNull(t, ix, row)
}

// IndexKey returns the KV key of ix's entry for row.
func IndexKey(t *catalog.Table, ix *catalog.Index, row Row) []byte {
	b := IndexPrefix(t.DB, IndexHash(t, ix, row), t.ID, ix.ID)
	b = appendColumns(b, t, ix, ix.Columns, row)
	if !UniqueKeyed(t, ix, row) {
		pk := t.PrimaryIndex()
		b = appendColumns(b, t, nil, pk.Columns, row)
	}
	return b
}

// IndexValue returns the KV value of ix's entry for a row stored at
// rowKey: the row key itself.
func IndexValue(rowKey []byte) []byte { return rowKey }

// IndexLookupPrefix returns the key prefix of ix's entries whose leading
// columns equal vals (at least the first column must be given for a global
// index; for a local one hash is the row's shard hash).
func IndexLookupPrefix(t *catalog.Table, ix *catalog.Index, hash uint64, vals []types.Datum) []byte {
	b := IndexPrefix(t.DB, hash, t.ID, ix.ID)
	for j, v := range vals {
		c := t.ColumnByID(ix.Columns[j])
		desc := j < len(ix.Desc) && ix.Desc[j]
		b = types.AppendKey(b, c.Type, v, desc)
	}
	return b
}

// TableFilter returns the scan filter that keeps index ix's entries of
// table t (ix 0: every index of t) among the keys of t's database.
func TableFilter(t *catalog.Table, ix uint32) *kvpb.KeyFilter {
	m := binary.BigEndian.AppendUint32(nil, t.ID)
	if ix != 0 {
		m = binary.BigEndian.AppendUint32(m, ix)
	}
	return &kvpb.KeyFilter{Offset: 1 + 4 + 8, Match: m}
}

// Decoder decodes the rows of one table faster than DecodeRow: column
// positions are looked up once, and columns the caller does not need are
// skipped. It is immutable and safe for concurrent use.
type Decoder struct {
	t      *catalog.Table
	pkPos  []int // position of each primary key column
	pkDesc []bool
	pos    []int // position of each column id; -1 for a dropped one
}

// NewDecoder returns a decoder of t's rows.
func NewDecoder(t *catalog.Table) *Decoder {
	d := &Decoder{t: t}
	maxID := uint32(0)
	for _, c := range t.Columns {
		maxID = max(maxID, c.ID)
	}
	d.pos = make([]int, maxID+1)
	for i := range d.pos {
		d.pos[i] = -1
	}
	for i, c := range t.Columns {
		d.pos[c.ID] = i
	}
	pk := t.PrimaryIndex()
	for j, id := range pk.Columns {
		d.pkPos = append(d.pkPos, t.ColumnIndex(id))
		d.pkDesc = append(d.pkDesc, j < len(pk.Desc) && pk.Desc[j])
	}
	return d
}

// Decode decodes a row from its KV pair into row (len(t.Columns)), which
// it clears first. need, when not nil, says by position which columns are
// wanted: the values of the others are skipped (left NULL); the primary key
// columns are always decoded.
func (d *Decoder) Decode(key, value []byte, need []bool, row Row) error {
	t := d.t
	clear(row)
	h, rest, ok := DecodeHeader(key)
	if !ok || h.Table != t.ID {
		return fmt.Errorf("%w: key is not a row of table %s", ErrCorrupt, t.Name)
	}
	for j, i := range d.pkPos {
		v, r, err := types.DecodeKey(rest, t.Columns[i].Type, d.pkDesc[j])
		if err != nil {
			return fmt.Errorf("%w: %s key column %s: %v", ErrCorrupt, t.Name, t.Columns[i].Name, err)
		}
		row[i], rest = v, r
	}
	return walkValue(t, value, func(id uint32, data []byte) error {
		if int(id) >= len(d.pos) || d.pos[id] < 0 {
			return nil // a dropped column
		}
		i := d.pos[id]
		if need != nil && !need[i] {
			return nil
		}
		v, _, err := types.DecodeValue(data, t.Columns[i].Type)
		if err != nil {
			return fmt.Errorf("%w: %s column %s: %v", ErrCorrupt, t.Name, t.Columns[i].Name, err)
		}
		row[i] = v
		return nil
	})
}

// walkValue calls fn with each column id and encoded value of a row value.
func walkValue(t *catalog.Table, value []byte, fn func(id uint32, data []byte) error) error {
	if len(value) == 0 || value[0] != valueFormat {
		return fmt.Errorf("%w: %s: bad value format", ErrCorrupt, t.Name)
	}
	v := value[1:]
	for len(v) > 0 {
		id, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("%w: %s: bad column id", ErrCorrupt, t.Name)
		}
		v = v[n:]
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return fmt.Errorf("%w: %s: bad column length", ErrCorrupt, t.Name)
		}
		if err := fn(uint32(id), v[n:n+int(l)]); err != nil {
			return err
		}
		v = v[n+int(l):]
	}
	return nil
}

// ProjectValue appends to dst the row value that keeps, of value's
// columns, those whose position keep marks (a projection: the result
// decodes to the same row with the other non-key columns NULL). The kept
// columns are copied, not decoded.
func (d *Decoder) ProjectValue(dst, value []byte, keep []bool) ([]byte, error) {
	dst = append(dst, valueFormat)
	err := walkValue(d.t, value, func(id uint32, data []byte) error {
		if int(id) >= len(d.pos) || d.pos[id] < 0 || !keep[d.pos[id]] {
			return nil
		}
		dst = binary.AppendUvarint(dst, uint64(id))
		dst = binary.AppendUvarint(dst, uint64(len(data)))
		dst = append(dst, data...)
		return nil
	})
	return dst, err
}
