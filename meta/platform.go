package meta

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
)

// Platform records (the HTTP API's state) in the meta range, as JSON:
//
//   - "tok" + the SHA-256 of a token's secret: the token (TokenRecord); the
//     secret itself is never stored;
//   - "idem" + account + 0 + the SHA-256 of an Idempotency-Key: the first
//     answer to a POST with that key (opaque to this package);
//   - "use" + database id (4 bytes) + node id (8 bytes): the request units
//     that node metered for the database, cumulative; node id 0 holds the
//     database's storage bytes, written by the controller's node.

// TokenRecord is a stored API token.
type TokenRecord struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Account string `json:"account"`
	Admin   bool   `json:"admin,omitempty"`
	Created int64  `json:"created"`
}

// PutToken stores a token under the hash of its secret; it fails with
// a condition failure (IsConditionFailed) if that hash is taken.
func (m *Meta) PutToken(ctx context.Context, hash []byte, t *TokenRecord) error {
	v, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return m.db.CPut(ctx, keys.PlatformKey("tok", hash), v, nil, false)
}

// Token returns the token whose secret hashes to hash (nil if none).
func (m *Meta) Token(ctx context.Context, hash []byte) (*TokenRecord, error) {
	v, ok, err := m.db.Get(ctx, keys.PlatformKey("tok", hash))
	if err != nil || !ok {
		return nil, err
	}
	t := &TokenRecord{}
	if err := json.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("%w: token record: %v", ErrCorrupt, err)
	}
	return t, nil
}

// Tokens returns every token with the hash it is stored under.
func (m *Meta) Tokens(ctx context.Context) (map[string]*TokenRecord, error) {
	start, end := keys.PlatformSpan("tok", nil)
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]*TokenRecord{}
	for _, r := range rows {
		t := &TokenRecord{}
		if err := json.Unmarshal(r.Value, t); err != nil {
			return nil, fmt.Errorf("%w: token record at %s: %v", ErrCorrupt, keys.Pretty(r.Key), err)
		}
		out[string(r.Key[len(start):])] = t
	}
	return out, nil
}

// DeleteToken removes the token stored under hash.
func (m *Meta) DeleteToken(ctx context.Context, hash []byte) error {
	_, err := m.db.Delete(ctx, keys.PlatformKey("tok", hash))
	return err
}

func idemKey(account string, keyHash []byte) []byte {
	return keys.PlatformKey("idem", append(append([]byte(account), 0), keyHash...))
}

// ClaimIdempotent stores rec for (account, keyHash) unless a record is
// there: then it returns that record's bytes and false.
func (m *Meta) ClaimIdempotent(ctx context.Context, account string, keyHash, rec []byte) ([]byte, bool, error) {
	k := idemKey(account, keyHash)
	for {
		err := m.db.CPut(ctx, k, rec, nil, false)
		if err == nil {
			return nil, true, nil
		}
		if !IsConditionFailed(err) {
			return nil, false, err
		}
		v, ok, err := m.db.Get(ctx, k)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return v, false, nil
		}
		// Released in between: try again.
	}
}

// ReplaceIdempotent overwrites the record of (account, keyHash), or
// deletes it when rec is nil.
func (m *Meta) ReplaceIdempotent(ctx context.Context, account string, keyHash, rec []byte) error {
	k := idemKey(account, keyHash)
	if rec == nil {
		_, err := m.db.Delete(ctx, k)
		return err
	}
	return m.db.Put(ctx, k, rec)
}

// DeleteIdempotentOlder is for the caller's expiry: it deletes the records
// for which expired returns true.
func (m *Meta) DeleteIdempotentOlder(ctx context.Context, expired func(rec []byte) bool) (int, error) {
	start, end := keys.PlatformSpan("idem", nil)
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if expired(r.Value) {
			if _, err := m.db.Delete(ctx, r.Key); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// UsageRecord is one node's metered units for a database, or (node 0) the
// database's storage.
type UsageRecord struct {
	ReadUnits    uint64 `json:"read_units,omitempty"`
	WriteUnits   uint64 `json:"write_units,omitempty"`
	StorageBytes uint64 `json:"storage_bytes,omitempty"`
	// Updated is when the record was written (Unix nanoseconds).
	Updated int64 `json:"updated"`
}

func usageKey(db uint32, node uint64) []byte {
	id := binary.BigEndian.AppendUint32(nil, db)
	return keys.PlatformKey("use", binary.BigEndian.AppendUint64(id, node))
}

// PutUsage writes the records of several databases for one node (node 0:
// storage) in one batch.
func (m *Meta) PutUsage(ctx context.Context, node uint64, recs map[uint32]UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	reqs := make([]*kvpb.Request, 0, len(recs))
	for db, r := range recs {
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: usageKey(db, node), Value: v}}})
	}
	_, err := m.db.Send(ctx, keys.MetaMin, reqs)
	return err
}

// Usage returns the usage records of every database, by database and node.
func (m *Meta) Usage(ctx context.Context) (map[uint32]map[uint64]UsageRecord, error) {
	start, end := keys.PlatformSpan("use", nil)
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	out := map[uint32]map[uint64]UsageRecord{}
	for _, r := range rows {
		id := r.Key[len(start):]
		if len(id) != 12 {
			return nil, fmt.Errorf("%w: usage record at %s", ErrCorrupt, keys.Pretty(r.Key))
		}
		var u UsageRecord
		if err := json.Unmarshal(r.Value, &u); err != nil {
			return nil, fmt.Errorf("%w: usage record at %s: %v", ErrCorrupt, keys.Pretty(r.Key), err)
		}
		db, node := binary.BigEndian.Uint32(id), binary.BigEndian.Uint64(id[4:])
		if out[db] == nil {
			out[db] = map[uint64]UsageRecord{}
		}
		out[db][node] = u
	}
	return out, nil
}

// DeleteUsage removes a dropped database's usage records.
func (m *Meta) DeleteUsage(ctx context.Context, db uint32) error {
	start, end := keys.PlatformSpan("use", binary.BigEndian.AppendUint32(nil, db))
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := m.db.Delete(ctx, r.Key); err != nil {
			return err
		}
	}
	return nil
}
