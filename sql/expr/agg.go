package expr

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// AggFunc is the running state of one aggregate for one group. Add is
// called once per input row with the evaluated arguments (none for
// count(*)); Result may be called once at the end. An AggFunc is used by
// one goroutine.
type AggFunc interface {
	Add(c *Ctx, args []types.Datum) error
	Result() (types.Datum, error)
}

var aggregates = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"bool_and": true, "bool_or": true, "every": true, "string_agg": true, "array_agg": true,
	"json_agg": true, "jsonb_agg": true,
}

// IsAggregate reports whether name (lower case, schema stripped) is an
// aggregate function: count sum avg min max bool_and bool_or every
// string_agg array_agg json_agg jsonb_agg.
func IsAggregate(name string) bool { return aggregates[name] }

// NewAggregate resolves aggregate name for the argument types and returns a
// constructor of per-group states and the result type. distinct makes the
// state ignore repeated argument values; star is count(*). An unknown
// combination is 42883 "function sum(text) does not exist".
func NewAggregate(name string, argTypes []types.T, distinct, star bool) (newState func() AggFunc, result types.T, err error) {
	newState, result, err = resolveAggregate(name, argTypes, star)
	if err != nil {
		return nil, types.T{}, err
	}
	if distinct && !star {
		inner := newState
		newState = func() AggFunc { return &distinctAgg{inner: inner(), types: argTypes} }
	}
	return newState, result, nil
}

func resolveAggregate(name string, args []types.T, star bool) (func() AggFunc, types.T, error) {
	notFound := func() (func() AggFunc, types.T, error) {
		return nil, types.T{}, errNoFunction(name, args, -1)
	}
	if star {
		if name != "count" {
			return nil, types.T{}, pgerror.New(pgerror.CodeWrongObjectType, "%s(*) must be used to call a parameterless aggregate function", name)
		}
		return func() AggFunc { return &countAgg{star: true} }, types.Int8, nil
	}
	if name == "string_agg" {
		if len(args) == 2 && (isStringType(args[0]) || args[0].Oid == types.OidUnknown) && (isStringType(args[1]) || args[1].Oid == types.OidUnknown) {
			return func() AggFunc { return &stringAgg{} }, types.Text, nil
		}
		if len(args) == 2 && args[0].Oid == types.OidBytea && args[1].Oid == types.OidBytea {
			return func() AggFunc { return &stringAgg{bytes: true} }, types.Bytea, nil
		}
		return notFound()
	}
	if len(args) != 1 {
		return notFound()
	}
	t := baseType(args[0])
	switch name {
	case "count":
		return func() AggFunc { return &countAgg{} }, types.Int8, nil
	case "sum":
		switch t.Oid {
		case types.OidInt2, types.OidInt4:
			return func() AggFunc { return &sumIntAgg{} }, types.Int8, nil
		case types.OidInt8:
			return func() AggFunc { return &sumIntAgg{numeric: true} }, types.Numeric, nil
		case types.OidNumeric:
			return func() AggFunc { return &sumNumAgg{} }, types.Numeric, nil
		case types.OidFloat4, types.OidFloat8:
			f4 := t.Oid == types.OidFloat4
			return func() AggFunc { return &sumFloatAgg{f4: f4} }, t, nil
		case types.OidInterval:
			return func() AggFunc { return &sumIntervalAgg{} }, types.Interval_, nil
		}
	case "avg":
		switch t.Oid {
		case types.OidInt2, types.OidInt4, types.OidInt8:
			return func() AggFunc { return &avgAgg{sum: &sumIntAgg{numeric: true}} }, types.Numeric, nil
		case types.OidNumeric:
			return func() AggFunc { return &avgAgg{sum: &sumNumAgg{}} }, types.Numeric, nil
		case types.OidFloat4, types.OidFloat8:
			return func() AggFunc { return &avgFloatAgg{} }, types.Float8, nil
		case types.OidInterval:
			return func() AggFunc { return &avgIntervalAgg{} }, types.Interval_, nil
		}
	case "min", "max":
		if t.Oid == types.OidUnknown {
			t = types.Text
		}
		if !comparable(t) {
			return notFound()
		}
		cmp := comparator(t)
		isMax := name == "max"
		return func() AggFunc { return &minMaxAgg{cmp: cmp, max: isMax} }, t, nil
	case "bool_and", "every", "bool_or":
		if t.Oid != types.OidBool {
			return notFound()
		}
		and := name != "bool_or"
		return func() AggFunc { return &boolAgg{and: and} }, types.Bool, nil
	case "json_agg", "jsonb_agg":
		jsonb := name == "jsonb_agg"
		ret := types.JSONType
		if jsonb {
			ret = types.JSONB
		}
		return func() AggFunc { return &jsonAgg{t: t, jsonb: jsonb} }, ret, nil
	case "array_agg":
		if t.Family() == types.ArrayFamily {
			return nil, types.T{}, pgerror.Unsupported("array_agg of arrays is not supported")
		}
		if t.Oid == types.OidUnknown {
			t = types.Text
		}
		at := types.ArrayOf(t)
		if at.Oid == types.OidUnknown {
			return notFound()
		}
		return func() AggFunc { return &arrayAgg{elem: t} }, at, nil
	}
	return notFound()
}

