package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// KVOptions configure the kv workload.
type KVOptions struct {
	// DSN is the connection string of the database.
	DSN string
	// ReadPercent is the share of operations that read, 0 to 100; the
	// rest write.
	ReadPercent int
	// Keys is the number of keys, 0 to Keys-1; default 100000.
	Keys int64
	// ValueSize is the size of a written value in bytes; default 64.
	ValueSize int
	// Distribution is the keys' distribution, Uniform (default) or
	// Zipfian.
	Distribution string
	// Batch is the number of rows a write upserts, with distinct keys;
	// default 1. Reads always read one row.
	Batch int
	// Preload makes Setup write every key once (with COPY), so that reads
	// find their rows from the start.
	Preload bool
}

// withDefaults returns o with its zero fields filled in.
func (o KVOptions) withDefaults() KVOptions {
	if o.Keys == 0 {
		o.Keys = 100_000
	}
	if o.ValueSize == 0 {
		o.ValueSize = 64
	}
	if o.Distribution == "" {
		o.Distribution = Uniform
	}
	if o.Batch == 0 {
		o.Batch = 1
	}
	return o
}

// Validate reports every problem of o (after defaults).
func (o KVOptions) Validate() error {
	var errs []error
	if o.DSN == "" {
		errs = append(errs, errors.New("kv: no connection string"))
	}
	if o.ReadPercent < 0 || o.ReadPercent > 100 {
		errs = append(errs, fmt.Errorf("kv: read percent %d (want 0 to 100)", o.ReadPercent))
	}
	if o.Keys < 0 {
		errs = append(errs, fmt.Errorf("kv: %d keys", o.Keys))
	}
	if o.ValueSize < 0 {
		errs = append(errs, fmt.Errorf("kv: value size %d", o.ValueSize))
	}
	if o.Batch < 0 || int64(o.Batch) > o.Keys {
		errs = append(errs, fmt.Errorf("kv: batch %d (want 1 to the number of keys, %d)", o.Batch, o.Keys))
	}
	if o.Distribution != Uniform && o.Distribution != Zipfian {
		errs = append(errs, fmt.Errorf("kv: key distribution %q (want %q or %q)", o.Distribution, Uniform, Zipfian))
	}
	return errors.Join(errs...)
}

// KV is a key-value workload on table kv(k bigint primary key, v bytea):
// operation "read" is SELECT v FROM kv WHERE k = $1 (a missing key is not
// an error), "write" upserts Batch rows with INSERT ... ON CONFLICT (k)
// DO UPDATE SET v = excluded.v.
type KV struct {
	opts KVOptions
	keys keyGen
}

// NewKV returns the kv workload for opts.
func NewKV(opts KVOptions) (*KV, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	keys, err := newKeyGen(opts.Distribution, opts.Keys)
	if err != nil {
		return nil, err
	}
	return &KV{opts: opts, keys: keys}, nil
}

// Name is "kv".
func (*KV) Name() string { return "kv" }

// Setup drops and makes table kv, and fills it when Preload says so.
func (kv *KV) Setup(ctx context.Context) error {
	conn, err := connect(ctx, kv.opts.DSN)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if err := execAll(ctx, conn,
		"DROP TABLE IF EXISTS kv",
		"CREATE TABLE kv (k bigint PRIMARY KEY, v bytea)",
	); err != nil {
		return err
	}
	if !kv.opts.Preload {
		return nil
	}
	rng := rand.New(rand.NewPCG(0, 0)) // the values need not vary between runs
	val := make([]byte, kv.opts.ValueSize)
	return copyRows(ctx, conn, "COPY kv (k, v) FROM STDIN", kv.opts.Keys, func(b []byte, i int64) []byte {
		fillRandom(rng, val)
		b = strconv.AppendInt(b, i, 10)
		b = append(b, "\t\\\\x"...) // bytea's hex form, its backslash escaped for COPY
		b = appendHex(b, val)
		return append(b, '\n')
	})
}

// Worker opens a connection for worker id.
func (kv *KV) Worker(ctx context.Context, id int) (Worker, error) {
	sess, err := newSession(ctx, kv.opts.DSN, id)
	if err != nil {
		return nil, err
	}
	w := &kvWorker{kv: kv, sess: sess, seen: make(map[int64]bool, kv.opts.Batch)}
	w.upsert = upsertSQL(kv.opts.Batch)
	w.vals = make([][]byte, kv.opts.Batch)
	for i := range w.vals {
		w.vals[i] = make([]byte, kv.opts.ValueSize)
	}
	return w, nil
}

// upsertSQL is the upsert of n rows.
func upsertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO kv (k, v) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d)", 2*i+1, 2*i+2)
	}
	b.WriteString(" ON CONFLICT (k) DO UPDATE SET v = excluded.v")
	return b.String()
}

// kvWorker is one kv connection; its buffers are reused by every write.
type kvWorker struct {
	kv     *KV
	sess   *session
	upsert string
	keys   []int64
	vals   [][]byte
	args   []any
	seen   map[int64]bool
}

func (w *kvWorker) Op(ctx context.Context, rng *rand.Rand) (string, error) {
	read := rng.IntN(100) < w.kv.opts.ReadPercent
	op := "write"
	if read {
		op = "read"
	}
	conn, err := w.sess.get(ctx)
	if err != nil {
		return op, err
	}
	if read {
		var v []byte
		err := conn.QueryRow(ctx, "SELECT v FROM kv WHERE k = $1", w.kv.keys.next(rng)).Scan(&v)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return "read", fmt.Errorf("kv read: %w", err)
		}
		return "read", nil
	}
	w.keys = w.batchKeys(rng)
	w.args = w.args[:0]
	for i, k := range w.keys {
		fillRandom(rng, w.vals[i])
		w.args = append(w.args, k, w.vals[i])
	}
	if _, err := conn.Exec(ctx, w.upsert, w.args...); err != nil {
		return "write", fmt.Errorf("kv write: %w", err)
	}
	return "write", nil
}

// batchKeys draws Batch distinct keys, in ascending order (so that
// concurrent batches lock rows in the same order). A drawn key already in
// the batch is replaced by the next free key after it.
func (w *kvWorker) batchKeys(rng *rand.Rand) []int64 {
	n := w.kv.opts.Keys
	clear(w.seen)
	keys := w.keys[:0]
	for range w.kv.opts.Batch {
		k := w.kv.keys.next(rng)
		for w.seen[k] {
			k = (k + 1) % n
		}
		w.seen[k] = true
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (w *kvWorker) Close() { w.sess.close() }

// fillRandom fills b with bytes from rng.
func fillRandom(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := i; j < min(i+8, len(b)); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

// appendHex appends b in lower-case hex.
func appendHex(dst, b []byte) []byte {
	const digits = "0123456789abcdef"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}
