package sql

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/sql/types"
)

// Scan programs: the part of a table scan that runs at the ranges (see
// range/replica/program.go). The gateway plans which conjuncts of a WHERE,
// which columns and which aggregates can be pushed (pushdown.go) and
// encodes them as a scanSpec; every node compiles the spec once (cached by
// the replica layer) with the same expression builder the gateway uses, so
// a pushed expression means exactly what it would at the gateway.
//
// The spec carries expressions as pg_query parse nodes, not as built
// expressions: built expressions are Go closures. The gateway builds every
// candidate the way the range will (compileScanSpec, with the scan's
// columns as the only names, no session, the statement's final parameter
// types) and pushes it only if that succeeds and the result is
// expr.Immutable, so the range's build cannot differ from the gateway's.

// scanSpecVersion changes whenever scanSpec's meaning does; a node refuses
// a version it does not know (the gateway then sees a program error).
const scanSpecVersion = 1

// scanSpec is a scan program. It is encoded as JSON: a node decodes and
// compiles it once and caches the result, so the format's cost is of no
// matter, and encoding/json is deterministic (the cache key is a hash of
// the bytes).
type scanSpec struct {
	Version int       `json:"v"`
	Table   specTable `json:"t"`
	// Scope names the columns the expressions resolve against: the
	// scan's columns (with its alias), in Table.Columns order.
	Scope []specCol `json:"s"`
	// Params are the types of the statement's parameters ($n is
	// Params[n-1]); their values come with each scan (program args).
	Params []types.T `json:"p,omitempty"`
	// Filter holds the pushed conjuncts of the WHERE clause (pg_query
	// nodes, protobuf): a row is kept when they are all true.
	Filter [][]byte `json:"f,omitempty"`
	// Projected, when set, returns of each kept row only the values of
	// the columns at positions Keep (key columns travel in the key).
	Projected bool  `json:"pr,omitempty"`
	Keep      []int `json:"k,omitempty"`
	// Agg, when set, folds the kept rows into partial aggregates instead
	// of returning them.
	Agg *specAgg `json:"a,omitempty"`
}

// specTable is what decoding a row needs of its table.
type specTable struct {
	ID      uint32       `json:"id"`
	Name    string       `json:"n"`
	Columns []specColumn `json:"c"`
	PK      []uint32     `json:"pk"`
	PKDesc  []bool       `json:"pd,omitempty"`
}

type specColumn struct {
	ID   uint32  `json:"id"`
	Type types.T `json:"t"`
}

type specCol struct {
	Table  string  `json:"t,omitempty"`
	Name   string  `json:"n"`
	Type   types.T `json:"y"`
	Hidden bool    `json:"h,omitempty"`
}

// specAgg is a partial aggregation: rows grouped by Groups, each group
// folding the Calls (count, sum, avg, min, max without DISTINCT, FILTER or
// ORDER BY; see expr.PartialTypes).
type specAgg struct {
	Groups [][]byte   `json:"g,omitempty"`
	Calls  []specCall `json:"c"`
}

type specCall struct {
	Name string   `json:"n"`
	Star bool     `json:"s,omitempty"`
	Args [][]byte `json:"a,omitempty"`
}

// newScanSpec returns the spec of a scan of s, with nothing pushed yet.
func newScanSpec(s *scanRel, params []types.T) *scanSpec {
	t := s.table
	pk := t.PrimaryIndex()
	sp := &scanSpec{Version: scanSpecVersion, Table: specTable{ID: t.ID, Name: t.Name, PK: pk.Columns, PKDesc: pk.Desc}}
	for _, c := range t.Columns {
		sp.Table.Columns = append(sp.Table.Columns, specColumn{ID: c.ID, Type: c.Type})
	}
	for _, c := range s.columns {
		sp.Scope = append(sp.Scope, specCol{Table: c.table, Name: c.name, Type: c.typ, Hidden: c.hidden})
	}
	for _, p := range params {
		if p.Oid == types.OidUnknown || p.Oid == 0 {
			p = types.Text // what an untyped parameter ends up as (Statement.replan)
		}
		sp.Params = append(sp.Params, p)
	}
	return sp
}

func encodeNode(n *pg_query.Node) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(n)
	if err != nil {
		panic(fmt.Sprintf("sql: marshal parse node: %v", err)) // a parse tree always marshals
	}
	return b
}

// scanProgram is a compiled scanSpec; it implements replica.Program and is
// safe for concurrent use.
type scanProgram struct {
	spec   *scanSpec
	table  *catalog.Table
	dec    *rowenc.Decoder
	filter expr.Expr // nil: keep every row
	// need marks the columns the range decodes (nil: none at all).
	need []bool
	// keep marks the columns returned, when projecting.
	keep []bool
	// Aggregation (nil groups and calls without one).
	agg        bool
	groups     []expr.Expr
	groupCols  []scopeCol
	calls      []partialCall
	paramTypes []types.T
}

