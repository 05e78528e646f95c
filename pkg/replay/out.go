package replay

import (
	"encoding/binary"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// strCol writes one Utf8 column straight into buffers of the Reader's allocator, which become the array's
// (no copy); "" is NULL. hint is the data size of the previous batch, the first guess for the next.
type strCol struct {
	offBuf, dataBuf, validBuf *memory.Buffer
	offs                      []int32
	data, valid               []byte
	pos, i, nulls, hint       int
}

func (c *strCol) reset(mem memory.Allocator, n int) {
	c.offBuf = memory.NewResizableBuffer(mem)
	c.offBuf.Resize((n + 1) * 4)
	c.offs = arrow.Int32Traits.CastFromBytes(c.offBuf.Bytes())
	c.offs[0] = 0
	c.validBuf = memory.NewResizableBuffer(mem)
	c.validBuf.Resize(int(bitutil.BytesForBits(int64(n))))
	c.valid = c.validBuf.Bytes()
	clear(c.valid)
	c.dataBuf = memory.NewResizableBuffer(mem)
	c.dataBuf.Resize(max(c.hint, 64) + 32)
	c.data = c.dataBuf.Bytes()
	c.pos, c.i, c.nulls = 0, 0, 0
}

// ostr is an output string with, when it is short, a copy padded to 32 bytes: put writes it with one
// 32-byte store instead of a copy call (the column's data keeps 32 bytes of slack).
type ostr struct {
	s   string
	pad *[4]uint64 // the text in 32 bytes; nil: longer than 32 bytes, or ""
}

func newOstr(s string) ostr {
	o := ostr{s: s}
	if s != "" && len(s) <= 32 {
		var b [32]byte
		copy(b[:], s)
		o.pad = new([4]uint64)
		for i := range o.pad {
			o.pad[i] = binary.NativeEndian.Uint64(b[8*i:])
		}
	}
	return o
}

func ostrs(ss []string) []ostr {
	out := make([]ostr, len(ss))
	for i, s := range ss {
		out[i] = newOstr(s)
	}
	return out
}

// put is add(o.s).
func (c *strCol) put(o *ostr) {
	if o.pad == nil || c.pos+32 > len(c.data) {
		c.add(o.s)
		return
	}
	// four word stores (a [32]byte assignment compiles to a memmove call)
	d, q := (*[4]uint64)(unsafe.Pointer(&c.data[c.pos])), o.pad
	d[0], d[1], d[2], d[3] = q[0], q[1], q[2], q[3]
	c.pos += len(o.s)
	c.valid[c.i>>3] |= 1 << (c.i & 7)
	c.i++
	c.offs[c.i] = int32(c.pos)
}

func (c *strCol) add(s string) {
	if s == "" {
		c.nulls++
	} else {
		c.valid[c.i>>3] |= 1 << (c.i & 7)
		if c.pos+len(s)+32 > len(c.data) {
			c.dataBuf.Resize(max(2*len(c.data), c.pos+len(s)+32))
			c.data = c.dataBuf.Bytes()
		}
		c.pos += copy(c.data[c.pos:], s)
	}
	c.i++
	c.offs[c.i] = int32(c.pos)
}

func (c *strCol) finish() arrow.Array {
	n := c.i
	c.hint = c.pos + c.pos/8
	c.dataBuf.ResizeNoShrink(c.pos) // Resize would reallocate to fit
	valid := c.validBuf
	if c.nulls == 0 {
		valid.Release()
		valid = nil
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, c.offBuf, c.dataBuf}, nil, c.nulls, 0)
	for _, b := range []*memory.Buffer{valid, c.offBuf, c.dataBuf} {
		if b != nil {
			b.Release()
		}
	}
	c.offBuf, c.dataBuf, c.validBuf, c.offs, c.data, c.valid = nil, nil, nil, nil, nil, nil
	a := array.NewStringData(d)
	d.Release()
	return a
}

type outBuilders struct {
	dir, action, layer, rule, resource, also, cause, naclID, naclRule, sgRule, role, initiator strCol
	agrees                                                                                     *array.BooleanBuilder
}

