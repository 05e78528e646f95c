package vpc

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// build turns the decoded objects into the compiled model, in dependency order.
func (l *loader) build() {
	l.buildPrefixLists()
	l.buildNACLs()
	l.buildSubnets()
	l.buildGroups()
	l.buildENIs()
	l.compileRules()
	l.buildIndexes()
}

func (l *loader) vpc(id string) *VPC {
	if id == "" {
		return nil
	}
	v := l.m.VPCs[id]
	if v == nil {
		v = &VPC{ID: id}
		l.m.VPCs[id] = v
	}
	return v
}

func (l *loader) buildPrefixLists() {
	for i, e := range l.plEntries {
		id := l.plOf[i]
		p, canonical, err := parseCIDR(e.v.Cidr)
		if err != nil {
			l.fatal(e.file, id, "entry %q is not a CIDR: %v; entry skipped", truncate(e.v.Cidr, 60), err)
			continue
		}
		if !canonical {
			l.warn(e.file, id, "entry %s is not canonical; using %s", strings.TrimSpace(e.v.Cidr), p)
		}
		if _, ok := l.fileOf[id]; !ok {
			l.fileOf[id] = e.file
		}
		l.m.PrefixLists[id] = append(l.m.PrefixLists[id], p)
	}
	for id, ps := range l.m.PrefixLists {
		slices.SortFunc(ps, comparePrefix)
		l.m.PrefixLists[id] = slices.Compact(ps)
	}
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func dirWord(egress bool) string {
	if egress {
		return "outbound"
	}
	return "inbound"
}

func (l *loader) buildNACLs() {
	for _, s := range l.nacls {
		v := s.v
		n := &NACL{ID: v.NetworkAclId, VpcID: v.VpcId, OwnerID: v.OwnerId, IsDefault: v.IsDefault}
		for _, ej := range v.Entries {
			e, ok := l.naclEntry(s.file, n.ID, ej)
			if !ok {
				continue
			}
			if e.Egress {
				n.Outbound = append(n.Outbound, e)
			} else {
				n.Inbound = append(n.Inbound, e)
			}
		}
		n.Inbound = l.finishEntries(s.file, n.ID, false, n.Inbound)
		n.Outbound = l.finishEntries(s.file, n.ID, true, n.Outbound)
		l.m.NACLs[n.ID] = n
		if vp := l.vpc(n.VpcID); vp != nil && n.IsDefault {
			if vp.DefaultNACL != nil {
				l.fatal(s.file, n.ID, "VPC %s has two default NACLs (%s and %s): which one guards unassociated subnets is ambiguous",
					n.VpcID, vp.DefaultNACL.ID, n.ID)
			} else {
				vp.DefaultNACL = n
			}
		} else if n.IsDefault {
			l.fatal(s.file, n.ID, "default NACL without VpcId: it cannot be the default of any subnet")
		}
	}
}

// naclEntry validates and converts one entry; ok is false when the entry is dropped (with a fatal finding).
func (l *loader) naclEntry(file, naclID string, j naclEntryJSON) (e NACLEntry, ok bool) {
	dir := dirWord(j.Egress)
	if j.RuleNumber == nil {
		l.fatal(file, naclID, "%s entry without RuleNumber: entry dropped", dir)
		return e, false
	}
	rn := *j.RuleNumber
	where := fmt.Sprintf("%s entry %d", dir, rn)
	if rn < 1 || rn > DefaultRuleV6 {
		l.fatal(file, naclID, "%s: RuleNumber out of range 1-32766 (32767/32768 for '*'): entry dropped", where)
		return e, false
	}
	e = NACLEntry{RuleNumber: int(rn), Egress: j.Egress, ICMPType: -1, ICMPCode: -1}
	e.Default = rn >= DefaultRuleV4

	switch {
	case j.CidrBlock != "" && j.Ipv6CidrBlock != "":
		l.fatal(file, naclID, "%s: has both CidrBlock and Ipv6CidrBlock: entry dropped", where)
		return e, false
	case j.CidrBlock == "" && j.Ipv6CidrBlock == "":
		l.fatal(file, naclID, "%s: no CidrBlock or Ipv6CidrBlock, so it matches no address: entry dropped", where)
		return e, false
	}
	field, s, want4 := "CidrBlock", j.CidrBlock, true
	if j.Ipv6CidrBlock != "" {
		field, s, want4 = "Ipv6CidrBlock", j.Ipv6CidrBlock, false
	}
	p, canonical, err := parseCIDR(s)
	if err != nil {
		l.fatal(file, naclID, "%s: %s %q is not a CIDR: entry dropped", where, field, truncate(s, 60))
		return e, false
	}
	if p.Addr().Is4() != want4 {
		l.fatal(file, naclID, "%s: %s %s has the wrong address family: entry dropped", where, field, p)
		return e, false
	}
	if !canonical {
		l.warn(file, naclID, "%s: %s %s is not canonical; using %s", where, field, strings.TrimSpace(s), p)
	}
	e.Prefix = p

	switch strings.ToLower(strings.TrimSpace(j.RuleAction)) {
	case "allow":
		e.Action = Allow
	case "deny":
		e.Action = Deny
	default:
		l.fatal(file, naclID, "%s: RuleAction %q is neither allow nor deny: entry dropped", where, truncate(j.RuleAction, 40))
		return e, false
	}

	e.Proto, err = parseProto(string(j.Protocol))
	if err != nil {
		l.fatal(file, naclID, "%s: %v: entry dropped", where, err)
		return e, false
	}
	switch {
	case portsChecked(e.Proto):
		e.PortFrom, e.PortTo = 0, 65535
		if j.PortRange == nil || j.PortRange.From == nil || j.PortRange.To == nil {
			l.warn(file, naclID, "%s: %s entry without a complete PortRange: treated as all ports 0-65535", where, protoName(e.Proto))
			break
		}
		from, to := *j.PortRange.From, *j.PortRange.To
		if from < 0 || from > 65535 || to < 0 || to > 65535 {
			l.fatal(file, naclID, "%s: PortRange %d-%d outside 0-65535: entry dropped", where, from, to)
			return e, false
		}
		if from > to {
			l.fatal(file, naclID, "%s: PortRange From %d > To %d matches no port: entry dropped", where, from, to)
			return e, false
		}
		e.PortFrom, e.PortTo = uint16(from), uint16(to)
	case icmpChecked(e.Proto):
		if j.IcmpTypeCode == nil {
			break // all types and codes
		}
		for _, f := range []struct {
			name string
			v    *int64
			dst  *int16
		}{{"Type", j.IcmpTypeCode.Type, &e.ICMPType}, {"Code", j.IcmpTypeCode.Code, &e.ICMPCode}} {
			if f.v == nil {
				continue
			}
			if *f.v < -1 || *f.v > 255 {
				l.fatal(file, naclID, "%s: IcmpTypeCode.%s %d outside -1..255: entry dropped", where, f.name, *f.v)
				return e, false
			}
			*f.dst = int16(*f.v)
		}
	}
	return e, true
}

// finishEntries sorts one direction's entries, rejects duplicate rule numbers, adds missing '*' entries and
// computes ShadowedBy.
func (l *loader) finishEntries(file, naclID string, egress bool, es []NACLEntry) []NACLEntry {
	sort.SliceStable(es, func(i, j int) bool { return es[i].RuleNumber < es[j].RuleNumber })
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.RuleNumber == es[i-1].RuleNumber {
			l.fatal(file, naclID, "two %s entries numbered %d: evaluation order is ambiguous; keeping the first", dirWord(egress), e.RuleNumber)
			continue
		}
		out = append(out, e)
	}
	es = out
	has4, has6 := false, false
	for _, e := range es {
		if e.RuleNumber == DefaultRuleV4 {
			has4 = true
		}
		if e.RuleNumber == DefaultRuleV6 {
			has6 = true
		}
	}
	if !has4 {
		es = append(es, defaultEntry(egress, false))
	}
	if !has6 {
		es = append(es, defaultEntry(egress, true))
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].RuleNumber < es[j].RuleNumber })
	for j := range es {
		for i := 0; i < j; i++ {
			if covers(&es[i], &es[j]) {
				es[j].ShadowedBy = es[i].RuleNumber
				break
			}
		}
		if es[j].ShadowedBy != 0 && !es[j].Default {
			l.warn(file, naclID, "%s entry %d is shadowed by entry %d, which matches every packet it matches: it never decides",
				dirWord(egress), es[j].RuleNumber, es[j].ShadowedBy)
		}
	}
	return es
}

