package rowenc

import (
	"bytes"
	"testing"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

func testTable() *catalog.Table {
	return &catalog.Table{ID: 7, DB: 3, Name: "orders", Primary: 1, ShardColumn: 2,
		Columns: []*catalog.Column{
			{ID: 1, Name: "id", Type: types.Int8},
			{ID: 2, Name: "tenant_id", Type: types.Int4},
			{ID: 3, Name: "note", Type: types.Text},
			{ID: 5, Name: "amount", Type: types.Numeric},
		},
		Indexes: []*catalog.Index{
			{ID: 1, Name: "orders_pkey", Columns: []uint32{1, 2}, Unique: true, Primary: true},
			{ID: 2, Name: "orders_note_key", Columns: []uint32{3}, Unique: true, Global: true},
			{ID: 3, Name: "orders_tenant_note", Columns: []uint32{2, 3}},
		}}
}

func TestRowRoundTrip(t *testing.T) {
	tb := testTable()
	rows := []Row{
		{int64(1), int64(10), "first", nil},
		{int64(2), int64(10), "", nil}, // empty text is not NULL
		{int64(-5), int64(-3), nil, nil},
	}
	for _, rw := range rows {
		k, v := RowKey(tb, rw), RowValue(tb, rw)
		h, _, ok := DecodeHeader(k)
		if !ok || h.DB != 3 || h.Table != 7 || h.Index != 1 || h.Hash != ShardHash(types.Int4, rw[1]) {
			t.Fatalf("header of %v: %+v ok=%v", rw, h, ok)
		}
		got, err := DecodeRow(tb, k, v)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rw {
			if (rw[i] == nil) != (got[i] == nil) || (rw[i] != nil && types.Compare(tb.Columns[i].Type, rw[i], got[i]) != 0) {
				t.Fatalf("column %s: put %v, got %v", tb.Columns[i].Name, rw[i], got[i])
			}
		}
		start, end := DatabaseSpan(3)
		if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
			t.Fatalf("row key %x outside its database's span", k)
		}
	}
}

// Rows that share a shard value are adjacent, in every table: their keys
// share the hash block prefix.
func TestShardValueCoLocates(t *testing.T) {
	tb := testTable()
	a := RowKey(tb, Row{int64(1), int64(42), nil, nil})
	b := RowKey(tb, Row{int64(999), int64(42), nil, nil})
	c := RowKey(tb, Row{int64(1), int64(43), nil, nil})
	p := HashPrefix(3, ShardHash(types.Int4, int64(42)))
	if !bytes.HasPrefix(a, p) || !bytes.HasPrefix(b, p) || bytes.HasPrefix(c, p) {
		t.Fatalf("hash blocks: a=%x b=%x c=%x prefix=%x", a, b, c, p)
	}
}

func TestDroppedColumnIsSkipped(t *testing.T) {
	tb := testTable()
	rw := Row{int64(1), int64(2), "note", nil}
	k, v := RowKey(tb, rw), RowValue(tb, rw)
	// Drop "note": the stored value still holds it and must be skipped.
	tb.Columns = append(tb.Columns[:2], tb.Columns[3:]...)
	tb.Indexes = tb.Indexes[:1]
	got, err := DecodeRow(tb, k, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2] != nil {
		t.Fatalf("after drop: %v", got)
	}
}

func TestIndexKeys(t *testing.T) {
	tb := testTable()
	uq := tb.Indexes[1]
	r1 := Row{int64(1), int64(10), "x", nil}
	r2 := Row{int64(2), int64(11), "x", nil}
	// A unique index keys by its columns alone: equal values collide,
	// wherever the rows live; a global index is placed by its own value.
	if !bytes.Equal(IndexKey(tb, uq, r1), IndexKey(tb, uq, r2)) {
		t.Fatal("equal unique values must give equal keys")
	}
	if h, _, _ := DecodeHeader(IndexKey(tb, uq, r1)); h.Hash != ShardHash(types.Text, "x") || h.Index != 2 {
		t.Fatalf("global index entry header %+v", h)
	}
	// NULLs never collide: the primary key is appended.
	n1, n2 := Row{int64(1), int64(10), nil, nil}, Row{int64(2), int64(10), nil, nil}
	if UniqueKeyed(tb, uq, n1) || bytes.Equal(IndexKey(tb, uq, n1), IndexKey(tb, uq, n2)) {
		t.Fatal("NULL unique values must not collide")
	}
	// A local index lives in the row's shard block.
	loc := tb.Indexes[2]
	if !bytes.HasPrefix(IndexKey(tb, loc, r1), HashPrefix(3, ShardHash(types.Int4, int64(10)))) {
		t.Fatal("local index entry outside the row's block")
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	tb := testTable()
	k := RowKey(tb, Row{int64(1), int64(2), nil, nil})
	for _, v := range [][]byte{nil, {0x02}, {valueFormat, 0x03}, {valueFormat, 0x03, 0x09, 0x01}} {
		if _, err := DecodeRow(tb, k, v); err == nil {
			t.Fatalf("value %x decoded", v)
		}
	}
	if _, err := DecodeRow(tb, []byte("x"), []byte{valueFormat}); err == nil {
		t.Fatal("short key decoded")
	}
}
