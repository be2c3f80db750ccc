package sql

import (
	"context"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/rowenc"
)

// planAlterTable plans ALTER TABLE: every command is applied to a copy of
// the descriptor in one schema change.
func (p *planner) planAlterTable(s *pg_query.AlterTableStmt) (plan, error) {
	if s.Objtype != pg_query.ObjectType_OBJECT_TABLE {
		return nil, pgerror.Unsupported("ALTER %s is not supported", s.Objtype.String())
	}
	db := p.db
	tname := s.Relation.Relname
	if p.cat.Table(db.ID, tname) == nil {
		if s.MissingOk {
			return &sessionPlan{tag: "ALTER TABLE", fn: func(e *execCtx) error {
				e.se.noticef("relation \"%s\" does not exist, skipping", tname)
				return nil
			}}, nil
		}
		return nil, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", tname)
	}
	// Plan the new columns now (their types and defaults are checked).
	type addCol struct {
		col          *catalog.Column
		isPK, unique bool
		ifNotExists  bool
	}
	var adds = map[int]addCol{}
	scratch := cloneTable(p.cat.Table(db.ID, tname))
	for i, c := range s.Cmds {
		cmd := c.GetAlterTableCmd()
		if cmd.Subtype == pg_query.AlterTableType_AT_AddColumn {
			cd := cmd.Def.GetColumnDef()
			col, isPK, uq, err := p.columnDef(scratch, cd)
			if err != nil {
				return nil, err
			}
			if isPK {
				return nil, pgerror.Unsupported("ADD COLUMN ... PRIMARY KEY is not supported; add the column, then the primary key on an empty table")
			}
			adds[i] = addCol{col: col, isPK: isPK, unique: uq, ifNotExists: cmd.MissingOk}
		}
	}
	return &ddlPlan{tag: "ALTER TABLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		t := m.Cat.Table(db.ID, tname)
		if t == nil {
			return pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", tname)
		}
		nt := cloneTable(t)
		for i, c := range s.Cmds {
			cmd := c.GetAlterTableCmd()
			switch cmd.Subtype {
			case pg_query.AlterTableType_AT_AddColumn:
				a := adds[i]
				col := *a.col
				if nt.Column(col.Name) != nil {
					if a.ifNotExists {
						e.se.noticeCode(pgerror.CodeDuplicateColumn, "column \"%s\" of relation \"%s\" already exists, skipping", col.Name, nt.Name)
						continue
					}
					return pgerror.New(pgerror.CodeDuplicateColumn, "column \"%s\" of relation \"%s\" already exists", col.Name, nt.Name)
				}
				col.ID = nt.NextColumnID
				nt.NextColumnID++
				if col.Sequence != "" {
					col.Sequence = nt.Name + "_" + col.Name + "_seq"
				}
				nt.Columns = append(nt.Columns, &col)
				if err := backfillColumn(ctx, e, m, nt, &col); err != nil {
					return err
				}
				if a.unique {
					ix, err := addIndex(nt, "", []string{col.Name}, nil, true, true)
					if err != nil {
						return err
					}
					if err := backfillIndex(ctx, m, nt, ix); err != nil {
						return err
					}
				}
			case pg_query.AlterTableType_AT_DropColumn:
				col := nt.Column(cmd.Name)
				if col == nil || col.Hidden {
					if cmd.MissingOk {
						e.se.noticef("column \"%s\" of relation \"%s\" does not exist, skipping", cmd.Name, nt.Name)
						continue
					}
					return pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", cmd.Name, nt.Name)
				}
				if col.ID == nt.ShardColumn || inIndex(nt.PrimaryIndex(), col.ID) {
					return pgerror.Unsupported("cannot drop column \"%s\": it is part of the primary key or the shard key", col.Name)
				}
				for _, ix := range append([]*catalog.Index(nil), nt.Indexes...) {
					if !ix.Primary && inIndex(ix, col.ID) {
						if err := dropIndexEntries(ctx, m, nt, ix); err != nil {
							return err
						}
					}
				}
				nt.Columns = append(nt.Columns[:nt.ColumnIndex(col.ID)], nt.Columns[nt.ColumnIndex(col.ID)+1:]...)
			case pg_query.AlterTableType_AT_AddConstraint:
				con := cmd.Def.GetConstraint()
				cols := nodeStrings(con.Keys)
				switch con.Contype {
				case pg_query.ConstrType_CONSTR_PRIMARY:
					if err := replacePrimaryKey(ctx, m, nt, e.se.catalogDB(m.Cat), cols, con.Conname); err != nil {
						return err
					}
				case pg_query.ConstrType_CONSTR_UNIQUE:
					ix, err := addIndex(nt, con.Conname, cols, nil, true, true)
					if err != nil {
						return err
					}
					if err := backfillIndex(ctx, m, nt, ix); err != nil {
						return err
					}
				default:
					return unsupportedConstraint(con)
				}
			case pg_query.AlterTableType_AT_DropConstraint:
				var found *catalog.Index
				for _, ix := range nt.Indexes {
					if ix.Name == cmd.Name && ix.Constraint && !ix.Primary {
						found = ix
					}
				}
				if found == nil {
					if cmd.MissingOk {
						continue
					}
					return pgerror.New(pgerror.CodeUndefinedObject, "constraint \"%s\" of relation \"%s\" does not exist", cmd.Name, nt.Name)
				}
				if err := dropIndexEntries(ctx, m, nt, found); err != nil {
					return err
				}
			case pg_query.AlterTableType_AT_ColumnDefault:
				col := nt.Column(cmd.Name)
				if col == nil {
					return pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", cmd.Name, nt.Name)
				}
				if cmd.Def == nil {
					col.Default = ""
				} else {
					def, err := (&planner{se: e.se, cat: m.Cat, db: e.se.db, params: nil}).checkDefault(cmd.Def, col.Type)
					if err != nil {
						return err
					}
					col.Default = def
				}
			case pg_query.AlterTableType_AT_SetNotNull:
				col := nt.Column(cmd.Name)
				if col == nil {
					return pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", cmd.Name, nt.Name)
				}
				if err := checkNoNulls(ctx, m, nt, col); err != nil {
					return err
				}
				col.NotNull = true
			case pg_query.AlterTableType_AT_DropNotNull:
				col := nt.Column(cmd.Name)
				if col == nil {
					return pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", cmd.Name, nt.Name)
				}
				if inIndex(nt.PrimaryIndex(), col.ID) {
					return pgerror.New(pgerror.CodeInvalidTableDefinition, "column \"%s\" is in a primary key", col.Name)
				}
				col.NotNull = false
			default:
				return pgerror.Unsupported("ALTER TABLE %s is not supported yet", cmd.Subtype.String())
			}
		}
		return m.PutTable(nt)
	}}, nil
}

