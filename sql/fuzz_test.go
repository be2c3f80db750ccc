package sql

import (
	"context"
	"testing"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
	"github.com/shardingsystem/shard/wire"
)

// fuzzSession returns a session over a fixed catalog and no cluster: it can
// parse and plan every statement, and run those that need no data.
func fuzzSession(t testing.TB) *Session {
	db := &catalog.Database{ID: 1, Name: "postgres", Owner: "root"}
	tbl := &catalog.Table{ID: 2, DB: 1, Name: "t", Owner: "root", Primary: 1, ShardColumn: 1, NextColumnID: 4, NextIndexID: 3,
		Columns: []*catalog.Column{
			{ID: 1, Name: "id", Type: types.Int8, NotNull: true},
			{ID: 2, Name: "name", Type: types.Text},
			{ID: 3, Name: "v", Type: types.Numeric, Default: "0"},
		},
		Indexes: []*catalog.Index{
			{ID: 1, Name: "t_pkey", Columns: []uint32{1}, Unique: true, Primary: true, Constraint: true},
			{ID: 2, Name: "t_name_key", Columns: []uint32{2}, Unique: true, Global: true, Constraint: true},
		}}
	root := &catalog.Role{Name: "root", Superuser: true, Login: true, ID: 1}
	cache := catalog.NewCache(nil)
	cache.Install(catalog.New(1, []*catalog.Database{db}, []*catalog.Table{tbl}, []*catalog.Role{root}))
	srv := NewServer(Config{NodeID: 1, Catalog: cache})
	return srv.newSession(root, db, wire.ConnectParams{User: "root", Database: "postgres"})
}

// FuzzPrepare feeds arbitrary statement text to the parser and planner: any
// input must give a statement or an error, never a panic.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "SELECT * FROM t WHERE id = $1", "INSERT INTO t VALUES (1, 'a', 2) ON CONFLICT (id) DO UPDATE SET name = excluded.name RETURNING *",
		"UPDATE t SET v = v + 1 WHERE name LIKE 'a%'", "DELETE FROM t WHERE id IN (SELECT id FROM t)",
		"SELECT name, count(*) FROM t GROUP BY name HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 3",
		"SELECT a.id FROM t a LEFT JOIN t b ON a.id = b.id", "BEGIN", "SET search_path = public", "SHOW ALL",
		"CREATE TABLE x (a int primary key)", "EXPLAIN SELECT * FROM t", "COPY t FROM STDIN", "SELECT $1::int + 1",
		"SELECT CASE WHEN id > 1 THEN 'a' ELSE NULL END FROM t", "VALUES (1), (2)", "SELECT * FROM generate_series(1, 3)",
		"SELECT name FROM t WHERE v > $1 AND name LIKE 'a%' LIMIT $2", "SELECT name, sum(v), avg(id), min(name) FROM t WHERE v <> 0 GROUP BY name",
		"SELECT count(*) FROM t WHERE v > (SELECT max(v) FROM t) AND now() > '2000-01-01'",
	} {
		f.Add(s)
	}
	se := fuzzSession(f)
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4096 {
			return
		}
		st, err := se.Prepare(context.Background(), q, nil)
		if err != nil {
			if pe, ok := err.(interface{ Error() string }); ok && pe.Error() != "" && isInternal(err) {
				t.Fatalf("internal error for %q: %v", q, err)
			}
			return
		}
		_ = st.ParamTypes()
		_ = st.Columns()
		se.state = txnIdle
	})
}

func isInternal(err error) bool {
	return len(err.Error()) >= 14 && err.Error()[:14] == "internal error"
}
