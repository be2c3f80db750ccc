package compat

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
)

// runPq is the lib/pq (github.com/lib/pq) client, through database/sql on
// one connection: parameters go as text with types left to the server
// (unnamed statements), results come back as text, and a query without
// parameters goes over the simple protocol.
func runPq(ctx context.Context, url string, tr *transcript) error {
	connector, err := pq.NewConnector(url)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if err := conn.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	tr.printf("connect: ok")

	const table = "compat_pq"
	// Left over by an interrupted run against a long-lived server.
	if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return fmt.Errorf("drop leftover table: %w", err)
	}
	if _, err := conn.ExecContext(ctx, createTypesTable(table)); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	tr.printf("create table: ok")
	defer conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table)

	insert := "INSERT INTO " + table + " (" + typesColumns + ") VALUES (" + placeholders(16) + ")"
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	tstz := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.FixedZone("+02", 2*3600))
	date := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	const text = `héllo wörld ✓ 'q' "dq" \ end`
	const uuid1 = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	const json1 = `{"c": "d", "a": [1, 2, {"b": null}]}`
	rows := [][]any{
		{1, int64(32767), int64(-2147483648), int64(9223372036854775807), 1.5, -3.141592653589793,
			"12345678901234567890.123456789", true, text, "varchar value",
			[]byte{0x00, 0x01, 0xfe, 0xff, 'a'}, date, ts, tstz, uuid1, json1},
		{2, int64(-32768), int64(0), int64(-1), -0.25, 1e300, "-0.5", false, "", "", []byte{}, epoch, epoch, epoch,
			"00000000-0000-0000-0000-000000000000", "[]"},
		{3, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	}
	for _, r := range rows {
		res, err := conn.ExecContext(ctx, insert, r...)
		if err != nil {
			return fmt.Errorf("insert id %d: %w", r[0], err)
		}
		n, _ := res.RowsAffected()
		tr.printf("insert id %d: %d row", r[0], n)
	}
	// Without parameters, over the simple protocol.
	res, err := conn.ExecContext(ctx, "INSERT INTO "+table+" ("+typesColumns+") VALUES "+
		`(11, 1, 2, 3, 4.5, 5.25, 6.125, true, 'simple', 'protocol', '\x0102', '2000-01-01', '2000-01-01 01:02:03', '2000-01-01 01:02:03+04', '`+uuid1+`', '{"k": [true]}'),`+
		`(12, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	if err != nil {
		return fmt.Errorf("insert without parameters: %w", err)
	}
	n, _ := res.RowsAffected()
	tr.printf("insert without parameters: %d rows", n)

	// Read everything back.
	if err := pqSelect(ctx, conn, tr, "select", "SELECT "+typesColumns+" FROM "+table+" ORDER BY id"); err != nil {
		return err
	}
	if err := pqSelect(ctx, conn, tr, "select with a parameter", "SELECT "+typesColumns+" FROM "+table+" WHERE id <= $1 ORDER BY id", 2); err != nil {
		return err
	}

	// Parameterized selects: every type as a text parameter in WHERE.
	for _, q := range []struct {
		col string
		arg any
	}{
		{"c_int2", 32767}, {"c_int4", 0}, {"c_int8", -1}, {"c_float4", 1.5}, {"c_float8", 1e300},
		{"c_numeric", "12345678901234567890.123456789"}, {"c_bool", false}, {"c_text", text}, {"c_varchar", ""},
		{"c_bytea", []byte{0x00, 0x01, 0xfe, 0xff, 'a'}}, {"c_date", "2024-02-29"}, {"c_timestamp", ts},
		{"c_timestamptz", tstz}, {"c_uuid", uuid1}, {"c_jsonb", `{"a": [1, 2, {"b": null}], "c": "d"}`},
	} {
		rs, err := conn.QueryContext(ctx, "SELECT id FROM "+table+" WHERE "+q.col+" = $1 ORDER BY id", q.arg)
		if err != nil {
			return fmt.Errorf("where %s = $1: %w", q.col, err)
		}
		var ids []int
		for rs.Next() {
			var id int
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return fmt.Errorf("where %s = $1: %w", q.col, err)
			}
			ids = append(ids, id)
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("where %s = $1: %w", q.col, err)
		}
		tr.printf("where %s = $1: ids %v", q.col, ids)
	}

	// A prepared statement reused.
	stmt, err := conn.PrepareContext(ctx, "INSERT INTO "+table+" (id, c_text, c_numeric) VALUES ($1, $2, $3)")
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	for i := range 3 {
		if _, err := stmt.ExecContext(ctx, 100+i, fmt.Sprintf("prepared %d", i), fmt.Sprintf("%d.5", i)); err != nil {
			stmt.Close()
			return fmt.Errorf("execute prepared #%d: %w", i, err)
		}
		tr.printf("execute prepared: id %d", 100+i)
	}
	_, err = stmt.ExecContext(ctx, 100, "again", "0")
	if err := tr.expectError("execute prepared with a duplicate key", err, "23505"); err != nil {
		stmt.Close()
		return err
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("close prepared: %w", err)
	}

	// A transaction rolled back, then one committed.
	count := func(where string) (int, error) {
		var n int
		err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+where).Scan(&n)
		return n, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", 400, "rolled back"); err != nil {
		tx.Rollback()
		return fmt.Errorf("insert in transaction: %w", err)
	}
	var inside int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE id = 400").Scan(&inside); err != nil {
		tx.Rollback()
		return fmt.Errorf("select in transaction: %w", err)
	}
	tr.printf("inside the transaction: %d row", inside)
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	after, err := count("id = 400")
	if err != nil {
		return fmt.Errorf("select after rollback: %w", err)
	}
	tr.printf("after rollback: %d rows", after)
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", 401, "committed"); err != nil {
		tx.Rollback()
		return fmt.Errorf("insert in transaction: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	after, err = count("id = 401")
	if err != nil {
		return fmt.Errorf("select after commit: %w", err)
	}
	tr.printf("after commit: %d row", after)

	// Errors leave the connection usable.
	_, err = conn.ExecContext(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", 1)
	if err := tr.expectError("duplicate key", err, "23505"); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "INSERT INTO "+table+" (id, c_int2) VALUES (9, 99999)")
	if err := tr.expectError("out of range without parameters", err, "22003"); err != nil {
		return err
	}
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", 1)
	if err := tr.expectError("duplicate key in a transaction", err, "23505"); err != nil {
		tx.Rollback()
		return err
	}
	_, err = tx.ExecContext(ctx, "SELECT 1")
	if err := tr.expectError("statement in the failed transaction", err, "25P02"); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("rollback of the failed transaction: %w", err)
	}
	all, err := count("true")
	if err != nil {
		return fmt.Errorf("select after the errors: %w", err)
	}
	tr.printf("after the errors: %d rows", all)
	if _, err := conn.ExecContext(ctx, "DROP TABLE "+table); err != nil {
		return fmt.Errorf("drop table: %w", err)
	}
	tr.printf("drop table: ok")
	return nil
}

// pqSelect runs a query and records its column types and rows.
func pqSelect(ctx context.Context, conn *sql.Conn, tr *transcript, step, query string, args ...any) error {
	rs, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	defer rs.Close()
	cts, err := rs.ColumnTypes()
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	var names []string
	for _, ct := range cts {
		names = append(names, ct.Name()+":"+ct.DatabaseTypeName())
	}
	tr.printf("%s columns: %s", step, strings.Join(names, " "))
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: %w", step, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			// lib/pq returns the text of types it does not decode
			// (numeric, uuid, jsonb) as []byte; bytea is decoded.
			if b, ok := v.([]byte); ok && cts[i].DatabaseTypeName() != "BYTEA" {
				parts[i] = fmt.Sprintf("text(%q)", b)
				continue
			}
			if b, ok := v.([]byte); ok {
				parts[i] = "bytea(" + hex.EncodeToString(b) + ")"
				continue
			}
			parts[i] = formatValue(v)
		}
		tr.printf("  %s", strings.Join(parts, " "))
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	return nil
}
