package expr

import (
	"strings"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// jsonOp builds the json/jsonb operators -> ->> #> #>> @> <@ ? ?| ?&.
func (b *Builder) jsonOp(op string, l, r Expr, loc int32) (Expr, error) {
	lt := l.Type()
	var err error
	if lt.Oid == types.OidUnknown {
		if r.Type().Family() == types.JSONFamily && (op == "@>" || op == "<@") {
			if l, err = b.coerce(l, r.Type(), castImplicit, loc); err != nil {
				return nil, err
			}
			lt = l.Type()
		} else {
			return nil, errOperatorNotUnique(op, lt, r.Type(), loc)
		}
	}
	if lt.Family() != types.JSONFamily {
		return nil, errNoOperator(op, lt, r.Type(), loc)
	}
	jsonb := lt.Oid == types.OidJSONB
	rt := r.Type()
	var ret types.T
	var fn binFn
	switch op {
	case "->", "->>":
		asText := op == "->>"
		ret = lt
		if asText {
			ret = types.Text
		}
		if rt.Family() == types.IntFamily {
			if r, err = b.coerce(r, types.Int4, castImplicit, loc); err != nil {
				return nil, err
			}
			fn = func(a, b types.Datum) (types.Datum, error) {
				v, err := parseJSON(string(a.(types.JSON)))
				if err != nil {
					return nil, err
				}
				return jsonResult(v.index(b.(int64)), jsonb, asText), nil
			}
		} else {
			if r, err = b.coerceTo(r, types.Text, op, lt, loc); err != nil {
				return nil, err
			}
			fn = func(a, b types.Datum) (types.Datum, error) {
				v, err := parseJSON(string(a.(types.JSON)))
				if err != nil {
					return nil, err
				}
				return jsonResult(v.field(b.(string)), jsonb, asText), nil
			}
		}
	case "#>", "#>>":
		asText := op == "#>>"
		ret = lt
		if asText {
			ret = types.Text
		}
		if r, err = b.coerceTo(r, types.TextArray, op, lt, loc); err != nil {
			return nil, err
		}
		fn = func(a, b types.Datum) (types.Datum, error) {
			v, err := parseJSON(string(a.(types.JSON)))
			if err != nil {
				return nil, err
			}
			return jsonResult(jsonPath(v, b.(*types.Array)), jsonb, asText), nil
		}
	case "@>", "<@":
		if !jsonb {
			return nil, errNoOperator(op, lt, rt, loc)
		}
		if r, err = b.coerceTo(r, types.JSONB, op, lt, loc); err != nil {
			return nil, err
		}
		ret = types.Bool
		contained := op == "<@"
		fn = func(a, b types.Datum) (types.Datum, error) {
			x, err := parseJSON(string(a.(types.JSON)))
			if err != nil {
				return nil, err
			}
			y, err := parseJSON(string(b.(types.JSON)))
			if err != nil {
				return nil, err
			}
			if contained {
				x, y = y, x
			}
			return x.contains(y, true), nil
		}
	case "?", "?|", "?&":
		if !jsonb {
			return nil, errNoOperator(op, lt, rt, loc)
		}
		ret = types.Bool
		if op == "?" {
			if r, err = b.coerceTo(r, types.Text, op, lt, loc); err != nil {
				return nil, err
			}
			fn = func(a, b types.Datum) (types.Datum, error) {
				v, err := parseJSON(string(a.(types.JSON)))
				if err != nil {
					return nil, err
				}
				return jsonHasKey(v, b.(string)), nil
			}
			break
		}
		if r, err = b.coerceTo(r, types.TextArray, op, lt, loc); err != nil {
			return nil, err
		}
		all := op == "?&"
		fn = func(a, b types.Datum) (types.Datum, error) {
			v, err := parseJSON(string(a.(types.JSON)))
			if err != nil {
				return nil, err
			}
			for _, k := range b.(*types.Array).Elems {
				if k == nil {
					continue
				}
				if jsonHasKey(v, k.(string)) != all {
					return !all, nil
				}
			}
			return all, nil
		}
	default:
		return nil, errNoOperator(op, lt, rt, loc)
	}
	return fold(&binExpr{op: op, l: l, r: r, t: ret, fn: fn, strict: true}), nil
}

// coerceTo converts the right operand of a json operator to t, reporting a
// missing operator otherwise.
func (b *Builder) coerceTo(e Expr, t types.T, op string, lt types.T, loc int32) (Expr, error) {
	et := e.Type()
	if et.Oid == t.Oid || et.Oid == types.OidUnknown || castContext(et, t) == castImplicit {
		return b.coerce(e, t, castImplicit, loc)
	}
	return nil, errNoOperator(op, lt, et, loc)
}

func jsonResult(v *jval, jsonb, asText bool) types.Datum {
	if v == nil {
		return nil
	}
	if asText {
		return textOfJSON(v, jsonb)
	}
	return asJSON(v, jsonb)
}

// jsonPath follows #> path elements: object keys, or array indexes.
func jsonPath(v *jval, path *types.Array) *jval {
	for _, p := range path.Elems {
		if p == nil || v == nil {
			return nil
		}
		k := p.(string)
		switch v.kind {
		case 'o':
			v = v.field(k)
		case 'a':
			i, err := parseIntStrict(k)
			if err != nil {
				return nil
			}
			v = v.index(i)
		default:
			return nil
		}
	}
	return v
}

func parseIntStrict(s string) (int64, error) {
	var n int64
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if s == "" {
		return 0, errJSONSyntax(s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errJSONSyntax(s)
		}
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// jsonHasKey is jsonb ?: a top-level key, or a string element of a
// top-level array.
func jsonHasKey(v *jval, k string) bool {
	switch v.kind {
	case 'o':
		return v.field(k) != nil
	case 'a':
		for _, x := range v.vals {
			if x.kind == 's' && x.str == k {
				return true
			}
		}
	case 's':
		return v.str == k
	}
	return false
}

// jsonbConcat is jsonb || jsonb: objects merge (right wins), otherwise
// arrays concatenate (a scalar or object counts as a one-element array).
func jsonbConcat(a, b types.Datum) (types.Datum, error) {
	x, err := parseJSON(string(a.(types.JSON)))
	if err != nil {
		return nil, err
	}
	y, err := parseJSON(string(b.(types.JSON)))
	if err != nil {
		return nil, err
	}
	var r *jval
	if x.kind == 'o' && y.kind == 'o' {
		r = &jval{kind: 'o', keys: append(append([]string{}, x.keys...), y.keys...), vals: append(append([]*jval{}, x.vals...), y.vals...)}
	} else {
		r = &jval{kind: 'a'}
		for _, v := range []*jval{x, y} {
			if v.kind == 'a' {
				r.vals = append(r.vals, v.vals...)
			} else {
				r.vals = append(r.vals, v)
			}
		}
	}
	r.normalize()
	return r.jsonbText(), nil
}

var (
	jsonT  = types.JSONType
	jsonbT = types.JSONB
)

// jsonFuncs are the json and jsonb functions.
var jsonFuncs = map[string][]overload{
	"jsonb_build_object":      {fN(jsonbT, ts(types.Any), nil).variadic_().lax_().bind_(bindBuildObject(true)), constJSON(jsonbT, "{}")},
	"json_build_object":       {fN(jsonT, ts(types.Any), nil).variadic_().lax_().bind_(bindBuildObject(false)), constJSON(jsonT, "{}")},
	"jsonb_build_array":       {fN(jsonbT, ts(types.Any), nil).variadic_().lax_().bind_(bindBuildArray(true)), constJSON(jsonbT, "[]")},
	"json_build_array":        {fN(jsonT, ts(types.Any), nil).variadic_().lax_().bind_(bindBuildArray(false)), constJSON(jsonT, "[]")},
	"to_jsonb":                {f1(jsonbT, anyElement, nil).bind_(bindToJSON(true))},
	"to_json":                 {f1(jsonT, anyElement, nil).bind_(bindToJSON(false))},
	"jsonb_typeof":            {f1(text, jsonbT, jsonTypeof)},
	"json_typeof":             {f1(text, jsonT, jsonTypeof)},
	"jsonb_array_length":      {f1(int4, jsonbT, jsonArrayLength)},
	"json_array_length":       {f1(int4, jsonT, jsonArrayLength)},
	"jsonb_extract_path":      {fN(jsonbT, ts(jsonbT, types.Text), extractPath(true, false)).variadic_()},
	"json_extract_path":       {fN(jsonT, ts(jsonT, types.Text), extractPath(false, false)).variadic_()},
	"jsonb_extract_path_text": {fN(text, ts(jsonbT, types.Text), extractPath(true, true)).variadic_()},
	"json_extract_path_text":  {fN(text, ts(jsonT, types.Text), extractPath(false, true)).variadic_()},
}

func jsonTypeof(_ *Ctx, a types.Datum) (types.Datum, error) {
	v, err := parseJSON(string(a.(types.JSON)))
	if err != nil {
		return nil, err
	}
	switch v.kind {
	case 'o':
		return "object", nil
	case 'a':
		return "array", nil
	case 's':
		return "string", nil
	case 'n':
		return "number", nil
	case 't', 'f':
		return "boolean", nil
	}
	return "null", nil
}

func jsonArrayLength(_ *Ctx, a types.Datum) (types.Datum, error) {
	v, err := parseJSON(string(a.(types.JSON)))
	if err != nil {
		return nil, err
	}
	if v.kind != 'a' {
		if v.kind == 'o' {
			return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot get array length of a non-array")
		}
		return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "cannot get array length of a scalar")
	}
	return int64(len(v.vals)), nil
}

func extractPath(jsonb, asText bool) fnN {
	return func(_ *Ctx, a []types.Datum) (types.Datum, error) {
		v, err := parseJSON(string(a[0].(types.JSON)))
		if err != nil {
			return nil, err
		}
		return jsonResult(jsonPath(v, &types.Array{Elem: types.Text, Elems: a[1:]}), jsonb, asText), nil
	}
}

func bindToJSON(jsonb bool) func(args []Expr) (impl, error) {
	return func(args []Expr) (impl, error) {
		t := args[0].Type()
		return impl{f1: func(_ *Ctx, a types.Datum) (types.Datum, error) {
			v, err := toJSONVal(t, a)
			if err != nil {
				return nil, err
			}
			return jsonOut(v, jsonb), nil
		}}, nil
	}
}

func jsonOut(v *jval, jsonb bool) types.Datum {
	if jsonb {
		v.normalize()
		return v.jsonbText()
	}
	var sb strings.Builder
	v.writeJSON(&sb)
	return types.JSON(sb.String())
}

func bindBuildObject(jsonb bool) func(args []Expr) (impl, error) {
	return func(args []Expr) (impl, error) {
		if len(args)%2 != 0 {
			return impl{}, pgerror.New(pgerror.CodeInvalidParameterValue, "argument list must have even number of elements").
				WithHint("The arguments of %s must consist of alternating keys and values.", map[bool]string{true: "jsonb_build_object()", false: "json_build_object()"}[jsonb])
		}
		ts := argTypes(args)
		return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
			v := &jval{kind: 'o'}
			for i := 0; i < len(ds); i += 2 {
				if ds[i] == nil {
					return nil, pgerror.New(pgerror.CodeNullValueNotAllowed, "argument %d cannot be null", i+1).
						WithHint("Object keys should be text.")
				}
				x, err := toJSONVal(ts[i+1], ds[i+1])
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, datumText(ts[i], ds[i]))
				v.vals = append(v.vals, x)
			}
			return jsonOut(v, jsonb), nil
		}}, nil
	}
}

func bindBuildArray(jsonb bool) func(args []Expr) (impl, error) {
	return func(args []Expr) (impl, error) {
		ts := argTypes(args)
		return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
			v := &jval{kind: 'a'}
			for i, d := range ds {
				x, err := toJSONVal(ts[i], d)
				if err != nil {
					return nil, err
				}
				v.vals = append(v.vals, x)
			}
			if jsonb {
				return jsonOut(v, true), nil
			}
			// json_build_array separates elements with ", ".
			var sb strings.Builder
			sb.WriteByte('[')
			for i, x := range v.vals {
				if i > 0 {
					sb.WriteString(", ")
				}
				x.writeJSON(&sb)
			}
			sb.WriteByte(']')
			return types.JSON(sb.String()), nil
		}}, nil
	}
}

// constJSON is a zero-argument builder: json_build_object() is {}.
func constJSON(t types.T, s string) overload {
	return f0(t, func(*Ctx) (types.Datum, error) { return types.JSON(s), nil })
}
