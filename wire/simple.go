package wire

import (
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// simpleQuery serves a Query message: its statements run in order, each
// prepared, bound and run to completion; the first error skips the rest.
// ReadyForQuery ends it in every case.
func (c *conn) simpleQuery(q string) {
	// A Query destroys the unnamed statement and portal, as in PostgreSQL.
	c.ext.dropUnnamed()
	stmts, err := c.session.SplitSimple(q)
	switch {
	case err != nil:
		c.sendError(err)
	case len(stmts) == 0:
		_ = c.w.send(&pgproto3.EmptyQueryResponse{})
	default:
		for _, text := range stmts {
			err := c.runSimple(text)
			c.sendChangedParameters()
			if err != nil {
				c.sendError(err)
				break
			}
			if c.w.err != nil || c.readErr != nil || c.terminated || c.fatalSent {
				break
			}
		}
	}
	c.endImplicit()
	c.readyForQuery()
}

// runSimple runs one statement of a simple query. Its three calls into the
// session share one cancelable context.
func (c *conn) runSimple(text string) error {
	ctx := c.callContext()
	st, err := c.session.Prepare(ctx, text, nil)
	if err != nil {
		return err
	}
	p, err := st.Bind(ctx, nil, nil, nil)
	if err != nil {
		return err
	}
	defer p.Close()
	if cols := p.Columns(); cols != nil {
		_ = c.w.send(rowDescription(cols))
	}
	w := &rowWriter{c: c, ctx: ctx}
	tag, suspended, err := p.Execute(ctx, 0, w)
	if err = w.finish(err); err != nil {
		return err
	}
	if suspended {
		return pgerror.New(pgerror.CodeInternalError, "portal suspended without a row limit")
	}
	return c.w.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}

// rowDescription describes result columns.
func rowDescription(cols []Column) *pgproto3.RowDescription {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		fields[i] = pgproto3.FieldDescription{
			Name:                 []byte(noNUL(col.Name)),
			TableOID:             col.TableOID,
			TableAttributeNumber: uint16(col.AttrNum),
			DataTypeOID:          col.TypeOID,
			DataTypeSize:         col.TypeSize,
			TypeModifier:         col.TypeMod,
			Format:               col.Format,
		}
	}
	return &pgproto3.RowDescription{Fields: fields}
}
