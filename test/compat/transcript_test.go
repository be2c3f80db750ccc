package compat

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/lib/pq"
)

// The Go clients (pgx, lib/pq) write the same kind of transcript as the
// node and Python programs: one line per step, with every value printed
// with its Go type, so that a server that answers with another type (an
// int8 where PostgreSQL has int4, text where it has a date) shows up in
// the diff even when the digits agree.

// typesColumns are the columns of every client's table: one per supported
// type, each nullable.
const typesColumns = "id, c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_bool, c_text, c_varchar, c_bytea, c_date, c_timestamp, c_timestamptz, c_uuid, c_jsonb"

// createTypesTable is the DDL of a client's table.
func createTypesTable(name string) string {
	return "CREATE TABLE " + name + ` (
		id int4 PRIMARY KEY,
		c_int2 int2, c_int4 int4, c_int8 int8,
		c_float4 float4, c_float8 float8, c_numeric numeric,
		c_bool bool, c_text text, c_varchar varchar(40), c_bytea bytea,
		c_date date, c_timestamp timestamp, c_timestamptz timestamptz,
		c_uuid uuid, c_jsonb jsonb)`
}

// placeholders returns "$1, $2, ..., $n".
func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(ps, ", ")
}

// transcript collects a client's observations.
type transcript struct{ b strings.Builder }

func (t *transcript) printf(format string, args ...any) {
	fmt.Fprintf(&t.b, format, args...)
	t.b.WriteByte('\n')
}

func (t *transcript) String() string { return t.b.String() }

// sqlState returns the SQLSTATE of a driver error ("" if it has none).
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return string(pqErr.Code)
	}
	return ""
}

// expectError records an error that a step must produce: a server error
// with SQLSTATE code. Anything else (no error, another code, a broken
// connection) is returned as the client's failure.
func (t *transcript) expectError(step string, err error, code string) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded; want SQLSTATE %s", step, code)
	}
	if got := sqlState(err); got != code {
		return fmt.Errorf("%s: %v (SQLSTATE %q); want SQLSTATE %s", step, err, got, code)
	}
	t.printf("%s: error %s", step, code)
	return nil
}

// formatValue prints a value a Go driver returned, with its type, in a
// form that does not depend on the test machine (times in UTC, maps with
// sorted keys).
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return fmt.Sprintf("time.Time(%s)", x.UTC().Format("2006-01-02 15:04:05.999999999 MST"))
	case []byte:
		return fmt.Sprintf("[]byte(%s)", hex.EncodeToString(x))
	case [16]byte:
		return fmt.Sprintf("[16]byte(%x-%x-%x-%x-%x)", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case pgtype.Numeric:
		s, err := x.Value()
		if err != nil {
			return fmt.Sprintf("pgtype.Numeric(error %v)", err)
		}
		return fmt.Sprintf("pgtype.Numeric(%v)", s)
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprintf("%T(error %v)", x, err)
		}
		return fmt.Sprintf("%T(%s)", x, b)
	case string:
		return fmt.Sprintf("string(%q)", x)
	default:
		return fmt.Sprintf("%T(%v)", v, v)
	}
}

// formatRow prints one row of values.
func formatRow(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = formatValue(v)
	}
	return strings.Join(parts, " ")
}
