package arrowutil

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Table builds a small table (rule hits, topology, audit results) one row at a time. Not for the per-record
// path: Row takes its values as interfaces.
type Table struct{ b *array.RecordBuilder }

// NewTable starts a table with the columns cols (see StringField and its siblings).
func NewTable(mem memory.Allocator, cols ...arrow.Field) *Table {
	return &Table{b: array.NewRecordBuilder(mem, arrow.NewSchema(cols, nil))}
}

// Column types Table's rows fill; every column is nullable.
func StringField(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
}
func Int64Field(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
}
func Float64Field(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
}
func BoolField(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}
}

// TimestampField is a TIMESTAMP column (UTC, seconds); Row takes its values as Unix seconds (int64).
func TimestampField(name string) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Timestamp_s, Nullable: true}
}

// NamedRecord is a small result table as a single record, with the name it is stored under; whoever holds
// it releases Record.
type NamedRecord struct {
	Name   string
	Record arrow.Record
}

// Row appends one row, a value per column in order: string, int or int64, float64, bool, or nil for NULL.
// A value of another type than its column's panics (a programming error).
func (t *Table) Row(vals ...any) {
	for i, v := range vals {
		f := t.b.Field(i)
		if v == nil {
			f.AppendNull()
			continue
		}
		if n, ok := v.(int); ok {
			v = int64(n)
		}
		switch f := f.(type) {
		case *array.StringBuilder:
			f.Append(v.(string))
		case *array.Int64Builder:
			f.Append(v.(int64))
		case *array.Float64Builder:
			f.Append(v.(float64))
		case *array.BooleanBuilder:
			f.Append(v.(bool))
		case *array.TimestampBuilder:
			f.Append(arrow.Timestamp(v.(int64)))
		default:
			panic(fmt.Sprintf("arrowutil: column %d has a type Table does not fill (%T)", i, f))
		}
	}
}

// Record returns the rows as one record (the caller releases it) and releases the builder.
func (t *Table) Record() arrow.Record {
	defer t.b.Release()
	return t.b.NewRecord()
}
