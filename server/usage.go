package server

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/meta/controller"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Metering. Every batch a range answers through this node's kv client is
// charged to the database whose keys it touched (a range never spans two):
//
//   - read units: 1 per read request (get, scan) plus 1 per 4 KiB read;
//   - write units: 1 per written key (put, delete, conditional put, each
//     mutation of a transaction) plus 1 per KiB written.
//
// Each node keeps its own cumulative counts per database and writes them
// to meta every usageFlushInterval (meta/platform.go); the controller's
// node writes each database's storage (the sum of its ranges' reported
// sizes). The API sums the records; the storage quota is checked against
// the last storage record, so it is enforced within a few seconds of being
// reached, not to the byte.

// usageFlushInterval is how often a node writes its counts and reads the
// cluster's storage records.
const usageFlushInterval = 3 * time.Second

type units struct{ read, write uint64 }

// usageMeter counts this node's units and caches the cluster's storage.
type usageMeter struct {
	readC, writeC *prometheus.CounterVec
	storageG      *prometheus.GaugeVec

	mu struct {
		sync.Mutex
		pend    map[uint32]units // since the last flush
		total   map[uint32]units // flushed, cumulative (this node)
		loaded  bool             // total read back from meta
		storage map[uint32]uint64
	}
}

func newUsageMeter(reg *prometheus.Registry) *usageMeter {
	u := &usageMeter{
		readC: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shard_database_read_units_total",
			Help: "Read request units metered by this node, by database id."}, []string{"database"}),
		writeC: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shard_database_write_units_total",
			Help: "Write request units metered by this node, by database id."}, []string{"database"}),
		storageG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shard_database_storage_bytes",
			Help: "Stored bytes of each database (by id), as the controller last summed them."}, []string{"database"}),
	}
	reg.MustRegister(u.readC, u.writeC, u.storageG)
	u.mu.pend = map[uint32]units{}
	u.mu.total = map[uint32]units{}
	u.mu.storage = map[uint32]uint64{}
	return u
}

// batchUnits returns the database a batch touched and its units.
func batchUnits(ba *kvpb.BatchRequest, resp *kvpb.BatchResponse) (db uint32, u units, ok bool) {
	var key []byte
	for i, r := range ba.Requests {
		switch v := r.Value.(type) {
		case *kvpb.Request_Get:
			key = v.Get.Key
			u.read++
			if i < len(resp.Responses) {
				u.read += uint64(len(resp.Responses[i].GetGet().GetValue())) / 4096
			}
		case *kvpb.Request_Scan:
			key = v.Scan.StartKey
			u.read++
			if i < len(resp.Responses) {
				n := 0
				for _, row := range resp.Responses[i].GetScan().GetRows() {
					n += len(row.Key) + len(row.Value)
				}
				u.read += uint64(n) / 4096
			}
		case *kvpb.Request_Put:
			key = v.Put.Key
			u.write += 1 + uint64(len(v.Put.Value))/1024
		case *kvpb.Request_Delete:
			key = v.Delete.Key
			u.write++
		case *kvpb.Request_Cput:
			key = v.Cput.Key
			u.write += 1 + uint64(len(v.Cput.Value))/1024
		case *kvpb.Request_Prewrite:
			for _, m := range v.Prewrite.Mutations {
				key = m.Key
				u.write += 1 + uint64(len(m.Value))/1024
			}
		case *kvpb.Request_OnePc:
			for _, m := range v.OnePc.Mutations {
				key = m.Key
				u.write += 1 + uint64(len(m.Value))/1024
			}
		}
	}
	t := keys.Tenant(key)
	if len(t) != 5 || (u.read == 0 && u.write == 0) {
		return 0, units{}, false
	}
	return binary.BigEndian.Uint32(t[1:]), u, true
}

// meter is kv.Config.Meter. It is on the path of every batch, so it only
// adds to the pending counts; flushUsage moves them to Prometheus.
func (u *usageMeter) meter(ba *kvpb.BatchRequest, resp *kvpb.BatchResponse) {
	db, n, ok := batchUnits(ba, resp)
	if !ok {
		return
	}
	u.mu.Lock()
	p := u.mu.pend[db]
	p.read += n.read
	p.write += n.write
	u.mu.pend[db] = p
	u.mu.Unlock()
}

// pending returns the units this node counted for db and has not flushed.
func (u *usageMeter) pending(db uint32) (read, write uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.mu.pend[db]
	return p.read, p.write
}

