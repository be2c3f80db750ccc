package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
)

// Record key suffixes.
const (
	kindHeader   = 'v'
	kindDatabase = 'd'
	kindTable    = 't'
	kindRole     = 'r'
	// kindDropped marks a dropped database's id: its ranges may be
	// released (merged across its boundaries) once its data is gone.
	kindDropped = 'x'
)

// ErrCorrupt means a catalog record could not be decoded.
var ErrCorrupt = errors.New("catalog: corrupt record")

type header struct {
	Version uint64 `json:"version"`
	NextID  uint32 `json:"next_id"`
}

func headerKey() []byte { return keys.CatalogKey([]byte{kindHeader}) }

func idKey(kind byte, id uint32) []byte {
	return keys.CatalogKey(binary.BigEndian.AppendUint32([]byte{kind}, id))
}

func roleKey(name string) []byte { return keys.CatalogKey(append([]byte{kindRole}, name...)) }

// Load reads the whole catalog in txn.
func Load(ctx context.Context, txn *kv.Txn) (*Catalog, error) {
	start, end := keys.CatalogSpan()
	rows, err := txn.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, fmt.Errorf("catalog: load: %w", err)
	}
	c := newCatalog()
	for _, r := range rows {
		suffix := r.Key[len(start):]
		if len(suffix) == 0 {
			continue
		}
		var err error
		switch suffix[0] {
		case kindHeader:
			var h header
			if err = json.Unmarshal(r.Value, &h); err == nil {
				c.Version, c.NextID = h.Version, h.NextID
			}
		case kindDatabase:
			d := &Database{}
			if err = json.Unmarshal(r.Value, d); err == nil {
				c.dbs[d.Name] = d
			}
		case kindTable:
			t := &Table{}
			if err = json.Unmarshal(r.Value, t); err == nil {
				c.tables[t.ID] = t
			}
		case kindRole:
			ro := &Role{}
			if err = json.Unmarshal(r.Value, ro); err == nil {
				c.roles[ro.Name] = ro
			}
		case kindDropped:
			d := &Database{}
			if err = json.Unmarshal(r.Value, d); err == nil {
				c.dropped[d.ID] = true
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, keys.Pretty(r.Key), err)
		}
	}
	return c, nil
}

// Mutation is a schema change under way: it reads the catalog as of the
// change's transaction and records what to write.
type Mutation struct {
	Txn *kv.Txn
	// Cat is the catalog as read by the transaction; mutate it only through
	// the methods below.
	Cat *Catalog
}

// AllocID hands out a new object id.
func (m *Mutation) AllocID() uint32 {
	if m.Cat.NextID == 0 {
		m.Cat.NextID = 1
	}
	id := m.Cat.NextID
	m.Cat.NextID++
	return id
}

func (m *Mutation) put(key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return m.Txn.Put(key, b)
}

// PutDatabase writes d.
func (m *Mutation) PutDatabase(d *Database) error {
	for name, old := range m.Cat.dbs {
		if old.ID == d.ID {
			delete(m.Cat.dbs, name)
		}
	}
	m.Cat.dbs[d.Name] = d
	return m.put(idKey(kindDatabase, d.ID), d)
}

// DeleteDatabase removes d's record and marks its id dropped.
func (m *Mutation) DeleteDatabase(d *Database) error {
	delete(m.Cat.dbs, d.Name)
	m.Cat.dropped[d.ID] = true
	if err := m.put(idKey(kindDropped, d.ID), &Database{ID: d.ID, Name: d.Name}); err != nil {
		return err
	}
	return m.Txn.Delete(idKey(kindDatabase, d.ID))
}

// PutTable writes t.
func (m *Mutation) PutTable(t *Table) error {
	m.Cat.tables[t.ID] = t
	return m.put(idKey(kindTable, t.ID), t)
}

// DeleteTable removes t's record.
func (m *Mutation) DeleteTable(t *Table) error {
	delete(m.Cat.tables, t.ID)
	return m.Txn.Delete(idKey(kindTable, t.ID))
}

// PutRole writes r.
func (m *Mutation) PutRole(r *Role) error {
	if r.ID == 0 {
		r.ID = m.AllocID()
	}
	m.Cat.roles[r.Name] = r
	return m.put(roleKey(r.Name), r)
}

// DeleteRole removes r's record.
func (m *Mutation) DeleteRole(r *Role) error {
	delete(m.Cat.roles, r.Name)
	return m.Txn.Delete(roleKey(r.Name))
}

// finish writes the header with the next version.
func (m *Mutation) finish() error {
	m.Cat.Version++
	return m.put(headerKey(), header{Version: m.Cat.Version, NextID: m.Cat.NextID})
}

// Cache is a node's view of the catalog. It is safe for concurrent use.
type Cache struct {
	kv *kv.Client
	mu struct {
		sync.Mutex
		cur *Catalog
	}
}

// NewCache returns an empty cache; call Refresh before use.
func NewCache(c *kv.Client) *Cache {
	ca := &Cache{kv: c}
	ca.mu.cur = newCatalog()
	return ca
}

// Get returns the newest catalog the cache has. The caller must not modify
// it.
func (c *Cache) Get() *Catalog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.cur
}

func (c *Cache) install(cat *Catalog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cat.Version >= c.mu.cur.Version {
		c.mu.cur = cat
	}
}

// ErrNoStore is returned by Refresh of a cache made without a kv client
// (a fixed catalog installed with Install, as tests do).
var ErrNoStore = errors.New("catalog: the cache has no store to refresh from")

// Refresh reloads the catalog if its version moved.
func (c *Cache) Refresh(ctx context.Context) error {
	if c.kv == nil {
		return ErrNoStore
	}
	txn, err := c.kv.Begin(ctx)
	if err != nil {
		return err
	}
	defer txn.Rollback(ctx)
	v, found, err := txn.Get(ctx, headerKey())
	if err != nil {
		return err
	}
	if found {
		var h header
		if err := json.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("%w: header: %v", ErrCorrupt, err)
		}
		if h.Version == c.Get().Version {
			return nil
		}
	}
	cat, err := Load(ctx, txn)
	if err != nil {
		return err
	}
	c.install(cat)
	return nil
}

// Run polls for changes made on other nodes until ctx ends.
func (c *Cache) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = c.Refresh(rctx)
			cancel()
		}
	}
}

// Change runs fn as one schema change transaction, retried on conflicts,
// and installs the result in the cache. fn may also write data through
// m.Txn (index backfill, row deletion) so that data and schema change
// together.
func (c *Cache) Change(ctx context.Context, fn func(ctx context.Context, m *Mutation) error) error {
	var result *Catalog
	err := c.kv.RunTxn(ctx, func(ctx context.Context, txn *kv.Txn) error {
		cat, err := Load(ctx, txn)
		if err != nil {
			return err
		}
		m := &Mutation{Txn: txn, Cat: cat}
		if err := fn(ctx, m); err != nil {
			return err
		}
		if err := m.finish(); err != nil {
			return err
		}
		result = cat
		return nil
	})
	if err != nil {
		return err
	}
	c.install(result)
	return nil
}

// Install makes cat the cache's catalog if it is not older than the
// current one (tests that run without a cluster).
func (c *Cache) Install(cat *Catalog) { c.install(cat) }
