"""psycopg2 client of shard's PostgreSQL compatibility suite (test/compat).

Usage: /usr/bin/python3 client.py postgres://user:pw@host:port/db?sslmode=require

It prints a transcript, one line per step, that the Go test compares
between PostgreSQL and shard, and exits non-zero when a step does not do
what it must (an expected error does not come, a query fails). psycopg2 is
libpq underneath: it interpolates parameters into the SQL text on the
client and sends simple queries; results come back as text and are
converted by the type of each column (the OIDs in the row description).
Without autocommit, psycopg2 opens a transaction before the first
statement, so most steps here run inside one.
"""

import datetime
import decimal
import sys
import uuid

import psycopg2
import psycopg2.extras

TABLE = "compat_python"
COLUMNS = ("id, c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_bool, c_text, c_varchar, "
           "c_bytea, c_date, c_timestamp, c_timestamptz, c_uuid, c_jsonb")
TEXT = "héllo wörld ✓ 'q' \"dq\" \\ end"
UUID1 = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
TZ2 = datetime.timezone(datetime.timedelta(hours=2))


def out(line):
    print(line, flush=True)


def show(v):
    """A value psycopg2 returned, with its Python type."""
    if v is None:
        return "None"
    if isinstance(v, memoryview):
        return "memoryview(%s)" % v.tobytes().hex()
    if isinstance(v, datetime.datetime) and v.tzinfo is not None:
        return "datetime(%s)" % v.astimezone(datetime.timezone.utc).isoformat()
    return "%s(%r)" % (type(v).__name__, v)


class ExpectedErrorMissing(Exception):
    pass


def expect_error(step, code, fn):
    """Runs fn, which must fail with SQLSTATE code."""
    try:
        fn()
    except psycopg2.Error as e:
        if e.pgcode != code:
            raise ExpectedErrorMissing("%s: %s (SQLSTATE %s); want SQLSTATE %s" % (step, e, e.pgcode, code))
        out("%s: error %s" % (step, code))
        return
    raise ExpectedErrorMissing("%s: succeeded; want SQLSTATE %s" % (step, code))


def count(cur, where):
    cur.execute("SELECT count(*) FROM " + TABLE + " WHERE " + where)
    return cur.fetchone()[0]


