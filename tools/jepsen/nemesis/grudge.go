package nemesis

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// A Grudge says which nodes drop packets from which: Grudge[to] lists the
// nodes whose packets node to drops. Nodes are slot numbers (1..n). The
// partition shapes are pure functions of the node count and a random
// source, so they are tested without a cluster.
type Grudge map[int][]int

// Pairs lists the grudge as [to, from] pairs, sorted.
func (g Grudge) Pairs() [][2]int {
	var out [][2]int
	for to, froms := range g {
		for _, from := range froms {
			out = append(out, [2]int{to, from})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

// String prints the grudge as "n1<-n2 n1<-n3 ..." (n1 drops from n2).
func (g Grudge) String() string {
	var parts []string
	for _, p := range g.Pairs() {
		parts = append(parts, fmt.Sprintf("n%d<-n%d", p[0], p[1]))
	}
	return strings.Join(parts, " ")
}

// cut adds a two-way cut between every node of a and every node of b.
func (g Grudge) cut(a, b []int) {
	for _, x := range a {
		for _, y := range b {
			g[x] = append(g[x], y)
			g[y] = append(g[y], x)
		}
	}
}

// shuffled returns 1..n in random order.
func shuffled(rng *rand.Rand, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// Isolate cuts one node off from all the others, both ways.
func Isolate(node, n int) Grudge {
	g := Grudge{}
	var rest []int
	for i := 1; i <= n; i++ {
		if i != node {
			rest = append(rest, i)
		}
	}
	g.cut([]int{node}, rest)
	return g
}

// Halves cuts the nodes into a random minority (n/2 nodes) and majority,
// both ways.
func Halves(rng *rand.Rand, n int) Grudge {
	s := shuffled(rng, n)
	g := Grudge{}
	g.cut(s[:n/2], s[n/2:])
	return g
}

// Bridge cuts the nodes into two halves that both still talk to one bridge
// node in the middle (Jepsen's bridge): with 5 nodes, {a b} c {d e}. Needs
// 3 nodes or more.
func Bridge(rng *rand.Rand, n int) Grudge {
	s := shuffled(rng, n)
	mid := n / 2
	g := Grudge{}
	g.cut(s[:mid], s[mid+1:])
	return g
}

// OneWay makes node to drop every packet from node from, and nothing else.
func OneWay(to, from int) Grudge { return Grudge{to: {from}} }
