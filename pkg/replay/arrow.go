package replay

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
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

// verdictFields are the verdict table's text columns. Those with a closed set of values declare it
// (arrowutil.EnumField), so a sink may store them as enumerations.
var verdictFields = []arrow.Field{
	arrowutil.EnumField(flowschema.ColDirection, flowschema.DirectionValues...),
	arrowutil.EnumField(flowschema.ColModelAction, flowschema.ActionValues...),
	{Name: flowschema.ColModelAgrees, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	arrowutil.EnumField(flowschema.ColVerdictLayer, layerNames[1:]...),
	{Name: flowschema.ColVerdictRule, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColVerdictResource, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColVerdictAlso, Type: arrow.BinaryTypes.String, Nullable: true},
	arrowutil.EnumField(flowschema.ColVerdictCause, causeNames[1:]...),
	{Name: flowschema.ColNACLID, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColNACLRule, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColSGRule, Type: arrow.BinaryTypes.String, Nullable: true},
	arrowutil.EnumField(flowschema.ColFlowRole, RoleRequest.String(), RoleReply.String()),
	arrowutil.EnumField(flowschema.ColInitiator, inferenceNames[1:]...),
	{Name: flowschema.ColVerdictSteps, Type: arrow.BinaryTypes.String, Nullable: true},
}

// verdictFields are the verdict table's columns for this engine's topology: the columns whose values come from
// the topology (NACL and rule ids, rule numbers, group lists, also-layer lists) declare their complete value
// set too, from the same text tables the output is written from, so that a sink can store every verdict
// column as an enumeration.
func (e *Engine) verdictFields() []arrow.Field {
	set := func(groups ...[]string) []string {
		seen := map[string]bool{}
		var vals []string
		for _, g := range groups {
			for i := range g {
				if v := g[i]; v != "" && !seen[v] {
					seen[v] = true
					vals = append(vals, v)
				}
			}
		}
		return vals
	}
	var naclIDs, resources []string
	for i := range e.enis {
		info := &e.enis[i]
		naclIDs = append(naclIDs, info.naclIDText)
		resources = append(resources, info.naclIDText, info.groupsText, info.vpcText)
	}
	t := &outText
	closed := map[string][]string{
		flowschema.ColVerdictRule:     set(e.naclRuleText, []string{t.basis[BasisNoRule]}),
		flowschema.ColVerdictResource: set(resources),
		flowschema.ColVerdictAlso:     set(t.also[:]),
		flowschema.ColNACLID:          set(naclIDs),
		flowschema.ColNACLRule:        set(e.naclRuleText),
		flowschema.ColSGRule:          set(e.sgRuleText, []string{t.basis[BasisTracked], t.basis[BasisAssumed], t.basis[BasisNoGroups]}),
	}
	out := make([]arrow.Field, len(verdictFields))
	for i, f := range verdictFields {
		out[i] = f
		if vals, ok := closed[f.Name]; ok && len(vals) > 0 {
			out[i] = arrowutil.EnumField(f.Name, vals...)
		}
	}
	return out
}

// input column indices (-1: absent, read as NULL)
type inCols struct {
	iface, src, dst, pktSrc, pktDst, srcPort, dstPort, proto, packets, bytes, start, end,
	action, status, flags, flowDir, reject, file, line int
	// the addresses as IPv4 numbers (flowschema.IPv4Col), when the input has them
	src4, dst4, pktSrc4, pktDst4 int
}

var stringCols = map[string]bool{
	flowschema.ColInterfaceID: true, flowschema.ColSrcAddr: true, flowschema.ColDstAddr: true,
	flowschema.ColPktSrcAddr: true, flowschema.ColPktDstAddr: true, flowschema.ColAction: true,
	flowschema.ColLogStatus: true, flowschema.ColFlowDirection: true, flowschema.ColRejectReason: true,
	flowschema.ColSourceFile: true,
}

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

// shard is one judging goroutine's input and state.
type shard struct {
	st    *State
	ids   shardIDs
	in    chan chunk
	ro    reorder   // the worker's
	now   []pending // the worker's: rows of the chunk being judged on arrival
	items []item    // being filled by the reader goroutine
	marks []mark    // clock moves between items (reader goroutine)
	base  int64     // the clock's base as the shard last heard of it (reader goroutine)
	told  bool      // base is set
	sent  uint64    // chunks sent (reader goroutine)
	want  uint64    // chunks some record waits for: sent up to here even if empty (reader goroutine)
	done  uint64    // chunks judged (guarded by Reader.mu)

	badAddrs                int64 // the worker's
	unexplainedEx, disagrEx []string
}

// item is a row on its way to its shard: where it is, its ENI, and what the clock decided.
type item struct {
	seq       uint32
	row, eni  int32
	now, late bool // judged on arrival (late, or reordering off) instead of buffered
}

// chunk is a run of rows for one shard, in arrival order, with the clock's moves among them (marks) and its
// base when the chunk was sent: the worker buffers the rows and releases (judges) what the clock lets go.
// slots is the Reader's queue when the chunk was sent, from sequence number head: every record that a row
// the worker holds belongs to is in it.
type chunk struct {
	rows  []item
	marks []mark
	base  int64
	slots []*batchSlot
	head  uint32
}

const chunkItems = 1024

// chunkBufs are a chunk's buffers, reused.
type chunkBufs struct {
	rows  []item
	marks []mark
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

// rowVerdict is a Verdict reduced to what its text columns depend on (Engine.outKey), unpacked from a verdictKey to
// write the verdict table.
type rowVerdict struct {
	eni, nacl, sg int32 // engine indexes of the ENI, the NACL step's entry and the SG step's rule; -1 none
	path          pathCode
	dir           vpc.Direction
	model, logged Action
	layer         Layer
	cause         Cause
	also          Layers
	role          Role
	infer         Inference
}

// verdictSet numbers the distinct verdicts of a replay. Shards look ids up in their own map first (shardIDs)
// and take the lock only for a verdict they have not seen, so the lock is taken about once per distinct
// verdict per shard.
type verdictSet struct {
	mu   sync.Mutex
	ids  map[verdictKey]uint32
	keys []verdictKey // by id
}

// shardIDs are the verdict ids a shard has used: the Reader's verdictSet without its lock. It is an
// open-addressing table of packed keys, whose hash and compares are a few inline instructions: with a Go map
// of rowVerdict (its hash and memequal calls) numbering verdicts took 9% of the replay's CPU.
type shardIDs struct {
	slots []idSlot // power of two; load at most one half
	n     int
}

type idSlot struct {
	k    verdictKey
	id   uint32
	used bool
}

func (t *shardIDs) id(p verdictKey, set *verdictSet) uint32 {
	h := p.a*0x9E3779B97F4A7C15 ^ p.b*0xC2B2AE3D27D4EB4F ^ p.c*0x165667B19E3779F9
	h ^= h >> 29
	if t.slots == nil {
		t.slots = make([]idSlot, 1<<10)
	}
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for ; t.slots[i].used; i = (i + 1) & mask {
		if t.slots[i].k == p {
			return t.slots[i].id
		}
	}
	id := set.id(p)
	t.slots[i] = idSlot{k: p, id: id, used: true}
	if t.n++; 2*t.n > len(t.slots) {
		old := t.slots
		t.slots = make([]idSlot, 2*len(old))
		mask = uint64(len(t.slots) - 1)
		for _, s := range old {
			if s.used {
				h := s.k.a*0x9E3779B97F4A7C15 ^ s.k.b*0xC2B2AE3D27D4EB4F ^ s.k.c*0x165667B19E3779F9
				h ^= h >> 29
				j := h & mask
				for t.slots[j].used {
					j = (j + 1) & mask
				}
				t.slots[j] = s
			}
		}
	}
	return id
}

// verdictKey is a rowVerdict packed into three words (packKey), which hash and compare in a few instructions. A
// struct, not an array: Go passes and returns it in registers, where an array went through the stack in
// overlapping 16-byte copies whose reloads missed store forwarding.
type verdictKey struct{ a, b, c uint64 }

func packKey(v *rowVerdict) verdictKey {
	return verdictKey{
		a: uint64(uint32(v.eni)) | uint64(uint32(v.nacl))<<32,
		b: uint64(uint32(v.sg)) | uint64(v.infer)<<32 | uint64(v.dir)<<40 | uint64(v.model)<<48 | uint64(v.logged)<<56,
		c: uint64(v.layer) | uint64(v.cause)<<8 | uint64(v.also)<<16 | uint64(v.role)<<24 | uint64(v.path)<<32,
	}
}

// unpack is the inverse of packKey.
func (p verdictKey) unpack() rowVerdict {
	return rowVerdict{
		eni: int32(uint32(p.a)), nacl: int32(uint32(p.a >> 32)), sg: int32(uint32(p.b)),
		infer: Inference(p.b >> 32 & 0xff), dir: vpc.Direction(p.b >> 40 & 0xff), model: Action(p.b >> 48 & 0xff),
		logged: Action(p.b >> 56), layer: Layer(p.c & 0xff), cause: Cause(p.c >> 8 & 0xff), also: Layers(p.c >> 16 & 0xff),
		role: Role(p.c >> 24 & 0xff), path: pathCode(p.c >> 32),
	}
}

func (vs *verdictSet) id(k verdictKey) uint32 {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	id, ok := vs.ids[k]
	if !ok {
		if vs.ids == nil {
			vs.ids = make(map[verdictKey]uint32)
		}
		id = uint32(len(vs.keys))
		vs.ids[k] = id
		vs.keys = append(vs.keys, k)
	}
	return id
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
// i). It is complete once Next has returned false; call it then.
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
		sh.st.ct.release() // Summary and RuleHits keep working: they read counters only
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

// dispatch sends every shard's pending items, and the clock's base to the shards that a released record
// waits for.
func (r *Reader) dispatch() {
	for _, sh := range r.shards {
		if len(sh.items) > 0 || sh.sent < sh.want {
			r.send(sh)
		}
	}
}

func (r *Reader) send(sh *shard) {
	sh.in <- chunk{rows: sh.items, marks: sh.marks, base: r.clk.base, slots: r.queue, head: r.headSeq}
	sh.sent++
	sh.items, sh.marks = nil, nil
	sh.base, sh.told = r.clk.base, true
}

// wait blocks until the workers have judged every row of s (all released, and dispatched).
func (r *Reader) wait(s *batchSlot) {
	r.dispatch()
	r.mu.Lock()
	for k, sh := range r.shards {
		for sh.done < s.need[k] {
			r.progress.Wait()
		}
	}
	r.mu.Unlock()
}

// work buffers one shard's chunks and judges its records as the clock releases them.
func (r *Reader) work(sh *shard) {
	defer r.wg.Done()
	q := judgeQueue{r: r, sh: sh}
	for c := range sh.in {
		q.slots, q.head = c.slots, c.head
		m := 0
		for i := range c.rows {
			for ; m < len(c.marks) && c.marks[m].at == i; m++ {
				sh.ro.releaseBelow(c.marks[m].base, &q)
				q.flush() // before the next push reuses released blocks
			}
			// The row is parsed where it is kept: parsing aside and copying it in reloaded fields just
			// stored, a store-forwarding stall.
			it := &c.rows[i]
			cols, row := &c.slots[it.seq-c.head].cols, int(it.row)
			var p *pending
			if it.now {
				sh.now = sh.now[:len(sh.now)+1] // within capacity: a chunk has at most chunkItems rows
				p = &sh.now[len(sh.now)-1]
			} else {
				start, _ := cols.start.get(row)
				p = sh.ro.slot(start, cols.reorderRank(row))
			}
			p.seq, p.row = it.seq, it.row
			sh.badAddrs += r.eng.parseRow(cols, row, it.eni, &p.f)
			if it.now {
				p.f.late = it.late
				q.add(p)
			}
		}
		sh.ro.releaseBelow(c.base, &q)
		q.flush()
		sh.now = sh.now[:0]
		r.mu.Lock()
		sh.done++
		r.progress.Broadcast()
		r.mu.Unlock()
		select {
		case r.free <- chunkBufs{c.rows[:0], c.marks[:0]}:
		default:
		}
	}
}

// judgeQueue judges a worker's released records in order, ahead records behind: a record's connection key
// is computed and its table slot loaded when it enters, so that the cache misses of several records overlap
// instead of stalling one record at a time.
type judgeQueue struct {
	r     *Reader
	sh    *shard
	slots []*batchSlot
	head  uint32
	ring  [judgeAhead]*pending
	keys  [judgeAhead]hashedKey
	i, n  int
}

const judgeAhead = 8

func (q *judgeQueue) add(p *pending) {
	if q.n == judgeAhead {
		q.judgeOne()
	}
	j := (q.i + q.n) % judgeAhead
	q.ring[j] = p
	p.f.key(&q.keys[j])
	q.sh.st.ct.peek(q.keys[j].h)
	q.n++
}

func (q *judgeQueue) judgeOne() {
	p := q.ring[q.i]
	q.r.judgeItem(q.sh, q.slots[p.seq-q.head], p, &q.keys[q.i])
	q.ring[q.i] = nil
	q.i = (q.i + 1) % judgeAhead
	q.n--
}

// flush judges every queued record.
func (q *judgeQueue) flush() {
	for q.n > 0 {
		q.judgeOne()
	}
}

// typed columns of one input record
type batchCols struct {
	iface, src, dst, pktSrc, pktDst, action, status, flowDir, reject strIn
	srcPort, dstPort, proto, packets, bytes, start, end, flags       intCol
	src4, dst4, pktSrc4, pktDst4                                     []uint32 // nil: parse the text
}

// ipv4Nums returns column i's values when it is a Uint32 column without NULLs (IPv4 numbers, see
// ingest.Options.IPv4Numbers), else nil.
func ipv4Nums(rec arrow.Record, i int) []uint32 {
	if i < 0 {
		return nil
	}
	if a, ok := rec.Column(i).(*array.Uint32); ok && a.NullN() == 0 && a.Len() > 0 {
		return a.Uint32Values()
	}
	return nil
}

// strIn is a Utf8 input column read through its offsets and data; a NULL reads as "". valid is nil when the
// column has no NULL (no per-row bitmap test); absent columns read as all NULL.
type strIn struct {
	offs  []int32
	data  string // the values buffer from offs[0]
	base  int32  // offs[0]
	valid []byte
	voff  int // array offset into valid
}

func strView(rec arrow.Record, i int) strIn {
	a := strArr(rec, i)
	if a == nil || a.Len() == 0 {
		return strIn{}
	}
	c := strIn{offs: a.ValueOffsets()}
	c.base = c.offs[0]
	if b := a.ValueBytes(); len(b) > 0 {
		c.data = unsafe.String(&b[0], len(b))
	}
	if a.NullN() > 0 {
		c.valid, c.voff = a.NullBitmapBytes(), a.Data().Offset()
	}
	return c
}

func (c *strIn) get(i int) string {
	if c.offs == nil || (c.valid != nil && !bitutil.BitIsSet(c.valid, c.voff+i)) {
		return ""
	}
	return c.data[c.offs[i]-c.base : c.offs[i+1]-c.base]
}

// intCol is an Int32 or Int64 column read through its value slice; valid is nil when it has no NULL.
type intCol struct {
	i32   []int32
	i64   []int64
	valid []byte
	voff  int
}

func (c *intCol) get(i int) (int64, bool) {
	if c.valid != nil && !bitutil.BitIsSet(c.valid, c.voff+i) {
		return 0, false
	}
	switch {
	case c.i64 != nil:
		return c.i64[i], true
	case c.i32 != nil:
		return int64(c.i32[i]), true
	}
	return 0, false
}

func strArr(rec arrow.Record, i int) *array.String {
	if i < 0 {
		return nil
	}
	a, _ := rec.Column(i).(*array.String)
	return a
}

func intArr(rec arrow.Record, i int) intCol {
	if i < 0 {
		return intCol{}
	}
	var c intCol
	a := rec.Column(i)
	switch a := a.(type) {
	case *array.Int32:
		c.i32 = a.Int32Values()
	case *array.Int64:
		c.i64 = a.Int64Values()
	}
	if a.NullN() > 0 {
		c.valid, c.voff = a.NullBitmapBytes(), a.Data().Offset()
	}
	return c
}

// parseAddr parses an address column value; "" (NULL) and unparsable text are the zero Addr, the latter
// counted in *bad when bad is not nil.
func parseAddr(s string, bad *int64) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if bad != nil {
			*bad++
		}
		return netip.Addr{}
	}
	return a
}

// reorderRank is row i's place within its second in the reorder buffer: 0 request-like, 1 reply-like (see
// inferRoleOf), from the fields parseRow reads.
func (c *batchCols) reorderRank(i int) int {
	proto, _ := c.proto.get(i)
	flags := int16(-1)
	if v, ok := c.flags.get(i); ok {
		flags = int16(v)
	}
	sp, _ := c.srcPort.get(i)
	dp, _ := c.dstPort.get(i)
	if role, _ := inferRoleOf(uint8(proto), flags, uint16(sp), uint16(dp)); role == RoleReply {
		return 1
	}
	return 0
}

func (r *Reader) batchCols(rec arrow.Record) batchCols {
	c := &r.cols
	return batchCols{
		iface: strView(rec, c.iface), src: strView(rec, c.src), dst: strView(rec, c.dst),
		pktSrc: strView(rec, c.pktSrc), pktDst: strView(rec, c.pktDst), action: strView(rec, c.action),
		status: strView(rec, c.status), flowDir: strView(rec, c.flowDir), reject: strView(rec, c.reject),
		srcPort: intArr(rec, c.srcPort), dstPort: intArr(rec, c.dstPort), proto: intArr(rec, c.proto),
		packets: intArr(rec, c.packets), bytes: intArr(rec, c.bytes), start: intArr(rec, c.start),
		end: intArr(rec, c.end), flags: intArr(rec, c.flags), src4: ipv4Nums(rec, c.src4), dst4: ipv4Nums(rec, c.dst4),
		pktSrc4: ipv4Nums(rec, c.pktSrc4), pktDst4: ipv4Nums(rec, c.pktDst4),
	}
}

// compactFlow is a parsed row held until it is judged: pointer-free (the garbage collector skips it) and one
// struct for the judging worker to read, instead of a dozen Arrow columns at a random row.
type compactFlow struct {
	src, dst                   [16]byte // addresses the rules match (see parseRange)
	start, end, packets, bytes int64
	eni                        int32
	srcPort, dstPort           uint16
	flags                      int16
	proto                      uint8
	srcKind, dstKind           uint8 // 0 absent, 4 IPv4, 6 IPv6
	dir                        vpc.Direction
	action                     Action
	status                     LogStatus
	bpa                        bool
	late                       bool // released behind newer records (reorder window exceeded)
}

func encodeAddr(a netip.Addr) (b [16]byte, kind uint8) {
	switch {
	case a.Is4():
		a4 := a.As4()
		copy(b[:], a4[:])
		return b, 4
	case a.Is6():
		return a.As16(), 6
	}
	return b, 0
}

// decodeAddrTo is *a = decodeAddr(b, kind), for a still zero.
func decodeAddrTo(a *netip.Addr, b *[16]byte, kind uint8) {
	switch kind {
	case 4:
		*a = netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
	case 6:
		*a = netip.AddrFrom16(*b)
	}
}

func decodeAddr(b *[16]byte, kind uint8) netip.Addr {
	switch kind {
	case 4:
		return netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3]})
	case 6:
		return netip.AddrFrom16(*b)
	}
	return netip.Addr{}
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

