package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	duckdb "github.com/marcboeker/go-duckdb"
)

// Reading results back.
//
// QueryArrow and ReadArrow return a query's rows as Arrow records, through DuckDB's Arrow interface: a DuckDB
// ENUM column (action, log_status, the verdict columns, ...) comes back as a dictionary of strings, VARCHAR as
// utf8, INTEGER as int32, BIGINT as int64, BOOLEAN as bool. As with any Arrow record, the values read from a
// record (strings included) point into its buffers: copy what is kept after the reader is released.
//
// go-duckdb v1.8.2 converts the whole result before returning the first batch, so the result is held in memory
// (in DuckDB-allocated buffers) until the reader is released: read a large table in parts (WHERE source_file
// = ..., or ORDER BY ... LIMIT/OFFSET). The context is checked before the query, between the batches go-duckdb
// converts, and at every Next; the execution of the query itself cannot be interrupted through that
// interface (queries through DB.SQL can).
//
// Replaying stored flows: SELECT * FROM flows (ORDER BY source_file, source_line, since rows are not stored in
// input order) gives the records with the verdict columns of the run that wrote them. replay.Reader refuses an
// input that already has its output columns (it appends verdict_id, and a sink shows the verdict columns
// beside the input's), so drop the verdict columns (the verdicts table's but verdict_id: flowschema.ColDirection
// ... flowschema.ColVerdictSteps) first, with arrowutil.Without (or leave them out of the SELECT), and select the ENUM columns the replay reads as text as
// VARCHAR (CAST(action AS VARCHAR) AS action, and likewise log_status, flow_direction): the replay reads them
// as utf8, not as dictionaries. Then hand the reader to a second replay.NewReader (pkg/pipeline's
// TestAnalyzeReadBack does this and gets the first replay's summary again).

// QueryArrow runs query on d, with args bound to its last statement, and returns the rows as Arrow records
// (see above). The reader holds one of d's connections until it is released: the caller releases it, before
// closing d. Next returns false once ctx is done, and Err then returns ctx's error.
func (d *DB) QueryArrow(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	q, err := d.queryArrow(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return q, nil
}

// ReadArrow opens the DuckDB file at path read-only (OpenReadOnly) and runs query on it as QueryArrow does.
// The file stays open until the reader is released; the caller releases it.
func ReadArrow(ctx context.Context, path, query string, args ...any) (array.RecordReader, error) {
	d, err := OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	q, err := d.queryArrow(ctx, query, args)
	if err != nil {
		d.Close()
		return nil, err
	}
	closeConn := q.close
	q.close = func() error { return errors.Join(closeConn(), d.Close()) }
	return q, nil
}

func (d *DB) queryArrow(ctx context.Context, query string, args []any) (*queryReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var rr array.RecordReader
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rr, err = a.QueryContext(ctx, query, args...)
		return err
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: %s: %w", d.path, err)
	}
	q := &queryReader{ctx: ctx, src: rr, close: conn.Close}
	q.refs.Store(1)
	return q, nil
}

// queryReader is the reader QueryArrow returns: the query's records, read while ctx is live, and what to close
// when the last reference goes.
type queryReader struct {
	refs  atomic.Int64
	ctx   context.Context
	src   array.RecordReader
	close func() error
	err   error
}

func (q *queryReader) Retain()               { q.refs.Add(1) }
func (q *queryReader) Schema() *arrow.Schema { return q.src.Schema() }
func (q *queryReader) Record() arrow.Record  { return q.src.Record() }

// Err is ctx's error once Next stopped for it, else the query's.
func (q *queryReader) Err() error {
	if q.err != nil {
		return q.err
	}
	return q.src.Err()
}

func (q *queryReader) Next() bool {
	if q.err != nil {
		return false
	}
	if err := q.ctx.Err(); err != nil {
		q.err = err
		return false
	}
	return q.src.Next()
}

// Release drops a reference; the last one releases the records and closes the connection (and, for
// ReadArrow, the file).
func (q *queryReader) Release() {
	if q.refs.Add(-1) != 0 {
		return
	}
	q.src.Release()
	q.close() // a read-only connection has nothing to lose on close
}
