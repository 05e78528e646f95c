package ingest

import (
	"encoding/binary"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

// colBuf accumulates one column of a batch in buffers from the batch's pool; finish hands them to Arrow
// without copying. Values are stored by row index into slices whose length is their capacity, so the
// per-value path writes only integers and bytes (no slice headers, hence no GC write barriers); the batch
// grows every column at once, so a put never checks capacity. The validity bitmap exists only once a NULL
// has been seen, and it starts (and grows) all ones, so only NULLs, rare, touch it.
type colBuf struct {
	pool  *bufPool
	vals  []byte  // the buffer that i32, i64 or offs views
	i32   []int32 // values of an Int32 column
	i64   []int64 // values of an Int64 column
	offs  []int32 // string offsets: offs[row+1] ends row's value
	data  []byte  // string bytes, data[:dn] in use
	dn    int
	valid []byte // validity bitmap, a bit per row of capacity; nil while there are no NULLs
	nulls int
	n4buf []byte   // the buffer that n4 views
	n4    []uint32 // an address column's IPv4 numbers (Options.IPv4Numbers), 0 for every other value
}

// reset makes c an empty column of kind for capRows rows; ipv4 adds the IPv4 numbers of an address column.
func (c *colBuf) reset(pool *bufPool, kind kind, capRows, capBytes int, ipv4 bool) {
	*c = colBuf{pool: pool}
	if ipv4 {
		c.n4buf = pool.get(4 * capRows)
		c.n4 = arrow.Uint32Traits.CastFromBytes(c.n4buf)
	}
	switch kind.arrowType().ID() {
	case arrow.INT32:
		c.vals = pool.get(4 * capRows)
	case arrow.INT64:
		c.vals = pool.get(8 * capRows)
	default:
		c.vals = pool.get(4 * (capRows + 1))
		c.data = pool.get(capBytes)
	}
	c.view(kind.arrowType().ID())
	if c.offs != nil {
		c.offs[0] = 0
	}
}

// view points i32, i64 or offs at vals.
func (c *colBuf) view(id arrow.Type) {
	switch id {
	case arrow.INT32:
		c.i32 = arrow.Int32Traits.CastFromBytes(c.vals)
	case arrow.INT64:
		c.i64 = arrow.Int64Traits.CastFromBytes(c.vals)
	default:
		c.offs = arrow.Int32Traits.CastFromBytes(c.vals)
	}
}

// growRows makes room for capRows rows.
func (c *colBuf) growRows(capRows int) {
	id, n := arrow.STRING, 4*(capRows+1)
	switch {
	case c.i32 != nil:
		id, n = arrow.INT32, 4*capRows
	case c.i64 != nil:
		id, n = arrow.INT64, 8*capRows
	}
	vals := c.pool.get(n)
	copy(vals, c.vals)
	c.pool.put(c.vals)
	c.vals = vals
	c.view(id)
	if c.valid != nil {
		c.valid = appendOnes(c.valid, int(bitutil.BytesForBits(int64(capRows)))-len(c.valid))
	}
	if c.n4 != nil {
		n4 := c.pool.get(4 * capRows)
		copy(n4, c.n4buf)
		c.pool.put(c.n4buf)
		c.n4buf, c.n4 = n4, arrow.Uint32Traits.CastFromBytes(n4)
	}
}

// release returns the buffers of a column that was not finished.
func (c *colBuf) release() {
	c.pool.put(c.vals)
	c.pool.put(c.data)
	c.pool.put(c.n4buf)
	*c = colBuf{}
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
		c.growData(len(v))
	}
	copy(c.data[c.dn:end], v)
	c.dn = end
	c.offs[row+1] = int32(end)
}

// putToken stores line[start:end] like putString. A value of up to 32 bytes is moved as four words rather
// than by a call to memmove, when that many bytes can be read from line (up to its capacity: the bytes
// of the chunk after the line) and written to data; the bytes past the value are overwritten by the next
// one, or lie beyond dn.
func (c *colBuf) putToken(row int, line []byte, start, end int) {
	src, dn := line[start:cap(line)], c.dn
	if end-start > 32 || len(src) < 32 || dn+32 > len(c.data) {
		c.putString(row, line[start:end])
		return
	}
	src, dst := src[:32], c.data[dn:dn+32]
	binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src))
	binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:]))
	binary.LittleEndian.PutUint64(dst[16:], binary.LittleEndian.Uint64(src[16:]))
	binary.LittleEndian.PutUint64(dst[24:], binary.LittleEndian.Uint64(src[24:]))
	c.dn = dn + end - start
	c.offs[row+1] = int32(c.dn)
}

// growData makes room for at least n more string bytes (amortised doubling).
func (c *colBuf) growData(n int) {
	data := c.pool.get(c.dn + len(c.data) + n + 64)
	copy(data, c.data[:c.dn])
	c.pool.put(c.data)
	c.data = data
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
	if c.n4 != nil {
		c.n4[row] = 0
	}
}

// putIPv4 stores row's IPv4 number (0: not dotted-quad IPv4), when the column keeps them.
func (c *colBuf) putIPv4(row int, a uint32) {
	if c.n4 != nil {
		c.n4[row] = a
	}
}