// rowENI resolves row i's ENI as parseRow would see it (-1: unknown, or NODATA/SKIPDATA), by interface_id
// through a small cache, else by address.
func (r *Reader) rowENI(cols *batchCols, i int) int32 {
	switch cols.status.get(i) {
	case flowschema.LogStatusNoData, flowschema.LogStatusSkipData:
		return -1
	}
	e := r.eng
	iface := cols.iface.get(i)
	if iface == "" {
		var f Flow
		var b [16]byte
		kind := parseAddrInto(cols.src.get(i), &b, nil) // parseRow counts bad addresses
		f.Src = decodeAddr(&b, kind)
		b = [16]byte{}
		kind = parseAddrInto(cols.dst.get(i), &b, nil)
		f.Dst = decodeAddr(&b, kind)
		switch cols.flowDir.get(i) {
		case flowschema.DirectionIngress:
			f.Direction = vpc.Ingress
		case flowschema.DirectionEgress:
			f.Direction = vpc.Egress
		}
		return e.resolveENI(&f)
	}
	ce := &r.ifaces[ifaceSlot(iface)]
	if ce.id == iface && ce.id != "" {
		return ce.ei
	}
	ei, ok := e.eniIndex[iface]
	if !ok {
		return -1
	}
	// The cache keeps the model's copy of the id: iface points into the input record.
	ce.id, ce.ei = e.enis[ei].eni.ID, ei
	return ei
}

