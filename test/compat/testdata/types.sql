-- Types: int2, int4, int8, float4, float8, numeric, bool, text, varchar(n),
-- char(n), bytea, date, timestamp, timestamptz, uuid, jsonb. Each is
-- stored, read back, cast, and given bad input.
\set VERBOSITY sqlstate

-- Integers.
CREATE TABLE types_int (id int PRIMARY KEY, a int2, b int4, c int8);
INSERT INTO types_int VALUES
    (1, 32767, 2147483647, 9223372036854775807),
    (2, -32768, -2147483648, -9223372036854775808),
    (3, 0, 0, 0),
    (4, NULL, NULL, NULL);
SELECT * FROM types_int ORDER BY id;
INSERT INTO types_int VALUES (5, 32768, 0, 0);
INSERT INTO types_int VALUES (5, 0, 2147483648, 0);
INSERT INTO types_int VALUES (5, 0, 0, 9223372036854775808);
INSERT INTO types_int VALUES (5, 0, 'abc', 0);
INSERT INTO types_int VALUES (5, '7', '8', '9');
SELECT * FROM types_int WHERE id = 5;
SELECT a + 1 FROM types_int WHERE id = 1;
SELECT c * 2 FROM types_int WHERE id = 1;
SELECT a::int4 + 1 AS widened FROM types_int WHERE id = 1;
SELECT '42'::int2 AS a, '42'::int4 + 1 AS b, '-7'::int8 * 3 AS c, 7 / 2 AS d, -7 / 2 AS e, 7 % 3 AS f, -7 % 3 AS g;
SELECT 2147483647 + 1;
SELECT 1.7::int AS up, 1.5::int AS half, -1.5::int AS neg_half, 2.5::float8::int AS even, 3.5::float8::int AS even2;
SELECT 'x'::int8;
SELECT ''::int4;

-- Floating point.
CREATE TABLE types_float (id int PRIMARY KEY, r float4, d float8);
INSERT INTO types_float VALUES
    (1, 1.5, 3.141592653589793),
    (2, -0.1, 1e300),
    (3, 'NaN', 'Infinity'),
    (4, '-Infinity', 0.1),
    (5, 16777217, 2.5e-300),
    (6, NULL, NULL);
SELECT * FROM types_float ORDER BY id;
SELECT id FROM types_float WHERE d > 1 ORDER BY d;
SELECT 0.1::float8 + 0.2::float8 AS sum, 1::float8 / 3 AS third, 1::float4 / 3 AS third4, 100::float8 * 1.1 AS prod;
SELECT '1e400'::float8;
SELECT 'abc'::float4;
SELECT 1e39::float4;

-- Numeric.
CREATE TABLE types_numeric (id int PRIMARY KEY, n numeric, m numeric(10, 2));
INSERT INTO types_numeric VALUES
    (1, 12345678901234567890.123456789, 3.14159),
    (2, -0.5, -2),
    (3, 0, 0.005),
    (4, 'NaN', 99999999.99),
    (5, 1.000, NULL),
    (6, NULL, NULL);
SELECT * FROM types_numeric ORDER BY id;
INSERT INTO types_numeric VALUES (7, 0, 123456789.123);
INSERT INTO types_numeric VALUES (7, 'abc', 0);
SELECT 1.10 + 2.205 AS a, 10::numeric / 4 AS b, 1::numeric / 3 AS c, 2::numeric * 0.50 AS d, 123.456::numeric(5, 1) AS e, -0.0::numeric AS f;
SELECT round(2.5) AS a, round(-2.5) AS b, round(1.2345, 2) AS c, round(12345.6, -2) AS d;
SELECT sum(n) AS s, max(m) AS mx FROM types_numeric WHERE id <> 4;
SELECT 1::numeric / 0;

-- Booleans.
CREATE TABLE types_bool (id int PRIMARY KEY, b bool);
INSERT INTO types_bool VALUES (1, true), (2, false), (3, NULL), (4, 't'), (5, 'no'), (6, 'on'), (7, '1');
SELECT * FROM types_bool ORDER BY id;
SELECT id FROM types_bool WHERE b ORDER BY id;
SELECT id FROM types_bool WHERE NOT b ORDER BY id;
SELECT id FROM types_bool WHERE b IS NULL ORDER BY id;
SELECT true AND NULL AS a, false AND NULL AS b, true OR NULL AS c, NOT NULL::bool AS d, 1::bool AS e, true::text AS f, 'yes'::bool AS g;
INSERT INTO types_bool VALUES (8, 'maybe');

-- Character types.
CREATE TABLE types_text (id int PRIMARY KEY, t text, v varchar(5), c char(5));
INSERT INTO types_text VALUES
    (1, 'hello', 'abc', 'ab'),
    (2, '', '', ''),
    (3, 'it''s', 'héllo', 'x'),
    (4, 'two words', 'a b', 'a b'),
    (5, NULL, NULL, NULL);
