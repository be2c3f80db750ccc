// Package client is the Go SDK of shard's HTTP management API (package
// api): typed calls, problem documents as *Problem errors, pages followed
// for lists. The CLI and the tests use it.
//
//	c := client.New("http://localhost:8080", token)
//	db, err := c.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: "shop", ShardKey: "tenant_id"})
//	// db.ConnectionString works with any PostgreSQL driver at once.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shardingsystem/shard/api"
)

// Client calls one node's API; any node serves the whole cluster.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the API at baseURL ("http://host:8080") with a
// bearer token.
func New(baseURL, token string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{Timeout: 2 * time.Minute}}
}

// Problem is an error answer of the API (RFC 9457).
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%s (%d %s)", p.Detail, p.Status, p.Code)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Code)
}

// Option changes one call.
type Option func(*http.Request)

// IdempotencyKey sends an Idempotency-Key: a retried POST is carried out
// once, and the retry gets the first answer.
func IdempotencyKey(key string) Option {
	return func(r *http.Request) { r.Header.Set("Idempotency-Key", key) }
}

// do sends a request and decodes a JSON answer into out (nil: none).
func (c *Client) do(ctx context.Context, method, path string, in, out any, opts ...Option) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the shard API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(b, p) != nil || p.Code == "" {
			p.Code, p.Detail = "http_error", strings.TrimSpace(string(b))
		}
		return p
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the shard API answered %s %s with bad JSON: %w", method, path, err)
	}
	return nil
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// all follows a list's pages.
func all[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var out []T
	cursor := ""
	for {
		p := path + "?limit=1000"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg page[T]
		if err := c.do(ctx, http.MethodGet, p, nil, &pg); err != nil {
			return nil, err
		}
		out = append(out, pg.Items...)
		if pg.NextCursor == "" {
			return out, nil
		}
		cursor = pg.NextCursor
	}
}

// CreateDatabase creates a database; the answer holds the owner's
// password and a connection string, shown this once.
func (c *Client) CreateDatabase(ctx context.Context, req api.CreateDatabaseRequest, opts ...Option) (*api.Database, error) {
	var db api.Database
	if err := c.do(ctx, http.MethodPost, "/v1/databases", req, &db, opts...); err != nil {
		return nil, err
	}
	return &db, nil
}

// ListDatabases lists the account's databases (all, for the admin).
func (c *Client) ListDatabases(ctx context.Context) ([]api.Database, error) {
	return all[api.Database](ctx, c, "/v1/databases")
}

// GetDatabase returns one database.
func (c *Client) GetDatabase(ctx context.Context, name string) (*api.Database, error) {
	var db api.Database
	if err := c.do(ctx, http.MethodGet, "/v1/databases/"+url.PathEscape(name), nil, &db); err != nil {
		return nil, err
	}
	return &db, nil
}

// DeleteDatabase drops a database and its data.
func (c *Client) DeleteDatabase(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/databases/"+url.PathEscape(name), nil, nil)
}

// Shards returns a database's ranges with their size, load and placement.
func (c *Client) Shards(ctx context.Context, name string) ([]api.Shard, error) {
	var pg page[api.Shard]
	err := c.do(ctx, http.MethodGet, "/v1/databases/"+url.PathEscape(name)+"/shards", nil, &pg)
	return pg.Items, err
}

// Events returns the controller's events about a database.
func (c *Client) Events(ctx context.Context, name string, limit int) ([]api.Event, error) {
	var pg page[api.Event]
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/databases/%s/events?limit=%d", url.PathEscape(name), limit), nil, &pg)
	return pg.Items, err
}

// Usage returns a database's metered use and quotas.
func (c *Client) Usage(ctx context.Context, name string) (*api.Usage, error) {
	var u api.Usage
	if err := c.do(ctx, http.MethodGet, "/v1/databases/"+url.PathEscape(name)+"/usage", nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) ([]api.Node, error) {
	return all[api.Node](ctx, c, "/v1/nodes")
}

// Cluster returns the cluster's health.
func (c *Client) Cluster(ctx context.Context) (*api.Cluster, error) {
	var cl api.Cluster
	if err := c.do(ctx, http.MethodGet, "/v1/cluster", nil, &cl); err != nil {
		return nil, err
	}
	return &cl, nil
}

// CreateToken creates an API token; the secret is in the answer only.
func (c *Client) CreateToken(ctx context.Context, req api.CreateTokenRequest, opts ...Option) (*api.Token, error) {
	var t api.Token
	if err := c.do(ctx, http.MethodPost, "/v1/tokens", req, &t, opts...); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTokens lists tokens, without their secrets.
func (c *Client) ListTokens(ctx context.Context) ([]api.Token, error) {
	return all[api.Token](ctx, c, "/v1/tokens")
}

// DeleteToken deletes a token.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, nil)
}

// Templates lists the database templates.
func (c *Client) Templates(ctx context.Context) ([]api.Template, error) {
	var pg page[api.Template]
	err := c.do(ctx, http.MethodGet, "/v1/templates", nil, &pg)
	return pg.Items, err
}

// FlushStore has the node this client calls write its store's memtables
// to sstables (POST /debug/store/flush; the admin token only). It is the
// node's own store, not the cluster's: call it on every node.
func (c *Client) FlushStore(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/debug/store/flush", nil, nil)
}
