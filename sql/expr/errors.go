package expr

import (
	"errors"
	"strings"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// withPos sets the error position (1-based) from a parse location (0-based,
// -1 when unknown) unless the error already has one.
func withPos(err error, loc int32) error {
	if err == nil || loc < 0 {
		return err
	}
	var pe *pgerror.Error
	if errors.As(err, &pe) && pe.Position == 0 {
		pe.Position = loc + 1
	}
	return err
}

func errAt(err *pgerror.Error, loc int32) error {
	if loc >= 0 {
		err.Position = loc + 1
	}
	return err
}

// typeNames joins the SQL names of ts for messages: "integer, text".
func typeNames(ts []types.T) string {
	var sb strings.Builder
	for i, t := range ts {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(typeName(t))
	}
	return sb.String()
}

func errNoFunction(name string, args []types.T, loc int32) error {
	return errAt(pgerror.New(pgerror.CodeUndefinedFunction, "function %s(%s) does not exist", name, typeNames(args)).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), loc)
}

func errNoOperator(op string, l, r types.T, loc int32) error {
	var s string
	switch {
	case l == types.T{}:
		s = op + " " + typeName(r)
	default:
		s = typeName(l) + " " + op + " " + typeName(r)
	}
	return errAt(pgerror.New(pgerror.CodeUndefinedFunction, "operator does not exist: %s", s).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts."), loc)
}

func errOperatorNotUnique(op string, l, r types.T, loc int32) error {
	var s string
	if l == (types.T{}) {
		s = op + " " + typeName(r)
	} else {
		s = typeName(l) + " " + op + " " + typeName(r)
	}
	return errAt(pgerror.New(pgerror.CodeAmbiguousFunction, "operator is not unique: %s", s).
		WithHint("Could not choose a best candidate operator. You might need to add explicit type casts."), loc)
}

func errIntOutOfRange(oid types.Oid) error {
	switch oid {
	case types.OidInt2:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "smallint out of range")
	case types.OidInt8:
		return pgerror.New(pgerror.CodeNumericValueOutOfRange, "bigint out of range")
	}
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "integer out of range")
}

func errFloatOverflow() error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: overflow")
}

func errFloatUnderflow() error {
	return pgerror.New(pgerror.CodeNumericValueOutOfRange, "value out of range: underflow")
}

func errUnsupported(what string, loc int32) error {
	return errAt(pgerror.Unsupported("%s is not supported", what), loc)
}
