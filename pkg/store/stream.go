package store

import (
	"context"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// streamReader is what DuckDB sees of a Table's reader. It stops at context cancellation, and it does not pass
// Retain/Release on: the exported Arrow C stream is never released by DuckDB 1.1 (duckdb_arrow_scan keeps it for
// the connection's life), so ownership of the caller's reader stays with the caller, and detach drops the
// reference once the write is over.
type streamReader struct {
	ctx context.Context

	mu     sync.Mutex // DuckDB calls get_next from its worker threads, one at a time, but on any of them
	src    array.RecordReader
	sch    *arrow.Schema
	rec    arrow.Record
	owned  arrow.Record // rec when it is src's record with invalid UTF-8 escaped (utf8.go), released here
	peeked arrow.Record // read by peek, handed out by the next Next
	eof    bool         // src said no more
	err    error
}

// peek reads the first batch ahead, before DuckDB asks for it, and returns it (nil at the end of the stream or
// on error: see Err). The next Next hands it out. The record stays valid because src.Next is not called again
// before then.
func (r *streamReader) peek() arrow.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peeked == nil && r.pull() {
		r.peeked = r.src.Record()
	}
	return r.peeked
}

// pull advances src, recording why it stopped. It is called with mu held.
func (r *streamReader) pull() bool {
	if r.src == nil || r.err != nil || r.eof {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	if !r.src.Next() {
		r.eof = true
		if err := r.src.Err(); err != nil {
			r.err = err
		}
		return false
	}
	return true
}

var _ array.RecordReader = (*streamReader)(nil)

func (r *streamReader) Retain() {}

func (r *streamReader) Release() {}

func (r *streamReader) Schema() *arrow.Schema {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.src == nil {
		return r.sch
	}
	return r.src.Schema()
}

func (r *streamReader) Next() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
	if !r.next() {
		return false
	}
	if fixed, rebuilt := utf8Record(r.rec, memory.DefaultAllocator); rebuilt {
		r.rec, r.owned = fixed, fixed
	}
	return true
}

// release drops the record this reader made, if any. It is called with mu held.
func (r *streamReader) release() {
	if r.owned != nil {
		r.owned.Release()
		r.owned = nil
	}
	r.rec = nil
}

// next is Next before the UTF-8 check. It is called with mu held.
func (r *streamReader) next() bool {
	if r.peeked != nil {
		if r.src == nil || r.err != nil {
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		r.rec, r.peeked = r.peeked, nil
		return true
	}
	if !r.pull() {
		return false
	}
	r.rec = r.src.Record()
	return true
}

func (r *streamReader) Record() arrow.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec
}

func (r *streamReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// detach drops the caller's reader; afterwards the stream looks empty.
func (r *streamReader) detach() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.src != nil {
		r.sch = r.src.Schema()
	}
	r.release()
	r.src, r.peeked = nil, nil
}
