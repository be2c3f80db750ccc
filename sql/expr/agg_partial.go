package expr

import (
	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/types"
)

// Partial is implemented by the states of aggregates that can be computed
// in pieces (at the ranges of a distributed scan) and merged (at the
// gateway) with exactly the result of one state fed every row: count, sum
// and avg over integers and numerics, min and max. State returns the state
// as datums of the types PartialTypes gives; Merge folds in the State of
// another state of the same aggregate. Result is then called as usual.
type Partial interface {
	AggFunc
	State() []types.Datum
	Merge(state []types.Datum) error
}

// PartialTypes returns the types of the state of aggregate name over
// argTypes (resolved as NewAggregate does, without DISTINCT) when its
// states merge exactly; ok is false otherwise. Float sums and averages
// depend on the order of the additions, and string_agg, array_agg and
// json_agg on the order of the rows, so they are not mergeable; DISTINCT,
// FILTER and ORDER BY inside the call are for the caller to refuse.
func PartialTypes(name string, argTypes []types.T, star bool) (state []types.T, ok bool) {
	if star {
		if name == "count" {
			return []types.T{types.Int8}, true
		}
		return nil, false
	}
	if len(argTypes) != 1 {
		return nil, false
	}
	t := baseType(argTypes[0])
	switch name {
	case "count":
		return []types.T{types.Int8}, true
	case "sum", "avg":
		switch t.Oid {
		case types.OidInt2, types.OidInt4, types.OidInt8, types.OidNumeric:
			return []types.T{types.Numeric, types.Int8}, true
		}
	case "min", "max":
		if t.Oid == types.OidUnknown {
			t = types.Text
		}
		if comparable(t) {
			return []types.T{t}, true
		}
	}
	return nil, false
}

// count(*), count(x): the number of rows counted.

func (a *countAgg) State() []types.Datum { return []types.Datum{a.n} }

func (a *countAgg) Merge(s []types.Datum) error {
	a.n += s[0].(int64)
	return nil
}

// sum and avg over integers: the exact total (NULL before any row) and the
// number of rows added.

func (a *sumIntAgg) State() []types.Datum {
	if !a.any {
		return []types.Datum{nil, a.n}
	}
	t, err := a.total()
	if err != nil {
		return []types.Datum{nil, a.n}
	}
	return []types.Datum{t, a.n}
}

func (a *sumIntAgg) Merge(s []types.Datum) error {
	a.n += s[1].(int64)
	if s[0] == nil {
		return nil
	}
	mine, err := a.total()
	if err != nil {
		return err
	}
	sum, err := numAdd(mine, s[0].(*apd.Decimal))
	if err != nil {
		return err
	}
	a.any = true
	// Keep the running total in the int64 while it fits, as Add does; a
	// total beyond it is an overflow for sum(int2/int4) (Result says so).
	if i, err := sum.Int64(); err == nil {
		a.i, a.big = i, nil
	} else {
		a.i, a.big = 0, sum
	}
	return nil
}

// sum and avg over numerics: the total (NULL before any row) and the
// number of rows added.

func (a *sumNumAgg) State() []types.Datum {
	if a.sum == nil {
		return []types.Datum{nil, a.n}
	}
	return []types.Datum{a.sum, a.n}
}

func (a *sumNumAgg) Merge(s []types.Datum) error {
	a.n += s[1].(int64)
	if s[0] == nil {
		return nil
	}
	if a.sum == nil {
		a.sum = s[0].(*apd.Decimal)
		return nil
	}
	sum, err := numAdd(a.sum, s[0].(*apd.Decimal))
	a.sum = sum
	return err
}

func (a *avgAgg) State() []types.Datum {
	return a.sum.(Partial).State()
}

func (a *avgAgg) Merge(s []types.Datum) error {
	return a.sum.(Partial).Merge(s)
}

// min and max: the best value so far (NULL before any row).

func (a *minMaxAgg) State() []types.Datum { return []types.Datum{a.best} }

func (a *minMaxAgg) Merge(s []types.Datum) error { return a.Add(nil, s) }

var (
	_ Partial = (*countAgg)(nil)
	_ Partial = (*sumIntAgg)(nil)
	_ Partial = (*sumNumAgg)(nil)
	_ Partial = (*avgAgg)(nil)
	_ Partial = (*minMaxAgg)(nil)
)
