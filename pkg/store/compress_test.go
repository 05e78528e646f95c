package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

func TestCompressionHint(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	str := func(n int, value func(i int) string) arrow.Array {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for i := range n {
			if v := value(i); v == "\x00" {
				b.AppendNull()
			} else {
				b.Append(v)
			}
		}
		return b.NewArray()
	}
	dict := func(n int, value func(i int) string) arrow.Array {
		b := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String})
		defer b.Release()
		for i := range n {
			if err := b.(*array.BinaryDictionaryBuilder).AppendString(value(i)); err != nil {
				t.Fatal(err)
			}
		}
		return b.NewArray()
	}
	ints := func(n int) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for i := range n {
			b.Append(int64(i))
		}
		return b.NewArray()
	}
	for _, tc := range []struct {
		name string
		col  arrow.Array
		want string
	}{
		{"few distinct", str(50_000, func(i int) string { return []string{"ACCEPT", "REJECT"}[i%2] }), "dictionary"},
		{"repeating addresses", str(20_000, func(i int) string { return "10.0.0." + strconv.Itoa(i%200) }), "dictionary"},
		{"all distinct", str(50_000, func(i int) string { return "10.1." + strconv.Itoa(i) }), "fsst"},
		{"half distinct", str(20_000, func(i int) string { return strconv.Itoa(i % 10_000) }), ""},
		{"too few rows", str(500, func(int) string { return "x" }), ""},
		{"mostly null", str(20_000, func(i int) string {
			if i%50 != 0 {
				return "\x00"
			}
			return "x"
		}), ""},
		{"dictionary array", dict(20_000, func(i int) string { return "verdict-" + strconv.Itoa(i%4) }), "dictionary"},
		{"not a string", ints(20_000), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.col.Release()
			if got := compressionHint(tc.col); got != tc.want {
				t.Errorf("compressionHint = %q, want %q", got, tc.want)
			}
		})
	}
}

// flowSums are the checks a stored copy of flow records must match.
type flowSums struct {
	rows, sourceLine, bytes, rejects, srcaddrLen, distinctSrc int64
}

func (s flowSums) strings() []string {
	var out []string
	for _, v := range []int64{s.rows, s.sourceLine, s.bytes, s.rejects, s.srcaddrLen, s.distinctSrc} {
		out = append(out, strconv.FormatInt(v, 10))
	}
	return out
}

const flowSumsQuery = `SELECT count(*), sum(source_line)::BIGINT, sum(bytes)::BIGINT, count(*) FILTER (WHERE action = 'REJECT'),
	sum(length(srcaddr))::BIGINT, count(DISTINCT srcaddr) FROM flows`

func sumFlows(recs []arrow.Record) flowSums {
	var s flowSums
	distinct := map[string]bool{}
	for _, r := range recs {
		sc := r.Schema()
		col := func(name string) arrow.Array { return r.Column(sc.FieldIndices(name)[0]) }
		lines, bytes, src := col("source_line").(*array.Int64), col("bytes").(*array.Int64), col("srcaddr").(*array.String)
		action, _ := stringGetter(col("action"))
		for i := 0; i < int(r.NumRows()); i++ {
			s.rows++
			s.sourceLine += lines.Value(i)
			s.bytes += bytes.Value(i)
			if action(i) == "REJECT" {
				s.rejects++
			}
			s.srcaddrLen += int64(len(src.Value(i)))
			distinct[src.Value(i)] = true
		}
	}
	s.distinctSrc = int64(len(distinct))
	return s
}

// TestWriteTablesParallelKeepsEveryRow writes enough batches that DuckDB scans the stream on all its threads and
// the compression hints apply, and checks that every row arrived.
func TestWriteTablesParallelKeepsEveryRow(t *testing.T) {
	for _, dict := range []bool{false, true} {
		t.Run(fmt.Sprintf("dict=%t", dict), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			recs := flowGen{rowsPerFile: 40_000, extra: 2, dict: dict}.records(mem, 200_000, 8192)
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			want := sumFlows(recs)
			path := filepath.Join(t.TempDir(), "flows.duckdb")
			for run := range 2 { // new file, then replacing the table in the existing file
				r := sliceReader(recs)
				var n int64
				err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: r, OnDone: func(k int64) { n = k }})
				r.Release()
				if err != nil {
					t.Fatalf("run %d: %v", run, err)
				}
				if n != want.rows {
					t.Errorf("run %d: OnDone rows = %d, want %d", run, n, want.rows)
				}
				db := openRO(t, path)
				if diff := cmp.Diff([][]string{want.strings()}, queryRows(t, db, flowSumsQuery)); diff != "" {
					t.Errorf("run %d: sums (-want +got):\n%s", run, diff)
				}
				// The hinted path was taken: random addresses are FSST, the low-cardinality columns dictionaries.
				got := queryRows(t, db, `SELECT column_name, string_agg(DISTINCT compression, ',') FROM pragma_storage_info('flows')
					WHERE column_name IN ('srcaddr', 'action', 'verdict_1', 'source_file') AND segment_type = 'VARCHAR' GROUP BY 1 ORDER BY 1`)
				wantComp := [][]string{{"action", "Dictionary"}, {"source_file", "Dictionary"}, {"srcaddr", "FSST"}, {"verdict_1", "Dictionary"}}
				if diff := cmp.Diff(wantComp, got); diff != "" {
					t.Errorf("run %d: compression (-want +got):\n%s", run, diff)
				}
				types := queryRows(t, db, `SELECT DISTINCT data_type FROM information_schema.columns WHERE table_name = 'flows' ORDER BY 1`)
				if diff := cmp.Diff([][]string{{"BIGINT"}, {"INTEGER"}, {"VARCHAR"}}, types); diff != "" {
					t.Errorf("run %d: column types (-want +got):\n%s", run, diff)
				}
				db.Close()
			}
		})
	}
}

