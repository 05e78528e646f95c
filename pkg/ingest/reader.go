package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Options configure a Reader. The zero value reads with the default version-2 format for headerless
// input and uses every core.
type Options struct {
	// LogFormat is the flow log's LogFormat string for input without a header line ("" = version 2 default).
	// A header line, when present, always wins.
	LogFormat string
	// Workers parse chunks in parallel (0 = GOMAXPROCS).
	Workers int
	// ParallelFiles is how many files are read and decompressed at once (0 = Workers).
	ParallelFiles int
	// ChunkBytes is the size of the text chunks handed to workers; each becomes one record batch (0 = 2 MiB).
	ChunkBytes int
	// MaxErrorsKept bounds the bad lines kept for Errors (0 = DefaultMaxErrorsKept). Counts stay exact.
	MaxErrorsKept int
	// Stdin is read for the path "-" (nil = os.Stdin).
	Stdin io.Reader
	// Alloc allocates the all-NULL columns of inputs that lack a column (nil = the Go allocator).
	Alloc memory.Allocator
	// IPv4Numbers adds, after source_line, a column for every address column X, named flowschema.IPv4Col(X)
	// ("srcaddr_ipv4"), of type flowschema.IPv4Type: the address as a big-endian number (10.0.0.1 is
	// 0x0a000001) when it is dotted-quad IPv4, else 0 (NULL, IPv6, and 0.0.0.0 itself). The parser has the number at hand when it checks the text, so a consumer
	// that needs addresses as numbers (replay) reads them instead of parsing the text again; it uses the
	// text where the number is 0. These columns are not for storage.
	IPv4Numbers bool
}

// DefaultMaxErrorsKept is how many bad lines a run keeps for the ingest_errors table by default.
const DefaultMaxErrorsKept = 1_000_000

const defaultChunkBytes = 2 << 20

// Reader streams flow log records as Arrow record batches. It implements array.RecordReader; records are
// produced in input order (file by file, line by line) while later chunks and files are parsed in
// parallel. Stats and Errors are complete once Next has returned false. Not safe for concurrent use.
type Reader struct {
	refs   atomic.Int64
	out    *outSchema
	pool   *bufPool // column buffers, recycled from released records
	opts   Options
	inputs []*input
	skips  []SkippedFile

	parent context.Context // the caller's: its Err says why a run that made no record stopped
	ctx    context.Context
	cancel context.CancelFunc
	jobs   chan *fileJob
	work   chan task
	wg     sync.WaitGroup // workers
	rwg    sync.WaitGroup // file readers and the dispatcher
	slots  chan struct{}  // bounds files in flight

	cur     arrow.Record
	job     *fileJob
	err     error
	done    bool
	start   time.Time
	elapsed time.Duration

	kept     atomic.Int64 // bad lines kept so far
	tallies  []*tally
	final    *tally
	fileErr  []FileError
	controls int64 // CloudWatch Logs CONTROL_MESSAGE documents skipped

	// Progress counters, readable while running.
	records atomic.Int64
	bytes   atomic.Int64
}

type fileJob struct {
	in       *input
	layout   *layout
	queue    chan *pending
	ferr     *FileError
	controls int64 // CONTROL_MESSAGE documents skipped (JSON input); read once queue is closed
}

type chunk struct {
	data      []byte
	firstLine int64
}

type pending struct {
	done chan struct{}
	rec  arrow.Record
}

type task struct {
	job *fileJob
	c   chunk
	p   *pending
}