// ifaceCache maps interface_id to ENI index, direct-mapped, in front of Engine.eniIndex: rowENI runs on the
// Reader's one reading goroutine for every row, where a map lookup of the string cost about 10% of the
// replay's throughput (BenchmarkReaderShop, same-round A/B).
type ifaceCache [1 << 10]struct {
	id string
	ei int32
}

// ifaceSlot hashes an interface id's length and last 8 bytes (the hex digits that tell eni- ids apart) to a
// slot of ifaceCache.
func ifaceSlot(s string) int {
	x := uint64(len(s))
	for i := max(len(s)-8, 0); i < len(s); i++ {
		x = x<<8 | uint64(s[i])
	}
	return int((x * 0x9E3779B97F4A7C15) >> (64 - 10))
}

// parseRow parses row i of cols into c, with ENI ei (see rowENI), and returns the number of unparsable
// addresses. It only reads the engine, so the workers run it at once.
func (e *Engine) parseRow(cols *batchCols, i int, ei int32, c *compactFlow) (bad int64) {
	*c = compactFlow{eni: -1, flags: -1}
	var pkt [2][16]byte
	var pktKind [2]uint8
	c.srcKind = addrAt(cols.src4, &cols.src, i, &c.src, &bad)
	c.dstKind = addrAt(cols.dst4, &cols.dst, i, &c.dst, &bad)
	if cols.pktSrc.offs != nil || cols.pktDst.offs != nil {
		pktKind[0] = addrAt(cols.pktSrc4, &cols.pktSrc, i, &pkt[0], &bad)
		pktKind[1] = addrAt(cols.pktDst4, &cols.pktDst, i, &pkt[1], &bad)
	}
	v, _ := cols.srcPort.get(i)
	c.srcPort = uint16(v)
	v, _ = cols.dstPort.get(i)
	c.dstPort = uint16(v)
	v, _ = cols.proto.get(i)
	c.proto = uint8(v)
	c.packets, _ = cols.packets.get(i)
	c.bytes, _ = cols.bytes.get(i)
	c.start, _ = cols.start.get(i)
	c.end, _ = cols.end.get(i)
	if v, ok := cols.flags.get(i); ok {
		c.flags = int16(v)
	}
	switch cols.action.get(i) {
	case flowschema.ActionAccept:
		c.action = Accept
	case flowschema.ActionReject:
		c.action = Reject
	}
	switch cols.status.get(i) {
	case flowschema.LogStatusNoData:
		c.status = StatusNoData
	case flowschema.LogStatusSkipData:
		c.status = StatusSkipData
	}
	switch cols.flowDir.get(i) {
	case flowschema.DirectionIngress:
		c.dir = vpc.Ingress
	case flowschema.DirectionEgress:
		c.dir = vpc.Egress
	}
	c.bpa = cols.reject.get(i) == flowschema.RejectReasonBPA
	e.locate(c, ei, &pkt, &pktKind)
	return bad
}

