package kvpb

import "testing"

func TestKeyFilterMatches(t *testing.T) {
	f := &KeyFilter{Offset: 2, Match: []byte("ab")}
	for key, want := range map[string]bool{
		"xxab":  true,
		"xxabc": true,
		"xxac":  false,
		"xxa":   false,
		"ab":    false,
		"":      false,
	} {
		if got := f.Matches([]byte(key)); got != want {
			t.Errorf("Matches(%q) = %v, want %v", key, got, want)
		}
	}
}
