package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// queryRows runs q and returns every row as strings ("NULL" for NULL).
func queryRows(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	d, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.SQL()
}

// dirEntries lists the names in dir, to catch temporary files left behind.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestOpenSettingsAnyPath: whatever the file is called, every open (write, read-write, read-only, ReadArrow)
// reaches that exact file with extension auto-install and auto-load off, and a read-only open cannot write.
// go-duckdb parses its DSN as a URL: a '#' used to cut the options off, a '?' to cut the file name, a '%' to
// fail the open (issue 9 item 13).
func TestOpenSettingsAnyPath(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		relative   bool // opened by a relative name, from its directory
	}{
		{"colon", "x:y.duckdb", false},                   // must not read as a URL scheme
		{"relative with colon", "sqlite:y.duckdb", true}, // nor as an extension's storage prefix
		{"hash", "a#b.duckdb", false},
		{"question mark", "a?b.duckdb", false},
		{"injected option", "a?access_mode=READ_WRITE&autoload_known_extensions=true#x.duckdb", false},
		{"percent", "100%.duckdb", false},
		{"percent escape", "a%23b.duckdb", false},
		{"named like the in-memory database", "memory.duckdb", false},
		{"single quote", "it's.duckdb", false},
		{"double quote", `say "hi".duckdb`, false},
		{"spaces", "my flows .duckdb", false},
		{"all of them", `a b#c?d%e'f"g.duckdb`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if tc.relative {
				t.Chdir(dir)
				path = tc.file
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := smallFlows(mem)
			err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: r})
			r.Release()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tc.file}, dirEntries(t, dir)); diff != "" {
				t.Fatalf("files in dir (-want +got):\n%s", diff)
			}
			for _, open := range []struct {
				name     string
				open     func(string) (*DB, error)
				readOnly bool
			}{
				{"read-write", Open, false},
				{"read-only", OpenReadOnly, true},
			} {
				d, err := open.open(path)
				if err != nil {
					t.Fatalf("%s: %v", open.name, err)
				}
				got := queryRows(t, d.SQL(), `SELECT current_setting('autoinstall_known_extensions')::VARCHAR,
					current_setting('autoload_known_extensions')::VARCHAR, (SELECT count(*) FROM flows)::VARCHAR`)
				if diff := cmp.Diff([][]string{{"false", "false", "3"}}, got); diff != "" {
					t.Errorf("%s: settings and rows (-want +got):\n%s", open.name, diff)
				}
				_, err = d.SQL().Exec("CREATE TABLE t (a INT)")
				if open.readOnly && err == nil {
					t.Errorf("%s: CREATE TABLE succeeded", open.name)
				}
				if !open.readOnly && err != nil {
					t.Errorf("%s: CREATE TABLE: %v", open.name, err)
				}
				d.Close()
			}
			rr, err := ReadArrow(context.Background(), path, `SELECT current_setting('autoload_known_extensions')::VARCHAR, count(*)::VARCHAR FROM flows`)
			if err != nil {
				t.Fatal(err)
			}
			_, rows := readRows(t, rr)
			rr.Release()
			if diff := cmp.Diff([][]string{{"false", "3"}}, rows); diff != "" {
				t.Errorf("ReadArrow (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tc.file}, dirEntries(t, dir)); diff != "" {
				t.Errorf("files in dir after the opens (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenRejectsEmptyPath(t *testing.T) {
	if d, err := Open(""); err == nil {
		d.Close()
		t.Fatal("Open accepted an empty path")
	}
}

// smallFlows builds two batches with NULLs, a dictionary column and the reserved word "end".
func smallFlows(mem memory.Allocator) array.RecordReader {
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "srcaddr", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "dstport", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "bytes", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "end", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "action", Type: dict, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	add := func(src string, port int32, bytes, end int64, action string, note string) {
		if src == "" {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(src)
		}
		if port < 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int32Builder).Append(port)
		}
		b.Field(2).(*array.Int64Builder).Append(bytes)
		b.Field(3).(*array.Int64Builder).Append(end)
		if action == "" {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.BinaryDictionaryBuilder).AppendString(action)
		}
		b.Field(5).(*array.LargeStringBuilder).Append(note)
	}
	add("10.0.0.1", 443, 1000, 1714521660, "ACCEPT", "a")
	add("", -1, 0, 1714521661, "", "b")
	r1 := b.NewRecord()
	add("10.0.0.2", 22, 52, 1714521662, "REJECT", "c")
	r2 := b.NewRecord()
	rdr, err := array.NewRecordReader(sc, []arrow.Record{r1, r2})
	if err != nil {
		panic(err)
	}
	r1.Release()
	r2.Release()
	return rdr
}

