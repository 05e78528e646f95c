package vpc

import (
	"maps"
	"net/netip"
	"slices"
	"sort"

	"go4.org/netipx"
)

// compileRules checks every ENI's groups, builds the group member sets and resolves rule peers.
func (l *loader) compileRules() {
	for _, id := range slices.Sorted(maps.Keys(l.m.ENIs)) {
		e := l.m.ENIs[id]
		for _, gid := range e.GroupIDs {
			if l.m.Groups[gid] == nil {
				// Fatal: the ENI's allowed set is the union of its groups' rules; without this group's rules
				// flowlens would report rejects for traffic AWS accepts.
				l.fatal(l.fileOf[id], id, "ENI is in security group %s, which is not loaded: its rules are unknown "+
					"(load describe-security-groups for the VPC)", gid)
				continue
			}
			l.m.members[gid] = append(l.m.members[gid], e.Addrs...)
		}
	}
	for gid, addrs := range l.m.members {
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		l.m.members[gid] = addrs
		var b netipx.IPSetBuilder
		for _, a := range addrs {
			b.Add(a)
		}
		l.m.memberSets[gid], _ = b.IPSet() // cannot fail: only valid addresses are added
	}
	empty, _ := (&netipx.IPSetBuilder{}).IPSet()
	plSets := make(map[string]*netipx.IPSet)
	for id, ps := range l.m.PrefixLists {
		var b netipx.IPSetBuilder
		for _, p := range ps {
			b.AddPrefix(p)
		}
		plSets[id], _ = b.IPSet()
	}
	for _, gid := range slices.Sorted(maps.Keys(l.m.Groups)) {
		g := l.m.Groups[gid]
		for _, r := range append(slices.Clip(g.Ingress), g.Egress...) {
			switch r.Peer {
			case PeerGroup:
				if l.m.Groups[r.RefGroupID] == nil {
					l.warn(l.fileOf[r.ID], r.ID, "group %s rule %q references group %s, which is not loaded (deleted, or in another "+
						"VPC/account): the rule matches nothing", g.ID, r.Display, r.RefGroupID)
					continue
				}
				r.set = l.m.memberSets[r.RefGroupID]
				if r.set == nil {
					r.set = empty // a group with no member ENIs loaded matches nothing
				}
			case PeerPrefixList:
				set, ok := plSets[r.PrefixListID]
				if !ok {
					l.warn(l.fileOf[r.ID], r.ID, "group %s rule %q references prefix list %s, whose entries are not loaded "+
						"(get-managed-prefix-list-entries): the rule matches nothing", g.ID, r.Display, r.PrefixListID)
					continue
				}
				r.set = set
			}
		}
	}
	for _, e := range l.m.ENIs {
		for _, gid := range e.GroupIDs {
			if g := l.m.Groups[gid]; g != nil {
				e.Ingress = append(e.Ingress, g.Ingress...)
				e.Egress = append(e.Egress, g.Egress...)
			}
		}
	}
}

// buildIndexes builds the address -> ENI and CIDR -> subnet indexes. Both are global across VPCs, so the
// same address or CIDR in two places is fatal: flows could not be attributed.
func (l *loader) buildIndexes() {
	for _, id := range slices.Sorted(maps.Keys(l.m.ENIs)) {
		e := l.m.ENIs[id]
		for _, a := range e.Addrs {
			if prev := l.m.byAddr[a]; prev != nil {
				l.fatal(l.fileOf[id], id, "address %s is also claimed by %s (VPC %s): flows on it cannot be attributed to one ENI; "+
					"the address index keeps %s (load overlapping VPCs as separate topologies)", a, prev.ID, prev.VpcID, prev.ID)
				continue
			}
			l.m.byAddr[a] = e
		}
	}
	bits4, bits6 := map[int]bool{}, map[int]bool{}
	for _, id := range slices.Sorted(maps.Keys(l.m.Subnets)) {
		sn := l.m.Subnets[id]
		for _, p := range sn.CIDRs {
			if prev := l.m.subnetByCIDR[p]; prev != nil {
				l.fatal(l.fileOf[id], id, "CIDR %s is also subnet %s's (VPC %s): addresses in it cannot be mapped to one subnet; "+
					"keeping %s (load overlapping VPCs as separate topologies)", p, prev.ID, prev.VpcID, prev.ID)
				continue
			}
			l.m.subnetByCIDR[p] = sn
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
	l.m.subnetBits4, l.m.subnetBits6 = desc(bits4), desc(bits6)
}
