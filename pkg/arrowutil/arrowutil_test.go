package arrowutil

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

func TestEnumField(t *testing.T) {
	f := EnumField("action", "ACCEPT", "REJECT")
	if f.Type.ID() != arrow.STRING || !f.Nullable {
		t.Errorf("field = %v", f)
	}
	if diff := cmp.Diff([]string{"ACCEPT", "REJECT"}, EnumValues(f)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if v := EnumValues(arrow.Field{Name: "x", Type: arrow.BinaryTypes.String}); v != nil {
		t.Errorf("plain field declares %v", v)
	}
	// Values may contain commas and spaces (rule texts, group lists).
	if diff := cmp.Diff([]string{"sg-1,sg-2", "a b"}, EnumValues(EnumField("g", "sg-1,sg-2", "a b"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLazy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	built := 0
	r := Lazy(sc, func() arrow.Record {
		built++
		b := array.NewRecordBuilder(mem, sc)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
		return b.NewRecord()
	})
	if built != 0 {
		t.Fatal("built before the first Next")
	}
	if !r.Next() || r.Record().NumRows() != 3 {
		t.Fatal("first Next did not yield the record")
	}
	if r.Next() || built != 1 {
		t.Errorf("second Next: built %d times", built)
	}
	r.Release()
}
