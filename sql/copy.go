package sql

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// copyPlan is COPY table FROM STDIN (text and csv formats). Rows are
// inserted in batches inside the statement's transaction.
type copyPlan struct {
	ins       *insertPlan
	csv       bool
	delim     rune
	null      string
	header    bool
	quote     rune
	escape    rune
	colFormat []int16
}

func (c *copyPlan) columns() []resultCol { return nil }
func (c *copyPlan) mode() txnMode        { return modeWrite }

func (p *planner) planCopy(s *pg_query.CopyStmt) (plan, error) {
	if !s.IsFrom {
		return nil, pgerror.Unsupported("COPY TO is not supported yet")
	}
	if s.Filename != "" || s.IsProgram {
		return nil, pgerror.New(pgerror.CodeInsufficientPrivilege, "COPY from a file or program is not allowed; use COPY FROM STDIN (psql's \\copy)")
	}
	if s.WhereClause != nil {
		return nil, pgerror.Unsupported("COPY ... WHERE is not supported yet")
	}
	if s.Relation == nil {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "COPY FROM needs a table")
	}
	t, err := p.tableFor(s.Relation)
	if err != nil {
		return nil, err
	}
	cp := &copyPlan{delim: '\t', null: `\N`, quote: '"', escape: '"'}
	for _, o := range s.Options {
		de := o.GetDefElem()
		val := ""
		if de.Arg != nil {
			if sv := de.Arg.GetString_(); sv != nil {
				val = sv.Sval
			} else if v, err := setArg(de.Arg); err == nil {
				val = v
			}
		}
		switch strings.ToLower(de.Defname) {
		case "format":
			switch strings.ToLower(val) {
			case "csv":
				cp.csv = true
			case "text":
			case "binary":
				return nil, pgerror.Unsupported("COPY binary format is not supported yet")
			default:
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "COPY format \"%s\" not recognized", val)
			}
		case "delimiter":
			if len([]rune(val)) != 1 {
				return nil, pgerror.New(pgerror.CodeFeatureNotSupported, "COPY delimiter must be a single one-byte character")
			}
			cp.delim = []rune(val)[0]
		case "null":
			cp.null = val
		case "header":
			cp.header = de.Arg == nil || val == "" || val == "true" || val == "on" || val == "1" || strings.EqualFold(val, "match")
		case "quote":
			cp.quote = []rune(val)[0]
		case "escape":
			cp.escape = []rune(val)[0]
		case "freeze", "encoding", "force_not_null", "force_null":
		default:
			return nil, pgerror.New(pgerror.CodeSyntaxError, "option \"%s\" not recognized", de.Defname)
		}
	}
	if cp.csv && cp.null == `\N` {
		cp.null = ""
	}
	ip := &insertPlan{t: t}
	if len(s.Attlist) == 0 {
		for i, c := range t.Columns {
			if !c.Hidden {
				ip.targets = append(ip.targets, i)
			}
		}
	} else {
		for _, a := range s.Attlist {
			name := a.GetString_().GetSval()
			c := t.Column(name)
			if c == nil || c.Hidden {
				return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", name, t.Name)
			}
			ip.targets = append(ip.targets, t.ColumnIndex(c.ID))
		}
	}
	if ip.defaults, err = p.defaultExprs(t); err != nil {
		return nil, err
	}
	cp.ins = ip
	cp.colFormat = make([]int16, len(ip.targets))
	return cp, nil
}

func (c *copyPlan) run(e *execCtx) (*result, error) {
	r, err := e.w.CopyIn(0, c.colFormat)
	if err != nil {
		return nil, err
	}
	ins := &inserter{ip: c.ins, w: newWriter(e, c.ins.t)}
	var batch []row
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := ins.add(batch)
		batch = batch[:0]
		return err
	}
	each := func(fields []string, isNull []bool, line int) error {
		if len(fields) != len(c.ins.targets) {
			if len(fields) < len(c.ins.targets) {
				return copyErr(c.ins.t, line, pgerror.New("22P04", "missing data for column \"%s\"", c.ins.t.Columns[c.ins.targets[len(fields)]].Name))
			}
			return copyErr(c.ins.t, line, pgerror.New("22P04", "extra data after last expected column"))
		}
		rw := make(row, len(fields))
		for i, f := range fields {
			if isNull[i] {
				continue
			}
			col := c.ins.t.Columns[c.ins.targets[i]]
			d, err := types.ParseText(col.Type, f)
			if err != nil {
				return copyErr(c.ins.t, line, err)
			}
			rw[i] = d
		}
		batch = append(batch, rw)
		n++
		if len(batch) >= insertBatch {
			return flush()
		}
		return nil
	}
	if c.csv {
		err = c.readCSV(r, each)
	} else {
		err = c.readText(r, each)
	}
	if err != nil {
		// Drain the rest of the stream so the protocol stays in step.
		_, _ = io.Copy(io.Discard, r)
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return &result{tag: fmt.Sprintf("COPY %d", n)}, nil
}

func copyErr(t *catalog.Table, line int, err error) error {
	pe := pgerror.Flatten(err)
	if pe.Detail == "" {
		pe.Detail = fmt.Sprintf("COPY %s, line %d", t.Name, line)
	}
	return pe
}

// readText parses COPY's text format.
func (c *copyPlan) readText(r io.Reader, each func([]string, []bool, int) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSuffix(sc.Text(), "\r")
		if l == `\.` {
			break
		}
		if line == 1 && c.header {
			continue
		}
		raw := strings.Split(l, string(c.delim))
		fields := make([]string, len(raw))
		nulls := make([]bool, len(raw))
		for i, f := range raw {
			if f == c.null {
				nulls[i] = true
				continue
			}
			v, err := unescapeCopy(f)
			if err != nil {
				return copyErr(c.ins.t, line, err)
			}
			fields[i] = v
		}
		if err := each(fields, nulls, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		var pe *pgerror.Error
		if errors.As(err, &pe) {
			return pe
		}
		return pgerror.Wrap(err, "22P04", "COPY")
	}
	return nil
}

func unescapeCopy(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '\\' || i+1 == len(s) {
			b.WriteByte(ch)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && isHex(s[j]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('x')
				continue
			}
			v, _ := strconv.ParseUint(s[i+1:j], 16, 8)
			b.WriteByte(byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 8)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// readCSV parses COPY's csv format. An unquoted empty field (or the NULL
// string) is NULL.
func (c *copyPlan) readCSV(r io.Reader, each func([]string, []bool, int) error) error {
	br := bufio.NewReader(r)
	cr := csv.NewReader(br)
	cr.Comma = c.delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	line := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		line++
		if err != nil {
			return copyErr(c.ins.t, line, pgerror.New("22P04", "%v", err))
		}
		if len(rec) == 1 && rec[0] == `\.` {
			return nil
		}
		if line == 1 && c.header {
			continue
		}
		nulls := make([]bool, len(rec))
		for i, f := range rec {
			if f == c.null {
				nulls[i] = true
			}
		}
		if err := each(rec, nulls, line); err != nil {
			return err
		}
	}
}
