package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// clientFlags are the flags every CLI command that talks to a node takes.
type clientFlags struct {
	host    string
	json    bool
	timeout time.Duration
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.host, "host", "127.0.0.1:7400", "rpc address of any node")
	fs.BoolVar(&c.json, "json", false, "print JSON for machines")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "how long to wait for an answer")
}

// admin dials the node and runs fn with an Admin client.
func (c *clientFlags) admin(fn func(ctx context.Context, cl serverpb.AdminClient) error) error {
	conn, err := grpc.NewClient(c.host, rpcauth.DialOptions(cliSecret())...)
	if err != nil {
		return fmt.Errorf("bad --host %q: %v", c.host, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	return explain(c.host, fn(ctx, serverpb.NewAdminClient(conn)))
}

// cliSecret is the cluster secret the CLI sends: $SHARD_CLUSTER_SECRET,
// else the one in ./shard-data (a node started here with the defaults),
// else none (a cluster started with --insecure needs none).
func cliSecret() string {
	if s := os.Getenv(rpcauth.EnvSecret); s != "" {
		return s
	}
	b, err := os.ReadFile(filepath.Join("shard-data", rpcauth.SecretFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// explain turns gRPC errors into messages for people.
func explain(host string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable:
		if msg, ok := strings.CutPrefix(st.Message(), serverpb.ClusterUnavailablePrefix); ok {
			// The node answered: the cluster could not serve the request.
			// A write may still have been applied.
			return fmt.Errorf("the cluster could not serve the request in time (is a majority of nodes up?): %s", msg)
		}
		return fmt.Errorf("cannot reach a shard node at %s: %s", host, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer from %s in time", host)
	case codes.InvalidArgument:
		return fmt.Errorf("invalid: %s", st.Message())
	case codes.Unauthenticated:
		return fmt.Errorf("%s refused the call: %s", host, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%s does not speak the shard admin protocol: %s", host, st.Message())
	}
	return fmt.Errorf("%s: %s", strings.ToLower(st.Code().String()), st.Message())
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runNodes(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("nodes", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Nodes(ctx, &serverpb.NodesRequest{})
		if err != nil {
			return err
		}
		type node struct {
			ID       uint64 `json:"id"`
			RPCAddr  string `json:"rpc_addr"`
			SQLAddr  string `json:"sql_addr"`
			HTTPAddr string `json:"http_addr"`
			Live     bool   `json:"live"`
			State    string `json:"state"`
			Replicas uint64 `json:"replicas"`
			Leaders  uint64 `json:"leaders"`
		}
		var out []node
		for _, n := range resp.Nodes {
			out = append(out, node{n.Desc.NodeId, n.Desc.RpcAddr, n.Desc.SqlAddr, n.Desc.HttpAddr, n.Live, strings.ToLower(n.Desc.State.String()), n.Replicas, n.Leaders})
		}
		if cf.json {
			return printJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRPC ADDRESS\tSQL ADDRESS\tLIVE\tSTATE\tREPLICAS\tLEADERS")
		for _, n := range out {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%d\t%d\n", n.ID, n.RPCAddr, n.SQLAddr, n.Live, n.State, n.Replicas, n.Leaders)
		}
		return tw.Flush()
	})
}

// rangeJSON is the machine form of one range.
type rangeJSON struct {
	ID         uint64   `json:"id"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	Replicas   []uint64 `json:"replicas"`
	Leader     uint64   `json:"leader"`
	Applied    uint64   `json:"applied_index"`
	Bytes      uint64   `json:"approximate_bytes"`
	Keys       uint64   `json:"keys"`
	Generation uint64   `json:"generation"`
	Error      string   `json:"error,omitempty"`
	// Load is the controller's latest report (absent before the first).
	Load *loadJSON `json:"load,omitempty"`
}

// loadJSON is a range's load as its leader last reported it.
type loadJSON struct {
	ReadsPerSec      float64 `json:"reads_per_sec"`
	WritesPerSec     float64 `json:"writes_per_sec"`
	WriteBytesPerSec float64 `json:"write_bytes_per_sec"`
	CPUPerSec        float64 `json:"cpu_per_sec"`
	HotBlock         string  `json:"hot_block,omitempty"`
	HotShare         float64 `json:"hot_share"`
}

// toRangeStatusJSON is the machine form of a range's status.
func toRangeStatusJSON(r *serverpb.RangeStatus) rangeJSON {
	j := toRangeJSON(r.Desc)
	j.Leader, j.Applied, j.Bytes, j.Keys, j.Error = r.LeaderNodeId, r.AppliedIndex, r.ApproximateBytes, r.Keys, r.Error
	if l := r.Load; l != nil {
		j.Load = &loadJSON{ReadsPerSec: l.ReadsPerSec, WritesPerSec: l.WritesPerSec, WriteBytesPerSec: l.WriteBytesPerSec,
			CPUPerSec: l.CpuPerSec, HotShare: l.HotShare}
		if len(l.HotBlock) > 0 {
			j.Load.HotBlock = keys.Pretty(l.HotBlock)
		}
	}
	return j
}

// printRanges prints range statuses as a table (or JSON).
func printRanges(stdout io.Writer, asJSON bool, ranges []*serverpb.RangeStatus) error {
	out := []rangeJSON{}
	for _, r := range ranges {
		out = append(out, toRangeStatusJSON(r))
	}
	if asJSON {
		return printJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART\tEND\tREPLICAS\tLEADER\tAPPLIED\tSIZE\tKEYS\tREADS/S\tWRITES/S\tCPU")
	for _, r := range out {
		rd, wr, cpu := "-", "-", "-"
		if r.Load != nil {
			rd, wr, cpu = fmt.Sprintf("%.0f", r.Load.ReadsPerSec), fmt.Sprintf("%.0f", r.Load.WritesPerSec), fmt.Sprintf("%.0f%%", 100*r.Load.CPUPerSec)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.Start, r.End, r.Replicas, r.Leader, r.Applied, humanBytes(r.Bytes), r.Keys, rd, wr, cpu)
	}
	return tw.Flush()
}

func toRangeJSON(d *kvpb.RangeDescriptor) rangeJSON {
	r := rangeJSON{ID: d.RangeId, Start: keys.Pretty(d.StartKey), End: keys.Pretty(d.EndKey), Generation: d.Generation}
	for _, rep := range d.Replicas {
		r.Replicas = append(r.Replicas, rep.NodeId)
	}
	return r
}

func runRanges(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "split" {
		return runSplit(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "transfer-leader" {
		return runTransferLeader(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "hot" {
		return runHotRanges(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "explain" {
		return runExplainRange(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "relocate" {
		return runRelocate(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "merge" {
		return runMerge(args[1:], stdout, stderr)
	}
	var cf clientFlags
	fs := newFlagSet("ranges", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unknown ranges subcommand %q (want: split KEY, transfer-leader RANGE NODE, relocate RANGE FROM TO, merge RANGE, hot, explain RANGE)", fs.Arg(0))
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Ranges(ctx, &serverpb.RangesRequest{})
		if err != nil {
			return err
		}
		return printRanges(stdout, cf.json, resp.Ranges)
	})
}

func runSplit(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("ranges split", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("ranges split takes exactly one KEY")
	}
	key, err := keys.Parse(fs.Arg(0))
	if err != nil {
		return usagef("%v", err)
	}
	if err := keys.ValidateUserKey(key); err != nil {
		return usagef("%v", err)
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.SplitRange(ctx, &serverpb.SplitRangeRequest{Key: key})
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, []rangeJSON{toRangeJSON(resp.Left), toRangeJSON(resp.Right)})
		}
		fmt.Fprintf(stdout, "split r%d at %s: r%d [%s, %s) and r%d [%s, %s)\n", resp.Left.RangeId, keys.Pretty(key),
			resp.Left.RangeId, keys.Pretty(resp.Left.StartKey), keys.Pretty(resp.Left.EndKey),
			resp.Right.RangeId, keys.Pretty(resp.Right.StartKey), keys.Pretty(resp.Right.EndKey))
		return nil
	})
}

func runTransferLeader(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("ranges transfer-leader", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("ranges transfer-leader takes a RANGE id and a NODE id")
	}
	var ids [2]uint64
	for i, a := range fs.Args() {
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(a, "r"), "n"), 10, 64)
		if err != nil || v == 0 {
			return usagef("bad %s %q: want a positive integer", []string{"RANGE", "NODE"}[i], a)
		}
		ids[i] = v
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: ids[0], NodeId: ids[1]})
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, map[string]uint64{"range": ids[0], "leader": resp.LeaderNodeId})
		}
		if resp.LeaderNodeId != ids[1] {
			return fmt.Errorf("r%d: leadership handed to n%d, but its replicas now report n%d as leader", ids[0], ids[1], resp.LeaderNodeId)
		}
		fmt.Fprintf(stdout, "r%d is now led by n%d\n", ids[0], resp.LeaderNodeId)
		return nil
	})
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func runVersion(args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usagef("version takes no arguments")
	}
	_, err := fmt.Fprintln(stdout, "shard "+versionString())
	return err
}
