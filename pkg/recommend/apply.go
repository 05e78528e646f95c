package recommend

import (
	"fmt"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Apply returns the candidate model: a clone of current whose groups' rules and NACLs' entries are the
// proposal's (directions kept for lack of evidence hold their current rules), compiled. current is only
// read. The candidate is what a replay judges recorded traffic against (audit). It fails when a proposed
// group or NACL is not in current, or when the candidate has a fatal finding current does not have.
func (r *Recommendation) Apply(current *vpc.Model) (*vpc.Model, error) {
	c := current.Clone()
	for i := range r.Groups {
		gp := &r.Groups[i]
		g := c.Groups[gp.ID]
		if g == nil {
			return nil, fmt.Errorf("recommend: apply: group %s is not in the topology", gp.ID)
		}
		g.Ingress, g.Egress = sgRules(gp.Ingress), sgRules(gp.Egress)
	}
	for i := range r.NACLs {
		np := &r.NACLs[i]
		n := c.NACLs[np.ID]
		if n == nil {
			return nil, fmt.Errorf("recommend: apply: NACL %s is not in the topology", np.ID)
		}
		n.Inbound, n.Outbound = naclEntries(np.Inbound), naclEntries(np.Outbound)
	}
	if err := c.Compile(); err != nil && current.FatalError() == nil {
		return nil, fmt.Errorf("recommend: apply: the candidate does not compile: %w", err)
	}
	return c, nil
}

func sgRules(rules []Rule) []*vpc.SGRule {
	out := make([]*vpc.SGRule, len(rules))
	for i := range rules {
		out[i] = rules[i].SGRule()
	}
	return out
}

// naclEntries converts proposed entries; Compile adds the '*' denies.
func naclEntries(es []Entry) []vpc.NACLEntry {
	out := make([]vpc.NACLEntry, len(es))
	for i := range es {
		out[i] = es[i].NACLEntry()
	}
	return out
}
