package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Set: inserts of unique values; one read of every value at the end.
type Set struct {
	next atomic.Int64
}

// NewSet returns the set workload.
func NewSet() *Set { return &Set{} }

func (*Set) Name() string { return "set" }

func (*Set) Setup(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS elements (v bigint PRIMARY KEY)`)
	return err
}

func (s *Set) Next(*rand.Rand) history.Op {
	return history.Op{Type: history.Invoke, F: history.FAdd, Value: history.Int(s.next.Add(1) - 1)}
}

func (*Set) Invoke(ctx context.Context, conn *pgx.Conn, op history.Op) history.Op {
	if op.F == history.FRead {
		rows, err := conn.Query(ctx, `SELECT v FROM elements`)
		if err != nil {
			return complete(op, err, false, false)
		}
		els, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return complete(op, err, false, false)
		}
		op.Elements = els
		if op.Elements == nil {
			op.Elements = []int64{}
		}
		return complete(op, nil, false, false)
	}
	_, err := conn.Exec(ctx, `INSERT INTO elements (v) VALUES ($1)`, *op.Value)
	return complete(op, err, true, true)
}

// Probe says where the elements lost are now, through conn: for each, by
// its key (a point read) and in one read of every element (a scan of
// every range), for a report on a lost write.
func (s *Set) Probe(ctx context.Context, conn *pgx.Conn, lost []int64) (string, error) {
	all := s.Invoke(ctx, conn, history.Op{Type: history.Invoke, F: history.FRead})
	if all.Type != history.OK {
		return "", fmt.Errorf("read every element: %s", all.Error)
	}
	inScan := map[int64]bool{}
	for _, e := range all.Elements {
		inScan[e] = true
	}
	out := fmt.Sprintf("%d elements;", len(all.Elements))
	for _, v := range lost {
		var point int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM elements WHERE v = $1`, v).Scan(&point); err != nil {
			return "", err
		}
		out += fmt.Sprintf(" %d: point read %d, scan %t;", v, point, inScan[v])
	}
	return out, nil
}

func (*Set) Final() []history.Op {
	return []history.Op{{Type: history.Invoke, F: history.FRead}}
}
