-- Known differences, not run by default (SHARD_COMPAT_PENDING=1 runs
-- them): shard reads a timestamptz literal without an offset as UTC
-- whatever the session's TimeZone, and supports only DateStyle ISO, MDY
-- and extra_float_digits >= 1 (shortest exact output).
SET TimeZone = 'Europe/Berlin';
SELECT '2024-07-01 12:00:00'::timestamptz AS local_input;
RESET TimeZone;
SET DateStyle = 'ISO, DMY';
SELECT '01/02/2024'::date AS d;
RESET DateStyle;
SET extra_float_digits = 0;
SELECT 0.1::float8 + 0.2::float8 AS sum;
RESET extra_float_digits;
