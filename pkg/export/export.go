// Package export writes the results in a flowlens DuckDB file as Hive-partitioned Parquet that Athena, Trino,
// Spark and DuckDB read as they are, with the Athena DDL that declares it (athena.sql).
//
// The layout under the output directory (SHARD/ only when the file came from a sharded analyze, see
// flowschema.ShardTable):
//
//	athena.sql                                      CREATE EXTERNAL TABLE for each table below
//	flows/[shard=I/]date=YYYY-MM-DD/hour=HH/part-RUN-N.parquet   the flows view, every column
//	rule_hits/[shard=I/]part-RUN.parquet            and likewise ingest_errors and the topology_* tables
//
// date and hour are those of the record's start, in UTC; a record without one (or with one past the year 9999)
// is under date=NULL/hour=NULL, which DuckDB reads as NULL (Athena and Spark as the string 'NULL'). The
// partition columns are in the paths, not in the files, as Hive-style engines expect. RUN is one random id per
// export, so that exports of different runs (days, shards) copied under one prefix never overwrite each
// other's files. Columns have the types engines read as they are: DuckDB ENUMs (action, the verdict columns,
// ...) are written as strings and unsigned integers as the next wider signed type.
//
// The Parquet files are written by DuckDB's built-in parquet writer (COPY ... PARTITION_BY), which needs no
// extension download.
package export

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/store"
)

// AthenaFile is the name of the DDL file Run writes in the output directory.
const AthenaFile = "athena.sql"

// Partition columns of the flows files (besides flowschema.ColShard).
const (
	ColDate = "date" // YYYY-MM-DD of start, UTC
	ColHour = "hour" // HH (00-23) of start, UTC
)

// SmallTables are the tables Run exports, each as one file (per shard), when the file has them.
var SmallTables = []string{
	flowschema.RuleHitsTable,
	flowschema.IngestErrorsTable,
	flowschema.TopologySubnetsTable,
	flowschema.TopologyENIsTable,
	flowschema.TopologySecurityGroupsTable,
	flowschema.TopologySGRulesTable,
	flowschema.TopologyNACLEntriesTable,
	flowschema.TopologyFindingsTable,
}

// Options is one export.
type Options struct {
	DB  string // the DuckDB file written by analyze or ingest --db; opened read-only
	Dir string // the output directory
	// Overwrite allows a Dir that is not empty: what Run writes (athena.sql and one directory per table)
	// replaces the entries of those names; other entries are left alone. Without it, such a Dir is an
	// *ExistsError.
	Overwrite bool
}

// ExistsError says the output directory is not empty and Options.Overwrite is off.
type ExistsError struct{ Dir string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s exists and is not empty (give --overwrite to replace what export writes in it)", e.Dir)
}

// Report is what Run wrote.
type Report struct {
	Dir    string        `json:"dir"`
	Shard  string        `json:"shard,omitempty"` // INDEX/COUNT of a sharded run's file
	Run    string        `json:"run"`             // the id in the file names
	Tables []TableReport `json:"tables"`
}

// TableReport is one exported table.
type TableReport struct {
	Name       string `json:"name"`       // the table in the DuckDB file
	Athena     string `json:"athena"`     // the table athena.sql creates
	Path       string `json:"path"`       // its directory, relative to Report.Dir
	Rows       int64  `json:"rows"`       // rows written
	Partitions int    `json:"partitions"` // leaf partition directories written (date/hour for flows)
	Columns    int    `json:"columns"`    // columns in the files (partition columns not included)
}

// Run exports the results of opts.DB to opts.Dir (see the package doc). The output appears whole or not at
// all when Dir did not exist or was empty: it is written to a directory beside Dir and renamed.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := checkDir(opts.Dir, opts.Overwrite); err != nil {
		return nil, err
	}
	db, err := store.OpenReadOnly(opts.DB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer conn.Close()

	names, err := store.Objects(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", opts.DB, err)
	}
	if !names[flowschema.FlowsView] {
		return nil, fmt.Errorf("export: %s has no %s: write it with flowlens analyze (or ingest --db) first", opts.DB, flowschema.FlowsView)
	}
	spec, err := readShard(ctx, conn, names)
	if err != nil {
		return nil, fmt.Errorf("export: %s: %w", opts.DB, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	rep := &Report{Dir: opts.Dir, Shard: spec.String(), Run: hex.EncodeToString(rnd[:])}

	parent, base := filepath.Split(filepath.Clean(opts.Dir))
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp) // empty after a successful move

	var ddl []tableDDL
	tables := append([]string{flowschema.FlowsView}, SmallTables...)
	for _, name := range tables {
		if !names[name] {
			continue
		}
		t, tr, err := exportTable(ctx, conn, tmp, name, spec, rep.Run)
		if err != nil {
			return nil, fmt.Errorf("export: %s: %w", name, err)
		}
		ddl = append(ddl, t)
		rep.Tables = append(rep.Tables, tr)
	}
	firstDate, err := firstDate(ctx, conn, ddl)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, AthenaFile), []byte(athenaSQL(ddl, spec, firstDate)), 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := moveInto(tmp, opts.Dir); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return rep, nil
}