// ipv4At is nums[i], or 0 (parse the text) when there are no numbers.
func ipv4At(nums []uint32, i int) uint32 {
	if nums == nil {
		return 0
	}
	return nums[i]
}

// addrAt reads row i's address into b (zero on entry) from its IPv4 number, else its text, and returns
// its kind (see parseAddrInto).
func addrAt(nums []uint32, text *strIn, i int, b *[16]byte, bad *int64) uint8 {
	if a := ipv4At(nums, i); a != 0 {
		binary.BigEndian.PutUint32(b[:4], a)
		return 4
	}
	return parseAddrInto(text.get(i), b, bad)
}

// parseAddrInto is parseAddr into the compactFlow form: b (zero on entry) and the returned kind.
func parseAddrInto(s string, b *[16]byte, bad *int64) (kind uint8) {
	*b, kind = encodeAddr(parseAddr(s, bad))
	return kind
}

// key sets hk to the row's connection key (of the addresses the rules match); not ok for rows judgeAt stops
// at before tracking.
func (c *compactFlow) key(hk *hashedKey) {
	if c.eni < 0 || c.dir == 0 || c.status != StatusOK {
		hk.ok = false
		return
	}
	sh, sl := c.words(&c.src, c.srcKind)
	dh, dl := c.words(&c.dst, c.dstKind)
	hk.srcIsA = canonWords(&hk.k, c.eni, sh, sl, dh, dl, c.srcPort, c.dstPort, c.proto)
	hk.h, hk.ok = hk.k.hash(), true
}

