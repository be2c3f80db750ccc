package target

import "testing"

func TestIdle(t *testing.T) {
	quiet := []storeWork{{written: 100}, {written: 7}}
	for _, tc := range []struct {
		name      string
		prev, cur []storeWork
		want      bool
	}{
		{"nothing ran or finished", quiet, []storeWork{{written: 100}, {written: 7}}, true},
		{"a compaction is running", quiet, []storeWork{{written: 100}, {running: 1, written: 7}}, false},
		{"a flush finished between the readings", quiet, []storeWork{{written: 100}, {written: 9}}, false},
		{"no earlier reading", nil, quiet, false},
		{"a node stopped", quiet, quiet[:1], false},
	} {
		if got := idle(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: idle = %v, want %v", tc.name, got, tc.want)
		}
	}
}