func (se *Session) catalogDB(cat *catalog.Catalog) *catalog.Database {
	if db := cat.DatabaseByID(se.db.ID); db != nil {
		return db
	}
	return se.db
}

func inIndex(ix *catalog.Index, id uint32) bool {
	if ix == nil {
		return false
	}
	for _, c := range ix.Columns {
		if c == id {
			return true
		}
	}
	return false
}

// tableRows reads every row of t in the schema change's transaction.
func tableRows(ctx context.Context, m *catalog.Mutation, t *catalog.Table) ([]scanned, error) {
	start, end := rowenc.DatabaseSpan(t.DB)
	kvs, err := m.Txn.ScanFiltered(ctx, start, end, 0, rowenc.TableFilter(t, t.Primary))
	if err != nil {
		return nil, err
	}
	pk := t.PrimaryIndex()
	var out []scanned
	for _, kv := range kvs {
		h, _, ok := rowenc.DecodeHeader(kv.Key)
		if !ok || h.Table != t.ID || h.Index != pk.ID {
			continue
		}
		rw, err := rowenc.DecodeRow(t, kv.Key, kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, scanned{key: kv.Key, row: rw})
	}
	return out, nil
}

// backfillColumn gives existing rows the new column's default.
func backfillColumn(ctx context.Context, e *execCtx, m *catalog.Mutation, t *catalog.Table, col *catalog.Column) error {
	rows, err := tableRows(ctx, m, t)
	if err != nil || len(rows) == 0 {
		return err
	}
	p := &planner{se: e.se, cat: m.Cat, db: e.se.catalogDB(m.Cat)}
	def, err := p.defaultExpr(t, col)
	if err != nil {
		return err
	}
	if def == nil {
		if col.NotNull {
			return pgerror.New(pgerror.CodeNotNullViolation, "column \"%s\" of relation \"%s\" contains null values", col.Name, t.Name)
		}
		return nil
	}
	i := t.ColumnIndex(col.ID)
	for _, r := range rows {
		d, err := def.Eval(e.ev, nil)
		if err != nil {
			return err
		}
		r.row[i] = d
		if err := m.Txn.Put(r.key, rowenc.RowValue(t, r.row)); err != nil {
			return err
		}
	}
	return nil
}

