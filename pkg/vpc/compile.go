package vpc

// Compile: the one path by which a model, loaded or changed from Go, becomes evaluable.

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"go4.org/netipx"
)

// Compile validates and normalises the model in place and recomputes Findings, the same way for a model
// changed from Go as for one decoded from AWS CLI JSON (the loader calls Compile after decoding). It:
//   - checks NACL entries, drops invalid ones and the later of two entries with one rule number, sorts each
//     direction by rule number, sets Egress from the list an entry is in, adds missing '*' entries and
//     recomputes Default, ShadowedBy and SubnetIDs;
//   - checks security-group rules, drops invalid ones, sets GroupID and Egress from the list a rule is in,
//     renumbers generated ids ("GROUP/ingress/N", N the rule's index) of rules without an sgr- id of their
//     own, and recomputes Display;
//   - gives each subnet its NACL (its explicit association, resolved by NACL id, else its VPC's default NACL),
//     each ENI its Subnet and the union of its groups' rules, each group or prefix-list reference its
//     addresses (a group's are its member ENIs' private addresses), and rebuilds VPCs and the indexes.
//
// Findings about input that Compile dropped or rewrote stay in Findings on later Compile calls (that input is
// gone, and the model still lacks it); every other finding describes the current model and is recomputed,
// so Compile on a compiled, unchanged model changes nothing. Compile returns FatalError().
//
// Compile needs exclusive access to m: nothing may evaluate m, or an Engine built on it, while it runs. It
// replaces the NACL entry and rule slices, so an Engine built on m before Compile must be built again.
func (m *Model) Compile() error {
	m.reset()
	c := &compiler{m: m}
	c.compilePrefixLists()
	c.compileNACLs()
	c.compileSubnets()
	c.compileGroups()
	c.compileENIs()
	c.compilePeers()
	c.buildIndexes()
	c.checkInterfaces()
	m.input = append(m.input, c.changes...)
	f := make([]Finding, 0, len(m.input)+len(c.checks))
	f = append(append(f, m.input...), c.checks...)
	sort.SliceStable(f, func(i, j int) bool { return f[i].File < f[j].File })
	m.Findings = f
	return m.FatalError()
}

// reset makes the maps Compile fills, drops nil objects (a caller's way of removing one) and clears the
// derived state Compile rebuilds.
func (m *Model) reset() {
	if m.Subnets == nil {
		m.Subnets = make(map[string]*Subnet)
	}
	if m.NACLs == nil {
		m.NACLs = make(map[string]*NACL)
	}
	if m.Groups == nil {
		m.Groups = make(map[string]*SecurityGroup)
	}
	if m.ENIs == nil {
		m.ENIs = make(map[string]*ENI)
	}
	if m.PrefixLists == nil {
		m.PrefixLists = make(map[string][]netip.Prefix)
	}
	if m.fileOf == nil {
		m.fileOf = make(map[string]string)
	}
	if m.prefixListMeta == nil {
		m.prefixListMeta = make(map[string]prefixListMeta)
	}
	maps.DeleteFunc(m.Subnets, func(_ string, v *Subnet) bool { return v == nil })
	maps.DeleteFunc(m.NACLs, func(_ string, v *NACL) bool { return v == nil })
	maps.DeleteFunc(m.Groups, func(_ string, v *SecurityGroup) bool { return v == nil })
	maps.DeleteFunc(m.ENIs, func(_ string, v *ENI) bool { return v == nil })
	m.VPCs = make(map[string]*VPC)
	m.byAddr = make(map[netip.Addr]*ENI)
	m.members = make(map[string][]netip.Addr)
	m.memberSets = make(map[string]*netipx.IPSet)
	m.subnetByCIDR = make(map[netip.Prefix]*Subnet)
	m.subnetBits4, m.subnetBits6 = nil, nil
}

// compiler collects one Compile call's findings.
type compiler struct {
	m       *Model
	changes []Finding // about input Compile dropped or rewrote: kept in m.input for later calls
	checks  []Finding // about the compiled model: recomputed by every call
}

