-- Joins: inner and left, on the primary key of both tables (rows with the
-- same key), on one table's key, and on columns that are no key at all.
\set VERBOSITY sqlstate

CREATE TABLE j_cust (id int PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE j_cust_extra (id int PRIMARY KEY, vip bool NOT NULL, since date);
CREATE TABLE j_ord (id int PRIMARY KEY, cust_id int, amount int NOT NULL, city text);
CREATE TABLE j_city (name text PRIMARY KEY, country text NOT NULL);
INSERT INTO j_cust VALUES (1, 'Ann', 'Paris'), (2, 'Ben', 'Oslo'), (3, 'Cid', 'Paris'), (4, 'Dee', NULL), (5, 'Eli', 'Rome');
INSERT INTO j_cust_extra VALUES (1, true, '2020-01-01'), (3, false, '2021-06-01'), (5, true, '2022-03-03'), (7, true, '2023-01-01');
INSERT INTO j_ord VALUES
    (100, 1, 30, 'Paris'),
    (101, 1, 20, 'Oslo'),
    (102, 2, 50, 'Oslo'),
    (103, 3, 10, 'Rome'),
    (104, 9, 70, 'Lima'),
    (105, NULL, 5, NULL),
    (106, 3, 15, 'Paris');
INSERT INTO j_city VALUES ('Paris', 'FR'), ('Oslo', 'NO'), ('Rome', 'IT'), ('Bern', 'CH');

-- Both sides joined on their primary keys.
SELECT c.id, c.name, x.vip FROM j_cust c JOIN j_cust_extra x ON x.id = c.id ORDER BY c.id;
SELECT c.id, c.name, x.vip, x.since FROM j_cust c LEFT JOIN j_cust_extra x ON x.id = c.id ORDER BY c.id;
SELECT c.id, c.name FROM j_cust c JOIN j_cust_extra x USING (id) WHERE x.vip ORDER BY id;

-- One side's key against the other side's plain column.
SELECT o.id AS ord, c.name, o.amount FROM j_ord o JOIN j_cust c ON c.id = o.cust_id ORDER BY o.id;
SELECT c.name, o.id AS ord, o.amount FROM j_cust c LEFT JOIN j_ord o ON o.cust_id = c.id ORDER BY c.id, o.id;
SELECT o.id AS ord, c.name FROM j_ord o LEFT JOIN j_cust c ON c.id = o.cust_id ORDER BY o.id;
SELECT c.name, count(o.id) AS orders, coalesce(sum(o.amount), 0) AS total FROM j_cust c LEFT JOIN j_ord o ON o.cust_id = c.id GROUP BY c.id, c.name ORDER BY c.id;
SELECT c.name FROM j_cust c LEFT JOIN j_ord o ON o.cust_id = c.id WHERE o.id IS NULL ORDER BY c.name;
SELECT c.name, o.amount FROM j_cust c JOIN j_ord o ON o.cust_id = c.id AND o.amount > 15 ORDER BY c.name, o.amount;

-- Columns that are no key.
SELECT c.name, o.id AS ord FROM j_cust c JOIN j_ord o ON o.city = c.city ORDER BY c.name, o.id;
SELECT c.name, ci.country FROM j_cust c LEFT JOIN j_city ci ON ci.name = c.city ORDER BY c.id;
SELECT ci.name AS city, count(c.id) AS customers FROM j_city ci LEFT JOIN j_cust c ON c.city = ci.name GROUP BY ci.name ORDER BY ci.name;

-- Three tables, a self join, a join with a derived table.
SELECT o.id AS ord, c.name, ci.country FROM j_ord o JOIN j_cust c ON c.id = o.cust_id JOIN j_city ci ON ci.name = c.city ORDER BY o.id;
SELECT a.name AS a, b.name AS b FROM j_cust a JOIN j_cust b ON a.city = b.city AND a.id < b.id ORDER BY a.id, b.id;
SELECT c.name, t.total FROM j_cust c JOIN (SELECT cust_id, sum(amount) AS total FROM j_ord GROUP BY cust_id) t ON t.cust_id = c.id ORDER BY t.total DESC, c.name;
SELECT c.name, ci.name AS city FROM j_cust c CROSS JOIN j_city ci WHERE c.id <= 2 AND ci.country IN ('FR', 'CH') ORDER BY c.name, ci.name;

-- Errors.
SELECT id FROM j_cust c JOIN j_ord o ON o.cust_id = c.id;
SELECT c.name FROM j_cust c JOIN j_ord o ON o.nosuch = c.id;

DROP TABLE j_cust, j_cust_extra, j_ord, j_city;
