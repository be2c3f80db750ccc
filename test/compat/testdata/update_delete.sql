-- UPDATE and DELETE, with WHERE, expressions, subqueries and RETURNING.
\set VERBOSITY sqlstate

CREATE TABLE ud_item (id int PRIMARY KEY, grp text, qty int, price numeric(8, 2));
INSERT INTO ud_item VALUES
    (1, 'a', 10, 1.50),
    (2, 'a', 20, 2.00),
    (3, 'b', 30, 3.25),
    (4, 'b', 40, NULL),
    (5, 'c', 50, 5.00),
    (6, NULL, 60, 6.00);

UPDATE ud_item SET qty = qty + 1 WHERE grp = 'a';
UPDATE ud_item SET price = price * 2, qty = 0 WHERE id = 3 RETURNING *;
UPDATE ud_item SET qty = qty - 1 WHERE qty > 1000 RETURNING id;
UPDATE ud_item SET grp = NULL WHERE id = 1 RETURNING id, grp IS NULL AS grp_is_null;
UPDATE ud_item SET qty = qty * 10 WHERE id IN (SELECT id FROM ud_item WHERE grp = 'b');
UPDATE ud_item SET price = (SELECT max(price) FROM ud_item) WHERE price IS NULL RETURNING id, price;
UPDATE ud_item SET price = DEFAULT WHERE id = 5 RETURNING price;
UPDATE ud_item SET qty = NULL WHERE id = 2 RETURNING qty;
SELECT * FROM ud_item ORDER BY id;

-- Changing the primary key moves the row.
UPDATE ud_item SET id = id + 100 WHERE id = 6 RETURNING id, grp, qty;
SELECT id FROM ud_item WHERE id = 6;
SELECT id, qty FROM ud_item WHERE id = 106;
UPDATE ud_item SET id = 1 WHERE id = 2;
UPDATE ud_item SET nosuch = 1;
UPDATE ud_item SET qty = 'many' WHERE id = 1;
UPDATE nosuch SET qty = 1;
SELECT * FROM ud_item ORDER BY id;

-- Every row.
UPDATE ud_item SET qty = coalesce(qty, 0) + 1;
SELECT sum(qty) FROM ud_item;

-- DELETE.
DELETE FROM ud_item WHERE id = 3 RETURNING *;
DELETE FROM ud_item WHERE id = 3 RETURNING *;
DELETE FROM ud_item WHERE grp = 'b';
DELETE FROM ud_item WHERE qty > (SELECT avg(qty) FROM ud_item);
SELECT * FROM ud_item ORDER BY id;
DELETE FROM ud_item WHERE grp IS NULL AND id < 100 RETURNING id;
DELETE FROM ud_item;
SELECT count(*) FROM ud_item;

DROP TABLE ud_item;
