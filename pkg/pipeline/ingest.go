package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
)

// IngestConfig is one ingest run.
type IngestConfig struct {
	// Paths are the flow logs: files, directories, glob patterns, "-" for Ingest.Stdin.
	Paths []string
	// Ingest configures the parser.
	Ingest ingest.Options
	// DB, if set, is the DuckDB file to write the records (flows: a view over flow_records and flow_strings)
	// and ingest_errors to, atomically; an earlier analyze's verdicts table is removed, with the views that read
	// it (results.View.Verdicts).
	DB string
	// Parquet, if set, is the Parquet file to write the records to (as well as to DB).
	Parquet string
	// Run is recorded in the DB's flowlens_runs.
	Run store.Run
	// Progress is called as in AnalyzeConfig.
	Progress func(records, bytes int64)
}

// Ingest parses cfg.Paths and writes the records to the sinks cfg names; without one it only validates and
// counts them. It returns the parse statistics.
func Ingest(ctx context.Context, cfg IngestConfig) (ingest.Stats, error) {
	if cfg.Run.Started.IsZero() {
		cfg.Run.Started = time.Now()
	}
	rd, err := ingest.NewReader(ctx, cfg.Paths, cfg.Ingest)
	if err != nil {
		return ingest.Stats{}, err
	}
	defer rd.Release()
	stopProgress := watchProgress(cfg.Progress, rd.Progress)
	err = sinkRecords(ctx, cfg, rd)
	stopProgress()
	if err != nil {
		return ingest.Stats{}, err
	}
	return rd.Stats(), nil
}

// sinkRecords drains the reader into the chosen sinks (none: just count).
func sinkRecords(ctx context.Context, cfg IngestConfig, rd *ingest.Reader) error {
	var pq *parquetTee
	var src array.RecordReader = rd
	if cfg.Parquet != "" {
		pq = newParquetTee(ctx, rd, cfg.Parquet)
		src = pq
	}
	switch {
	case cfg.DB != "":
		errs := rd.ErrorsRecordReader(memory.DefaultAllocator)
		defer errs.Release()
		extra := append([]store.Table{
			{Name: flowschema.IngestErrorsTable, Reader: errs},
			{Name: flowschema.VerdictsTable, Drop: true}, // an earlier analyze's, and what an audit needs of it
			{Name: flowschema.TopologyFilesTable, Drop: true},
			{Name: flowschema.ReplaySettingsTable, Drop: true},
			{Name: flowschema.ShardTable, Drop: true}, // an earlier sharded analyze's
		}, viewTables(results.FlowLayout{}, true)...) // and the views that read the verdicts
		extra = append(extra, dropRunTables()...)
		err := writeFlows(ctx, cfg.DB, cfg.Run, memory.DefaultAllocator, src, nil, nil, nil, extra...)
		if err != nil {
			if pq != nil {
				pq.abort()
			}
			return err
		}
	case pq != nil:
		// the tee is the sink
		for pq.Next() {
		}
	default:
		for rd.Next() {
		}
	}
	err := rd.Err()
	if pq != nil {
		err = pq.finish()
	}
	if err != nil && cfg.DB != "" {
		return &store.WrittenError{Path: cfg.DB, Err: err} // the records were drained and committed
	}
	return err
}

// parquetTee passes records through while writing them to a Parquet file on the side.
type parquetTee struct {
	array.RecordReader
	recs chan arrow.Record
	done chan error
}

func newParquetTee(ctx context.Context, rr array.RecordReader, path string) *parquetTee {
	recs := make(chan arrow.Record, 4)
	t := &parquetTee{RecordReader: rr, recs: recs, done: make(chan error, 1)}
	// The writer commits the file only when the stream ends without error (rr's, such as no records at all).
	ch := &chanReader{schema: rr.Schema(), in: recs, err: rr.Err}
	go func() {
		_, err := ingest.WriteParquet(ctx, ch, path)
		for r := range recs { // drain after a write error
			r.Release()
		}
		t.done <- err
	}()
	return t
}

func (t *parquetTee) Next() bool {
	if !t.RecordReader.Next() {
		close(t.recs)
		t.recs = nil
		return false
	}
	rec := t.RecordReader.Record()
	rec.Retain()
	t.recs <- rec
	return true
}

func (t *parquetTee) abort() {
	if t.recs != nil {
		close(t.recs)
		t.recs = nil
	}
}

func (t *parquetTee) finish() error {
	t.abort()
	if err := <-t.done; err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return t.RecordReader.Err()
}

// chanReader is an array.RecordReader over a channel of records it takes ownership of.
type chanReader struct {
	schema *arrow.Schema
	in     <-chan arrow.Record
	cur    arrow.Record
	err    func() error // the source's error, read once in is closed
}

func (c *chanReader) Retain()               {}
func (c *chanReader) Release()              {}
func (c *chanReader) Schema() *arrow.Schema { return c.schema }
func (c *chanReader) Record() arrow.Record  { return c.cur }
func (c *chanReader) Err() error            { return c.err() }
func (c *chanReader) Next() bool {
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
	r, ok := <-c.in
	c.cur = r
	return ok
}
