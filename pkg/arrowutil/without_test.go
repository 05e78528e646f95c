package arrowutil

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// TestWithout: the dropped columns are gone from the schema and every record, the kept ones come through
// in order with their values, and nothing leaks; with nothing to drop the source itself is returned.
func TestWithout(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a_x", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "b", Type: arrow.BinaryTypes.String}, {Name: "b_x", Type: arrow.PrimitiveTypes.Uint32},
	}, nil)
	var recs []arrow.Record
	for r := range 3 {
		b := array.NewRecordBuilder(mem, sc)
		for i := range 4 {
			b.Field(0).(*array.Int64Builder).Append(int64(10*r + i))
			b.Field(1).(*array.Uint32Builder).Append(7)
			b.Field(2).(*array.StringBuilder).Append(strings.Repeat("s", i))
			b.Field(3).(*array.Uint32Builder).Append(8)
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	src, err := array.NewRecordReader(sc, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	w := Without(src, func(f arrow.Field) bool { return strings.HasSuffix(f.Name, "_x") })
	src.Release()
	var names []string
	for _, f := range w.Schema().Fields() {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"a", "b"}, names); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	var got []string
	for w.Next() {
		rec := w.Record()
		if rec.NumCols() != 2 || !rec.Schema().Equal(w.Schema()) {
			t.Fatalf("record has %d columns, schema %v", rec.NumCols(), rec.Schema())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rec.Column(0).ValueStr(i)+"/"+rec.Column(1).ValueStr(i))
		}
	}
	if w.Err() != nil {
		t.Fatal(w.Err())
	}
	want := []string{"0/", "1/s", "2/ss", "3/sss", "10/", "11/s", "12/ss", "13/sss", "20/", "21/s", "22/ss", "23/sss"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	w.Release()

	same, _ := array.NewRecordReader(sc, nil)
	if w := Without(same, func(arrow.Field) bool { return false }); w != same {
		t.Error("nothing to drop: want the source itself")
	} else {
		w.Release()
	}
	same.Release()
}
