package compat

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// runPgx is the pgx (github.com/jackc/pgx/v5) client: it connects to url
// and writes what it sees to tr. It exercises the three ways pgx talks to
// a server: named prepared statements with binary parameters and results
// for the types pgx knows (the default, QueryExecModeCacheStatement),
// the unnamed statement with text parameters typed by the client
// (QueryExecModeExec), and client-side interpolation over the simple
// protocol (QueryExecModeSimpleProtocol); plus an explicit prepared
// statement reused with different parameters and batches (pipelines).
func runPgx(ctx context.Context, url string, tr *transcript) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, isTLS := conn.PgConn().Conn().(*tls.Conn)
	tr.printf("connect: tls=%v", isTLS)
	pc := conn.PgConn()
	major, _, _ := strings.Cut(pc.ParameterStatus("server_version"), ".")
	tr.printf("parameters: server_version major=%s client_encoding=%s DateStyle=%s TimeZone=%s integer_datetimes=%s standard_conforming_strings=%s",
		major, pc.ParameterStatus("client_encoding"), pc.ParameterStatus("DateStyle"), pc.ParameterStatus("TimeZone"),
		pc.ParameterStatus("integer_datetimes"), pc.ParameterStatus("standard_conforming_strings"))

	const table = "compat_pgx"
	// Left over by an interrupted run against a long-lived server.
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		return fmt.Errorf("drop leftover table: %w", err)
	}
	tag, err := conn.Exec(ctx, createTypesTable(table))
	if err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	tr.printf("create table: %s", tag)
	defer conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)

	// Inserts, one batch of rows per query mode.
	insert := "INSERT INTO " + table + " (" + typesColumns + ") VALUES (" + placeholders(16) + ")"
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	tstz := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.FixedZone("+02", 2*3600))
	date := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	u1 := pgtype.UUID{Bytes: [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}, Valid: true}
	u0 := pgtype.UUID{Valid: true}
	num := func(s string) pgtype.Numeric {
		var n pgtype.Numeric
		if err := n.Scan(s); err != nil {
			panic(err)
		}
		return n
	}
	modes := []struct {
		name string
		mode pgx.QueryExecMode
		base int32
		// json holds the jsonb values: a map and a raw text where the
		// mode knows the column's type, text otherwise.
		json [2]any
	}{
		{"cache statement", pgx.QueryExecModeCacheStatement, 0, [2]any{map[string]any{"a": []any{1, 2, map[string]any{"b": nil}}, "c": "d"}, json.RawMessage(`[]`)}},
		{"exec", pgx.QueryExecModeExec, 10, [2]any{`{"c": "d", "a": [1, 2, {"b": null}]}`, `[]`}},
		{"simple protocol", pgx.QueryExecModeSimpleProtocol, 20, [2]any{`{"c": "d", "a": [1, 2, {"b": null}]}`, `[]`}},
	}
	for _, m := range modes {
		jsonCast := insert
		if m.mode != pgx.QueryExecModeCacheStatement {
			// Parameters typed by the client: text needs a cast to jsonb.
			jsonCast = strings.Replace(insert, "$16)", "$16::jsonb)", 1)
		}
		rows := [][]any{
			{m.base + 1, int16(32767), int32(-2147483648), int64(9223372036854775807), float32(1.5), float64(-3.141592653589793),
				num("12345678901234567890.123456789"), true, `héllo wörld ✓ 'q' "dq" \ end`, "varchar value",
				[]byte{0x00, 0x01, 0xfe, 0xff, 'a'}, date, ts, tstz, u1, m.json[0]},
			{m.base + 2, int16(-32768), int32(0), int64(-1), float32(-0.25), float64(1e300),
				num("-0.5"), false, "", "", []byte{}, epoch, epoch, epoch, u0, m.json[1]},
			{m.base + 3, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		}
		for _, r := range rows {
			tag, err := conn.Exec(ctx, jsonCast, append([]any{m.mode}, r...)...)
			if err != nil {
				return fmt.Errorf("insert id %d (%s): %w", r[0], m.name, err)
			}
			tr.printf("insert id %d (%s): %s", r[0], m.name, tag)
		}
	}

	// Read everything back, binary where pgx can, then text.
	for _, m := range []struct {
		name string
		mode pgx.QueryExecMode
	}{{"cache statement", pgx.QueryExecModeCacheStatement}, {"simple protocol", pgx.QueryExecModeSimpleProtocol}} {
		rows, err := conn.Query(ctx, "SELECT "+typesColumns+" FROM "+table+" ORDER BY id", m.mode)
		if err != nil {
			return fmt.Errorf("select (%s): %w", m.name, err)
		}
		var oids []string
		for _, f := range rows.FieldDescriptions() {
			oids = append(oids, fmt.Sprintf("%s:%d", f.Name, f.DataTypeOID))
		}
		tr.printf("select (%s) columns: %s", m.name, strings.Join(oids, " "))
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return fmt.Errorf("select (%s): %w", m.name, err)
			}
			tr.printf("  %s", formatRow(vals))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("select (%s): %w", m.name, err)
		}
		tr.printf("select (%s): %s", m.name, rows.CommandTag())
	}

	// Parameterized selects: every type as a binary parameter in WHERE.
	for _, q := range []struct {
		col string
		arg any
	}{
		{"c_int2", int16(32767)}, {"c_int4", int32(0)}, {"c_int8", int64(-1)}, {"c_float4", float32(1.5)},
		{"c_float8", float64(1e300)}, {"c_numeric", num("12345678901234567890.123456789")}, {"c_bool", false},
		{"c_text", `héllo wörld ✓ 'q' "dq" \ end`}, {"c_varchar", ""}, {"c_bytea", []byte{0x00, 0x01, 0xfe, 0xff, 'a'}},
		{"c_date", date}, {"c_timestamp", ts}, {"c_timestamptz", tstz}, {"c_uuid", u1},
		{"c_jsonb", map[string]any{"c": "d", "a": []any{1, 2, map[string]any{"b": nil}}}},
	} {
		rows, err := conn.Query(ctx, "SELECT id FROM "+table+" WHERE "+q.col+" = $1 ORDER BY id", q.arg)
		if err != nil {
			return fmt.Errorf("where %s = $1: %w", q.col, err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("where %s = $1: %w", q.col, err)
		}
		tr.printf("where %s = $1: ids %v", q.col, ids)
	}
	var sum int64
	var cat string
	var later time.Time
	if err := conn.QueryRow(ctx, "SELECT $1::int8 + 1, $2::text || '!', $3::timestamptz",
		int64(41), "hi", tstz).Scan(&sum, &cat, &later); err != nil {
		return fmt.Errorf("expressions of parameters: %w", err)
	}
	tr.printf("expressions of parameters: %d %q %s", sum, cat, later.UTC().Format(time.RFC3339Nano))

	// A prepared statement reused with different parameters.
	sd, err := conn.Prepare(ctx, "compat_ins", "INSERT INTO "+table+" (id, c_text, c_int8) VALUES ($1, $2, $3) RETURNING id, c_text")
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	var fields []string
	for _, f := range sd.Fields {
		fields = append(fields, fmt.Sprintf("%s:%d", f.Name, f.DataTypeOID))
	}
	tr.printf("prepare: params %v fields %v", sd.ParamOIDs, fields)
	for i := range int32(3) {
		var id int32
		var text string
		if err := conn.QueryRow(ctx, "compat_ins", 100+i, fmt.Sprintf("prepared %d", i), int64(i)*1000).Scan(&id, &text); err != nil {
			return fmt.Errorf("execute prepared #%d: %w", i, err)
		}
		tr.printf("execute prepared: %d %q", id, text)
	}
	_, err = conn.Exec(ctx, "compat_ins", int32(100), "again", int64(0))
	if err := tr.expectError("execute prepared with a duplicate key", err, "23505"); err != nil {
		return err
	}
	if err := conn.Deallocate(ctx, "compat_ins"); err != nil {
		return fmt.Errorf("deallocate: %w", err)
	}
	tr.printf("deallocate: ok")

	// A batch: several statements in one pipeline.
	b := &pgx.Batch{}
	b.Queue("INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(200), "batch a")
	b.Queue("INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(201), "batch b")
	b.Queue("UPDATE "+table+" SET c_int4 = $1 WHERE id >= $2 RETURNING id", int32(7), int32(200))
	b.Queue("SELECT count(*) FROM " + table)
	br := conn.SendBatch(ctx, b)
	for i := range 2 {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return fmt.Errorf("batch statement %d: %w", i, err)
		}
		tr.printf("batch insert: %s", tag)
	}
	rows, err := br.Query()
	if err == nil {
		var ids []int32
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		slices.Sort(ids) // RETURNING has no order
		tr.printf("batch update returning: %v", ids)
	}
	if err != nil {
		br.Close()
		return fmt.Errorf("batch update: %w", err)
	}
	var n int64
	if err := br.QueryRow().Scan(&n); err != nil {
		br.Close()
		return fmt.Errorf("batch count: %w", err)
	}
	tr.printf("batch count: %d", n)
	if err := br.Close(); err != nil {
		return fmt.Errorf("batch close: %w", err)
	}

	// A batch whose second statement fails: the batch runs as one implicit
	// transaction, so the first statement is undone and the third never runs.
	b = &pgx.Batch{}
	b.Queue("INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(300), "undone")
	b.Queue("INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(200), "duplicate")
	b.Queue("INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(301), "never")
	err = conn.SendBatch(ctx, b).Close()
	if err := tr.expectError("batch with a duplicate key", err, "23505"); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE id >= 300").Scan(&n); err != nil {
		return fmt.Errorf("after the failed batch: %w", err)
	}
	tr.printf("rows of the failed batch: %d", n)

	// A transaction rolled back, then one committed.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(400), "rolled back"); err != nil {
		return fmt.Errorf("insert in transaction: %w", err)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE id = 400").Scan(&n); err != nil {
		return fmt.Errorf("select in transaction: %w", err)
	}
	tr.printf("inside the transaction: %d row", n)
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE id = 400").Scan(&n); err != nil {
		return fmt.Errorf("select after rollback: %w", err)
	}
	tr.printf("after rollback: %d rows", n)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO "+table+" (id, c_text) VALUES ($1, $2)", int32(401), "committed")
		return err
	})
	if err != nil {
		return fmt.Errorf("committed transaction: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE id = 401").Scan(&n); err != nil {
		return fmt.Errorf("select after commit: %w", err)
	}
	tr.printf("after commit: %d row", n)

	// Errors leave the connection usable.
	_, err = conn.Exec(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", int32(1))
	if err := tr.expectError("duplicate key", err, "23505"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "SELECT nosuch FROM "+table)
	if err := tr.expectError("unknown column", err, "42703"); err != nil {
		return err
	}
	tx, err = conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+table+" (id) VALUES ($1)", int32(1))
	if err := tr.expectError("duplicate key in a transaction", err, "23505"); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "SELECT 1")
	if err := tr.expectError("statement in the failed transaction", err, "25P02"); err != nil {
		return err
	}
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback of the failed transaction: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return fmt.Errorf("select after the errors: %w", err)
	}
	tr.printf("after the errors: %d rows", n)
	tag, err = conn.Exec(ctx, "DROP TABLE "+table)
	if err != nil {
		return fmt.Errorf("drop table: %w", err)
	}
	tr.printf("drop table: %s", tag)
	return nil
}