// partialCall is one compiled aggregate call of a scan program.
type partialCall struct {
	newState   func() expr.AggFunc
	args       []expr.Expr
	stateTypes []types.T
}

// scanEnv resolves the names of a pushed expression: the scan's columns and
// nothing else (no outer query, no subqueries, no aggregates).
type scanEnv struct{ sc *scope }

func (ev scanEnv) Column(ref *pg_query.ColumnRef) (expr.Expr, error) {
	idx, c, err := resolveIn(ev.sc, ref)
	if err != nil {
		return nil, err
	}
	return &expr.ColRef{Idx: idx, T: c.typ, Name: c.name}, nil
}

func (scanEnv) Aggregate(*expr.Builder, *pg_query.FuncCall) (expr.Expr, error) {
	return nil, pgerror.Unsupported("aggregate in a scan program")
}

func (scanEnv) Subquery(*expr.Builder, *pg_query.SubLink) (expr.Expr, error) {
	return nil, pgerror.Unsupported("subquery in a scan program")
}

func (scanEnv) Replace(*expr.Builder, *pg_query.Node) (expr.Expr, error) { return nil, nil }

// specBuilder returns the builder of the spec's expressions.
func specBuilder(sp *scanSpec) *expr.Builder {
	sc := &scope{}
	for _, c := range sp.Scope {
		sc.cols = append(sc.cols, scopeCol{table: c.Table, name: c.Name, typ: c.Type, hidden: c.Hidden})
	}
	return &expr.Builder{Env: scanEnv{sc: sc}, Params: &expr.Params{Types: append([]types.T(nil), sp.Params...)}}
}

// buildSpecExpr builds one encoded expression of a spec: a condition when
// cond is set, else a value (unknown literals as text). It fails unless the
// result is immutable (expr.Immutable).
func buildSpecExpr(b *expr.Builder, raw []byte, cond bool) (expr.Expr, error) {
	n := &pg_query.Node{}
	if err := proto.Unmarshal(raw, n); err != nil {
		return nil, fmt.Errorf("sql: scan program: bad expression: %w", err)
	}
	var x expr.Expr
	var err error
	if cond {
		x, err = b.BuildBool(n, "WHERE")
		if err == nil && x.Type().Oid != types.OidBool {
			err = pgerror.New(pgerror.CodeDatatypeMismatch, "scan program condition is not boolean")
		}
	} else {
		x, err = b.Build(n, types.Unknown)
		if err == nil {
			x = resolveUnknown(x)
		}
	}
	if err != nil {
		return nil, err
	}
	if !expr.Immutable(x) {
		return nil, pgerror.Unsupported("scan program expression is not immutable")
	}
	return x, nil
}

// compileScanSpec compiles a spec; the gateway and the ranges both call it.
func compileScanSpec(sp *scanSpec) (*scanProgram, error) {
	if sp.Version != scanSpecVersion {
		return nil, fmt.Errorf("sql: scan program version %d, this node runs version %d", sp.Version, scanSpecVersion)
	}
	t := &catalog.Table{ID: sp.Table.ID, Name: sp.Table.Name, Primary: 1,
		Indexes: []*catalog.Index{{ID: 1, Columns: sp.Table.PK, Desc: sp.Table.PKDesc, Primary: true}}}
	for _, c := range sp.Table.Columns {
		t.Columns = append(t.Columns, &catalog.Column{ID: c.ID, Type: c.Type})
	}
	if len(sp.Scope) != len(t.Columns) || len(sp.Table.PK) == 0 {
		return nil, fmt.Errorf("sql: scan program: %d names for %d columns", len(sp.Scope), len(t.Columns))
	}
	p := &scanProgram{spec: sp, table: t, dec: rowenc.NewDecoder(t), paramTypes: sp.Params}
	b := specBuilder(sp)
	var used []expr.Expr
	var conj []expr.Expr
	for _, raw := range sp.Filter {
		x, err := buildSpecExpr(b, raw, true)
		if err != nil {
			return nil, err
		}
		conj = append(conj, x)
	}
	p.filter = andOf(conj)
	used = append(used, conj...)
	if sp.Projected {
		p.keep = make([]bool, len(t.Columns))
		for _, i := range sp.Keep {
			if i < 0 || i >= len(t.Columns) {
				return nil, fmt.Errorf("sql: scan program: column %d of %d", i, len(t.Columns))
			}
			p.keep[i] = true
		}
	}
	if a := sp.Agg; a != nil {
		p.agg = true
		for _, raw := range a.Groups {
			x, err := buildSpecExpr(b, raw, false)
			if err != nil {
				return nil, err
			}
			p.groups = append(p.groups, x)
			p.groupCols = append(p.groupCols, scopeCol{typ: x.Type()})
			used = append(used, x)
		}
		for _, c := range a.Calls {
			var pc partialCall
			var argTypes []types.T
			for _, raw := range c.Args {
				x, err := buildSpecExpr(b, raw, false)
				if err != nil {
					return nil, err
				}
				pc.args = append(pc.args, x)
				argTypes = append(argTypes, x.Type())
				used = append(used, x)
			}
			st, ok := expr.PartialTypes(c.Name, argTypes, c.Star)
			if !ok {
				return nil, pgerror.Unsupported("aggregate %s cannot be computed in parts", c.Name)
			}
			newState, _, err := expr.NewAggregate(c.Name, argTypes, false, c.Star)
			if err != nil {
				return nil, err
			}
			pc.newState, pc.stateTypes = newState, st
			p.calls = append(p.calls, pc)
		}
	}
	for _, x := range used {
		expr.Walk(x, func(y expr.Expr) bool {
			if cr, ok := y.(*expr.ColRef); ok {
				if p.need == nil {
					p.need = make([]bool, len(t.Columns))
				}
				p.need[cr.Idx] = true
			}
			return true
		})
	}
	return p, nil
}