func errorsTable(mem memory.Allocator, lines ...int64) array.RecordReader {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "source_line", Type: arrow.PrimitiveTypes.Int64},
		{Name: "message", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for _, l := range lines {
		b.Field(0).(*array.Int64Builder).Append(l)
		b.Field(1).(*array.StringBuilder).Append("bad line")
	}
	rec := b.NewRecord()
	defer rec.Release()
	rdr, err := array.NewRecordReader(sc, []arrow.Record{rec})
	if err != nil {
		panic(err)
	}
	return rdr
}

func TestWriteTablesRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.duckdb")

	flows, errs := smallFlows(mem), errorsTable(mem, 7, 9)
	var nFlows, nErrs int64 = -1, -1
	err := WriteTables(context.Background(), path,
		Table{Name: "flows", Reader: flows, OnDone: func(n int64) { nFlows = n }},
		Table{Name: "ingest_errors", Reader: errs, OnDone: func(n int64) { nErrs = n }})
	flows.Release()
	errs.Release()
	if err != nil {
		t.Fatal(err)
	}
	if nFlows != 3 || nErrs != 2 {
		t.Errorf("OnDone counts = %d, %d; want 3, 2", nFlows, nErrs)
	}
	if diff := cmp.Diff([]string{"flows.duckdb"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("files in dir (-want +got):\n%s", diff)
	}

	db := openRO(t, path)
	for _, tc := range []struct {
		name, query string
		want        [][]string
	}{
		{"types", `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'flows' ORDER BY ordinal_position`,
			[][]string{{"srcaddr", "VARCHAR"}, {"dstport", "INTEGER"}, {"bytes", "BIGINT"}, {"end", "BIGINT"}, {"action", "VARCHAR"}, {"note", "VARCHAR"}}},
		{"rows", `SELECT srcaddr, dstport, bytes, "end", action, note FROM flows ORDER BY "end"`,
			[][]string{
				{"10.0.0.1", "443", "1000", "1714521660", "ACCEPT", "a"},
				{"NULL", "NULL", "0", "1714521661", "NULL", "b"},
				{"10.0.0.2", "22", "52", "1714521662", "REJECT", "c"},
			}},
		{"dictionary column compares as VARCHAR", `SELECT count(*) FROM flows WHERE action = 'REJECT'`, [][]string{{"1"}}},
		{"end column", `SELECT max("end") - min("end") FROM flows`, [][]string{{"2"}}},
		{"second table", `SELECT source_line, message FROM ingest_errors ORDER BY 1`, [][]string{{"7", "bad line"}, {"9", "bad line"}}},
		{"no stream views persisted", `SELECT count(*) FROM duckdb_views() WHERE NOT internal`, [][]string{{"0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, queryRows(t, db, tc.query)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.query, diff)
			}
		})
	}
}

var errBoom = errors.New("boom: truncated gzip stream")

// failingReader yields the batches of src, then fails after n of them.
type failingReader struct {
	array.RecordReader
	n      int
	fail   error // the error after n batches; nil stops cleanly
	onFail func()
	err    error
}

func (r *failingReader) Next() bool {
	if r.n == 0 {
		if r.onFail != nil {
			r.onFail()
		}
		r.err = r.fail
		return false
	}
	r.n--
	return r.RecordReader.Next()
}

