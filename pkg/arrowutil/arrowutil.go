// Package arrowutil holds small array.RecordReader adapters shared by flowlens's stages.
package arrowutil

import (
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Lazy returns a reader whose single record is built by build on the first call to Next, so it can be handed
// to a writer before the data it summarises exists (bad lines and rule hits are complete only after the
// flow records were read). The reader owns the built record and releases it on the next Next or on Release.
func Lazy(schema *arrow.Schema, build func() arrow.Record) array.RecordReader {
	l := &lazyReader{schema: schema, build: build}
	l.refs.Store(1)
	return l
}

type lazyReader struct {
	refs   atomic.Int64
	schema *arrow.Schema
	build  func() arrow.Record
	rec    arrow.Record
	done   bool
}

func (l *lazyReader) Retain()               { l.refs.Add(1) }
func (l *lazyReader) Schema() *arrow.Schema { return l.schema }
func (l *lazyReader) Record() arrow.Record  { return l.rec }
func (l *lazyReader) Err() error            { return nil }

func (l *lazyReader) Release() {
	if l.refs.Add(-1) == 0 && l.rec != nil {
		l.rec.Release()
		l.rec = nil
	}
}

func (l *lazyReader) Next() bool {
	if l.rec != nil {
		l.rec.Release()
		l.rec = nil
	}
	if l.done {
		return false
	}
	l.done = true
	l.rec = l.build()
	return true
}
