package store

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
)

// String interning.
//
// DuckDB 1.1 spends far more on a VARCHAR value than on an integer when it stores a table: converting it from
// Arrow, copying it into its string heap, updating statistics and hashing it again for dictionary compression
// at checkpoint. Measured on 2M analyzed flow rows: 0.79 CPU-s per million rows with srcaddr and dstaddr stored
// as UINTEGER ids against 1.13 as VARCHAR, i.e. about 170 ns per address value against about 15 for an id. Flow
// log strings repeat (accounts, interfaces, VPC and subnet ids, and addresses too: 10M bench records have under
// 5,000 distinct addresses), so Interned replaces plain string columns with ids into one table of the distinct
// strings, and Query gives back the original rows through a view that joins them.
//
// Looking a string up costs a hash and a probe (BenchmarkInternStrings); a new string costs more, and a
// column of nearly all-distinct values would cost more to intern than DuckDB saves. So the columns are chosen
// from the input's first record: a column is interned when at most internMaxDistinct of its sampled values
// are distinct. A later record unlike the first only makes the write slower, never wrong.
const internMaxDistinct = 0.5 // intern a column whose sample (sampleDistinct) has at most this fraction of distinct values

// Columns of the table of distinct strings (Interned.Strings).
const (
	StringIDColumn    = "string_id"
	StringValueColumn = "value"
)

// StringsSchema is the schema of Interned.Strings.
var StringsSchema = arrow.NewSchema([]arrow.Field{
	{Name: StringIDColumn, Type: arrow.PrimitiveTypes.Uint32},
	{Name: StringValueColumn, Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// NullStringID is the id of NULL in Interned's columns; its row in Strings has a NULL value.
const NullStringID = 0

// internSuffix names an interned column's id column: srcaddr is stored as srcaddr_id.
const internSuffix = "_id"

// Interned is an array.RecordReader over the records of another reader with plain string columns (arrow.STRING
// without arrowutil enumeration metadata, which a store writes as an ENUM anyway) that repeat enough replaced
// by a Uint32 column NAME_id holding the value's id in Strings. NULL has an id too (NullStringID, whose value is
// NULL), so that every id column is non-NULL. Not safe for concurrent use.
type Interned struct {
	refs     atomic.Int64
	in       array.RecordReader
	mem      memory.Allocator
	inSc     *arrow.Schema
	schema   *arrow.Schema
	interned []bool // per input column
	set      stringSet
	first    arrow.Record // the input's first record, read ahead to choose the columns; nil once returned
	cur      arrow.Record
	err      error
}

// InternStrings wraps in (taking a reference, dropped by Release). It reads in's first record to choose the
// columns to intern. Output is allocated from mem (nil: memory.DefaultAllocator).
func InternStrings(in array.RecordReader, mem memory.Allocator) (*Interned, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	inSc := in.Schema()
	r := &Interned{in: in, mem: mem, inSc: inSc, interned: make([]bool, inSc.NumFields()), set: newStringSet()}
	in.Retain()
	r.refs.Store(1)
	if in.Next() {
		r.first = in.Record()
		r.first.Retain()
	} else if err := in.Err(); err != nil {
		r.Release()
		return nil, err
	}
	fields := append([]arrow.Field(nil), inSc.Fields()...)
	for i, f := range fields {
		if f.Type.ID() != arrow.STRING || len(arrowutil.EnumValues(f)) > 0 {
			continue
		}
		if r.first != nil && !repeats(r.first.Column(i).(*array.String)) {
			continue
		}
		name := f.Name + internSuffix
		if inSc.HasField(name) {
			r.Release()
			return nil, fmt.Errorf("store: cannot intern column %q: the input already has a column %q", f.Name, name)
		}
		fields[i] = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Uint32}
		r.interned[i] = true
	}
	md := inSc.Metadata()
	r.schema = arrow.NewSchema(fields, &md)
	return r, nil
}

// repeats reports whether at most internMaxDistinct of a sample of c's non-NULL values are distinct.
func repeats(c *array.String) bool {
	distinct, sampled := sampleDistinct(c, c.Value)
	return float64(distinct) <= internMaxDistinct*float64(sampled)
}

// Schema is the input's schema with the interned columns replaced.
func (r *Interned) Schema() *arrow.Schema { return r.schema }

// Record is the current record, valid until the next call to Next or Release.
func (r *Interned) Record() arrow.Record { return r.cur }

// Err is the input's error.
func (r *Interned) Err() error { return r.err }

// Retain adds a reference.
func (r *Interned) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one releases the records held and the input.
func (r *Interned) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	for _, rec := range []arrow.Record{r.first, r.cur} {
		if rec != nil {
			rec.Release()
		}
	}
	r.first, r.cur = nil, nil
	r.in.Release()
}

// Next reads the next input record and interns its strings.
func (r *Interned) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	rec := r.first
	if rec != nil {
		r.first = nil
	} else {
		if !r.in.Next() {
			r.err = r.in.Err()
			return false
		}
		rec = r.in.Record()
		rec.Retain()
	}
	defer rec.Release()
	arrs := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		if r.interned[i] {
			arrs[i] = r.intern(c.(*array.String))
		} else {
			c.Retain()
			arrs[i] = c
		}
	}
	r.cur = array.NewRecord(r.schema, arrs, rec.NumRows())
	for _, a := range arrs {
		a.Release()
	}
	return true
}

