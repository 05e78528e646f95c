package recommend

import (
	"slices"

	"github.com/flowlens/flowlens/pkg/exposure"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// Rule 12: exposure, measured, by pkg/exposure (the measure audit reports too, so that recommend's before and
// after are audit's for the same candidate): per interface and direction, the (peer address x port) space a
// new connection may use through the interface's security groups and its subnet's NACL; per proposed rule,
// the rule's own space (security group only: a group's rule is not tied to one subnet's NACL).

// Exposure is an address x port space: V4 exact, V6 as a float64 (see pkg/exposure).
type Exposure = exposure.Size

// InterfaceExposure is one interface's exposure under the current and the candidate rules.
type InterfaceExposure struct {
	ENI           string   `json:"eni"`
	Groups        []string `json:"groups"`
	IngressBefore Exposure `json:"ingress_before"`
	IngressAfter  Exposure `json:"ingress_after"`
	EgressBefore  Exposure `json:"egress_before"`
	EgressAfter   Exposure `json:"egress_after"`
}

// ExposureReport is exposure per interface (every interface of the current model, including those without
// groups, which only their NACL filters) and in total (sums over interfaces, both directions).
type ExposureReport struct {
	Interfaces []InterfaceExposure `json:"interfaces"`
	Before     Exposure            `json:"before"`
	After      Exposure            `json:"after"`
	// ReductionV4 is 1 - After.V4/Before.V4: 0.9 means the candidate admits a tenth of the IPv4 space.
	ReductionV4 float64 `json:"reduction_v4"`
}

// exposureReport measures the current model and the candidate; an interface the candidate lacks (Apply
// removes none) would count zero after.
func exposureReport(current, candidate *vpc.Model) ExposureReport {
	before, after := exposure.Model(current), exposure.Model(candidate)
	rep := ExposureReport{Before: before.Total, After: after.Total, ReductionV4: exposure.ReductionV4(before, after)}
	afterOf := make(map[string]exposure.Interface, len(after.Interfaces))
	for _, x := range after.Interfaces {
		afterOf[x.ID] = x
	}
	for _, x := range before.Interfaces {
		a := afterOf[x.ID]
		rep.Interfaces = append(rep.Interfaces, InterfaceExposure{ENI: x.ID, Groups: slices.Clone(x.Groups),
			IngressBefore: x.Ingress, IngressAfter: a.Ingress, EgressBefore: x.Egress, EgressAfter: a.Egress})
	}
	return rep
}

// ruleExposure fills each proposed rule's own exposure.
func (r *recommender) ruleExposure(candidate *vpc.Model) {
	for gi := range r.rec.Groups {
		g := &r.rec.Groups[gi]
		for _, rules := range [][]Rule{g.Ingress, g.Egress} {
			for i := range rules {
				rules[i].Exposure = exposure.Rules(candidate, []*vpc.SGRule{rules[i].SGRule()})
			}
		}
	}
}