SELECT * FROM types_text ORDER BY id;
SELECT id, length(t) AS lt, length(v) AS lv, length(c) AS lc, octet_length(v) AS ov, c || '|' AS c_bar FROM types_text ORDER BY id;
INSERT INTO types_text VALUES (6, 'x', 'abcdef', 'x');
INSERT INTO types_text VALUES (6, 'x', 'x', 'abcdef');
INSERT INTO types_text VALUES (6, 'x', 'abc  ', 'x');
SELECT v, length(v) FROM types_text WHERE id = 6;
SELECT 'abcdef'::varchar(3) AS v, 'ab'::char(4) AS c, 'ab'::char(4)::text || '|' AS ct, 123::text AS i, 'a' || 1 AS cat;
SELECT id FROM types_text WHERE c = 'ab' ORDER BY id;
SELECT id FROM types_text WHERE t = 'hello' OR v = 'héllo' ORDER BY id;

-- Binary strings.
CREATE TABLE types_bytea (id int PRIMARY KEY, b bytea);
INSERT INTO types_bytea VALUES (1, '\xdeadbeef'), (2, ''), (3, 'abc'::bytea), (4, '\x00ff'), (5, NULL);
SELECT * FROM types_bytea ORDER BY id;
SELECT id, length(b) FROM types_bytea ORDER BY id;
SELECT id FROM types_bytea WHERE b = '\x616263' ORDER BY id;
SELECT '\xzz'::bytea;

-- Dates and times (TimeZone is UTC).
CREATE TABLE types_time (id int PRIMARY KEY, d date, ts timestamp, tz timestamptz);
INSERT INTO types_time VALUES
    (1, '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+02'),
    (2, '1999-12-31', '2000-01-01 00:00:00', '2000-01-01 00:00:00Z'),
    (3, '1970-01-01', '1970-01-01 00:00:00.5', '1969-12-31 23:59:59-05:30'),
    (4, NULL, NULL, NULL);
SELECT * FROM types_time ORDER BY id;
SELECT id FROM types_time WHERE ts > '2000-01-01' ORDER BY id;
SELECT id FROM types_time WHERE tz < '2000-01-01 00:00:00+00' ORDER BY id;
SELECT d + 1 AS next_day, d - '2024-01-01'::date AS days, ts::date AS ts_date, tz::date AS tz_date, d::timestamp AS d_ts FROM types_time WHERE id = 1;
SELECT '2024-02-29 13:14:15+05'::timestamptz AS a, '2024-02-29'::timestamp AS b, '2024-02-29 13:14:15.5'::timestamp::text AS c, '2024-02-29 13:14:15'::timestamptz::timestamp AS d;
SELECT '2024-02-30'::date;
SELECT '2023-02-29'::date;
SELECT 'garbage'::timestamp;
SELECT '2024-01-01 25:00:00'::timestamptz;

-- UUIDs.
CREATE TABLE types_uuid (id int PRIMARY KEY, u uuid);
INSERT INTO types_uuid VALUES
    (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (2, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'),
    (3, '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13}'),
    (4, 'a0eebc999c0b4ef8bb6d6bb9bd380a14'),
    (5, NULL);
SELECT * FROM types_uuid ORDER BY id;
SELECT id FROM types_uuid WHERE u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12';
SELECT id, u::text FROM types_uuid ORDER BY u DESC NULLS LAST;
SELECT 'not-a-uuid'::uuid;

-- jsonb.
CREATE TABLE types_jsonb (id int PRIMARY KEY, j jsonb);
INSERT INTO types_jsonb VALUES
    (1, '{"b": 1, "a": [1, 2, {"c": null}]}'),
    (2, '"str"'),
    (3, '[]'),
    (4, 'null'),
    (5, '{"a": 1, "a": 2}'),
    (6, '{"n": 1.50, "e": 1e3, "t": true, "s": "é\"x"}'),
    (7, '  [ 1 ,2 ]  '),
    (8, NULL);
SELECT * FROM types_jsonb ORDER BY id;
SELECT id, j::text AS t FROM types_jsonb WHERE id IN (1, 6) ORDER BY id;
SELECT '{"z": 0, "aa": 1, "b": 2}'::jsonb AS keys_ordered, '[1, "a", null]'::jsonb AS arr;
SELECT id FROM types_jsonb WHERE j = '{"a": 2}' ORDER BY id;
INSERT INTO types_jsonb VALUES (9, '{bad');
SELECT '{"a": }'::jsonb;

DROP TABLE types_int, types_float, types_numeric, types_bool, types_text, types_bytea, types_time, types_uuid, types_jsonb;
