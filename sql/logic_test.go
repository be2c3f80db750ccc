package sql_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/server"
)

// The logic tests run scripts of statements and queries (testdata/logic)
// against a one-node in-process cluster, one connection and one fresh
// database per file, through pgx over the real wire protocol. Expected
// outputs are golden: regenerate with -rewrite and review the diff.
//
//	exec            runs statements; prints "ok" or the error
//	query           runs one query; prints the column names, then the rows
//	query-args args=(a,b,...)
//	                runs one query through the extended protocol with the
//	                given parameters (sent as text, typed by the server)
//
// Results print in text format; NULL prints as NULL; errors as
// "ERROR <SQLSTATE>: <message>".

var (
	logicOnce    sync.Once
	logicCluster *testcluster.Cluster
	logicAddr    string
)

const logicPassword = "logic-test-pw"

func startLogicCluster(t *testing.T) string {
	t.Helper()
	return startSQLCluster(t).Server(1).SQLAddr()
}

// startSQLCluster starts a one-node cluster serving SQL on a free port.
func startSQLCluster(t *testing.T) *testcluster.Cluster {
	t.Helper()
	return testcluster.Start(t, testcluster.Options{Nodes: 1, Configure: func(i int, cfg *server.Config) {
		cfg.SQLAddr = "127.0.0.1:0"
		cfg.RootPassword = logicPassword
		cfg.Replicas = 1
	}})
}

func connect(t *testing.T, addr, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := fmt.Sprintf("postgres://root:%s@%s/%s?sslmode=require", logicPassword, addr, db)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestLogic(t *testing.T) {
	addr := startLogicCluster(t)
	datadriven.Walk(t, "testdata/logic", func(t *testing.T, path string) {
		db := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		db = strings.ReplaceAll(db, "-", "_")
		admin := connect(t, addr, "postgres")
		create := "CREATE DATABASE " + db
		if strings.HasPrefix(db, "sharded") {
			// Files named sharded* get a database sharded by tenant_id.
			create += " WITH shard_key = 'tenant_id'"
		}
		if _, err := admin.Exec(context.Background(), create); err != nil {
			t.Fatalf("create database: %v", err)
		}
		conn := connect(t, addr, db)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			switch d.Cmd {
			case "exec":
				var out []string
				for _, stmt := range splitScript(d.Input) {
					if _, err := conn.Exec(ctx, stmt); err != nil {
						out = append(out, formatErr(err))
					} else {
						out = append(out, "ok")
					}
				}
				return strings.Join(out, "\n") + "\n"
			case "query":
				return runQuery(ctx, conn, d.Input, pgx.QueryExecModeSimpleProtocol)
			case "query-args":
				args := []any{pgx.QueryExecModeCacheStatement, pgx.QueryResultFormats{pgx.TextFormatCode}}
				for _, a := range d.CmdArgs {
					if a.Key == "args" {
						for _, v := range a.Vals {
							args = append(args, v)
						}
					}
				}
				return runQuery(ctx, conn, d.Input, args...)
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// splitScript splits on lines ending with ";".
func splitScript(s string) []string {
	var out []string
	var cur []string
	for _, l := range strings.Split(s, "\n") {
		cur = append(cur, l)
		if strings.HasSuffix(strings.TrimSpace(l), ";") {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	if rest := strings.TrimSpace(strings.Join(cur, "\n")); rest != "" {
		out = append(out, rest)
	}
	return out
}

func runQuery(ctx context.Context, conn *pgx.Conn, sql string, args ...any) string {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return formatErr(err) + "\n"
	}
	defer rows.Close()
	var b strings.Builder
	var names []string
	for _, f := range rows.FieldDescriptions() {
		names = append(names, f.Name)
	}
	b.WriteString(strings.Join(names, " | ") + "\n")
	for rows.Next() {
		raw := rows.RawValues()
		vals := make([]string, len(raw))
		for i, r := range raw {
			if r == nil {
				vals[i] = "NULL"
			} else {
				vals[i] = string(r)
			}
		}
		b.WriteString(strings.Join(vals, " | ") + "\n")
	}
	if err := rows.Err(); err != nil {
		b.WriteString(formatErr(err) + "\n")
	}
	return b.String()
}

func formatErr(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("ERROR %s: %s", pe.Code, pe.Message)
	}
	return "ERROR: " + err.Error()
}
