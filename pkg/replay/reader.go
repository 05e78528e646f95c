package replay

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// The Reader's output is the input plus one column, flowschema.ColVerdictID: the row's index in the Reader's
// verdict table (Reader.Verdicts), whose other columns are the verdict's text (flowschema.ColDirection ...
// flowschema.ColInitiator). A replay yields few distinct verdicts (they are made of an ENI's resources, a rule,
// a layer, a cause and a few codes), so one small integer per row stands for all of them. That is what makes
// the hand-off cheap: a DuckDB file stores a 4-byte id per row about 14 times more cheaply than the thirteen
// text columns it replaces (measured 0.51 CPU-s per million rows for the thirteen ENUM/boolean columns, 0.04
// for the id), and the Reader writes no strings per row. A sink looks the verdict up by verdict_id to show
// every row with its verdict (flowschema.FlowsView).

// Reader replays an Arrow flows stream: it is an array.RecordReader whose records are the input records
// (same rows, same order) with the verdict columns appended. An input record is emitted once all its rows are
// judged, so up to ReorderWindow (or MaxBuffered records) of input is held.
//
// The calling goroutine reads the input, resolves each row's ENI, runs the reorder clock (see order.go) and
// hands each row to one of Config.Workers judging goroutines, each owning the ENIs with index % Workers == k,
// their reorder buffer and its own State (tracking table of MaxTracked/Workers entries, counters, rule hits).
// Tracking is per ENI, so the shards never share state and each ENI's records are judged in order. Not safe
// for concurrent use.
// Summary and RuleHits are complete once Next has returned false.
type Reader struct {
	refs   atomic.Int64
	ctx    context.Context
	eng    *Engine
	in     array.RecordReader
	mem    memory.Allocator
	schema *arrow.Schema
	cols   inCols

	queue    []*batchSlot // input records in arrival order, not yet emitted
	headSeq  uint32       // sequence number of queue[0]
	nextSeq  uint32
	clk      clock
	waiting  []*batchSlot // records whose rows are all pushed but not all released
	ahead    int          // input records read since queue[0] was released (see maxAhead)
	queued   int          // rows of the records in queue
	queueCap int          // see queueFactor
	peak     int          // most rows queued at once (tests)
	cur      arrow.Record
	err      error
	eof      bool

	shards   []*shard
	wg       sync.WaitGroup
	closed   bool
	verdicts verdictSet
	vschema  *arrow.Schema  // the verdict table's
	free     chan chunkBufs // chunk buffers returned by the workers
	mu       sync.Mutex     // guards shard.done
	progress *sync.Cond     // signalled when a shard finishes a chunk
	ifaces   ifaceCache
}

// item is a row on its way to its shard: where it is, its ENI, and what the clock decided.
type item struct {
	seq       uint32
	row, eni  int32
	now, late bool // judged on arrival (late, or reordering off) instead of buffered
}

// batchSlot is one input record in flight.
type batchSlot struct {
	rec      arrow.Record
	cols     batchCols
	n        int            // rows
	ids      *memory.Buffer // the rows' verdict ids (uint32), the verdict_id column once all are judged
	vids     []uint32       // ids' contents
	maxStart int64          // latest start of the rows buffered for reordering (those not judged on arrival)
	buffered bool           // some row is buffered
	released bool           // the clock has released every row (reader goroutine only)
	need     []uint64       // once released: per shard, the chunks after which all its rows are judged (shard.done >= need)
}

// NewReader replays in against model. The Reader takes a reference on in (released by Release) and allocates
// output with mem (nil: memory.DefaultAllocator). ctx cancels the replay between input records.
func NewReader(ctx context.Context, model *vpc.Model, in array.RecordReader, cfg Config, mem memory.Allocator) (*Reader, error) {
	return NewEngine(model, cfg).NewReader(ctx, in, mem)
}

// ReaderOption changes how a Reader names its output.
type ReaderOption func(*readerOptions)

type readerOptions struct {
	idColumn string
}

