package export

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/pipeline"
	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

var update = flag.Bool("update", false, "rewrite the golden athena.sql files under testdata")

const shop = "../../samples/shop/"

// TestExportRoundTrip analyzes the bundled sample, exports it, and reads the Parquet back with DuckDB's
// read_parquet(..., hive_partitioning=true), as a user would: the flows are the database's, row for row and
// column by column; every record is in the date and hour partition of its start (and the shard's partition);
// the small tables are the database's; athena.sql is the golden file and declares exactly the files' columns
// and the paths' partition keys.
func TestExportRoundTrip(t *testing.T) {
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, logs string
		shard      shard.Spec
		golden     string
	}{
		{name: "v2", logs: "flowlogs", golden: "athena.sql"},
		{name: "v5-shard-1-of-3", logs: "flowlogs-v5", shard: shard.Spec{Index: 1, Count: 3}, golden: "athena-shard.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			db := filepath.Join(dir, "shop.duckdb")
			if _, err := pipeline.Analyze(ctx, pipeline.AnalyzeConfig{Model: model, Paths: []string{shop + tc.logs},
				DB: db, Shard: tc.shard}); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "export")
			rep, err := Run(ctx, Options{DB: db, Dir: out})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Shard != tc.shard.String() || len(rep.Tables) != 1+len(SmallTables) {
				t.Errorf("report: shard %q, %d tables; want %q, %d", rep.Shard, len(rep.Tables), tc.shard, 1+len(SmallTables))
			}

			r := openReader(t, dir)
			stored := openDB(t, db)
			parts, types := "date, hour", "'date': VARCHAR, 'hour': VARCHAR"
			if tc.shard.Sharded() {
				parts, types = parts+", shard", types+", 'shard': INTEGER"
			}
			flows := fmt.Sprintf(`read_parquet('%s/flows/**/*.parquet', hive_partitioning = true, hive_types = {%s})`, out, types)
			wantCols, want := query(t, stored, `SELECT * FROM flows ORDER BY source_file, source_line`)
			gotCols, got := query(t, r, `SELECT * EXCLUDE (`+parts+`) FROM `+flows+` ORDER BY source_file, source_line`)
			if len(want) == 0 {
				t.Fatal("no flows to export")
			}
			if diff := cmp.Diff(wantCols, gotCols); diff != "" {
				t.Fatalf("flows columns (-database +parquet):\n%s", diff)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("flows (-database +parquet):\n%s", diff)
			}
			if rep.Tables[0].Rows != int64(len(want)) {
				t.Errorf("report: %d flows, want %d", rep.Tables[0].Rows, len(want))
			}

			// Partitions: those of each record's start, and of the shard.
			_, keys := query(t, r, `SELECT "start", `+parts+` FROM `+flows)
			for _, k := range keys {
				ts := time.Unix(k[0].(int64), 0).UTC()
				wantKey := []any{k[0], ts.Format("2006-01-02"), ts.Format("15")}
				if tc.shard.Sharded() {
					wantKey = append(wantKey, int32(tc.shard.Index))
				}
				if diff := cmp.Diff(wantKey, k); diff != "" {
					t.Fatalf("partition of a record (-want +got):\n%s", diff)
				}
			}

			for _, table := range SmallTables {
				_, want := query(t, stored, `SELECT * FROM `+table+` ORDER BY ALL`)
				sel := `SELECT * FROM read_parquet('` + out + `/` + table + `/**/*.parquet', hive_partitioning = true)`
				if tc.shard.Sharded() {
					if len(want) > 0 { // an empty table's file has no rows to carry the partition
						_, s := query(t, r, `SELECT DISTINCT shard::INTEGER FROM (`+sel+`)`)
						if diff := cmp.Diff([][]any{{int32(tc.shard.Index)}}, s); diff != "" {
							t.Errorf("%s: shard partitions (-want +got):\n%s", table, diff)
						}
					}
					sel = `SELECT * EXCLUDE (shard) FROM (` + sel + `)`
				}
				_, got := query(t, r, sel+` ORDER BY ALL`)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-database +parquet):\n%s", table, diff)
				}
			}

			ddl, err := os.ReadFile(filepath.Join(out, AthenaFile))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tc.golden), ddl)
			checkAthenaSchema(t, r, out, string(ddl))
		})
	}
}

// athenaTable matches one CREATE EXTERNAL TABLE of athena.sql: name, column lines, partitions, location.
var athenaTable = regexp.MustCompile("(?m)^CREATE EXTERNAL TABLE IF NOT EXISTS `(\\w+)` \\(\n((?:  .*\n)*)\\)\n" +
	"(?:PARTITIONED BY \\((.*)\\)\n)?STORED AS PARQUET\nLOCATION '" + regexp.QuoteMeta(Location) + "(\\w+)/';")

