package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/store"
)

// internedSuffix ends the id columns of flow_records that stand for an interned string column (pkg/store's
// interning: srcaddr's is srcaddr_id, an index into flow_strings).
const internedSuffix = "_id"

// readInterned reads the records to audit from flow_records and flow_strings rather than through the flows
// view: the interned string columns come back as integer ids and are looked up in Go, which costs a quarter
// of the CPU of letting DuckDB look them up and convert every string (measured on 1M records: 0.5 against 1.7
// CPU-s). ok is false when the file does not have that layout (then read the view). The records are in
// storage order; readFlows orders them.
//
// cache, when not nil, keeps flow_strings and its IPv4 numbers from one call to the next (readFlows reads
// the records in chunks).
func readInterned(ctx context.Context, d *store.DB, f flowFilter, cache *stringsCache) (rr array.RecordReader, ok bool, err error) {
	cols, err := viewColumns(ctx, d.SQL(), flowschema.FlowRecordsTable)
	if err != nil || cols == nil {
		return nil, false, nil
	}
	if scols, _ := viewColumns(ctx, d.SQL(), flowschema.FlowStringsTable); !slices.Contains(scols, store.StringIDColumn) ||
		!slices.Contains(scols, store.StringValueColumn) {
		return nil, false, nil
	}
	var sel []string
	var interned []string
	want := replayColumns
	if f.verdictIDs {
		if !slices.Contains(cols, flowschema.ColVerdictID) {
			return nil, false, fmt.Errorf("%s has no %s column", flowschema.FlowRecordsTable, flowschema.ColVerdictID)
		}
		want = append(slices.Clip(want), flowschema.ColVerdictID)
	}
	for _, c := range want {
		q := store.QuoteIdent(c)
		switch {
		case slices.Contains(cols, c+internedSuffix):
			sel = append(sel, store.QuoteIdent(c+internedSuffix))
			interned = append(interned, c)
		case !slices.Contains(cols, c):
		case slices.Contains(textColumns, c):
			sel = append(sel, "CAST("+q+" AS VARCHAR) AS "+q)
		default:
			sel = append(sel, q)
		}
	}
	if !slices.Contains(cols, flowschema.ColStart) || !slices.Contains(cols, flowschema.ColSourceLine) {
		return nil, false, nil
	}
	if cache == nil {
		cache = &stringsCache{}
	}
	if cache.strs == nil {
		if cache.strs, err = readStrings(ctx, d); err != nil {
			return nil, false, err
		}
		cache.ipv4 = ipv4Numbers(cache.strs)
	}
	strs := cache.strs
	where, args := f.where()
	src, err := d.QueryArrow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+flowschema.FlowRecordsTable+where, args...)
	if err != nil {
		return nil, false, err
	}
	lr := &lookupReader{src: src, strs: strs, mem: memory.DefaultAllocator, ipv4: cache.ipv4}
	lr.refs.Store(1)
	var fields, numbers []arrow.Field
	for i, f := range src.Schema().Fields() {
		if name, ok := strings.CutSuffix(f.Name, internedSuffix); ok && slices.Contains(interned, name) {
			f = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
			// The replay reads an address's IPv4 number when there is one (as analyze hands it the parser's),
			// so that it does not parse the text of every record: each distinct address is parsed once here.
			if slices.Contains(ipv4Addrs, name) {
				numbers = append(numbers, arrow.Field{Name: flowschema.IPv4Col(name), Type: flowschema.IPv4Type})
				lr.ipv4Of = append(lr.ipv4Of, i)
			}
		}
		fields = append(fields, f)
	}
	fields = append(fields, numbers...)
	lr.schema = arrow.NewSchema(fields, nil)
	return lr, true, nil
}

// stringsCache holds flow_strings (by id) and each string's IPv4 number, read once.
type stringsCache struct {
	strs []string
	ipv4 []uint32
}

// ipv4Addrs are the address columns given IPv4 numbers.
var ipv4Addrs = []string{flowschema.ColSrcAddr, flowschema.ColDstAddr, flowschema.ColPktSrcAddr, flowschema.ColPktDstAddr}

// ipv4Numbers is each string's IPv4 number (flowschema.IPv4Type): the address as a big-endian number when it is
// dotted-quad IPv4, else 0.
func ipv4Numbers(strs []string) []uint32 {
	out := make([]uint32, len(strs))
	for i, s := range strs {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out[i] = binary.BigEndian.Uint32(a.AsSlice())
		}
	}
	return out
}

