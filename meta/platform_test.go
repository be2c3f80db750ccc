package meta_test

import (
	"context"
	"testing"

	"github.com/shardingsystem/shard/meta"
)

func TestPlatformRecords(t *testing.T) {
	ctx := context.Background()
	m := meta.New(newFakeDB())

	// Tokens: stored by hash, a hash taken twice is refused.
	tok := &meta.TokenRecord{ID: "a1", Name: "laptop", Account: "alice", Created: 1}
	if err := m.PutToken(ctx, []byte("h1"), tok); err != nil {
		t.Fatal(err)
	}
	if err := m.PutToken(ctx, []byte("h1"), &meta.TokenRecord{ID: "b2", Account: "bob"}); !meta.IsConditionFailed(err) {
		t.Fatalf("second token under one hash: %v", err)
	}
	if got, err := m.Token(ctx, []byte("h1")); err != nil || got == nil || *got != *tok {
		t.Fatalf("token: %+v %v", got, err)
	}
	if got, err := m.Token(ctx, []byte("nope")); err != nil || got != nil {
		t.Fatalf("unknown token: %+v %v", got, err)
	}
	if err := m.DeleteToken(ctx, []byte("h1")); err != nil {
		t.Fatal(err)
	}
	if all, err := m.Tokens(ctx); err != nil || len(all) != 0 {
		t.Fatalf("tokens after delete: %v %v", all, err)
	}

	// Idempotency: the first claim wins, later ones see its record; per
	// account.
	if _, ok, err := m.ClaimIdempotent(ctx, "alice", []byte("k"), []byte("pending")); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if prev, ok, err := m.ClaimIdempotent(ctx, "alice", []byte("k"), []byte("other")); err != nil || ok || string(prev) != "pending" {
		t.Fatalf("second claim: %q %v %v", prev, ok, err)
	}
	if _, ok, err := m.ClaimIdempotent(ctx, "bob", []byte("k"), []byte("bob's")); err != nil || !ok {
		t.Fatalf("another account's claim: %v %v", ok, err)
	}
	if err := m.ReplaceIdempotent(ctx, "alice", []byte("k"), []byte("done")); err != nil {
		t.Fatal(err)
	}
	if prev, _, _ := m.ClaimIdempotent(ctx, "alice", []byte("k"), []byte("x")); string(prev) != "done" {
		t.Fatalf("after replace: %q", prev)
	}
	n, err := m.DeleteIdempotentOlder(ctx, func(rec []byte) bool { return string(rec) == "done" })
	if err != nil || n != 1 {
		t.Fatalf("expired %d (%v), want 1", n, err)
	}
	if _, ok, _ := m.ClaimIdempotent(ctx, "alice", []byte("k"), []byte("again")); !ok {
		t.Fatalf("an expired key cannot be claimed again")
	}

	// Usage: per database and node, deleted with the database.
	if err := m.PutUsage(ctx, 3, map[uint32]meta.UsageRecord{7: {ReadUnits: 5, WriteUnits: 2}, 8: {ReadUnits: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutUsage(ctx, 0, map[uint32]meta.UsageRecord{7: {StorageBytes: 100}}); err != nil {
		t.Fatal(err)
	}
	u, err := m.Usage(ctx)
	if err != nil || u[7][3].ReadUnits != 5 || u[7][0].StorageBytes != 100 || u[8][3].ReadUnits != 1 {
		t.Fatalf("usage %+v %v", u, err)
	}
	if err := m.DeleteUsage(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if u, _ := m.Usage(ctx); len(u[7]) != 0 || len(u[8]) != 1 {
		t.Fatalf("usage after deleting database 7: %+v", u)
	}
}
