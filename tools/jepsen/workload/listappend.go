package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// ListAppend: transactions of appends to and reads of lists, one row per
// key holding the list as comma-separated text. Appended values are
// unique per key. Keys live in a rolling window: each takes
// appendsPerKey appends, then a new key replaces it.
type ListAppend struct {
	keys *keyWindow
}

const (
	listWindow    = 8
	appendsPerKey = 64
	maxTxnLen     = 4
)

// NewListAppend returns the list-append workload.
func NewListAppend() *ListAppend {
	return &ListAppend{keys: newKeyWindow(listWindow, appendsPerKey)}
}

func (*ListAppend) Name() string { return "list-append" }

func (*ListAppend) Setup(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS lists (k bigint PRIMARY KEY, v text NOT NULL)`)
	return err
}

func (l *ListAppend) Next(rng *rand.Rand) history.Op {
	n := 1 + rng.IntN(maxTxnLen)
	txn := make([]history.Mop, 0, n)
	for range n {
		if rng.IntN(2) == 0 {
			k, _ := l.keys.pick(rng, false)
			txn = append(txn, history.Mop{F: history.MopRead, Key: k})
			continue
		}
		k, v := l.keys.pick(rng, true)
		txn = append(txn, history.Mop{F: history.MopAppend, Key: k, Value: v})
	}
	return history.Op{Type: history.Invoke, F: history.FTxn, Txn: txn}
}

func (*ListAppend) Invoke(ctx context.Context, conn *pgx.Conn, op history.Op) history.Op {
	done := make([]history.Mop, len(op.Txn))
	copy(done, op.Txn)
	write := false
	for _, m := range done {
		write = write || m.F == history.MopAppend
	}
	err, committing := inTxn(ctx, conn, func(tx pgx.Tx) error {
		for i, m := range done {
			if m.F == history.MopAppend {
				if _, err := tx.Exec(ctx, `INSERT INTO lists (k, v) VALUES ($1, $2)
					ON CONFLICT (k) DO UPDATE SET v = lists.v || ',' || excluded.v`, m.Key, strconv.FormatInt(m.Value, 10)); err != nil {
					return err
				}
				continue
			}
			var s string
			err := tx.QueryRow(ctx, `SELECT v FROM lists WHERE k = $1`, m.Key).Scan(&s)
			if errors.Is(err, pgx.ErrNoRows) {
				done[i].List = []int64{}
				continue
			}
			if err != nil {
				return err
			}
			list, err := parseList(s)
			if err != nil {
				return err
			}
			done[i].List = list
		}
		return nil
	})
	if err != nil {
		// Reads of a transaction that did not commit say nothing.
		for i := range done {
			done[i].List = nil
		}
	}
	op.Txn = done
	return complete(op, err, write, committing)
}

func parseList(s string) ([]int64, error) {
	parts := strings.Split(s, ",")
	out := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("list-append: bad list %q: %w", s, err)
		}
		out[i] = v
	}
	return out, nil
}

func (*ListAppend) Final() []history.Op { return nil }