type countAgg struct {
	n    int64
	star bool
}

func (a *countAgg) Add(_ *Ctx, args []types.Datum) error {
	if a.star || len(args) > 0 && args[0] != nil {
		a.n++
	}
	return nil
}

func (a *countAgg) Result() (types.Datum, error) { return a.n, nil }

// sumIntAgg sums integers in an int64, moving to numeric on overflow.
type sumIntAgg struct {
	numeric bool // result is numeric (sum(int8), avg)
	any     bool
	n       int64
	i       int64
	big     *apd.Decimal
}

func (a *sumIntAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	x := args[0].(int64)
	a.any = true
	a.n++
	r := a.i + x
	if (a.i^r)&(x^r) < 0 {
		// Overflow: fold the running int64 into the numeric total.
		var err error
		if a.big, err = numAdd(a.bigOrZero(), decFromInt(a.i)); err != nil {
			return err
		}
		a.i = x
		return nil
	}
	a.i = r
	return nil
}

func (a *sumIntAgg) bigOrZero() *apd.Decimal {
	if a.big == nil {
		return decFromInt(0)
	}
	return a.big
}

func (a *sumIntAgg) total() (*apd.Decimal, error) {
	if a.big == nil {
		return decFromInt(a.i), nil
	}
	return numAdd(a.big, decFromInt(a.i))
}

func (a *sumIntAgg) Result() (types.Datum, error) {
	if !a.any {
		return nil, nil
	}
	if !a.numeric {
		if a.big != nil {
			return nil, errIntOutOfRange(types.OidInt8)
		}
		return a.i, nil
	}
	return decResult(a.total())
}

type sumNumAgg struct {
	n   int64
	sum *apd.Decimal
}

func (a *sumNumAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	a.n++
	if a.sum == nil {
		a.sum = args[0].(*apd.Decimal)
		return nil
	}
	s, err := numAdd(a.sum, args[0].(*apd.Decimal))
	a.sum = s
	return err
}

func (a *sumNumAgg) Result() (types.Datum, error) {
	if a.sum == nil {
		return nil, nil
	}
	return a.sum, nil
}

type sumFloatAgg struct {
	f4  bool
	any bool
	sum float64
}

func (a *sumFloatAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	x := args[0].(float64)
	a.any = true
	var r float64
	if a.f4 {
		r = float64(float32(a.sum) + float32(x))
	} else {
		r = a.sum + x
	}
	if math.IsInf(r, 0) && !math.IsInf(a.sum, 0) && !math.IsInf(x, 0) {
		return errFloatOverflow()
	}
	a.sum = r
	return nil
}

func (a *sumFloatAgg) Result() (types.Datum, error) {
	if !a.any {
		return nil, nil
	}
	return a.sum, nil
}

type sumIntervalAgg struct {
	any bool
	sum types.Interval
}

func (a *sumIntervalAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	r, err := intervalAdd(a.sum, args[0])
	if err != nil {
		return err
	}
	a.any, a.sum = true, r.(types.Interval)
	return nil
}

func (a *sumIntervalAgg) Result() (types.Datum, error) {
	if !a.any {
		return nil, nil
	}
	return a.sum, nil
}

// numericSum is what avg needs from a sum state.
type numericSum interface {
	AggFunc
	count() int64
	decimal() (*apd.Decimal, error)
}