// NewReader expands paths (files, directories, glob patterns, "-" for stdin), reads every input's header
// and starts parsing. The returned Reader must be released.
func NewReader(ctx context.Context, paths []string, opts Options) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("no input: give files, directories or - for stdin")
	}
	var logFormat Format
	if opts.LogFormat != "" {
		f, err := ParseLogFormat(opts.LogFormat)
		if err != nil {
			return nil, err
		}
		logFormat = f
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ParallelFiles <= 0 {
		opts.ParallelFiles = opts.Workers
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = defaultChunkBytes
	}
	if opts.MaxErrorsKept <= 0 {
		opts.MaxErrorsKept = DefaultMaxErrorsKept
	}
	if opts.Alloc == nil {
		opts.Alloc = memory.DefaultAllocator
	}
	expanded, skipped, err := expandPaths(paths)
	if err != nil {
		return nil, err
	}
	if len(expanded) == 0 {
		return nil, fmt.Errorf("no flow log files found in %v", paths)
	}
	sb := newSchemaBuilder()
	r := &Reader{opts: opts, start: time.Now(), pool: &bufPool{}}
	for _, p := range expanded {
		in, skip, err := sniff(p.path, p.walked, opts.Stdin, logFormat)
		if err != nil {
			return nil, err
		}
		if skip != "" {
			skipped = append(skipped, SkippedFile{EscapeUTF8(p.path), skip})
			continue
		}
		sb.add(in.format, in.name)
		r.inputs = append(r.inputs, in)
	}
	r.skips = skipped
	if len(r.inputs) == 0 {
		return nil, fmt.Errorf("no flow log files found in %v: %d files skipped, e.g. %s", paths, len(skipped), skipped[0])
	}
	files := make([]string, len(r.inputs))
	for i, in := range r.inputs {
		files[i] = in.name
	}
	r.out = sb.build(files, opts.IPv4Numbers)
	r.refs.Store(1)
	r.parent = ctx
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.jobs = make(chan *fileJob, opts.ParallelFiles)
	r.work = make(chan task, 2*opts.Workers)
	r.slots = make(chan struct{}, opts.ParallelFiles)
	for i := 0; i < opts.Workers; i++ {
		t := newTally()
		r.tallies = append(r.tallies, t)
		r.wg.Add(1)
		go r.worker(t)
	}
	r.rwg.Add(1)
	go r.dispatch()
	return r, nil
}

