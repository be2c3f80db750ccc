// node-postgres (pg from npm) client of shard's PostgreSQL compatibility
// suite (test/compat). Usage: node client.js postgres://user:pw@host:port/db?sslmode=require
//
// It prints a transcript, one line per step, that the Go test compares
// between PostgreSQL and shard; it exits non-zero when a step does not do
// what it must (an expected error does not come, a query fails).
// node-postgres sends parameters as text with their types left to the
// server (OID 0), through unnamed statements or, with a name, through
// named prepared statements; results come back as text.
'use strict';

process.env.TZ = 'UTC';
const { Client } = require('pg');

const TABLE = 'compat_node';
const COLUMNS = 'id, c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_bool, c_text, c_varchar, c_bytea, c_date, c_timestamp, c_timestamptz, c_uuid, c_jsonb';
const TEXT = 'héllo wörld ✓ \'q\' "dq" \\ end';
const UUID1 = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';

function out(line) {
  process.stdout.write(line + '\n');
}

// connectionString adds libpq's meaning of sslmode (require: encrypt, do
// not verify), which node-postgres applies only when asked to.
function connectionString(raw) {
  const u = new URL(raw);
  u.searchParams.set('uselibpqcompat', 'true');
  return u.toString();
}

// show prints a parsed value with its JavaScript type.
function show(v) {
  if (v === null) return 'null';
  if (Buffer.isBuffer(v)) return 'Buffer(' + v.toString('hex') + ')';
  if (v instanceof Date) return 'Date(' + v.toISOString() + ')';
  if (typeof v === 'object') return 'object(' + JSON.stringify(v) + ')';
  return typeof v + '(' + JSON.stringify(v) + ')';
}

// expectError records a failure with the given SQLSTATE; anything else
// ends the program.
async function expectError(step, promise, code) {
  try {
    await promise;
  } catch (err) {
    if (err.code !== code) {
      throw new Error(`${step}: ${err.message} (SQLSTATE ${err.code}); want SQLSTATE ${code}`);
    }
    out(`${step}: error ${code}`);
    return;
  }
  throw new Error(`${step}: succeeded; want SQLSTATE ${code}`);
}

async function count(client, where) {
  const r = await client.query(`SELECT count(*)::int AS n FROM ${TABLE} WHERE ${where}`);
  return r.rows[0].n;
}

async function main(url) {
  const client = new Client({ connectionString: connectionString(url) });
  await client.connect();
  try {
    out(`connect: tls=${client.connection.stream.encrypted === true}`);
    await run(client);
  } finally {
    await client.end();
  }
}