// IDColumn names the verdict id column of the Reader's output and of its verdict table (default
// flowschema.ColVerdictID). Two policies replay one history this way: a second Reader, over another Engine, reads the
// first Reader's output and appends its own id column; each keeps its own tracking state and verdict table.
func IDColumn(name string) ReaderOption { return func(o *readerOptions) { o.idColumn = name } }

// NewReader replays in against the engine's policy with fresh states. See the package-level NewReader.
func (e *Engine) NewReader(ctx context.Context, in array.RecordReader, mem memory.Allocator, opts ...ReaderOption) (*Reader, error) {
	o := readerOptions{idColumn: flowschema.ColVerdictID}
	for _, opt := range opts {
		opt(&o)
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	sc := in.Schema()
	col := func(name string, want arrow.Type) (int, error) {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			return -1, nil
		}
		t := sc.Field(idx[0]).Type.ID()
		switch {
		case want == arrow.STRING && t == arrow.STRING:
		case name == flowschema.ColSourceFile && t == arrow.DICTIONARY: // flowschema.SourceFileType; read only for examples
		case want == arrow.INT64 && (t == arrow.INT32 || t == arrow.INT64):
		default:
			return -1, fmt.Errorf("replay: column %q has type %s, want %s", name, sc.Field(idx[0]).Type, want)
		}
		return idx[0], nil
	}
	var c inCols
	var err error
	for _, x := range []struct {
		p    *int
		name string
	}{
		{&c.iface, flowschema.ColInterfaceID}, {&c.src, flowschema.ColSrcAddr}, {&c.dst, flowschema.ColDstAddr},
		{&c.pktSrc, flowschema.ColPktSrcAddr}, {&c.pktDst, flowschema.ColPktDstAddr},
		{&c.srcPort, flowschema.ColSrcPort}, {&c.dstPort, flowschema.ColDstPort}, {&c.proto, flowschema.ColProtocol},
		{&c.packets, flowschema.ColPackets}, {&c.bytes, flowschema.ColBytes},
		{&c.start, flowschema.ColStart}, {&c.end, flowschema.ColEnd},
		{&c.action, flowschema.ColAction}, {&c.status, flowschema.ColLogStatus}, {&c.flags, flowschema.ColTCPFlags},
		{&c.flowDir, flowschema.ColFlowDirection}, {&c.reject, flowschema.ColRejectReason},
		{&c.file, flowschema.ColSourceFile}, {&c.line, flowschema.ColSourceLine},
	} {
		want := arrow.Type(arrow.INT64)
		if stringCols[x.name] {
			want = arrow.STRING
		}
		if *x.p, err = col(x.name, want); err != nil {
			return nil, err
		}
	}
	c.src4, c.dst4, c.pktSrc4, c.pktDst4 = -1, -1, -1, -1
	for _, x := range []struct {
		p    *int
		name string
	}{{&c.src4, flowschema.ColSrcAddr}, {&c.dst4, flowschema.ColDstAddr}, {&c.pktSrc4, flowschema.ColPktSrcAddr},
		{&c.pktDst4, flowschema.ColPktDstAddr}} {
		if idx := sc.FieldIndices(flowschema.IPv4Col(x.name)); len(idx) > 0 && arrow.TypeEqual(sc.Field(idx[0]).Type, flowschema.IPv4Type) {
			*x.p = idx[0]
		}
	}
	vfields := append([]arrow.Field{{Name: o.idColumn, Type: arrow.PrimitiveTypes.Uint32}}, e.verdictFields()...)
	if sc.HasField(o.idColumn) {
		return nil, fmt.Errorf("replay: input already has column %q (replaying a second policy over replayed records? give it its own replay.IDColumn)", o.idColumn)
	}
	for _, f := range vfields[1:] {
		// a sink shows the verdict table's columns beside the input's: the names must not clash
		if sc.HasField(f.Name) {
			return nil, fmt.Errorf("replay: input already has column %q", f.Name)
		}
	}
	fields := append(append([]arrow.Field(nil), sc.Fields()...), vfields[0])
	md := sc.Metadata()
	r := &Reader{
		ctx: ctx, eng: e, in: in, mem: mem, cols: c,
		schema:   arrow.NewSchema(fields, &md),
		vschema:  arrow.NewSchema(vfields, nil),
		clk:      newClock(reorderSecs(e.cfg.ReorderWindow), e.cfg.MaxBuffered),
		queueCap: max(queueFactor*e.cfg.MaxBuffered, minQueueRows),
	}
	r.progress = sync.NewCond(&r.mu)
	r.refs.Store(1)
	in.Retain()
	n := e.cfg.Workers
	perShard := (e.cfg.MaxTracked + n - 1) / n
	const inFlight = 16 // chunks queued per shard: enough to keep a worker busy, little memory
	r.free = make(chan chunkBufs, n*(inFlight+2))
	for k := 0; k < n; k++ {
		sh := &shard{st: e.newState(perShard), in: make(chan chunk, inFlight), ro: newReorder(reorderSecs(e.cfg.ReorderWindow)),
			now: make([]pending, 0, chunkItems)}
		r.shards = append(r.shards, sh)
		r.wg.Add(1)
		go r.work(sh)
	}
	return r, nil
}

