package target

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Counters are a system's cumulative durability counters at one moment.
type Counters struct {
	// At is when they were read.
	At time.Time `json:"-"`
	// Fsyncs counts the fsyncs of the write-ahead log (all nodes).
	Fsyncs float64 `json:"fsyncs"`
	// Commits counts durable commits: synced batches (shard), committed
	// transactions (PostgreSQL), all nodes together.
	Commits float64 `json:"commits"`
	// CPUSeconds is the CPU time the system's processes used (0 where it
	// cannot be read).
	CPUSeconds float64 `json:"cpu_seconds"`
	// ContextSwitches counts the context switches of the system's
	// processes' threads (0 where they cannot be read).
	ContextSwitches float64 `json:"context_switches"`
	// Nodes are the same per node of a cluster, with where its ranges'
	// leaders are (shard only).
	Nodes []NodeCounters `json:"nodes,omitempty"`
}

// NodeCounters are one node's CPU time and its share of the ranges. Where
// the leaders are decides which node does a write's leader work, so runs
// of one binary differ with it: reports show it next to the throughput.
type NodeCounters struct {
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Ranges     int     `json:"ranges"`
	Leaders    int     `json:"leaders"`
}

// Rates are what happened between two readings of Counters.
type Rates struct {
	// FsyncsPerSec is WAL fsyncs per second, all nodes together.
	FsyncsPerSec float64 `json:"fsyncs_per_sec"`
	// CommitsPerFsync is durable commits per fsync (group commit).
	CommitsPerFsync float64 `json:"commits_per_fsync"`
	// Fsyncs, Commits, CPUSeconds and ContextSwitches are the differences.
	Fsyncs          float64 `json:"fsyncs"`
	Commits         float64 `json:"commits"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	ContextSwitches float64 `json:"context_switches"`
	// Nodes are the nodes as b found them, with their CPU time since a.
	Nodes []NodeCounters `json:"nodes,omitempty"`
}

// Delta returns the rates between readings a and b (b later).
func Delta(a, b Counters) Rates {
	r := Rates{Fsyncs: b.Fsyncs - a.Fsyncs, Commits: b.Commits - a.Commits, CPUSeconds: b.CPUSeconds - a.CPUSeconds,
		ContextSwitches: b.ContextSwitches - a.ContextSwitches}
	for _, n := range b.Nodes {
		for _, was := range a.Nodes {
			if was.Name == n.Name {
				n.CPUSeconds -= was.CPUSeconds
				r.Nodes = append(r.Nodes, n)
				break
			}
		}
	}
	if s := b.At.Sub(a.At).Seconds(); s > 0 {
		r.FsyncsPerSec = r.Fsyncs / s
	}
	if r.Fsyncs > 0 {
		r.CommitsPerFsync = r.Commits / r.Fsyncs
	}
	return r
}

// scrapeTimeout bounds one /metrics request.
const scrapeTimeout = 5 * time.Second

// Scrape returns the sum over all label sets of each metric of names in
// the Prometheus text exposition at url.
func Scrape(ctx context.Context, url string, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body, names...)
}

// parseMetrics sums the samples of each metric of names in a Prometheus
// text exposition.
func parseMetrics(r io.Reader, names ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		for _, n := range names {
			rest, ok := strings.CutPrefix(line, n)
			if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			if i := strings.LastIndexByte(rest, '}'); i >= 0 {
				rest = rest[i+1:]
			}
			f := strings.Fields(rest)
			if len(f) == 0 {
				return nil, fmt.Errorf("metrics: no value in %q", line)
			}
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: %q: %w", line, err)
			}
			out[n] += v
		}
	}
	return out, sc.Err()
}
