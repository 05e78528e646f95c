package ingest

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// colBuf accumulates one column of a batch as plain Go slices; finish hands them to Arrow without copying.
// Values are stored by row index into slices whose length is their capacity, so the per-value path writes
// only integers and bytes (no slice headers, hence no GC write barriers); the batch grows every column at
// once, so a put never checks capacity. The validity bitmap exists only once a NULL has been seen, and it
// starts (and grows) all ones, so only NULLs, rare, touch it.
type colBuf struct {
	i32   []int32
	i64   []int64
	offs  []int32 // string offsets: offs[row+1] ends row's value
	data  []byte  // string bytes, data[:dn] in use
	dn    int
	valid []byte // validity bitmap, a bit per row of capacity; nil while there are no NULLs
	nulls int
}

func (c *colBuf) reset(kind kind, capRows, capBytes int) {
	*c = colBuf{}
	switch kind.arrowType().ID() {
	case arrow.INT32:
		c.i32 = make([]int32, capRows)
	case arrow.INT64:
		c.i64 = make([]int64, capRows)
	default:
		c.offs = make([]int32, capRows+1)
		c.data = make([]byte, capBytes)
	}
}

// growRows makes room for capRows rows.
func (c *colBuf) growRows(capRows int) {
	switch {
	case c.i32 != nil:
		c.i32 = append(c.i32, make([]int32, capRows-len(c.i32))...)
	case c.i64 != nil:
		c.i64 = append(c.i64, make([]int64, capRows-len(c.i64))...)
	default:
		c.offs = append(c.offs, make([]int32, capRows+1-len(c.offs))...)
	}
	if c.valid != nil {
		c.valid = appendOnes(c.valid, int(bitutil.BytesForBits(int64(capRows)))-len(c.valid))
	}
}

// appendOnes appends n 0xff bytes (n valid rows' worth of bitmap) to b.
func appendOnes(b []byte, n int) []byte {
	b = append(b, make([]byte, n)...)
	for i := len(b) - n; i < len(b); i++ {
		b[i] = 0xff
	}
	return b
}

func (c *colBuf) putI32(row int, v int32) { c.i32[row] = v }

func (c *colBuf) putI64(row int, v int64) { c.i64[row] = v }

func (c *colBuf) putString(row int, v []byte) {
	end := c.dn + len(v)
	if end > len(c.data) {
		c.data = append(c.data[:c.dn], make([]byte, len(c.data)+len(v)+64)...)
	}
	copy(c.data[c.dn:end], v)
	c.dn = end
	c.offs[row+1] = int32(end)
}

// putNull stores a NULL at row, creating the bitmap (every row valid) at the first one.
func (c *colBuf) putNull(row int) {
	capRows := 0
	switch {
	case c.i32 != nil:
		c.i32[row] = 0
		capRows = len(c.i32)
	case c.i64 != nil:
		c.i64[row] = 0
		capRows = len(c.i64)
	default:
		c.offs[row+1] = int32(c.dn)
		capRows = len(c.offs) - 1
	}
	if c.valid == nil {
		c.valid = appendOnes(nil, int(bitutil.BytesForBits(int64(capRows))))
	}
	c.valid[row>>3] &^= 1 << (row & 7)
	c.nulls++
}

// truncate drops the value stored for row, the last one (rolling back a bad line).
func (c *colBuf) truncate(row int) {
	if c.valid != nil && c.valid[row>>3]&(1<<(row&7)) == 0 {
		c.nulls--
		c.valid[row>>3] |= 1 << (row & 7)
	}
	if c.offs != nil {
		c.dn = int(c.offs[row])
	}
}

// isNull and stringAt read back a stored value (for the run's tallies).
func (c *colBuf) isNull(row int) bool { return c.valid != nil && !bitSet(c.valid, row) }

func (c *colBuf) stringAt(row int) []byte { return c.data[c.offs[row]:c.offs[row+1]] }