func checkNoNulls(ctx context.Context, m *catalog.Mutation, t *catalog.Table, col *catalog.Column) error {
	rows, err := tableRows(ctx, m, t)
	if err != nil {
		return err
	}
	i := t.ColumnIndex(col.ID)
	for _, r := range rows {
		if r.row[i] == nil {
			return pgerror.New(pgerror.CodeNotNullViolation, "column \"%s\" of relation \"%s\" contains null values", col.Name, t.Name)
		}
	}
	return nil
}

// replacePrimaryKey gives an empty table a new primary key (ALTER TABLE
// ADD PRIMARY KEY): rows are placed by the key, so a table that has rows
// would have to be rewritten, which is not supported yet.
func replacePrimaryKey(ctx context.Context, m *catalog.Mutation, t *catalog.Table, db *catalog.Database, cols []string, name string) error {
	old := t.PrimaryIndex()
	if old != nil && old.Name != t.Name+"_rowid" {
		return pgerror.New(pgerror.CodeInvalidTableDefinition, "multiple primary keys for table \"%s\" are not allowed", t.Name)
	}
	rows, err := tableRows(ctx, m, t)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		return pgerror.Unsupported("ALTER TABLE ADD PRIMARY KEY is only supported on an empty table (\"%s\" has rows)", t.Name)
	}
	// Drop the hidden row id and everything keyed by it.
	var kept []*catalog.Column
	for _, c := range t.Columns {
		if !c.Hidden {
			kept = append(kept, c)
		}
	}
	t.Columns = kept
	var idx []*catalog.Index
	for _, ix := range t.Indexes {
		if !ix.Primary && !ix.Implicit {
			idx = append(idx, ix)
		}
	}
	t.Indexes = idx
	if err := setPrimaryKey(t, db, cols, name); err != nil {
		return err
	}
	// Secondary indexes are local or global relative to the new shard
	// column.
	for _, ix := range t.Indexes {
		if !ix.Primary && !ix.Implicit {
			ix.Global = ix.Columns[0] != t.ShardColumn
		}
	}
	return nil
}

// planRename plans ALTER TABLE ... RENAME [COLUMN].
func (p *planner) planRename(s *pg_query.RenameStmt) (plan, error) {
	db := p.db
	switch s.RenameType {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_COLUMN:
	default:
		return nil, pgerror.Unsupported("this RENAME is not supported yet")
	}
	tname := s.Relation.GetRelname()
	return &ddlPlan{tag: "ALTER TABLE", fn: func(ctx context.Context, e *execCtx, m *catalog.Mutation) error {
		t := m.Cat.Table(db.ID, tname)
		if t == nil {
			if s.MissingOk {
				return nil
			}
			return pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", tname)
		}
		nt := cloneTable(t)
		if s.RenameType == pg_query.ObjectType_OBJECT_TABLE {
			if m.Cat.Table(db.ID, s.Newname) != nil {
				return pgerror.New(pgerror.CodeDuplicateTable, "relation \"%s\" already exists", s.Newname)
			}
			nt.Name = s.Newname
		} else {
			c := nt.Column(s.Subname)
			if c == nil || c.Hidden {
				return pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" does not exist", s.Subname)
			}
			if nt.Column(s.Newname) != nil {
				return pgerror.New(pgerror.CodeDuplicateColumn, "column \"%s\" of relation \"%s\" already exists", s.Newname, nt.Name)
			}
			c.Name = s.Newname
		}
		return m.PutTable(nt)
	}}, nil
}
