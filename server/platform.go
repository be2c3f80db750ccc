package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/serverpb"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/wire"
)

// The platform: the HTTP API's calls (package api) carried out on the
// cluster. Databases are catalog records with a template and an account;
// each gets an owner role that may connect only to it; tokens, idempotency
// records and usage live in the meta range (meta/platform.go).

// AdminTokenFile is where a bootstrapping node stores the admin API token
// (mode 0600).
const AdminTokenFile = "admin-token"

// adminAccount is the admin token's account: no template limits.
const adminAccount = "admin"

// platform implements api.Backend.
type platform struct {
	s         *Server
	templates []api.Template

	// auth caches verified tokens briefly, so that a client's calls do not
	// each read meta; a deleted token stops working within authTTL.
	authMu sync.Mutex
	auth   map[string]authEntry
}

type authEntry struct {
	p  api.Principal
	at time.Time
}

const authTTL = 2 * time.Second

var _ api.Backend = (*platform)(nil)

func newPlatform(s *Server) *platform {
	ts := s.cfg.Templates
	if len(ts) == 0 {
		ts = api.DefaultTemplates()
	}
	return &platform{s: s, templates: ts, auth: map[string]authEntry{}}
}

// hashToken is how tokens are stored: their SHA-256.
func hashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newTokenID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// bootstrapAdminToken stores the admin token's hash in meta and the token
// in the data directory; it is SHARD_ADMIN_TOKEN (Config.AdminToken) or a
// new one, which the CLI prints once.
func (s *Server) bootstrapAdminToken(ctx context.Context) error {
	tok := s.cfg.AdminToken
	if tok == "" {
		tok = "shard_" + randomString(24)
		s.generatedAdminToken = tok
	}
	if err := os.WriteFile(filepath.Join(s.cfg.DataDir, AdminTokenFile), []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("server: store admin token: %w", err)
	}
	rec := &meta.TokenRecord{ID: newTokenID(), Name: "admin", Account: adminAccount, Admin: true, Created: time.Now().Unix()}
	if err := s.meta.PutToken(ctx, hashToken(tok), rec); err != nil && !meta.IsConditionFailed(err) {
		return fmt.Errorf("server: store admin token: %w", err)
	}
	return nil
}

// GeneratedAdminToken returns the admin API token this node generated when
// it bootstrapped the cluster in this run ("" otherwise).
func (s *Server) GeneratedAdminToken() string { return s.generatedAdminToken }

func unavailable(err error) error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return api.Errorf(http.StatusServiceUnavailable, api.CodeUnavailable, "the cluster cannot answer now: %v", err)
}

// Authenticate implements api.Backend.
func (p *platform) Authenticate(ctx context.Context, token string) (api.Principal, error) {
	h := hashToken(token)
	key := string(h)
	p.authMu.Lock()
	e, ok := p.auth[key]
	p.authMu.Unlock()
	if ok && time.Since(e.at) < authTTL {
		return e.p, nil
	}
	rec, err := p.s.meta.Token(ctx, h)
	if err != nil {
		return api.Principal{}, unavailable(err)
	}
	if rec == nil {
		return api.Principal{}, api.Errorf(http.StatusUnauthorized, api.CodeUnauthorized, "the token is not valid (unknown or deleted)")
	}
	pr := api.Principal{Account: rec.Account, TokenID: rec.ID, Admin: rec.Admin}
	p.authMu.Lock()
	if len(p.auth) > 10000 {
		p.auth = map[string]authEntry{}
	}
	p.auth[key] = authEntry{p: pr, at: time.Now()}
	p.authMu.Unlock()
	return pr, nil
}

// Templates implements api.Backend.
func (p *platform) Templates() []api.Template { return p.templates }

