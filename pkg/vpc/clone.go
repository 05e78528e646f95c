package vpc

import (
	"maps"
	"net/netip"
	"slices"
)

// Clone returns a deep copy of m that shares nothing mutable with it: groups and their rules, NACLs and their
// entries, subnets, ENIs, VPCs, prefix lists, findings and the indexes are copied and point at each other
// within the copy (compiled peer sets are immutable and shared). The copy is as compiled as m was; change it
// and call Compile (see Model). Clone only reads m, so it may run while m is being evaluated.
func (m *Model) Clone() *Model {
	c := &Model{
		VPCs:           make(map[string]*VPC, len(m.VPCs)),
		Subnets:        make(map[string]*Subnet, len(m.Subnets)),
		NACLs:          make(map[string]*NACL, len(m.NACLs)),
		Groups:         make(map[string]*SecurityGroup, len(m.Groups)),
		ENIs:           make(map[string]*ENI, len(m.ENIs)),
		PrefixLists:    make(map[string][]netip.Prefix, len(m.PrefixLists)),
		Findings:       slices.Clone(m.Findings),
		input:          slices.Clone(m.input),
		fileOf:         maps.Clone(m.fileOf),
		byAddr:         make(map[netip.Addr]*ENI, len(m.byAddr)),
		members:        make(map[string][]netip.Addr, len(m.members)),
		memberSets:     maps.Clone(m.memberSets),
		subnetByCIDR:   make(map[netip.Prefix]*Subnet, len(m.subnetByCIDR)),
		subnetBits4:    slices.Clone(m.subnetBits4),
		subnetBits6:    slices.Clone(m.subnetBits6),
		prefixListMeta: maps.Clone(m.prefixListMeta),
	}
	nacls := make(map[*NACL]*NACL, len(m.NACLs))
	for id, n := range m.NACLs {
		cn := *n
		cn.Inbound, cn.Outbound, cn.SubnetIDs = slices.Clone(n.Inbound), slices.Clone(n.Outbound), slices.Clone(n.SubnetIDs)
		c.NACLs[id], nacls[n] = &cn, &cn
	}
	subnets := make(map[*Subnet]*Subnet, len(m.Subnets))
	for id, s := range m.Subnets {
		cs := *s
		cs.CIDRs, cs.NACL = slices.Clone(s.CIDRs), nacls[s.NACL]
		c.Subnets[id], subnets[s] = &cs, &cs
	}
	rules := make(map[*SGRule]*SGRule)
	rule := func(r *SGRule) *SGRule {
		cr := rules[r]
		if cr == nil && r != nil {
			x := *r
			cr = &x
			rules[r] = cr
		}
		return cr
	}
	cloneRules := func(rs []*SGRule) []*SGRule {
		if rs == nil {
			return nil
		}
		out := make([]*SGRule, len(rs))
		for i, r := range rs {
			out[i] = rule(r)
		}
		return out
	}
	for id, g := range m.Groups {
		cg := *g
		cg.Ingress, cg.Egress = cloneRules(g.Ingress), cloneRules(g.Egress)
		c.Groups[id] = &cg
	}
	enis := make(map[*ENI]*ENI, len(m.ENIs))
	for id, e := range m.ENIs {
		ce := *e
		ce.Addrs, ce.PublicIPs, ce.GroupIDs = slices.Clone(e.Addrs), slices.Clone(e.PublicIPs), slices.Clone(e.GroupIDs)
		ce.Subnet, ce.Ingress, ce.Egress = subnets[e.Subnet], cloneRules(e.Ingress), cloneRules(e.Egress)
		c.ENIs[id], enis[e] = &ce, &ce
	}
	for id, v := range m.VPCs {
		cv := *v
		cv.DefaultNACL, cv.SubnetIDs = nacls[v.DefaultNACL], slices.Clone(v.SubnetIDs)
		c.VPCs[id] = &cv
	}
	for id, ps := range m.PrefixLists {
		c.PrefixLists[id] = slices.Clone(ps)
	}
	for a, e := range m.byAddr {
		c.byAddr[a] = enis[e]
	}
	for id, as := range m.members {
		c.members[id] = slices.Clone(as)
	}
	for p, s := range m.subnetByCIDR {
		c.subnetByCIDR[p] = subnets[s]
	}
	return c
}
