package ingest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/google/go-cmp/cmp"
)

// poisonAllocator overwrites memory when it is freed, as a reused buffer would be (bufPool).
type poisonAllocator struct{ memory.GoAllocator }

func (p *poisonAllocator) Free(b []byte) {
	for i := range b {
		b[i] = 0xFF
	}
}

// releasingReader builds each record on demand and releases the previous one on Next, as ingest's Reader
// and the parquet tee do, so a record's buffers are freed while the writer is still open.
type releasingReader struct {
	sc    *arrow.Schema
	mem   memory.Allocator
	batch [][]string
	cur   arrow.Record
}

func (r *releasingReader) Retain()               {}
func (r *releasingReader) Release()              {}
func (r *releasingReader) Schema() *arrow.Schema { return r.sc }
func (r *releasingReader) Record() arrow.Record  { return r.cur }
func (r *releasingReader) Err() error            { return nil }
func (r *releasingReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if len(r.batch) == 0 {
		return false
	}
	b := array.NewRecordBuilder(r.mem, r.sc)
	defer b.Release()
	for _, v := range r.batch[0] {
		b.Field(0).(*array.StringBuilder).Append(v)
		b.Field(1).(*array.BinaryDictionaryBuilder).AppendString("file-" + v)
	}
	r.batch = r.batch[1:]
	r.cur = b.NewRecord()
	return true
}

// TestWriteParquetStatsSurviveReuse: the string statistics of a Parquet file stay right when each record's
// buffers are overwritten as soon as the record is released (the writer would otherwise keep slices of them).
func TestWriteParquetStatsSurviveReuse(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "subnet_id", Type: arrow.BinaryTypes.String},
		{Name: "source_file", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}},
	}, nil)
	rr := &releasingReader{sc: sc, mem: &poisonAllocator{}, batch: [][]string{
		{"subnet-m", "subnet-a"}, {"subnet-z", "subnet-q"}, {"subnet-c"},
	}}
	path := filepath.Join(t.TempDir(), "s.parquet")
	if _, err := WriteParquet(context.Background(), rr, path); err != nil {
		t.Fatal(err)
	}
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got [][2]string
	for c := 0; c < 2; c++ {
		cc, err := f.MetaData().RowGroup(0).ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		st, err := cc.Statistics()
		if err != nil {
			t.Fatal(err)
		}
		bs, ok := st.(*metadata.ByteArrayStatistics)
		if !ok || !bs.HasMinMax() {
			t.Fatalf("column %d: statistics %T without min/max", c, st)
		}
		got = append(got, [2]string{string(bs.Min()), string(bs.Max())})
	}
	want := [][2]string{{"subnet-a", "subnet-z"}, {"file-subnet-a", "file-subnet-z"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("min/max per column (-want +got):\n%s", d)
	}
}
