-- Session settings: SHOW, SET, SET LOCAL, RESET, DISCARD ALL, set_config
-- and current_setting, and how they interact with transactions. The exact
-- server_version differs by design: only its major version is checked.
\set VERBOSITY sqlstate

SHOW TimeZone;
SHOW DateStyle;
SHOW standard_conforming_strings;
SHOW client_encoding;
SHOW server_encoding;
SHOW integer_datetimes;
SHOW IntervalStyle;
SHOW search_path;
SHOW application_name;
SHOW bytea_output;
SHOW extra_float_digits;
SELECT current_setting('server_version_num')::int / 10000 AS major;
SELECT current_setting('server_version') LIKE '15%' AS v15;
SHOW nosuch_setting;

-- SET and RESET.
SET TimeZone = 'Europe/Berlin';
SHOW TimeZone;
SELECT '2024-07-01 12:00:00+00'::timestamptz AS summer, '2024-01-15 12:00:00+00'::timestamptz AS winter;
SET TIME ZONE 'UTC';
SHOW TimeZone;
SET TimeZone TO 'Asia/Tokyo';
RESET TimeZone;
SHOW TimeZone;
SELECT '01/02/2024'::date AS d;
SELECT 0.1::float8 + 0.2::float8 AS sum;
SET application_name = 'compat';
SHOW application_name;
SET statement_timeout = '5s';
SHOW statement_timeout;
SET statement_timeout = 0;
SHOW statement_timeout;
SET search_path = public;
SHOW search_path;
SET nosuch_setting = 1;
SET TimeZone = 'Nowhere/Nothing';
SHOW TimeZone;
RESET ALL;
SHOW search_path;
SHOW application_name;

-- set_config and current_setting.
SELECT set_config('TimeZone', 'Asia/Tokyo', false) AS set;
SHOW TimeZone;
SELECT current_setting('TimeZone') AS tz;
SELECT set_config('compat.custom', 'value 1', false) AS set;
SELECT current_setting('compat.custom') AS custom;
SHOW compat.custom;
SELECT current_setting('nosuch_setting');
SELECT current_setting('nosuch_setting', true) IS NULL AS missing_ok;
RESET TimeZone;

-- Settings and transactions.
BEGIN;
SET LOCAL TimeZone = 'Asia/Tokyo';
SHOW TimeZone;
COMMIT;
SHOW TimeZone;
BEGIN;
SET TimeZone = 'Asia/Tokyo';
ROLLBACK;
SHOW TimeZone;
BEGIN;
SET TimeZone = 'Asia/Tokyo';
COMMIT;
SHOW TimeZone;
BEGIN;
SELECT set_config('TimeZone', 'Europe/Berlin', true) AS set;
SHOW TimeZone;
COMMIT;
SHOW TimeZone;

-- DISCARD ALL resets the session.
SET application_name = 'before discard';
DISCARD ALL;
SHOW TimeZone;
SHOW application_name;
BEGIN;
DISCARD ALL;
ROLLBACK;
