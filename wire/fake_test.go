package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// fakeBackend is an in-memory Backend with a tiny statement language, one
// statement per line of the list below (keywords are case-insensitive):
//
//	SELECT <int>                 one int8 row
//	SELECT $1[, $2 ...]          echoes its parameters (text unless typed)
//	SERIES <n>                   int8 rows 1..n; suspends at maxRows
//	ERROR <sqlstate> <message>   fails at Execute with that error
//	FATAL <sqlstate> <message>   the same, with severity FATAL
//	SLEEP <ms>                   waits, or until canceled (57014)
//	COPY <table> FROM STDIN      appends the copied lines to a table
//	SET <name> <value>           changes a reported parameter
//	NOTICE <message>             sends a notice
//	INSERT ...                   "INSERT 0 1", no rows
//	BEGIN | COMMIT | ROLLBACK    transaction status
//
// Anything else is a syntax error (42601) when split or prepared.
type fakeBackend struct {
	// sleeping receives each session whose SLEEP has started.
	sleeping chan *fakeSession
	// maxSleep caps SLEEP (0: no cap), for the fuzzer.
	maxSleep time.Duration

	mu struct {
		sync.Mutex
		verifiers map[string]string
		connects  []ConnectParams
		sessions  []*fakeSession
		tables    map[string][]string
		executed  []string
	}
}

func newFakeBackend() *fakeBackend {
	b := &fakeBackend{sleeping: make(chan *fakeSession, 16)}
	b.mu.verifiers = make(map[string]string)
	b.mu.tables = make(map[string][]string)
	return b
}

// addUser gives user a password.
func (b *fakeBackend) addUser(user, password string) {
	v, err := MakeVerifier(password)
	if err != nil {
		panic(err)
	}
	b.mu.Lock()
	b.mu.verifiers[user] = v
	b.mu.Unlock()
}

func (b *fakeBackend) Verifier(ctx context.Context, role string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.mu.verifiers[role]
	if !ok {
		return "", pgerror.New(pgerror.CodeInvalidPassword, "role %q does not exist", role)
	}
	return v, nil
}

func (b *fakeBackend) Connect(ctx context.Context, p ConnectParams) (Session, error) {
	if p.Database == "nodb" {
		return nil, pgerror.New(pgerror.CodeInvalidCatalogName, "database %q does not exist", p.Database)
	}
	s := &fakeSession{b: b, params: map[string]string{"application_name": p.Options["application_name"]}}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.connects = append(b.mu.connects, p)
	b.mu.sessions = append(b.mu.sessions, s)
	return s, nil
}

func (b *fakeBackend) lastConnect() ConnectParams {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.connects[len(b.mu.connects)-1]
}

func (b *fakeBackend) table(name string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.mu.tables[name]...)
}

func (b *fakeBackend) executedStatements() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.mu.executed...)
}

// checkSessionsClosed reports sessions not closed exactly once.
func (b *fakeBackend) checkSessionsClosed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range b.mu.sessions {
		if n := s.closed.Load(); n != 1 {
			return fmt.Errorf("session %d closed %d times", i, n)
		}
	}
	return nil
}

type fakeSession struct {
	b       *fakeBackend
	txn     byte // 0 or 'I', 'T', 'E'
	params  map[string]string
	changed [][2]string
	syncs   atomic.Int64
	closed  atomic.Int64
}

func (s *fakeSession) Parameters() [][2]string {
	return [][2]string{
		{"server_version", "15.0 (shard)"},
		{"server_encoding", "UTF8"},
		{"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"},
		{"TimeZone", "UTC"},
		{"integer_datetimes", "on"},
		{"standard_conforming_strings", "on"},
		{"application_name", s.params["application_name"]},
	}
}

func (s *fakeSession) ChangedParameters() [][2]string {
	c := s.changed
	s.changed = nil
	return c
}

func (s *fakeSession) SplitSimple(query string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(query, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if err := checkSyntax(part); err != nil {
			return nil, err
		}
		out = append(out, part)
	}
	return out, nil
}

var fakeKeywords = map[string]bool{"SELECT": true, "SERIES": true, "ERROR": true, "FATAL": true, "SLEEP": true, "COPY": true,
	"SET": true, "NOTICE": true, "INSERT": true, "BEGIN": true, "COMMIT": true, "ROLLBACK": true}

