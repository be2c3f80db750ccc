-- SELECT: expressions, WHERE, ORDER BY (DESC, NULLS FIRST/LAST), LIMIT and
-- OFFSET, DISTINCT, aggregates with GROUP BY and HAVING, IN lists and
-- subqueries, EXISTS, BETWEEN, LIKE and ILIKE, IS [NOT] NULL, CASE,
-- COALESCE, NULLIF and casts.
\set VERBOSITY sqlstate

CREATE TABLE sel_emp (id int PRIMARY KEY, name text NOT NULL, dept text, salary int, bonus numeric(8, 2), hired date);
INSERT INTO sel_emp VALUES
    (1, 'Alice', 'eng', 7000, 500.00, '2019-03-01'),
    (2, 'Bob', 'eng', 6000, NULL, '2020-07-15'),
    (3, 'Carol', 'sales', 5000, 1200.50, '2018-01-10'),
    (4, 'Dave', 'sales', 5000, 300.00, '2021-11-30'),
    (5, 'Eve', 'ops', 4500, NULL, '2022-02-01'),
    (6, 'Frank', NULL, NULL, NULL, NULL),
    (7, 'Grace', 'eng', 9000, 2000.00, '2015-05-05'),
    (8, 'Heidi', 'ops', 4000, 100.00, '2023-08-20'),
    (9, 'Ivan', NULL, 3000, NULL, '2024-01-02'),
    (10, 'Judy', 'eng', 6000, 0.00, '2020-07-15');
CREATE TABLE sel_dept (name text PRIMARY KEY, floor int);
INSERT INTO sel_dept VALUES ('eng', 3), ('sales', 1), ('ops', 2), ('legal', 4);

-- Expressions without a table.
SELECT 1 + 2 * 3 AS a, (1 + 2) * 3 AS b, 7 / 2 AS c, 7.0 / 2 AS d, -5 % 3 AS e, 2 ^ 10 AS f, 'a' || 'b' AS g, NULL IS NULL AS h, -(-3) AS i, 1 < 2 AS j;
SELECT 1 AS one, 'two' AS two, NULL AS three, 4.5 AS four;
SELECT 10 > 5 AND 'b' > 'a' AS both_true, 1 = NULL AS null_eq, NULL = NULL AS null_eq2, 1 <> 2 AS ne, 1 != 1 AS ne2;

-- WHERE and ORDER BY.
SELECT id, name FROM sel_emp WHERE salary > 5000 ORDER BY id;
SELECT id, name FROM sel_emp WHERE salary >= 5000 AND dept = 'sales' OR id = 9 ORDER BY id;
SELECT id, name FROM sel_emp WHERE NOT (salary < 6000) ORDER BY id;
SELECT name, salary FROM sel_emp ORDER BY salary DESC, name;
SELECT name, salary FROM sel_emp ORDER BY salary DESC NULLS LAST, name;
SELECT name, salary FROM sel_emp ORDER BY salary NULLS FIRST, name DESC;
SELECT name, dept FROM sel_emp ORDER BY dept ASC NULLS FIRST, name;
SELECT name, salary * 12 AS yearly FROM sel_emp WHERE salary IS NOT NULL ORDER BY yearly DESC, 1;
SELECT name, hired FROM sel_emp ORDER BY 2 DESC NULLS LAST, 1 LIMIT 4;

-- LIMIT and OFFSET.
SELECT id FROM sel_emp ORDER BY id LIMIT 3;
SELECT id FROM sel_emp ORDER BY id LIMIT 3 OFFSET 2;
SELECT id FROM sel_emp ORDER BY id OFFSET 8;
SELECT id FROM sel_emp ORDER BY id LIMIT 0;
SELECT id FROM sel_emp ORDER BY id DESC LIMIT 2;
SELECT id FROM sel_emp ORDER BY id LIMIT ALL OFFSET 9;

-- DISTINCT.
SELECT DISTINCT dept FROM sel_emp ORDER BY dept NULLS LAST;
SELECT DISTINCT dept, salary FROM sel_emp WHERE dept IS NOT NULL ORDER BY dept, salary;
SELECT count(DISTINCT dept) AS depts, count(DISTINCT salary) AS salaries FROM sel_emp;

-- Aggregates.
SELECT count(*) AS n, count(salary) AS n_salary, sum(salary) AS total, avg(salary) AS mean, min(salary) AS lo, max(salary) AS hi FROM sel_emp;
SELECT sum(bonus) AS bonus_total, avg(bonus) AS bonus_avg, min(hired) AS first, max(name) AS last_name FROM sel_emp;
SELECT dept, count(*) AS n, sum(salary) AS total, round(avg(salary), 2) AS mean, min(salary) AS lo, max(salary) AS hi FROM sel_emp GROUP BY dept ORDER BY dept NULLS FIRST;
SELECT dept, count(*) AS n FROM sel_emp GROUP BY dept HAVING count(*) > 1 ORDER BY n DESC, dept;
SELECT dept, sum(salary) AS total FROM sel_emp WHERE salary > 4000 GROUP BY dept HAVING sum(salary) >= 10000 ORDER BY dept;
SELECT dept, max(salary) - min(salary) AS spread FROM sel_emp GROUP BY 1 ORDER BY 1 NULLS LAST;
SELECT count(*) AS n, sum(salary) AS total, avg(salary) AS mean, max(salary) AS hi FROM sel_emp WHERE id > 100;