def run(conn):
    cur = conn.cursor()
    # Left over by an interrupted run against a long-lived server.
    cur.execute("DROP TABLE IF EXISTS " + TABLE)
    cur.execute("CREATE TABLE " + TABLE + """ (
        id int4 PRIMARY KEY,
        c_int2 int2, c_int4 int4, c_int8 int8,
        c_float4 float4, c_float8 float8, c_numeric numeric,
        c_bool bool, c_text text, c_varchar varchar(40), c_bytea bytea,
        c_date date, c_timestamp timestamp, c_timestamptz timestamptz,
        c_uuid uuid, c_jsonb jsonb)""")
    conn.commit()
    out("create table: %s" % cur.statusmessage)

    insert = "INSERT INTO " + TABLE + " (" + COLUMNS + ") VALUES (" + ", ".join(["%s"] * 16) + ")"
    rows = [
        (1, 32767, -2147483648, 9223372036854775807, 1.5, -3.141592653589793,
         decimal.Decimal("12345678901234567890.123456789"), True, TEXT, "varchar value",
         bytes([0x00, 0x01, 0xFE, 0xFF, 0x61]), datetime.date(2024, 2, 29),
         datetime.datetime(2024, 2, 29, 13, 14, 15, 123456),
         datetime.datetime(2024, 2, 29, 13, 14, 15, 123456, tzinfo=TZ2), UUID1,
         psycopg2.extras.Json({"c": "d", "a": [1, 2, {"b": None}]})),
        (2, -32768, 0, -1, -0.25, 1e300, decimal.Decimal("-0.5"), False, "", "", b"",
         datetime.date(1970, 1, 1), datetime.datetime(1970, 1, 1),
         datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc), uuid.UUID(int=0),
         psycopg2.extras.Json([])),
        (3,) + (None,) * 15,
    ]
    for row in rows:
        cur.execute(insert, row)
        out("insert id %d: %s" % (row[0], cur.statusmessage))
    psycopg2.extras.execute_values(
        cur, "INSERT INTO " + TABLE + " (id, c_text, c_float8) VALUES %s",
        [(11, "execute_values a", float("inf")), (12, "execute_values b", float("nan"))])
    out("execute_values: %s" % cur.statusmessage)
    conn.commit()

    cur.execute("SELECT " + COLUMNS + " FROM " + TABLE + " ORDER BY id")
    out("select columns: " + " ".join("%s:%d" % (d.name, d.type_code) for d in cur.description))
    for row in cur.fetchall():
        out("  " + " ".join(show(v) for v in row))
    out("select: %s" % cur.statusmessage)

    # Parameterized selects: every type as a parameter in WHERE.
    wheres = [
        ("c_int2", 32767), ("c_int4", 0), ("c_int8", -1), ("c_float4", 1.5), ("c_float8", 1e300),
        ("c_numeric", decimal.Decimal("12345678901234567890.123456789")), ("c_bool", False), ("c_text", TEXT),
        ("c_varchar", ""), ("c_bytea", bytes([0x00, 0x01, 0xFE, 0xFF, 0x61])), ("c_date", datetime.date(2024, 2, 29)),
        ("c_timestamp", datetime.datetime(2024, 2, 29, 13, 14, 15, 123456)),
        ("c_timestamptz", datetime.datetime(2024, 2, 29, 11, 14, 15, 123456, tzinfo=datetime.timezone.utc)),
        ("c_uuid", UUID1), ("c_jsonb", psycopg2.extras.Json({"a": [1, 2, {"b": None}], "c": "d"})),
    ]
    for col, arg in wheres:
        cur.execute("SELECT id FROM " + TABLE + " WHERE " + col + " = %s ORDER BY id", (arg,))
        out("where %s = %%s: ids %s" % (col, [r[0] for r in cur.fetchall()]))
    cur.execute("SELECT %(n)s + 1, %(s)s || '!', %(d)s * 2", {"n": 41, "s": "hi", "d": decimal.Decimal("1.25")})
    out("expressions of parameters: " + " ".join(show(v) for v in cur.fetchone()))
    conn.commit()

    # A transaction rolled back, then one committed.
    cur.execute("INSERT INTO " + TABLE + " (id, c_text) VALUES (%s, %s)", (400, "rolled back"))
    out("inside the transaction: %d row" % count(cur, "id = 400"))
    conn.rollback()
    out("after rollback: %d rows" % count(cur, "id = 400"))
    cur.execute("INSERT INTO " + TABLE + " (id, c_text) VALUES (%s, %s)", (401, "committed"))
    conn.commit()
    out("after commit: %d row" % count(cur, "id = 401"))
    conn.commit()

    # Errors leave the connection usable (after a rollback, as always with
    # psycopg2 outside autocommit).
    expect_error("duplicate key", "23505",
                 lambda: cur.execute("INSERT INTO " + TABLE + " (id) VALUES (%s)", (1,)))
    expect_error("statement in the failed transaction", "25P02", lambda: cur.execute("SELECT 1"))
    conn.rollback()
    out("after the rollback: %d rows" % count(cur, "true"))
    conn.commit()
    conn.autocommit = True
    expect_error("not null in autocommit", "23502",
                 lambda: cur.execute("INSERT INTO " + TABLE + " (id, c_text) VALUES (NULL, 'x')"))
    expect_error("unknown table in autocommit", "42P01", lambda: cur.execute("SELECT * FROM nosuch_table"))
    out("after the errors: %d rows" % count(cur, "true"))
    cur.execute("DROP TABLE " + TABLE)
    out("drop table: %s" % cur.statusmessage)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    psycopg2.extras.register_uuid()
    conn = psycopg2.connect(sys.argv[1])
    try:
        out("connect: tls=%s server_version major=%d encoding=%s" % (
            conn.info.ssl_in_use, conn.server_version // 10000, conn.encoding))
        run(conn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (psycopg2.Error, ExpectedErrorMissing) as e:
        print("client failed: %s: %s (SQLSTATE %s)" % (type(e).__name__, e, getattr(e, "pgcode", None)),
              file=sys.stderr)
        sys.exit(1)