func (r *failingReader) Err() error { return r.err }

func TestWriteTablesFailureLeavesNoFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tables  func(mem memory.Allocator, cancel func()) []Table
		wantErr error
	}{
		{"reader error", func(mem memory.Allocator, _ func()) []Table {
			return []Table{{Name: "flows", Reader: &failingReader{RecordReader: smallFlows(mem), n: 1, fail: errBoom}}}
		}, errBoom},
		{"second table fails", func(mem memory.Allocator, _ func()) []Table {
			return []Table{
				{Name: "flows", Reader: smallFlows(mem)},
				{Name: "ingest_errors", Reader: &failingReader{RecordReader: errorsTable(mem, 1), n: 0, fail: errBoom}},
			}
		}, errBoom},
		{"context cancelled mid-stream", func(mem memory.Allocator, cancel func()) []Table {
			// the reader stops without error, as a producer does on cancellation; the write must not commit
			r := &failingReader{RecordReader: smallFlows(mem), n: 1, onFail: cancel}
			return []Table{{Name: "flows", Reader: r}}
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			path := filepath.Join(dir, "flows.duckdb")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tables := tc.tables(mem, cancel)
			called := false
			tables[0].OnDone = func(int64) { called = true }
			err := WriteTables(ctx, path, tables...)
			for _, tb := range tables {
				tb.Reader.Release()
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("WriteTables error = %v, want %v", err, tc.wantErr)
			}
			if called {
				t.Error("OnDone called for a failed write")
			}
			if got := dirEntries(t, dir); len(got) != 0 {
				t.Errorf("files left behind after a failed write: %q", got)
			}
		})
	}
}

