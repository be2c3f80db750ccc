-- Errors: each statement fails with its SQLSTATE and the session goes on.
\set VERBOSITY sqlstate

SELEC 1;
SELECT 'alive after 42601' AS ok;
SELECT 1 +;
SELECT 1);
SELECT * FROM nosuch_table;
SELECT 'alive after 42P01' AS ok;
CREATE TABLE err_t (id int PRIMARY KEY, v text NOT NULL, n int);
SELECT nosuch_column FROM err_t;
SELECT err_t.nosuch FROM err_t;
SELECT 'alive after 42703' AS ok;
INSERT INTO err_t VALUES (1, 'a', 1);
INSERT INTO err_t VALUES (1, 'b', 2);
SELECT 'alive after 23505' AS ok;
INSERT INTO err_t VALUES (2, NULL, 2);
UPDATE err_t SET v = NULL WHERE id = 1;
SELECT 'alive after 23502' AS ok;
SELECT 1 / 0;
SELECT n / 0 FROM err_t;
SELECT 'x'::int;
INSERT INTO err_t VALUES ('abc', 'a', 1);
SELECT nosuchfunc(1);
SELECT true + 1;
SELECT id FROM err_t GROUP BY v;
SELECT count(*) FROM err_t WHERE;
CREATE TABLE err_t (id int);
CREATE TABLE err_bad (id nosuchtype);
DROP TABLE nosuch_table;
SELECT * FROM err_t ORDER BY id;

-- A multi-statement query stops at its first error.
SELECT 1 AS first \; SELECT 1 / 0 \; SELECT 3 AS third;
SELECT 'still connected' AS ok;

DROP TABLE err_t;
