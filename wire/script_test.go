package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestWireScripts replays the wire transcripts in testdata/scripts against
// an insecure server with the fake backend. Commands:
//
//	connect            open a connection (user alice, database db) and
//	                   print the startup replies
//	send               send the input's messages, one a line:
//	                   Type [JSON fields] (pgproto3's JSON), or
//	                   CopyData "go-quoted payload", or
//	                   Bytes "go-quoted raw bytes"
//	recv [n=N]         print replies up to ReadyForQuery (or EOF), or N
//
// Run with -rewrite to regenerate the expected output.
func TestWireScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		ts := startServer(t, func(c *Config) { c.Insecure = true })
		var raw *rawClient
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "connect":
				raw = ts.dialRawNoStartup(t)
				raw.send(startupMessage(map[string]string{"user": testUser, "database": "db"}))
				return strings.Join(raw.recvUntilReady(), "\n") + "\n"
			case "send":
				for _, line := range strings.Split(d.Input, "\n") {
					if line = strings.TrimSpace(line); line == "" {
						continue
					}
					if typ, arg, _ := strings.Cut(line, " "); typ == "Bytes" {
						b, err := strconv.Unquote(arg)
						if err != nil {
							d.Fatalf(t, "%s: %v", line, err)
						}
						if _, err := raw.nc.Write([]byte(b)); err != nil {
							d.Fatalf(t, "write: %v", err)
						}
						continue
					}
					m, err := parseFrontend(line)
					if err != nil {
						d.Fatalf(t, "%s: %v", line, err)
					}
					raw.send(m)
				}
				return ""
			case "recv":
				var out []string
				if d.HasArg("n") {
					var n int
					d.ScanArgs(t, "n", &n)
					out = raw.recvN(n)
				} else {
					out = raw.recvUntilReady()
				}
				return strings.Join(out, "\n") + "\n"
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
				return ""
			}
		})
	})
}

// parseFrontend parses one "Type {json}" line into a client message.
func parseFrontend(line string) (pgproto3.FrontendMessage, error) {
	typ, arg, _ := strings.Cut(line, " ")
	var m pgproto3.FrontendMessage
	switch typ {
	case "Query":
		m = &pgproto3.Query{}
	case "Parse":
		m = &pgproto3.Parse{}
	case "Bind":
		m = &pgproto3.Bind{}
	case "Describe":
		m = &pgproto3.Describe{}
	case "Execute":
		m = &pgproto3.Execute{}
	case "Close":
		m = &pgproto3.Close{}
	case "Sync":
		m = &pgproto3.Sync{}
	case "Flush":
		m = &pgproto3.Flush{}
	case "Terminate":
		m = &pgproto3.Terminate{}
	case "FunctionCall":
		m = &pgproto3.FunctionCall{}
	case "CopyDone":
		m = &pgproto3.CopyDone{}
	case "CopyFail":
		m = &pgproto3.CopyFail{}
	case "CopyData":
		s, err := strconv.Unquote(arg)
		if err != nil {
			return nil, err
		}
		return &pgproto3.CopyData{Data: []byte(s)}, nil
	default:
		return nil, fmt.Errorf("unknown message type %q", typ)
	}
	if arg = strings.TrimSpace(arg); arg != "" {
		if err := json.Unmarshal([]byte(arg), m); err != nil {
			return nil, err
		}
	}
	return m, nil
}
