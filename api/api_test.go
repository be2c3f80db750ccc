package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
)

// fake is an in-memory Backend.
type fake struct {
	mu      sync.Mutex
	dbs     map[string]Database
	creates int
	idem    map[string]StoredResponse
}

func newFake() *fake { return &fake{dbs: map[string]Database{}, idem: map[string]StoredResponse{}} }

func (f *fake) Authenticate(_ context.Context, tok string) (Principal, error) {
	switch tok {
	case "admin":
		return Principal{Account: "admin", Admin: true}, nil
	case "alice":
		return Principal{Account: "alice"}, nil
	}
	return Principal{}, Errorf(http.StatusUnauthorized, CodeUnauthorized, "bad token")
}

func (f *fake) CreateDatabase(_ context.Context, p Principal, req CreateDatabaseRequest, host string) (*Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	if _, ok := f.dbs[req.Name]; ok {
		return nil, Errorf(http.StatusConflict, CodeAlreadyExists, "exists")
	}
	d := Database{ID: uint32(len(f.dbs) + 1), Name: req.Name, ShardKey: req.ShardKey, Template: req.Template, Account: p.Account, State: "ready",
		Owner: Owner{Role: req.Name + "_owner", Password: "pw"}, ConnectionString: "postgresql://x@" + host + "/" + req.Name}
	f.dbs[req.Name] = d
	return &d, nil
}

func (f *fake) ListDatabases(context.Context, Principal) ([]Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Database
	for _, d := range f.dbs {
		out = append(out, d)
	}
	return out, nil
}

func (f *fake) GetDatabase(_ context.Context, _ Principal, name string) (*Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.dbs[name]
	if !ok {
		return nil, ErrNotFound("no database %q", name)
	}
	return &d, nil
}

func (f *fake) DeleteDatabase(_ context.Context, _ Principal, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.dbs[name]; !ok {
		return ErrNotFound("no database %q", name)
	}
	delete(f.dbs, name)
	return nil
}

func (f *fake) Shards(context.Context, Principal, string) ([]Shard, error)      { return nil, nil }
func (f *fake) Events(context.Context, Principal, string, int) ([]Event, error) { return nil, nil }
func (f *fake) Usage(context.Context, Principal, string) (*Usage, error)        { return &Usage{}, nil }
func (f *fake) Nodes(context.Context) ([]Node, error)                           { return nil, nil }
func (f *fake) Cluster(context.Context) (*Cluster, error)                       { return &Cluster{Status: "ok"}, nil }
func (f *fake) CreateToken(_ context.Context, p Principal, req CreateTokenRequest) (*Token, error) {
	return &Token{ID: "t1", Name: req.Name, Account: p.Account, Token: "secret"}, nil
}
func (f *fake) ListTokens(context.Context, Principal) ([]Token, error) { return nil, nil }
func (f *fake) DeleteToken(context.Context, Principal, string) error   { return nil }
func (f *fake) Templates() []Template                                  { return DefaultTemplates() }

func (f *fake) ClaimIdempotent(_ context.Context, acct, key, hash string) (*StoredResponse, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.idem[acct+"/"+key]; ok {
		return &r, false, nil
	}
	f.idem[acct+"/"+key] = StoredResponse{RequestHash: hash, Pending: true}
	return nil, true, nil
}

func (f *fake) FinishIdempotent(_ context.Context, acct, key string, r *StoredResponse) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r == nil {
		delete(f.idem, acct+"/"+key)
	} else {
		f.idem[acct+"/"+key] = *r
	}
	return nil
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// wantProblem checks an answer is a problem document with status and code.
func wantProblem(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("want a %d problem, got %d %s: %s", status, a.status, a.header.Get("Content-Type"), a.body)
	}
	var p problem
	if err := json.Unmarshal(a.body, &p); err != nil || p.Code != code || p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem body %s (%v), want code %q", a.body, err, code)
	}
}