// checkDir refuses a non-empty dir without overwrite, and a dir whose parent does not exist.
func checkDir(dir string, overwrite bool) error {
	if dir == "" {
		return errors.New("export: no output directory")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := filepath.Dir(filepath.Clean(dir))
		if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
			return fmt.Errorf("export: %s: directory %s does not exist", dir, parent)
		}
		return nil
	case err != nil:
		return fmt.Errorf("export: %w", err)
	case len(entries) > 0 && !overwrite:
		return &ExistsError{Dir: dir}
	}
	return nil
}

// moveInto moves tmp's entries into dir: by renaming tmp when dir does not exist or is empty, else entry by
// entry, each replacing the entry of its name.
func moveInto(tmp, dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// not empty (or not removable): replace entry by entry
		entries, err := os.ReadDir(tmp)
		if err != nil {
			return err
		}
		for _, e := range entries {
			dst := filepath.Join(dir, e.Name())
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
			if err := os.Rename(filepath.Join(tmp, e.Name()), dst); err != nil {
				return err
			}
		}
		return nil
	}
	return os.Rename(tmp, dir)
}

// readShard reads the shard a sharded analyze recorded; the zero Spec when the file has none.
func readShard(ctx context.Context, conn *sql.Conn, names map[string]bool) (shard.Spec, error) {
	if !names[flowschema.ShardTable] {
		return shard.Spec{}, nil
	}
	var i, n int
	q := fmt.Sprintf(`SELECT %s, %s FROM %s`, flowschema.ColShard, flowschema.ColShards, flowschema.ShardTable)
	if err := conn.QueryRowContext(ctx, q).Scan(&i, &n); err != nil {
		return shard.Spec{}, fmt.Errorf("%s: %w", flowschema.ShardTable, err)
	}
	spec, err := shard.Parse(fmt.Sprintf("%d/%d", i, n))
	if err != nil {
		return shard.Spec{}, fmt.Errorf("%s: %w", flowschema.ShardTable, err)
	}
	return spec, nil
}

// column is one exported column: its name, the SELECT expression that gives it its exported type, and the
// Athena type of that.
type column struct {
	name, expr, athena string
}

// tableDDL is what athena.sql needs of one exported table.
type tableDDL struct {
	name, athena, path string
	columns            []column
	partitions         []column // in path order
}

// maxStart is the last second DuckDB's strftime writes with a four-digit year (9999-12-31T23:59:59Z).
const maxStart = 253402300799

