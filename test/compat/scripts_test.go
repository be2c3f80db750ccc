package compat

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testScripts runs every testdata/*.sql through psql against both sides, one
// subtest per script, in file name order. The reference's output must match
// the golden testdata/NAME.out (so a script that prints something
// nondeterministic, or a change of PostgreSQL, is noticed; -rewrite
// regenerates it), and the target's output must match the reference's.
// Scripts run one after another, each on the next node of a cluster.
func (s *suite) testScripts(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("testdata", "*.sql"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no testdata/*.sql (err %v)", err)
	}
	// testdata/pending holds scripts of known differences from PostgreSQL
	// (each says which); SHARD_COMPAT_PENDING=1 runs them too, without a
	// golden file, to see where they stand.
	if os.Getenv("SHARD_COMPAT_PENDING") == "1" {
		pending, _ := filepath.Glob(filepath.Join("testdata", "pending", "*.sql"))
		scripts = append(scripts, pending...)
	}
	for i, path := range scripts {
		name := strings.TrimSuffix(filepath.Base(path), ".sql")
		t.Run(name, func(t *testing.T) {
			abs, err := filepath.Abs(path)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := s.psql(s.ref, defaultDB, "--echo-all", "-f", abs)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(filepath.Dir(path)) != "pending" {
				checkGolden(t, strings.TrimSuffix(path, ".sql")+".out", ref)
			}
			tgt, err := s.psql(s.tgt.at(i), defaultDB, "--echo-all", "-f", abs)
			if err != nil {
				t.Fatal(err)
			}
			if d := unifiedDiff(sideReference, sideTarget, ref, tgt); d != "" {
				t.Errorf("%s: output differs from PostgreSQL's:\n%s", filepath.Base(path), d)
			}
		})
	}
}

// checkGolden compares the reference's output with a golden file, or
// writes the file under -rewrite.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *rewrite {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s is missing: run `go test ./test/compat -run TestCompat/sql -rewrite` (SHARD_COMPAT_TARGET=postgres works) and review it", golden)
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := unifiedDiff(golden, sideReference, string(want), got); d != "" {
		t.Fatalf("PostgreSQL's output differs from %s (a nondeterministic script, or another PostgreSQL; -rewrite regenerates it):\n%s", golden, d)
	}
}
