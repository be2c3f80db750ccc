package wire

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// codeDuplicateCursor is SQLSTATE 42P03 (a portal name already in use).
const codeDuplicateCursor = "42P03"

// extendedState is a connection's extended-protocol state: prepared
// statements and portals by name ("" is the unnamed one), and whether
// messages are being skipped until Sync after an error. Only the
// connection's goroutine touches it.
type extendedState struct {
	stmts          map[string]*preparedStmt
	portals        map[string]*boundPortal
	ignoreTillSync bool
}

// preparedStmt is a Parse result; st is nil for an empty query.
type preparedStmt struct {
	st Statement
}

// boundPortal is a Bind result; p is nil for an empty query. done is set
// once it ran to completion or failed: it cannot run again.
type boundPortal struct {
	p    Portal
	done bool
}

func (b *boundPortal) close() {
	if b.p != nil {
		b.p.Close()
	}
}

// closePortals closes every portal (at the end of a transaction, and when
// the connection ends).
func (e *extendedState) closePortals() {
	for name, p := range e.portals {
		p.close()
		delete(e.portals, name)
	}
}

// dropUnnamed drops the unnamed statement and portal.
func (e *extendedState) dropUnnamed() {
	delete(e.stmts, "")
	if p := e.portals[""]; p != nil {
		p.close()
		delete(e.portals, "")
	}
}

// extError reports an error of an extended-protocol message: everything
// up to the next Sync is skipped.
func (c *conn) extError(err error) {
	c.sendError(err)
	c.ext.ignoreTillSync = true
}

func (c *conn) parse(m *pgproto3.Parse) {
	if c.ext.stmts == nil {
		c.ext.stmts = make(map[string]*preparedStmt)
	}
	if m.Name == "" {
		delete(c.ext.stmts, "")
	} else if _, ok := c.ext.stmts[m.Name]; ok {
		c.extError(pgerror.New(pgerror.CodeDuplicatePreparedStatement, "prepared statement %q already exists", m.Name))
		return
	}
	ps := &preparedStmt{}
	if strings.TrimSpace(m.Query) != "" {
		st, err := c.session.Prepare(c.callContext(), m.Query, m.ParameterOIDs)
		if err != nil {
			c.extError(err)
			return
		}
		ps.st = st
	}
	c.ext.stmts[m.Name] = ps
	_ = c.w.send(&pgproto3.ParseComplete{})
}

func (c *conn) bind(m *pgproto3.Bind) {
	ps, err := c.ext.stmt(m.PreparedStatement)
	if err != nil {
		c.extError(err)
		return
	}
	if c.ext.portals == nil {
		c.ext.portals = make(map[string]*boundPortal)
	}
	if m.DestinationPortal == "" {
		if old := c.ext.portals[""]; old != nil {
			old.close()
			delete(c.ext.portals, "")
		}
	} else if _, ok := c.ext.portals[m.DestinationPortal]; ok {
		c.extError(pgerror.New(codeDuplicateCursor, "portal %q already exists", m.DestinationPortal))
		return
	}
	bp := &boundPortal{}
	if ps.st != nil {
		p, err := ps.st.Bind(c.callContext(), m.Parameters, m.ParameterFormatCodes, m.ResultFormatCodes)
		if err != nil {
			c.extError(err)
			return
		}
		bp.p = p
	} else if len(m.Parameters) != 0 {
		c.extError(protocolErrorf("bind message supplies %d parameters, but prepared statement %q requires 0", len(m.Parameters), m.PreparedStatement))
		return
	}
	c.ext.portals[m.DestinationPortal] = bp
	_ = c.w.send(&pgproto3.BindComplete{})
}

func (c *conn) describe(m *pgproto3.Describe) {
	var cols []Column
	switch m.ObjectType {
	case 'S':
		ps, err := c.ext.stmt(m.Name)
		if err != nil {
			c.extError(err)
			return
		}
		var types []uint32
		if ps.st != nil {
			types, cols = ps.st.ParamTypes(), ps.st.Columns()
		}
		_ = c.w.send(&pgproto3.ParameterDescription{ParameterOIDs: types})
	case 'P':
		bp, err := c.ext.portal(m.Name)
		if err != nil {
			c.extError(err)
			return
		}
		if bp.p != nil {
			cols = bp.p.Columns()
		}
	default:
		c.extError(protocolErrorf("invalid DESCRIBE message subtype %d", m.ObjectType))
		return
	}
	if cols == nil {
		_ = c.w.send(&pgproto3.NoData{})
		return
	}
	_ = c.w.send(rowDescription(cols))
}

func (c *conn) execute(m *pgproto3.Execute) {
	bp, err := c.ext.portal(m.Portal)
	if err != nil {
		c.extError(err)
		return
	}
	if bp.p == nil {
		_ = c.w.send(&pgproto3.EmptyQueryResponse{})
		return
	}
	if bp.done {
		c.extError(pgerror.New(pgerror.CodeObjectNotInPrerequisiteState, "portal %q cannot be run", m.Portal))
		return
	}
	maxRows := int(m.MaxRows)
	ctx := c.callContext()
	w := &rowWriter{c: c, ctx: ctx}
	tag, suspended, err := bp.p.Execute(ctx, maxRows, w)
	err = w.finish(err)
	c.sendChangedParameters()
	switch {
	case err != nil:
		bp.done = true
		c.extError(err)
	case suspended && maxRows > 0:
		_ = c.w.send(&pgproto3.PortalSuspended{})
	case suspended:
		bp.done = true
		c.extError(pgerror.New(pgerror.CodeInternalError, "portal suspended without a row limit"))
	default:
		bp.done = true
		_ = c.w.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	}
}

func (c *conn) closeMsg(m *pgproto3.Close) {
	switch m.ObjectType {
	case 'S':
		delete(c.ext.stmts, m.Name)
	case 'P':
		if bp := c.ext.portals[m.Name]; bp != nil {
			bp.close()
			delete(c.ext.portals, m.Name)
		}
	default:
		c.extError(protocolErrorf("invalid CLOSE message subtype %d", m.ObjectType))
		return
	}
	_ = c.w.send(&pgproto3.CloseComplete{})
}

// sync ends an extended-protocol batch: skipping stops, the implicit
// transaction ends, ReadyForQuery goes out.
func (c *conn) sync() {
	c.ext.ignoreTillSync = false
	c.endImplicit()
	c.readyForQuery()
}

func (e *extendedState) stmt(name string) (*preparedStmt, error) {
	if ps := e.stmts[name]; ps != nil {
		return ps, nil
	}
	return nil, pgerror.New(pgerror.CodeInvalidSQLStatementName, "%s does not exist", describeName("prepared statement", name))
}

func (e *extendedState) portal(name string) (*boundPortal, error) {
	if bp := e.portals[name]; bp != nil {
		return bp, nil
	}
	return nil, pgerror.New(pgerror.CodeInvalidCursorName, "%s does not exist", describeName("portal", name))
}

// describeName names a statement or portal as PostgreSQL's messages do.
func describeName(kind, name string) string {
	if name == "" {
		return "unnamed " + kind
	}
	return fmt.Sprintf("%s %q", kind, name)
}
