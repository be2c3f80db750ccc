package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// runKVTxn runs `shard kv txn SCRIPT`: operations separated by ';' or new
// lines, each `get KEY`, `put KEY VALUE` or `delete KEY` (keys and values
// take \xNN escapes, so a value with a space is written \x20). SCRIPT "-"
// or no SCRIPT reads it from standard input.
func runKVTxn(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cf clientFlags
	fs := newFlagSet("kv txn", stderr)
	cf.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("kv txn takes one SCRIPT argument (quote it), or reads standard input")
	}
	script := fs.Arg(0)
	if fs.NArg() == 0 || script == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return err
		}
		script = string(b)
	}
	ops, labels, err := parseTxnScript(script)
	if err != nil {
		return usagef("%v", err)
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.KVTxn(ctx, &serverpb.KVTxnRequest{Ops: ops})
		if err != nil {
			return err
		}
		mode := "2PC"
		switch {
		case resp.OnePc:
			mode = "1PC"
		case !writes(labels):
			mode = "read-only"
		}
		if cf.json {
			type result struct {
				Op    string `json:"op"`
				Found *bool  `json:"found,omitempty"`
				Value string `json:"value,omitempty"`
			}
			out := struct {
				Results  []result `json:"results"`
				StartTS  uint64   `json:"start_ts"`
				CommitTS uint64   `json:"commit_ts"`
				Commit   string   `json:"commit"`
			}{StartTS: resp.StartTs, CommitTS: resp.CommitTs, Commit: mode}
			for i, r := range resp.Results {
				res := result{Op: labels[i]}
				if g := r.GetGet(); g != nil {
					found := g.Found
					res.Found, res.Value = &found, jsonValue(g.Value)
				}
				out.Results = append(out.Results, res)
			}
			return printJSON(stdout, out)
		}
		for i, r := range resp.Results {
			if g := r.GetGet(); g != nil {
				if g.Found {
					fmt.Fprintf(stdout, "%s\t%s\n", labels[i], g.Value)
				} else {
					fmt.Fprintf(stdout, "%s\t(not found)\n", labels[i])
				}
			}
		}
		_, err = fmt.Fprintf(stdout, "committed at %d (%s)\n", resp.CommitTs, mode)
		return err
	})
}

// parseTxnScript turns a script into admin ops; labels name each op for
// output ("get KEY").
func parseTxnScript(script string) ([]*serverpb.KVRequest, []string, error) {
	var ops []*serverpb.KVRequest
	var labels []string
	lines := strings.FieldsFunc(script, func(r rune) bool { return r == ';' || r == '\n' })
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		want := map[string]int{"get": 2, "put": 3, "delete": 2}[f[0]]
		if want == 0 {
			return nil, nil, fmt.Errorf("unknown operation %q (want get, put or delete)", f[0])
		}
		if len(f) != want {
			return nil, nil, fmt.Errorf("%q: %s takes %d argument(s)", strings.TrimSpace(line), f[0], want-1)
		}
		k, err := keys.Parse(f[1])
		if err != nil {
			return nil, nil, err
		}
		if err := keys.ValidateUserKey(k); err != nil {
			return nil, nil, err
		}
		switch f[0] {
		case "get":
			ops = append(ops, &serverpb.KVRequest{Op: &serverpb.KVRequest_Get{Get: &kvpb.GetRequest{Key: k}}})
		case "put":
			v, err := keys.Parse(f[2])
			if err != nil {
				return nil, nil, err
			}
			ops = append(ops, &serverpb.KVRequest{Op: &serverpb.KVRequest_Put{Put: &kvpb.PutRequest{Key: k, Value: v}}})
		case "delete":
			ops = append(ops, &serverpb.KVRequest{Op: &serverpb.KVRequest_Delete{Delete: &kvpb.DeleteRequest{Key: k}}})
		}
		labels = append(labels, f[0]+" "+keys.Escape(k))
	}
	if len(ops) == 0 {
		return nil, nil, fmt.Errorf("empty transaction script")
	}
	return ops, labels, nil
}

func writes(labels []string) bool {
	for _, l := range labels {
		if !strings.HasPrefix(l, "get ") {
			return true
		}
	}
	return false
}

var stdinReader io.Reader = os.Stdin