func (r *Interned) intern(c *array.String) arrow.Array {
	n := c.Len()
	buf := memory.NewResizableBuffer(r.mem)
	buf.Resize(4 * n)
	ids := arrow.Uint32Traits.CastFromBytes(buf.Bytes())
	// Consecutive rows often repeat a value (the account, an interface's records): one compare instead of a
	// lookup. prev points into the input record, so it is only trusted within this column of this record.
	prev, prevID, havePrev := "", uint32(0), false
	for j := range ids {
		if c.IsNull(j) {
			ids[j] = NullStringID
			continue
		}
		s := c.Value(j)
		if !havePrev || s != prev {
			prev, prevID, havePrev = s, r.set.id(s), true
		}
		ids[j] = prevID
	}
	d := array.NewData(arrow.PrimitiveTypes.Uint32, n, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	defer d.Release()
	return array.NewUint32Data(d)
}

// Strings returns the table of distinct strings (StringsSchema) in id order; complete once Next has returned
// false.
func (r *Interned) Strings() arrow.Record {
	ids := array.NewUint32Builder(r.mem)
	defer ids.Release()
	vals := array.NewStringBuilder(r.mem)
	defer vals.Release()
	n := r.set.len()
	ids.Reserve(n)
	vals.Reserve(n)
	for i := 0; i < n; i++ {
		ids.UnsafeAppend(uint32(i))
		if i == NullStringID {
			vals.AppendNull()
		} else {
			vals.Append(r.set.value(uint32(i)))
		}
	}
	a, v := ids.NewArray(), vals.NewArray()
	defer a.Release()
	defer v.Release()
	return array.NewRecord(StringsSchema, []arrow.Array{a, v}, int64(n))
}

// Dimension is a table whose rows Query looks up by a key column of the records: its Columns replace the
// key column, after the records' own columns. Its keys must be 0, 1, ... n-1, as Strings' are.
type Dimension struct {
	Table, Key string
	Columns    []string
}

// InternedColumns lists, in the input's order, the columns stored as ids (NAME_id, looked up in Strings;
// NullStringID stands for NULL), chosen when the reader was made.
func (r *Interned) InternedColumns() []string {
	var cols []string
	for i, f := range r.inSc.Fields() {
		if r.interned[i] {
			cols = append(cols, f.Name)
		}
	}
	return cols
}

// InternedColumn names the id column that stores an interned column: srcaddr is stored as srcaddr_id.
func InternedColumn(name string) string { return name + internSuffix }

// Query returns a SELECT that gives back the input's rows, column for column in the input's order (each
// dimension's columns at the end), from the table records (this reader's output), the table stringsTable
// (Strings) and the dimensions.
//
// Ids are dense, so the SELECT turns each small table into one list per column, in id order (one row,
// computed once per query), and looks every id up by position: list[id + 1]. Joins would do the same work,
// but DuckDB 1.1 orders a chain of them by its estimates and, given a filter on the records, sometimes builds
// its hash tables on the records instead of the small tables: on 10M rows, SELECT * ... WHERE dstport = 22
// LIMIT 5 took 1.8 s through joins and 0.008 s through lists (0.002 s from a plain table); counts and
// group-bys run within 1-3 times the plain table's time.
func (r *Interned) Query(records, stringsTable string, dims ...Dimension) string {
	keys := map[string]bool{}
	for _, d := range dims {
		keys[d.Key] = true
	}
	lookup := func(list, key string) string { return list + "[r." + QuoteIdent(key) + " + 1]" }
	var sel []string
	for i, f := range r.inSc.Fields() {
		switch {
		case keys[f.Name]:
		case r.interned[i]:
			sel = append(sel, lookup("s."+StringValueColumn, f.Name+internSuffix)+" AS "+QuoteIdent(f.Name))
		default:
			sel = append(sel, "r."+QuoteIdent(f.Name))
		}
	}
	from := []string{QuoteIdent(records) + " r",
		"(SELECT list(" + StringValueColumn + " ORDER BY " + StringIDColumn + ") AS " + StringValueColumn +
			" FROM " + QuoteIdent(stringsTable) + ") s"}
	for i, d := range dims {
		alias := fmt.Sprintf("d%d", i)
		var lists []string
		for _, c := range d.Columns {
			sel = append(sel, lookup(alias+"."+QuoteIdent(c), d.Key)+" AS "+QuoteIdent(c))
			lists = append(lists, "list("+QuoteIdent(c)+" ORDER BY "+QuoteIdent(d.Key)+") AS "+QuoteIdent(c))
		}
		from = append(from, "(SELECT "+strings.Join(lists, ", ")+" FROM "+QuoteIdent(d.Table)+") "+alias)
	}
	return "SELECT " + strings.Join(sel, ", ") + "\nFROM " + strings.Join(from, ",\n")
}

// stringSet numbers distinct strings. The strings live end to end in one byte slice and the table holds
// only integers, so a set of millions of strings is a few allocations the garbage collector need not scan,
// and growing it rehashes from the stored hashes instead of re-reading every string. Id 0 is NULL's.
type stringSet struct {
	seed   maphash.Seed
	data   []byte   // the strings, end to end
	ends   []int    // ends[id]: end of string id in data (ends[0] = 0: NULL's, empty)
	hashes []uint64 // by id
	slots  []uint64 // open addressing, linear probing: 0 empty, else hash's top 32 bits << 32 | id
	mask   uint64
}

func newStringSet() stringSet {
	const initial = 1 << 10
	return stringSet{seed: maphash.MakeSeed(), ends: []int{0}, hashes: []uint64{0},
		slots: make([]uint64, initial), mask: initial - 1}
}

func (t *stringSet) len() int { return len(t.ends) }

func (t *stringSet) value(id uint32) string {
	return string(t.data[t.ends[id-1]:t.ends[id]])
}

// id returns s's id, adding s if it is new.
func (t *stringSet) id(s string) uint32 {
	h := maphash.String(t.seed, s)
	tag := h &^ (1<<32 - 1)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		slot := t.slots[i]
		if slot == 0 {
			break
		}
		if slot&^(1<<32-1) == tag {
			id := uint32(slot)
			if string(t.data[t.ends[id-1]:t.ends[id]]) == s { // compiles to a compare, no copy
				return id
			}
		}
	}
	id := uint32(len(t.ends))
	t.data = append(t.data, s...)
	t.ends = append(t.ends, len(t.data))
	t.hashes = append(t.hashes, h)
	if 2*len(t.ends) > len(t.slots) { // keep the load under one half
		t.grow()
	} else {
		t.place(h, id)
	}
	return id
}

func (t *stringSet) place(h uint64, id uint32) {
	i := h & t.mask
	for t.slots[i] != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = h&^(1<<32-1) | uint64(id)
}

// grow doubles the table and places every string again (the one just added included).
func (t *stringSet) grow() {
	t.slots = make([]uint64, 2*len(t.slots))
	t.mask = uint64(len(t.slots) - 1)
	for id := 1; id < len(t.hashes); id++ {
		t.place(t.hashes[id], uint32(id))
	}
}
