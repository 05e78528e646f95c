package replay

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// strCol builds one Utf8 column of the verdict table; "" is NULL.
type strCol struct{ b *array.StringBuilder }

func (c *strCol) reset(mem memory.Allocator, n int) {
	c.b = array.NewStringBuilder(mem)
	c.b.Reserve(n)
}

func (c *strCol) add(s string) {
	if s == "" {
		c.b.AppendNull()
	} else {
		c.b.Append(s)
	}
}

func (c *strCol) finish() arrow.Array {
	a := c.b.NewArray()
	c.b.Release()
	c.b = nil
	return a
}

// build makes the output record of a completed input record: its columns plus verdict_id, whose buffer the
// shards filled (no copy).
func (r *Reader) build(s *batchSlot) arrow.Record {
	d := array.NewData(arrow.PrimitiveTypes.Uint32, s.n, []*memory.Buffer{nil, s.ids}, nil, 0, 0)
	ids := array.NewUint32Data(d)
	d.Release()
	s.ids.Release()
	s.ids, s.vids = nil, nil
	arrs := make([]arrow.Array, 0, int(s.rec.NumCols())+1)
	arrs = append(arrs, s.rec.Columns()...)
	arrs = append(arrs, ids)
	rec := array.NewRecord(r.schema, arrs, int64(s.n))
	ids.Release()
	s.rec.Release()
	return rec
}

// outKey reduces v to what its text columns depend on, so that verdicts that read the same share an id:
// the ENI only when its resources are written (a REJECT's verdict_resource, a met NACL's id), rule indexes
// only when their text is, the logged action only for model_agrees. The result is packed (vkey), straight
// from v: building a rowVerdict and packing it stalled on reloading the bytes just stored.
func (e *Engine) outKey(v *Verdict) vkey {
	eni, nacl, sg := int32(-1), int32(-1), int32(-1)
	var logged Action
	if v.Model != ActionNone {
		logged = v.Logged
	}
	met := v.NACL != nil && v.eni >= 0 && e.enis[v.eni].nacl != nil
	if v.Model == Reject || met {
		eni = v.eni
	}
	naclRule := v.Layer == LayerNACLInbound || v.Layer == LayerNACLOutbound
	if met || (v.Model == Reject && naclRule) {
		nacl = v.naclIdx
	}
	if v.Pass == SGPassRule {
		sg = v.sgIdx
	}
	return packKey(eni, nacl, sg, v.Infer, met, v.Dir, v.Model, logged, v.Layer, v.Cause, v.Also, v.Pass, v.Role)
}

// buildVerdicts makes the verdict table of keys (row i: verdict_id i).
func (r *Reader) buildVerdicts(keys []rowVerdict) arrow.Record {
	mem, e, t := r.mem, r.eng, &outText
	var dir, action, layer, rule, resource, also, cause, naclID, naclRule, sgRule, role, initiator strCol
	cols := []*strCol{&dir, &action, &layer, &rule, &resource, &also, &cause, &naclID, &naclRule, &sgRule, &role, &initiator}
	for _, c := range cols {
		c.reset(mem, len(keys))
	}
	ids := array.NewUint32Builder(mem)
	defer ids.Release()
	agrees := array.NewBooleanBuilder(mem)
	defer agrees.Release()
	for i := range keys {
		v := &keys[i]
		ids.Append(uint32(i))
		dir.add(t.dir[v.dir&3])
		action.add(t.action[v.model&3])
		if v.model != ActionNone && v.logged != ActionNone {
			agrees.Append(v.model == v.logged)
		} else {
			agrees.AppendNull()
		}
		layer.add(t.layer[v.layer%numLayers])
		also.add(t.also[v.also&(1<<numLayers-1)])
		if v.model == Reject {
			info := &e.enis[v.eni] // a modeled REJECT has its ENI
			rt, rs := "", ""
			switch v.layer {
			case LayerNACLInbound, LayerNACLOutbound:
				if v.nacl >= 0 {
					rt = e.naclRuleText[v.nacl]
				}
				rs = info.naclIDText
			case LayerSGInbound, LayerSGOutbound:
				rt, rs = t.implicitDeny, info.groupsText
			case LayerBPA:
				rs = info.vpcText
			}
			rule.add(rt)
			resource.add(rs)
		} else {
			rule.add("")
			resource.add("")
		}
		cause.add(t.cause[v.cause%numCauses])
		if v.naclMet {
			naclID.add(e.enis[v.eni].naclIDText)
			if v.nacl >= 0 {
				naclRule.add(e.naclRuleText[v.nacl])
			} else {
				naclRule.add("")
			}
		} else {
			naclID.add("")
			naclRule.add("")
		}
		if v.pass == SGPassRule && v.sg >= 0 {
			sgRule.add(e.sgRuleText[v.sg])
		} else {
			sgRule.add(t.sgPass[v.pass%numSGPass])
		}
		role.add(t.role[v.role&3])
		initiator.add(t.infer[v.infer%numInferences])
	}
	arrs := []arrow.Array{ids.NewArray()}
	for i, c := range cols {
		arrs = append(arrs, c.finish())
		if i == 1 {
			arrs = append(arrs, agrees.NewArray())
		}
	}
	rec := array.NewRecord(r.vschema, arrs, int64(len(keys)))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// outText holds the fixed output strings, indexed by the verdict's codes.
var outText = func() (t struct {
	dir, action, role [4]string
	layer             [numLayers]string
	also              [1 << numLayers]string
	cause             [numCauses]string
	infer             [numInferences]string
	sgPass            [numSGPass]string
	implicitDeny      string
}) {
	for i := range t.dir {
		t.dir[i] = dirName(vpc.Direction(i))
		t.action[i] = Action(i).String()
		t.role[i] = Role(i).String()
	}
	for i := range t.layer {
		t.layer[i] = Layer(i).String()
	}
	for i := range t.also {
		t.also[i] = Layers(i).String()
	}
	for i := range t.cause {
		t.cause[i] = Cause(i).String()
	}
	for i := range t.infer {
		t.infer[i] = Inference(i).String()
	}
	for i := range t.sgPass {
		t.sgPass[i] = sgPassText[i]
	}
	t.implicitDeny = "implicit-deny"
	return t
}()

func dirName(d vpc.Direction) string {
	switch d {
	case vpc.Ingress, vpc.Egress:
		return d.String()
	}
	return ""
}
