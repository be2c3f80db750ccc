package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shardingsystem/shard/kvpb"
)

// toyProcessor compiles three programs: "grep" keeps the rows whose value
// contains the args and returns them upper-cased; "count" counts rows into
// its partial result; "fail" fails on a row whose value is "bad".
type toyProcessor struct{ compiled atomic.Int64 }

func (p *toyProcessor) Compile(code []byte) (Program, error) {
	p.compiled.Add(1)
	switch string(code) {
	case "grep", "count", "fail":
		return toyProgram(code), nil
	}
	return nil, fmt.Errorf("unknown program %q", code)
}

type toyProgram string

func (p toyProgram) Start(args []byte) (Run, error) { return &toyRun{kind: string(p), args: args}, nil }

type toyRun struct {
	kind string
	args []byte
	n    int
}

type toyErr struct{}

func (toyErr) Error() string              { return "bad row" }
func (toyErr) ProgramErrorDetail() []byte { return []byte("detail") }

func (r *toyRun) Row(_, value []byte) ([]byte, bool, error) {
	switch r.kind {
	case "grep":
		if !bytes.Contains(value, r.args) {
			return nil, false, nil
		}
		return bytes.ToUpper(value), true, nil
	case "count":
		r.n++
		return nil, false, nil
	}
	if string(value) == "bad" {
		return nil, false, toyErr{}
	}
	return value, true, nil
}

func (r *toyRun) Held() (int, int) {
	if r.kind == "count" {
		return 1, 8
	}
	return 0, 0
}

func (r *toyRun) Finish() ([]byte, error) {
	if r.kind == "count" {
		return []byte(strconv.Itoa(r.n)), nil
	}
	return nil, nil
}

func TestScanProgram(t *testing.T) {
	x := newTxnRange(t)
	ctx := context.Background()
	toy := &toyProcessor{}
	x.r.cfg.Processor = NewProgramCache(toy, 2)
	for i, kv := range [][2]string{{"k1", "apple"}, {"k2", "banana"}, {"k3", "cherry"}, {"k4", "bad"}, {"k5", "grape"}} {
		s := at(int64(100 + 10*i))
		x.ok(onePCReq(s, s+1, putM(kv[0], kv[1])))
	}
	desc := x.r.Desc()
	scan := func(start, end string, limit int64, ts uint64, prog, args string) (*kvpb.ScanResponse, error) {
		t.Helper()
		return x.r.scan(ctx, &kvpb.ScanRequest{StartKey: []byte(start), EndKey: []byte(end), Limit: limit, ReadTs: ts,
			Program: []byte(prog), ProgramArgs: []byte(args)}, desc)
	}
	rows := func(s *kvpb.ScanResponse) string {
		var out []string
		for _, r := range s.GetRows() {
			out = append(out, fmt.Sprintf("%s=%s", r.Key, r.Value))
		}
		return strings.Join(out, " ")
	}

	// The program keeps and rewrites rows; the limit counts kept rows.
	s, err := scan("a", "z", 0, at(200), "grep", "an")
	if err != nil || rows(s) != "k2=BANANA" || s.Examined != 5 {
		t.Fatalf("grep: %q examined %d, %v", rows(s), s.GetExamined(), err)
	}
	s, err = scan("a", "z", 1, at(200), "grep", "r")
	if err != nil || rows(s) != "k3=CHERRY" || string(s.ResumeKey) != "k4" {
		t.Fatalf("grep with limit 1: %q resume %q, %v", rows(s), s.GetResumeKey(), err)
	}
	// It runs on the visible versions only.
	if s, err := scan("a", "z", 0, at(125), "grep", "a"); err != nil || rows(s) != "k1=APPLE k2=BANANA" {
		t.Fatalf("grep at 125: %q, %v", rows(s), err)
	}

	// A partial result counts against the bounds of a response: with a
	// limit of one, every response holds one row's worth, and the pages'
	// partial results add up.
	total, pages := 0, 0
	for start := "a"; start != ""; pages++ {
		s, err := scan(start, "z", 1, at(200), "count", "")
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(string(s.Partial))
		total += n
		start = string(s.ResumeKey)
	}
	if total != 5 || pages != 5 {
		t.Fatalf("count over pages: %d rows in %d pages, want 5 in 5", total, pages)
	}

	// A program's error reaches the client with its detail.
	_, err = scan("a", "z", 0, at(200), "fail", "")
	var kerr *kvpb.Error
	if !errors.As(err, &kerr) || kerr.GetProgram() == nil || string(kerr.GetProgram().Detail) != "detail" {
		t.Fatalf("failing program: %v, want a program error with its detail", err)
	}
	if _, err := scan("a", "z", 0, at(200), "nonsense", ""); !errors.As(err, &kerr) || kerr.GetProgram() == nil {
		t.Fatalf("unknown program: %v, want a program error", err)
	}

	// A lock conflicts exactly as without a program, even on a row the
	// program would drop; a lock before the failing row comes first, one
	// after it does not.
	x.ok(prewriteReq("k2", at(300), 3000, putM("k2", "blueberry")))
	_, err = scan("a", "z", 0, at(400), "grep", "nothing matches")
	if !errors.As(err, &kerr) || string(kerr.GetKeyLocked().GetKey()) != "k2" {
		t.Fatalf("scan over a lock: %v, want k2 locked", err)
	}
	if _, err := scan("a", "z", 0, at(400), "fail", ""); !errors.As(err, &kerr) || kerr.GetKeyLocked() == nil {
		t.Fatalf("failing program after a lock: %v, want k2 locked", err)
	}
	x.ok(rollbackReq(at(300), "k2"))
	x.ok(prewriteReq("k5", at(300), 3000, putM("k5", "plum")))
	if _, err := scan("a", "z", 0, at(400), "fail", ""); !errors.As(err, &kerr) || kerr.GetProgram() == nil {
		t.Fatalf("failing program before a lock: %v, want the program error", err)
	}

	// Compiled programs are cached (two of them here), and evicted least
	// recently used first.
	before := toy.compiled.Load()
	for _, p := range []string{"grep", "fail", "grep", "fail"} {
		if _, err := scan("a", "b", 0, at(200), p, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if n := toy.compiled.Load() - before; n != 0 {
		t.Fatalf("%d compilations of cached programs", n)
	}
	if _, err := scan("a", "b", 0, at(200), "count", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := scan("a", "b", 0, at(200), "grep", "x"); err != nil {
		t.Fatal(err)
	}
	if n := toy.compiled.Load() - before; n != 2 {
		t.Fatalf("%d compilations after evicting grep, want 2 (count, then grep again)", n)
	}

	// Without a processor, programs are refused.
	x.r.cfg.Processor = nil
	if _, err := scan("a", "z", 0, at(200), "grep", "a"); !errors.As(err, &kerr) || kerr.GetInvalid() == nil {
		t.Fatalf("no processor: %v, want an invalid request", err)
	}
}
