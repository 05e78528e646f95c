package vpc

// The functions in this file and in build_*.go turn decoded AWS CLI objects into model objects. They report
// what the model cannot represent (a CIDR that does not parse, an unknown protocol name, a port outside
// 0-65535, an association to a subnet that is not loaded) and drop it; every check on what the model can
// represent is Compile's, so that a model changed from Go is checked the same way.

import (
	"fmt"
	"strings"
)

// build converts the decoded objects into model objects, in dependency order (associations need subnets and
// NACLs). The caller compiles the result.
func (l *loader) build() {
	l.buildPrefixLists()
	l.buildNACLs()
	l.buildSubnets()
	l.buildAssociations()
	l.buildGroups()
	l.buildENIs()
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
		if _, ok := l.m.fileOf[id]; !ok {
			l.m.fileOf[id] = e.file
		}
		l.m.PrefixLists[id] = append(l.m.PrefixLists[id], p)
	}
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
		l.m.NACLs[n.ID] = n
	}
}

// naclEntry converts one entry; ok is false when the entry is dropped (with a fatal finding).
func (l *loader) naclEntry(file, naclID string, j naclEntryJSON) (e NACLEntry, ok bool) {
	dir := dirWord(j.Egress)
	if j.RuleNumber == nil {
		l.fatal(file, naclID, "%s entry without RuleNumber: entry dropped", dir)
		return e, false
	}
	rn := *j.RuleNumber
	where := fmt.Sprintf("%s entry %d", dir, rn)
	if int64(int(rn)) != rn {
		// Compile reports every other number outside 1-32768, with the same message.
		l.fatal(file, naclID, "%s: %v: entry dropped", where, errRuleNumber)
		return e, false
	}
	e = NACLEntry{RuleNumber: int(rn), Egress: j.Egress, ICMPType: -1, ICMPCode: -1}

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
		e.PortFrom, e.PortTo = uint16(from), uint16(to) // From > To is Compile's to report
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
			if err := checkICMP(f.name, *f.v); err != nil {
				l.fatal(file, naclID, "%s: %v: entry dropped", where, err)
				return e, false
			}
			*f.dst = int16(*f.v)
		}
	}
	return e, true
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
		l.m.Subnets[sn.ID] = sn
	}
}

// buildAssociations sets Subnet.NACL and NACLExplicit from NetworkAcls[].Associations, in input order (files
// by name) so that conflicts are reported deterministically. Compile falls back to the VPC's default NACL
// for the other subnets.
func (l *loader) buildAssociations() {
	for _, s := range l.nacls {
		n := l.m.NACLs[s.v.NetworkAclId]
		for _, a := range s.v.Associations {
			sn := l.m.Subnets[a.SubnetId]
			if sn == nil {
				l.warn(s.file, n.ID, "association to subnet %q, which is not loaded: association ignored", a.SubnetId)
				continue
			}
			if sn.NACLExplicit && sn.NACL != n {
				l.fatal(s.file, sn.ID, "subnet is associated with two NACLs (%s and %s): a subnet has exactly one; keeping %s",
					sn.NACL.ID, n.ID, sn.NACL.ID)
				continue
			}
			sn.NACL, sn.NACLExplicit = n, true
		}
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
