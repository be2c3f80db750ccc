package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// The CLI of the zero-touch controller: `shard ranges hot`, `shard ranges
// explain RANGE` and `shard events`.

// parseID reads a range or node id, with or without its r/n prefix.
func parseID(what, prefix, s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, prefix), 10, 64)
	if err != nil || v == 0 {
		return 0, usagef("bad %s %q: want a positive integer", what, s)
	}
	return v, nil
}

func runHotRanges(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("ranges hot", stderr)
	cf.register(fs)
	limit := fs.Uint("limit", 10, "how many ranges to list")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.HotRanges(ctx, &serverpb.HotRangesRequest{Limit: uint32(*limit)})
		if err != nil {
			return err
		}
		return printRanges(stdout, cf.json, resp.Ranges)
	})
}

func runExplainRange(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("ranges explain", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("ranges explain takes exactly one RANGE id")
	}
	id, err := parseID("RANGE", "r", fs.Arg(0))
	if err != nil {
		return err
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.ExplainRange(ctx, &serverpb.ExplainRangeRequest{RangeId: id})
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, map[string]any{"range": toRangeStatusJSON(resp.Range), "controller": resp.ControllerNodeId, "explain": resp.Lines})
		}
		r := toRangeStatusJSON(resp.Range)
		fmt.Fprintf(stdout, "r%d [%s, %s) replicas %v, leader n%d, %s, %d keys\n", r.ID, r.Start, r.End, r.Replicas, r.Leader, humanBytes(r.Bytes), r.Keys)
		if l := r.Load; l != nil {
			fmt.Fprintf(stdout, "load: %.0f reads/s, %.0f writes/s, %s/s written, %.0f%% of a core\n", l.ReadsPerSec, l.WritesPerSec, humanBytes(uint64(l.WriteBytesPerSec)), 100*l.CPUPerSec)
		}
		fmt.Fprintf(stdout, "controller (n%d):\n", resp.ControllerNodeId)
		for _, line := range resp.Lines {
			fmt.Fprintf(stdout, "  %s\n", line)
		}
		return nil
	})
}

func runEvents(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("events", stderr)
	cf.register(fs)
	rangeArg := fs.String("range", "", "only the events of this range")
	limit := fs.Uint("limit", 100, "how many of the newest events to list")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var rangeID uint64
	if *rangeArg != "" {
		id, err := parseID("--range", "r", *rangeArg)
		if err != nil {
			return err
		}
		rangeID = id
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Events(ctx, &serverpb.EventsRequest{RangeId: rangeID, Limit: uint32(*limit)})
		if err != nil {
			return err
		}
		type event struct {
			Time     time.Time `json:"time"`
			Range    uint64    `json:"range,omitempty"`
			Node     uint64    `json:"node,omitempty"`
			Kind     string    `json:"kind"`
			Message  string    `json:"message"`
			Reporter uint64    `json:"reporter"`
		}
		out := []event{}
		for _, e := range resp.Events {
			out = append(out, event{time.Unix(0, e.UnixNanos).UTC(), e.RangeId, e.NodeId, e.Kind, e.Message, e.Reporter})
		}
		if cf.json {
			return printJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tRANGE\tKIND\tMESSAGE")
		for _, e := range out {
			r := "-"
			if e.Range != 0 {
				r = fmt.Sprintf("r%d", e.Range)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.Format("2006-01-02 15:04:05.000"), r, e.Kind, e.Message)
		}
		return tw.Flush()
	})
}

func runRelocate(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("ranges relocate", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return usagef("ranges relocate takes a RANGE id, the FROM node and the TO node")
	}
	id, err := parseID("RANGE", "r", fs.Arg(0))
	if err != nil {
		return err
	}
	from, err := parseID("FROM", "n", fs.Arg(1))
	if err != nil {
		return err
	}
	to, err := parseID("TO", "n", fs.Arg(2))
	if err != nil {
		return err
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.RelocateReplica(ctx, &serverpb.RelocateReplicaRequest{RangeId: id, FromNodeId: from, ToNodeId: to})
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, toRangeJSON(resp.Desc))
		}
		fmt.Fprintf(stdout, "r%d moved from n%d to n%d: replicas %v\n", id, from, to, toRangeJSON(resp.Desc).Replicas)
		return nil
	})
}

// runNode is `shard node drain|decommission|activate ID`.
func runNode(args []string, stdout, stderr io.Writer) error {
	states := map[string]kvpb.NodeState{"drain": kvpb.NodeState_DRAINING, "decommission": kvpb.NodeState_DECOMMISSIONING, "activate": kvpb.NodeState_ACTIVE}
	if len(args) == 0 {
		return usagef("node takes a subcommand: drain ID, decommission ID, activate ID")
	}
	state, ok := states[args[0]]
	if !ok {
		return usagef("unknown node subcommand %q (want: drain ID, decommission ID, activate ID)", args[0])
	}
	var cf clientFlags
	fs := newFlagSet("node "+args[0], stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("node %s takes exactly one node ID", args[0])
	}
	id, err := parseID("ID", "n", fs.Arg(0))
	if err != nil {
		return err
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.SetNodeState(ctx, &serverpb.SetNodeStateRequest{NodeId: id, State: state})
		if err != nil {
			return err
		}
		if cf.json {
			return printJSON(stdout, map[string]any{"node": id, "state": strings.ToLower(resp.Node.State.String())})
		}
		switch state {
		case kvpb.NodeState_DRAINING:
			fmt.Fprintf(stdout, "n%d is draining: the controller moves its leaderships to other nodes (watch `shard nodes`)\n", id)
		case kvpb.NodeState_DECOMMISSIONING:
			fmt.Fprintf(stdout, "n%d is decommissioning: the controller moves its replicas away, then marks it removed (watch `shard nodes`, `shard events`)\n", id)
		default:
			fmt.Fprintf(stdout, "n%d is active\n", id)
		}
		return nil
	})
}

func runMerge(args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("ranges merge", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("ranges merge takes exactly one RANGE id (merged with its right-hand neighbour)")
	}
	id, err := parseID("RANGE", "r", fs.Arg(0))
	if err != nil {
		return err
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.MergeRanges(ctx, &serverpb.MergeRangesRequest{RangeId: id})
		if err != nil {
			return err
		}
		j := toRangeJSON(resp.Desc)
		if cf.json {
			return printJSON(stdout, j)
		}
		fmt.Fprintf(stdout, "r%d is now [%s, %s) on %v\n", j.ID, j.Start, j.End, j.Replicas)
		return nil
	})
}
