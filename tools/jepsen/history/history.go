package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Type says whether an op is an invocation or how it completed.
type Type string

// The four op types.
const (
	Invoke Type = "invoke"
	OK     Type = "ok"
	Fail   Type = "fail"
	Info   Type = "info"
)

// Functions of the workloads. A checker ignores the functions it does not
// know.
const (
	// Register: Key, Value (read result or written value), Old (cas).
	FRead  = "read"
	FWrite = "write"
	FCAS   = "cas"
	// Bank: From, To, Amount for transfers; Balances for reads.
	FTransfer = "transfer"
	// Set: Value for adds; Elements for the final read (F = FRead).
	FAdd = "add"
	// List-append: Txn, with the read lists filled in on completion.
	FTxn = "txn"
)

// NoMatch is the Error of a cas completed as Fail because its condition
// held for no row (UPDATE ... WHERE val = old changed nothing): the
// statement ran and saw another value or no row, so checkers may use it
// as an observation, unlike other failures, which say nothing.
const NoMatch = "no match"

// Mop is one micro-operation of a list-append transaction.
type Mop struct {
	// F is MopAppend or MopRead.
	F   string `json:"f"`
	Key int64  `json:"k"`
	// Value is the element appended.
	Value int64 `json:"v,omitempty"`
	// List is the list read: nil in an invoke or when the read did not
	// complete; empty (non-nil) when the key had no list.
	List []int64 `json:"l,omitempty"`
}

// Micro-operation functions.
const (
	MopAppend = "append"
	MopRead   = "r"
)

// Op is one entry of a history.
type Op struct {
	Index   int    `json:"index"`
	Process int    `json:"process"`
	Type    Type   `json:"type"`
	F       string `json:"f"`

	// Register and set.
	Key   int64  `json:"key,omitempty"`
	Value *int64 `json:"value,omitempty"` // nil: a read found no row, or the value is unknown
	Old   *int64 `json:"old,omitempty"`

	// Bank.
	From     int64           `json:"from,omitempty"`
	To       int64           `json:"to,omitempty"`
	Amount   int64           `json:"amount,omitempty"`
	Balances map[int64]int64 `json:"balances,omitempty"`

	// Set: the elements of a read.
	Elements []int64 `json:"elements,omitempty"`

	// List-append.
	Txn []Mop `json:"txn,omitempty"`

	// Time since the test began, from a monotonic clock.
	Time time.Duration `json:"time"`
	// Node names the node the client talked to.
	Node string `json:"node,omitempty"`
	// Error is the database's error, for Fail and Info.
	Error string `json:"error,omitempty"`
}

// Int returns a pointer to v, for Op.Value and Op.Old.
func Int(v int64) *int64 { return &v }

// History is the ops of one test in the order they happened.
type History []Op

// Pair is an invocation and its completion. Completion is nil when the
// history ended with the op still in flight (treat it as Info).
type Pair struct {
	Invoke     *Op
	Completion *Op
}

// Outcome returns the completion's type, Info when there is none.
func (p Pair) Outcome() Type {
	if p.Completion == nil {
		return Info
	}
	return p.Completion.Type
}

// Pairs matches every invocation with its completion, in invocation order.
func (h History) Pairs() []Pair {
	open := map[int]int{} // process -> index into pairs
	var pairs []Pair
	for i := range h {
		op := &h[i]
		if op.Type == Invoke {
			open[op.Process] = len(pairs)
			pairs = append(pairs, Pair{Invoke: op})
			continue
		}
		if j, ok := open[op.Process]; ok {
			pairs[j].Completion = op
			delete(open, op.Process)
		}
	}
	return pairs
}

// Validate checks the invariants of the package comment.
func (h History) Validate() error {
	inflight := map[int]*Op{}
	retired := map[int]bool{}
	var last time.Duration
	for i := range h {
		op := &h[i]
		if op.Index != i {
			return fmt.Errorf("op %d has index %d", i, op.Index)
		}
		if op.Time < last {
			return fmt.Errorf("op %d: time goes back (%v after %v)", i, op.Time, last)
		}
		last = op.Time
		if retired[op.Process] {
			return fmt.Errorf("op %d: process %d ran after an info completion", i, op.Process)
		}
		switch op.Type {
		case Invoke:
			if inflight[op.Process] != nil {
				return fmt.Errorf("op %d: process %d invoked while op %d is in flight", i, op.Process, inflight[op.Process].Index)
			}
			inflight[op.Process] = op
		case OK, Fail, Info:
			inv := inflight[op.Process]
			if inv == nil {
				return fmt.Errorf("op %d: %s completion of process %d without an invocation", i, op.Type, op.Process)
			}
			if inv.F != op.F {
				return fmt.Errorf("op %d: completion %q of invocation %q", i, op.F, inv.F)
			}
			delete(inflight, op.Process)
			if op.Type == Info {
				retired[op.Process] = true
			}
		default:
			return fmt.Errorf("op %d: unknown type %q", i, op.Type)
		}
	}
	return nil
}

// Write writes h as JSON lines.
func Write(w io.Writer, h History) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range h {
		if err := enc.Encode(&h[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Read reads a history written by Write.
func Read(r io.Reader) (History, error) {
	dec := json.NewDecoder(r)
	var h History
	for {
		var op Op
		if err := dec.Decode(&op); err == io.EOF {
			return h, nil
		} else if err != nil {
			return nil, fmt.Errorf("history: op %d: %w", len(h), err)
		}
		h = append(h, op)
	}
}