func reorderSecs(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Second)
}

// Schema is the input schema plus verdict_id (Uint32, never NULL).
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// VerdictSchema is the schema of the verdict table: verdict_id, then the verdict columns (flowschema.ColDirection ...
// flowschema.ColInitiator).
func (r *Reader) VerdictSchema() *arrow.Schema { return r.vschema }

// Verdicts returns the verdict table: one row per verdict id used so far, in id order (row i has verdict_id
// i). Every id of the records Next has returned is in it (a consumer that meets an id it has not seen may call
// it again, as an audit does); it is complete once Next has returned false. Safe to call while Next runs.
func (r *Reader) Verdicts() arrow.Record {
	r.verdicts.mu.Lock()
	keys := make([]rowVerdict, len(r.verdicts.keys))
	for i, k := range r.verdicts.keys {
		keys[i] = k.unpack()
	}
	r.verdicts.mu.Unlock()
	return r.buildVerdicts(keys)
}

// Record is the current output record, valid until the next call to Next or Release.
func (r *Reader) Record() arrow.Record { return r.cur }

// Err is the first error of the input or of ctx.
func (r *Reader) Err() error { return r.err }

// Retain adds a reference.
func (r *Reader) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one stops the workers and releases the input and every held record.
func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	r.stop()
	for _, sh := range r.shards {
		sh.st.ct.Release() // Summary and RuleHits keep working: they read counters only
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for _, s := range r.queue {
		s.rec.Release()
		s.ids.Release()
	}
	r.queue = nil
	r.in.Release()
}

// stop closes the shards' inputs and waits for the workers to finish what they were given.
func (r *Reader) stop() {
	if r.closed {
		return
	}
	r.closed = true
	for _, sh := range r.shards {
		close(sh.in)
	}
	r.wg.Wait()
}

// Next judges input until the oldest input record is complete and makes it the current output record.
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for {
		if len(r.queue) > 0 {
			s := r.queue[0]
			full := r.queued >= r.queueCap
			if s.released && (r.eof || r.err != nil || r.ahead >= maxAhead || full || r.judged(s)) {
				r.wait(s) // every row is with a worker: wait for them
				r.ahead = 0
				r.queue[0] = nil
				r.queue = r.queue[1:]
				r.headSeq++
				r.queued -= s.n
				r.cur = r.build(s)
				return true
			}
			if !s.released && full {
				// Records are emitted in arrival order, so everything read after s waits for s. When the
				// input's time stops advancing (a later file repeating earlier times, say: all late), the
				// clock never releases s's buffered rows, and reading on would hold the whole rest of the
				// input. Release them now instead, counted as replayed early like the buffer bound's.
				r.clk.force(s.maxStart + 1)
				r.noteReleases()
				r.dispatch()
				continue
			}
		}
		if r.eof || r.err != nil {
			r.stop()
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if !r.in.Next() {
			if err := r.in.Err(); err != nil {
				r.err = fmt.Errorf("replay: reading flows: %w", err)
				continue
			}
			r.eof = true
			r.clk.flush()
			r.noteReleases()
			r.dispatch()
			continue
		}
		if len(r.queue) > 0 && r.queue[0].released {
			r.ahead++
		}
		r.add(r.in.Record())
		r.dispatch()
	}
}