// visible returns the database named name if the principal may see it.
func (p *platform) visible(ctx context.Context, pr api.Principal, name string) (*catalog.Database, error) {
	cat := p.s.catalog.Get()
	db := cat.Database(name)
	if db == nil {
		if err := p.s.catalog.Refresh(ctx); err != nil {
			return nil, unavailable(err)
		}
		db = p.s.catalog.Get().Database(name)
	}
	if db == nil || db.Template == "" || (!pr.Admin && db.Account != pr.Account) {
		return nil, api.ErrNotFound("no database %q", name)
	}
	return db, nil
}

// CreateDatabase implements api.Backend.
func (p *platform) CreateDatabase(ctx context.Context, pr api.Principal, req api.CreateDatabaseRequest, sqlHost string) (*api.Database, error) {
	t, _ := api.FindTemplate(p.templates, req.Template)
	password := randomString(18)
	verifier, err := wire.MakeVerifier(password)
	if err != nil {
		return nil, err
	}
	role := req.Name + "_owner"
	start := time.Now()
	var created *catalog.Database
	err = p.s.catalog.Change(ctx, func(ctx context.Context, m *catalog.Mutation) error {
		if m.Cat.Database(req.Name) != nil {
			return api.Errorf(http.StatusConflict, api.CodeAlreadyExists, "a database named %q exists", req.Name)
		}
		if m.Cat.Role(role) != nil {
			return api.Errorf(http.StatusConflict, api.CodeAlreadyExists, "a role named %q exists: pick another database name", role)
		}
		if !pr.Admin && t.MaxDatabases > 0 {
			n := 0
			for _, d := range m.Cat.Databases() {
				if d.Account == pr.Account && d.Template == t.Name {
					n++
				}
			}
			if n >= t.MaxDatabases {
				return api.Errorf(http.StatusForbidden, api.CodeQuotaExceeded, "the %s template allows %d database(s) per account; this account has %d", t.Name, t.MaxDatabases, n)
			}
		}
		created = &catalog.Database{ID: m.AllocID(), Name: req.Name, ShardKey: req.ShardKey, Owner: role,
			Template: t.Name, Account: pr.Account, Created: time.Now().Unix()}
		if err := m.PutDatabase(created); err != nil {
			return err
		}
		return m.PutRole(&catalog.Role{Name: role, Verifier: verifier, Login: true, Database: req.Name})
	})
	if err != nil {
		return nil, unavailable(err)
	}
	catalogAt := time.Now()
	p.placeShards(ctx, created, t.InitialShards)
	out, err := p.describe(ctx, created)
	p.s.log.Info("database created", "name", created.Name, "id", created.ID, "template", t.Name, "account", pr.Account,
		"catalog", catalogAt.Sub(start).Round(time.Millisecond), "shards", time.Since(catalogAt).Round(time.Millisecond))
	if err != nil {
		return nil, err
	}
	out.Owner.Password = password
	out.ConnectionString = p.connectionString(role, password, created.Name, sqlHost)
	return out, nil
}

// placeShards cuts a new database's span into its initial shards (sticky
// boundaries: the controller never merges them away), waits until each has
// a leader, then spreads their leaders over the live nodes in the
// background. The cuts go from the
// highest key down, so that each is made in the range that was there
// before (its leader known) rather than in the range the previous cut just
// made, which has yet to elect one; the new ranges elect in parallel.
// Failures cost only placement.
func (p *platform) placeShards(ctx context.Context, db *catalog.Database, n int) {
	s := p.s
	start, end := rowenc.DatabaseSpan(db.ID)
	cuts := [][]byte{end}
	for i := n - 1; i >= 1; i-- {
		cuts = append(cuts, rowenc.HashSplitKey(db.ID, uint64(i)*(^uint64(0)/uint64(n))))
	}
	cuts = append(cuts, start)
	sp := splitter{s}
	for _, k := range cuts {
		if err := sp.SplitAt(ctx, k); err != nil {
			s.log.Warn("split of a new database failed", "db", db.Name, "err", err)
		}
	}
	// The connection string must work at once: answer when every shard
	// serves (has a leader), or after a bound.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	for wctx.Err() == nil {
		descs, err := p.ranges(wctx, db)
		ready := err == nil
		for _, d := range descs {
			if ready && s.rangeStatus(wctx, d).LeaderNodeId == 0 {
				ready = false
			}
		}
		if ready {
			break
		}
		select {
		case <-wctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		sctx, cancel := context.WithTimeout(s.ctx, time.Minute)
		defer cancel()
		p.spreadLeaders(sctx, db)
	}()
}