// words is addrWords of decodeAddr(b, kind).
func (c *compactFlow) words(b *[16]byte, kind uint8) (hi, lo uint64) {
	switch kind {
	case 4:
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:4]))
	case 6:
		return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	}
	return 0, 0
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

// judgeItem parses a row from its retained record, judges it and stores the verdict (worker goroutine).
func (r *Reader) judgeItem(sh *shard, s *batchSlot, p *pending, hk *hashedKey) {
	row := int(p.row)
	v := r.eng.judgeAt(sh.st, &p.f, hk)
	if p.f.late {
		sh.st.late++
	}
	s.vids[row] = sh.ids.id(r.eng.outKey(&v), &r.verdicts)
	max := r.eng.cfg.MaxExamples
	switch {
	case v.Cause == CauseUnexplained && len(sh.unexplainedEx) < max:
		sh.unexplainedEx = append(sh.unexplainedEx, r.where(s, row))
	case v.ModelAction == Reject && v.Logged == Accept && len(sh.disagrEx) < max:
		sh.disagrEx = append(sh.disagrEx, r.where(s, row))
	}
}

// where renders a row's origin as source_file:source_line (or the row number in the stream's record).
func (r *Reader) where(s *batchSlot, row int) string {
	var file string
	if r.cols.file >= 0 {
		if c := s.rec.Column(r.cols.file); c.IsValid(row) {
			file = c.ValueStr(row) // Utf8 or dictionary-encoded
		}
	}
	lines := intArr(s.rec, r.cols.line)
	line, ok := lines.get(row)
	if file == "" && !ok {
		return "row " + strconv.Itoa(row)
	}
	return file + ":" + strconv.FormatInt(line, 10)
}