func (a *sumIntAgg) count() int64                   { return a.n }
func (a *sumIntAgg) decimal() (*apd.Decimal, error) { return a.total() }
func (a *sumNumAgg) count() int64                   { return a.n }
func (a *sumNumAgg) decimal() (*apd.Decimal, error) { return a.sum, nil }

// avgAgg is avg over integers or numerics: numeric sum / count.
type avgAgg struct{ sum numericSum }

func (a *avgAgg) Add(c *Ctx, args []types.Datum) error { return a.sum.Add(c, args) }

func (a *avgAgg) Result() (types.Datum, error) {
	n := a.sum.count()
	if n == 0 {
		return nil, nil
	}
	s, err := a.sum.decimal()
	if err != nil {
		return nil, err
	}
	return decResult(numDiv(s, decFromInt(n)))
}

type avgFloatAgg struct {
	n   int64
	sum float64
}

func (a *avgFloatAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	a.n++
	a.sum += args[0].(float64)
	return nil
}

func (a *avgFloatAgg) Result() (types.Datum, error) {
	if a.n == 0 {
		return nil, nil
	}
	return a.sum / float64(a.n), nil
}

type avgIntervalAgg struct {
	n   int64
	sum sumIntervalAgg
}

func (a *avgIntervalAgg) Add(c *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	a.n++
	return a.sum.Add(c, args)
}

func (a *avgIntervalAgg) Result() (types.Datum, error) {
	if a.n == 0 {
		return nil, nil
	}
	return intervalDiv(a.sum.sum, float64(a.n))
}

type minMaxAgg struct {
	cmp  cmpFunc
	max  bool
	best types.Datum
}

func (a *minMaxAgg) Add(_ *Ctx, args []types.Datum) error {
	d := args[0]
	if d == nil {
		return nil
	}
	if a.best == nil {
		a.best = d
		return nil
	}
	if c := a.cmp(d, a.best); c != 0 && (c > 0) == a.max {
		a.best = d
	}
	return nil
}

func (a *minMaxAgg) Result() (types.Datum, error) { return a.best, nil }

type boolAgg struct {
	and, any, v bool
}

func (a *boolAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	b := args[0].(bool)
	if !a.any {
		a.any, a.v = true, b
		return nil
	}
	if a.and {
		a.v = a.v && b
	} else {
		a.v = a.v || b
	}
	return nil
}

func (a *boolAgg) Result() (types.Datum, error) {
	if !a.any {
		return nil, nil
	}
	return a.v, nil
}

// stringAgg is string_agg(value, delimiter): the delimiter of each row
// after the first precedes its value.
type stringAgg struct {
	bytes bool
	any   bool
	sb    strings.Builder
}

func (a *stringAgg) Add(_ *Ctx, args []types.Datum) error {
	if args[0] == nil {
		return nil
	}
	if a.any && args[1] != nil {
		if a.bytes {
			a.sb.Write(args[1].([]byte))
		} else {
			a.sb.WriteString(args[1].(string))
		}
	}
	a.any = true
	if a.bytes {
		a.sb.Write(args[0].([]byte))
	} else {
		a.sb.WriteString(args[0].(string))
	}
	return nil
}

func (a *stringAgg) Result() (types.Datum, error) {
	if !a.any {
		return nil, nil
	}
	if a.bytes {
		return []byte(a.sb.String()), nil
	}
	return a.sb.String(), nil
}

type arrayAgg struct {
	elem  types.T
	elems []types.Datum
	any   bool
}

func (a *arrayAgg) Add(_ *Ctx, args []types.Datum) error {
	a.any = true
	a.elems = append(a.elems, args[0])
	return nil
}

func (a *arrayAgg) Result() (types.Datum, error) {
	if !a.any {
		return nil, nil
	}
	return &types.Array{Elem: a.elem, Elems: a.elems}, nil
}

// distinctAgg keeps each distinct argument tuple once and, at the end,
// feeds them to inner in sorted order (NULLs last), as PostgreSQL's
// DISTINCT aggregates do: array_agg(DISTINCT x) is sorted.
type distinctAgg struct {
	inner  AggFunc
	types  []types.T
	seen   map[any]struct{}
	rows   [][]types.Datum
	ctx    *Ctx
	keyBuf []byte
}

