package expr

import (
	"testing"

	"github.com/shardingsystem/shard/sql/types"
)

// BenchmarkEval measures per-row evaluation of typical predicates and
// projections against the test row.
func BenchmarkEval(b *testing.B) {
	for _, sql := range []string{
		"a + 1 > 5 AND b LIKE 'h%'",
		"a IN (1, 2, 3, 7)",
		"c * 2 + 1",
		"lower(b) || 'x'",
		"CASE WHEN a > 5 THEN 'big' ELSE 'small' END",
		"j ->> 'a'",
		"d + interval '1 day' > now()",
	} {
		b.Run(sql, func(b *testing.B) {
			t := &testing.T{}
			env, row := newTestEnv(t)
			e, err := (&Builder{Env: env}).Build(parseExpr(t, sql), types.Unknown)
			if err != nil {
				b.Fatal(err)
			}
			c := testCtx()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Eval(c, row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