func TestWriteTablesReplacesExisting(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.duckdb")
	ctx := context.Background()

	write := func(tables ...Table) error {
		err := WriteTables(ctx, path, tables...)
		for _, tb := range tables {
			tb.Reader.Release()
		}
		return err
	}
	if err := write(Table{Name: "flows", Reader: smallFlows(mem)}, Table{Name: "ingest_errors", Reader: errorsTable(mem, 1)}); err != nil {
		t.Fatal(err)
	}
	// A table made by the user must survive re-runs.
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().Exec(`CREATE TABLE my_notes AS SELECT 42 AS answer`); err != nil {
		t.Fatal(err)
	}
	d.Close()

	state := func() [][]string {
		db, err := OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return queryRows(t, db.SQL(), `SELECT (SELECT count(*) FROM flows), (SELECT string_agg(source_line::VARCHAR, ',' ORDER BY source_line) FROM ingest_errors),
			(SELECT answer FROM my_notes)`)
	}
	if diff := cmp.Diff([][]string{{"3", "1", "42"}}, state()); diff != "" {
		t.Fatalf("after first write (-want +got):\n%s", diff)
	}

	// Failing re-runs leave the previous tables intact, including the table written before the failing one.
	err = write(Table{Name: "flows", Reader: errorsTable(mem, 5)},
		Table{Name: "ingest_errors", Reader: &failingReader{RecordReader: errorsTable(mem, 2, 3), n: 0, fail: errBoom}})
	if !errors.Is(err, errBoom) {
		t.Fatalf("failing re-run: error = %v, want %v", err, errBoom)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if err := WriteTables(ctx2, path, Table{Name: "flows", Reader: emptyReader()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled re-run: error = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff([][]string{{"3", "1", "42"}}, state()); diff != "" {
		t.Errorf("after failed re-runs (-want +got):\n%s", diff)
	}

	// A successful re-run replaces both tables, schema included, and keeps my_notes.
	if err := write(Table{Name: "flows", Reader: errorsTable(mem, 5)}, Table{Name: "ingest_errors", Reader: errorsTable(mem, 2, 3)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"1", "2,3", "42"}}, state()); diff != "" {
		t.Errorf("after re-run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"flows.duckdb"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("files in dir (-want +got):\n%s", diff)
	}
}

// TestWriteTablesViews: a view is created after the tables it reads, replaces a table of the same name (and
// the other way round), is recorded in flowlens_runs without a row count, and Drop removes either kind.
func TestWriteTablesViews(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "v.duckdb")
	ctx := context.Background()
	objects := func() [][]string {
		db, err := OpenReadOnly(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return queryRows(t, db.SQL(), `SELECT table_name, table_type FROM information_schema.tables
			WHERE table_name <> 'flowlens_runs' ORDER BY table_name`)
	}
	// flows as a table first (what ingest writes)
	r := smallFlows(mem)
	if err := WriteTables(ctx, path, Table{Name: "flows", Reader: r}); err != nil {
		t.Fatal(err)
	}
	r.Release()
	// then as a view over two tables, the view listed first
	r1, r2 := smallFlows(mem), errorsTable(mem, 7, 9)
	err := WriteRun(ctx, path, Run{Command: "test"},
		Table{Name: "Flows", Query: `SELECT f.srcaddr, e.source_line FROM flow_rows f, errs e WHERE f.srcaddr IS NOT NULL`},
		Table{Name: "flow_rows", Reader: r1}, Table{Name: "errs", Reader: r2})
	r1.Release()
	r2.Release()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"Flows", "VIEW"}, {"errs", "BASE TABLE"}, {"flow_rows", "BASE TABLE"}}
	if d := cmp.Diff(want, objects()); d != "" {
		t.Errorf("objects after the view write (-want +got):\n%s", d)
	}
	db, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	got := queryRows(t, db.SQL(), `SELECT count(*), sum(source_line)::BIGINT FROM flows`)
	got = append(got, queryRows(t, db.SQL(), `SELECT table_name, coalesce(row_count::VARCHAR, 'NULL') FROM flowlens_runs ORDER BY table_name`)...)
	db.Close()
	if d := cmp.Diff([][]string{{"4", "32"}, {"Flows", "NULL"}, {"errs", "2"}, {"flow_rows", "3"}}, got); d != "" {
		t.Errorf("view rows and run history (-want +got):\n%s", d)
	}
	// back to a table, and the view's tables dropped
	r = smallFlows(mem)
	err = WriteTables(ctx, path, Table{Name: "flows", Reader: r}, Table{Name: "flow_rows", Drop: true}, Table{Name: "errs", Drop: true},
		Table{Name: "never_existed", Drop: true})
	r.Release()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][]string{{"flows", "BASE TABLE"}}, objects()); d != "" {
		t.Errorf("objects after replacing the view (-want +got):\n%s", d)
	}
}

func emptyReader() array.RecordReader {
	sc := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rdr, _ := array.NewRecordReader(sc, nil)
	return rdr
}

func TestWriteTablesRejectsBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.duckdb")
	r := emptyReader()
	defer r.Release()
	for _, tc := range []struct {
		name   string
		tables []Table
	}{
		{"none", nil},
		{"empty name", []Table{{Reader: r}}},
		{"nil reader", []Table{{Name: "flows"}}},
		{"duplicate", []Table{{Name: "flows", Reader: r}, {Name: "FLOWS", Reader: r}}},
		{"reader and query", []Table{{Name: "flows", Reader: r, Query: "SELECT 1"}}},
		{"query and drop", []Table{{Name: "flows", Query: "SELECT 1", Drop: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteTables(context.Background(), path, tc.tables...); err == nil {
				t.Error("WriteTables accepted bad input")
			}
		})
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected writes created %s (stat: %v)", path, err)
	}
}

func TestWriteRunAndExportParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.duckdb")
	started := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		flows, errs := smallFlows(mem), errorsTable(mem, 1, 2)
		err := WriteRun(context.Background(), path, Run{Command: "flowlens ingest x.log", Started: started},
			Table{Name: "flows", Reader: flows}, Table{Name: "ingest_errors", Reader: errs})
		flows.Release()
		errs.Release()
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := queryRows(t, d.SQL(), `SELECT run_id, epoch(started)::BIGINT, command, table_name, row_count, finished >= started
		FROM flowlens_runs ORDER BY run_id, table_name`)
	want := [][]string{
		{"1", "1714564800", "flowlens ingest x.log", "flows", "3", "true"},
		{"1", "1714564800", "flowlens ingest x.log", "ingest_errors", "2", "true"},
		{"2", "1714564800", "flowlens ingest x.log", "flows", "3", "true"},
		{"2", "1714564800", "flowlens ingest x.log", "ingest_errors", "2", "true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flowlens_runs (-want +got):\n%s", diff)
	}

	pq := filepath.Join(dir, "flows.parquet")
	if err := d.ExportParquet(context.Background(), "flows", pq); err != nil {
		t.Fatal(err)
	}
	got = queryRows(t, d.SQL(), `SELECT count(*), count(action), sum("end")::BIGINT FROM read_parquet(?)`, pq)
	if diff := cmp.Diff([][]string{{"3", "2", "5143564983"}}, got); diff != "" {
		t.Errorf("parquet contents (-want +got):\n%s", diff)
	}
	if err := d.ExportParquet(context.Background(), "no_such_table", filepath.Join(dir, "x.parquet")); err == nil {
		t.Error("ExportParquet of a missing table succeeded")
	}
	if diff := cmp.Diff([]string{"flows.duckdb", "flows.parquet"}, dirEntries(t, dir)); diff != "" {
		t.Errorf("files in dir (-want +got):\n%s", diff)
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{"end": `"end"`, `we"ird`: `"we""ird"`, "my flows": `"my flows"`} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestWriteRunInterrupted: an interruption (context cancelled) before the commit leaves the file as it was and
// says so (ErrNotWritten); one just after the commit (Run.OnCommit stands for it) does not fail the write,
// and the file holds the new tables (issue 9 item 11). Both for a new file (the commit is the rename) and an
// existing one (the commit is the transaction's).
func TestWriteRunInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		existing    bool
		afterCommit bool
		wantRows    [][]string // flows' rows after the write; nil: no file
	}{
		{"new file, before the commit", false, false, nil},
		{"new file, after the rename", false, true, [][]string{{"3"}}},
		{"existing file, before the commit", true, false, [][]string{{"2"}}},
		{"existing file, after the commit", true, true, [][]string{{"3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			path := filepath.Join(dir, "flows.duckdb")
			if tc.existing {
				r := errorsTable(mem, 1, 2)
				err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: r})
				r.Release()
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var r array.RecordReader = smallFlows(mem)
			run := Run{Command: "test"}
			if tc.afterCommit {
				run.OnCommit = cancel
			} else {
				r = &failingReader{RecordReader: r, n: 1, onFail: cancel}
			}
			done := false
			err := WriteRun(ctx, path, run, Table{Name: "flows", Reader: r, OnDone: func(int64) { done = true }})
			r.Release()
			if tc.afterCommit {
				if err != nil || !done {
					t.Errorf("WriteRun = %v, OnDone called %t; want nil, true", err, done)
				}
			} else if !errors.Is(err, ErrNotWritten) || !errors.Is(err, context.Canceled) || done {
				t.Errorf("WriteRun = %v, OnDone called %t; want ErrNotWritten and context.Canceled, false", err, done)
			}
			if tc.wantRows == nil {
				if got := dirEntries(t, dir); len(got) != 0 {
					t.Errorf("files left: %q", got)
				}
				return
			}
			if diff := cmp.Diff(tc.wantRows, queryRows(t, openRO(t, path), `SELECT count(*) FROM flows`)); diff != "" {
				t.Errorf("flows (-want +got):\n%s", diff)
			}
		})
	}
	if err := WriteTables(context.Background(), filepath.Join(t.TempDir(), "x.duckdb")); !errors.Is(err, ErrNotWritten) {
		t.Errorf("a rejected write: %v, want ErrNotWritten", err)
	}
}
