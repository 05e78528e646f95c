package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/store"
)

// auditChunkLines is how many input lines of one file an audit reads from DuckDB at a time. go-duckdb holds a
// query's whole result in memory: on 10M records one query took 36-50 s, 41-48 CPU-s and 3.4 GB, chunks of
// 2^18 lines 18-20 s, 18 CPU-s and 1.2 GB (2^20: 20-27 s, 1.35 GB), same round. The stored rows are in runs
// of consecutive lines, so DuckDB skips the row groups outside a chunk by their min/max.
var auditChunkLines int64 = 1 << 18

// lineChunk is the lines [lo, hi) of one source file.
type lineChunk struct {
	file   string
	lo, hi int64
}

// readFlows returns the records to audit (Since <= start < Until) in input order, one chunk of lines after
// the other (readFlowsChunk orders each); with verdictIDs, with their stored verdict_id column.
func readFlows(ctx context.Context, d *store.DB, since, until time.Time, verdictIDs bool) (array.RecordReader, error) {
	chunks, err := flowChunks(ctx, d, flowFilter{since: since, until: until})
	if err != nil {
		return nil, err
	}
	r := &chunkedReader{ctx: ctx, d: d, since: since, until: until, chunks: chunks, verdictIDs: verdictIDs}
	r.refs.Store(1)
	if len(chunks) == 0 { // no records: an empty result still gives the schema
		r.chunks = []lineChunk{{}}
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	r.schema = r.cur.Schema()
	return r, nil
}

// flowChunks cuts the selected records into chunks of at most auditChunkLines lines of one file, in input
// order (source_file orders as an ENUM: by its values' positions, which are the input's file order).
func flowChunks(ctx context.Context, d *store.DB, f flowFilter) ([]lineChunk, error) {
	table := flowschema.FlowRecordsTable
	if cols, err := viewColumns(ctx, d.SQL(), table); err != nil || cols == nil {
		table = flowschema.FlowsView
	}
	where, args := f.where()
	file, line := store.QuoteIdent(flowschema.ColSourceFile), store.QuoteIdent(flowschema.ColSourceLine)
	rows, err := d.SQL().QueryContext(ctx, "SELECT CAST("+file+" AS VARCHAR), min("+line+"), max("+line+") FROM "+
		store.QuoteIdent(table)+where+" GROUP BY "+file+" ORDER BY "+file, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path(), err)
	}
	defer rows.Close()
	var out []lineChunk
	for rows.Next() {
		var name *string
		var lo, hi *int64
		if err := rows.Scan(&name, &lo, &hi); err != nil {
			return nil, err
		}
		if name == nil || lo == nil || hi == nil {
			return nil, fmt.Errorf("%s: flows with no %s or %s: not a file analyze wrote", d.Path(),
				flowschema.ColSourceFile, flowschema.ColSourceLine)
		}
		for from := *lo; from <= *hi; from += auditChunkLines {
			out = append(out, lineChunk{file: *name, lo: from, hi: min(from+auditChunkLines, *hi+1)})
		}
	}
	return out, rows.Err()
}

// chunkedReader reads the chunks one after the other; every chunk has the same schema.
type chunkedReader struct {
	refs         atomic.Int64
	ctx          context.Context
	d            *store.DB
	since, until time.Time
	chunks       []lineChunk
	next         int
	cur          array.RecordReader
	schema       *arrow.Schema
	err          error
	strings      stringsCache
	verdictIDs   bool
}

// open reads the next chunk into cur.
func (r *chunkedReader) open() error {
	c := r.chunks[r.next]
	r.next++
	rr, err := readFlowsChunk(r.ctx, r.d, flowFilter{since: r.since, until: r.until, lines: true, file: c.file, lo: c.lo, hi: c.hi,
		verdictIDs: r.verdictIDs},
		&r.strings)
	if err != nil {
		return err
	}
	r.cur = rr
	return nil
}

func (r *chunkedReader) Schema() *arrow.Schema { return r.schema }
func (r *chunkedReader) Err() error            { return r.err }
func (r *chunkedReader) Retain()               { r.refs.Add(1) }

func (r *chunkedReader) Release() {
	if r.refs.Add(-1) == 0 && r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}

func (r *chunkedReader) Record() arrow.Record {
	if r.cur == nil {
		return nil
	}
	return r.cur.Record()
}

func (r *chunkedReader) Next() bool {
	for r.err == nil && r.cur != nil {
		if r.cur.Next() {
			return true
		}
		if err := r.cur.Err(); err != nil {
			r.err = err
			return false
		}
		r.cur.Release()
		r.cur = nil
		if r.next == len(r.chunks) {
			return false
		}
		if err := r.open(); err != nil {
			r.err = err
			return false
		}
		if !r.cur.Schema().Equal(r.schema) {
			r.err = fmt.Errorf("audit: chunk %d of the flows has schema %v, the first %v", r.next, r.cur.Schema(), r.schema)
			return false
		}
	}
	return false
}