// covers reports whether every packet b matches is also matched by a (regardless of action).
func covers(a, b *NACLEntry) bool {
	if a.Prefix.Addr().Is4() != b.Prefix.Addr().Is4() || a.Prefix.Bits() > b.Prefix.Bits() || !a.Prefix.Contains(b.Prefix.Addr()) {
		return false
	}
	if a.Proto == ProtoAll {
		return true
	}
	if a.Proto != b.Proto {
		return false
	}
	switch {
	case portsChecked(a.Proto):
		return a.PortFrom <= b.PortFrom && b.PortTo <= a.PortTo
	case icmpChecked(a.Proto):
		return (a.ICMPType == -1 || a.ICMPType == b.ICMPType) && (a.ICMPCode == -1 || a.ICMPCode == b.ICMPCode)
	}
	return true
}

func (l *loader) buildSubnets() {
	for _, s := range l.subnets {
		v := s.v
		sn := &Subnet{ID: v.SubnetId, VpcID: v.VpcId, AZ: v.AvailabilityZone, OwnerID: v.OwnerId}
		if v.CidrBlock != "" {
			l.subnetCIDR(s.file, sn, "CidrBlock", v.CidrBlock, true)
		}
		for _, a := range v.Ipv6CidrBlockAssociationSet {
			if a.Ipv6CidrBlockState != nil {
				switch a.Ipv6CidrBlockState.State {
				case "disassociating", "disassociated", "failing", "failed":
					continue
				}
			}
			l.subnetCIDR(s.file, sn, "Ipv6CidrBlock", a.Ipv6CidrBlock, false)
		}
		if len(sn.CIDRs) == 0 {
			l.warn(s.file, sn.ID, "subnet has no usable CIDR: no address maps to it")
		}
		l.m.Subnets[sn.ID] = sn
		if vp := l.vpc(sn.VpcID); vp != nil {
			vp.SubnetIDs = append(vp.SubnetIDs, sn.ID)
		} else {
			l.warn(s.file, sn.ID, "subnet without VpcId: it cannot use a VPC default NACL")
		}
	}

	// Explicit associations, in input order (files by name) so that conflicts are reported deterministically.
	assocs := make(map[string]*NACL)
	for _, s := range l.nacls {
		n := l.m.NACLs[s.v.NetworkAclId]
		for _, a := range s.v.Associations {
			sn := l.m.Subnets[a.SubnetId]
			if sn == nil {
				l.warn(s.file, n.ID, "association to subnet %q, which is not loaded: association ignored", a.SubnetId)
				continue
			}
			if prev := assocs[sn.ID]; prev != nil && prev != n {
				l.fatal(s.file, sn.ID, "subnet is associated with two NACLs (%s and %s): a subnet has exactly one; keeping %s",
					prev.ID, n.ID, prev.ID)
				continue
			}
			assocs[sn.ID] = n
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.m.Subnets)) {
		sn := l.m.Subnets[id]
		if n := assocs[id]; n != nil {
			sn.NACL, sn.NACLExplicit = n, true
		} else if vp := l.m.VPCs[sn.VpcID]; vp != nil && vp.DefaultNACL != nil {
			sn.NACL = vp.DefaultNACL
		} else {
			l.fatal(l.fileOf[id], id, "no NACL association and no default NACL loaded for VPC %q: the subnet's NACL is unknown "+
				"(load describe-network-acls for the VPC)", sn.VpcID)
			continue
		}
		sn.NACL.SubnetIDs = append(sn.NACL.SubnetIDs, id)
	}
	for _, vp := range l.m.VPCs {
		sort.Strings(vp.SubnetIDs)
	}
}

func (l *loader) subnetCIDR(file string, sn *Subnet, field, s string, want4 bool) {
	p, canonical, err := parseCIDR(s)
	if err != nil {
		l.fatal(file, sn.ID, "%s %q is not a CIDR: ignored, so its addresses map to no subnet", field, truncate(s, 60))
		return
	}
	if p.Addr().Is4() != want4 {
		l.fatal(file, sn.ID, "%s %s has the wrong address family: ignored", field, p)
		return
	}
	if !canonical {
		l.warn(file, sn.ID, "%s %s is not canonical; using %s", field, strings.TrimSpace(s), p)
	}
	sn.CIDRs = append(sn.CIDRs, p)
}

// buildGroups normalises both input forms to one rule per peer. A group with rules in the
// describe-security-group-rules form takes all its rules from that form (it carries sgr- ids); its name and
