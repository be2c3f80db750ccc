package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte { return openAPIDoc }

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Handler serves the API.
type Handler struct {
	b   Backend
	log *slog.Logger
	mux *http.ServeMux
}

// NewHandler returns the API's handler; Register adds its routes to a mux.
func NewHandler(b Backend, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{b: b, log: log, mux: http.NewServeMux()}
	h.routes()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Register adds the API's routes (/v1/...) to mux.
func (h *Handler) Register(mux *http.ServeMux) { mux.Handle("/v1/", h) }

// route is one endpoint: its method and path pattern, and its handler.
type route struct {
	pattern string
	handler func(h *Handler) http.HandlerFunc
}

// routes are the API's endpoints; Routes and the OpenAPI test read them.
var routes = []route{
	{"GET /v1/openapi.json", func(h *Handler) http.HandlerFunc { return serveOpenAPI }},
	{"POST /v1/databases", func(h *Handler) http.HandlerFunc { return h.auth(h.idempotent(h.createDatabase)) }},
	{"GET /v1/databases", func(h *Handler) http.HandlerFunc { return h.auth(h.listDatabases) }},
	{"GET /v1/databases/{name}", func(h *Handler) http.HandlerFunc { return h.auth(h.getDatabase) }},
	{"DELETE /v1/databases/{name}", func(h *Handler) http.HandlerFunc { return h.auth(h.deleteDatabase) }},
	{"GET /v1/databases/{name}/shards", func(h *Handler) http.HandlerFunc { return h.auth(h.shards) }},
	{"GET /v1/databases/{name}/events", func(h *Handler) http.HandlerFunc { return h.auth(h.events) }},
	{"GET /v1/databases/{name}/usage", func(h *Handler) http.HandlerFunc { return h.auth(h.usage) }},
	{"GET /v1/nodes", func(h *Handler) http.HandlerFunc { return h.auth(h.nodes) }},
	{"GET /v1/cluster", func(h *Handler) http.HandlerFunc { return h.auth(h.cluster) }},
	{"POST /v1/tokens", func(h *Handler) http.HandlerFunc { return h.auth(h.idempotent(h.createToken)) }},
	{"GET /v1/tokens", func(h *Handler) http.HandlerFunc { return h.auth(h.listTokens) }},
	{"DELETE /v1/tokens/{id}", func(h *Handler) http.HandlerFunc { return h.auth(h.deleteToken) }},
	{"GET /v1/templates", func(h *Handler) http.HandlerFunc { return h.auth(h.templates) }},
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}

// routes registers every endpoint, and a fallback that answers 405 for a
// known path called with another method and 404 for any other path.
func (h *Handler) routes() {
	paths := http.NewServeMux() // the endpoints' paths, any method
	seen := map[string]bool{}
	for _, rt := range routes {
		h.mux.HandleFunc(rt.pattern, rt.handler(h))
		_, path, _ := strings.Cut(rt.pattern, " ")
		if !seen[path] {
			seen[path] = true
			paths.HandleFunc(path, func(http.ResponseWriter, *http.Request) {})
		}
	}
	h.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			writeProblem(w, r, Errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s does not take %s", r.URL.Path, r.Method))
			return
		}
		writeProblem(w, r, Errorf(http.StatusNotFound, CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// Routes lists the method and path pattern of every endpoint.
func Routes() []string {
	out := make([]string, 0, len(routes))
	for _, rt := range routes {
		out = append(out, rt.pattern)
	}
	return out
}

type principalKey struct{}

func principal(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// auth requires a valid bearer token.
func (h *Handler) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok = strings.TrimSpace(tok)
		if !ok || tok == "" {
			writeProblem(w, r, Errorf(http.StatusUnauthorized, CodeUnauthorized, "missing bearer token: send Authorization: Bearer TOKEN"))
			return
		}
		p, err := h.b.Authenticate(r.Context(), tok)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// AdminOnly serves next only to the cluster's admin token (401 without a
// valid token, 403 for another token): for node endpoints outside /v1,
// such as /debug/pprof.
func (h *Handler) AdminOnly(next http.Handler) http.HandlerFunc {
	return h.auth(func(w http.ResponseWriter, r *http.Request) {
		if !principal(r.Context()).Admin {
			writeProblem(w, r, Errorf(http.StatusForbidden, CodeForbidden, "only the admin token may use %s", r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// idempotencyTTL is how long an Idempotency-Key's answer is replayed.
const idempotencyTTL = 24 * time.Hour

// idempotent replays the first answer to a POST with the same
// Idempotency-Key (per account).
func (h *Handler) idempotent(next func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeProblem(w, r, Errorf(http.StatusBadRequest, CodeInvalidJSON, "reading the body: %v", err))
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			next(w, r, body)
			return
		}
		if len(key) > 255 {
			writeProblem(w, r, Errorf(http.StatusBadRequest, CodeInvalidArgument, "Idempotency-Key is longer than 255 characters"))
			return
		}
		sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
		hash := hex.EncodeToString(sum[:])
		acct := principal(r.Context()).Account
		prev, claimed, err := h.b.ClaimIdempotent(r.Context(), acct, key, hash)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if !claimed {
			switch {
			case prev.RequestHash != hash:
				writeProblem(w, r, Errorf(http.StatusUnprocessableEntity, CodeIdempotencyReuse, "Idempotency-Key %q was used with another request", key))
			case prev.Pending:
				writeProblem(w, r, Errorf(http.StatusConflict, CodeInProgress, "a request with Idempotency-Key %q is still being carried out", key))
			default:
				w.Header().Set("Content-Type", "application/json")
				if prev.Status >= 400 {
					w.Header().Set("Content-Type", "application/problem+json")
				}
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(prev.Status)
				_, _ = w.Write(prev.Body)
			}
			return
		}
		rec := &recorder{ResponseWriter: w}
		next(rec, r, body)
		var stored *StoredResponse
		if rec.status < 500 {
			// 5xx answers release the key: the request may be retried.
			stored = &StoredResponse{RequestHash: hash, Status: rec.status, Body: rec.body.Bytes(), Created: time.Now()}
		}
		// The answer is already on its way; a failure to store it only
		// costs the replay.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		if err := h.b.FinishIdempotent(ctx, acct, key, stored); err != nil {
			h.log.Warn("api: store the answer of an idempotent request", "key", key, "err", err)
		}
	}
}

// recorder copies a response as it is written.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "the body is not the JSON expected: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "the body holds more than one JSON value")
	}
	return nil
}

// identifier is what database names and shard keys may be: lower-case SQL
// identifiers that need no quoting.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidateCreate checks a create request's fields and fills in the default
// template.
func ValidateCreate(req *CreateDatabaseRequest, ts []Template) error {
	switch {
	case req.Name == "":
		return Errorf(http.StatusBadRequest, CodeInvalidArgument, "name is required")
	case !identifier.MatchString(req.Name):
		return Errorf(http.StatusBadRequest, CodeInvalidArgument, "name %q must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit", req.Name)
	case req.Name == "postgres" || strings.HasPrefix(req.Name, "pg_") || strings.HasPrefix(req.Name, "template"):
		return Errorf(http.StatusBadRequest, CodeInvalidArgument, "name %q is reserved", req.Name)
	case req.ShardKey == "":
		return Errorf(http.StatusBadRequest, CodeInvalidArgument, "shard_key is required: the column that places rows, shared by the tables that have it")
	case !identifier.MatchString(req.ShardKey):
		return Errorf(http.StatusBadRequest, CodeInvalidArgument, "shard_key %q must be a lower-case column name", req.ShardKey)
	}
	if req.Template == "" {
		req.Template = DefaultTemplate
	}
	if _, ok := FindTemplate(ts, req.Template); !ok {
		var names []string
		for _, t := range ts {
			names = append(names, t.Name)
		}
		return Errorf(http.StatusBadRequest, CodeUnknownTemplate, "unknown template %q; the templates are %s", req.Template, strings.Join(names, ", "))
	}
	return nil
}

func (h *Handler) createDatabase(w http.ResponseWriter, r *http.Request, body []byte) {
	var req CreateDatabaseRequest
	if err := decode(body, &req); err != nil {
		writeProblem(w, r, err)
		return
	}
	if err := ValidateCreate(&req, h.b.Templates()); err != nil {
		writeProblem(w, r, err)
		return
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	db, err := h.b.CreateDatabase(r.Context(), principal(r.Context()), req, host)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/databases/"+db.Name)
	writeJSON(w, http.StatusCreated, db)
}

// page is a list response.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// paginate returns the page of items (sorted by key) after the request's
// cursor: ?limit=N (1..1000, default 100) and ?cursor=C from the previous
// page's next_cursor.
func paginate[T any](r *http.Request, items []T, key func(T) string) (page[T], error) {
	limit := defaultPageSize
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return page[T]{}, Errorf(http.StatusBadRequest, CodeInvalidArgument, "limit must be an integer from 1 to %d", maxPageSize)
		}
		limit = n
	}
	after := ""
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			return page[T]{}, Errorf(http.StatusBadRequest, CodeInvalidArgument, "cursor %q is not one this API returned", c)
		}
		after = string(b)
	}
	sort.Slice(items, func(i, j int) bool { return key(items[i]) < key(items[j]) })
	out := page[T]{Items: []T{}}
	for _, it := range items {
		if after != "" && key(it) <= after {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(key(out.Items[len(out.Items)-1])))
			break
		}
		out.Items = append(out.Items, it)
	}
	return out, nil
}

func (h *Handler) listDatabases(w http.ResponseWriter, r *http.Request) {
	dbs, err := h.b.ListDatabases(r.Context(), principal(r.Context()))
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	pg, err := paginate(r, dbs, func(d Database) string { return d.Name })
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pg)
}

func (h *Handler) getDatabase(w http.ResponseWriter, r *http.Request) {
	db, err := h.b.GetDatabase(r.Context(), principal(r.Context()), r.PathValue("name"))
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, db)
}

