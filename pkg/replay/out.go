package replay

import (
	"encoding/json"

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
// only when their text is, the logged action only for model_agrees.
func (e *Engine) outKey(v *Verdict) verdictKey {
	eni, nacl, sg := int32(-1), int32(-1), int32(-1)
	var logged Action
	if v.ModelAction != ActionNone {
		logged = v.Logged
	}
	var code pathCode
	for i := range v.Path.Steps() {
		s := &v.Path.steps[i]
		switch s.Basis {
		case BasisEntry: // the NACL was on the path: its id and entry are written
			eni, nacl = v.eni, s.index
		case BasisRule:
			sg = s.index
		}
		code |= s.code(i)
	}
	if v.ModelAction == Reject {
		eni = v.eni
	}
	// The key is packed straight from v's fields: building a rowVerdict and packing it stalled on reloading
	// the bytes just stored.
	return packKey(eni, nacl, sg, code|pathCode(v.Path.n), v.Infer, v.Dir, v.ModelAction, logged, v.Layer, v.Cause, v.Also, v.Role)
}

// buildVerdicts makes the verdict table of keys (row i: verdict_id i).
func (r *Reader) buildVerdicts(keys []rowVerdict) arrow.Record {
	mem, e, t := r.mem, r.eng, &outText
	var dir, action, layer, rule, resource, also, cause, naclID, naclRule, sgRule, role, initiator, steps strCol
	cols := []*strCol{&dir, &action, &layer, &rule, &resource, &also, &cause, &naclID, &naclRule, &sgRule, &role, &initiator, &steps}
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
		cause.add(t.cause[v.cause%numCauses])
		var rt, rs, nid, nrule, sgr string
		for j := range v.path.len() {
			l, d, b, _ := v.path.step(j)
			switch b {
			case BasisEntry:
				nid = e.enis[v.eni].naclIDText
				if v.nacl >= 0 {
					nrule = e.naclRuleText[v.nacl]
				}
			case BasisRule:
				if v.sg >= 0 {
					sgr = e.sgRuleText[v.sg]
				}
			case BasisTracked, BasisAssumed, BasisNoGroups:
				sgr = t.basis[b]
			}
			if d == Block && l == v.layer {
				rt, rs = e.decidingText(v, b)
			}
		}
		rule.add(rt)
		resource.add(rs)
		naclID.add(nid)
		naclRule.add(nrule)
		sgRule.add(sgr)
		role.add(t.role[v.role&3])
		initiator.add(t.infer[v.infer%numInferences])
		steps.add(e.stepsJSON(v))
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

// decidingText is the verdict_rule and verdict_resource text of a REJECT decided by a step of basis b.
func (e *Engine) decidingText(v *rowVerdict, b Basis) (rule, resource string) {
	info := &e.enis[v.eni] // a modeled REJECT has its ENI
	switch b {
	case BasisEntry:
		if v.nacl >= 0 {
			rule = e.naclRuleText[v.nacl]
		}
		return rule, info.naclIDText
	case BasisNoRule:
		return outText.basis[BasisNoRule], info.groupsText
	case BasisBPA:
		return "", info.vpcText
	}
	return "", ""
}

// StepRecord is one step of a verdict's path as the verdict table stores it: the column verdict_steps holds
// a JSON array of them in packet order, which explain prints as it is.
type StepRecord struct {
	Layer    string `json:"layer"`             // nacl-inbound, sg-outbound, ... (Layer)
	Resource string `json:"resource"`          // the acl- id of a NACL on the path, the sg- ids of a deciding security-group step, the vpc- id for BPA
	Outcome  string `json:"outcome"`           // allow, deny, not on the path (Decision)
	Rule     string `json:"rule"`              // what decided, readable: the rule and its text, or why no rule was read
	Basis    string `json:"basis"`             // Basis
	Decides  bool   `json:"decides"`           // the first step that blocks: it decided the REJECT
	Assumes  string `json:"assumes,omitempty"` // what the decision rests on that the record does not say (the ICMP type)
}

// stepsJSON renders v's path as verdict_steps.
func (e *Engine) stepsJSON(v *rowVerdict) string {
	if v.path.len() == 0 {
		return ""
	}
	recs := make([]StepRecord, v.path.len())
	decided := false
	for j := range recs {
		l, d, b, icmpInferred := v.path.step(j)
		s := StepRecord{Layer: l.String(), Outcome: d.String(), Basis: b.String()}
		if icmpInferred {
			s.Assumes = "the ICMP type of an echo request (8, ICMPv6 128), taken from the record being a request: flow logs carry no ICMP type"
			if v.role == RoleReply {
				s.Assumes = "the ICMP type of an echo reply (0, ICMPv6 129), taken from the record being a reply: flow logs carry no ICMP type"
			}
		}
		if d == Block && !decided {
			s.Decides, decided = true, true
			_, s.Resource = e.decidingText(v, b)
		}
		switch b {
		case BasisSameSubnet:
			s.Rule = "the peer is inside the interface's subnet"
		case BasisNoNACL:
			s.Rule = "the subnet has no network ACL"
		case BasisEntry:
			s.Resource = e.enis[v.eni].naclIDText
			s.Rule = "the '*' entry (no entry matched)"
			if v.nacl >= 0 {
				s.Rule = "rule " + e.naclRuleText[v.nacl] + ": " + naclDisplay(e.naclEntries[v.nacl].entry)
			}
		case BasisRule:
			if v.sg >= 0 {
				r := e.sgRules[v.sg]
				s.Rule = r.ID + ": " + r.Display
			}
		case BasisTracked:
			s.Rule = "a packet of a tracked connection"
			if v.role == RoleReply {
				s.Rule = "reply to a tracked connection"
			}
		case BasisAssumed:
			s.Rule = "reply whose request was not seen (assumed tracked: security groups are stateful)"
		case BasisNoGroups:
			s.Rule = "the interface has no security groups"
		case BasisNoRule:
			s.Rule = "no rule matches (implicit deny)"
		case BasisBPA:
			s.Rule = "VPC Block Public Access (the record's reject-reason is BPA)"
		}
		recs[j] = s
	}
	b, err := json.Marshal(recs)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return string(b)
}

// outText holds the fixed output strings, indexed by the verdict's codes.
var outText = func() (t struct {
	dir, action, role [4]string
	layer             [numLayers]string
	also              [1 << numLayers]string
	cause             [numCauses]string
	infer             [numInferences]string
	basis             [numBases]string
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
	for i := range t.basis {
		t.basis[i] = Basis(i).String()
	}
	return t
}()

func dirName(d vpc.Direction) string {
	switch d {
	case vpc.Ingress, vpc.Egress:
		return d.String()
	}
	return ""
}