// storage returns db's last known stored bytes.
func (u *usageMeter) storage(db uint32) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.mu.storage[db]
}

// flushUsage writes this node's counts to meta and reads the storage
// records back.
func (s *Server) flushUsage(ctx context.Context) error {
	u := s.usage
	all, err := s.meta.Usage(ctx)
	if err != nil {
		return err
	}
	u.mu.Lock()
	if !u.mu.loaded {
		// A restart goes on from what this node flushed before.
		for db, recs := range all {
			r := recs[s.NodeID()]
			u.mu.total[db] = units{r.ReadUnits, r.WriteUnits}
		}
		u.mu.loaded = true
	}
	storage := map[uint32]uint64{}
	for db, recs := range all {
		storage[db] = recs[0].StorageBytes
	}
	u.mu.storage = storage
	out := map[uint32]meta.UsageRecord{}
	flushed := map[uint32]units{}
	now := time.Now().UnixNano()
	for db, p := range u.mu.pend {
		if _, ok := all[db]; !ok && s.catalog != nil && s.catalog.Get().DatabaseByID(db) == nil {
			continue // dropped: its records are gone
		}
		t := u.mu.total[db]
		out[db] = meta.UsageRecord{ReadUnits: t.read + p.read, WriteUnits: t.write + p.write, Updated: now}
		flushed[db] = p
	}
	u.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	if err := s.meta.PutUsage(ctx, s.NodeID(), out); err != nil {
		return err
	}
	u.mu.Lock()
	for db, f := range flushed {
		label := fmt.Sprint(db)
		u.readC.WithLabelValues(label).Add(float64(f.read))
		u.writeC.WithLabelValues(label).Add(float64(f.write))
		t := u.mu.total[db]
		u.mu.total[db] = units{t.read + f.read, t.write + f.write}
		p := u.mu.pend[db]
		p.read -= f.read
		p.write -= f.write
		if p == (units{}) {
			delete(u.mu.pend, db)
		} else {
			u.mu.pend[db] = p
		}
	}
	u.mu.Unlock()
	return nil
}

// recordStorage writes each database's stored bytes, summed over its
// ranges' reported sizes (the controller's node does this).
func (s *Server) recordStorage(ctx context.Context, sizes map[uint32]uint64) error {
	out := map[uint32]meta.UsageRecord{}
	now := time.Now().UnixNano()
	for db, n := range sizes {
		out[db] = meta.UsageRecord{StorageBytes: n, Updated: now}
		s.usage.storageG.WithLabelValues(fmt.Sprint(db)).Set(float64(n))
	}
	return s.meta.PutUsage(ctx, 0, out)
}

// shardCaps returns the shard cap of each database whose template has one.
func (s *Server) shardCaps() map[uint32]int {
	if s.catalog == nil {
		return nil
	}
	out := map[uint32]int{}
	for _, db := range s.catalog.Get().Databases() {
		if t, ok := api.FindTemplate(s.platform.templates, db.Template); ok && t.MaxShards > 0 {
			out[db.ID] = t.MaxShards
		}
	}
	return out
}

// droppedDatabases returns the ids of the dropped databases, from the
// catalog read now (nil if it cannot be read).
func (s *Server) droppedDatabases(ctx context.Context) map[uint32]bool {
	if s.catalog == nil || s.catalog.Refresh(ctx) != nil {
		return nil
	}
	return s.catalog.Get().DroppedDatabases()
}

// releasedSpan tells whether every key of [start, end) belongs to a
// dropped database (the catalog read now), so that ranges there may merge
// across database boundaries.
func (s *Server) releasedSpan(ctx context.Context, start, end []byte) bool {
	return controller.Released(start, end, s.droppedDatabases(ctx))
}

// storageQuota is sql.Config.StorageQuota: a database at or over its
// template's storage refuses writes that add data.
func (s *Server) storageQuota(db *catalog.Database) error {
	if db == nil || db.Template == "" {
		return nil
	}
	t, ok := api.FindTemplate(s.platform.templates, db.Template)
	if !ok || t.StorageBytes == 0 {
		return nil
	}
	used := s.usage.storage(db.ID)
	if used < t.StorageBytes {
		return nil
	}
	return pgerror.New(pgerror.CodeDiskFull, "database \"%s\" is over its storage quota: %d bytes stored, the %s template allows %d",
		db.Name, used, t.Name, t.StorageBytes).
		WithDetail("Writes that add data are refused; reads and deletes work, and nothing stored is lost.").
		WithHint("Delete data to get under the quota, or use a template with more storage.")
}