async function run(client) {
  // Left over by an interrupted run against a long-lived server.
  await client.query(`DROP TABLE IF EXISTS ${TABLE}`);
  let r = await client.query(`CREATE TABLE ${TABLE} (
    id int4 PRIMARY KEY,
    c_int2 int2, c_int4 int4, c_int8 int8,
    c_float4 float4, c_float8 float8, c_numeric numeric,
    c_bool bool, c_text text, c_varchar varchar(40), c_bytea bytea,
    c_date date, c_timestamp timestamp, c_timestamptz timestamptz,
    c_uuid uuid, c_jsonb jsonb)`);
  out(`create table: ${r.command}`);

  const insert = `INSERT INTO ${TABLE} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;
  const rows = [
    [1, 32767, -2147483648, '9223372036854775807', 1.5, -3.141592653589793, '12345678901234567890.123456789', true,
      TEXT, 'varchar value', Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x61]), '2024-02-29', '2024-02-29 13:14:15.123456',
      '2024-02-29 13:14:15.123456+02', UUID1, { c: 'd', a: [1, 2, { b: null }] }],
    [2, -32768, 0, -1, -0.25, 1e300, '-0.5', false, '', '', Buffer.alloc(0), '1970-01-01', '1970-01-01 00:00:00',
      new Date(Date.UTC(1970, 0, 1)), '00000000-0000-0000-0000-000000000000', '[]'],
    [3, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null],
  ];
  for (const row of rows) {
    r = await client.query(insert, row);
    out(`insert id ${row[0]}: ${r.command} ${r.rowCount}`);
  }
  r = await client.query(`INSERT INTO ${TABLE} (id, c_text, c_jsonb) VALUES (11, 'simple protocol', '{"k": [true]}')`);
  out(`insert without parameters: ${r.command} ${r.rowCount}`);

  // Read back, parsed by node-postgres's type parsers, then as raw text.
  const select = `SELECT ${COLUMNS} FROM ${TABLE} ORDER BY id`;
  r = await client.query({ text: select, rowMode: 'array' });
  out('select columns: ' + r.fields.map((f) => `${f.name}:${f.dataTypeID}`).join(' '));
  for (const row of r.rows) out('  ' + row.map(show).join(' '));
  out(`select: ${r.command} ${r.rowCount}`);
  r = await client.query({ text: select, rowMode: 'array', types: { getTypeParser: () => (v) => v } });
  for (const row of r.rows) out('  raw ' + JSON.stringify(row));
  r = await client.query({ text: `SELECT ${COLUMNS} FROM ${TABLE} WHERE id <= $1 ORDER BY id`, values: [2], rowMode: 'array' });
  out(`select with a parameter: ${r.rowCount} rows`);

  // Parameterized selects: every type as a parameter in WHERE.
  const wheres = [
    ['c_int2', 32767], ['c_int4', 0], ['c_int8', '-1'], ['c_float4', 1.5], ['c_float8', 1e300],
    ['c_numeric', '12345678901234567890.123456789'], ['c_bool', false], ['c_text', TEXT], ['c_varchar', ''],
    ['c_bytea', Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x61])], ['c_date', '2024-02-29'],
    ['c_timestamp', '2024-02-29 13:14:15.123456'], ['c_timestamptz', '2024-02-29 11:14:15.123456Z'],
    ['c_uuid', UUID1], ['c_jsonb', '{"a": [1, 2, {"b": null}], "c": "d"}'],
  ];
  for (const [col, arg] of wheres) {
    r = await client.query(`SELECT id FROM ${TABLE} WHERE ${col} = $1 ORDER BY id`, [arg]);
    out(`where ${col} = $1: ids [${r.rows.map((x) => x.id).join(' ')}]`);
  }
  r = await client.query('SELECT $1::int8 + 1 AS sum, $2::text || \'!\' AS cat, $3::numeric * 2 AS dbl', ['41', 'hi', '1.25']);
  out(`expressions of parameters: ${show(r.rows[0].sum)} ${show(r.rows[0].cat)} ${show(r.rows[0].dbl)}`);

  // A named prepared statement reused.
  const prepared = { name: 'compat_ins', text: `INSERT INTO ${TABLE} (id, c_text, c_int8) VALUES ($1, $2, $3) RETURNING id, c_text` };
  for (let i = 0; i < 3; i++) {
    r = await client.query({ ...prepared, values: [100 + i, `prepared ${i}`, i * 1000] });
    out(`execute prepared: ${r.rows[0].id} ${JSON.stringify(r.rows[0].c_text)}`);
  }
  await expectError('execute prepared with a duplicate key', client.query({ ...prepared, values: [100, 'again', 0] }), '23505');

  // A transaction rolled back, then one committed.
  await client.query('BEGIN');
  await client.query(`INSERT INTO ${TABLE} (id, c_text) VALUES ($1, $2)`, [400, 'rolled back']);
  out(`inside the transaction: ${await count(client, 'id = 400')} row`);
  await client.query('ROLLBACK');
  out(`after rollback: ${await count(client, 'id = 400')} rows`);
  await client.query('BEGIN');
  await client.query(`INSERT INTO ${TABLE} (id, c_text) VALUES ($1, $2)`, [401, 'committed']);
  r = await client.query('COMMIT');
  out(`commit: ${r.command}`);
  out(`after commit: ${await count(client, 'id = 401')} row`);

  // Errors leave the connection usable.
  await expectError('duplicate key', client.query(`INSERT INTO ${TABLE} (id) VALUES ($1)`, [1]), '23505');
  await expectError('syntax error', client.query('SELEC 1'), '42601');
  await expectError('bad input', client.query(`INSERT INTO ${TABLE} (id, c_uuid) VALUES ($1, $2)`, [9, 'not-a-uuid']), '22P02');
  await client.query('BEGIN');
  await expectError('duplicate key in a transaction', client.query(`INSERT INTO ${TABLE} (id) VALUES ($1)`, [1]), '23505');
  await expectError('statement in the failed transaction', client.query('SELECT 1'), '25P02');
  r = await client.query('COMMIT');
  out(`commit of the failed transaction: ${r.command}`);
  out(`after the errors: ${await count(client, 'true')} rows`);
  r = await client.query(`DROP TABLE ${TABLE}`);
  out(`drop table: ${r.command}`);
}

const url = process.argv[2] || process.env.SHARD_COMPAT_URL;
if (!url) {
  process.stderr.write('usage: node client.js postgres://user:password@host:port/db?sslmode=require\n');
  process.exit(2);
}
main(url).catch((err) => {
  process.stderr.write(`client failed: ${err.stack || err}\n`);
  process.exit(1);
});
