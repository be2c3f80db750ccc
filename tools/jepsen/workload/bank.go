package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Bank: transfers between accounts in explicit transactions; reads of
// every balance in one statement. The total never changes and no balance
// goes below zero.
type Bank struct {
	Accounts []int64
	Total    int64
	// sharded: the accounts have a grp column, the database's shard key
	// (ShardKey), so the transfers reach them by id through the primary
	// key's global index.
	sharded bool
}

// NewBank returns the bank workload: 8 accounts of 100.
func NewBank() *Bank {
	b := &Bank{Total: 800}
	for i := range int64(8) {
		b.Accounts = append(b.Accounts, i)
	}
	return b
}

// NewShardedBank returns the bank workload in a database sharded by the
// accounts' grp column (three groups), where every lookup by id goes
// through the primary key's global index: "bank-sharded".
func NewShardedBank() *Bank {
	b := NewBank()
	b.sharded = true
	return b
}

func (b *Bank) Name() string {
	if b.sharded {
		return "bank-sharded"
	}
	return "bank"
}

// ShardKey implements Sharded.
func (b *Bank) ShardKey() string {
	if b.sharded {
		return "grp"
	}
	return ""
}

func (b *Bank) Setup(ctx context.Context, conn *pgx.Conn) error {
	create, insert := `CREATE TABLE IF NOT EXISTS accounts (id bigint PRIMARY KEY, balance bigint NOT NULL)`,
		`INSERT INTO accounts (id, balance) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	if b.sharded {
		create, insert = `CREATE TABLE IF NOT EXISTS accounts (id bigint PRIMARY KEY, grp bigint NOT NULL, balance bigint NOT NULL)`,
			`INSERT INTO accounts (id, balance, grp) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		return err
	}
	each := b.Total / int64(len(b.Accounts))
	for _, a := range b.Accounts {
		args := []any{a, each}
		if b.sharded {
			args = append(args, a%3)
		}
		if _, err := conn.Exec(ctx, insert, args...); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bank) Next(rng *rand.Rand) history.Op {
	if rng.IntN(2) == 0 {
		return history.Op{Type: history.Invoke, F: history.FRead}
	}
	from := b.Accounts[rng.IntN(len(b.Accounts))]
	to := b.Accounts[rng.IntN(len(b.Accounts)-1)]
	if to >= from {
		to = b.Accounts[(indexOf(b.Accounts, to)+1)%len(b.Accounts)]
	}
	return history.Op{Type: history.Invoke, F: history.FTransfer, From: from, To: to, Amount: 1 + rng.Int64N(5)}
}

func indexOf(xs []int64, x int64) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}

// errInsufficient fails a transfer the source cannot afford.
var errInsufficient = errors.New("insufficient funds")

func (b *Bank) Invoke(ctx context.Context, conn *pgx.Conn, op history.Op) history.Op {
	if op.F == history.FRead {
		rows, err := conn.Query(ctx, `SELECT id, balance FROM accounts`)
		if err != nil {
			return complete(op, err, false, false)
		}
		bal := map[int64]int64{}
		for rows.Next() {
			var id, v int64
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return complete(op, err, false, false)
			}
			bal[id] = v
		}
		if err := rows.Err(); err != nil {
			return complete(op, err, false, false)
		}
		op.Balances = bal
		return complete(op, nil, false, false)
	}
	err, committing := inTxn(ctx, conn, func(tx pgx.Tx) error {
		var fromBal, toBal int64
		if err := tx.QueryRow(ctx, `SELECT balance FROM accounts WHERE id = $1`, op.From).Scan(&fromBal); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT balance FROM accounts WHERE id = $1`, op.To).Scan(&toBal); err != nil {
			return err
		}
		if fromBal < op.Amount {
			return errInsufficient
		}
		// Write back what was read, minus and plus: a lost update would
		// show in the total.
		if _, err := tx.Exec(ctx, `UPDATE accounts SET balance = $2 WHERE id = $1`, op.From, fromBal-op.Amount); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET balance = $2 WHERE id = $1`, op.To, toBal+op.Amount); err != nil {
			return err
		}
		return nil
	})
	return complete(op, err, true, committing)
}

func (b *Bank) Final() []history.Op {
	return []history.Op{{Type: history.Invoke, F: history.FRead}}
}

func (b *Bank) String() string {
	return fmt.Sprintf("bank(%d accounts, total %d)", len(b.Accounts), b.Total)
}