-- IN, subqueries, EXISTS.
SELECT id FROM sel_emp WHERE id IN (1, 3, 5, 100) ORDER BY id;
SELECT id FROM sel_emp WHERE id NOT IN (1, 3, 5) ORDER BY id;
SELECT id FROM sel_emp WHERE dept IN ('ops', 'legal') ORDER BY id;
SELECT id FROM sel_emp WHERE salary NOT IN (5000, NULL) ORDER BY id;
SELECT id FROM sel_emp WHERE dept IN (SELECT name FROM sel_dept WHERE floor >= 2) ORDER BY id;
SELECT id FROM sel_emp WHERE dept NOT IN (SELECT name FROM sel_dept WHERE floor >= 2) ORDER BY id;
SELECT name FROM sel_emp WHERE salary = (SELECT max(salary) FROM sel_emp);
SELECT name, (SELECT floor FROM sel_dept d WHERE d.name = e.dept) AS floor FROM sel_emp e ORDER BY id;
SELECT name FROM sel_dept d WHERE EXISTS (SELECT 1 FROM sel_emp e WHERE e.dept = d.name) ORDER BY name;
SELECT name FROM sel_dept d WHERE NOT EXISTS (SELECT 1 FROM sel_emp e WHERE e.dept = d.name) ORDER BY name;
SELECT id FROM sel_emp WHERE salary > (SELECT avg(salary) FROM sel_emp) ORDER BY id;
SELECT dept, n FROM (SELECT dept, count(*) AS n FROM sel_emp GROUP BY dept) AS counts WHERE n >= 2 ORDER BY dept;

-- BETWEEN, LIKE, ILIKE, NULL tests.
SELECT id FROM sel_emp WHERE salary BETWEEN 4500 AND 6000 ORDER BY id;
SELECT id FROM sel_emp WHERE salary NOT BETWEEN 4500 AND 6000 ORDER BY id;
SELECT id FROM sel_emp WHERE hired BETWEEN '2020-01-01' AND '2021-12-31' ORDER BY id;
SELECT name FROM sel_emp WHERE name LIKE 'A%' OR name LIKE '%e' ORDER BY name;
SELECT name FROM sel_emp WHERE name LIKE '_a%' ORDER BY name;
SELECT name FROM sel_emp WHERE name NOT LIKE '%a%' ORDER BY name;
SELECT name FROM sel_emp WHERE name ILIKE '%A%' ORDER BY name;
SELECT name FROM sel_emp WHERE name ILIKE 'j___' ORDER BY name;
SELECT 'a%c' LIKE 'a\%c' AS escaped, 'abc' LIKE 'a\%c' AS escaped2, 'ABC' ILIKE 'abc' AS ci, 'abc' LIKE 'ABC' AS cs;
SELECT id FROM sel_emp WHERE dept IS NULL ORDER BY id;
SELECT id FROM sel_emp WHERE bonus IS NOT NULL AND salary IS NOT NULL ORDER BY id;

-- CASE, COALESCE, NULLIF, casts.
SELECT name, CASE WHEN salary >= 7000 THEN 'high' WHEN salary >= 5000 THEN 'mid' WHEN salary IS NULL THEN 'none' ELSE 'low' END AS band FROM sel_emp ORDER BY id;
SELECT name, CASE dept WHEN 'eng' THEN 1 WHEN 'ops' THEN 2 END AS code FROM sel_emp ORDER BY id;
SELECT name, coalesce(dept, 'none') AS dept, coalesce(bonus, 0) AS bonus, coalesce(NULL, NULL, salary, -1) AS salary FROM sel_emp ORDER BY id;
SELECT nullif(salary, 5000) AS s, nullif('a', 'b') AS t FROM sel_emp WHERE id IN (3, 1) ORDER BY id;
SELECT salary::text || ' EUR' AS pay, CAST(bonus AS int) AS bonus_int, hired::text AS hired_text, '5'::int + 1 AS six, CAST('2024-01-01' AS date) AS d FROM sel_emp WHERE id = 3;
SELECT sum(salary)::float8 / count(*) AS ratio FROM sel_emp WHERE salary IS NOT NULL;

-- ORDER BY an expression of the select list (allowed with DISTINCT), comma
-- joins, and the names PostgreSQL gives to CASE columns.
SELECT DISTINCT e.dept FROM sel_emp e WHERE e.dept IS NOT NULL ORDER BY e.dept;
SELECT DISTINCT lower(e.name) FROM sel_emp e WHERE e.id < 4 ORDER BY lower(e.name) DESC;
SELECT e.name, d.floor FROM sel_emp e, sel_dept d WHERE e.dept = d.name AND d.floor > 1 ORDER BY e.name;
SELECT CASE WHEN salary > 6000 THEN 'high' ELSE dept END, CASE WHEN id = 1 THEN 1 ELSE 0 END FROM sel_emp WHERE id IN (1, 2) ORDER BY id;

DROP TABLE sel_emp, sel_dept;
