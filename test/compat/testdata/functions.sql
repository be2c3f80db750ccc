-- Functions: strings, numbers, and the ones clients and tools call. Values
-- that differ by design (now(), gen_random_uuid(), version()) are checked
-- by type or prefix only.
\set VERBOSITY sqlstate

SELECT lower('HeLLo WoRLD') AS lower, upper('mixed Case 123') AS upper, length('hello') AS len, length('') AS len0, length('héllo') AS len_utf8;
SELECT substring('hello world' from 7) AS a, substring('hello world' from 1 for 5) AS b, substring('hello', 2, 3) AS c, substring('hello', 10) AS d, substring('hello', 0, 3) AS e;
SELECT concat('a', 'b', 'c') AS a, concat('a', NULL, 1, true) AS b, 'a' || NULL AS c;
SELECT abs(-5) AS a, abs(5) AS b, abs(-2.50) AS c, abs(-1.5::float8) AS d, abs(-9223372036854775807) AS e;
SELECT round(2.567, 2) AS a, round(2.5) AS b, round(-2.5) AS c, round(2.5::float8) AS d, round(3.5::float8) AS e, round(1234.5678, -2) AS f, round(7) AS g;
SELECT lower(NULL) IS NULL AS a, length(NULL) IS NULL AS b, abs(NULL::int) IS NULL AS c, substring(NULL, 1) IS NULL AS d;
SELECT upper(name) AS up, length(name) AS len FROM (VALUES ('x'), ('abc')) AS v(name) ORDER BY name;

-- Values that vary: check their type and shape.
SELECT now() IS NOT NULL AS has_now, now() = now() AS stable, current_timestamp IS NOT NULL AS has_ts, current_date IS NOT NULL AS has_date;
SELECT gen_random_uuid() IS NOT NULL AS has_uuid, length(gen_random_uuid()::text) AS uuid_len, gen_random_uuid() <> gen_random_uuid() AS distinct_uuids;
SELECT current_database(), current_user, session_user, current_schema();
SELECT version() LIKE 'PostgreSQL 15%' AS pg15;
SELECT current_setting('server_version') LIKE '15%' AS v15;

-- Errors.
SELECT nosuch_function(1);
SELECT length(1, 2);
SELECT round(1.5, 'a');
SELECT 'still connected' AS ok;
