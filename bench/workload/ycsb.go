package workload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// YCSBOptions configure the ycsb workload.
type YCSBOptions struct {
	// DSN is the connection string of the database.
	DSN string
	// Workload is the letter of YCSB's core workload, "A" to "F" (or
	// lower case); default "B", the proportions of YCSB's CoreWorkload
	// defaults.
	//   - A: 50% read, 50% update.
	//   - B: 95% read, 5% update.
	//   - C: 100% read.
	//   - D: 95% read, 5% insert.
	//   - E: 95% scan, 5% insert.
	//   - F: 50% read, 50% read-modify-write.
	Workload string
	// RecordCount is the number of rows Setup loads, keys 0 to
	// RecordCount-1; default 100000 (100 MB of fields at the defaults).
	RecordCount int64
	// FieldCount is the number of text fields of a row, field0 to
	// field<FieldCount-1>; default YCSB's 10.
	FieldCount int
	// FieldLength is the length of every field's value in bytes; default
	// YCSB's 100.
	FieldLength int
	// Distribution is the distribution of the keys that reads, updates,
	// scans and read-modify-writes choose: Zipfian, Uniform or Latest;
	// default Latest for D and Zipfian for the others, as YCSB's.
	Distribution string
	// MaxScanLength is the most rows a scan asks for: each asks for 1 to
	// MaxScanLength, uniformly; default YCSB's 100.
	MaxScanLength int
}

// withDefaults returns o with its zero fields filled in and its workload
// letter in upper case.
func (o YCSBOptions) withDefaults() YCSBOptions {
	o.Workload = strings.ToUpper(o.Workload)
	if o.Workload == "" {
		o.Workload = "B"
	}
	if o.RecordCount == 0 {
		o.RecordCount = 100_000
	}
	if o.FieldCount == 0 {
		o.FieldCount = 10
	}
	if o.FieldLength == 0 {
		o.FieldLength = 100
	}
	if o.Distribution == "" {
		o.Distribution = Zipfian
		if o.Workload == "D" {
			o.Distribution = Latest
		}
	}
	if o.MaxScanLength == 0 {
		o.MaxScanLength = 100
	}
	return o
}

// Validate reports every problem of o (after defaults).
func (o YCSBOptions) Validate() error {
	var errs []error
	if o.DSN == "" {
		errs = append(errs, errors.New("ycsb: no connection string"))
	}
	if _, ok := ycsbMixes[o.Workload]; !ok {
		errs = append(errs, fmt.Errorf("ycsb: workload %q (want A to F)", o.Workload))
	}
	if o.RecordCount < 1 {
		errs = append(errs, fmt.Errorf("ycsb: %d records", o.RecordCount))
	}
	if o.FieldCount < 1 {
		errs = append(errs, fmt.Errorf("ycsb: %d fields", o.FieldCount))
	}
	if o.FieldLength < 1 {
		errs = append(errs, fmt.Errorf("ycsb: field length %d", o.FieldLength))
	}
	if o.Distribution != Uniform && o.Distribution != Zipfian && o.Distribution != Latest {
		errs = append(errs, fmt.Errorf("ycsb: key distribution %q (want %q, %q or %q)",
			o.Distribution, Zipfian, Uniform, Latest))
	}
	if o.MaxScanLength < 1 {
		errs = append(errs, fmt.Errorf("ycsb: max scan length %d", o.MaxScanLength))
	}
	return errors.Join(errs...)
}

// The operations of ycsb, one histogram each.
const (
	opRead   = "read"
	opUpdate = "update"
	opInsert = "insert"
	opScan   = "scan"
	opRMW    = "rmw"
)

// ycsbMix is a core workload's operations, in percent of all (YCSB's
// proportions are all whole percents); they add up to 100.
type ycsbMix struct{ read, update, insert, scan, rmw int }

// ycsbMixes are YCSB's core workloads (workloads/workload[a-f]).
var ycsbMixes = map[string]ycsbMix{
	"A": {read: 50, update: 50},
	"B": {read: 95, update: 5},
	"C": {read: 100},
	"D": {read: 95, insert: 5},
	"E": {scan: 95, insert: 5},
	"F": {read: 50, rmw: 50},
}

