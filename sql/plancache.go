package sql

import (
	"sort"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// planCache caches parse trees by statement text, so a statement a client
// sends again (every extended-protocol Parse of an ORM, pgbench's scripts)
// skips the parser. Trees are never modified after parsing, so they are
// shared by sessions. The cache is bounded; when full it is emptied, which
// is crude but keeps memory bounded without bookkeeping on every hit.
type planCache struct {
	max int
	mu  struct {
		sync.Mutex
		m map[string][]*pg_query.RawStmt
	}
}

func newPlanCache(max int) *planCache {
	c := &planCache{max: max}
	c.mu.m = map[string][]*pg_query.RawStmt{}
	return c
}

// parse returns sql's statements, from the cache when it has them.
func (c *planCache) parse(sql string) ([]*pg_query.RawStmt, error) {
	c.mu.Lock()
	stmts, ok := c.mu.m[sql]
	c.mu.Unlock()
	if ok {
		return stmts, nil
	}
	stmts, err := parse(sql)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.mu.m) >= c.max {
		c.mu.m = map[string][]*pg_query.RawStmt{}
	}
	c.mu.m[sql] = stmts
	c.mu.Unlock()
	return stmts, nil
}

func sortedSettingNames() []string {
	out := make([]string, 0, len(settings))
	for k := range settings {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
