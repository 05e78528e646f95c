package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

// parquetBatchRows is how many Parquet rows are turned into one chunk.
const parquetBatchRows = 16 << 10

func openParquet(path string) (*pqarrow.FileReader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	pr, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pr.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return fr, f, nil
}

// parquetFormat maps a Parquet file's columns (S3 delivery uses underscore names: account_id, log_status)
// to flow log fields; unknown columns are kept as string columns. The provenance columns of a file flowlens
// wrote (source_file, source_line) are not read: provenance is always this file and row. cols lists the
// Parquet columns read, in format order.
func parquetFormat(path string) (format Format, cols []int, err error) {
	fr, f, err := openParquet(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	defer fr.ParquetReader().Close()
	sc, err := fr.Schema()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, fld := range sc.Fields() {
		if fld.Name == flowschema.ColSourceFile || fld.Name == flowschema.ColSourceLine {
			continue
		}
		if !validFieldName(fld.Name) {
			return nil, nil, fmt.Errorf("%s: column %q is not a usable field name", path, fld.Name)
		}
		format = append(format, canonicalLogName(fld.Name))
		cols = append(cols, i)
	}
	if len(format) == 0 {
		return nil, nil, fmt.Errorf("%s: the Parquet file has no flow log columns", path)
	}
	return format, cols, nil
}

// readParquet turns a Parquet file's rows into text chunks (one line per row, "-" for NULL) so they go
// through exactly the validation and counting of text records; source_line is the 1-based row.
func (r *Reader) readParquet(job *fileJob) (int64, error) {
	fr, f, err := openParquet(job.in.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	defer fr.ParquetReader().Close()
	rr, err := fr.GetRecordReader(r.ctx, job.in.parquetCols, nil)
	if err != nil {
		return 0, err
	}
	defer rr.Release()
	row := int64(1)
	for rr.Next() {
		rec := rr.Record()
		buf := renderRecord(rec)
		r.bytes.Add(int64(len(buf)))
		if err := r.submit(job, chunk{data: buf, firstLine: row}); err != nil {
			return row - 1, err
		}
		row += rec.NumRows()
	}
	// pqarrow's record reader reports the end of the file as io.EOF from Err: not an error.
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return row - 1, fmt.Errorf("parquet: %w", err)
	}
	return row - 1, nil
}

// renderRecord writes rec as space-separated text lines.
func renderRecord(rec arrow.Record) []byte {
	n := int(rec.NumRows())
	buf := make([]byte, 0, n*int(rec.NumCols())*8)
	for i := 0; i < n; i++ {
		for c := 0; c < int(rec.NumCols()); c++ {
			if c > 0 {
				buf = append(buf, ' ')
			}
			buf = appendValue(buf, rec.Column(c), i)
		}
		buf = append(buf, '\n')
	}
	return buf
}

func appendValue(buf []byte, a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return append(buf, '-')
	}
	switch a := a.(type) {
	case *array.Int8:
		return strconv.AppendInt(buf, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(buf, int64(a.Value(i)), 10)
	case *array.Int32:
		return strconv.AppendInt(buf, int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.AppendInt(buf, a.Value(i), 10)
	case *array.Uint8:
		return strconv.AppendUint(buf, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(buf, uint64(a.Value(i)), 10)
	case *array.Uint32:
		return strconv.AppendUint(buf, uint64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(buf, a.Value(i), 10)
	case *array.String:
		return appendToken(buf, a.Value(i))
	case *array.LargeString:
		return appendToken(buf, a.Value(i))
	case *array.Binary:
		return appendToken(buf, string(a.Value(i)))
	default:
		return appendToken(buf, a.ValueStr(i))
	}
}

// appendToken appends a string value; an empty one is NULL.
func appendToken(buf []byte, s string) []byte {
	if s == "" {
		return append(buf, '-')
	}
	return append(buf, s...)
}

// detachStrings returns rec with the value bytes of its string columns (dictionaries' included) copied to
// memory of their own. The Parquet writer keeps a column chunk's string minimum and maximum as slices of the
// values it was given until the file is closed, and the buffers of ingest's records are reused as soon as a
// record is released (bufPool): without the copy, a file's statistics would read bytes of later batches.
func detachStrings(rec arrow.Record) arrow.Record {
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		d := detachData(c.Data())
		cols[i] = array.MakeFromData(d)
		d.Release()
	}
	out := array.NewRecord(rec.Schema(), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// detachData is detachStrings for one array: a new reference to d, or a copy whose string or binary value
// buffer is copied.
func detachData(d arrow.ArrayData) arrow.ArrayData {
	var dict arrow.ArrayData
	if dd, ok := d.Dictionary().(*array.Data); ok && dd != nil { // a typed nil when there is none
		dict = detachData(dd)
		defer dict.Release()
	}
	bufs := d.Buffers()
	switch d.DataType().ID() {
	case arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
		if len(bufs) == 3 && bufs[2] != nil {
			bufs = append([]*memory.Buffer(nil), bufs...)
			bufs[2] = memory.NewBufferBytes(append([]byte(nil), bufs[2].Bytes()...))
			defer bufs[2].Release()
		}
	default:
		if dict == nil {
			d.Retain()
			return d
		}
	}
	out := array.NewData(d.DataType(), d.Len(), bufs, d.Children(), d.NullN(), d.Offset())
	if dict != nil {
		out.SetDictionary(dict)
	}
	return out
}

// WriteParquet writes every record of rr to path as one Parquet file (zstd), replacing it only when the
// whole stream was written: a failed run leaves no partial file behind. It returns the rows written.
func WriteParquet(ctx context.Context, rr array.RecordReader, path string) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(true), parquet.WithMaxRowGroupLength(1<<20))
	w, err := pqarrow.NewFileWriter(rr.Schema(), tmp, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		tmp.Close()
		return 0, err
	}
	var rows int64
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			w.Close()
			return rows, err
		}
		rec := detachStrings(rr.Record())
		err := w.WriteBuffered(rec)
		rows += rec.NumRows()
		rec.Release()
		if err != nil {
			w.Close()
			return rows, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := rr.Err(); err != nil {
		w.Close()
		return rows, err
	}
	if err := w.Close(); err != nil { // also closes tmp
		return rows, fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return rows, err
	}
	return rows, nil
}