// readStrings reads flow_strings: the value of each string id (ids are dense from 0).
func readStrings(ctx context.Context, d *store.DB) ([]string, error) {
	rows, err := d.SQL().QueryContext(ctx, `SELECT `+store.StringIDColumn+`, `+store.StringValueColumn+` FROM `+flowschema.FlowStringsTable)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id uint32
		var v *string
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		if int(id) >= len(out) {
			out = append(out, make([]string, int(id)+1-len(out))...)
		}
		if v != nil {
			out[id] = *v
		}
	}
	return out, rows.Err()
}

// timeFilter is the WHERE clause of Since <= start < Until.
func timeFilter(since, until time.Time) (string, []any) {
	return flowFilter{since: since, until: until}.where()
}

// flowFilter selects stored records: Since <= start < Until (each when not zero) and, with lines, the lines
// [lo, hi) of one source file.
type flowFilter struct {
	since, until time.Time
	lines        bool
	file         string
	lo, hi       int64
	// verdictIDs asks readInterned for the records' stored verdict_id as well (not a filter: the stored
	// baseline, see storedBaseline).
	verdictIDs bool
}

// where is the filter's WHERE clause ("" when it keeps everything) and its arguments.
func (f flowFilter) where() (string, []any) {
	var where []string
	var args []any
	if !f.since.IsZero() {
		where = append(where, store.QuoteIdent(flowschema.ColStart)+" >= ?")
		args = append(args, f.since.Unix())
	}
	if !f.until.IsZero() {
		where = append(where, store.QuoteIdent(flowschema.ColStart)+" < ?")
		args = append(args, f.until.Unix())
	}
	if f.lines {
		where = append(where, "CAST("+store.QuoteIdent(flowschema.ColSourceFile)+" AS VARCHAR) = ?",
			store.QuoteIdent(flowschema.ColSourceLine)+" >= ?", store.QuoteIdent(flowschema.ColSourceLine)+" < ?")
		args = append(args, f.file, f.lo, f.hi)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// lookupReader turns the uint32 string-id columns of src (named NAME_id) into utf8 columns NAME.
type lookupReader struct {
	refs   atomic.Int64
	src    array.RecordReader
	strs   []string
	ipv4   []uint32 // by string id
	ipv4Of []int    // the columns that get an IPv4-number column, appended in this order
	mem    memory.Allocator
	schema *arrow.Schema
	cur    arrow.Record
	err    error
}

func (l *lookupReader) Schema() *arrow.Schema { return l.schema }
func (l *lookupReader) Record() arrow.Record  { return l.cur }
func (l *lookupReader) Retain()               { l.refs.Add(1) }
func (l *lookupReader) Err() error {
	if l.err != nil {
		return l.err
	}
	return l.src.Err()
}

func (l *lookupReader) Release() {
	if l.refs.Add(-1) == 0 {
		if l.cur != nil {
			l.cur.Release()
		}
		l.src.Release()
	}
}

func (l *lookupReader) Next() bool {
	if l.cur != nil {
		l.cur.Release()
		l.cur = nil
	}
	if l.err != nil || !l.src.Next() {
		return false
	}
	rec := l.src.Record()
	cols := make([]arrow.Array, rec.NumCols(), l.schema.NumFields())
	for i, c := range rec.Columns() {
		if l.schema.Field(i).Name == rec.Schema().Field(i).Name {
			c.Retain()
			cols[i] = c
			continue
		}
		ids, ok := c.(*array.Uint32)
		if !ok {
			l.err = fmt.Errorf("%s: column %s has type %s, want uint32", flowschema.FlowRecordsTable, rec.Schema().Field(i).Name, c.DataType())
			break
		}
		cols[i] = l.lookup(ids)
	}
	for _, i := range l.ipv4Of {
		if l.err != nil {
			break
		}
		ids := rec.Column(i).(*array.Uint32)
		b := array.NewUint32Builder(l.mem)
		b.Reserve(ids.Len())
		for j, id := range ids.Uint32Values() {
			n := uint32(0)
			if ids.IsValid(j) && int(id) < len(l.ipv4) {
				n = l.ipv4[id]
			}
			b.UnsafeAppend(n)
		}
		cols = append(cols, b.NewArray())
		b.Release()
	}
	if l.err != nil {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
		return false
	}
	l.cur = array.NewRecord(l.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return true
}

// lookup builds the utf8 column of string ids.
func (l *lookupReader) lookup(ids *array.Uint32) arrow.Array {
	size := 0
	for j, id := range ids.Uint32Values() {
		if ids.IsValid(j) && int(id) < len(l.strs) {
			size += len(l.strs[id])
		}
	}
	b := array.NewStringBuilder(l.mem)
	defer b.Release()
	b.Reserve(ids.Len())
	b.ReserveData(size)
	for j, id := range ids.Uint32Values() {
		if ids.IsNull(j) || int(id) >= len(l.strs) {
			b.AppendNull()
			continue
		}
		b.Append(l.strs[id])
	}
	return b.NewArray()
}
