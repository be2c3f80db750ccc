package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// keyGen draws keys in [0, n) with a worker's random source. A keyGen is
// immutable and shared by the workers.
type keyGen interface {
	next(rng *rand.Rand) int64
}

// Key distributions.
const (
	Uniform = "uniform" // every key equally likely
	Zipfian = "zipfian" // YCSB's zipfian, θ = 0.99: key 0 the most popular
	// Latest is YCSB's skewed latest (ycsb only): the zipfian's
	// popularity counted down from the latest inserted key.
	Latest = "latest"
)

// newKeyGen returns a generator of keys in [0, n) for distribution dist.
func newKeyGen(dist string, n int64) (keyGen, error) {
	switch dist {
	case Uniform, "":
		return uniform{n: n}, nil
	case Zipfian:
		return newZipfian(n, zipfTheta), nil
	default:
		return nil, fmt.Errorf("workload: key distribution %q (want %q or %q)", dist, Uniform, Zipfian)
	}
}

// uniform draws every key of [0, n) with the same probability.
type uniform struct{ n int64 }

func (u uniform) next(rng *rand.Rand) int64 { return rng.Int64N(u.n) }

// zipfTheta is YCSB's default skew: key i is drawn with a probability
// proportional to 1/(i+1)^θ.
const zipfTheta = 0.99

// zipfian is the generator of Gray et al., "Quickly Generating
// Billion-Record Synthetic Databases" (SIGMOD 1994), as YCSB's
// ZipfianGenerator implements it: one uniform draw per key, after an O(n)
// computation of ζ(n, θ) at construction (about 10 ms per million keys).
// Unlike math/rand's Zipf it allows θ < 1. Keys are not scrambled: key 0
// is the hottest, then key 1, and so on (shard places rows by the hash of
// their key anyway).
//
// newZipfian's generator is shared by the workers and never changes; a
// worker whose key space grows (ycsb's inserts) copies it and moves the
// copy's n with setN.
type zipfian struct {
	n                          int64
	theta, alpha, zetaN, zeta2 float64
	eta, half                  float64 // eta: Gray's η; half: 1 + 0.5^θ
}

func newZipfian(n int64, theta float64) *zipfian {
	z := &zipfian{
		n:     n,
		theta: theta,
		alpha: 1 / (1 - theta),
		zetaN: zeta(n, theta),
		zeta2: zeta(2, theta),
		half:  1 + math.Pow(0.5, theta),
	}
	z.setEta()
	return z
}

// setEta computes η for z.n and z.zetaN.
func (z *zipfian) setEta() {
	z.eta = (1 - math.Pow(2/float64(z.n), 1-z.theta)) / (1 - z.zeta2/z.zetaN)
}

// setN makes z draw keys in [0, n), n ≥ 1, as newZipfian(n, θ) would. A
// larger n adds the new terms to ζ, O(n - z.n), as YCSB's
// ZipfianGenerator does when its item count grows; a smaller n computes ζ
// again, O(n).
func (z *zipfian) setN(n int64) {
	switch {
	case n == z.n:
		return
	case n > z.n:
		z.zetaN += zetaFrom(z.n, n, z.theta)
	default:
		z.zetaN = zeta(n, z.theta)
	}
	z.n = n
	z.setEta()
}

// zeta is Σ_{i=1..n} 1/i^θ.
func zeta(n int64, theta float64) float64 { return zetaFrom(0, n, theta) }

// zetaFrom is Σ_{i=m+1..n} 1/i^θ: ζ(n, θ) - ζ(m, θ).
func zetaFrom(m, n int64, theta float64) float64 {
	var sum float64
	for i := m + 1; i <= n; i++ {
		sum += 1 / math.Pow(float64(i), theta)
	}
	return sum
}

func (z *zipfian) next(rng *rand.Rand) int64 {
	u := rng.Float64()
	uz := u * z.zetaN
	switch {
	case uz < 1 || z.n == 1:
		return 0
	case uz < z.half:
		return 1
	}
	k := int64(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(max(k, 0), z.n-1)
}

// growingKeys draws keys in [0, n) for an n given at each draw, that may
// change between draws: the keys a ycsb workload knows to be inserted so
// far. Distribution Zipfian draws key 0 the most, Latest key n-1 (YCSB's
// SkewedLatestGenerator: n-1 minus a zipfian draw; YCSB's never draws key
// 0, an off-by-one this one does not copy), Uniform none. Each worker has
// its own: it changes with n.
type growingKeys struct {
	dist string
	z    zipfian // Zipfian and Latest: moved to n before each draw
}

// newGrowingKeys returns a worker's generator for dist; z is the shared
// zipfian for Zipfian and Latest, copied (nil for Uniform).
func newGrowingKeys(dist string, z *zipfian) *growingKeys {
	g := &growingKeys{dist: dist}
	if z != nil {
		g.z = *z
	}
	return g
}

func (g *growingKeys) next(rng *rand.Rand, n int64) int64 {
	if g.dist == Uniform {
		return rng.Int64N(n)
	}
	g.z.setN(n)
	k := g.z.next(rng)
	if g.dist == Latest {
		return n - 1 - k
	}
	return k
}
