package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/store"
)

// maxShardCache bounds the interface ids whose shard a shardFilter remembers; beyond it, the shard of a new
// id is computed for each of its records (a CRC-32 of some twenty bytes), never wrong, only slower.
const maxShardCache = 1 << 16

// shardFilter is a stage before the replay: it passes on only the records of the interfaces in its shard
// (shard.Spec.Has), so that the replay never sees the others. A batch whose records are all kept is passed
// on as it is; one with none kept is skipped; the others are filtered into new batches (compute.Filter).
// Records without an interface_id column or value are in shard 0.
type shardFilter struct {
	refs  atomic.Int64
	ctx   context.Context // carries mem for compute
	src   array.RecordReader
	spec  shard.Spec
	col   int             // interface_id's column in src, -1 when it has none
	cache map[string]bool // interface id -> in spec
	mask  *array.BooleanBuilder
	keep  []bool // per row of the current batch
	rec   arrow.Record
	err   error

	kept, skipped int64 // records passed on and left out
}

// newShardFilter returns a reader of src's records of spec's interfaces. It takes a reference on src
// (released by Release).
func newShardFilter(ctx context.Context, src array.RecordReader, spec shard.Spec, mem memory.Allocator) *shardFilter {
	src.Retain()
	col := -1
	if idx := src.Schema().FieldIndices(flowschema.ColInterfaceID); len(idx) == 1 {
		col = idx[0]
	}
	f := &shardFilter{ctx: compute.WithAllocator(ctx, mem), src: src, spec: spec, col: col,
		cache: make(map[string]bool), mask: array.NewBooleanBuilder(mem)}
	f.refs.Store(1)
	return f
}

func (f *shardFilter) Retain()               { f.refs.Add(1) }
func (f *shardFilter) Schema() *arrow.Schema { return f.src.Schema() }
func (f *shardFilter) Record() arrow.Record  { return f.rec }

func (f *shardFilter) Err() error {
	if f.err != nil {
		return f.err
	}
	return f.src.Err()
}

func (f *shardFilter) Release() {
	if f.refs.Add(-1) != 0 {
		return
	}
	if f.rec != nil {
		f.rec.Release()
		f.rec = nil
	}
	f.mask.Release()
	f.src.Release()
}

func (f *shardFilter) Next() bool {
	if f.rec != nil {
		f.rec.Release()
		f.rec = nil
	}
	for f.err == nil && f.src.Next() {
		rec := f.src.Record()
		n := rec.NumRows()
		kept := f.choose(rec)
		f.kept += kept
		f.skipped += n - kept
		switch kept {
		case 0:
			continue
		case n:
			rec.Retain()
			f.rec = rec
			return true
		}
		out, err := f.filter(rec, kept)
		if err != nil {
			f.err = fmt.Errorf("shard %s: %w", f.spec, err)
			return false
		}
		f.rec = out
		return true
	}
	return false
}

// filter returns the kept rows (f.keep) of rec, kept of them. compute's filter has no kernel for dictionaries
// (source_file): their indices are filtered, and the dictionary shared.
func (f *shardFilter) filter(rec arrow.Record, kept int64) (arrow.Record, error) {
	f.mask.AppendValues(f.keep, nil)
	mask := f.mask.NewBooleanArray()
	defer mask.Release()
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	opts := compute.DefaultFilterOptions()
	for _, c := range rec.Columns() {
		dict, isDict := c.(*array.Dictionary)
		in := c
		if isDict {
			in = dict.Indices()
		}
		out, err := compute.FilterArray(f.ctx, in, mask, *opts)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", rec.Schema().Field(len(cols)).Name, err)
		}
		if isDict {
			d := array.NewDictionaryArray(dict.DataType(), out, dict.Dictionary())
			out.Release()
			out = d
		}
		cols = append(cols, out)
	}
	return array.NewRecord(rec.Schema(), cols, kept), nil // retains cols
}

// choose sets f.keep to whether each row of rec is in the shard and returns how many are.
func (f *shardFilter) choose(rec arrow.Record) int64 {
	n := int(rec.NumRows())
	f.keep = slices.Grow(f.keep[:0], n)[:n]
	var ids *array.String
	if f.col >= 0 {
		ids, _ = rec.Column(f.col).(*array.String)
	}
	if ids == nil { // no interface ids: every record is in shard 0
		in := f.spec.Has("")
		for i := range f.keep {
			f.keep[i] = in
		}
		if in {
			return int64(n)
		}
		return 0
	}
	var kept int64
	for i := range f.keep {
		id := ""
		if ids.IsValid(i) {
			id = ids.Value(i)
		}
		in, ok := f.cache[id]
		if !ok {
			in = f.spec.Has(id)
			if len(f.cache) < maxShardCache {
				f.cache[strings.Clone(id)] = in // id points into the batch's buffer
			}
		}
		f.keep[i] = in
		if in {
			kept++
		}
	}
	return kept
}

// shardTables returns the tables a run of spec writes beside its records: ShardTable with spec's one row, or,
// for a run that is not sharded, the removal of an earlier run's. release frees what they read.
func shardTables(spec shard.Spec, mem memory.Allocator) (tables []store.Table, release func()) {
	if !spec.Sharded() {
		return []store.Table{{Name: flowschema.ShardTable, Drop: true}}, func() {}
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema([]arrow.Field{
		{Name: flowschema.ColShard, Type: arrow.PrimitiveTypes.Int32},
		{Name: flowschema.ColShards, Type: arrow.PrimitiveTypes.Int32},
	}, nil))
	defer b.Release()
	b.Field(0).(*array.Int32Builder).Append(int32(spec.Index))
	b.Field(1).(*array.Int32Builder).Append(int32(spec.Count))
	r := results.Reader(b.NewRecord()) // takes the record
	return []store.Table{{Name: flowschema.ShardTable, Reader: r}}, r.Release
}
