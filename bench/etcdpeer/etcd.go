package etcdpeer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/shardingsystem/shard/bench/target"
	"github.com/shardingsystem/shard/bench/workload"
	"github.com/shardingsystem/shard/internal/freeport"
	"github.com/shardingsystem/shard/internal/spawn"
)

// Options configure a cluster.
type Options struct {
	// Members is the number of members; default 3.
	Members int
	// Binary is the etcd binary; default "etcd" on PATH.
	Binary string
	// Dir holds the members' data and logs; default a new temporary
	// directory, removed by Stop.
	Dir string
}

// Cluster is a running etcd cluster.
type Cluster struct {
	dir     string
	madeDir bool
	clients []string // client URLs
	members []*member
	stopped sync.Once
	stopErr error
}

type member struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// readyTimeout bounds the wait for a new cluster to take a write.
const readyTimeout = 30 * time.Second

// Start starts the members and waits until the cluster takes a write.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Binary == "" {
		opts.Binary = "etcd"
	}
	bin, err := exec.LookPath(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("etcdpeer: no etcd binary (%w); install Debian's etcd-server", err)
	}
	c := &Cluster{dir: opts.Dir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "shard-bench-etcd-"); err != nil {
			return nil, err
		}
		c.madeDir = true
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	ports, err := freeport.Addrs("127.0.0.1", 2*opts.Members)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range opts.Members {
		initial = append(initial, fmt.Sprintf("m%d=http://%s", i+1, ports[2*i+1]))
	}
	for i := range opts.Members {
		name := fmt.Sprintf("m%d", i+1)
		client, peer := "http://"+ports[2*i], "http://"+ports[2*i+1]
		dir := filepath.Join(c.dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		m := &member{name: name, done: make(chan struct{}), log: filepath.Join(dir, "etcd.log")}
		logf, err := os.Create(m.log)
		if err != nil {
			return nil, err
		}
		m.cmd = exec.Command(bin, "--name", name, "--data-dir", filepath.Join(dir, "data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "shard-bench", "--log-outputs", "stderr")
		m.cmd.Stdout, m.cmd.Stderr = logf, logf
		if err := spawn.Start(m.cmd); err != nil {
			_ = logf.Close()
			return nil, fmt.Errorf("etcdpeer: start %s: %w", name, err)
		}
		go func() {
			// Owned by the process: it ends when the process is reaped.
			_ = m.cmd.Wait()
			_ = logf.Close()
			close(m.done)
		}()
		c.members = append(c.members, m)
		c.clients = append(c.clients, client)
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// waitReady waits until a write through the client succeeds.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	cl, err := c.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := cl.Put(pctx, "shard-bench/ready", "1")
		pcancel()
		if err == nil {
			return nil
		}
		for _, m := range c.members {
			select {
			case <-m.done:
				return fmt.Errorf("etcdpeer: %s exited while starting:\n%s", m.name, tail(m.log))
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcdpeer: no write within %v (%v); %s's log:\n%s", readyTimeout, err, c.members[0].name, tail(c.members[0].log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// client opens a client of every member.
func (c *Cluster) client() (*clientv3.Client, error) {
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.clients, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcdpeer: client: %w", err)
	}
	return cl, nil
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string { return append([]string(nil), c.clients...) }

// Name is "etcd".
func (c *Cluster) Name() string { return "etcd" }

// Counters sums every member's WAL fsyncs and CPU time.
func (c *Cluster) Counters(ctx context.Context) (target.Counters, error) {
	out := target.Counters{At: time.Now()}
	for _, u := range c.clients {
		m, err := target.Scrape(ctx, u+"/metrics", "etcd_disk_wal_fsync_duration_seconds_count", "process_cpu_seconds_total",
			"etcd_server_proposals_committed_total")
		if err != nil {
			return out, fmt.Errorf("etcdpeer: %w", err)
		}
		out.Fsyncs += m["etcd_disk_wal_fsync_duration_seconds_count"]
		out.CPUSeconds += m["process_cpu_seconds_total"]
		out.Commits += m["etcd_server_proposals_committed_total"]
	}
	return out, nil
}

// Stop kills every member, waits for it, and removes the data Start made.
func (c *Cluster) Stop() error {
	c.stopped.Do(func() {
		for _, m := range c.members {
			if m.cmd.Process != nil {
				_ = m.cmd.Process.Kill()
			}
		}
		for _, m := range c.members {
			<-m.done
		}
		if c.madeDir {
			c.stopErr = os.RemoveAll(c.dir)
		}
	})
	return c.stopErr
}

// PIDs are the members' process ids (for tests).
func (c *Cluster) PIDs() []int {
	var out []int
	for _, m := range c.members {
		out = append(out, m.cmd.Process.Pid)
	}
	return out
}

// tail is the end of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// KVOptions configure the workload.
type KVOptions struct {
	// Endpoints are the cluster's client URLs.
	Endpoints []string
	// Keys is the number of keys (default 100000), ValueSize a value's
	// bytes (default 64), ReadPercent the share of reads (default 0).
	Keys        int64
	ValueSize   int
	ReadPercent int
}

// KV is single-key writes (and reads) through etcd's client.
type KV struct{ opts KVOptions }

// NewKV returns the workload.
func NewKV(opts KVOptions) (*KV, error) {
	if opts.Keys == 0 {
		opts.Keys = 100_000
	}
	if opts.ValueSize == 0 {
		opts.ValueSize = 64
	}
	var errs []error
	if len(opts.Endpoints) == 0 {
		errs = append(errs, errors.New("etcd kv: no endpoints"))
	}
	if opts.Keys < 0 || opts.ValueSize < 0 {
		errs = append(errs, fmt.Errorf("etcd kv: %d keys of %d bytes", opts.Keys, opts.ValueSize))
	}
	if opts.ReadPercent < 0 || opts.ReadPercent > 100 {
		errs = append(errs, fmt.Errorf("etcd kv: read percent %d (want 0 to 100)", opts.ReadPercent))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &KV{opts: opts}, nil
}

// Name is "kv".
func (*KV) Name() string { return "kv" }

const keyPrefix = "k/"

// Setup deletes the workload's keys.
func (kv *KV) Setup(ctx context.Context) error {
	cl, err := clientv3.New(clientv3.Config{Endpoints: kv.opts.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("etcd kv: %w", err)
	}
	defer cl.Close()
	if _, err := cl.Delete(ctx, keyPrefix, clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("etcd kv: delete the keys: %w", err)
	}
	return nil
}

// Worker opens worker id's client, its endpoints rotated by id.
func (kv *KV) Worker(ctx context.Context, id int) (workload.Worker, error) {
	eps := kv.opts.Endpoints
	k := id % len(eps)
	eps = append(append([]string(nil), eps[k:]...), eps[:k]...)
	cl, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd kv: %w", err)
	}
	return &kvWorker{kv: kv, cl: cl, val: make([]byte, kv.opts.ValueSize)}, nil
}

type kvWorker struct {
	kv  *KV
	cl  *clientv3.Client
	val []byte
}

func (w *kvWorker) Op(ctx context.Context, rng *rand.Rand) (string, error) {
	key := fmt.Sprintf("%s%010d", keyPrefix, rng.Int64N(w.kv.opts.Keys))
	if rng.IntN(100) < w.kv.opts.ReadPercent {
		if _, err := w.cl.Get(ctx, key); err != nil {
			return "read", fmt.Errorf("etcd get: %w", err)
		}
		return "read", nil
	}
	for i := range w.val {
		w.val[i] = byte('a' + rng.IntN(26))
	}
	if _, err := w.cl.Put(ctx, key, string(w.val)); err != nil {
		return "write", fmt.Errorf("etcd put: %w", err)
	}
	return "write", nil
}

func (w *kvWorker) Close() { _ = w.cl.Close() }
