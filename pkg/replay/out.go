package replay

import (
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
	c.dataBuf.Resize(max(c.hint, 64))
	c.data = c.dataBuf.Bytes()
	c.pos, c.i, c.nulls = 0, 0, 0
}

func (c *strCol) add(s string) {
	if s == "" {
		c.nulls++
	} else {
		c.valid[c.i>>3] |= 1 << (c.i & 7)
		if c.pos+len(s) > len(c.data) {
			c.dataBuf.Resize(max(2*len(c.data), c.pos+len(s)))
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

// build makes the output record of a completed input record.
func (r *Reader) build(s *batchSlot) arrow.Record {
	o := &r.out
	n := len(s.verdicts)
	cols := []*strCol{&o.dir, &o.action, &o.layer, &o.rule, &o.resource, &o.also, &o.cause, &o.naclID, &o.naclRule, &o.sgRule, &o.role, &o.initiator}
	for _, c := range cols {
		c.reset(r.mem, n)
	}
	if o.agrees == nil {
		o.agrees = array.NewBooleanBuilder(r.mem)
	}
	o.agrees.Reserve(n)
	e := r.eng
	for i := range s.verdicts {
		v := &s.verdicts[i]
		var info *eniInfo
		if v.eni >= 0 {
			info = &e.enis[v.eni]
		}
		o.dir.add(dirName(v.dir))
		o.action.add(v.model.String())
		if v.model != ActionNone && v.logged != ActionNone {
			o.agrees.UnsafeAppend(v.model == v.logged)
		} else {
			o.agrees.UnsafeAppendBoolToBitmap(false)
		}
		o.layer.add(v.layer.String())
		rule, resource := "", ""
		if v.model == Reject {
			switch v.layer {
			case LayerNACLInbound, LayerNACLOutbound:
				if v.nacl >= 0 {
					rule = ruleText(e.naclEntries[v.nacl].entry)
				}
				if info.nacl != nil {
					resource = info.nacl.ID
				}
			case LayerSGInbound, LayerSGOutbound:
				rule, resource = "implicit-deny", info.groups
			case LayerBPA:
				resource = info.eni.VpcID
			}
		}
		o.rule.add(rule)
		o.resource.add(resource)
		o.also.add(v.also.String())
		o.cause.add(v.cause.String())
		if v.naclMet && info.nacl != nil {
			o.naclID.add(info.nacl.ID)
			if v.nacl >= 0 {
				o.naclRule.add(ruleText(e.naclEntries[v.nacl].entry))
			} else {
				o.naclRule.add("")
			}
		} else {
			o.naclID.add("")
			o.naclRule.add("")
		}
		if v.pass == SGPassRule && v.sg >= 0 {
			o.sgRule.add(e.sgRules[v.sg].ID)
		} else {
			o.sgRule.add(sgPassText[v.pass])
		}
		o.role.add(v.role.String())
		o.initiator.add(v.infer.String())
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

func dirName(d vpc.Direction) string {
	switch d {
	case vpc.Ingress, vpc.Egress:
		return d.String()
	}
	return ""
}
