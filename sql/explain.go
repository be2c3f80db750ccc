package sql

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/sql/types"
)

// planExplain plans EXPLAIN: the operator tree, and for every table read
// or written, how it is reached and which ranges and nodes that touches.
func (p *planner) planExplain(s *pg_query.ExplainStmt) (plan, error) {
	for _, o := range s.Options {
		if de := o.GetDefElem(); de != nil && strings.EqualFold(de.Defname, "analyze") {
			if v, err := setArg(de.Arg); de.Arg == nil || (err == nil && v != "off" && v != "false") {
				return nil, pgerror.Unsupported("EXPLAIN ANALYZE is not supported yet")
			}
		}
	}
	inner, err := p.se.planStatement(p.cat, s.Query, p.params)
	if err != nil {
		return nil, err
	}
	return &sessionPlan{tag: "EXPLAIN", cols: []resultCol{{name: "QUERY PLAN", typ: types.Text}}, rowFn: func(e *execCtx) ([]row, error) {
		var lines []string
		explainPlan(e, inner, &lines)
		out := make([]row, len(lines))
		for i, l := range lines {
			out[i] = row{l}
		}
		return out, nil
	}}, nil
}

func explainPlan(e *execCtx, pl plan, lines *[]string) {
	add := func(depth int, format string, args ...any) {
		*lines = append(*lines, strings.Repeat("  ", depth)+fmt.Sprintf(format, args...))
	}
	switch x := pl.(type) {
	case *queryPlan:
		explainRel(e, x.root, 0, add)
	case *insertPlan:
		kind := "single-range (1PC) when every row and index entry falls in one range"
		if hasGlobal(x) {
			kind = "cross-range transaction: the table has global indexes"
		}
		add(0, "Insert on %s (%s)", x.t.Name, kind)
		explainRel(e, x.source, 1, add)
	case *updatePlan:
		add(0, "Update on %s", x.scan.table.Name)
		explainRel(e, x.scan, 1, add)
	case *deletePlan:
		add(0, "Delete on %s", x.scan.table.Name)
		explainRel(e, x.scan, 1, add)
	default:
		add(0, "Utility statement")
	}
}

func hasGlobal(ip *insertPlan) bool {
	for _, ix := range ip.t.Indexes {
		if ix.Global {
			return true
		}
	}
	return false
}

func explainRel(e *execCtx, r rel, depth int, add func(int, string, ...any)) {
	switch x := r.(type) {
	case *scanRel:
		add(depth, "%s", x.describe())
		if x.filter != nil {
			add(depth+1, "Filter: yes")
		}
		if x.push != nil && (!x.push.agg || !pushdownOn(e)) {
			if d := describePush(e, x, nil); d != "" {
				add(depth+1, "%s", d)
			}
		}
		add(depth+1, "%s", scanRanges(e, x))
	case *filterRel:
		add(depth, "Filter")
		explainRel(e, x.in, depth+1, add)
	case *projectRel:
		explainRel(e, x.in, depth, add)
	case *aliasRel:
		explainRel(e, x.in, depth, add)
	case *joinRel:
		kind := map[joinKind]string{joinInner: "Inner", joinLeft: "Left", joinRight: "Right", joinFull: "Full"}[x.kind]
		method := "Nested Loop"
		if len(x.leftKey) > 0 {
			method = "Hash Join"
		}
		add(depth, "%s (%s) at the gateway", method, kind)
		explainRel(e, x.left, depth+1, add)
		explainRel(e, x.right, depth+1, add)
	case *aggRel:
		if s := x.push; s != nil && pushdownOn(e) {
			add(depth, "Aggregate (%d group key(s), %d aggregate(s)) at the gateway, merging partial aggregates of the ranges", len(x.groups), len(x.aggs))
			add(depth+1, "%s", s.describe())
			if s.filter != nil {
				add(depth+2, "Filter: yes")
			}
			add(depth+2, "%s", describePush(e, s, x))
			add(depth+2, "%s", scanRanges(e, s))
			break
		}
		add(depth, "Aggregate (%d group key(s), %d aggregate(s)) at the gateway", len(x.groups), len(x.aggs))
		explainRel(e, x.in, depth+1, add)
	case *sortRel:
		add(depth, "Sort")
		explainRel(e, x.in, depth+1, add)
	case *limitRel:
		add(depth, "Limit")
		explainRel(e, x.in, depth+1, add)
	case *distinctRel:
		add(depth, "Unique")
		explainRel(e, x.in, depth+1, add)
	case *setOpRel:
		add(depth, "SetOp %s", strings.ToUpper(x.op))
		explainRel(e, x.left, depth+1, add)
		explainRel(e, x.right, depth+1, add)
	case *valuesRel:
		add(depth, "Values (%d row(s))", len(x.exprs))
	case *funcRel:
		add(depth, "Function Scan")
	default:
		add(depth, "%T", r)
	}
}

