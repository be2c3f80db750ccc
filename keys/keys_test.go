package keys

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestParsePrettyRoundTrip(t *testing.T) {
	for _, k := range [][]byte{[]byte("foo"), []byte("a\\b"), {0x03, 0xff, 'x'}, []byte("m\x00n")} {
		got, err := Parse(prettyBytes(k))
		if err != nil {
			t.Fatalf("Parse(%q): %v", prettyBytes(k), err)
		}
		if !bytes.Equal(got, k) {
			t.Fatalf("round trip of %q gave %q", k, got)
		}
	}
	for _, bad := range []string{`\x`, `\xZZ`, `a\q`, `\`} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a bad escape", bad)
		}
	}
}

func TestValidateUserKey(t *testing.T) {
	if err := ValidateUserKey([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]byte{{0x01, 'a'}, {0x02}, {}, KeyMax, {0xff, 0xff, 1}} {
		if err := ValidateUserKey(k); !errors.Is(err, ErrReservedKey) {
			t.Errorf("ValidateUserKey(%q) = %v, want ErrReservedKey", k, err)
		}
	}
	if err := ValidateUserKey(bytes.Repeat([]byte("k"), MaxUserKeySize+1)); !errors.Is(err, ErrKeyTooLarge) {
		t.Errorf("large key: %v", err)
	}
}

// TestRangeLookup checks that seeking to RangeLookupKey(k) finds the
// descriptor of the range holding k, for random tilings of the keyspace.
func TestRangeLookup(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randKey := func() []byte {
		b := make([]byte, 1+rng.IntN(4))
		for i := range b {
			b[i] = byte('a' + rng.IntN(4))
		}
		return b
	}
	for round := 0; round < 200; round++ {
		bounds := map[string]bool{}
		for i := 0; i < 1+rng.IntN(6); i++ {
			bounds[string(randKey())] = true
		}
		var splits [][]byte
		for b := range bounds {
			splits = append(splits, []byte(b))
		}
		sort.Slice(splits, func(i, j int) bool { return bytes.Compare(splits[i], splits[j]) < 0 })
		ends := append(splits, KeyMax)
		starts := append([][]byte{UserMin}, splits...)
		var descKeys [][]byte
		for _, e := range ends {
			descKeys = append(descKeys, RangeDescriptorKey(e))
		}
		for i := 0; i < 50; i++ {
			k := randKey()
			look := RangeLookupKey(k)
			j := sort.Search(len(descKeys), func(i int) bool { return bytes.Compare(descKeys[i], look) >= 0 })
			if j == len(descKeys) {
				t.Fatalf("no descriptor found for %q", k)
			}
			if bytes.Compare(starts[j], k) > 0 || bytes.Compare(k, ends[j]) >= 0 {
				t.Fatalf("key %q found range [%q, %q)", k, starts[j], ends[j])
			}
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	if got := PrefixEnd([]byte{0x01, 0xff}); !bytes.Equal(got, []byte{0x02}) {
		t.Fatalf("PrefixEnd = %x", got)
	}
	p := ReplicaKey(7, ReplicaLogSuffix, nil)
	if k := ReplicaKey(7, ReplicaLogSuffix, []byte{0xff, 0xff}); bytes.Compare(k, PrefixEnd(p)) >= 0 {
		t.Fatalf("key under prefix sorts after PrefixEnd")
	}
	if id, ok := RangeIDFromReplicaKey(ReplicaKey(42, ReplicaDescSuffix, nil)); !ok || id != 42 {
		t.Fatalf("RangeIDFromReplicaKey = %d, %v", id, ok)
	}
}

func TestPretty(t *testing.T) {
	for k, want := range map[string]string{
		string(RangeDescriptorKey([]byte("m"))): "/meta/desc/m",
		string(NodeKey(3)):                      "/meta/node/3",
		string(SystemKey("last-range-id")):      "/meta/sys/last-range-id",
		string(KeyMax):                          "/Max",
		string(UserMin):                         "/user",
		"a\x00":                                 `a\x00`,
	} {
		if got := Pretty([]byte(k)); got != want {
			t.Errorf("Pretty(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestShardBoundary(t *testing.T) {
	block := []byte{'t', 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8}
	row := append(append([]byte{}, block...), 0, 0, 0, 9, 0, 0, 0, 1, 'x')
	if got := ShardBoundary(row); !bytes.Equal(got, block) {
		t.Fatalf("ShardBoundary(row) = %x, want %x", got, block)
	}
	if got := ShardBoundary(block); !bytes.Equal(got, block) {
		t.Fatalf("ShardBoundary(block) = %x", got)
	}
	raw := []byte("user-key")
	if got := ShardBoundary(raw); !bytes.Equal(got, raw) {
		t.Fatalf("ShardBoundary(raw) = %q", got)
	}
	if got := Tenant(row); !bytes.Equal(got, block[:5]) {
		t.Fatalf("Tenant(row) = %x", got)
	}
	if Tenant(raw) != nil {
		t.Fatal("a raw key has no tenant")
	}
	db8 := []byte{'t', 0, 0, 0, 8}
	if !SameTenant(block, db8) {
		t.Fatal("a range ending at the next database's start is inside one database")
	}
	if SameTenant(block, append(db8, 1)) {
		t.Fatal("a range reaching into the next database is not inside one")
	}
	if SameTenant(raw, KeyMax) {
		t.Fatal("raw keys have no tenant")
	}
}
