// Package report writes the result of a Jepsen run to a directory:
//
//	history.jsonl   every op, one JSON object per line (history.Write)
//	faults.json     the nemesis's faults: start, end, kind, nodes, detail
//	result.json     the verdict, the summary and the checker's full result
//	index.html      the verdict, the anomalies, a summary table, and a
//	                timeline: completed ops per second (ok, fail, info)
//	                under bands that show when each fault was active
//
// [Summarize] computes the figures the verdict needs: ops by outcome and
// function, and how many reads and writes succeeded while faults were
// active and after the last one healed (the evidence of real progress).
package report
