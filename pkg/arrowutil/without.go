package arrowutil

import (
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Without returns a reader of src's records without the columns for which drop is true (by field), sharing
// the kept columns' memory. It takes a reference on src (released by Release). With nothing to drop, it is
// src itself (with that reference).
func Without(src array.RecordReader, drop func(arrow.Field) bool) array.RecordReader {
	src.Retain()
	sc := src.Schema()
	var keep []int
	var fields []arrow.Field
	for i, f := range sc.Fields() {
		if !drop(f) {
			keep = append(keep, i)
			fields = append(fields, f)
		}
	}
	if len(keep) == len(sc.Fields()) {
		return src
	}
	md := sc.Metadata()
	w := &withoutReader{src: src, keep: keep, schema: arrow.NewSchema(fields, &md)}
	w.refs.Store(1)
	return w
}

type withoutReader struct {
	refs   atomic.Int64
	src    array.RecordReader
	keep   []int
	schema *arrow.Schema
	rec    arrow.Record
}

func (w *withoutReader) Retain()               { w.refs.Add(1) }
func (w *withoutReader) Schema() *arrow.Schema { return w.schema }
func (w *withoutReader) Record() arrow.Record  { return w.rec }
func (w *withoutReader) Err() error            { return w.src.Err() }

func (w *withoutReader) Release() {
	if w.refs.Add(-1) == 0 {
		if w.rec != nil {
			w.rec.Release()
			w.rec = nil
		}
		w.src.Release()
	}
}

func (w *withoutReader) Next() bool {
	if w.rec != nil {
		w.rec.Release()
		w.rec = nil
	}
	if !w.src.Next() {
		return false
	}
	rec := w.src.Record()
	cols := make([]arrow.Array, len(w.keep))
	for j, i := range w.keep {
		cols[j] = rec.Column(i)
	}
	w.rec = array.NewRecord(w.schema, cols, rec.NumRows()) // retains the columns
	return true
}
