-- Transactions: BEGIN/COMMIT/ROLLBACK, START TRANSACTION/END/ABORT,
-- savepoints, and errors inside a transaction (25P02 until it ends).
\set VERBOSITY sqlstate

CREATE TABLE tx_acct (id int PRIMARY KEY, bal int NOT NULL);
INSERT INTO tx_acct VALUES (1, 100), (2, 100);

-- Commit.
BEGIN;
UPDATE tx_acct SET bal = bal - 30 WHERE id = 1;
UPDATE tx_acct SET bal = bal + 30 WHERE id = 2;
SELECT * FROM tx_acct ORDER BY id;
COMMIT;
SELECT * FROM tx_acct ORDER BY id;

-- Rollback: the transaction sees its own writes, nobody else does later.
BEGIN;
INSERT INTO tx_acct VALUES (3, 50);
UPDATE tx_acct SET bal = 0 WHERE id = 1;
DELETE FROM tx_acct WHERE id = 2;
SELECT * FROM tx_acct ORDER BY id;
ROLLBACK;
SELECT * FROM tx_acct ORDER BY id;

-- The other spellings.
START TRANSACTION;
INSERT INTO tx_acct VALUES (3, 50);
END;
BEGIN TRANSACTION;
INSERT INTO tx_acct VALUES (4, 60);
ABORT;
BEGIN WORK;
UPDATE tx_acct SET bal = bal + 1 WHERE id = 3;
COMMIT WORK;
START TRANSACTION;
DELETE FROM tx_acct WHERE id = 3;
ROLLBACK WORK;
SELECT * FROM tx_acct ORDER BY id;

-- Savepoints.
BEGIN;
INSERT INTO tx_acct VALUES (10, 1);
SAVEPOINT s1;
INSERT INTO tx_acct VALUES (11, 1);
ROLLBACK TO SAVEPOINT s1;
INSERT INTO tx_acct VALUES (12, 1);
SAVEPOINT s2;
UPDATE tx_acct SET bal = 2 WHERE id = 12;
RELEASE SAVEPOINT s2;
SAVEPOINT s3;
INSERT INTO tx_acct VALUES (1, 0);
SELECT 1;
ROLLBACK TO s3;
SELECT id, bal FROM tx_acct WHERE id >= 10 ORDER BY id;
RELEASE s1;
COMMIT;
SELECT id, bal FROM tx_acct WHERE id >= 10 ORDER BY id;

-- An error aborts the transaction: every statement fails with 25P02, and
-- COMMIT rolls back.
BEGIN;
INSERT INTO tx_acct VALUES (20, 1);
INSERT INTO tx_acct VALUES (1, 5);
SELECT 1;
INSERT INTO tx_acct VALUES (21, 1);
COMMIT;
SELECT count(*) FROM tx_acct WHERE id >= 20;
BEGIN;
SELECT 1 / 0;
SELECT 1;
ROLLBACK;
BEGIN;
INSERT INTO tx_acct VALUES (22, NULL);
SELECT 1;
ROLLBACK;
SELECT count(*) FROM tx_acct WHERE id >= 20;

-- Misplaced commands.
COMMIT;
ROLLBACK;
SAVEPOINT outside;
BEGIN;
BEGIN;
RELEASE SAVEPOINT nosuch;
ROLLBACK;
BEGIN;
ROLLBACK TO SAVEPOINT nosuch;
ROLLBACK;

-- A multi-statement query runs in one implicit transaction: an error
-- undoes the statements before it.
INSERT INTO tx_acct VALUES (30, 1) \; INSERT INTO tx_acct VALUES (1, 1) \; INSERT INTO tx_acct VALUES (31, 1);
SELECT count(*) FROM tx_acct WHERE id >= 30;
INSERT INTO tx_acct VALUES (32, 1) \; SELECT count(*) FROM tx_acct WHERE id >= 30;

SELECT * FROM tx_acct ORDER BY id;
DROP TABLE tx_acct;
