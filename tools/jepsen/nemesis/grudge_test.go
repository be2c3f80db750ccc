package nemesis

import (
	"math/rand/v2"
	"testing"
)

func TestGrudges(t *testing.T) {
	if got, want := Isolate(2, 3).String(), "n1<-n2 n2<-n1 n2<-n3 n3<-n2"; got != want {
		t.Errorf("Isolate(2, 3) = %s, want %s", got, want)
	}
	if got, want := OneWay(1, 3).String(), "n1<-n3"; got != want {
		t.Errorf("OneWay(1, 3) = %s, want %s", got, want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{3, 5} {
		for range 20 {
			// Halves: every node is cut from exactly the other side.
			g := Halves(rng, n)
			minority := 0
			for i := 1; i <= n; i++ {
				k := len(g[i])
				if k != n/2 && k != n-n/2 {
					t.Fatalf("Halves(%d): n%d drops from %d nodes: %s", n, i, k, g)
				}
				if k == n-n/2 {
					minority++
				}
			}
			if minority != n/2 {
				t.Fatalf("Halves(%d): minority of %d: %s", n, minority, g)
			}
			// Bridge: one node drops nothing, the others drop (n-1)/2 each.
			g = Bridge(rng, n)
			bridges := 0
			for i := 1; i <= n; i++ {
				switch len(g[i]) {
				case 0:
					bridges++
				case (n - 1) / 2:
				default:
					t.Fatalf("Bridge(%d): n%d drops from %d nodes: %s", n, i, len(g[i]), g)
				}
			}
			if bridges != 1 {
				t.Fatalf("Bridge(%d): %d bridge nodes: %s", n, bridges, g)
			}
			// Every grudge is symmetric but for OneWay.
			for _, p := range g.Pairs() {
				found := false
				for _, f := range g[p[1]] {
					found = found || f == p[0]
				}
				if !found {
					t.Fatalf("Bridge(%d) not symmetric: %s", n, g)
				}
			}
		}
	}
}