func checkSyntax(stmt string) error {
	f := strings.Fields(stmt)
	if len(f) == 0 || !fakeKeywords[strings.ToUpper(f[0])] {
		word := ""
		if len(f) > 0 {
			word = f[0]
		}
		e := pgerror.New(pgerror.CodeSyntaxError, "syntax error at or near %q", word)
		e.Position = 1
		return e
	}
	return nil
}

func (s *fakeSession) Prepare(ctx context.Context, query string, paramTypes []uint32) (Statement, error) {
	if err := checkSyntax(query); err != nil {
		return nil, err
	}
	if strings.Contains(query, ";") {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	f := strings.Fields(query)
	st := &fakeStmt{s: s, text: query, verb: strings.ToUpper(f[0]), args: f[1:]}
	nparams := strings.Count(query, "$")
	for i := range nparams {
		t := uint32(25)
		if i < len(paramTypes) && paramTypes[i] != 0 {
			t = paramTypes[i]
		}
		st.paramTypes = append(st.paramTypes, t)
	}
	switch {
	case st.verb == "SELECT" && nparams > 0:
		for i, t := range st.paramTypes {
			st.cols = append(st.cols, Column{Name: fmt.Sprintf("p%d", i+1), TypeOID: t, TypeSize: -1, TypeMod: -1})
		}
	case st.verb == "SELECT":
		st.cols = []Column{{Name: "?column?", TypeOID: 20, TypeSize: 8, TypeMod: -1}}
	case st.verb == "SERIES":
		st.cols = []Column{{Name: "n", TypeOID: 20, TypeSize: 8, TypeMod: -1}}
	}
	return st, nil
}

func (s *fakeSession) TxnStatus() byte {
	if s.txn == 0 {
		return 'I'
	}
	return s.txn
}

func (s *fakeSession) Close() { s.closed.Add(1) }

func (s *fakeSession) Sync(ctx context.Context) error {
	s.syncs.Add(1)
	return nil
}

type fakeStmt struct {
	s          *fakeSession
	text, verb string
	args       []string
	paramTypes []uint32
	cols       []Column
}

func (st *fakeStmt) ParamTypes() []uint32 { return st.paramTypes }
func (st *fakeStmt) Columns() []Column    { return st.cols }

func (st *fakeStmt) Bind(ctx context.Context, params [][]byte, paramFormats, resultFormats []int16) (Portal, error) {
	if len(params) != len(st.paramTypes) {
		return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(params), len(st.paramTypes))
	}
	p := &fakePortal{st: st, params: params}
	if st.cols != nil {
		p.cols = append([]Column(nil), st.cols...)
		for i := range p.cols {
			switch {
			case len(resultFormats) == 1:
				p.cols[i].Format = resultFormats[0]
			case len(resultFormats) == len(p.cols):
				p.cols[i].Format = resultFormats[i]
			case len(resultFormats) != 0:
				return nil, pgerror.New(pgerror.CodeProtocolViolation, "bind message has %d result formats but query has %d columns", len(resultFormats), len(p.cols))
			}
		}
	}
	if st.verb == "SELECT" && len(params) == 0 {
		if len(st.args) != 1 {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "SELECT takes one integer")
		}
		n, err := strconv.ParseInt(st.args[0], 10, 64)
		if err != nil {
			return nil, pgerror.New(pgerror.CodeInvalidTextRepresentation, "invalid input syntax for type bigint: %q", st.args[0])
		}
		p.rows = [][]int64{{n}}
	}
	if st.verb == "SERIES" {
		n, err := strconv.Atoi(argOr(st.args, 0))
		if err != nil || n < 0 || n > 100000 {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "SERIES takes a count up to 100000")
		}
		for i := 1; i <= n; i++ {
			p.rows = append(p.rows, []int64{int64(i)})
		}
	}
	return p, nil
}