func (c *compiler) change(sev Severity, file, obj, format string, args ...any) {
	c.changes = append(c.changes, Finding{Severity: sev, File: file, Object: obj, Message: fmt.Sprintf(format, args...)})
}

// drop reports input that Compile dropped.
func (c *compiler) drop(file, obj, format string, args ...any) {
	c.change(Fatal, file, obj, format, args...)
}

func (c *compiler) check(sev Severity, file, obj, format string, args ...any) {
	c.checks = append(c.checks, Finding{Severity: sev, File: file, Object: obj, Message: fmt.Sprintf(format, args...)})
}

func (c *compiler) warn(file, obj, format string, args ...any) {
	c.check(Warning, file, obj, format, args...)
}
func (c *compiler) fatal(file, obj, format string, args ...any) {
	c.check(Fatal, file, obj, format, args...)
}

// vpc returns the VPC with that id, creating it; nil for "".
func (c *compiler) vpc(id string) *VPC {
	if id == "" {
		return nil
	}
	v := c.m.VPCs[id]
	if v == nil {
		v = &VPC{ID: id}
		c.m.VPCs[id] = v
	}
	return v
}

func (c *compiler) compilePrefixLists() {
	for _, id := range slices.Sorted(maps.Keys(c.m.PrefixLists)) {
		ps := slices.Clone(c.m.PrefixLists[id])
		for i, p := range ps {
			ps[i] = c.masked(c.m.fileOf[id], id, "entry", p)
		}
		slices.SortFunc(ps, comparePrefix)
		c.m.PrefixLists[id] = slices.Compact(ps)
	}
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// compileNACLs compiles every NACL's entries and finds each VPC's default NACL.
func (c *compiler) compileNACLs() {
	for _, id := range slices.Sorted(maps.Keys(c.m.NACLs)) {
		n, file := c.m.NACLs[id], c.m.fileOf[id]
		n.Inbound = c.entries(file, id, false, n.Inbound)
		n.Outbound = c.entries(file, id, true, n.Outbound)
		n.SubnetIDs = nil
		if vp := c.vpc(n.VpcID); vp != nil && n.IsDefault {
			if vp.DefaultNACL != nil {
				c.fatal(file, id, "VPC %s has two default NACLs (%s and %s): which one guards unassociated subnets is ambiguous",
					n.VpcID, vp.DefaultNACL.ID, id)
			} else {
				vp.DefaultNACL = n
			}
		} else if n.IsDefault {
			c.fatal(file, id, "default NACL without VpcId: it cannot be the default of any subnet")
		}
	}
}

// compileSubnets checks subnets and gives each its NACL: the explicitly associated one (resolved by id, so
// that a NACL replaced in NACLs takes effect), else its VPC's default NACL.
func (c *compiler) compileSubnets() {
	for _, id := range slices.Sorted(maps.Keys(c.m.Subnets)) {
		sn, file := c.m.Subnets[id], c.m.fileOf[id]
		sn.CIDRs = slices.Clone(sn.CIDRs)
		for i, p := range sn.CIDRs {
			sn.CIDRs[i] = c.masked(file, id, "CIDR", p)
		}
		if len(sn.CIDRs) == 0 {
			c.warn(file, id, "subnet has no usable CIDR: no address maps to it")
		}
		if vp := c.vpc(sn.VpcID); vp != nil {
			vp.SubnetIDs = append(vp.SubnetIDs, id)
		} else {
			c.warn(file, id, "subnet without VpcId: it cannot use a VPC default NACL")
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.m.Subnets)) {
		sn, file := c.m.Subnets[id], c.m.fileOf[id]
		if sn.NACLExplicit && sn.NACL != nil {
			if n := c.m.NACLs[sn.NACL.ID]; n != nil {
				sn.NACL = n
			} else {
				// As in AWS, where a subnet whose NACL goes away is associated with its VPC's default NACL.
				c.change(Warning, file, id, "associated NACL %s is not in the model: association dropped, the VPC's default NACL applies",
					sn.NACL.ID)
				sn.NACL, sn.NACLExplicit = nil, false
			}
		} else {
			sn.NACL, sn.NACLExplicit = nil, false
		}
		if sn.NACL == nil {
			if vp := c.m.VPCs[sn.VpcID]; vp != nil && vp.DefaultNACL != nil {
				sn.NACL = vp.DefaultNACL
			} else {
				c.fatal(file, id, "no NACL association and no default NACL loaded for VPC %q: the subnet's NACL is unknown "+
					"(load describe-network-acls for the VPC)", sn.VpcID)
				continue
			}
		}
		sn.NACL.SubnetIDs = append(sn.NACL.SubnetIDs, id)
	}
}

func (c *compiler) compileGroups() {
	for _, id := range slices.Sorted(maps.Keys(c.m.Groups)) {
		g := c.m.Groups[id]
		c.vpc(g.VpcID)
		g.Ingress = c.rules(g, false, g.Ingress)
		g.Egress = c.rules(g, true, g.Egress)
	}
}

// checkInterfaces reports a model without ENIs: flow records are judged on the ENI that logged them, so a
// replay against it would judge nothing (every record would be "ENI not in the topology").
func (c *compiler) checkInterfaces() {
	if len(c.m.ENIs) > 0 {
		return
	}
	vpcs := strings.Join(slices.Sorted(maps.Keys(c.m.VPCs)), ",")
	if vpcs == "" {
		vpcs = "VPC_ID"
	}
	c.fatal("", "", "the topology has no network interfaces, so a replay would judge no flow: add the output of "+
		"aws ec2 describe-network-interfaces --filters Name=vpc-id,Values=%s", vpcs)
}

// compileENIs checks ENIs and links each to its subnet.
func (c *compiler) compileENIs() {
	for _, id := range slices.Sorted(maps.Keys(c.m.ENIs)) {
		e, file := c.m.ENIs[id], c.m.fileOf[id]
		e.Subnet, e.Ingress, e.Egress = nil, nil, nil
		if len(e.Addrs) == 0 {
			c.warn(file, id, "ENI has no private address: no flow can be attributed to it")
		}
		if vp := c.vpc(e.VpcID); vp == nil && e.SubnetID == "" {
			c.fatal(file, id, "ENI has neither SubnetId nor VpcId: its NACL is unknown")
			continue
		}
		sn := c.m.Subnets[e.SubnetID]
		if sn == nil {
			// Fatal: without the subnet flowlens knows neither the NACL the ENI's traffic crosses nor which
			// peers share its subnet (and skip the NACL), so every verdict on this ENI could be wrong.
			c.fatal(file, id, "ENI is in subnet %q, which is not loaded: its NACL and subnet boundary are unknown "+
				"(load describe-subnets and describe-network-acls for VPC %q)", e.SubnetID, e.VpcID)
			continue
		}
		e.Subnet = sn
		if e.VpcID == "" {
			e.VpcID = sn.VpcID
		}
		for _, a := range e.Addrs {
			if !slices.ContainsFunc(sn.CIDRs, func(p netip.Prefix) bool { return p.Contains(a) }) {
				c.warn(file, id, "address %s is outside subnet %s's CIDRs", a, sn.ID)
			}
		}
	}
}

// compilePeers checks every ENI's groups, builds the group member sets, resolves rule peers and gives each
// ENI the union of its groups' rules.
func (c *compiler) compilePeers() {
	for _, id := range slices.Sorted(maps.Keys(c.m.ENIs)) {
		e := c.m.ENIs[id]
		for _, gid := range e.GroupIDs {
			if c.m.Groups[gid] == nil {
				// Fatal: the ENI's allowed set is the union of its groups' rules; without this group's rules
				// flowlens would report rejects for traffic AWS accepts.
				c.fatal(c.m.fileOf[id], id, "ENI is in security group %s, which is not loaded: its rules are unknown "+
					"(load describe-security-groups for the VPC)", gid)
				continue
			}
			c.m.members[gid] = append(c.m.members[gid], e.Addrs...)
		}
	}
	for gid, addrs := range c.m.members {
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		c.m.members[gid] = addrs
		var b netipx.IPSetBuilder
		for _, a := range addrs {
			b.Add(a)
		}
		c.m.memberSets[gid], _ = b.IPSet() // cannot fail: only valid addresses are added
	}
	empty, _ := (&netipx.IPSetBuilder{}).IPSet()
	plSets := make(map[string]*netipx.IPSet)
	for id, ps := range c.m.PrefixLists {
		var b netipx.IPSetBuilder
		for _, p := range ps {
			b.AddPrefix(p)
		}
		plSets[id], _ = b.IPSet()
	}
	for _, gid := range slices.Sorted(maps.Keys(c.m.Groups)) {
		g := c.m.Groups[gid]
		for _, r := range append(slices.Clip(g.Ingress), g.Egress...) {
			switch r.Peer {
			case PeerGroup:
				if c.m.Groups[r.RefGroupID] == nil {
					c.warn(c.ruleFile(r), r.ID, "group %s rule %q references group %s, which is not loaded (deleted, or in another "+
						"VPC/account): the rule matches nothing", g.ID, r.Display, r.RefGroupID)
					continue
				}
				r.set = c.m.memberSets[r.RefGroupID]
				if r.set == nil {
					r.set = empty // a group with no member ENIs loaded matches nothing
				}
			case PeerPrefixList:
				set, ok := plSets[r.PrefixListID]
				if !ok {
					c.warn(c.ruleFile(r), r.ID, "group %s rule %q references prefix list %s, whose entries are not loaded "+
						"(get-managed-prefix-list-entries): the rule matches nothing", g.ID, r.Display, r.PrefixListID)
					continue
				}
				r.set = set
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(c.m.ENIs)) {
		e := c.m.ENIs[id]
		for _, gid := range e.GroupIDs {
			if g := c.m.Groups[gid]; g != nil {
				e.Ingress = append(e.Ingress, g.Ingress...)
				e.Egress = append(e.Egress, g.Egress...)
			}
		}
	}
}

// buildIndexes builds the address -> ENI and CIDR -> subnet indexes. Both are global across VPCs, so the
// same address or CIDR in two places is fatal: flows could not be attributed.
func (c *compiler) buildIndexes() {
	for _, id := range slices.Sorted(maps.Keys(c.m.ENIs)) {
		e := c.m.ENIs[id]
		for _, a := range e.Addrs {
			if prev := c.m.byAddr[a]; prev != nil {
				c.fatal(c.m.fileOf[id], id, "address %s is also claimed by %s (VPC %s): flows on it cannot be attributed to one ENI; "+
					"the address index keeps %s (load overlapping VPCs as separate topologies)", a, prev.ID, prev.VpcID, prev.ID)
				continue
			}
			c.m.byAddr[a] = e
		}
	}
	bits4, bits6 := map[int]bool{}, map[int]bool{}
	for _, id := range slices.Sorted(maps.Keys(c.m.Subnets)) {
		sn := c.m.Subnets[id]
		for _, p := range sn.CIDRs {
			if prev := c.m.subnetByCIDR[p]; prev != nil {
				c.fatal(c.m.fileOf[id], id, "CIDR %s is also subnet %s's (VPC %s): addresses in it cannot be mapped to one subnet; "+
					"keeping %s (load overlapping VPCs as separate topologies)", p, prev.ID, prev.VpcID, prev.ID)
				continue
			}
			c.m.subnetByCIDR[p] = sn
			if p.Addr().Is4() {
				bits4[p.Bits()] = true
			} else {
				bits6[p.Bits()] = true
			}
		}
	}
	desc := func(m map[int]bool) []int {
		var s []int
		for b := range m {
			s = append(s, b)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(s)))
		return s
	}
	c.m.subnetBits4, c.m.subnetBits6 = desc(bits4), desc(bits6)
}