func (a *distinctAgg) Add(c *Ctx, args []types.Datum) error {
	if a.seen == nil {
		a.seen = map[any]struct{}{}
	}
	a.ctx = c
	var k any
	if len(args) == 1 {
		if args[0] == nil {
			k = distinctNull{}
		} else {
			k = distinctKey(a.types[0], args[0], &a.keyBuf)
		}
	} else {
		var sb strings.Builder
		for i, d := range args {
			if d == nil {
				sb.WriteString("\x00N")
				continue
			}
			sb.WriteString("\x00V")
			sb.WriteString(keyString(distinctKey(a.types[i], d, &a.keyBuf)))
		}
		k = sb.String()
	}
	if _, dup := a.seen[k]; dup {
		return nil
	}
	a.seen[k] = struct{}{}
	a.rows = append(a.rows, append([]types.Datum(nil), args...))
	return nil
}

// distinctNull is the key of a NULL argument.
type distinctNull struct{}

func (a *distinctAgg) Result() (types.Datum, error) {
	cmps := make([]cmpFunc, len(a.types))
	for i, t := range a.types {
		if comparable(baseType(t)) {
			cmps[i] = comparator(baseType(t))
		}
	}
	sort.SliceStable(a.rows, func(i, j int) bool {
		for k, cmp := range cmps {
			x, y := a.rows[i][k], a.rows[j][k]
			switch {
			case x == nil && y == nil:
				continue
			case x == nil:
				return false
			case y == nil:
				return true
			case cmp == nil:
				continue
			}
			if c := cmp(x, y); c != 0 {
				return c < 0
			}
		}
		return false
	})
	for _, r := range a.rows {
		if err := a.inner.Add(a.ctx, r); err != nil {
			return nil, err
		}
	}
	a.rows = nil
	return a.inner.Result()
}

// distinctKey returns a comparable Go value that is equal for equal datums.
func distinctKey(t types.T, d types.Datum, buf *[]byte) any {
	switch v := d.(type) {
	case int64, bool, string:
		if t.Oid == types.OidBPChar {
			return strings.TrimRight(v.(string), " ")
		}
		return v
	case float64:
		if math.IsNaN(v) {
			return "NaN"
		}
		if v == 0 {
			return 0.0 // -0 equals 0
		}
		return v
	case *apd.Decimal:
		r := new(apd.Decimal)
		r.Reduce(v)
		return "d" + r.String()
	case time.Time:
		return v.UnixMicro()
	case types.Interval:
		// Equal intervals (1 day = 24 hours) share a key.
		days := int64(v.Months)*30 + int64(v.Days) + floorDiv64(v.Micros, usecsPerDay)
		return [2]int64{days, v.Micros - floorDiv64(v.Micros, usecsPerDay)*usecsPerDay}
	case []byte:
		return "b" + string(v)
	}
	*buf = types.AppendKey((*buf)[:0], t, d, false)
	return "k" + string(*buf)
}

func keyString(k any) string {
	switch v := k.(type) {
	case string:
		return v
	case int64:
		return itoa(v)
	case bool:
		if v {
			return "t"
		}
		return "f"
	case float64:
		return itoa(int64(math.Float64bits(v)))
	case [2]int64:
		return itoa(v[0]) + ":" + itoa(v[1])
	}
	return ""
}

// jsonAgg is json_agg / jsonb_agg: the values (NULLs as null) as a JSON
// array.
type jsonAgg struct {
	t     types.T
	jsonb bool
	v     *jval
}

func (a *jsonAgg) Add(_ *Ctx, args []types.Datum) error {
	if a.v == nil {
		a.v = &jval{kind: 'a'}
	}
	x, err := toJSONVal(a.t, args[0])
	if err != nil {
		return err
	}
	a.v.vals = append(a.v.vals, x)
	return nil
}

func (a *jsonAgg) Result() (types.Datum, error) {
	if a.v == nil {
		return nil, nil
	}
	if a.jsonb {
		return jsonOut(a.v, true), nil
	}
	var sb strings.Builder
	sb.WriteByte('[')
	for i, x := range a.v.vals {
		if i > 0 {
			sb.WriteString(", ")
		}
		x.writeJSON(&sb)
	}
	sb.WriteByte(']')
	return types.JSON(sb.String()), nil
}
