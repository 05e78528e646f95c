package arrowutil

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestConcat: the rows of several records in order, as one record; none give an empty one.
func TestConcat(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := func(vals ...any) *Table {
		tb := NewTable(mem, StringField("s"), Int64Field("n"))
		for i := 0; i < len(vals); i += 2 {
			tb.Row(vals[i], vals[i+1])
		}
		return tb
	}
	a, b := rec("x", 1, nil, 2).Record(), rec("y", 3).Record()
	defer a.Release()
	defer b.Release()
	got, err := Concat(mem, a.Schema(), []arrow.Record{a, b})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.NumRows() != 3 || got.Column(0).ValueStr(0) != "x" || !got.Column(0).IsNull(1) || got.Column(0).ValueStr(2) != "y" ||
		got.Column(1).ValueStr(2) != "3" {
		t.Errorf("concatenated: %v", got)
	}
	empty, err := Concat(mem, a.Schema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Release()
	if empty.NumRows() != 0 || empty.NumCols() != 2 {
		t.Errorf("no records: %v", empty)
	}
}
