package api

import (
	"context"
	"time"
)

// Principal is the caller, as its token identifies it.
type Principal struct {
	// Account owns the token; databases belong to accounts.
	Account string
	// TokenID is the token's id.
	TokenID string
	// Admin is set for the cluster's admin token: every account's
	// databases, no template limits, can create tokens for new accounts.
	Admin bool
}

// CreateDatabaseRequest is the body of POST /v1/databases.
type CreateDatabaseRequest struct {
	Name     string `json:"name"`
	ShardKey string `json:"shard_key"`
	Template string `json:"template,omitempty"`
}

// Database is a database as the API shows it.
type Database struct {
	ID        uint32    `json:"id"`
	Name      string    `json:"name"`
	ShardKey  string    `json:"shard_key"`
	Template  string    `json:"template"`
	Account   string    `json:"account"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	Shards    []Shard   `json:"shards"`
	Owner     Owner     `json:"owner"`
	// ConnectionString is set only in the response that created the
	// database: it holds the owner's password.
	ConnectionString string `json:"connection_string,omitempty"`
}

// Owner is a database's owner role; the password is set only in the
// response that created it.
type Owner struct {
	Role     string `json:"role"`
	Password string `json:"password,omitempty"`
}

// Shard is one range of a database.
type Shard struct {
	RangeID   uint64   `json:"range_id"`
	StartKey  string   `json:"start_key"`
	EndKey    string   `json:"end_key"`
	Replicas  []uint64 `json:"replicas"`
	Leader    uint64   `json:"leader"`
	SizeBytes uint64   `json:"size_bytes"`
	Keys      uint64   `json:"keys"`
	Load      Load     `json:"load"`
}

// Load is a range's recent load, as its leader reported it.
type Load struct {
	ReadsPerSec      float64 `json:"reads_per_sec"`
	WritesPerSec     float64 `json:"writes_per_sec"`
	WriteBytesPerSec float64 `json:"write_bytes_per_sec"`
	// CPU is serving time per second: the share of one core.
	CPU float64 `json:"cpu"`
}

// Event is a decision or non-decision of the controller.
type Event struct {
	Time    time.Time `json:"time"`
	RangeID uint64    `json:"range_id,omitempty"`
	NodeID  uint64    `json:"node_id,omitempty"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// Usage is a database's metered use and its quotas.
type Usage struct {
	Database     string `json:"database"`
	StorageBytes uint64 `json:"storage_bytes"`
	ReadUnits    uint64 `json:"read_units"`
	WriteUnits   uint64 `json:"write_units"`
	Shards       int    `json:"shards"`
	// Quota is the template's: 0 means unlimited.
	Quota Quota `json:"quota"`
}

// Quota is what a template allows a database (0: unlimited).
type Quota struct {
	MaxShards    int    `json:"max_shards"`
	StorageBytes uint64 `json:"storage_bytes"`
}

// Node is one node of the cluster.
type Node struct {
	ID       uint64 `json:"id"`
	RPCAddr  string `json:"rpc_addr"`
	SQLAddr  string `json:"sql_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	State    string `json:"state"`
	Live     bool   `json:"live"`
	Replicas uint64 `json:"replicas"`
	Leaders  uint64 `json:"leaders"`
}

// Cluster is the cluster's health.
type Cluster struct {
	ClusterID string `json:"cluster_id"`
	// Status is "ok", or "degraded" when a node is dead or a range is
	// short of replicas.
	Status string      `json:"status"`
	Nodes  NodeCounts  `json:"nodes"`
	Ranges RangeCounts `json:"ranges"`
}

// NodeCounts counts nodes by liveness.
type NodeCounts struct {
	Total int `json:"total"`
	Live  int `json:"live"`
	Dead  int `json:"dead"`
}

// RangeCounts counts ranges.
type RangeCounts struct {
	Total           int `json:"total"`
	UnderReplicated int `json:"under_replicated"`
}

// CreateTokenRequest is the body of POST /v1/tokens. Account is honoured
// only for the admin, who creates tokens for new accounts (a new account
// id when empty); other callers create tokens of their own account.
type CreateTokenRequest struct {
	Name    string `json:"name"`
	Account string `json:"account,omitempty"`
}

// Token is an API token; Token (the secret) is set only in the response
// that created it.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Account   string    `json:"account"`
	CreatedAt time.Time `json:"created_at"`
	Token     string    `json:"token,omitempty"`
}

// StoredResponse is the first answer to a POST with an Idempotency-Key.
type StoredResponse struct {
	// RequestHash identifies the request body the key was first used with.
	RequestHash string `json:"request_hash"`
	Status      int    `json:"status"`
	Body        []byte `json:"body"`
	// Pending is set while the first request is being carried out.
	Pending bool      `json:"pending,omitempty"`
	Created time.Time `json:"created"`
}

// Backend carries out the API's calls. Errors it returns are *Error (a
// problem with a status and code) or anything else (500).
type Backend interface {
	// Authenticate returns the principal of a bearer token, or an error
	// with status 401.
	Authenticate(ctx context.Context, token string) (Principal, error)

	// CreateDatabase creates a database, its owner role and its initial
	// shards; sqlHost is the host name the caller reached this API at,
	// for the connection string.
	CreateDatabase(ctx context.Context, p Principal, req CreateDatabaseRequest, sqlHost string) (*Database, error)
	ListDatabases(ctx context.Context, p Principal) ([]Database, error)
	GetDatabase(ctx context.Context, p Principal, name string) (*Database, error)
	DeleteDatabase(ctx context.Context, p Principal, name string) error
	Shards(ctx context.Context, p Principal, name string) ([]Shard, error)
	Events(ctx context.Context, p Principal, name string, limit int) ([]Event, error)
	Usage(ctx context.Context, p Principal, name string) (*Usage, error)

	Nodes(ctx context.Context) ([]Node, error)
	Cluster(ctx context.Context) (*Cluster, error)

	CreateToken(ctx context.Context, p Principal, req CreateTokenRequest) (*Token, error)
	ListTokens(ctx context.Context, p Principal) ([]Token, error)
	DeleteToken(ctx context.Context, p Principal, id string) error

	Templates() []Template

	// ClaimIdempotent records that account's request with key and request
	// hash is being carried out, unless a record exists: then it returns
	// that record (and claimed false).
	ClaimIdempotent(ctx context.Context, account, key, requestHash string) (prev *StoredResponse, claimed bool, err error)
	// FinishIdempotent stores the answer of a claimed request; a nil
	// response releases the claim (the request failed before doing
	// anything, and may be retried).
	FinishIdempotent(ctx context.Context, account, key string, resp *StoredResponse) error
}
