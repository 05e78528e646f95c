package audit

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

// Class is what the candidate changes for a record.
type Class uint8

const (
	NotJudged     Class = iota // NODATA/SKIPDATA, unknown interface or direction
	StillAllowed               // accepted by the log and the baseline, and by the candidate
	WouldBreak                 // accepted by the log and the baseline, rejected by the candidate (or a reply of such a connection)
	StillRejected              // rejected by the log and the baseline, and by the candidate
	NewlyAllowed               // rejected by the log and the baseline, accepted by the candidate
	Disputed                   // the log and the baseline disagree
	numClasses
)

var classNames = [numClasses]string{"not-judged", "still-allowed", "would-break", "still-rejected", "newly-allowed", "disputed"}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Verdict is what audit reads of one row of a replay's verdict table.
type Verdict struct {
	Action string // model_action: ACCEPT, REJECT, "" when not judged
	Agrees string // model_agrees: "true", "false", "" when no logged action
	Role   string // flow_role: request, reply
	SGRule string // sg_rule: a rule id, conntrack, conntrack-assumed, no-security-group
	// The deciding layer of a REJECT: verdict_layer, verdict_rule, verdict_resource, verdict_cause.
	Layer, Rule, Resource, Cause string
	// NACL and NACLRule are the NACL the packet met and its deciding entry (nacl_id, nacl_rule; "" when the
	// peer is in the subnet).
	NACL, NACLRule string
}

// logged is the action the log gave the record ("" when none), read from the verdict's agreement.
func (v *Verdict) logged() string {
	switch v.Agrees {
	case "true":
		return v.Action
	case "false":
		if v.Action == flowschema.ActionAccept {
			return flowschema.ActionReject
		}
		return flowschema.ActionAccept
	}
	return ""
}

// ReadVerdicts reads a verdict table (replay.Reader.Verdicts; row i is verdict id i).
func ReadVerdicts(rec arrow.Record) []Verdict {
	sc := rec.Schema()
	col := func(name string) arrow.Array {
		if idx := sc.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	get := func(a arrow.Array, i int) string {
		if a == nil || a.IsNull(i) {
			return ""
		}
		return strings.Clone(a.ValueStr(i)) // kept after rec is released
	}
	action, agrees, role, sg := col(flowschema.ColModelAction), col(flowschema.ColModelAgrees), col(flowschema.ColFlowRole), col(flowschema.ColSGRule)
	layer, rule, res, cause := col(flowschema.ColVerdictLayer), col(flowschema.ColVerdictRule), col(flowschema.ColVerdictResource), col(flowschema.ColVerdictCause)
	nacl, naclRule := col(flowschema.ColNACLID), col(flowschema.ColNACLRule)
	out := make([]Verdict, rec.NumRows())
	for i := range out {
		out[i] = Verdict{Action: get(action, i), Agrees: get(agrees, i), Role: get(role, i), SGRule: get(sg, i),
			Layer: get(layer, i), Rule: get(rule, i), Resource: get(res, i), Cause: get(cause, i),
			NACL: get(nacl, i), NACLRule: get(naclRule, i)}
	}
	return out
}

// classify says what the candidate changes for a record with baseline verdict b and candidate verdict c, and
// whether a would-break record is a reply that only an assumed request lets through.
func classify(b, c *Verdict) (Class, bool) {
	if b.Action == "" || c.Action == "" {
		return NotJudged, false
	}
	logged := b.logged()
	if logged == "" {
		logged = b.Action
	}
	switch {
	case logged != b.Action:
		return Disputed, false
	case b.Action == flowschema.ActionAccept && c.Action == flowschema.ActionReject:
		return WouldBreak, false
	case b.Action == flowschema.ActionAccept && b.SGRule == sgTracked && c.SGRule == sgAssumed:
		return WouldBreak, true
	case b.Action == flowschema.ActionAccept:
		return StillAllowed, false
	case c.Action == flowschema.ActionAccept:
		return NewlyAllowed, false
	}
	return StillRejected, false
}

// The sg_rule values of a packet that connection tracking let through (replay's basis names).
const (
	sgTracked = "conntrack"
	sgAssumed = "conntrack-assumed"
)
