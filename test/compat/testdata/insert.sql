-- INSERT: multi-row VALUES, DEFAULT, INSERT ... SELECT, RETURNING,
-- ON CONFLICT DO NOTHING and DO UPDATE with EXCLUDED.
\set VERBOSITY sqlstate

CREATE TABLE ins_kv (k int PRIMARY KEY, v text NOT NULL DEFAULT 'dflt', n int DEFAULT 7);
INSERT INTO ins_kv VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3);
INSERT INTO ins_kv (k) VALUES (4);
INSERT INTO ins_kv VALUES (5, DEFAULT, DEFAULT);
INSERT INTO ins_kv (n, k) VALUES (60, 6);
INSERT INTO ins_kv (k, v) VALUES (7, 'g') RETURNING *;
INSERT INTO ins_kv (k, v) VALUES (8, 'h'), (9, 'i') RETURNING k, upper(v) AS up, n * 2 AS twice;
SELECT * FROM ins_kv ORDER BY k;

-- Errors leave the table as it was.
INSERT INTO ins_kv DEFAULT VALUES;
INSERT INTO ins_kv (k, v) VALUES (10, NULL);
INSERT INTO ins_kv (k, nosuch) VALUES (10, 1);
INSERT INTO ins_kv VALUES (10, 'a', 1, 'extra');
INSERT INTO ins_kv VALUES (10, 'j'), (1, 'dup');
SELECT count(*) FROM ins_kv;

-- ON CONFLICT DO NOTHING.
INSERT INTO ins_kv VALUES (1, 'dup') ON CONFLICT DO NOTHING;
INSERT INTO ins_kv VALUES (1, 'dup'), (10, 'j') ON CONFLICT DO NOTHING RETURNING k;
INSERT INTO ins_kv VALUES (2, 'dup') ON CONFLICT (k) DO NOTHING RETURNING k;

-- ON CONFLICT DO UPDATE.
INSERT INTO ins_kv VALUES (1, 'new') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, n = ins_kv.n + 100 RETURNING *;
INSERT INTO ins_kv VALUES (2, 'x'), (11, 'k') ON CONFLICT (k) DO UPDATE SET v = ins_kv.v || EXCLUDED.v RETURNING k, v, n;
INSERT INTO ins_kv VALUES (1, 'z'), (3, 'z') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v WHERE ins_kv.n > 100 RETURNING k, v;
INSERT INTO ins_kv VALUES (3, 'a'), (3, 'b') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;
INSERT INTO ins_kv VALUES (4, 'q') ON CONFLICT (nosuch) DO NOTHING;
INSERT INTO ins_kv VALUES (4, 'q') ON CONFLICT (v) DO NOTHING;
SELECT * FROM ins_kv ORDER BY k;

-- ON CONFLICT on a UNIQUE column that is not the primary key.
CREATE TABLE ins_u (id int PRIMARY KEY, email text UNIQUE, hits int NOT NULL DEFAULT 0);
INSERT INTO ins_u VALUES (1, 'a@example.com', 1);
INSERT INTO ins_u VALUES (2, 'a@example.com', 1) ON CONFLICT (email) DO UPDATE SET hits = ins_u.hits + EXCLUDED.hits RETURNING *;
INSERT INTO ins_u VALUES (3, 'b@example.com', 1) ON CONFLICT (email) DO UPDATE SET hits = ins_u.hits + EXCLUDED.hits RETURNING *;
INSERT INTO ins_u VALUES (3, 'c@example.com', 1) ON CONFLICT (email) DO NOTHING;
INSERT INTO ins_u VALUES (4, 'b@example.com', 1) ON CONFLICT (id) DO NOTHING;
SELECT * FROM ins_u ORDER BY id;

-- INSERT ... SELECT.
INSERT INTO ins_kv (k, v, n) SELECT k + 100, v || '-copy', n FROM ins_kv WHERE k <= 3;
INSERT INTO ins_u (id, email) SELECT k, 'x' || k || '@example.com' FROM ins_kv WHERE k BETWEEN 5 AND 6 ORDER BY k RETURNING id, email, hits;
SELECT * FROM ins_kv WHERE k > 100 ORDER BY k;
SELECT count(*), sum(n) FROM ins_kv;

DROP TABLE ins_kv, ins_u;