// parquetAthena maps the types DuckDB reads Parquet columns as to the Athena types that read them.
var parquetAthena = map[string]string{
	"BOOLEAN": "boolean", "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "int", "BIGINT": "bigint",
	"FLOAT": "float", "DOUBLE": "double", "VARCHAR": "string", "DATE": "date", "TIMESTAMP": "timestamp",
}

// checkAthenaSchema checks that each table of athena.sql declares the columns of its Parquet files (names,
// order, types) and partitions by the keys of their paths, in order; and that every exported directory has a
// table.
func checkAthenaSchema(t *testing.T, r *sql.DB, out, ddl string) {
	t.Helper()
	matches := athenaTable.FindAllStringSubmatch(ddl, -1)
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != len(entries)-1 { // athena.sql itself
		t.Errorf("athena.sql creates %d tables, the export has %d directories", len(matches), len(entries)-1)
	}
	for _, m := range matches {
		name, colLines, partitions, dir := m[1], m[2], m[3], m[4]
		var files []string
		err := filepath.WalkDir(filepath.Join(out, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".parquet") {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Errorf("%s: no files under %s", name, dir)
			continue
		}
		var declared []string
		for _, l := range strings.Split(strings.TrimSuffix(colLines, "\n"), "\n") {
			declared = append(declared, strings.TrimSuffix(strings.TrimSpace(l), ","))
		}
		_, schema := query(t, r, `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(`+
			store.QuoteString(files[0])+`, hive_partitioning = false))`)
		var inFile []string
		for _, c := range schema {
			typ, ok := parquetAthena[c[1].(string)]
			if !ok {
				t.Errorf("%s: column %s: Parquet type %s has no Athena type", name, c[0], c[1])
			}
			inFile = append(inFile, fmt.Sprintf("`%s` %s", c[0], typ))
		}
		// Strings must be plain UTF8 byte arrays (no ENUM annotation) for every engine to read them as strings.
		_, odd := query(t, r, `SELECT name, converted_type, logical_type FROM parquet_schema(`+store.QuoteString(files[0])+
			`) WHERE type = 'BYTE_ARRAY' AND (converted_type IS DISTINCT FROM 'UTF8' OR logical_type IS NOT NULL)`)
		if len(odd) > 0 {
			t.Errorf("%s: string columns not plain UTF8: %v", name, odd)
		}
		if diff := cmp.Diff(inFile, declared); diff != "" {
			t.Errorf("%s: columns (-parquet +athena.sql):\n%s", name, diff)
		}
		rel, _ := filepath.Rel(filepath.Join(out, dir), filepath.Dir(files[0]))
		var keys, declaredKeys []string
		for _, seg := range strings.Split(rel, string(filepath.Separator)) {
			if k, _, ok := strings.Cut(seg, "="); ok {
				keys = append(keys, k)
			}
		}
		for _, p := range strings.Split(partitions, ", ") {
			if p != "" {
				declaredKeys = append(declaredKeys, strings.Trim(strings.Fields(p)[0], "`"))
			}
		}
		if diff := cmp.Diff(keys, declaredKeys); diff != "" {
			t.Errorf("%s: partitions (-paths +athena.sql):\n%s", name, diff)
		}
	}
}

// TestExportRefusesNonEmptyDir: a directory with files in it is left alone unless --overwrite, which then
// replaces what export writes and keeps the rest.
func TestExportRefusesNonEmptyDir(t *testing.T) {
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "shop.duckdb")
	if _, err := pipeline.Analyze(ctx, pipeline.AnalyzeConfig{Model: model, Paths: []string{shop + "flowlogs"}, DB: db}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "export")
	for _, tc := range []struct {
		name      string
		overwrite bool
		wantErr   bool
	}{
		{name: "new", wantErr: false},
		{name: "again", wantErr: true},
		{name: "overwrite", overwrite: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Run(ctx, Options{DB: db, Dir: out, Overwrite: tc.overwrite})
			var exists *ExistsError
			if tc.wantErr != errors.As(err, &exists) || (!tc.wantErr && err != nil) {
				t.Fatalf("err %v, want an ExistsError: %t", err, tc.wantErr)
			}
			files, _ := filepath.Glob(filepath.Join(out, "flows", "*", "*", "*.parquet"))
			if len(files) != 1 {
				t.Errorf("flows files %v, want one (the sample is one hour)", files)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".export.tmp-*")); len(leftovers) > 0 {
				t.Errorf("temporary directories left: %v", leftovers)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Errorf("a file beside the export: %v", err)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-golden +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// openReader opens a scratch DuckDB to read Parquet with, as a user's DuckDB would.
func openReader(t *testing.T, dir string) *sql.DB {
	t.Helper()
	d, err := store.Open(filepath.Join(dir, "reader.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.SQL()
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	d, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.SQL()
}

// query returns the column names and rows of q.
func query(t *testing.T, db *sql.DB, q string) ([]string, [][]any) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, out
}
