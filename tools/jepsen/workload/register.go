package workload

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Register: reads, writes and compare-and-sets of single integer
// registers, one row per key. Each key takes opsPerKey operations, then
// the key is retired and a new one takes its place, so each key's
// history stays small enough for a linearizability check.
type Register struct {
	keys *keyWindow
}

const (
	registerWindow = 4
	opsPerKey      = 150
	registerValues = 5
)

// NewRegister returns the register workload.
func NewRegister() *Register {
	return &Register{keys: newKeyWindow(registerWindow, opsPerKey)}
}

func (*Register) Name() string { return "register" }

func (*Register) Setup(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS registers (id bigint PRIMARY KEY, val bigint)`)
	return err
}

func (r *Register) Next(rng *rand.Rand) history.Op {
	k, _ := r.keys.pick(rng, true)
	op := history.Op{Type: history.Invoke, Key: k}
	switch rng.IntN(3) {
	case 0:
		op.F = history.FRead
	case 1:
		op.F = history.FWrite
		op.Value = history.Int(rng.Int64N(registerValues))
	default:
		op.F = history.FCAS
		op.Old = history.Int(rng.Int64N(registerValues))
		op.Value = history.Int(rng.Int64N(registerValues))
	}
	return op
}

func (*Register) Invoke(ctx context.Context, conn *pgx.Conn, op history.Op) history.Op {
	switch op.F {
	case history.FRead:
		var v int64
		err := conn.QueryRow(ctx, `SELECT val FROM registers WHERE id = $1`, op.Key).Scan(&v)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			op.Value, err = nil, nil
		case err == nil:
			op.Value = history.Int(v)
		}
		return complete(op, err, false, false)
	case history.FWrite:
		_, err := conn.Exec(ctx, `INSERT INTO registers (id, val) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET val = excluded.val`, op.Key, *op.Value)
		return complete(op, err, true, true)
	default: // cas
		tag, err := conn.Exec(ctx, `UPDATE registers SET val = $3 WHERE id = $1 AND val = $2`, op.Key, *op.Old, *op.Value)
		if err == nil && tag.RowsAffected() == 0 {
			op.Type, op.Error = history.Fail, history.NoMatch
			return op
		}
		return complete(op, err, true, true)
	}
}

func (*Register) Final() []history.Op { return nil }