// choose draws an operation, each with its percentage's chance.
func (m ycsbMix) choose(rng *rand.Rand) string {
	u := rng.IntN(100)
	for _, c := range [...]struct {
		percent int
		op      string
	}{{m.read, opRead}, {m.update, opUpdate}, {m.insert, opInsert}, {m.scan, opScan}} {
		if u < c.percent {
			return c.op
		}
		u -= c.percent
	}
	return opRMW
}

// YCSB is the Yahoo! Cloud Serving Benchmark's core workloads A to F on
// table usertable(ycsb_key bigint primary key, field0 text, ...), with
// the key chosen by Distribution among the keys known to exist:
//   - "read": SELECT every field WHERE ycsb_key = $1; the row must exist.
//   - "update": UPDATE usertable SET field<i> = $2 WHERE ycsb_key = $1, of
//     one random field (YCSB's writeallfields=false); one row must change.
//   - "insert": INSERT of a new row, with the next key after the ones
//     loaded and inserted so far (a counter shared by the workers).
//   - "scan": SELECT every field WHERE ycsb_key >= $1 ORDER BY ycsb_key
//     LIMIT $2, of 1 to MaxScanLength rows.
//   - "rmw": BEGIN, the read, then the update of the same key, COMMIT.
//
// An attempt that fails with a serialization failure or a deadlock is
// repeated with the same choices (see Worker.Op). Rows are read but their
// values not decoded.
type YCSB struct {
	opts    YCSBOptions
	mix     ycsbMix
	sql     ycsbSQL
	zipf    *zipfian // Zipfian and Latest: over RecordCount keys, copied by each worker
	inserts insertKeys
}

// NewYCSB returns the ycsb workload for opts.
func NewYCSB(opts YCSBOptions) (*YCSB, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	y := &YCSB{opts: opts, mix: ycsbMixes[opts.Workload], sql: newYCSBSQL(opts.FieldCount)}
	if opts.Distribution != Uniform {
		y.zipf = newZipfian(opts.RecordCount, zipfTheta)
	}
	y.inserts.next.Store(opts.RecordCount)
	return y, nil
}

// Name is "ycsb".
func (*YCSB) Name() string { return "ycsb" }

// Setup drops and makes table usertable and loads its RecordCount rows
// with COPY, as YCSB's load phase (random letters, digits, '-' and '_').
func (y *YCSB) Setup(ctx context.Context) error {
	conn, err := connect(ctx, y.opts.DSN)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if err := execAll(ctx, conn, "DROP TABLE IF EXISTS usertable", y.sql.create); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(0, 0)) // the values need not vary between runs
	return copyRows(ctx, conn, y.sql.copy, y.opts.RecordCount, func(b []byte, i int64) []byte {
		b = strconv.AppendInt(b, i, 10)
		for range y.opts.FieldCount {
			b = append(b, '\t')
			b = appendText(b, rng, y.opts.FieldLength)
		}
		return append(b, '\n')
	})
}

// Worker opens a connection for worker id. Worker 0 of a workload that
// inserts (D, E) makes the inserts go on after the largest key in the
// table: it holds an earlier run's inserts when Options.SkipSetup skipped
// Setup.
func (y *YCSB) Worker(ctx context.Context, id int) (Worker, error) {
	sess, err := newSession(ctx, y.opts.DSN, id)
	if err != nil {
		return nil, err
	}
	if id == 0 && y.mix.insert > 0 {
		var last int64
		err := sess.conn.QueryRow(ctx, ycsbLastKey).Scan(&last)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			last = -1
		case err != nil:
			sess.close()
			return nil, fmt.Errorf("%s: %w", ycsbLastKey, err)
		}
		y.inserts.next.Store(max(y.opts.RecordCount, last+1))
	}
	return y.newWorker(sess, id), nil
}

