package sql

import (
	"encoding/binary"
	"errors"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// parse parses sql into its raw statements, turning a syntax error into
// 42601 with its position.
func parse(sql string) ([]*pg_query.RawStmt, error) {
	res, err := pg_query.Parse(sql)
	if err != nil {
		var perr *parser.Error
		if errors.As(err, &perr) {
			e := pgerror.New(pgerror.CodeSyntaxError, "%s", perr.Message)
			e.Position = int32(perr.Cursorpos)
			return nil, e
		}
		return nil, pgerror.Wrap(err, pgerror.CodeSyntaxError, "")
	}
	return res.Stmts, nil
}

// splitStatements returns the text of each statement of sql.
func splitStatements(sql string) ([]string, error) {
	stmts, err := parse(sql)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(stmts))
	for _, st := range stmts {
		start := int(st.StmtLocation)
		end := len(sql)
		if st.StmtLen > 0 {
			end = start + int(st.StmtLen)
		}
		if start > len(sql) || end > len(sql) || start > end {
			continue
		}
		out = append(out, sql[start:end])
	}
	return out, nil
}

func sequenceKey(name string) []byte { return keys.SystemKey("seq/" + name) }

func encodeInt64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func decodeInt64(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
