package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/arrowutil"
)

// readRows drains rr and renders its rows as strings ("NULL" for NULL, dictionaries by value), with the type
// of each column.
func readRows(t *testing.T, rr array.RecordReader) (types []arrow.Type, rows [][]string) {
	t.Helper()
	for _, f := range rr.Schema().Fields() {
		types = append(types, f.Type.ID())
	}
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j, c := range rec.Columns() {
				row[j] = "NULL"
				if c.IsValid(i) {
					row[j] = strings.Clone(c.ValueStr(i)) // the value points into the record
				}
			}
			rows = append(rows, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return types, rows
}

// readBackTable writes a small table with an enumerated column (stored as an ENUM) and a view over it.
func readBackTable(t *testing.T, mem memory.Allocator, path string) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "srcaddr", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "dstport", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "bytes", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrowutil.EnumField("action", "ACCEPT", "REJECT"),
		{Name: "agrees", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"10.0.0.1", "", "10.0.0.2"}, []bool{true, false, true})
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{443, 0, 22}, []bool{true, false, true})
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{1000, 0, 52}, nil)
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"ACCEPT", "", "REJECT"}, []bool{true, false, true})
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false, false}, []bool{true, true, false})
	rec := b.NewRecord()
	defer rec.Release()
	rr, err := array.NewRecordReader(sc, []arrow.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: rr},
		Table{Name: "rejects", Query: `SELECT srcaddr, dstport FROM flows WHERE action = 'REJECT'`}); err != nil {
		t.Fatal(err)
	}
}

// TestReadArrow: what a table and a view hold comes back as Arrow, value for value, with an ENUM column as a
// dictionary; arguments are bound; the file is closed once the reader is released, and on a failed query.
func TestReadArrow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "read.duckdb")
	readBackTable(t, mem, path)
	for _, tc := range []struct {
		name      string
		query     string
		args      []any
		wantTypes []arrow.Type
		want      [][]string
	}{
		{name: "table", query: `SELECT * FROM flows ORDER BY bytes`,
			wantTypes: []arrow.Type{arrow.STRING, arrow.INT32, arrow.INT64, arrow.DICTIONARY, arrow.BOOL},
			want: [][]string{
				{"NULL", "NULL", "0", "NULL", "false"},
				{"10.0.0.2", "22", "52", "REJECT", "NULL"},
				{"10.0.0.1", "443", "1000", "ACCEPT", "true"},
			}},
		{name: "view", query: `SELECT * FROM rejects`,
			wantTypes: []arrow.Type{arrow.STRING, arrow.INT32},
			want:      [][]string{{"10.0.0.2", "22"}}},
		{name: "args", query: `SELECT srcaddr, action FROM flows WHERE dstport = ?`, args: []any{443},
			wantTypes: []arrow.Type{arrow.STRING, arrow.DICTIONARY},
			want:      [][]string{{"10.0.0.1", "ACCEPT"}}},
		{name: "enum as text", query: `SELECT CAST(action AS VARCHAR) FROM flows WHERE action = 'REJECT'`,
			wantTypes: []arrow.Type{arrow.STRING},
			want:      [][]string{{"REJECT"}}},
		{name: "no rows", query: `SELECT bytes FROM flows WHERE false`,
			wantTypes: []arrow.Type{arrow.INT64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := ReadArrow(context.Background(), path, tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			types, rows := readRows(t, rr)
			rr.Release()
			if diff := cmp.Diff(tc.wantTypes, types); diff != "" {
				t.Errorf("types (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}

	if _, err := ReadArrow(context.Background(), path, `SELECT nope FROM flows`); err == nil {
		t.Error("a bad query returned no error")
	}
	// Every reader was released and the failed query closed the file: it opens for writing again.
	readBackTable(t, mem, path)
}

// TestQueryArrowContext: a done context stops the query before it starts, and stops the reader between
// batches; the connection stays usable for d.
func TestQueryArrowContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctx.duckdb")
	readBackTable(t, memory.DefaultAllocator, path)
	d, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.QueryArrow(done, `SELECT * FROM flows`); !errors.Is(err, context.Canceled) {
		t.Errorf("QueryArrow with a done context: err = %v, want context.Canceled", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rr, err := d.QueryArrow(ctx, `SELECT * FROM range(5000)`) // several batches
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Next() {
		t.Fatalf("no first batch: %v", rr.Err())
	}
	cancel()
	if rr.Next() {
		t.Error("Next after cancel returned a batch")
	}
	if !errors.Is(rr.Err(), context.Canceled) {
		t.Errorf("Err after cancel = %v, want context.Canceled", rr.Err())
	}
	rr.Release()

	var n int
	if err := d.SQL().QueryRow(`SELECT count(*) FROM flows`).Scan(&n); err != nil || n != 3 {
		t.Errorf("after the reader: count = %d, %v; want 3", n, err)
	}
}
