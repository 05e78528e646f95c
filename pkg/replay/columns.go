package replay

import (
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

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