// queueFactor bounds the rows of the input records held for in-order output: queueFactor times MaxBuffered,
// at least minQueueRows (plus one record). Reading ahead (maxAhead) stops there too: when the workers are the
// slower side, each emitted record would otherwise let two more in.
const (
	queueFactor  = 2
	minQueueRows = 1 << 12
)

// maxAhead is how many input records Next reads while the oldest one is released but not yet judged. The
// chunk that completes it is the newest one sent, so waiting at once would leave the workers idle while
// this goroutine builds the output and reads on; reading ahead keeps them busy.
const maxAhead = 2

// judged reports, without blocking, whether the workers have judged every row of the released record s.
func (r *Reader) judged(s *batchSlot) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, sh := range r.shards {
		if sh.done < s.need[k] {
			return false
		}
	}
	return true
}

// add queues one input record: each row's ENI is resolved and the row goes through the reorder clock to its
// shard, whose worker parses it (parseRow).
func (r *Reader) add(rec arrow.Record) {
	rec.Retain()
	n := int(rec.NumRows())
	s := r.newSlot(rec, n)
	r.queue = append(r.queue, s)
	r.queued += n
	r.peak = max(r.peak, r.queued)
	seq := r.nextSeq
	r.nextSeq++
	for i := 0; i < n; i++ {
		start, _ := s.cols.start.get(i)
		r.push(s, item{seq: seq, row: int32(i), eni: r.rowENI(&s.cols, i)}, start)
	}
	r.waiting = append(r.waiting, s)
	r.noteReleases()
}

// newSlot holds rec (retained by the caller) and a verdict id buffer for its n rows.
func (r *Reader) newSlot(rec arrow.Record, n int) *batchSlot {
	ids := memory.NewResizableBuffer(r.mem)
	ids.Resize(4 * n)
	return &batchSlot{rec: rec, n: n, ids: ids, vids: arrow.Uint32Traits.CastFromBytes(ids.Bytes()),
		need: make([]uint64, len(r.shards)), cols: r.batchCols(rec)}
}

// push runs a row starting at start through the clock and hands it to its ENI's shard, after the clock's
// move if it moved.
func (r *Reader) push(s *batchSlot, it item, start int64) {
	base := r.clk.base
	it.now, it.late = r.clk.push(start)
	if !it.now {
		s.maxStart = max(s.maxStart, start)
		s.buffered = true
	}
	k := 0
	if it.eni > 0 {
		k = int(it.eni) % len(r.shards)
	}
	sh := r.shards[k]
	if sh.items == nil {
		select {
		case b := <-r.free:
			sh.items, sh.marks = b.rows, b.marks
		default:
			sh.items = make([]item, 0, chunkItems)
		}
	}
	if !sh.told || sh.base != r.clk.base {
		sh.marks = append(sh.marks, mark{at: len(sh.items), base: r.clk.base})
		sh.base, sh.told = r.clk.base, true
	}
	sh.items = append(sh.items, it)
	r.clk.bound()
	if len(sh.items) == chunkItems {
		r.send(sh)
	}
	if r.clk.base != base {
		r.noteReleases()
	}
}

// noteReleases marks the waiting records whose rows the clock has all released and notes, for each shard,
// the chunk after which they are judged: the one being filled, which carries the clock's base.
func (r *Reader) noteReleases() {
	w := r.waiting[:0]
	for _, s := range r.waiting {
		if s.buffered && s.maxStart >= r.clk.base {
			w = append(w, s)
			continue
		}
		s.released = true
		for k, sh := range r.shards {
			s.need[k] = sh.sent + 1
			sh.want = max(sh.want, sh.sent+1)
		}
	}
	clear(r.waiting[len(w):])
	r.waiting = w
}