// ycsbLastKey reads the largest key.
const ycsbLastKey = "SELECT ycsb_key FROM usertable ORDER BY ycsb_key DESC LIMIT 1"

// newWorker is worker id on sess.
func (y *YCSB) newWorker(sess *session, id int) *ycsbWorker {
	return &ycsbWorker{
		y:    y,
		sess: sess,
		keys: newGrowingKeys(y.opts.Distribution, y.zipf),
		held: y.inserts.slot(id),
		args: make([]any, 0, 1+y.opts.FieldCount),
	}
}

// ycsbSQL are the statements for a number of fields.
type ycsbSQL struct {
	create, copy, read, scan, insert string
	update                           []string // update[i] sets field i
}

func newYCSBSQL(fields int) ycsbSQL {
	names := make([]string, fields)
	params := make([]string, fields)
	for i := range names {
		names[i] = "field" + strconv.Itoa(i)
		params[i] = "$" + strconv.Itoa(i+2)
	}
	list := strings.Join(names, ", ")
	s := ycsbSQL{
		create: "CREATE TABLE usertable (ycsb_key bigint PRIMARY KEY, " + strings.Join(names, " text, ") + " text)",
		copy:   "COPY usertable (ycsb_key, " + list + ") FROM STDIN",
		read:   "SELECT " + list + " FROM usertable WHERE ycsb_key = $1",
		scan:   "SELECT " + list + " FROM usertable WHERE ycsb_key >= $1 ORDER BY ycsb_key LIMIT $2",
		insert: "INSERT INTO usertable (ycsb_key, " + list + ") VALUES ($1, " + strings.Join(params, ", ") + ")",
	}
	for _, f := range names {
		s.update = append(s.update, "UPDATE usertable SET "+f+" = $2 WHERE ycsb_key = $1")
	}
	return s
}

// insertKeys are the keys of the inserts, shared by the workers: each
// insert takes the next key, and the other operations choose among the
// keys known to exist, those below next and below every key that an
// insert holds (YCSB's AcknowledgedCounterGenerator, without its window).
// A key is released when its insert is done, failed or cut off by the end
// of the run (as YCSB's), so a failed insert leaves a missing key behind;
// an insert to retry keeps its key.
type insertKeys struct {
	next atomic.Int64 // the next insert's key
	held []*heldKey   // worker id's; grown by Worker, before the run
}

// heldKey is the key a worker is inserting, noKey when none, alone on its
// cache line (only the worker writes it, once before and once after an
// insert).
type heldKey struct {
	atomic.Int64
	_ [56]byte
}

const noKey = math.MaxInt64

// slot returns worker id's heldKey.
func (k *insertKeys) slot(id int) *heldKey {
	for len(k.held) <= id {
		h := &heldKey{}
		h.Store(noKey)
		k.held = append(k.held, h)
	}
	return k.held[id]
}

// take takes the next key for an insert, held in h until release. h holds
// a lower bound of the key before next counts it, so that known never
// passes it: a known that reads next after the increment reads h after
// the lower bound.
func (k *insertKeys) take(h *heldKey) int64 {
	h.Store(k.next.Load())
	key := k.next.Add(1) - 1
	h.Store(key)
	return key
}

// release ends h's insert.
func (k *insertKeys) release(h *heldKey) { h.Store(noKey) }

// known is the number of keys known to exist: every key below it was
// loaded or inserted (unless its insert failed). It reads next before the
// held keys (see take).
func (k *insertKeys) known() int64 {
	n := k.next.Load()
	for _, h := range k.held {
		n = min(n, h.Load())
	}
	return n
}

// ycsbOp is one operation's choices, kept for its retry.
type ycsbOp struct {
	name  string
	key   int64
	field int   // update, rmw: the field written
	rows  int64 // scan: the rows asked for
}

// querier runs a worker's statements: its connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ycsbWorker is one ycsb connection. After an attempt that asks for a
// retry it keeps the operation for the next attempt.
type ycsbWorker struct {
	y       *YCSB
	sess    *session
	keys    *growingKeys
	held    *heldKey
	op      ycsbOp
	pending bool  // op is an operation to retry
	args    []any // an insert's
	val     []byte
}

