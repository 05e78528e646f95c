package replay

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
)

// verdictFields are the verdict table's text columns. Those with a closed set of values declare it
// (arrowutil.EnumField), so a sink may store them as enumerations.
var verdictFields = []arrow.Field{
	arrowutil.EnumField(flowschema.ColDirection, flowschema.DirectionValues...),
	arrowutil.EnumField(flowschema.ColModelAction, flowschema.ActionValues...),
	{Name: flowschema.ColModelAgrees, Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	arrowutil.EnumField(flowschema.ColVerdictLayer, layerNames[1:]...),
	{Name: flowschema.ColVerdictRule, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColVerdictResource, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColVerdictAlso, Type: arrow.BinaryTypes.String, Nullable: true},
	arrowutil.EnumField(flowschema.ColVerdictCause, causeNames[1:]...),
	{Name: flowschema.ColNACLID, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColNACLRule, Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: flowschema.ColSGRule, Type: arrow.BinaryTypes.String, Nullable: true},
	arrowutil.EnumField(flowschema.ColFlowRole, RoleRequest.String(), RoleReply.String()),
	arrowutil.EnumField(flowschema.ColInitiator, inferenceNames[1:]...),
	{Name: flowschema.ColVerdictSteps, Type: arrow.BinaryTypes.String, Nullable: true},
}

// verdictFields are the verdict table's columns for this engine's topology: the columns whose values come from
// the topology (NACL and rule ids, rule numbers, group lists, also-layer lists) declare their complete value
// set too, from the same text tables the output is written from, so that a sink can store every verdict
// column as an enumeration.
func (e *Engine) verdictFields() []arrow.Field {
	set := func(groups ...[]string) []string {
		seen := map[string]bool{}
		var vals []string
		for _, g := range groups {
			for i := range g {
				if v := g[i]; v != "" && !seen[v] {
					seen[v] = true
					vals = append(vals, v)
				}
			}
		}
		return vals
	}
	var naclIDs, resources []string
	for i := range e.enis {
		info := &e.enis[i]
		naclIDs = append(naclIDs, info.naclIDText)
		resources = append(resources, info.naclIDText, info.groupsText, info.vpcText)
	}
	t := &outText
	closed := map[string][]string{
		flowschema.ColVerdictRule:     set(e.naclRuleText, []string{t.basis[BasisNoRule]}),
		flowschema.ColVerdictResource: set(resources),
		flowschema.ColVerdictAlso:     set(t.also[:]),
		flowschema.ColNACLID:          set(naclIDs),
		flowschema.ColNACLRule:        set(e.naclRuleText),
		flowschema.ColSGRule:          set(e.sgRuleText, []string{t.basis[BasisTracked], t.basis[BasisAssumed], t.basis[BasisNoGroups]}),
	}
	out := make([]arrow.Field, len(verdictFields))
	for i, f := range verdictFields {
		out[i] = f
		if vals, ok := closed[f.Name]; ok && len(vals) > 0 {
			out[i] = arrowutil.EnumField(f.Name, vals...)
		}
	}
	return out
}
