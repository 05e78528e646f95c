package recommend

import (
	"github.com/flowlens/flowlens/pkg/vpc"
)

// Rule 11: findings on the current configuration, whatever the proposal: rules that allowed nothing, rules
// wider than their use, sensitive ports open to the world, NACL entries that never decide, and references to
// groups that are gone or empty.

// currentFindings reports on the current groups and NACLs; hits are the rule_hits rows (nil: unknown, no
// unused-rule findings).
func (r *recommender) currentFindings(hits []RuleHit) {
	unused := make(map[[2]string]bool)
	for _, h := range hits {
		if h.Hits == 0 {
			unused[[2]string{h.Resource, h.RuleID}] = true
		}
	}
	for _, id := range sortedKeys(r.m.Groups) {
		g := r.m.Groups[id]
		for _, rules := range [][]*vpc.SGRule{g.Ingress, g.Egress} {
			for _, ru := range rules {
				r.ruleFindings(g, ru, unused[[2]string{id, ru.ID}])
			}
		}
	}
	for _, id := range sortedKeys(r.m.NACLs) {
		n := r.m.NACLs[id]
		for _, es := range [][]vpc.NACLEntry{n.Inbound, n.Outbound} {
			for i := range es {
				e := &es[i]
				if e.Default {
					continue
				}
				rule := naclWord(e.Egress) + " " + e.Rule()
				if e.ShadowedBy != 0 {
					r.finding(FindingShadowed, id, "", rule, "entry %d is shadowed by entry %d, which matches every packet "+
						"it matches: it never decides; remove it or renumber it", e.RuleNumber, e.ShadowedBy)
				} else if unused[[2]string{id, e.Rule()}] {
					r.finding(FindingUnused, id, "", rule, "entry %d decided no record in the window", e.RuleNumber)
				}
			}
		}
	}
}

func (r *recommender) ruleFindings(g *vpc.SecurityGroup, ru *vpc.SGRule, unused bool) {
	rule := ru.ID + " " + ru.Display
	if unused {
		r.finding(FindingUnused, g.ID, g.Name, rule, "the rule allowed no record in the window")
	}
	if r.onlyProbers(ru) {
		r.finding(FindingScannerOnly, g.ID, g.Name, rule, "every one of the %d peer(s) it admitted in the window was probing "+
			"many ports and mostly rejected (a scan): it served no other traffic; remove it or restrict it to known peers",
			len(r.ruleUse[ru]))
	}
	if ru.Peer == vpc.PeerGroup {
		switch {
		case r.m.Groups[ru.RefGroupID] == nil:
			r.finding(FindingStaleReference, g.ID, g.Name, rule, "references group %s, which is not in the topology "+
				"(deleted, or in another VPC or account): the rule matches nothing", ru.RefGroupID)
		case len(r.m.GroupMembers(ru.RefGroupID)) == 0:
			r.finding(FindingStaleReference, g.ID, g.Name, rule, "references group %s, which has no member interface: "+
				"the rule matches nothing today", r.groupName(ru.RefGroupID))
		}
	}
	if ru.Peer != vpc.PeerCIDR {
		return
	}
	bits, widest := ru.Prefix.Bits(), r.o.WidestV4
	if ru.Prefix.Addr().Is6() {
		widest = r.o.WidestV6
	}
	if bits == 0 && !ru.Egress {
		if port, ok := r.sensitiveOpen(ru); ok {
			r.finding(FindingWorldSensitive, g.ID, g.Name, rule, "administrative or database port %d is open to the world "+
				"(%s): restrict it to the peers that use it, or to a bastion's group", port, ru.Prefix)
		}
	}
	if bits < widest {
		if n := len(r.ruleUse[ru]); n <= r.o.OverBroadPeers {
			r.finding(FindingOverBroad, g.ID, g.Name, rule, "admits %s but only %d distinct peer(s) used it in the window "+
				"(threshold %d)", ru.Prefix, n, r.o.OverBroadPeers)
		}
	}
}

// sensitiveOpen returns the first sensitive port a rule admits.
func (r *recommender) sensitiveOpen(ru *vpc.SGRule) (int, bool) {
	if ru.Proto != vpc.ProtoAll && !portsChecked(ru.Proto) {
		return 0, false
	}
	from, to := portsOf(ru)
	for _, p := range r.o.SensitivePorts {
		if int32(p) >= from && int32(p) <= to {
			return int(p), true
		}
	}
	return 0, false
}

// portsOf is a TCP/UDP rule's port range (all ports for -1).
func portsOf(r *vpc.SGRule) (int32, int32) {
	if r.Proto == vpc.ProtoAll || r.FromPort == -1 {
		return 0, 65535
	}
	return r.FromPort, r.ToPort
}