// andOf returns the conjunction of xs: nil for none, the one, or an And.
func andOf(xs []expr.Expr) expr.Expr {
	switch len(xs) {
	case 0:
		return nil
	case 1:
		return xs[0]
	}
	return &expr.And{Args: xs}
}

// scanProcessor compiles scan programs at the ranges.
type scanProcessor struct{}

// ScanProcessor returns the processor that runs the SQL layer's scan
// programs at the ranges; the server installs it (behind a
// replica.ProgramCache) on every replica.
func ScanProcessor() replica.Processor { return scanProcessor{} }

// Compile implements replica.Processor.
func (scanProcessor) Compile(code []byte) (_ replica.Program, err error) {
	defer recoverProgram(&err)
	sp := &scanSpec{}
	if err := json.Unmarshal(code, sp); err != nil {
		return nil, fmt.Errorf("sql: scan program: %w", err)
	}
	p, err := compileScanSpec(sp)
	if err != nil {
		return nil, scanError{pgerror.Flatten(err)}
	}
	return p, nil
}

// encodeArgs encodes the parameter values of one execution, of the types
// ts, as program args.
func encodeArgs(ts []types.T, params []types.Datum) []byte {
	var b []byte
	for i, t := range ts {
		var d types.Datum
		if i < len(params) {
			d = params[i]
		}
		b = types.AppendValue(b, t, d)
	}
	return b
}

// Start implements replica.Program.
func (p *scanProgram) Start(args []byte) (_ replica.Run, err error) {
	defer recoverProgram(&err)
	params := make([]types.Datum, len(p.paramTypes))
	rest := args
	for i, t := range p.paramTypes {
		d, r, err := types.DecodeValue(rest, t)
		if err != nil {
			return nil, scanError{pgerror.New(pgerror.CodeInternalError, "scan program: bad parameter $%d: %v", i+1, err)}
		}
		params[i], rest = d, r
	}
	r := &scanRun{p: p, ev: expr.Ctx{Context: context.Background(), Params: params}}
	if p.need != nil {
		r.row = make(rowenc.Row, len(p.table.Columns))
	}
	if p.agg {
		r.groups = map[string]*partialGroup{}
	}
	return r, nil
}

// scanRun is one response's run of a scan program.
type scanRun struct {
	p   *scanProgram
	ev  expr.Ctx
	row rowenc.Row
	buf []byte
	// Aggregation: the groups met, in the order they were met.
	groups map[string]*partialGroup
	order  []*partialGroup
	held   int
}

type partialGroup struct {
	vals   row
	states []expr.AggFunc
}

// Row implements replica.Run.
func (r *scanRun) Row(key, value []byte) (_ []byte, _ bool, err error) {
	defer recoverProgram(&err)
	p := r.p
	if r.row != nil {
		if err := p.dec.Decode(key, value, p.need, r.row); err != nil {
			return nil, false, scanError{pgerror.Flatten(err)}
		}
	}
	if p.filter != nil {
		d, err := p.filter.Eval(&r.ev, r.row)
		if err != nil {
			return nil, false, scanError{pgerror.Flatten(err)}
		}
		if ok, _ := d.(bool); !ok {
			return nil, false, nil
		}
	}
	if p.agg {
		if err := r.add(); err != nil {
			return nil, false, scanError{pgerror.Flatten(err)}
		}
		return nil, false, nil
	}
	if p.keep != nil {
		var err error
		if r.buf, err = p.dec.ProjectValue(r.buf[:0], value, p.keep); err != nil {
			return nil, false, scanError{pgerror.Flatten(err)}
		}
		return r.buf, true, nil
	}
	return value, true, nil
}

