package server

import (
	"fmt"
	"testing"

	"github.com/shardingsystem/shard/kvpb"
)

func TestSpanMinus(t *testing.T) {
	d := func(s, e string) *kvpb.RangeDescriptor {
		return &kvpb.RangeDescriptor{StartKey: []byte(s), EndKey: []byte(e)}
	}
	for _, c := range []struct {
		others []*kvpb.RangeDescriptor
		want   string
	}{
		{nil, "[[c g]]"},
		{[]*kvpb.RangeDescriptor{d("a", "c"), d("g", "z")}, "[[c g]]"},
		{[]*kvpb.RangeDescriptor{d("d", "e")}, "[[c d] [e g]]"},
		{[]*kvpb.RangeDescriptor{d("e", "z"), d("a", "d")}, "[[d e]]"},
		{[]*kvpb.RangeDescriptor{d("a", "z")}, "[]"},
	} {
		var got [][2]string
		for _, sp := range spanMinus([]byte("c"), []byte("g"), c.others) {
			got = append(got, [2]string{string(sp[0]), string(sp[1])})
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("others %v: got %s, want %s", c.others, got, c.want)
		}
	}
}