// Summary returns the replay's summary, merged over the shards; complete after Next returned false.
// ConntrackPeak is the sum of the shards' peaks.
func (r *Reader) Summary() Summary {
	st := r.mergedState()
	s := st.Summary()
	s.ForcedReleases = r.clk.forced
	for _, sh := range r.shards {
		s.BadAddresses += sh.badAddrs
	}
	for _, sh := range r.shards {
		s.UnexplainedExamples = append(s.UnexplainedExamples, sh.unexplainedEx...)
		s.AcceptRejectedEx = append(s.AcceptRejectedEx, sh.disagrEx...)
	}
	s.UnexplainedExamples = firstN(s.UnexplainedExamples, r.eng.cfg.MaxExamples)
	s.AcceptRejectedEx = firstN(s.AcceptRejectedEx, r.eng.cfg.MaxExamples)
	return s
}

// firstN sorts examples (by source_file then line) and keeps n.
func firstN(ex []string, n int) []string {
	slices.SortFunc(ex, func(a, b string) int {
		fa, la := splitWhere(a)
		fb, lb := splitWhere(b)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb))
	})
	if len(ex) > n {
		ex = ex[:n]
	}
	return ex
}

func splitWhere(s string) (string, int64) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	n, _ := strconv.ParseInt(s[i+1:], 10, 64)
	return s[:i], n
}

// RuleHits returns the rule_hits rows, merged over the shards; complete after Next returned false.
func (r *Reader) RuleHits() []RuleHit { return r.mergedState().RuleHits() }

func (r *Reader) mergedState() *State {
	if len(r.shards) == 1 {
		return r.shards[0].st
	}
	m := r.eng.newState(0)
	for _, sh := range r.shards {
		m.merge(sh.st)
	}
	return m
}
