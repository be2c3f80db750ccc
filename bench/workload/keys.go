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
type zipfian struct {
	n                   int64
	theta, alpha, zetaN float64
	eta, half           float64 // eta: Gray's η; half: 1 + 0.5^θ
}

func newZipfian(n int64, theta float64) *zipfian {
	zetaN := zeta(n, theta)
	return &zipfian{
		n:     n,
		theta: theta,
		alpha: 1 / (1 - theta),
		zetaN: zetaN,
		eta:   (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta(2, theta)/zetaN),
		half:  1 + math.Pow(0.5, theta),
	}
}

// zeta is Σ_{i=1..n} 1/i^θ.
func zeta(n int64, theta float64) float64 {
	var sum float64
	for i := int64(1); i <= n; i++ {
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
