package ingest

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// colBuf accumulates one column of a batch as plain Go slices; finish hands them to Arrow without copying.
// The validity bitmap exists only once a NULL has been seen: until then every row is valid, which is the
// common case and costs nothing per value.
type colBuf struct {
	kind  kind
	i32   []int32
	i64   []int64
	offs  []int32 // string offsets, len = rows+1
	data  []byte  // string bytes
	valid []byte  // validity bitmap; nil while there are no NULLs
	nulls int
}

func (c *colBuf) reset(kind kind, capRows, capBytes int) {
	*c = colBuf{kind: kind}
	switch kind.arrowType().ID() {
	case arrow.INT32:
		c.i32 = make([]int32, 0, capRows)
	case arrow.INT64:
		c.i64 = make([]int64, 0, capRows)
	default:
		c.offs = make([]int32, 1, capRows+1)
		c.data = make([]byte, 0, capBytes)
	}
}

// setValid marks row as non-NULL once the column has a bitmap.
func (c *colBuf) setValid(row int) {
	if c.valid == nil {
		return
	}
	for len(c.valid) <= row>>3 {
		c.valid = append(c.valid, 0)
	}
	c.valid[row>>3] |= 1 << (row & 7)
}

// setNull counts row as NULL, creating the bitmap (all earlier rows valid) at the first one.
func (c *colBuf) setNull(row int) {
	if c.valid == nil {
		c.valid = make([]byte, bitutil.BytesForBits(int64(row+1)), bitutil.BytesForBits(int64(max(row+1, cap(c.i32), cap(c.i64), cap(c.offs)))))
		bitutil.SetBitsTo(c.valid, 0, int64(row), true)
	} else {
		c.growValid(row + 1)
	}
	c.nulls++
}

func (c *colBuf) growValid(rows int) {
	for len(c.valid) < int(bitutil.BytesForBits(int64(rows))) {
		c.valid = append(c.valid, 0)
	}
}

func (c *colBuf) appendInt(row int, v int64, null bool) {
	if c.i32 != nil {
		c.i32 = append(c.i32, int32(v))
	} else {
		c.i64 = append(c.i64, v)
	}
	if null {
		c.setNull(row)
	} else {
		c.setValid(row)
	}
}

func (c *colBuf) appendString(row int, v []byte, null bool) {
	if null {
		c.setNull(row)
	} else {
		c.data = append(c.data, v...)
		c.setValid(row)
	}
	c.offs = append(c.offs, int32(len(c.data)))
}

func (c *colBuf) appendNull(row int) {
	switch {
	case c.i32 != nil:
		c.i32 = append(c.i32, 0)
	case c.i64 != nil:
		c.i64 = append(c.i64, 0)
	default:
		c.offs = append(c.offs, int32(len(c.data)))
	}
	c.setNull(row)
}

// finish returns the column as an Arrow array of rows rows. The array aliases c's slices: c must not be
// appended to afterwards (reset allocates new ones).
func (c *colBuf) finish(rows int) arrow.Array {
	var validity *memory.Buffer
	if c.nulls > 0 {
		c.growValid(rows)
		validity = memory.NewBufferBytes(c.valid)
	}
	switch {
	case c.i32 != nil:
		d := array.NewData(arrow.PrimitiveTypes.Int32, rows,
			[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.i32))}, nil, c.nulls, 0)
		defer d.Release()
		return array.NewInt32Data(d)
	case c.i64 != nil:
		d := array.NewData(arrow.PrimitiveTypes.Int64, rows,
			[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(c.i64))}, nil, c.nulls, 0)
		defer d.Release()
		return array.NewInt64Data(d)
	default:
		d := array.NewData(arrow.BinaryTypes.String, rows,
			[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offs)), memory.NewBufferBytes(c.data)},
			nil, c.nulls, 0)
		defer d.Release()
		return array.NewStringData(d)
	}
}

// batch is the rows parsed from one chunk of one input, column by column.
type batch struct {
	out     *outSchema
	rows    int
	cols    []colBuf
	covered []bool // columns the input's layout fills; the others are all NULL
	file    string
	lines   []int64
}

// newBatch sizes the columns for capRows rows; hint, when not nil, holds each column's string bytes in the
// previous batch of the same worker, so string columns rarely grow.
func newBatch(out *outSchema, l *layout, file string, capRows, capBytes int, hint []int) *batch {
	b := &batch{out: out, cols: make([]colBuf, len(out.kinds)), covered: make([]bool, len(out.kinds)), file: file,
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

// repeatedString is a string array holding s n times.
func repeatedString(s string, n int) arrow.Array {
	offs := make([]int32, n+1)
	data := make([]byte, 0, len(s)*n)
	for i := 1; i <= n; i++ {
		data = append(data, s...)
		offs[i] = int32(len(data))
	}
	d := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(data)}, nil, 0, 0)
	defer d.Release()
	return array.NewStringData(d)
}