// TestWriteTablesParallelFailsAtomically fails a large hinted write part way through, on a new and on an
// existing file, and by reader error and by cancellation.
func TestWriteTablesParallelFailsAtomically(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := flowGen{rowsPerFile: 40_000}.records(mem, 200_000, 8192)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	small := recs[:3]
	for _, existing := range []bool{false, true} {
		for _, failAt := range []int{0, 1, 12} { // before the first batch, after the peeked one, mid-stream
			for _, cancelled := range []bool{false, true} {
				t.Run(fmt.Sprintf("existing=%t/fail-after=%d/cancel=%t", existing, failAt, cancelled), func(t *testing.T) {
					dir := t.TempDir()
					path := filepath.Join(dir, "flows.duckdb")
					var before [][]string
					if existing {
						r := sliceReader(small)
						if err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: r}); err != nil {
							t.Fatal(err)
						}
						r.Release()
						before = [][]string{sumFlows(small).strings()}
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					fr := &failingReader{RecordReader: sliceReader(recs), n: failAt, fail: errBoom}
					wantErr := errBoom
					if cancelled {
						fr.fail, fr.onFail, wantErr = nil, cancel, context.Canceled
					}
					called := false
					err := WriteTables(ctx, path, Table{Name: "flows", Reader: fr, OnDone: func(int64) { called = true }})
					fr.Release()
					if !errors.Is(err, wantErr) {
						t.Fatalf("error = %v, want %v", err, wantErr)
					}
					if called {
						t.Error("OnDone called for a failed write")
					}
					if !existing {
						if got := dirEntries(t, dir); len(got) != 0 {
							t.Errorf("files left behind: %q", got)
						}
						return
					}
					if diff := cmp.Diff([]string{"flows.duckdb"}, dirEntries(t, dir)); diff != "" {
						t.Errorf("files in dir (-want +got):\n%s", diff)
					}
					db := openRO(t, path)
					if diff := cmp.Diff(before, queryRows(t, db, flowSumsQuery)); diff != "" {
						t.Errorf("previous table changed (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestWriteTablesHintsKeepTypes writes tables with many column types through the hinted path (CREATE TABLE with
// the view's column types, then INSERT) and through plain CREATE TABLE AS, and checks that both store the same
// column types and values. The table with a nested column falls back to CREATE TABLE AS.
func TestWriteTablesHintsKeepTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "tiny", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "port", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "ratio", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "ts tz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 18, Scale: 3}, Nullable: true},
		{Name: "action", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "addr", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "Select", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}
	for _, nested := range []bool{false, true} {
		t.Run(fmt.Sprintf("nested=%t", nested), func(t *testing.T) {
			fs := fields
			if nested {
				fs = append(fs[:len(fs):len(fs)], arrow.Field{Name: "ports", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true})
			}
			sc := arrow.NewSchema(fs, nil)
			b := array.NewRecordBuilder(mem, sc)
			defer b.Release()
			var recs []arrow.Record
			for i := range 5000 {
				b.Field(0).(*array.Int64Builder).Append(int64(i))
				if i%7 == 0 {
					for f := 1; f < len(fs); f++ {
						b.Field(f).AppendNull()
					}
				} else {
					b.Field(1).(*array.BooleanBuilder).Append(i%2 == 0)
					b.Field(2).(*array.Int8Builder).Append(int8(i))
					b.Field(3).(*array.Uint16Builder).Append(uint16(i * 13))
					b.Field(4).(*array.Float64Builder).Append(float64(i) / 8)
					b.Field(5).(*array.Date32Builder).Append(arrow.Date32(19000 + i%365))
					b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(1714521600_000000 + int64(i)*1000))
					b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(1714521600_000000 + int64(i)*7))
					b.Field(8).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i) * 1001))
					b.Field(9).(*array.StringBuilder).Append([]string{"ACCEPT", "REJECT"}[i%2])
					b.Field(10).(*array.LargeStringBuilder).Append("10." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ".1")
					b.Field(11).(*array.BinaryBuilder).Append([]byte{byte(i), byte(i >> 8)})
					if nested {
						lb := b.Field(12).(*array.ListBuilder)
						lb.Append(true)
						lb.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{int32(i), 443}, nil)
					}
				}
				if (i+1)%2500 == 0 {
					recs = append(recs, b.NewRecord())
				}
			}
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			dir := t.TempDir()
			var got [2][][]string
			for k, opts := range []writeOpts{{}, {noHints: true}} {
				path := filepath.Join(dir, strconv.Itoa(k)+".duckdb")
				r := sliceReader(recs)
				err := writeWith(context.Background(), path, nil, []Table{{Name: "t", Reader: r}}, opts)
				r.Release()
				if err != nil {
					t.Fatal(err)
				}
				db := openRO(t, path)
				got[k] = append(queryRows(t, db, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position`),
					queryRows(t, db, `SELECT COLUMNS(*)::VARCHAR FROM t ORDER BY id`)...)
				hinted := queryRows(t, db, `SELECT count(*) FROM pragma_storage_info('t') WHERE column_name = 'action' AND segment_type = 'VARCHAR' AND compression <> 'Dictionary'`)
				if k == 0 && !nested && hinted[0][0] != "0" {
					t.Errorf("action column not dictionary-compressed on the hinted path: %v", hinted)
				}
			}
			if len(got[0]) != len(fs)+5000 {
				t.Errorf("got %d rows of types and values, want %d", len(got[0]), len(fs)+5000)
			}
			if diff := cmp.Diff(got[1], got[0]); diff != "" {
				t.Errorf("hinted write differs from CREATE TABLE AS (-ctas +hints):\n%s", diff)
			}
		})
	}
}
