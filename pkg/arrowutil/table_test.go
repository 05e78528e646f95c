package arrowutil

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// TestTable: every column type Row fills, NULLs, int for int64 columns, and no leak.
func TestTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tb := NewTable(mem, StringField("s"), Int64Field("i"), Float64Field("f"), BoolField("b"), TimestampField("t"))
	tb.Row("a", int64(1), 0.5, true, int64(1700000000))
	tb.Row(nil, 2, nil, false, nil)
	rec := tb.Record()
	defer rec.Release()
	var got [][]string
	for r := 0; r < int(rec.NumRows()); r++ {
		var row []string
		for c := 0; c < int(rec.NumCols()); c++ {
			row = append(row, rec.Column(c).ValueStr(r))
		}
		got = append(got, row)
	}
	want := [][]string{{"a", "1", "0.5", "true", "2023-11-14 22:13:20Z"}, {"(null)", "2", "(null)", "false", "(null)"}}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("(-got +want):\n%s", d)
	}
}