// truncate drops the value stored for row, the last one (rolling back a bad line).
func (c *colBuf) truncate(row int) {
	if c.n4 != nil {
		c.n4[row] = 0
	}
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

// finishIPv4 returns the column's IPv4 numbers as an Arrow array of rows rows, which owns their buffer.
func (c *colBuf) finishIPv4(rows int) arrow.Array {
	vals := c.pool.buffer(c.n4buf[:4*rows])
	c.n4buf, c.n4 = nil, nil
	d := array.NewData(arrow.PrimitiveTypes.Uint32, rows, []*memory.Buffer{nil, vals}, nil, 0, 0)
	vals.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// zeroUint32 is an array of n zeros from pool.
func zeroUint32(pool *bufPool, n int) arrow.Array {
	b := pool.get(4 * n)
	clear(b)
	vals := pool.buffer(b)
	d := array.NewData(arrow.PrimitiveTypes.Uint32, n, []*memory.Buffer{nil, vals}, nil, 0, 0)
	vals.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// finish returns the column as an Arrow array of rows rows. The array owns c's buffers, which go back to
// the pool when it is released: c must not be used afterwards. The IPv4 numbers go first (finishIPv4).
func (c *colBuf) finish(rows int) arrow.Array {
	var validity *memory.Buffer
	if c.nulls > 0 {
		validity = memory.NewBufferBytes(c.valid[:bitutil.BytesForBits(int64(rows))])
	}
	var d *array.Data
	switch {
	case c.i32 != nil:
		vals := c.pool.buffer(c.vals[:4*rows])
		d = array.NewData(arrow.PrimitiveTypes.Int32, rows, []*memory.Buffer{validity, vals}, nil, c.nulls, 0)
		vals.Release()
	case c.i64 != nil:
		vals := c.pool.buffer(c.vals[:8*rows])
		d = array.NewData(arrow.PrimitiveTypes.Int64, rows, []*memory.Buffer{validity, vals}, nil, c.nulls, 0)
		vals.Release()
	default:
		offs, data := c.pool.buffer(c.vals[:4*(rows+1)]), c.pool.buffer(c.data[:c.dn])
		d = array.NewData(arrow.BinaryTypes.String, rows, []*memory.Buffer{validity, offs, data}, nil, c.nulls, 0)
		offs.Release()
		data.Release()
	}
	*c = colBuf{}
	defer d.Release()
	return array.MakeFromData(d)
}

// batch is the rows parsed from one chunk of one input, column by column.
type batch struct {
	out      *outSchema
	pool     *bufPool
	rows     int
	capRows  int // rows every covered column has room for
	cols     []colBuf
	covered  []bool // columns the input's layout fills; the others are all NULL
	file     string
	lineBufs []byte  // the buffer lines views
	lines    []int64 // source line of each row
}

// newBatch sizes the columns, taken from pool (nil: the Go heap), for capRows rows; hint, when not nil,
// holds each column's string bytes in the previous batch of the same worker, so string columns rarely grow.
// The batch goes back to the pool through its record, or through release.
func newBatch(pool *bufPool, out *outSchema, l *layout, file string, capRows, capBytes int, hint []int) *batch {
	b := &batch{out: out, pool: pool, capRows: capRows, cols: make([]colBuf, len(out.kinds)),
		covered: make([]bool, len(out.kinds)), file: file, lineBufs: pool.get(8 * capRows)}
	b.lines = arrow.Int64Traits.CastFromBytes(b.lineBufs)
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
			b.cols[i].reset(pool, k, capRows, sz, slices.Contains(out.ipv4, i))
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
	lines := b.pool.get(8 * b.capRows)
	copy(lines, b.lineBufs)
	b.pool.put(b.lineBufs)
	b.lineBufs, b.lines = lines, arrow.Int64Traits.CastFromBytes(lines)
}

// release returns the buffers of a batch that does not become a record.
func (b *batch) release() {
	for i := range b.cols {
		if b.covered[i] {
			b.cols[i].release()
		}
	}
	b.pool.put(b.lineBufs)
	b.lineBufs, b.lines = nil, nil
}

// record builds the batch's Arrow record, which takes over the batch's buffers. The caller owns (and
// releases) it.
func (b *batch) record(mem memory.Allocator) arrow.Record {
	n := b.rows
	arrs := make([]arrow.Array, 0, len(b.cols)+2+len(b.out.ipv4))
	var nums []arrow.Array
	for _, i := range b.out.ipv4 {
		if b.covered[i] {
			nums = append(nums, b.cols[i].finishIPv4(n))
		} else {
			nums = append(nums, zeroUint32(b.pool, n))
		}
	}
	for i := range b.cols {
		if b.covered[i] {
			arrs = append(arrs, b.cols[i].finish(n))
		} else {
			arrs = append(arrs, array.MakeArrayOfNull(mem, b.out.kinds[i].arrowType(), n))
		}
	}
	arrs = append(arrs, repeatedString(b.pool, b.file, n))
	lines := b.pool.buffer(b.lineBufs[:8*n])
	ld := array.NewData(arrow.PrimitiveTypes.Int64, n, []*memory.Buffer{nil, lines}, nil, 0, 0)
	lines.Release()
	b.lineBufs, b.lines = nil, nil
	arrs = append(arrs, array.NewInt64Data(ld))
	ld.Release()
	arrs = append(arrs, nums...)
	rec := array.NewRecord(b.out.schema, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// repeatedString is a dictionary-encoded string array holding s n times (flowschema.SourceFileType).
func repeatedString(pool *bufPool, s string, n int) arrow.Array {
	dict := array.NewStringData(array.NewData(arrow.BinaryTypes.String, 1,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, int32(len(s))})),
			memory.NewBufferBytes([]byte(s))}, nil, 0, 0))
	defer dict.Release()
	zeros := pool.get(4 * n)
	clear(zeros)
	idx := pool.buffer(zeros)
	d := array.NewData(flowschema.SourceFileType, n, []*memory.Buffer{nil, idx}, nil, 0, 0)
	idx.Release()
	defer d.Release()
	d.SetDictionary(dict.Data())
	return array.NewDictionaryData(d)
}