// spreadLeaders moves the leadership of a new database's shards round
// robin over the live nodes.
func (p *platform) spreadLeaders(ctx context.Context, db *catalog.Database) {
	s := p.s
	nodes, err := (&adminServer{s: s}).Nodes(ctx, &serverpb.NodesRequest{})
	if err != nil {
		return
	}
	var live []uint64
	for _, n := range nodes.Nodes {
		if n.Live && n.Desc.GetState() == kvpb.NodeState_ACTIVE {
			live = append(live, n.Desc.NodeId)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i] < live[j] })
	descs, err := p.ranges(ctx, db)
	if err != nil || len(live) == 0 {
		return
	}
	for i, d := range descs {
		to := live[(int(db.ID)+i)%len(live)]
		if !d.IsVoter(to) {
			continue
		}
		if _, err := (&adminServer{s: s}).TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: d.RangeId, NodeId: to}); err != nil {
			s.log.Debug("spread the leaders of a new database", "range", d.RangeId, "to", to, "err", err)
		}
	}
}

// ranges returns the descriptors of a database's ranges, in key order.
func (p *platform) ranges(ctx context.Context, db *catalog.Database) ([]*kvpb.RangeDescriptor, error) {
	descs, err := p.s.meta.Descriptors(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	start, end := rowenc.DatabaseSpan(db.ID)
	var out []*kvpb.RangeDescriptor
	for _, d := range descs {
		if bytes.Compare(d.EndKey, start) > 0 && bytes.Compare(d.StartKey, end) < 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// connectionString is the owner's postgresql:// URL. The host is the SQL
// listener's when it is a specific address, else the one the caller used
// to reach this API.
func (p *platform) connectionString(role, password, dbName, callerHost string) string {
	host, port, err := net.SplitHostPort(p.s.SQLAddr())
	if err != nil {
		host, port = "", "5433"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = callerHost
	}
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("postgresql://%s:%s@%s/%s?sslmode=require", role, password, net.JoinHostPort(host, port), dbName)
}

// describe builds the API's view of a database with its shards.
func (p *platform) describe(ctx context.Context, db *catalog.Database) (*api.Database, error) {
	shards, err := p.shards(ctx, db, false)
	if err != nil {
		return nil, err
	}
	return &api.Database{ID: db.ID, Name: db.Name, ShardKey: db.ShardKey, Template: db.Template, Account: db.Account,
		State: "ready", CreatedAt: time.Unix(db.Created, 0).UTC(), Shards: shards, Owner: api.Owner{Role: db.Owner}}, nil
}

// shards lists a database's ranges; withStatus asks each range's
// replicas for its leader, size and load.
func (p *platform) shards(ctx context.Context, db *catalog.Database, withStatus bool) ([]api.Shard, error) {
	descs, err := p.ranges(ctx, db)
	if err != nil {
		return nil, err
	}
	var sts []*serverpb.RangeStatus
	for _, d := range descs {
		if withStatus {
			sts = append(sts, p.s.rangeStatus(ctx, d))
		} else {
			sts = append(sts, &serverpb.RangeStatus{Desc: d})
		}
	}
	if withStatus {
		p.s.attachLoads(ctx, sts)
	}
	out := make([]api.Shard, 0, len(sts))
	for _, st := range sts {
		d := st.Desc
		sh := api.Shard{RangeID: d.RangeId, StartKey: keys.Pretty(d.StartKey), EndKey: keys.Pretty(d.EndKey),
			Leader: st.LeaderNodeId, SizeBytes: st.ApproximateBytes, Keys: st.Keys, Replicas: []uint64{}}
		for _, r := range d.Replicas {
			sh.Replicas = append(sh.Replicas, r.NodeId)
		}
		if l := st.Load; l != nil {
			sh.Load = api.Load{ReadsPerSec: l.ReadsPerSec, WritesPerSec: l.WritesPerSec, WriteBytesPerSec: l.WriteBytesPerSec, CPU: l.CpuPerSec}
			if sh.SizeBytes == 0 {
				sh.SizeBytes = l.Bytes
			}
		}
		out = append(out, sh)
	}
	return out, nil
}

// ListDatabases implements api.Backend.
func (p *platform) ListDatabases(ctx context.Context, pr api.Principal) ([]api.Database, error) {
	if err := p.s.catalog.Refresh(ctx); err != nil {
		return nil, unavailable(err)
	}
	var out []api.Database
	for _, db := range p.s.catalog.Get().Databases() {
		if db.Template == "" || (!pr.Admin && db.Account != pr.Account) {
			continue
		}
		d, err := p.describe(ctx, db)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, nil
}

// GetDatabase implements api.Backend.
func (p *platform) GetDatabase(ctx context.Context, pr api.Principal, name string) (*api.Database, error) {
	db, err := p.visible(ctx, pr, name)
	if err != nil {
		return nil, err
	}
	return p.describe(ctx, db)
}

// Shards implements api.Backend.
func (p *platform) Shards(ctx context.Context, pr api.Principal, name string) ([]api.Shard, error) {
	db, err := p.visible(ctx, pr, name)
	if err != nil {
		return nil, err
	}
	return p.shards(ctx, db, true)
}

// Events implements api.Backend: the controller's events about the
// database's current ranges, newest last.
func (p *platform) Events(ctx context.Context, pr api.Principal, name string, limit int) ([]api.Event, error) {
	db, err := p.visible(ctx, pr, name)
	if err != nil {
		return nil, err
	}
	descs, err := p.ranges(ctx, db)
	if err != nil {
		return nil, err
	}
	mine := map[uint64]bool{}
	for _, d := range descs {
		mine[d.RangeId] = true
	}
	evs, err := p.s.meta.Events(ctx, 0, 0)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []api.Event
	for _, e := range evs {
		if mine[e.RangeId] {
			out = append(out, api.Event{Time: time.Unix(0, e.UnixNanos).UTC(), RangeID: e.RangeId, NodeID: e.NodeId, Kind: e.Kind, Message: e.Message})
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// DeleteDatabase implements api.Backend: the catalog records go in one
// change (the name is free at once), then the data in batches, then the
// usage records.
func (p *platform) DeleteDatabase(ctx context.Context, pr api.Principal, name string) error {
	if _, err := p.visible(ctx, pr, name); err != nil {
		return err
	}
	var dropped *catalog.Database
	err := p.s.catalog.Change(ctx, func(ctx context.Context, m *catalog.Mutation) error {
		db := m.Cat.Database(name)
		if db == nil {
			return api.ErrNotFound("no database %q", name)
		}
		for _, t := range m.Cat.Tables(db.ID) {
			if err := m.DeleteTable(t); err != nil {
				return err
			}
		}
		if r := m.Cat.Role(db.Owner); r != nil && r.Database == db.Name {
			if err := m.DeleteRole(r); err != nil {
				return err
			}
		}
		dropped = db
		return m.DeleteDatabase(db)
	})
	if err != nil {
		return unavailable(err)
	}
	start, end := rowenc.DatabaseSpan(dropped.ID)
	if err := p.s.clearSpan(ctx, start, end); err != nil {
		return unavailable(fmt.Errorf("database %q is dropped but its data is not all removed yet: %w", name, err))
	}
	if err := p.s.meta.DeleteUsage(ctx, dropped.ID); err != nil {
		p.s.log.Warn("remove the usage records of a dropped database", "db", name, "err", err)
	}
	p.s.log.Info("database dropped", "name", name, "id", dropped.ID, "account", pr.Account)
	return nil
}

// clearSpan deletes every key of [start, end), in transactions of a
// bounded size.
func (s *Server) clearSpan(ctx context.Context, start, end []byte) error {
	const batch = 1000
	for {
		txn, err := s.kv.Begin(ctx)
		if err != nil {
			return err
		}
		kvs, err := txn.Scan(ctx, start, end, batch)
		if err == nil {
			for _, kv := range kvs {
				if err = txn.Delete(kv.Key); err != nil {
					break
				}
			}
		}
		if err == nil {
			_, err = txn.Commit(ctx)
		}
		if err != nil {
			_ = txn.Rollback(ctx)
			return err
		}
		if len(kvs) < batch {
			return nil
		}
	}
}

// Usage implements api.Backend.
func (p *platform) Usage(ctx context.Context, pr api.Principal, name string) (*api.Usage, error) {
	db, err := p.visible(ctx, pr, name)
	if err != nil {
		return nil, err
	}
	all, err := p.s.meta.Usage(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	u := &api.Usage{Database: name}
	for node, r := range all[db.ID] {
		if node == 0 {
			u.StorageBytes = r.StorageBytes
			continue
		}
		u.ReadUnits += r.ReadUnits
		u.WriteUnits += r.WriteUnits
	}
	// Units this node metered and has not flushed yet.
	r, w := p.s.usage.pending(db.ID)
	u.ReadUnits += r
	u.WriteUnits += w
	descs, err := p.ranges(ctx, db)
	if err != nil {
		return nil, err
	}
	u.Shards = len(descs)
	if t, ok := api.FindTemplate(p.templates, db.Template); ok {
		u.Quota = api.Quota{MaxShards: t.MaxShards, StorageBytes: t.StorageBytes}
	}
	return u, nil
}

// Nodes implements api.Backend.
func (p *platform) Nodes(ctx context.Context) ([]api.Node, error) {
	resp, err := (&adminServer{s: p.s}).Nodes(ctx, &serverpb.NodesRequest{})
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]api.Node, 0, len(resp.Nodes))
	for _, n := range resp.Nodes {
		d := n.Desc
		out = append(out, api.Node{ID: d.NodeId, RPCAddr: d.RpcAddr, SQLAddr: d.SqlAddr, HTTPAddr: d.HttpAddr, State: strings.ToLower(d.State.String()),
			Live: n.Live, Replicas: n.Replicas, Leaders: n.Leaders})
	}
	return out, nil
}

// Cluster implements api.Backend.
func (p *platform) Cluster(ctx context.Context) (*api.Cluster, error) {
	resp, err := (&adminServer{s: p.s}).Nodes(ctx, &serverpb.NodesRequest{})
	if err != nil {
		return nil, unavailable(err)
	}
	c := &api.Cluster{ClusterID: p.s.ClusterID(), Status: "ok"}
	usable := 0
	for _, n := range resp.Nodes {
		if n.Desc.GetState() == kvpb.NodeState_REMOVED {
			continue
		}
		c.Nodes.Total++
		if n.Live {
			c.Nodes.Live++
			usable++
		} else {
			c.Nodes.Dead++
		}
	}
	descs, err := p.s.meta.Descriptors(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	want := min(p.s.cfg.Replicas, max(c.Nodes.Total, 1))
	live := map[uint64]bool{}
	for _, n := range resp.Nodes {
		live[n.Desc.NodeId] = n.Live
	}
	for _, d := range descs {
		c.Ranges.Total++
		n := 0
		for _, r := range d.Replicas {
			if r.Type == kvpb.ReplicaType_VOTER && live[r.NodeId] {
				n++
			}
		}
		if n < want {
			c.Ranges.UnderReplicated++
		}
	}
	if c.Nodes.Dead > 0 || c.Ranges.UnderReplicated > 0 {
		c.Status = "degraded"
	}
	return c, nil
}

// CreateToken implements api.Backend.
func (p *platform) CreateToken(ctx context.Context, pr api.Principal, req api.CreateTokenRequest) (*api.Token, error) {
	account := pr.Account
	if pr.Admin {
		account = req.Account
		if account == "" {
			account = "acct_" + newTokenID()
		}
	}
	tok := "shard_" + randomString(24)
	rec := &meta.TokenRecord{ID: newTokenID(), Name: req.Name, Account: account, Created: time.Now().Unix()}
	if err := p.s.meta.PutToken(ctx, hashToken(tok), rec); err != nil {
		return nil, unavailable(err)
	}
	return &api.Token{ID: rec.ID, Name: rec.Name, Account: account, CreatedAt: time.Unix(rec.Created, 0).UTC(), Token: tok}, nil
}

// ListTokens implements api.Backend.
func (p *platform) ListTokens(ctx context.Context, pr api.Principal) ([]api.Token, error) {
	all, err := p.s.meta.Tokens(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []api.Token
	for _, t := range all {
		if pr.Admin || t.Account == pr.Account {
			out = append(out, api.Token{ID: t.ID, Name: t.Name, Account: t.Account, CreatedAt: time.Unix(t.Created, 0).UTC()})
		}
	}
	return out, nil
}

// DeleteToken implements api.Backend.
func (p *platform) DeleteToken(ctx context.Context, pr api.Principal, id string) error {
	all, err := p.s.meta.Tokens(ctx)
	if err != nil {
		return unavailable(err)
	}
	for hash, t := range all {
		if t.ID != id || (!pr.Admin && t.Account != pr.Account) {
			continue
		}
		if t.Admin {
			return api.Errorf(http.StatusForbidden, api.CodeForbidden, "the admin token cannot be deleted through the API")
		}
		if err := p.s.meta.DeleteToken(ctx, []byte(hash)); err != nil {
			return unavailable(err)
		}
		p.authMu.Lock()
		delete(p.auth, hash)
		p.authMu.Unlock()
		return nil
	}
	return api.ErrNotFound("no token %q", id)
}

// idempotencyTTL is how long an Idempotency-Key's first answer is kept.
const idempotencyTTL = 24 * time.Hour

func idemHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// ClaimIdempotent implements api.Backend.
func (p *platform) ClaimIdempotent(ctx context.Context, account, key, requestHash string) (*api.StoredResponse, bool, error) {
	claim, err := json.Marshal(api.StoredResponse{RequestHash: requestHash, Pending: true, Created: time.Now()})
	if err != nil {
		return nil, false, err
	}
	for {
		v, claimed, err := p.s.meta.ClaimIdempotent(ctx, account, idemHash(key), claim)
		if err != nil {
			return nil, false, unavailable(err)
		}
		if claimed {
			return nil, true, nil
		}
		var prev api.StoredResponse
		if err := json.Unmarshal(v, &prev); err != nil || time.Since(prev.Created) > idempotencyTTL {
			// Expired (or unreadable): the key is free again.
			if err := p.s.meta.ReplaceIdempotent(ctx, account, idemHash(key), nil); err != nil {
				return nil, false, unavailable(err)
			}
			continue
		}
		return &prev, false, nil
	}
}

// expireIdempotency deletes the idempotency records older than
// idempotencyTTL (the controller's node does, now and then).
func (p *platform) expireIdempotency(ctx context.Context) (int, error) {
	return p.s.meta.DeleteIdempotentOlder(ctx, func(rec []byte) bool {
		var r api.StoredResponse
		return json.Unmarshal(rec, &r) != nil || time.Since(r.Created) > idempotencyTTL
	})
}

// FinishIdempotent implements api.Backend.
func (p *platform) FinishIdempotent(ctx context.Context, account, key string, resp *api.StoredResponse) error {
	if resp == nil {
		return p.s.meta.ReplaceIdempotent(ctx, account, idemHash(key), nil)
	}
	v, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	return p.s.meta.ReplaceIdempotent(ctx, account, idemHash(key), v)
}
