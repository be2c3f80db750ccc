package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestAddrsDistinctAndBindable(t *testing.T) {
	addrs, err := Addrs("127.0.0.1", 20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s handed out twice in %v", a, addrs)
		}
		seen[a] = true
		_, port, _ := net.SplitHostPort(a)
		if p, _ := strconv.Atoi(port); p < lowest || p >= ephemeralStart() {
			t.Errorf("%s: port outside [%d, %d)", a, lowest, ephemeralStart())
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s is not free: %v", a, err)
		}
		_ = l.Close()
	}
	if _, err := Addrs("192.0.2.1", 1); err == nil {
		t.Error("a host that is not this machine's: no error")
	}
}