// scanRanges says which ranges and nodes a scan touches.
func scanRanges(e *execCtx, s *scanRel) string {
	kvc := e.se.srv.cfg.KV
	t := s.table
	if s.kind == accessPoint {
		var descs []*kvpb.RangeDescriptor
		for _, tuple := range s.points {
			vals := make([]types.Datum, len(tuple))
			known := true
			for j, x := range tuple {
				c, ok := x.(*expr.Const)
				if !ok {
					known = false
					break
				}
				vals[j] = c.D
			}
			if !known {
				return "ranges: one range per key, chosen at execution from the parameters"
			}
			pk := t.PrimaryIndex()
			var shard types.Datum
			for j, id := range pk.Columns {
				if id == t.ShardColumn {
					shard = vals[j]
				}
			}
			sc := t.ColumnByID(t.ShardColumn)
			d, err := kvc.LookupRange(e.ctx, rowenc.PointKey(t, rowenc.ShardHash(sc.Type, shard), vals))
			if err != nil {
				return "ranges: unknown (" + err.Error() + ")"
			}
			descs = append(descs, d)
		}
		return describeRanges(descs)
	}
	start, end := rowenc.DatabaseSpan(t.DB)
	var descs []*kvpb.RangeDescriptor
	for k := start; string(k) < string(end); {
		d, err := kvc.LookupRange(e.ctx, k)
		if err != nil {
			return "ranges: unknown (" + err.Error() + ")"
		}
		descs = append(descs, d)
		if len(d.EndKey) == 0 {
			break
		}
		k = d.EndKey
	}
	if s.kind == accessShard || s.kind == accessIndex {
		col := t.ColumnByID(t.ShardColumn)
		if s.kind == accessIndex {
			col = t.ColumnByID(s.index.Columns[0])
		}
		var hit []*kvpb.RangeDescriptor
		for _, x := range s.shardVals {
			c, ok := x.(*expr.Const)
			if !ok {
				return fmt.Sprintf("ranges: one per value, chosen at execution from the parameters, among %d", len(descs))
			}
			d, ok := keyValue(c.D, c.T, col.Type)
			if !ok {
				continue
			}
			d2, err := kvc.LookupRange(e.ctx, rowenc.HashPrefix(t.DB, rowenc.ShardHash(col.Type, d)))
			if err != nil {
				return "ranges: unknown (" + err.Error() + ")"
			}
			hit = append(hit, d2)
		}
		if s.kind == accessIndex {
			return describeRanges(hit) + " for the index, then the rows' ranges"
		}
		return describeRanges(hit)
	}
	return describeRanges(descs)
}

func describeRanges(descs []*kvpb.RangeDescriptor) string {
	seen := map[uint64]bool{}
	var parts []string
	for _, d := range descs {
		if seen[d.RangeId] {
			continue
		}
		seen[d.RangeId] = true
		var nodes []string
		for _, r := range d.Replicas {
			nodes = append(nodes, fmt.Sprintf("n%d", r.NodeId))
		}
		parts = append(parts, fmt.Sprintf("r%d on %s", d.RangeId, strings.Join(nodes, ",")))
	}
	kind := "single range"
	if len(parts) == 0 {
		return "ranges: none"
	}
	if len(parts) > 1 {
		kind = fmt.Sprintf("fan-out to %d ranges", len(parts))
	}
	return fmt.Sprintf("ranges: %s: %s", kind, strings.Join(parts, "; "))
}
