package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/client"
	"github.com/shardingsystem/shard/internal/pgtest"
	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/server"
)

// e2eTemplates adds a template with test-sized quotas.
const e2eTemplates = `[{"name": "tiny", "max_databases": 2, "max_shards": 3, "storage_bytes": 150000, "initial_shards": 2}]`

// TestE2EPlatform runs the platform API on a 3-node cluster of real
// processes: create a database and use the returned connection string at
// once (pgx and psql), two accounts isolated from each other, quotas
// (databases per account, shards, storage) with their documented errors and
// nothing lost, the API's errors (401, 400, 409, Idempotency-Key replay),
// delete and reuse of a name, and the CLI.
func TestE2EPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	proctest.Binary(t)
	psqlDir := pgtest.Require(t, "", "psql")
	t.Setenv("SHARD_CONFIG_DIR", t.TempDir())
	tmpl := filepath.Join(t.TempDir(), "templates.json")
	if err := os.WriteFile(tmpl, []byte(e2eTemplates), 0o644); err != nil {
		t.Fatal(err)
	}
	c := proctest.NewCluster(t)
	var addrs []string
	for range 3 {
		n := c.AddNode()
		n.SetJoin(addrs...)
		n.SetExtraArgs("--templates", tmpl, "--split-qps", "40", "--split-window", "2s")
		n.Start()
		addrs = append(addrs, n.RPCAddr)
	}
	c.WaitReplicated(3, settle)
	n1, n2 := c.Node(1), c.Node(2)
	tok, err := os.ReadFile(filepath.Join(n1.DataDir, server.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	admin := client.New("http://"+n1.HTTPAddr, strings.TrimSpace(string(tok)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The API's errors.
	raw := func(method, url, token, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type") + " " + string(b)
	}
	base := "http://" + n2.HTTPAddr + "/v1"
	if code, body := raw("GET", base+"/databases", "", ""); code != 401 || !strings.Contains(body, `"code":"unauthorized"`) || !strings.HasPrefix(body, "application/problem+json") {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := raw("GET", base+"/cluster", "shard_not_a_token", ""); code != 401 {
		t.Fatalf("bad token: %d %s", code, body)
	}
	adminTok := strings.TrimSpace(string(tok))
	if code, body := raw("POST", base+"/databases", adminTok, `{"name": "x", `); code != 400 || !strings.Contains(body, `"code":"invalid_json"`) {
		t.Fatalf("bad JSON: %d %s", code, body)
	}
	if code, body := raw("POST", base+"/databases", adminTok, `{"name": "x", "shard_key": "k", "template": "gigantic"}`); code != 400 || !strings.Contains(body, `"code":"unknown_template"`) {
		t.Fatalf("unknown template: %d %s", code, body)
	}

	// An account of its own, through the CLI.
	r := c.Run("token", "create", "--name", "alice's laptop", "--account", "alice", "--api", "http://"+n1.HTTPAddr, "--data-dir", n1.DataDir)
	if !r.OK() || !strings.Contains(r.Stdout, "account alice") {
		t.Fatalf("shard token create: %v", r)
	}
	aliceTok := lastLine(r.Stdout)
	alice := client.New("http://"+n2.HTTPAddr, aliceTok)

	// Create, then connect with the returned string at once.
	start := time.Now()
	var first []byte
	db, err := alice.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "shop", ShardKey: "tenant_id", Template: "tiny"},
		client.IdempotencyKey("create-shop"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Since(start)
	conn, err := pgx.Connect(ctx, db.ConnectionString)
	if err != nil {
		t.Fatalf("connect with %s: %v", db.ConnectionString, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE items (tenant_id int, id int, body text, PRIMARY KEY (tenant_id, id))"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO items VALUES (1, 1, 'first')"); err != nil {
		t.Fatal(err)
	}
	var body string
	if err := conn.QueryRow(ctx, "SELECT body FROM items WHERE tenant_id = 1 AND id = 1").Scan(&body); err != nil || body != "first" {
		t.Fatalf("read back: %q %v", body, err)
	}
	firstQuery := time.Since(start)
	t.Logf("POST /v1/databases answered in %v; table created, row written and read back %v after the POST", created.Round(time.Millisecond), firstQuery.Round(time.Millisecond))
	if firstQuery > time.Second {
		t.Logf("note: more than a second from POST to the first query on this machine")
	}
	if len(db.Shards) != 2 || db.Owner.Role != "shop_owner" || db.Owner.Password == "" || !strings.HasPrefix(db.ConnectionString, "postgresql://shop_owner:") {
		t.Fatalf("created %+v", db)
	}
	// The shard key places rows: a query that fixes it reaches one range.
	var plan []string
	rows, err := conn.Query(ctx, "EXPLAIN SELECT * FROM items WHERE tenant_id = 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "single range") {
		t.Fatalf("EXPLAIN of a query that fixes the shard key:\n%s", strings.Join(plan, "\n"))
	}
	out, err := exec.Command(filepath.Join(psqlDir, "psql"), db.ConnectionString, "-tA", "-c", "SELECT count(*) FROM items").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("psql with the connection string: %s %v", out, err)
	}

	// Idempotency-Key: the replay gets the first answer; duplicates are 409.
	replay := func() []byte {
		req, _ := http.NewRequest("POST", base+"/databases", strings.NewReader(`{"name":"shop","shard_key":"tenant_id","template":"tiny"}`))
		req.Header.Set("Authorization", "Bearer "+aliceTok)
		req.Header.Set("Idempotency-Key", "create-shop")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 201 {
			t.Fatalf("replay: %d %s", resp.StatusCode, b)
		}
		return b
	}
	first = replay()
	if again := replay(); !bytes.Equal(first, again) || !strings.Contains(string(first), db.Owner.Password) {
		t.Fatalf("replays differ or lack the first answer:\n%s\n%s", first, again)
	}
	var p *client.Problem
	if _, err := alice.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "shop", ShardKey: "tenant_id", Template: "tiny"}); !errors.As(err, &p) || p.Status != 409 || p.Code != api.CodeAlreadyExists {
		t.Fatalf("duplicate name: %v", err)
	}

	// Another account: isolated both ways.
	r = c.Run("token", "create", "--account", "bob", "--api", "http://"+n1.HTTPAddr, "--data-dir", n1.DataDir)
	if !r.OK() {
		t.Fatal(r)
	}
	bob := client.New("http://"+n1.HTTPAddr, lastLine(r.Stdout))
	other, err := bob.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "other", ShardKey: "k", Template: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetDatabase(ctx, "shop"); !errors.As(err, &p) || p.Status != 404 {
		t.Fatalf("bob sees alice's database: %v", err)
	}
	cross := strings.Replace(db.ConnectionString, "/shop?", "/other?", 1)
	if c2, err := pgx.Connect(ctx, cross); err == nil {
		c2.Close(ctx)
		t.Fatalf("shop's owner connected to database other")
	} else if code := pgCode(err); code != "42501" && code != "28P01" {
		t.Fatalf("shop's owner connecting to other: %v (SQLSTATE %s)", err, code)
	}
	if c3, err := pgx.Connect(ctx, other.ConnectionString); err != nil {
		t.Fatalf("bob's connection string: %v", err)
	} else {
		var n int
		if err := c3.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'").Scan(&n); err != nil || n != 0 {
			t.Errorf("database other sees shop's table: %d %v", n, err)
		}
		c3.Close(ctx)
	}
	if all, err := admin.ListDatabases(ctx); err != nil || len(all) != 2 {
		t.Fatalf("the admin lists %d databases (%v), want 2", len(all), err)
	}
	// Databases per account: tiny allows 2.
	if _, err := bob.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "other2", ShardKey: "k", Template: "tiny"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "other3", ShardKey: "k", Template: "tiny"}); !errors.As(err, &p) || p.Status != 403 || p.Code != api.CodeQuotaExceeded {
		t.Fatalf("a third tiny database: %v", err)
	}

	// Shards: a write load asks for splits; the cap (3) holds, and an
	// event says why.
	var acked atomic.Int64
	load := func(d time.Duration, rows int) error {
		lctx, lcancel := context.WithTimeout(ctx, d)
		defer lcancel()
		errs := make(chan error, 4)
		for w := range 4 {
			go func() {
				lc, err := pgx.Connect(lctx, db.ConnectionString)
				if err != nil {
					errs <- err
					return
				}
				defer lc.Close(context.Background())
				for i := 0; i < rows && lctx.Err() == nil; i++ {
					_, err := lc.Exec(lctx, "INSERT INTO items VALUES ($1, $2, $3)", 1000+i%500, w*1_000_000+i, strings.Repeat("x", 200))
					if err != nil {
						if lctx.Err() == nil {
							errs <- err
							return
						}
						break
					}
					acked.Add(1)
				}
				errs <- nil
			}()
		}
		var first error
		for range 4 {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	if err := load(12*time.Second, 1<<30); err != nil && pgCode(err) != "53100" {
		t.Fatalf("write load: %v", err)
	}
	// Reads keep the shards hot (a read load is never refused by the
	// storage quota): the controller wants more splits, but the cap holds
	// and an event says so.
	readLoad := func(d time.Duration) {
		lctx, lcancel := context.WithTimeout(ctx, d)
		defer lcancel()
		done := make(chan struct{}, 4)
		for w := range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				lc, err := pgx.Connect(lctx, db.ConnectionString)
				if err != nil {
					return
				}
				defer lc.Close(context.Background())
				for i := w; lctx.Err() == nil; i += 4 {
					var n int
					_ = lc.QueryRow(lctx, "SELECT count(*) FROM items WHERE tenant_id = $1", 1000+i%500).Scan(&n)
				}
			}()
		}
		for range 4 {
			<-done
		}
	}
	var shards []api.Shard
	proctest.WaitFor(t, 90*time.Second, "an event saying shop is at its shard cap", func() error {
		readLoad(3 * time.Second)
		var err error
		if shards, err = alice.Shards(ctx, "shop"); err != nil {
			return err
		}
		if len(shards) > 3 {
			t.Fatalf("shop has %d shards, over the tiny template's cap of 3", len(shards))
		}
		evs, err := alice.Events(ctx, "shop", 1000)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if strings.Contains(e.Message, "cap of its template") {
				t.Logf("event: r%d %s: %s", e.RangeID, e.Kind, e.Message)
				return nil
			}
		}
		return fmt.Errorf("%d shards, no event about the cap yet", len(shards))
	})
	t.Logf("after the loads: %d shards, %d rows written", len(shards), acked.Load())

	// Storage: keep writing until the quota refuses with 53100.
	var quotaErr error
	proctest.WaitFor(t, 60*time.Second, "the storage quota to refuse writes", func() error {
		err := load(3*time.Second, 200)
		if pgCode(err) == "53100" {
			quotaErr = err
			return nil
		}
		u, _ := alice.Usage(ctx, "shop")
		return fmt.Errorf("still writing (usage %+v, last error %v)", u, err)
	})
	t.Logf("over the quota: %v", quotaErr)
	var pe *pgconn.PgError
	if !errors.As(quotaErr, &pe) || !strings.Contains(pe.Message, "storage quota") {
		t.Errorf("the quota error does not say so: %v", quotaErr)
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatalf("reads fail over the quota: %v", err)
	}
	if n != acked.Load()+1 {
		t.Fatalf("%d rows, but %d inserts were acknowledged", n, acked.Load()+1)
	}
	if _, err := conn.Exec(ctx, "DELETE FROM items WHERE tenant_id = 1000"); err != nil {
		t.Fatalf("deletes fail over the quota: %v", err)
	}
	u, err := alice.Usage(ctx, "shop")
	if err != nil || u.StorageBytes < 150000 || u.WriteUnits == 0 || u.ReadUnits == 0 || u.Quota.StorageBytes != 150000 || u.Quota.MaxShards != 3 {
		t.Fatalf("usage %+v %v", u, err)
	}
	t.Logf("usage: %+v", *u)
	// Cluster and nodes.
	cl, err := alice.Cluster(ctx)
	if err != nil || cl.Nodes.Live != 3 || cl.Nodes.Total != 3 {
		t.Fatalf("cluster %+v %v", cl, err)
	}
	if ns, err := alice.Nodes(ctx); err != nil || len(ns) != 3 {
		t.Fatalf("nodes %v %v", ns, err)
	}

	// Delete: the data is gone and the name is free again.
	conn.Close(ctx)
	if r := c.Run("db", "delete", "shop", "--api", "http://"+n2.HTTPAddr, "--token", aliceTok); !r.OK() {
		t.Fatalf("shard db delete: %v", r)
	}
	if _, err := alice.GetDatabase(ctx, "shop"); !errors.As(err, &p) || p.Status != 404 {
		t.Fatalf("deleted database still there: %v", err)
	}
	if c4, err := pgx.Connect(ctx, db.ConnectionString); err == nil {
		c4.Close(ctx)
		t.Fatalf("connected to a deleted database")
	}
	// Its ranges are released: no boundary is left inside its span.
	oldStart := binary.BigEndian.AppendUint32([]byte{'t'}, db.ID)
	oldEnd := keys.PrefixEnd(oldStart)
	proctest.WaitFor(t, 60*time.Second, "the deleted database's ranges to merge away", func() error {
		rs, err := n1.Ranges()
		if err != nil {
			return err
		}
		for _, r := range rs {
			if k, err := keys.Parse(r.Start); err == nil && bytes.Compare(k, oldStart) > 0 && bytes.Compare(k, oldEnd) < 0 {
				return fmt.Errorf("r%d still starts inside the deleted database's span, at %s", r.ID, r.Start)
			}
		}
		return nil
	})
	span := fmt.Sprintf(`t\x00\x00\x00\x%02x`, db.ID)
	if r := n1.CLI("kv", "scan", span, span+`\xff`, "--json"); !r.OK() || strings.TrimSpace(r.Stdout) != "[]" {
		t.Fatalf("the deleted database's keys are still there: %v", r)
	}
	r = c.Run("db", "create", "shop", "--shard-key", "tenant_id", "--template", "tiny", "--api", "http://"+n2.HTTPAddr, "--token", aliceTok)
	if !r.OK() || !strings.Contains(r.Stdout, "postgresql://shop_owner:") {
		t.Fatalf("shard db create of the freed name: %v", r)
	}
	again, err := alice.GetDatabase(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == db.ID {
		t.Fatalf("the new shop reuses the old id %d", db.ID)
	}
	conn2 := r.Stdout[strings.Index(r.Stdout, "postgresql://"):]
	conn2 = conn2[:strings.IndexAny(conn2, "\n '")]
	c5, err := pgx.Connect(ctx, conn2)
	if err != nil {
		t.Fatal(err)
	}
	defer c5.Close(context.Background())
	if _, err := c5.Exec(ctx, "SELECT * FROM items"); pgCode(err) != "42P01" {
		t.Fatalf("the new shop sees the old one's table: %v", err)
	}
	if r := c.Run("db", "list", "--api", "http://"+n1.HTTPAddr, "--data-dir", n1.DataDir); !r.OK() || !strings.Contains(r.Stdout, "shop") || !strings.Contains(r.Stdout, "other2") {
		t.Fatalf("shard db list: %v", r)
	}
	if r := c.Run("db", "create", "x", "--api", "http://"+n1.HTTPAddr, "--data-dir", n1.DataDir); r.Code != 2 || !strings.Contains(r.Stderr, "--shard-key") {
		t.Fatalf("db create without --shard-key: %v", r)
	}
}

// lastLine is the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// pgCode is the SQLSTATE of a PostgreSQL error ("" otherwise).
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