// add folds the current row into its group.
func (r *scanRun) add() error {
	p := r.p
	vals := make(row, len(p.groups))
	for i, g := range p.groups {
		d, err := g.Eval(&r.ev, r.row)
		if err != nil {
			return err
		}
		vals[i] = d
	}
	k := rowKeyString(vals, p.groupCols)
	g := r.groups[k]
	if g == nil {
		g = &partialGroup{vals: vals, states: make([]expr.AggFunc, len(p.calls))}
		for i, c := range p.calls {
			g.states[i] = c.newState()
		}
		r.groups[k] = g
		r.order = append(r.order, g)
		r.held += len(k) + 32*len(p.calls)
	}
	for i, c := range p.calls {
		args := make([]types.Datum, len(c.args))
		for j, a := range c.args {
			d, err := a.Eval(&r.ev, r.row)
			if err != nil {
				return err
			}
			args[j] = d
		}
		if err := g.states[i].Add(&r.ev, args); err != nil {
			return err
		}
	}
	return nil
}

// Held implements replica.Run.
func (r *scanRun) Held() (int, int) { return len(r.order), r.held }

// Finish implements replica.Run: the partial aggregates, as the group
// count, then per group its values and the state of each call (see
// decodePartials).
func (r *scanRun) Finish() (_ []byte, err error) {
	defer recoverProgram(&err)
	p := r.p
	if !p.agg {
		return nil, nil
	}
	b := binary.AppendUvarint(nil, uint64(len(r.order)))
	for _, g := range r.order {
		for i, d := range g.vals {
			b = types.AppendValue(b, p.groupCols[i].typ, d)
		}
		for i, c := range p.calls {
			st := g.states[i].(expr.Partial).State()
			for j, d := range st {
				b = types.AppendValue(b, c.stateTypes[j], d)
			}
		}
	}
	return b, nil
}

// decodePartials calls fn with every group of an encoded partial result:
// its values and, per call, its state.
func (p *scanProgram) decodePartials(b []byte, fn func(vals row, states [][]types.Datum) error) error {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return pgerror.New(pgerror.CodeInternalError, "corrupt partial aggregate")
	}
	b = b[k:]
	next := func(t types.T) (types.Datum, error) {
		d, rest, err := types.DecodeValue(b, t)
		if err != nil {
			return nil, pgerror.New(pgerror.CodeInternalError, "corrupt partial aggregate: %v", err)
		}
		b = rest
		return d, nil
	}
	for range n {
		vals := make(row, len(p.groups))
		for i := range vals {
			d, err := next(p.groupCols[i].typ)
			if err != nil {
				return err
			}
			vals[i] = d
		}
		states := make([][]types.Datum, len(p.calls))
		for i, c := range p.calls {
			states[i] = make([]types.Datum, len(c.stateTypes))
			for j, t := range c.stateTypes {
				d, err := next(t)
				if err != nil {
					return err
				}
				states[i][j] = d
			}
		}
		if err := fn(vals, states); err != nil {
			return err
		}
	}
	return nil
}

// recoverProgram turns a panic of a scan program at a range into an
// internal error of the statement, as recoverInternal does at the gateway:
// a bug in an expression must fail the query, not the node.
func recoverProgram(err *error) {
	if r := recover(); r != nil {
		*err = scanError{pgerror.New(pgerror.CodeInternalError, "internal error in a scan program: %v", r).WithDetail("%s", stackTrace())}
	}
}

// scanError is an error of a scan program on its way to the gateway: the
// PostgreSQL error travels whole (code, message, detail, position) as the
// ProgramError's detail.
type scanError struct{ pe *pgerror.Error }

func (e scanError) Error() string { return e.pe.Message }

func (e scanError) Unwrap() error { return e.pe }

// ProgramErrorDetail implements replica.ErrorDetail.
func (e scanError) ProgramErrorDetail() []byte {
	b, _ := json.Marshal(e.pe)
	return b
}

// fromProgramError returns the PostgreSQL error a range's scan program
// reported, or err unchanged.
func fromProgramError(err error) error {
	var kerr *kvpb.Error
	if !errors.As(err, &kerr) || kerr.GetProgram() == nil {
		return err
	}
	pe := &pgerror.Error{}
	if json.Unmarshal(kerr.GetProgram().Detail, pe) != nil || pe.Code == "" {
		return pgerror.New(pgerror.CodeInternalError, "scan program failed at a range: %s", kerr.GetProgram().Message)
	}
	return pe
}
