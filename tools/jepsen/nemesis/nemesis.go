package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
	"github.com/shardingsystem/shard/tools/jepsen/report"
)

// Phase says where in a fault's life an event is.
type Phase string

const (
	// Begin: the fault was injected. Heal: it was healed. Instant: a
	// fault with no duration (a split, a leader transfer). Note: the
	// harness observed something (a node that had exited on its own, the
	// cluster whole again).
	Begin   Phase = "begin"
	Heal    Phase = "heal"
	Instant Phase = "instant"
	Note    Phase = "note"
)

// Event is one step of the faults' timeline.
type Event struct {
	// Time is since the test's start (Options.Clock).
	Time  time.Duration `json:"time"`
	Kind  string        `json:"kind"` // the fault's name: "kill-leader", "partition-halves", ...
	Phase Phase         `json:"phase"`
	// Fault numbers the faults of a run from 1; a Begin and its Heal share
	// it (0 for notes).
	Fault  int      `json:"fault,omitempty"`
	Nodes  []string `json:"nodes,omitempty"`
	Detail string   `json:"detail,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// Options configures a Nemesis.
type Options struct {
	// Faults names the faults to draw from: a set ("kill", "pause",
	// "partition", "clock", "churn", "all", "none") or a fault name
	// ("kill-leader", ...), or several separated by commas. Default "all".
	Faults string
	// Interval is how long each fault lasts, and the fault-free gap before
	// each fault (default 10 s).
	Interval time.Duration
	// Seed seeds every random choice (nodes, shapes, offsets, keys).
	Seed uint64
	// Clock returns the time since the test's start; default the time
	// since New.
	Clock func() time.Duration
	// RangeID is the range whose leader kill-leader and pause-leader aim
	// at; 0 picks a random range each time.
	RangeID uint64
	// MaxClockOffset bounds the clock fault's offsets, drawn from
	// ±[MaxClockOffset/10, MaxClockOffset] (default 5 s).
	MaxClockOffset time.Duration
	// HealTimeout bounds the final heal and the wait for the cluster to be
	// whole (default 3 minutes).
	HealTimeout time.Duration
	// Logf gets a line per event; nil discards them.
	Logf func(format string, args ...any)
}

// Nemesis injects faults into a cluster on a schedule. Run it once; the
// fault methods (Inject, HealAll) may also be called directly, from one
// goroutine at a time. Events is safe from any goroutine.
type Nemesis struct {
	c      *cluster.Cluster
	opts   Options
	faults []*Fault
	rng    *rand.Rand // owned by the goroutine injecting faults

	mu struct {
		sync.Mutex
		events []Event
		next   int // fault number
	}
}

// New makes a nemesis for c; it injects nothing before Run or Inject.
func New(c *cluster.Cluster, opts Options) (*Nemesis, error) {
	if opts.Faults == "" {
		opts.Faults = "all"
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Clock == nil {
		start := time.Now()
		opts.Clock = func() time.Duration { return time.Since(start) }
	}
	if opts.MaxClockOffset <= 0 {
		opts.MaxClockOffset = 5 * time.Second
	}
	if opts.HealTimeout <= 0 {
		opts.HealTimeout = 3 * time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	faults, err := Lookup(opts.Faults)
	if err != nil {
		return nil, err
	}
	return &Nemesis{c: c, opts: opts, faults: faults, rng: rand.New(rand.NewPCG(opts.Seed, 0x6e656d65))}, nil
}

// Run injects faults until ctx ends: a fault-free gap of Interval, a fault
// drawn from the set (without replacement until every fault had its turn),
// held for Interval, healed; again. Then it heals
// everything (HealAll) and waits for the cluster to be whole, with a fresh
// deadline of HealTimeout. It returns an error only when the cluster could
// not be made whole: a fault that failed to start is an event, not an
// error.
func (n *Nemesis) Run(ctx context.Context) error {
	var bag []*Fault
	for len(n.faults) > 0 && sleep(ctx, n.opts.Interval) {
		// Drawn from a shuffled bag of every fault: each fault of the set
		// comes once before any comes twice.
		if len(bag) == 0 {
			bag = append(bag, n.faults...)
			n.rng.Shuffle(len(bag), func(i, j int) { bag[i], bag[j] = bag[j], bag[i] })
		}
		f := bag[0]
		bag = bag[1:]
		heal := n.Inject(ctx, f)
		if heal == nil {
			continue
		}
		sleep(ctx, n.opts.Interval)
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.opts.HealTimeout)
		heal(hctx)
		cancel()
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.opts.HealTimeout)
	defer cancel()
	return n.HealAll(hctx)
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Inject starts fault f and records its Begin (or Instant) event. It
// returns the fault's heal, which records the Heal event, or nil when
// there is nothing to heal (an instant fault, or one that failed before
// changing anything).
func (n *Nemesis) Inject(ctx context.Context, f *Fault) (heal func(ctx context.Context)) {
	n.mu.Lock()
	n.mu.next++
	id := n.mu.next
	n.mu.Unlock()
	act := f.start(ctx, n)
	phase := Begin
	if act.heal == nil {
		phase = Instant
	}
	n.record(Event{Kind: f.Name, Phase: phase, Fault: id, Nodes: names(act.nodes), Detail: act.detail, Error: errString(act.err)})
	if act.heal == nil {
		return nil
	}
	return func(ctx context.Context) {
		nodes, detail, err := act.heal(ctx)
		n.record(Event{Kind: f.Name, Phase: Heal, Fault: id, Nodes: names(nodes), Detail: detail, Error: errString(err)})
	}
}

// HealAll undoes every fault that may remain, whatever its origin:
// resumes paused nodes, removes every drop, restarts the nodes with a
// clock offset without it, starts every node that is not running (one that
// exited on its own is noted), then waits until the cluster is whole. It
// records what it did.
func (n *Nemesis) HealAll(ctx context.Context) error {
	var errs []error
	note := func(kind string, nodes []*cluster.Node, detail string, err error) {
		n.record(Event{Kind: kind, Phase: Note, Nodes: names(nodes), Detail: detail, Error: errString(err)})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, node := range n.c.Nodes() {
		if node.Paused() {
			note("resume", []*cluster.Node{node}, "paused at the end", node.Resume())
		}
	}
	if d := n.c.Drops(); len(d) > 0 {
		note("heal-network", nil, fmt.Sprintf("%d drops at the end", len(d)), n.c.Heal())
	}
	for _, node := range n.c.Nodes() {
		if node.ClockOffset() != 0 {
			node.SetClockOffset(0)
			err := node.Stop(10 * time.Second)
			if err == nil {
				err = node.Start(ctx)
			}
			note("clock-reset", []*cluster.Node{node}, "offset at the end", err)
		}
	}
	for _, node := range n.c.Nodes() {
		if !node.Running() {
			note("restart", []*cluster.Node{node}, "not running at the end (killed, or exited on its own: see its log)", node.Start(ctx))
		}
	}
	if states, err := n.c.NodeStates(ctx); err != nil {
		note("reactivate", nil, "read node states", err)
	} else {
		for _, node := range n.c.Nodes() {
			if states[node.ID()] == kvpb.NodeState_DECOMMISSIONING || states[node.ID()] == kvpb.NodeState_DRAINING {
				note("reactivate", []*cluster.Node{node}, "decommissioning at the end", n.reactivate(ctx, node))
			}
		}
	}
	start := time.Now()
	err := n.c.WaitReady(ctx)
	note("whole", nil, fmt.Sprintf("waited %v for the cluster to be whole", time.Since(start).Round(time.Millisecond)), err)
	return errors.Join(errs...)
}

// record stamps and keeps an event.
func (n *Nemesis) record(e Event) {
	e.Time = n.opts.Clock()
	n.mu.Lock()
	n.mu.events = append(n.mu.events, e)
	n.mu.Unlock()
	line := fmt.Sprintf("nemesis %v: %s %s", e.Time.Round(time.Millisecond), e.Kind, e.Phase)
	if len(e.Nodes) > 0 {
		line += " " + strings.Join(e.Nodes, ",")
	}
	if e.Detail != "" {
		line += ": " + e.Detail
	}
	if e.Error != "" {
		line += " (error: " + e.Error + ")"
	}
	n.opts.Logf("%s", line)
}

// Events returns the events so far, in order.
func (n *Nemesis) Events() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Event(nil), n.mu.events...)
}

// Faults returns the events as the report's faults: one per injected
// fault, from its Begin to its Heal (End 0 if it was never healed); an
// instant fault or a note starts and ends at once.
func (n *Nemesis) Faults() []report.Fault { return ToFaults(n.Events()) }

// ToFaults pairs events into the report's faults (see Nemesis.Faults).
func ToFaults(events []Event) []report.Fault {
	var out []report.Fault
	open := map[int]int{} // fault number -> index in out
	for _, e := range events {
		switch e.Phase {
		case Heal:
			if i, ok := open[e.Fault]; ok {
				out[i].End = e.Time
				if e.Error != "" {
					out[i].Error = strings.TrimPrefix(out[i].Error+"; heal: "+e.Error, "; ")
				}
				delete(open, e.Fault)
				continue
			}
		case Begin:
			open[e.Fault] = len(out)
			out = append(out, report.Fault{Kind: e.Kind, Start: e.Time, Nodes: e.Nodes, Detail: e.Detail, Error: e.Error})
			continue
		}
		out = append(out, report.Fault{Kind: e.Kind, Start: e.Time, End: e.Time, Nodes: e.Nodes, Detail: e.Detail, Error: e.Error, Note: e.Phase == Note})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func names(nodes []*cluster.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