// dispatch starts one reader per input, in order, with at most ParallelFiles in flight.
func (r *Reader) dispatch() {
	defer r.rwg.Done()
	defer close(r.jobs)
	for _, in := range r.inputs {
		select {
		case r.slots <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		job := &fileJob{in: in, layout: r.out.layoutFor(in.format, in.header), queue: make(chan *pending, 4)}
		select {
		case r.jobs <- job:
		case <-r.ctx.Done():
			return
		}
		r.rwg.Add(1)
		go func() {
			defer r.rwg.Done()
			defer close(job.queue)
			if lastLine, err := r.readFile(job); err != nil && r.ctx.Err() == nil {
				job.ferr = newFileError(in.name, lastLine, err)
			}
		}()
	}
}

// submit queues one chunk of job for parsing, keeping the file's order.
func (r *Reader) submit(job *fileJob, c chunk) error {
	p := &pending{done: make(chan struct{})}
	select {
	case job.queue <- p:
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	select {
	case r.work <- task{job: job, c: c, p: p}:
		return nil
	case <-r.ctx.Done():
		close(p.done)
		return r.ctx.Err()
	}
}

// readFile cuts one input into chunks of whole lines. It returns the number of the last complete line
// handed on, for the error of a file that stops early.
func (r *Reader) readFile(job *fileJob) (int64, error) {
	in := job.in
	if in.kind == inputParquet {
		return r.readParquet(job)
	}
	var src io.Reader
	if in.stdin != nil {
		src = in.stdin
	} else {
		f, err := os.Open(in.path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		src = f
	}
	var members *memberReader
	if in.kind == inputGzip {
		mr, err := newMemberReader(src, in.wrap != wrapJSON)
		if err != nil {
			return 0, err
		}
		src, members = mr, mr
	}
	if in.bom {
		if _, err := io.ReadFull(src, make([]byte, len(utf8BOM))); err != nil {
			return 0, err
		}
	}
	if in.wrap == wrapJSON {
		return r.readJSON(job, src, members)
	}
	line := int64(1) // number of the next line to hand on
	var carry []byte
	skipping := false // inside a line longer than a chunk, already reported
	size := r.opts.ChunkBytes
	for {
		want := size + len(carry)
		buf := getBuf(want)[:len(carry)]
		copy(buf, carry)
		carry = nil
		// Up to the chunk size, not the buffer's capacity: a recycled buffer may be larger (the pool is shared
		// by every Reader), and chunks, so batches, are then the same from run to run.
		n, err := fill(src, buf[len(buf):want])
		buf = buf[:len(buf)+n]
		r.bytes.Add(int64(n))
		if skipping {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				buf = buf[:0]
			} else {
				buf, skipping = buf[i+1:], false
			}
		}
		switch {
		case err == nil && !skipping: // a full buffer
			cut := bytes.LastIndexByte(buf, '\n') + 1
			if cut == 0 && len(buf) <= MaxLineBytes {
				carry = buf // a line longer than the chunk but not too long: read on
				continue
			}
			if cut == 0 {
				// A line longer than MaxLineBytes: hand on its start (reported as too long), skip the rest.
				keep := min(len(buf), MaxLineBytes+1)
				buf = append(buf[:keep:keep], '\n')
				skipping, cut = true, len(buf)
			}
			carry = append(carry, buf[cut:]...)
			if serr := r.submit(job, chunk{data: buf[:cut], firstLine: line}); serr != nil {
				return line - 1, serr
			}
			line += int64(bytes.Count(buf[:cut], []byte{'\n'}))
		case err == nil:
			// still skipping a long line
		case errors.Is(err, io.EOF):
			if len(buf) > 0 && !skipping {
				if serr := r.submit(job, chunk{data: buf, firstLine: line}); serr != nil {
					return line - 1, serr
				}
			}
			return line - 1, nil
		default:
			// A read error (truncated or corrupt gzip, I/O): keep the complete lines before it.
			cut := bytes.LastIndexByte(buf, '\n') + 1
			if cut > 0 && !skipping {
				if serr := r.submit(job, chunk{data: buf[:cut], firstLine: line}); serr != nil {
					return line - 1, serr
				}
				line += int64(bytes.Count(buf[:cut], []byte{'\n'}))
			}
			return line - 1, describeReadError(err, len(buf)-cut)
		}
	}
}

// fill reads until buf is full (nil error) or the reader fails; io.EOF means a clean end.
func fill(src io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := src.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

// describeReadError keeps err (a *GzipError says which lines are suspect) and adds what was dropped.
func describeReadError(err error, partial int) error {
	if partial > 0 {
		return fmt.Errorf("%w; %d bytes of an incomplete last line dropped", err, partial)
	}
	return err
}

// worker parses chunks into record batches.
func (r *Reader) worker(t *tally) {
	defer r.wg.Done()
	parsers := map[*layout]*lineParser{}
	for tk := range r.work {
		lp := parsers[tk.job.layout]
		if lp == nil {
			lp = newLineParser(tk.job.layout)
			parsers[tk.job.layout] = lp
		}
		rec := r.parseChunk(t, lp, tk.job, tk.c)
		putBuf(tk.c.data) // parsing copied what it keeps
		tk.p.rec = rec
		close(tk.p.done)
	}
}

func (r *Reader) parseChunk(t *tally, lp *lineParser, job *fileJob, c chunk) arrow.Record {
	data := c.data
	t.inputBytes += int64(len(data))
	capRows := len(data)/80 + 16
	if lp.rows > 0 {
		capRows = lp.rows + lp.rows/8 + 16
	}
	b := newBatch(r.pool, r.out, job.layout, job.in.name, capRows, len(data), lp.hint)
	hdr := job.layout.header
	lineNo := c.firstLine
	export := job.in.wrap == wrapExport
	for len(data) > 0 {
		// Most lines are records that parseFast takes whole, finding the line's end as it goes.
		if b.rows == b.capRows {
			b.grow()
		}
		if act, status, n, ok := lp.parseFast(b, data); ok {
			if !isHeader(data[:n], hdr) {
				lp.commit(b, act, status, lineNo)
				t.lines++
				lineNo++
				data = data[min(n+1, len(data)):]
				continue
			}
			lp.rollback(b)
		}
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		t.lines++
		if isHeader(line, hdr) {
			t.headers++
			lineNo++
			continue
		}
		var reason Reason
		var fi int
		if export {
			// A CloudWatch Logs export line: the record after the timestamp, which made parseFast turn the
			// whole line down, goes through both parsers. Plain lines never come here for it.
			reason, fi = lp.parse(b, line[timestampLen(line):], lineNo)
		} else {
			reason, fi = lp.parseSlow(b, line, lineNo)
		}
		if reason != 0 {
			t.bad++
			t.badBy[reason]++
			if r.kept.Add(1) <= int64(r.opts.MaxErrorsKept) {
				e := LineError{File: job.in.name, Line: lineNo, Reason: reason, Text: utf8Text(line, MaxErrorText)}
				if fi >= 0 {
					e.Field = job.layout.names[fi]
				}
				t.errs = append(t.errs, e)
			}
		}
		lineNo++
	}
	t.records += int64(b.rows)
	r.records.Add(int64(b.rows))
	t.tallyBatch(b)
	t.drainParser(lp, b.rows)
	lp.remember(b)
	if b.rows == 0 {
		b.release()
		return nil
	}
	return b.record(r.opts.Alloc)
}

// isHeader reports whether line repeats the input's header line hdr (nil when it has none).
func isHeader(line, hdr []byte) bool {
	return hdr != nil && len(line) >= len(hdr) && len(line) <= len(hdr)+1 &&
		bytes.Equal(bytes.TrimSuffix(line, []byte{'\r'}), hdr)
}

// Schema is the run's output schema (see docs/flows-schema.md).
func (r *Reader) Schema() *arrow.Schema { return r.out.schema }

// Next advances to the next record batch; false at the end or on error (see Err).
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for !r.done {
		if r.job == nil {
			select {
			case job, ok := <-r.jobs:
				if !ok {
					r.finish()
					return false
				}
				r.job = job
			case <-r.ctx.Done():
				r.err = r.ctx.Err()
				r.finish()
				return false
			}
		}
		p, ok := <-r.job.queue
		if !ok {
			if r.job.ferr != nil {
				r.fileErr = append(r.fileErr, *r.job.ferr)
			}
			r.controls += r.job.controls
			r.job = nil
			<-r.slots
			continue
		}
		select {
		case <-p.done:
		case <-r.ctx.Done():
			r.err = r.ctx.Err()
			r.finish()
			return false
		}
		if p.rec != nil {
			r.cur = p.rec
			return true
		}
	}
	return false
}

// finish stops the pipeline and merges the workers' counts.
func (r *Reader) finish() {
	if r.done {
		return
	}
	r.done = true
	if r.err != nil || r.job != nil {
		r.cancel()
		// Drain so blocked readers can exit.
		go func() {
			for job := range r.jobs {
				for range job.queue {
				}
			}
		}()
		if r.job != nil {
			for p := range r.job.queue {
				<-p.done
				if p.rec != nil {
					p.rec.Release()
				}
			}
		}
	}
	r.rwg.Wait()
	close(r.work)
	r.wg.Wait()
	r.cancel()
	r.final = newTally()
	for _, t := range r.tallies {
		r.final.merge(t)
	}
	sortLineErrors(r.final.errs, r.fileOrder())
	r.elapsed = time.Since(r.start)
	if r.err == nil && r.final.records == 0 {
		// Cancelled before a record was made: the input was not read, so say so rather than that it was empty.
		if r.err = r.parent.Err(); r.err == nil {
			r.err = r.noRecords()
		}
	}
}

// Record is the current batch, valid until the next call to Next.
func (r *Reader) Record() arrow.Record { return r.cur }

// Err is the error that stopped the stream early (cancellation), or a *NoRecordsError when the whole input
// held no record; bad lines and broken files are not errors here: they are in Stats.
func (r *Reader) Err() error { return r.err }

func (r *Reader) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one stops the pipeline.
func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if !r.done {
		r.err = errReleased
		r.finish()
	}
}

var errReleased = errors.New("ingest: reader released before the end")

// Progress reports records parsed and text bytes read so far; safe to call from any goroutine.
func (r *Reader) Progress() (records, bytes int64) { return r.records.Load(), r.bytes.Load() }

// Stats summarises the run; complete after Next returned false.
func (r *Reader) Stats() Stats {
	t := r.final
	if t == nil {
		t = newTally()
	}
	s := t.stats()
	s.Files = len(r.inputs)
	s.SkippedFiles = r.skips
	s.Renamed = r.out.renamed
	s.FileErrors = append([]FileError{}, r.fileErr...) // [] in JSON when none
	s.SuspectLines = suspectLines(r.fileErr)
	s.ControlMessages = r.controls
	s.Elapsed = r.elapsed
	if r.elapsed > 0 {
		s.RecordsPerS = float64(s.Records) / r.elapsed.Seconds()
	}
	return s
}

func (r *Reader) fileOrder() map[string]int {
	order := make(map[string]int, len(r.inputs))
	for i, in := range r.inputs {
		order[in.name] = i
	}
	return order
}

// Errors returns every kept bad line in input order; complete after Next returned false.
func (r *Reader) Errors() []LineError {
	if r.final == nil {
		return nil
	}
	return r.final.errs
}

// chunkBufs recycles chunk buffers: a chunk's bytes are dead once parsed (records copy what they keep),
// so steady state allocates no read buffers and the GC has less to clear.
var chunkBufs sync.Pool

func getBuf(n int) []byte {
	if p, ok := chunkBufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

func putBuf(b []byte) {
	if cap(b) >= defaultChunkBytes/2 {
		b = b[:0]
		chunkBufs.Put(&b)
	}
}
