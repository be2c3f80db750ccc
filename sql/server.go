package sql

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/wire"
)

// Splitter cuts ranges; the server layer provides it so that a new database
// starts on its own ranges.
type Splitter interface {
	SplitAt(ctx context.Context, key []byte) error
}

// Config configures a Server.
type Config struct {
	NodeID  uint64
	KV      *kv.Client
	Catalog *catalog.Cache
	// Splitter, if set, is asked to split at database boundaries and at
	// the initial shard boundaries of a new database.
	Splitter Splitter
	// InitialShards is the number of ranges a new database starts with.
	InitialShards int
	// Insecure lets every role connect without a password (the wire layer
	// skips authentication).
	Insecure bool
	// StorageQuota, if set, is asked before a statement that adds data
	// (INSERT, UPDATE, COPY FROM) runs in a database; an error (SQLSTATE
	// 53100) refuses the statement. Reads and deletes are never refused.
	StorageQuota func(db *catalog.Database) error
	Logger       *slog.Logger
}

// Server is the SQL layer of one node: it implements wire.Backend. It is
// safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	seqs   *seqAllocator
	rowIDs rowIDGen
	plans  *planCache
	// sessions counts open sessions.
	sessions atomic.Int64
}

// NewServer returns a SQL server.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.InitialShards <= 0 {
		cfg.InitialShards = 4
	}
	return &Server{cfg: cfg, log: cfg.Logger, seqs: newSequences(cfg.KV), rowIDs: rowIDGen{node: cfg.NodeID, micros: unixMicros}, plans: newPlanCache(4096)}
}

var _ wire.Backend = (*Server)(nil)

// Verifier implements wire.Backend.
func (s *Server) Verifier(ctx context.Context, role string) (string, error) {
	r := s.cfg.Catalog.Get().Role(role)
	if r == nil {
		_ = s.cfg.Catalog.Refresh(ctx)
		r = s.cfg.Catalog.Get().Role(role)
	}
	if r == nil || !r.Login || r.Verifier == "" {
		return "", pgerror.New(pgerror.CodeInvalidPassword, "password authentication failed for user \"%s\"", role)
	}
	return r.Verifier, nil
}

// Connect implements wire.Backend.
func (s *Server) Connect(ctx context.Context, p wire.ConnectParams) (wire.Session, error) {
	cat := s.cfg.Catalog.Get()
	r := cat.Role(p.User)
	db := cat.Database(p.Database)
	if r == nil || db == nil {
		_ = s.cfg.Catalog.Refresh(ctx)
		cat = s.cfg.Catalog.Get()
		r, db = cat.Role(p.User), cat.Database(p.Database)
	}
	if r == nil {
		return nil, pgerror.New(pgerror.CodeInvalidAuthorizationSpec, "role \"%s\" does not exist", p.User)
	}
	if db == nil {
		return nil, pgerror.New(pgerror.CodeInvalidCatalogName, "database \"%s\" does not exist", p.Database)
	}
	if r.Database != "" && r.Database != db.Name && !r.Superuser {
		return nil, pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied for database \"%s\"", db.Name).
			WithDetail("Role \"%s\" may connect only to database \"%s\".", r.Name, r.Database)
	}
	return s.newSession(r, db, p), nil
}

// Bootstrap creates what a new cluster's SQL layer needs: the database
// postgres and, when rootVerifier is not empty, the superuser root. It is
// idempotent.
func Bootstrap(ctx context.Context, cache *catalog.Cache, rootVerifier string) error {
	return cache.Change(ctx, func(ctx context.Context, m *catalog.Mutation) error {
		if rootVerifier != "" && m.Cat.Role("root") == nil {
			if err := m.PutRole(&catalog.Role{Name: "root", Verifier: rootVerifier, Superuser: true, Login: true, CreateDB: true}); err != nil {
				return err
			}
		}
		if m.Cat.Database("postgres") == nil {
			if err := m.PutDatabase(&catalog.Database{ID: m.AllocID(), Name: "postgres", Owner: "root"}); err != nil {
				return err
			}
		}
		return nil
	})
}

// rowIDGen makes the hidden row ids of tables without a primary key:
// unique across the cluster (the node id is in the low bits) and roughly
// ordered by time. Unique unless a node's clock goes back across a
// restart, or node ids pass 1024: the row's write then finds the key
// taken and fails (kv.Txn.Insert), and the statement is retried with the
// next id, rather than replace the other row.
type rowIDGen struct {
	node uint64
	// micros is the clock: unixMicros, or a test's.
	micros func() int64
	mu     sync.Mutex
	last   int64
}

// unixMicros is the wall clock in microseconds since the epoch.
func unixMicros() int64 { return time.Now().UnixMicro() }

func (g *rowIDGen) next() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.micros()<<10 | int64(g.node&0x3ff)
	if v <= g.last {
		v = g.last + 1<<10
	}
	g.last = v
	return v
}

// seqAllocator hands out serial and identity values: cluster-unique, taken
// from a counter in the meta range in blocks, so consecutive values on one
// node are consecutive numbers. Like PostgreSQL's sequences they are not
// transactional: a rolled back insert leaves a gap.
type seqAllocator struct {
	kv *kv.Client
	mu sync.Mutex
	// blocks maps a sequence key to its unused values.
	blocks map[string]*seqBlock
}

type seqBlock struct{ next, end int64 }

const seqBlockSize = 16

func newSequences(c *kv.Client) *seqAllocator {
	return &seqAllocator{kv: c, blocks: map[string]*seqBlock{}}
}

func (s *seqAllocator) next(ctx context.Context, name string) (int64, error) {
	s.mu.Lock()
	b := s.blocks[name]
	if b != nil && b.next < b.end {
		v := b.next
		b.next++
		s.mu.Unlock()
		return v, nil
	}
	s.mu.Unlock()
	start, err := s.allocate(ctx, name, seqBlockSize)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocks[name] = &seqBlock{next: start + 1, end: start + seqBlockSize}
	return start, nil
}

// allocate reserves n values of the counter and returns the first.
func (s *seqAllocator) allocate(ctx context.Context, name string, n int64) (int64, error) {
	key := sequenceKey(name)
	for {
		cur, found, err := s.kv.Get(ctx, key)
		if err != nil {
			return 0, err
		}
		var last int64
		if found {
			last = decodeInt64(cur)
		}
		err = s.kv.CPut(ctx, key, encodeInt64(last+n), cur, found)
		if err == nil {
			return last + 1, nil
		}
		if !meta.IsConditionFailed(err) {
			return 0, err
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

// reset forgets the node's cached block (after the sequence is dropped).
func (s *seqAllocator) reset(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocks, name)
}