func (w *ycsbWorker) Op(ctx context.Context, rng *rand.Rand) (string, error) {
	if !w.pending {
		w.op = w.draw(rng)
	}
	err := w.do(ctx, rng)
	w.pending = IsRetry(err)
	if w.op.name == opInsert && !w.pending {
		w.y.inserts.release(w.held)
	}
	if err != nil {
		return w.op.name, fmt.Errorf("ycsb %s of key %d: %w", w.op.name, w.op.key, err)
	}
	return w.op.name, nil
}

// draw chooses the next operation, by the mix, and its key, field and
// rows. An insert takes its key.
func (w *ycsbWorker) draw(rng *rand.Rand) ycsbOp {
	op := ycsbOp{name: w.y.mix.choose(rng)}
	switch op.name {
	case opInsert:
		op.key = w.y.inserts.take(w.held)
		return op
	case opScan:
		op.rows = 1 + rng.Int64N(int64(w.y.opts.MaxScanLength))
	case opUpdate, opRMW:
		op.field = rng.IntN(w.y.opts.FieldCount)
	}
	op.key = w.keys.next(rng, w.known())
	return op
}

// known is the number of keys the operations choose from.
func (w *ycsbWorker) known() int64 {
	if w.y.mix.insert == 0 {
		return w.y.opts.RecordCount
	}
	return w.y.inserts.known()
}

// do makes one attempt of w.op, with new values.
func (w *ycsbWorker) do(ctx context.Context, rng *rand.Rand) error {
	op := w.op
	conn, err := w.sess.get(ctx)
	if err != nil {
		return err
	}
	switch op.name {
	case opRead:
		return w.read(ctx, conn, op.key)
	case opUpdate:
		return w.update(ctx, conn, rng, op)
	case opInsert:
		w.args = append(w.args[:0], op.key)
		for range w.y.opts.FieldCount {
			w.args = append(w.args, w.text(rng))
		}
		_, err := conn.Exec(ctx, w.y.sql.insert, w.args...)
		return err
	case opScan:
		_, err := queryRows(ctx, conn, w.y.sql.scan, op.key, op.rows)
		return err
	default: // opRMW
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if err := w.read(ctx, tx, op.key); err != nil {
				return err
			}
			return w.update(ctx, tx, rng, op)
		})
	}
}

// read reads key's row, which must exist.
func (w *ycsbWorker) read(ctx context.Context, q querier, key int64) error {
	n, err := queryRows(ctx, q, w.y.sql.read, key)
	if err == nil && n != 1 {
		err = fmt.Errorf("%d rows", n)
	}
	return err
}

// update writes a new value into op's field of op's key, which must
// exist.
func (w *ycsbWorker) update(ctx context.Context, q querier, rng *rand.Rand, op ycsbOp) error {
	tag, err := q.Exec(ctx, w.y.sql.update[op.field], op.key, w.text(rng))
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("updated %d rows", tag.RowsAffected())
	}
	return err
}

// text is a new random field value.
func (w *ycsbWorker) text(rng *rand.Rand) string {
	w.val = appendText(w.val[:0], rng, w.y.opts.FieldLength)
	return string(w.val)
}

func (w *ycsbWorker) Close() {
	w.y.inserts.release(w.held) // an insert that was to be retried
	w.sess.close()
}

// queryRows runs a query and reads its rows without decoding them; it
// returns how many there were.
func queryRows(ctx context.Context, q querier, sql string, args ...any) (int, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// textChars are the characters of random text: 64 of them, none of which
// COPY's text format escapes.
const textChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendText appends n random characters of textChars drawn from rng.
func appendText(b []byte, rng *rand.Rand, n int) []byte {
	for i := 0; i < n; i += 10 {
		v := rng.Uint64()
		for range min(10, n-i) {
			b = append(b, textChars[v&63])
			v >>= 6
		}
	}
	return b
}
