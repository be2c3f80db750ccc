package sql_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/server"
)

// TestCatalogClients runs, over the wire against a one-node cluster, the
// catalog queries clients send (psql's \dt and \d, pgx's LoadType, ORM
// introspection) and reads every catalog relation through pgx, which
// decodes the types it knows in binary. Expected rows are PostgreSQL 15's
// for the same DDL.
func TestCatalogClients(t *testing.T) {
	const pw = "catalog-test-pw"
	c := testcluster.Start(t, testcluster.Options{Nodes: 1, Configure: func(i int, cfg *server.Config) {
		cfg.SQLAddr = "127.0.0.1:0"
		cfg.RootPassword = pw
		cfg.Replicas = 1
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://root:%s@%s/postgres?sslmode=require", pw, c.Server(1).SQLAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, ddl := range []string{
		"CREATE TABLE t (id int PRIMARY KEY, name varchar(20) UNIQUE, n numeric(10,2) DEFAULT 0, tags text[], s serial, note text NOT NULL)",
		"CREATE INDEX t_name_n ON t (name, n)",
		"CREATE TABLE u (a bigint, b bool)",
	} {
		if _, err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	rows := func(q string, args ...any) []string {
		t.Helper()
		rs, err := conn.Query(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var parts []string
			for _, v := range vals {
				if v == nil {
					parts = append(parts, "NULL")
				} else {
					parts = append(parts, fmt.Sprint(v))
				}
			}
			out = append(out, strings.Join(parts, "|"))
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	expect := func(name string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}

	// psql \dt
	expect(`\dt`, rows(`SELECT n.nspname as "Schema", c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2`), []string{"public|t|table|root", "public|u|table|root"})

	// psql \d t: the relation, its columns, its indexes. pgx decodes the
	// empty "char" (attidentity, attgenerated) as rune 0.
	var oid uint32
	if err := conn.QueryRow(ctx, `SELECT c.oid FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid)`).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	expect(`\d t columns`, rows(`SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, oid), []string{
		"id|integer|NULL|true|NULL|0|0",
		"name|character varying(20)|NULL|false|NULL|0|0",
		"n|numeric(10,2)|0|false|NULL|0|0",
		"tags|text[]|NULL|false|NULL|0|0",
		"s|integer|nextval('t_s_seq'::regclass)|true|NULL|0|0",
		"note|text|NULL|true|NULL|0|0",
	})
	expect(`\d t indexes`, rows(`SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid,
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = $1 AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname`, oid), []string{
		"t_pkey|true|true|false|true|PRIMARY KEY (id)|112|false|false|false|0",
		"t_name_key|false|true|false|true|UNIQUE (name)|117|false|false|false|0",
		"t_name_n|false|false|false|true|NULL|NULL|NULL|NULL|false|0",
	})

	// ORM introspection through information_schema.
	expect("information_schema.columns", rows(`SELECT column_name, data_type, is_nullable, column_default, character_maximum_length, numeric_precision, numeric_scale, udt_name
FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 't' ORDER BY ordinal_position`), []string{
		"id|integer|NO|NULL|NULL|32|0|int4",
		"name|character varying|YES|NULL|20|NULL|NULL|varchar",
		"n|numeric|YES|0|NULL|10|2|numeric",
		"tags|ARRAY|YES|NULL|NULL|NULL|NULL|_text",
		"s|integer|NO|nextval('t_s_seq'::regclass)|NULL|32|0|int4",
		"note|text|NO|NULL|NULL|NULL|NULL|text",
	})
	expect("primary keys", rows(`SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' ORDER BY 1, 2`), []string{"t|id"})
	// Django's sequence discovery.
	expect("serial sequences", rows(`SELECT s.relname, a.attname FROM pg_class s
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
JOIN pg_attribute a ON d.refobjid = a.attrelid AND d.refobjsubid = a.attnum
JOIN pg_class tbl ON tbl.oid = d.refobjid AND tbl.relname = 't' AND pg_catalog.pg_table_is_visible(tbl.oid)
WHERE s.relkind = 'S'`), []string{"t_s_seq|s"})

	// pgx's type loading.
	if typ, err := conn.LoadType(ctx, "_int4"); err != nil || typ.OID != 1007 {
		t.Errorf("LoadType(_int4) = %v, %v", typ, err)
	}

	// Every catalog relation can be read and decoded.
	rels := rows(`SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'v')`)
	if len(rels) < 200 {
		t.Errorf("%d catalog relations in pg_class", len(rels))
	}
	for _, rel := range rels {
		rows("SELECT * FROM " + rel)
	}
}
