package ingest

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
)

// ErrorsSchema is the schema of the ingest_errors table: one row per kept bad line (line = last_line = the
// line), one per file that stopped early (reason "file-error", line = the last good line, last_line NULL),
// and one per range of suspect lines from a damaged gzip member (reason "corrupt-member", lines line to
// last_line).
var ErrorsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "file", Type: arrow.BinaryTypes.String},
	{Name: "line", Type: arrow.PrimitiveTypes.Int64},
	{Name: "reason", Type: arrow.BinaryTypes.String},
	{Name: "field", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "text", Type: arrow.BinaryTypes.String},
	{Name: "last_line", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

const (
	// ReasonFileError is the reason of an ingest_errors row for a file that stopped early.
	ReasonFileError = "file-error"
	// ReasonCorruptMember is the reason of an ingest_errors row for the lines line to last_line of a file,
	// records among them, that came from a gzip member that failed its checksum or could not be decoded.
	ReasonCorruptMember = "corrupt-member"
)

// ErrorsRecordReader returns a reader over the run's bad lines and file errors, built when first read, so
// it can be handed to a sink before the flow records have been consumed. Read it after the records.
func (r *Reader) ErrorsRecordReader(mem memory.Allocator) array.RecordReader {
	return arrowutil.Lazy(ErrorsSchema, func() arrow.Record {
		return ErrorsRecord(mem, r.Errors(), r.fileErr)
	})
}

// ErrorsRecord builds the ingest_errors rows.
func ErrorsRecord(mem memory.Allocator, lines []LineError, files []FileError) arrow.Record {
	b := array.NewRecordBuilder(mem, ErrorsSchema)
	defer b.Release()
	file := b.Field(0).(*array.StringBuilder)
	line := b.Field(1).(*array.Int64Builder)
	reason := b.Field(2).(*array.StringBuilder)
	fld := b.Field(3).(*array.StringBuilder)
	text := b.Field(4).(*array.StringBuilder)
	last := b.Field(5).(*array.Int64Builder)
	for _, e := range lines {
		file.Append(e.File)
		line.Append(e.Line)
		reason.Append(e.Reason.String())
		if e.Field == "" {
			fld.AppendNull()
		} else {
			fld.Append(e.Field)
		}
		text.Append(e.Text)
		last.Append(e.Line)
	}
	for _, e := range files {
		file.Append(e.File)
		line.Append(e.LastGoodLine)
		reason.Append(ReasonFileError)
		fld.AppendNull()
		text.Append(e.Err)
		last.AppendNull()
		if e.SuspectFirst > 0 {
			file.Append(e.File)
			line.Append(e.SuspectFirst)
			reason.Append(ReasonCorruptMember)
			fld.AppendNull()
			text.Append(fmt.Sprintf("lines %d-%d came from a damaged gzip member (%s): their values may be wrong",
				e.SuspectFirst, e.SuspectLast, e.Err))
			last.Append(e.SuspectLast)
		}
	}
	return b.NewRecord()
}