// argOr returns args[i], or "" when there are fewer arguments.
func argOr(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

type fakePortal struct {
	st     *fakeStmt
	params [][]byte
	cols   []Column
	rows   [][]int64
	next   int
	closed bool
}

func (p *fakePortal) Columns() []Column { return p.cols }
func (p *fakePortal) Close()            { p.closed = true }

func (p *fakePortal) encode(col int, v int64) []byte {
	if p.cols[col].Format == 1 {
		return binary.BigEndian.AppendUint64(nil, uint64(v))
	}
	return strconv.AppendInt(nil, v, 10)
}

func (p *fakePortal) Execute(ctx context.Context, maxRows int, w RowWriter) (string, bool, error) {
	s := p.st.s
	s.b.mu.Lock()
	s.b.mu.executed = append(s.b.mu.executed, p.st.text)
	s.b.mu.Unlock()
	if s.txn == 'E' && p.st.verb != "ROLLBACK" && p.st.verb != "COMMIT" {
		return "", false, pgerror.New(pgerror.CodeInFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	tag, suspended, err := p.execute(ctx, maxRows, w)
	if err != nil && s.txn == 'T' {
		s.txn = 'E'
	}
	return tag, suspended, err
}

func (p *fakePortal) execute(ctx context.Context, maxRows int, w RowWriter) (string, bool, error) {
	s, args := p.st.s, p.st.args
	switch p.st.verb {
	case "SELECT":
		if p.params != nil {
			if err := w.WriteRow(p.params); err != nil {
				return "", false, err
			}
			return "SELECT 1", false, nil
		}
		fallthrough
	case "SERIES":
		for written := 0; p.next < len(p.rows); written++ {
			if maxRows > 0 && written == maxRows {
				return "", true, nil
			}
			vals := make([][]byte, len(p.rows[p.next]))
			for i, v := range p.rows[p.next] {
				vals[i] = p.encode(i, v)
			}
			p.next++
			if err := w.WriteRow(vals); err != nil {
				return "", false, err
			}
		}
		return fmt.Sprintf("SELECT %d", len(p.rows)), false, nil
	case "ERROR", "FATAL":
		if len(args) < 2 {
			return "", false, pgerror.New(pgerror.CodeSyntaxError, "ERROR needs a code and a message")
		}
		e := pgerror.New(args[0], "%s", strings.Join(args[1:], " "))
		e.Severity = p.st.verb
		e.Detail, e.Hint, e.Table, e.Column, e.Constraint = "some detail", "some hint", "t", "c", "k"
		return "", false, e
	case "SLEEP":
		ms, _ := strconv.Atoi(argOr(args, 0))
		d := time.Duration(ms) * time.Millisecond
		if s.b.maxSleep > 0 && d > s.b.maxSleep {
			d = s.b.maxSleep
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case s.b.sleeping <- s:
		default:
		}
		select {
		case <-t.C:
			return "SLEEP", false, nil
		case <-ctx.Done():
			return "", false, pgerror.Flatten(ctx.Err())
		}
	case "COPY":
		r, err := w.CopyIn(0, []int16{0})
		if err != nil {
			return "", false, err
		}
		var lines []string
		sc := bufio.NewScanner(r)
		for sc.Scan() && sc.Text() != `\.` { // PostgreSQL's end-of-data marker
			lines = append(lines, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return "", false, err
		}
		s.b.mu.Lock()
		name := argOr(args, 0)
		s.b.mu.tables[name] = append(s.b.mu.tables[name], lines...)
		s.b.mu.Unlock()
		return fmt.Sprintf("COPY %d", len(lines)), false, nil
	case "SET":
		if len(args) < 2 {
			return "", false, pgerror.New(pgerror.CodeSyntaxError, "SET needs a name and a value")
		}
		val := args[len(args)-1]
		s.params[args[0]] = val
		s.changed = append(s.changed, [2]string{args[0], val})
		return "SET", false, nil
	case "NOTICE":
		if err := w.Notice(&pgerror.Error{Code: "00000", Message: strings.Join(args, " ")}); err != nil {
			return "", false, err
		}
		return "DO", false, nil
	case "INSERT":
		return "INSERT 0 1", false, nil
	case "BEGIN":
		s.txn = 'T'
		return "BEGIN", false, nil
	case "COMMIT", "ROLLBACK":
		tag := p.st.verb
		if s.txn == 'E' {
			tag = "ROLLBACK"
		}
		s.txn = 'I'
		return tag, false, nil
	}
	return "", false, pgerror.New(pgerror.CodeInternalError, "unhandled verb %s", p.st.verb)
}
