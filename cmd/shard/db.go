package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/client"
	"github.com/shardingsystem/shard/server"
)

// apiFlags are the flags of the commands that call the HTTP API.
type apiFlags struct {
	url     string
	token   string
	dataDir string
	json    bool
	timeout time.Duration
}

func (a *apiFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("SHARD_API")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&a.url, "api", def, "URL of any node's HTTP API ($SHARD_API)")
	fs.StringVar(&a.token, "token", "", "API token ($SHARD_TOKEN; else the admin token in --data-dir)")
	fs.StringVar(&a.dataDir, "data-dir", "shard-data", "data directory whose admin token to use when no token is given")
	fs.BoolVar(&a.json, "json", false, "print JSON for machines")
	fs.DurationVar(&a.timeout, "timeout", 2*time.Minute, "how long to wait for an answer")
}

// client returns an API client with the token from the flag, the
// environment or the data directory.
func (a *apiFlags) client() (*client.Client, error) {
	tok := a.token
	if tok == "" {
		tok = os.Getenv("SHARD_TOKEN")
	}
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(a.dataDir, server.AdminTokenFile))
		if err != nil {
			return nil, usagef("no API token: pass --token, set SHARD_TOKEN, or run where --data-dir (%s) holds %s", a.dataDir, server.AdminTokenFile)
		}
		tok = strings.TrimSpace(string(b))
	}
	return client.New(a.url, tok), nil
}

// parseAPICommand parses the flags of an API command (the API flags plus
// those extra registers), checks that it has want arguments, and returns
// a client. A nil flag set with a nil error means -h was asked for.
func parseAPICommand(name string, args []string, want int, stderr io.Writer, extra func(*flag.FlagSet)) (*flag.FlagSet, *apiFlags, *client.Client, error) {
	af := &apiFlags{}
	fs := newFlagSet(name, stderr)
	af.register(fs)
	extra(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return nil, nil, nil, err
	}
	if fs.NArg() != want {
		return nil, nil, nil, usagef("%s takes %d argument(s), got %d", name, want, fs.NArg())
	}
	cl, err := af.client()
	if err != nil {
		return nil, nil, nil, err
	}
	return fs, af, cl, nil
}

func (a *apiFlags) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.timeout)
}

// connectionsFile keeps the connection strings `db create` printed, so that
// `db connect` can use them (mode 0600: they hold passwords).
// The file is in $SHARD_CONFIG_DIR, else the user's config directory.
func connectionsFile() (string, error) {
	if dir := os.Getenv("SHARD_CONFIG_DIR"); dir != "" {
		return filepath.Join(dir, "connections.json"), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "shard", "connections.json"), nil
}

func loadConnections() map[string]string {
	out := map[string]string{}
	if p, err := connectionsFile(); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			_ = json.Unmarshal(b, &out)
		}
	}
	return out
}

func saveConnection(key, conn string) error {
	p, err := connectionsFile()
	if err != nil {
		return err
	}
	all := loadConnections()
	if conn == "" {
		delete(all, key)
	} else {
		all[key] = conn
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o600)
}