// build makes the output record of a completed input record. The columns are independent: with more than
// one worker and a large record, half of them are written on another goroutine (the allocator is then used
// from two goroutines, as Arrow's allocators allow).
func (r *Reader) build(s *batchSlot) arrow.Record {
	o := &r.out
	n := len(s.verdicts)
	cols := []*strCol{&o.dir, &o.action, &o.layer, &o.rule, &o.resource, &o.also, &o.cause, &o.naclID, &o.naclRule, &o.sgRule, &o.role, &o.initiator}
	if o.agrees == nil {
		o.agrees = array.NewBooleanBuilder(r.mem)
	}
	if len(r.shards) > 1 && n >= 4096 {
		done := make(chan struct{})
		go func() {
			r.buildB(s.verdicts)
			close(done)
		}()
		r.buildA(s.verdicts)
		<-done
	} else {
		r.buildA(s.verdicts)
		r.buildB(s.verdicts)
	}
	arrs := make([]arrow.Array, 0, int(s.rec.NumCols())+len(verdictFields))
	for i := 0; i < int(s.rec.NumCols()); i++ {
		a := s.rec.Column(i)
		a.Retain()
		arrs = append(arrs, a)
	}
	for i, c := range cols {
		arrs = append(arrs, c.finish())
		if i == 1 {
			arrs = append(arrs, o.agrees.NewArray())
		}
	}
	rec := array.NewRecord(r.schema, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// buildA writes direction, model_action, model_agrees, verdict_layer, verdict_rule, verdict_resource and
// verdict_also.
func (r *Reader) buildA(vs []rowVerdict) {
	o, e, t := &r.out, r.eng, &outText
	for _, c := range []*strCol{&o.dir, &o.action, &o.layer, &o.rule, &o.resource, &o.also} {
		c.reset(r.mem, len(vs))
	}
	o.agrees.Reserve(len(vs))
	for i := range vs {
		v := &vs[i]
		o.dir.put(&t.dir[v.dir&3])
		o.action.put(&t.action[v.model&3])
		if v.model != ActionNone && v.logged != ActionNone {
			o.agrees.UnsafeAppend(v.model == v.logged)
		} else {
			o.agrees.UnsafeAppendBoolToBitmap(false)
		}
		o.layer.put(&t.layer[v.layer%numLayers])
		o.also.put(&t.also[v.also&(1<<numLayers-1)])
		if v.model != Reject {
			o.rule.add("")
			o.resource.add("")
			continue
		}
		info := &e.enis[v.eni] // a modeled REJECT has its ENI
		rule, resource := &t.none, &t.none
		switch v.layer {
		case LayerNACLInbound, LayerNACLOutbound:
			if v.nacl >= 0 {
				rule = &e.naclRuleText[v.nacl]
			}
			resource = &info.naclIDText
		case LayerSGInbound, LayerSGOutbound:
			rule, resource = &t.implicitDeny, &info.groupsText
		case LayerBPA:
			resource = &info.vpcText
		}
		o.rule.put(rule)
		o.resource.put(resource)
	}
}

// buildB writes verdict_cause, nacl_id, nacl_rule, sg_rule, flow_role and initiator.
func (r *Reader) buildB(vs []rowVerdict) {
	o, e, t := &r.out, r.eng, &outText
	for _, c := range []*strCol{&o.cause, &o.naclID, &o.naclRule, &o.sgRule, &o.role, &o.initiator} {
		c.reset(r.mem, len(vs))
	}
	for i := range vs {
		v := &vs[i]
		o.cause.put(&t.cause[v.cause%numCauses])
		if v.naclMet && v.eni >= 0 && e.enis[v.eni].nacl != nil {
			o.naclID.put(&e.enis[v.eni].naclIDText)
			if v.nacl >= 0 {
				o.naclRule.put(&e.naclRuleText[v.nacl])
			} else {
				o.naclRule.add("")
			}
		} else {
			o.naclID.add("")
			o.naclRule.add("")
		}
		if v.pass == SGPassRule && v.sg >= 0 {
			o.sgRule.put(&e.sgRuleText[v.sg])
		} else {
			o.sgRule.put(&t.sgPass[v.pass%numSGPass])
		}
		o.role.put(&t.role[v.role&3])
		o.initiator.put(&t.infer[v.infer%numInferences])
	}
}

// outText holds the fixed output strings, padded for strCol.put, indexed by the verdict's codes.
var outText = func() (t struct {
	dir, action, role  [4]ostr
	layer              [numLayers]ostr
	also               [1 << numLayers]ostr
	cause              [numCauses]ostr
	infer              [numInferences]ostr
	sgPass             [numSGPass]ostr
	none, implicitDeny ostr
}) {
	for i := range t.dir {
		t.dir[i] = newOstr(dirName(vpc.Direction(i)))
		t.action[i] = newOstr(Action(i).String())
		t.role[i] = newOstr(Role(i).String())
	}
	for i := range t.layer {
		t.layer[i] = newOstr(Layer(i).String())
	}
	for i := range t.also {
		t.also[i] = newOstr(Layers(i).String())
	}
	for i := range t.cause {
		t.cause[i] = newOstr(Cause(i).String())
	}
	for i := range t.infer {
		t.infer[i] = newOstr(Inference(i).String())
	}
	for i := range t.sgPass {
		t.sgPass[i] = newOstr(sgPassText[i])
	}
	t.implicitDeny = newOstr("implicit-deny")
	return t
}()

func dirName(d vpc.Direction) string {
	switch d {
	case vpc.Ingress, vpc.Egress:
		return d.String()
	}
	return ""
}
