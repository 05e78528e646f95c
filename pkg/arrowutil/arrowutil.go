// Package arrowutil holds small array.RecordReader adapters shared by flowlens's stages.
package arrowutil

import (
	"strings"
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

// EnumKey is the Arrow field metadata key that lists every value a string column can hold (separated by
// "\x1f"). A sink may store such a column as an enumeration (DuckDB ENUM: the same comparisons as VARCHAR,
// much cheaper to write); a value outside the list is then an error, so list them all.
const EnumKey = "flowlens.enum"

// EnumField returns a nullable string field that declares its complete set of values.
func EnumField(name string, values ...string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true,
		Metadata: arrow.NewMetadata([]string{EnumKey}, []string{strings.Join(values, "\x1f")})}
}

// EnumValues returns the values a field declares with EnumKey, or nil.
func EnumValues(f arrow.Field) []string {
	v, ok := f.Metadata.GetValue(EnumKey)
	if !ok || v == "" {
		return nil
	}
	return strings.Split(v, "\x1f")
}