// finish returns the column as an Arrow array of rows rows. The array aliases c's slices: c must not be
// written afterwards (reset allocates new ones).
func (c *colBuf) finish(rows int) arrow.Array {
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = memory.NewBufferBytes(c.valid[:bitutil.BytesForBits(int64(rows))])
	}
	switch {
	case c.i32 != nil:
		d := array.NewData(arrow.PrimitiveTypes.Int32, rows,
			[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.i32[:rows]))}, nil, c.nulls, 0)
		defer d.Release()
		return array.NewInt32Data(d)
	case c.i64 != nil:
		d := array.NewData(arrow.PrimitiveTypes.Int64, rows,
			[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(c.i64[:rows]))}, nil, c.nulls, 0)
		defer d.Release()
		return array.NewInt64Data(d)
	default:
		d := array.NewData(arrow.BinaryTypes.String, rows,
			[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offs[:rows+1])),
				memory.NewBufferBytes(c.data[:c.dn])}, nil, c.nulls, 0)
		defer d.Release()
		return array.NewStringData(d)
	}
}

// batch is the rows parsed from one chunk of one input, column by column.
type batch struct {
	out     *outSchema
	rows    int
	capRows int // rows every covered column has room for
	cols    []colBuf
	covered []bool // columns the input's layout fills; the others are all NULL
	file    string
	lines   []int64
}

// newBatch sizes the columns for capRows rows; hint, when not nil, holds each column's string bytes in the
// previous batch of the same worker, so string columns rarely grow.
func newBatch(out *outSchema, l *layout, file string, capRows, capBytes int, hint []int) *batch {
	b := &batch{out: out, capRows: capRows, cols: make([]colBuf, len(out.kinds)), covered: make([]bool, len(out.kinds)), file: file,
		lines: make([]int64, 0, capRows)}
	if l != nil {
		for _, c := range l.cols {
			b.covered[c] = true
		}
	}
	for i, k := range out.kinds {
		if b.covered[i] {
			sz := capBytes/len(out.kinds) + 16
			if hint != nil && hint[i] > 0 {
				sz = hint[i] + hint[i]/8 + 64
			}
			b.cols[i].reset(k, capRows, sz)
		}
	}
	return b
}

// grow makes room for more rows in every covered column (amortised doubling).
func (b *batch) grow() {
	b.capRows = 2*b.capRows + 16
	for i := range b.cols {
		if b.covered[i] {
			b.cols[i].growRows(b.capRows)
		}
	}
}

// record builds the batch's Arrow record. The caller owns (and releases) it.
func (b *batch) record(mem memory.Allocator) arrow.Record {
	n := b.rows
	arrs := make([]arrow.Array, 0, len(b.cols)+2)
	for i := range b.cols {
		if b.covered[i] {
			arrs = append(arrs, b.cols[i].finish(n))
		} else {
			arrs = append(arrs, array.MakeArrayOfNull(mem, b.out.kinds[i].arrowType(), n))
		}
	}
	arrs = append(arrs, repeatedString(b.file, n))
	ld := array.NewData(arrow.PrimitiveTypes.Int64, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(b.lines))}, nil, 0, 0)
	arrs = append(arrs, array.NewInt64Data(ld))
	ld.Release()
	rec := array.NewRecord(b.out.schema, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// SourceFileType is the Arrow type of source_file: a dictionary (one entry per batch, every index 0), so a
// path is stored once per batch rather than once per row.
var SourceFileType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// repeatedString is a dictionary-encoded string array holding s n times.
func repeatedString(s string, n int) arrow.Array {
	dict := array.NewStringData(array.NewData(arrow.BinaryTypes.String, 1,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, int32(len(s))})),
			memory.NewBufferBytes([]byte(s))}, nil, 0, 0))
	defer dict.Release()
	d := array.NewData(SourceFileType, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(make([]byte, 4*n))}, nil, 0, 0)
	defer d.Release()
	d.SetDictionary(dict.Data())
	return array.NewDictionaryData(d)
}