// exportTable writes one table under tmp and returns its DDL and report.
func exportTable(ctx context.Context, conn *sql.Conn, tmp, name string, spec shard.Spec, run string) (tableDDL, TableReport, error) {
	t := tableDDL{name: name, athena: "flowlens_" + name, path: name}
	rep := TableReport{Name: name, Athena: t.athena, Path: name}
	cols, err := describe(ctx, conn, name)
	if err != nil {
		return t, rep, err
	}
	t.columns = cols
	rep.Columns = len(cols)
	exprs := make([]string, 0, len(cols)+3)
	hasStart := false
	for _, c := range cols {
		exprs = append(exprs, c.expr+" AS "+store.QuoteIdent(c.name))
		hasStart = hasStart || c.name == flowschema.ColStart
	}
	var parts []string // PARTITION_BY of flows; a small table's shard is its directory
	flows := name == flowschema.FlowsView
	if spec.Sharded() {
		t.partitions = append(t.partitions, column{name: flowschema.ColShard, athena: "int"})
		if flows {
			exprs = append(exprs, fmt.Sprintf("%d AS %s", spec.Index, flowschema.ColShard))
			parts = append(parts, flowschema.ColShard)
		}
	}
	if flows {
		date, hour := "NULL::VARCHAR", "NULL::VARCHAR"
		if hasStart {
			// make_timestamp takes microseconds: clamp first, so that no value overflows, then drop the clamped.
			ts := fmt.Sprintf(`make_timestamp(least(greatest("start", 0), %d) * 1000000)`, maxStart)
			guard := fmt.Sprintf(`CASE WHEN "start" BETWEEN 0 AND %d THEN strftime(%s, '%%s') END`, maxStart, ts)
			date, hour = fmt.Sprintf(guard, "%Y-%m-%d"), fmt.Sprintf(guard, "%H")
		}
		exprs = append(exprs, date+` AS "date"`, hour+` AS "hour"`)
		parts = append(parts, ColDate, ColHour)
		t.partitions = append(t.partitions, column{name: ColDate, athena: "string"}, column{name: ColHour, athena: "string"})
	}
	query := "SELECT " + strings.Join(exprs, ", ") + " FROM " + store.QuoteIdent(name)
	dir := filepath.Join(tmp, name)
	var copySQL string
	if flows {
		if err := os.Mkdir(dir, 0o755); err != nil { // the table's location exists even without rows
			return t, rep, err
		}
		copySQL = fmt.Sprintf("COPY (%s) TO %s (FORMAT PARQUET, COMPRESSION zstd, PARTITION_BY (%s), OVERWRITE_OR_IGNORE, FILENAME_PATTERN %s)",
			query, store.QuoteString(dir), strings.Join(parts, ", "), store.QuoteString("part-"+run+"-{i}"))
	} else {
		if spec.Sharded() {
			dir = filepath.Join(dir, fmt.Sprintf("%s=%d", flowschema.ColShard, spec.Index))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return t, rep, err
		}
		copySQL = fmt.Sprintf("COPY (%s) TO %s (FORMAT PARQUET, COMPRESSION zstd)", query,
			store.QuoteString(filepath.Join(dir, "part-"+run+".parquet")))
	}
	res, err := conn.ExecContext(ctx, copySQL)
	if err != nil {
		return t, rep, err
	}
	if rep.Rows, err = res.RowsAffected(); err != nil {
		return t, rep, err
	}
	rep.Partitions, err = countLeaves(filepath.Join(tmp, name))
	return t, rep, err
}

// firstDate returns the first date partition of flows ("" when there is none).
func firstDate(ctx context.Context, conn *sql.Conn, tables []tableDDL) (string, error) {
	for _, t := range tables {
		for _, c := range t.columns {
			if t.name != flowschema.FlowsView || c.name != flowschema.ColStart {
				continue
			}
			var d sql.NullString
			err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT strftime(make_timestamp(min("start") * 1000000), '%%Y-%%m-%%d')
				FROM %s WHERE "start" BETWEEN 0 AND %d`, flowschema.FlowsView, maxStart)).Scan(&d)
			return d.String, err
		}
	}
	return "", nil
}

// countLeaves counts the directories under root that hold files.
func countLeaves(root string) (int, error) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			dirs[filepath.Dir(path)] = true
		}
		return err
	})
	return len(dirs), err
}

// describe returns the exported columns of table: DuckDB types that Parquet readers take as they are, with
// their Athena types.
func describe(ctx context.Context, conn *sql.Conn, table string) ([]column, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE SELECT * FROM "+store.QuoteIdent(table))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var name, typ string
		var null, key, dflt, extra sql.NullString
		if err := rows.Scan(&name, &typ, &null, &key, &dflt, &extra); err != nil {
			return nil, err
		}
		expr, athena, err := exportType(store.QuoteIdent(name), typ)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		cols = append(cols, column{name: name, expr: expr, athena: athena})
	}
	return cols, rows.Err()
}

// athenaTypes are the DuckDB column types exported as they are, with their Athena (Hive DDL) types.
var athenaTypes = map[string]string{
	"BOOLEAN":   "boolean",
	"TINYINT":   "tinyint",
	"SMALLINT":  "smallint",
	"INTEGER":   "int",
	"BIGINT":    "bigint",
	"FLOAT":     "float",
	"DOUBLE":    "double",
	"VARCHAR":   "string",
	"DATE":      "date",
	"TIMESTAMP": "timestamp",
}

// widened are the unsigned types Athena cannot read, with the signed type that holds their values.
var widened = map[string]string{
	"UTINYINT":  "SMALLINT",
	"USMALLINT": "INTEGER",
	"UINTEGER":  "BIGINT",
}

// exportType returns the SELECT expression of a column ident of DuckDB type typ and its Athena type.
func exportType(ident, typ string) (expr, athena string, err error) {
	switch {
	case strings.HasPrefix(typ, "ENUM("):
		return "CAST(" + ident + " AS VARCHAR)", "string", nil
	case widened[typ] != "":
		w := widened[typ]
		return "CAST(" + ident + " AS " + w + ")", athenaTypes[w], nil
	case athenaTypes[typ] != "":
		return ident, athenaTypes[typ], nil
	}
	return "", "", fmt.Errorf("type %s has no Athena equivalent flowlens exports", typ)
}
