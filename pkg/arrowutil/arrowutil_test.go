package arrowutil

import (
	"errors"
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

func int64Records(t *testing.T, mem memory.Allocator, batches ...[]int64) (*arrow.Schema, []arrow.Record) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var recs []arrow.Record
	for _, vals := range batches {
		b := array.NewInt64Builder(mem)
		b.AppendValues(vals, nil)
		a := b.NewArray()
		recs = append(recs, array.NewRecord(sc, []arrow.Array{a}, int64(len(vals))))
		a.Release()
		b.Release()
	}
	return sc, recs
}

// TestPrefetch: the records come through in order and intact, the source's error follows them, and a
// consumer that stops early (Release before the end) stops the goroutine and leaks no memory.
func TestPrefetch(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		depth   int
		readN   int // records the consumer reads before releasing (-1: all)
		fail    error
		wantSum int64
	}{
		{name: "all", depth: 2, readN: -1, wantSum: 21},
		{name: "depth 0 means 1", depth: 0, readN: -1, wantSum: 21},
		{name: "error after the records", depth: 2, readN: -1, fail: boom, wantSum: 21},
		{name: "stop early", depth: 1, readN: 1, wantSum: 3},
		{name: "stop at once", depth: 1, readN: 0, wantSum: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			sc, recs := int64Records(t, mem, []int64{1, 2}, []int64{3}, []int64{4, 5, 6})
			var src array.RecordReader
			src, _ = array.NewRecordReader(sc, recs)
			for _, r := range recs {
				r.Release()
			}
			if tc.fail != nil {
				src = &failAtEnd{RecordReader: src, err: tc.fail}
			}
			p := Prefetch(src, tc.depth)
			var sum int64
			for n := 0; (tc.readN < 0 || n < tc.readN) && p.Next(); n++ {
				for _, v := range p.Record().Column(0).(*array.Int64).Int64Values() {
					sum += v
				}
			}
			if tc.readN < 0 && !errors.Is(p.Err(), tc.fail) {
				t.Errorf("Err() = %v, want %v", p.Err(), tc.fail)
			}
			p.Release()
			if sum != tc.wantSum {
				t.Errorf("sum %d, want %d", sum, tc.wantSum)
			}
		})
	}
}

// failAtEnd reports err once its reader is exhausted.
type failAtEnd struct {
	array.RecordReader
	err  error
	done bool
}

func (f *failAtEnd) Next() bool {
	ok := f.RecordReader.Next()
	f.done = !ok
	return ok
}

func (f *failAtEnd) Err() error {
	if f.done {
		return f.err
	}
	return nil
}
