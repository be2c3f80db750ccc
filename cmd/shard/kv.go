package main

import (
	"context"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

func runKV(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("kv needs a subcommand: put KEY VALUE | get KEY | delete KEY | scan [START [END]] | txn SCRIPT")
	}
	sub := args[0]
	if sub == "txn" {
		return runKVTxn(args[1:], stdinReader, stdout, stderr)
	}
	var cf clientFlags
	fs := newFlagSet("kv "+sub, stderr)
	cf.register(fs)
	limit := 0
	if sub == "scan" {
		fs.IntVar(&limit, "limit", 1000, "at most this many keys (0: all)")
	}
	var asOf uint64
	if sub == "get" || sub == "scan" {
		fs.Uint64Var(&asOf, "as-of", 0, "read as of this timestamp (as printed by --json reads and kv txn); 0: now")
	}
	if help, err := parseFlags(fs, args[1:]); help || err != nil {
		return err
	}
	want := map[string][2]int{"put": {2, 2}, "get": {1, 1}, "delete": {1, 1}, "scan": {0, 2}}[sub]
	if want == [2]int{} {
		return usagef("unknown kv subcommand %q", sub)
	}
	if fs.NArg() < want[0] || fs.NArg() > want[1] {
		return usagef("kv %s takes %d to %d arguments, got %d", sub, want[0], want[1], fs.NArg())
	}
	var ks [][]byte
	for i := 0; i < fs.NArg() && (sub != "put" || i < 1); i++ {
		k, err := keys.Parse(fs.Arg(i))
		if err != nil {
			return usagef("%v", err)
		}
		if sub != "scan" {
			if err := keys.ValidateUserKey(k); err != nil {
				return usagef("%v", err)
			}
		}
		ks = append(ks, k)
	}
	var req *serverpb.KVRequest
	switch sub {
	case "put":
		req = &serverpb.KVRequest{Op: &serverpb.KVRequest_Put{Put: &kvpb.PutRequest{Key: ks[0], Value: []byte(fs.Arg(1))}}}
	case "get":
		req = &serverpb.KVRequest{Op: &serverpb.KVRequest_Get{Get: &kvpb.GetRequest{Key: ks[0], ReadTs: asOf}}}
	case "delete":
		req = &serverpb.KVRequest{Op: &serverpb.KVRequest_Delete{Delete: &kvpb.DeleteRequest{Key: ks[0]}}}
	case "scan":
		s := &kvpb.ScanRequest{Limit: int64(limit), ReadTs: asOf}
		if len(ks) > 0 {
			s.StartKey = ks[0]
		}
		if len(ks) > 1 {
			s.EndKey = ks[1]
		}
		req = &serverpb.KVRequest{Op: &serverpb.KVRequest_Scan{Scan: s}}
	}
	return cf.admin(func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.KV(ctx, req)
		if err != nil {
			return err
		}
		return printKV(stdout, cf.json, sub, ks, resp.Response)
	})
}

func printKV(w io.Writer, asJSON bool, sub string, ks [][]byte, r *kvpb.Response) error {
	type kvJSON struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	switch sub {
	case "put":
		if asJSON {
			return printJSON(w, map[string]bool{"ok": true})
		}
		_, err := fmt.Fprintln(w, "OK")
		return err
	case "get":
		g := r.GetGet()
		if !g.GetFound() {
			if asJSON {
				return printJSON(w, map[string]any{"key": keys.Escape(ks[0]), "found": false})
			}
			return fmt.Errorf("key %s not found", keys.Escape(ks[0]))
		}
		if asJSON {
			return printJSON(w, map[string]any{"key": keys.Escape(ks[0]), "found": true, "value": jsonValue(g.Value), "read_ts": g.Timestamp})
		}
		_, err := fmt.Fprintln(w, string(g.Value))
		return err
	case "delete":
		if asJSON {
			return printJSON(w, map[string]bool{"found": r.GetDelete().GetFound()})
		}
		_, err := fmt.Fprintf(w, "deleted: %v\n", r.GetDelete().GetFound())
		return err
	}
	rows := r.GetScan().GetRows()
	if asJSON {
		out := make([]kvJSON, 0, len(rows))
		for _, row := range rows {
			out = append(out, kvJSON{keys.Escape(row.Key), jsonValue(row.Value)})
		}
		return printJSON(w, out)
	}
	for _, row := range rows {
		if _, err := fmt.Fprintf(w, "%s\t%s\n", keys.Escape(row.Key), row.Value); err != nil {
			return err
		}
	}
	return nil
}

// jsonValue is a value as a JSON string: itself when it is UTF-8, escaped
// like keys otherwise, so no byte is lost.
func jsonValue(v []byte) string {
	if utf8.Valid(v) {
		return string(v)
	}
	return keys.Escape(v)
}