func runDB(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("db needs a subcommand: create NAME --shard-key COL [--template T] | list | delete NAME | connect NAME")
	}
	sub, args := args[0], args[1:]
	if !slices.Contains([]string{"create", "list", "delete", "connect"}, sub) {
		return usagef("unknown db subcommand %q: create, list, delete or connect", sub)
	}
	var shardKey, template string
	want := 1
	if sub == "list" {
		want = 0
	}
	fs, af, cl, err := parseAPICommand("db "+sub, args, want, stderr, func(fs *flag.FlagSet) {
		if sub == "create" {
			fs.StringVar(&shardKey, "shard-key", "", "the column that places rows (required)")
			fs.StringVar(&template, "template", "", "template: free, starter, growth, enterprise (default free)")
		}
	})
	if fs == nil || err != nil {
		return err
	}
	ctx, cancel := af.ctx()
	defer cancel()
	switch sub {
	case "create":
		if shardKey == "" {
			return usagef("db create needs --shard-key COLUMN")
		}
		db, err := cl.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: fs.Arg(0), ShardKey: shardKey, Template: template})
		if err != nil {
			return err
		}
		if err := saveConnection(af.url+" "+db.Name, db.ConnectionString); err != nil {
			fmt.Fprintf(stderr, "shard db create: could not save the connection string for `shard db connect`: %v\n", err)
		}
		if af.json {
			return printJSON(stdout, db)
		}
		fmt.Fprintf(stdout, "database %s created (template %s, %d shards, shard key %s)\n", db.Name, db.Template, len(db.Shards), db.ShardKey)
		fmt.Fprintf(stdout, "owner role %s, password %s (shown once)\n", db.Owner.Role, db.Owner.Password)
		fmt.Fprintf(stdout, "connection string:\n  %s\n", db.ConnectionString)
		fmt.Fprintf(stdout, "connect with:\n  psql '%s'\n", db.ConnectionString)
		return nil
	case "list":
		dbs, err := cl.ListDatabases(ctx)
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, dbs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSHARD KEY\tTEMPLATE\tSHARDS\tOWNER\tACCOUNT\tCREATED")
		for _, d := range dbs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.Name, d.ShardKey, d.Template, len(d.Shards), d.Owner.Role, d.Account, d.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "delete":
		if err := cl.DeleteDatabase(ctx, fs.Arg(0)); err != nil {
			return err
		}
		_ = saveConnection(af.url+" "+fs.Arg(0), "")
		fmt.Fprintf(stdout, "database %s deleted\n", fs.Arg(0))
		return nil
	case "connect":
		name := fs.Arg(0)
		if _, err := cl.GetDatabase(ctx, name); err != nil {
			return err
		}
		conn := loadConnections()[af.url+" "+name]
		if conn == "" {
			return fmt.Errorf("no connection string for %s saved on this machine: use the one `shard db create` printed (psql 'postgresql://...')", name)
		}
		psql, err := exec.LookPath("psql")
		if err != nil {
			fmt.Fprintf(stdout, "psql is not installed; connect with any PostgreSQL client to:\n  %s\n", conn)
			return nil
		}
		cmd := exec.Command(psql, conn)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
		var ee *exec.ExitError
		if err := cmd.Run(); err != nil && !errors.As(err, &ee) {
			return err
		}
		return nil
	}
	return usagef("unknown db subcommand %q: create, list, delete or connect", sub)
}

func runToken(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("token needs a subcommand: create [--name N] [--account A] | list | delete ID")
	}
	sub, args := args[0], args[1:]
	if !slices.Contains([]string{"create", "list", "delete"}, sub) {
		return usagef("unknown token subcommand %q: create, list or delete", sub)
	}
	var name, account string
	want := 0
	if sub == "delete" {
		want = 1
	}
	fs, af, cl, err := parseAPICommand("token "+sub, args, want, stderr, func(fs *flag.FlagSet) {
		if sub == "create" {
			fs.StringVar(&name, "name", "", "a label for the token")
			fs.StringVar(&account, "account", "", "admin only: the account of the new token (default: a new account)")
		}
	})
	if fs == nil || err != nil {
		return err
	}
	ctx, cancel := af.ctx()
	defer cancel()
	switch sub {
	case "create":
		t, err := cl.CreateToken(ctx, api.CreateTokenRequest{Name: name, Account: account})
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, t)
		}
		fmt.Fprintf(stdout, "token %s for account %s (shown once):\n  %s\n", t.ID, t.Account, t.Token)
		return nil
	case "list":
		ts, err := cl.ListTokens(ctx)
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(stdout, ts)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tACCOUNT\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Account, t.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "delete":
		if err := cl.DeleteToken(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s deleted\n", fs.Arg(0))
		return nil
	}
	return usagef("unknown token subcommand %q: create, list or delete", sub)
}
