package testcluster

import (
	"strings"
	"testing"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
)

// TestCheckMeta shows that the meta check catches each way descriptors can
// fail to tile the keyspace.
func TestCheckMeta(t *testing.T) {
	d := func(id uint64, start, end []byte) *kvpb.RangeDescriptor {
		return &kvpb.RangeDescriptor{RangeId: id, StartKey: start, EndKey: end}
	}
	metaRange := d(1, keys.MetaMin, keys.MetaMax)
	m := []byte("m")
	for _, tc := range []struct {
		name  string
		descs []*kvpb.RangeDescriptor
		want  string // "" for valid
	}{
		{"one user range", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, keys.KeyMax)}, ""},
		{"split", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, m), d(3, m, keys.KeyMax)}, ""},
		{"no user range", []*kvpb.RangeDescriptor{metaRange}, "holds 1 descriptors"},
		{"no meta range", []*kvpb.RangeDescriptor{d(2, keys.UserMin, m), d(3, m, keys.KeyMax)}, "not the meta range"},
		{"gap", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, []byte("l")), d(3, m, keys.KeyMax)}, "ends at"},
		{"overlap", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, []byte("n")), d(3, m, keys.KeyMax)}, "ends at"},
		{"short", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, m)}, "not at the end"},
		{"empty", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, m), d(3, m, m), d(4, m, keys.KeyMax)}, "is empty"},
		{"same id twice", []*kvpb.RangeDescriptor{metaRange, d(2, keys.UserMin, m), d(2, m, keys.KeyMax)}, "twice"},
	} {
		err := checkMeta(tc.descs)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}