func (h *Handler) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	if err := h.b.DeleteDatabase(r.Context(), principal(r.Context()), r.PathValue("name")); err != nil {
		writeProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) shards(w http.ResponseWriter, r *http.Request) {
	ss, err := h.b.Shards(r.Context(), principal(r.Context()), r.PathValue("name"))
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page[Shard]{Items: nonNil(ss)})
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	limit := defaultPageSize
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			writeProblem(w, r, Errorf(http.StatusBadRequest, CodeInvalidArgument, "limit must be an integer from 1 to %d", maxPageSize))
			return
		}
		limit = n
	}
	evs, err := h.b.Events(r.Context(), principal(r.Context()), r.PathValue("name"), limit)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page[Event]{Items: nonNil(evs)})
}

func (h *Handler) usage(w http.ResponseWriter, r *http.Request) {
	u, err := h.b.Usage(r.Context(), principal(r.Context()), r.PathValue("name"))
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (h *Handler) nodes(w http.ResponseWriter, r *http.Request) {
	ns, err := h.b.Nodes(r.Context())
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	pg, err := paginate(r, ns, func(n Node) string { return fmt.Sprintf("%020d", n.ID) })
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pg)
}

func (h *Handler) cluster(w http.ResponseWriter, r *http.Request) {
	c, err := h.b.Cluster(r.Context())
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, body []byte) {
	var req CreateTokenRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decode(body, &req); err != nil {
			writeProblem(w, r, err)
			return
		}
	}
	if len(req.Name) > 100 {
		writeProblem(w, r, Errorf(http.StatusBadRequest, CodeInvalidArgument, "name is longer than 100 characters"))
		return
	}
	p := principal(r.Context())
	if req.Account != "" && !p.Admin {
		writeProblem(w, r, Errorf(http.StatusForbidden, CodeForbidden, "only the admin token creates tokens for other accounts"))
		return
	}
	if req.Account != "" && !identifier.MatchString(req.Account) {
		writeProblem(w, r, Errorf(http.StatusBadRequest, CodeInvalidArgument, "account %q must be lower-case letters, digits or underscores", req.Account))
		return
	}
	tok, err := h.b.CreateToken(r.Context(), p, req)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tok)
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := h.b.ListTokens(r.Context(), principal(r.Context()))
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	pg, err := paginate(r, ts, func(t Token) string { return t.ID })
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pg)
}

func (h *Handler) deleteToken(w http.ResponseWriter, r *http.Request) {
	if err := h.b.DeleteToken(r.Context(), principal(r.Context()), r.PathValue("id")); err != nil {
		writeProblem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) templates(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, page[Template]{Items: nonNil(h.b.Templates())})
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// ErrNotFound and friends build the common problems.
func ErrNotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, format, args...)
}
