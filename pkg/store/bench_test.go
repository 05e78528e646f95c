package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	duckdb "github.com/marcboeker/go-duckdb"

	"github.com/flowlens/flowlens/internal/cputime"
)

// benchData caches generated batches across sub-benchmarks: generating 1M rows costs about as much as storing them.
var benchData = map[string][]arrow.Record{}

func benchRecords(b *testing.B, g flowGen, rows, batch int) []arrow.Record {
	key := fmt.Sprintf("%+v/%d/%d", g, rows, batch)
	if recs, ok := benchData[key]; ok {
		return recs
	}
	recs := g.records(memory.NewGoAllocator(), rows, batch)
	benchData[key] = recs
	return recs
}

// arrowBytes is the size of the Arrow buffers of recs (for MB/s).
func arrowBytes(recs []arrow.Record) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
			walk(dict)
		}
	}
	for _, r := range recs {
		for _, c := range r.Columns() {
			walk(c.Data())
		}
	}
	return n
}

// BenchmarkWriteTables measures the Arrow -> DuckDB file hand-off on 1M realistic flow rows, one candidate per
// sub-benchmark. Each iteration writes a complete file (open, load, commit, checkpoint, close, rename).
func BenchmarkWriteTables(b *testing.B) {
	const rows = 1_000_000
	plain := flowGen{rowsPerFile: 100_000}
	dict := flowGen{rowsPerFile: 100_000, dict: true}
	for _, bc := range []struct {
		name     string
		gen      flowGen
		batch    int
		existing bool // replace the table in an existing file instead of building a new file
		opts     writeOpts
		appender bool
	}{
		{name: "view/new-file/batch64k", gen: plain, batch: 64 << 10},
		{name: "view/new-file/no-hints", gen: plain, batch: 64 << 10, opts: writeOpts{noHints: true}},
		{name: "view/new-file/batch16k", gen: plain, batch: 16 << 10},
		{name: "view/new-file/batch256k", gen: plain, batch: 256 << 10},
		{name: "view/new-file/preserve-order", gen: plain, batch: 64 << 10, opts: writeOpts{preserveOrder: true}},
		{name: "view/existing-file", gen: plain, batch: 64 << 10, existing: true},
		{name: "view/new-file/dict", gen: dict, batch: 64 << 10},
		{name: "appender/new-file", gen: plain, batch: 64 << 10, appender: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			recs := benchRecords(b, bc.gen, rows, bc.batch)
			dir := b.TempDir()
			path := filepath.Join(dir, "flows.duckdb")
			if bc.existing {
				r := sliceReader(recs)
				if err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: r}); err != nil {
					b.Fatal(err)
				}
				r.Release()
			}
			b.SetBytes(arrowBytes(recs))
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cputime.Process()
			for i := 0; i < b.N; i++ {
				if !bc.existing {
					b.StopTimer()
					os.Remove(path)
					b.StartTimer()
				}
				r := sliceReader(recs)
				var err error
				if bc.appender {
					err = appenderWrite(context.Background(), path, "flows", r)
				} else {
					err = writeWith(context.Background(), path, nil, []Table{{Name: "flows", Reader: r}}, bc.opts)
				}
				r.Release()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
			b.ReportMetric((cputime.Process()-cpu0).Seconds()/(float64(rows)*float64(b.N))*1e6, "cpu-s/1M-rows")
		})
	}
}

// BenchmarkWriteTables10M is the product target: 10M flow rows plus 10 verdict string columns into a new file.
// It needs several GB of RAM and a minute to generate, so it runs only with FLOWLENS_BENCH_10M=1.
func BenchmarkWriteTables10M(b *testing.B) {
	if os.Getenv("FLOWLENS_BENCH_10M") == "" {
		b.Skip("set FLOWLENS_BENCH_10M=1")
	}
	for _, dict := range []bool{false, true} {
		b.Run("dict="+strconv.FormatBool(dict), func(b *testing.B) {
			const rows = 10_000_000
			recs := flowGen{rowsPerFile: 100_000, extra: 10, dict: dict}.records(memory.NewGoAllocator(), rows, 64<<10)
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			dir := b.TempDir()
			path := filepath.Join(dir, "flows.duckdb")
			b.SetBytes(arrowBytes(recs))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				os.Remove(path)
				b.StartTimer()
				r := sliceReader(recs)
				err := WriteTables(context.Background(), path, Table{Name: "flows", Reader: r})
				r.Release()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
			if fi, err := os.Stat(path); err == nil {
				b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
			}
		})
	}
}

