package replay

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// strCol accumulates one Utf8 column in reused Go slices; "" is NULL.
type strCol struct {
	offs  []int32
	data  []byte
	valid []byte
	nulls int
}

func (c *strCol) reset(n int) {
	c.offs = append(c.offs[:0], 0)
	c.data = c.data[:0]
	nb := int(bitutil.BytesForBits(int64(n)))
	if cap(c.valid) < nb {
		c.valid = make([]byte, nb)
	}
	c.valid = c.valid[:nb]
	clear(c.valid)
	c.nulls = 0
}

func (c *strCol) add(s string) {
	i := len(c.offs) - 1
	if s == "" {
		c.nulls++
	} else {
		c.valid[i>>3] |= 1 << (i & 7)
		c.data = append(c.data, s...)
	}
	c.offs = append(c.offs, int32(len(c.data)))
}

func bufFrom(mem memory.Allocator, b []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(b))
	copy(buf.Bytes(), b)
	return buf
}

func (c *strCol) finish(mem memory.Allocator) arrow.Array {
	n := len(c.offs) - 1
	var valid *memory.Buffer
	if c.nulls > 0 {
		valid = bufFrom(mem, c.valid)
	}
	offs := memory.NewResizableBuffer(mem)
	offs.Resize(len(c.offs) * 4)
	copy(arrow.Int32Traits.CastFromBytes(offs.Bytes()), c.offs)
	data := bufFrom(mem, c.data)
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, offs, data}, nil, c.nulls, 0)
	for _, b := range []*memory.Buffer{valid, offs, data} {
		if b != nil {
			b.Release()
		}
	}
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
		c.reset(n)
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
		arrs = append(arrs, c.finish(r.mem))
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