func TestAuthAndErrors(t *testing.T) {
	srv := httptest.NewServer(NewHandler(newFake(), nil))
	defer srv.Close()
	wantProblem(t, call(t, srv, "GET", "/v1/databases", "", ""), 401, CodeUnauthorized)
	a := call(t, srv, "GET", "/v1/databases", "nope", "")
	wantProblem(t, a, 401, CodeUnauthorized)
	if a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", "{not json"), 400, CodeInvalidJSON)
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"a","shard_key":"k","color":"red"}`), 400, CodeInvalidJSON)
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"a","shard_key":"k","template":"huge"}`), 400, CodeUnknownTemplate)
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"A-b","shard_key":"k"}`), 400, CodeInvalidArgument)
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"ok"}`), 400, CodeInvalidArgument)
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"postgres","shard_key":"k"}`), 400, CodeInvalidArgument)
	a = call(t, srv, "POST", "/v1/databases", "alice", `{"name":"shop","shard_key":"tenant_id"}`)
	if a.status != 201 || a.header.Get("Location") != "/v1/databases/shop" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var d Database
	if err := json.Unmarshal(a.body, &d); err != nil || d.Template != DefaultTemplate || d.ConnectionString == "" {
		t.Fatalf("created %+v (%v)", d, err)
	}
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"shop","shard_key":"tenant_id"}`), 409, CodeAlreadyExists)
	wantProblem(t, call(t, srv, "GET", "/v1/databases/none", "alice", ""), 404, CodeNotFound)
	wantProblem(t, call(t, srv, "GET", "/v1/nothing", "alice", ""), 404, CodeNotFound)
	wantProblem(t, call(t, srv, "PUT", "/v1/databases", "alice", ""), 405, CodeMethodNotAllowed)
	wantProblem(t, call(t, srv, "POST", "/v1/databases/shop", "alice", ""), 405, CodeMethodNotAllowed)
	wantProblem(t, call(t, srv, "POST", "/v1/tokens", "alice", `{"account":"bob"}`), 403, CodeForbidden)
	if a := call(t, srv, "DELETE", "/v1/databases/shop", "alice", ""); a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if a := call(t, srv, "GET", "/v1/openapi.json", "", ""); a.status != 200 {
		t.Fatalf("the OpenAPI document needs no token: %d", a.status)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(NewHandler(f, nil))
	defer srv.Close()
	body := `{"name":"shop","shard_key":"tenant_id"}`
	first := call(t, srv, "POST", "/v1/databases", "alice", body, "Idempotency-Key", "k1")
	again := call(t, srv, "POST", "/v1/databases", "alice", body, "Idempotency-Key", "k1")
	if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	if f.creates != 1 {
		t.Fatalf("the backend created %d times, want once", f.creates)
	}
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", `{"name":"other","shard_key":"x"}`, "Idempotency-Key", "k1"), 422, CodeIdempotencyReuse)
	// Another account's key space is its own.
	if a := call(t, srv, "POST", "/v1/databases", "admin", `{"name":"other","shard_key":"x"}`, "Idempotency-Key", "k1"); a.status != 201 {
		t.Fatalf("another account's k1: %d %s", a.status, a.body)
	}
	// A failed request is replayed as failed; a 4xx is an answer too.
	dup := call(t, srv, "POST", "/v1/databases", "alice", body, "Idempotency-Key", "k2")
	wantProblem(t, dup, 409, CodeAlreadyExists)
	wantProblem(t, call(t, srv, "POST", "/v1/databases", "alice", body, "Idempotency-Key", "k2"), 409, CodeAlreadyExists)
}

func TestPagination(t *testing.T) {
	f := newFake()
	for i := range 5 {
		n := fmt.Sprintf("db%d", i)
		f.dbs[n] = Database{Name: n}
	}
	srv := httptest.NewServer(NewHandler(f, nil))
	defer srv.Close()
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		a := call(t, srv, "GET", "/v1/databases?limit=2&cursor="+cursor, "alice", "")
		var pg page[Database]
		if err := json.Unmarshal(a.body, &pg); err != nil || a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		for _, d := range pg.Items {
			names = append(names, d.Name)
		}
		if pg.NextCursor == "" {
			break
		}
		cursor = pg.NextCursor
	}
	if strings.Join(names, ",") != "db0,db1,db2,db3,db4" {
		t.Fatalf("pages gave %v", names)
	}
	wantProblem(t, call(t, srv, "GET", "/v1/databases?limit=0", "alice", ""), 400, CodeInvalidArgument)
	wantProblem(t, call(t, srv, "GET", "/v1/databases?cursor=!!!", "alice", ""), 400, CodeInvalidArgument)
}

// TestOpenAPIDocument keeps openapi.json in step with the code: every
// route is documented and nothing else is, and every schema lists exactly
// the JSON fields of its Go type.
func TestOpenAPIDocument(t *testing.T) {
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" {
				documented = append(documented, strings.ToUpper(m)+" "+path)
			}
		}
	}
	routes := Routes()
	sort.Strings(documented)
	sort.Strings(routes)
	if !reflect.DeepEqual(documented, routes) {
		t.Errorf("openapi.json documents\n%v\nbut the routes are\n%v", documented, routes)
	}
	types := map[string]any{"CreateDatabaseRequest": CreateDatabaseRequest{}, "Database": Database{}, "Owner": Owner{}, "Shard": Shard{},
		"Load": Load{}, "Event": Event{}, "Usage": Usage{}, "Quota": Quota{}, "Node": Node{}, "Cluster": Cluster{}, "NodeCounts": NodeCounts{},
		"RangeCounts": RangeCounts{}, "CreateTokenRequest": CreateTokenRequest{}, "Token": Token{}, "Template": Template{}, "Problem": problem{}}
	for name, v := range types {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		var fields, props []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
			if tag != "" && tag != "-" {
				fields = append(fields, tag)
			}
		}
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(fields)
		sort.Strings(props)
		if !reflect.DeepEqual(fields, props) {
			t.Errorf("schema %s has %v, the Go type %v", name, props, fields)
		}
	}
}
