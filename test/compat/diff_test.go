package compat

import (
	"fmt"
	"strings"
	"testing"
)

// diffContext is the number of unchanged lines shown around a change.
const diffContext = 3

// unifiedDiff returns a unified diff from a to b ("" if they are equal),
// labelled with the two names. It is a plain longest-common-subsequence
// diff, fine for the few hundred lines a script prints.
func unifiedDiff(aName, bName, a, b string) string {
	if a == b {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	// Group the edit script into hunks of changes with context.
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-diffContext, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			// A run of unchanged lines longer than twice the context ends
			// the hunk.
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*diffContext {
				end = min(end+diffContext, len(ops))
				break
			}
			end = run
		}
		aStart, bStart := ops[start].a, ops[start].b
		var aCount, bCount int
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aCount++
			}
			if op.kind != '-' {
				bCount++
			}
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", aStart+1, aCount, bStart+1, bCount)
		for _, op := range ops[start:end] {
			out.WriteByte(op.kind)
			out.WriteString(op.line)
			out.WriteByte('\n')
		}
		i = end
	}
	return out.String()
}

// diffOp is one line of an edit script: kind ' ' (in both), '-' (only in
// a) or '+' (only in b); a and b are the line's (or the next line's)
// 0-based positions in each input.
type diffOp struct {
	kind byte
	line string
	a, b int
}

// diffLines computes an edit script from a to b through a table of
// longest common subsequence lengths of the suffixes.
func diffLines(a, b []string) []diffOp {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			// Deletions first, as diff -u prints them.
			ops = append(ops, diffOp{'-', a[i], i, j})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], i, j})
			j++
		}
	}
	return ops
}

// splitLines splits s into lines without their newlines; a final newline
// does not make an empty last line.
func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestUnifiedDiff(t *testing.T) {
	for _, tc := range []struct {
		a, b, want string
	}{
		{"x\n", "x\n", ""},
		{"a\nb\nc\n", "a\nB\nc\n", "--- A\n+++ B\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"", "new\n", "--- A\n+++ B\n@@ -1,0 +1,1 @@\n+new\n"},
		{
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
			"1\n2x\n3\n4\n5\n6\n7\n8\n9\n10\n11x\n12\n",
			"--- A\n+++ B\n@@ -1,5 +1,5 @@\n 1\n-2\n+2x\n 3\n 4\n 5\n@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+11x\n 12\n",
		},
	} {
		if got := unifiedDiff("A", "B", tc.a, tc.b); got != tc.want {
			t.Errorf("unifiedDiff(%q, %q):\n%s\nwant:\n%s", tc.a, tc.b, got, tc.want)
		}
	}
}