// BenchmarkWriteTables2M compares the hand-offs on 2M flow rows, as ingest writes them (16 columns) and as
// analyze does (plus 12 verdict string columns), with plain and with dictionary-encoded low-cardinality strings.
// Besides rows/s it reports CPU seconds per 1M rows (getrusage, DuckDB's threads included), which other load on
// the machine skews less than wall time. It needs about 4 GB of RAM, so it runs only with FLOWLENS_BENCH=1.
func BenchmarkWriteTables2M(b *testing.B) {
	if os.Getenv("FLOWLENS_BENCH") == "" {
		b.Skip("set FLOWLENS_BENCH=1")
	}
	const rows = 2_000_000
	for _, extra := range []int{0, 12} {
		for _, dict := range []bool{false, true} {
			recs := flowGen{rowsPerFile: 100_000, extra: extra, dict: dict}.records(memory.NewGoAllocator(), rows, 64<<10)
			for _, bc := range []struct {
				name string
				opts writeOpts
			}{
				{"ctas", writeOpts{noHints: true}},
				{"hints", writeOpts{}},
			} {
				b.Run(fmt.Sprintf("cols=%d/dict=%t/%s", recs[0].NumCols(), dict, bc.name), func(b *testing.B) {
					path := filepath.Join(b.TempDir(), "flows.duckdb")
					b.SetBytes(arrowBytes(recs))
					b.ResetTimer()
					start, cpu0 := time.Now(), cputime.Process()
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						os.Remove(path)
						b.StartTimer()
						r := sliceReader(recs)
						err := writeWith(context.Background(), path, nil, []Table{{Name: "flows", Reader: r}}, bc.opts)
						r.Release()
						if err != nil {
							b.Fatal(err)
						}
					}
					n := float64(rows) * float64(b.N)
					b.ReportMetric(n/time.Since(start).Seconds(), "rows/s")
					b.ReportMetric((cputime.Process()-cpu0).Seconds()/n*1e6, "cpu-s/1M-rows")
					if fi, err := os.Stat(path); err == nil {
						b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
					}
				})
			}
			for _, r := range recs {
				r.Release()
			}
		}
	}
}

// appenderWrite is the go-duckdb Appender candidate: row by row through driver.Value.
func appenderWrite(ctx context.Context, path, table string, r array.RecordReader) error {
	d, err := Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	sc := r.Schema()
	ddl := "CREATE TABLE " + QuoteIdent(table) + " ("
	for i, f := range sc.Fields() {
		if i > 0 {
			ddl += ", "
		}
		typ := map[arrow.Type]string{arrow.INT32: "INTEGER", arrow.INT64: "BIGINT", arrow.STRING: "VARCHAR"}[f.Type.ID()]
		ddl += QuoteIdent(f.Name) + " " + typ
	}
	if _, err := conn.ExecContext(ctx, ddl+")"); err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", table)
		if err != nil {
			return err
		}
		row := make([]driver.Value, sc.NumFields())
		for r.Next() {
			rec := r.Record()
			cols := rec.Columns()
			for i := 0; i < int(rec.NumRows()); i++ {
				for c, col := range cols {
					if col.IsNull(i) {
						row[c] = nil
						continue
					}
					switch col := col.(type) {
					case *array.Int32:
						row[c] = col.Value(i)
					case *array.Int64:
						row[c] = col.Value(i)
					case *array.String:
						row[c] = col.Value(i)
					}
				}
				if err := app.AppendRow(row...); err != nil {
					app.Close()
					return err
				}
			}
		}
		return app.Close()
	})
}

// BenchmarkInternStrings measures Interned on 1M generated flow rows: the account, interface, action, status
// and file columns are interned; the random addresses (all distinct) are left as strings by the first-record
// check. BenchmarkStringSet has the per-value cost of interning addresses.
func BenchmarkInternStrings(b *testing.B) {
	const rows = 1_000_000
	recs := benchRecords(b, flowGen{rowsPerFile: 100_000}, rows, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := sliceReader(recs)
		r, err := InternStrings(in, nil)
		in.Release()
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
		}
		r.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*b.N), "ns/row")
}

// BenchmarkStringSet measures one lookup of an address-like string: among 5,000 distinct values (as in the
// 10M-record bench file, where almost every lookup finds its string), and all distinct (every lookup adds one;
// the table grows to 1M).
func BenchmarkStringSet(b *testing.B) {
	addrs := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		}
		return out
	}
	for _, bc := range []struct {
		name     string
		distinct int
	}{{"repeat-5k", 5000}, {"distinct-1M", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			vals := addrs(bc.distinct)
			b.ReportAllocs()
			b.ResetTimer()
			set := newStringSet()
			for i := 0; i < b.N; i++ {
				if i%len(vals) == 0 && bc.distinct > 5000 {
					set = newStringSet()
				}
				set.id(vals[i%len(vals)])
			}
		})
	}
}
