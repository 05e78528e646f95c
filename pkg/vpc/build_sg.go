package vpc

import (
	"fmt"
	"strings"
)

// VPC come from describe-security-groups when loaded.
func (l *loader) buildGroups() {
	fromRules := make(map[string]bool)
	for _, r := range l.rules {
		fromRules[r.v.GroupId] = r.v.GroupId != ""
	}
	for _, s := range l.groups {
		v := s.v
		g := &SecurityGroup{ID: v.GroupId, Name: v.GroupName, VpcID: v.VpcId, OwnerID: v.OwnerId, Description: v.Description}
		l.m.Groups[g.ID] = g
		l.vpc(g.VpcID)
		if fromRules[g.ID] {
			continue
		}
		for _, egress := range []bool{false, true} {
			perms := v.IpPermissions
			key := "IpPermissions"
			if egress {
				perms, key = v.IpPermissionsEgress, "IpPermissionsEgress"
			}
			for i, p := range perms {
				l.permissionRules(s.file, g, egress, fmt.Sprintf("%s[%d]", key, i), p)
			}
		}
	}
	for _, s := range l.rules {
		v := s.v
		if v.GroupId == "" {
			l.fatal(s.file, v.SecurityGroupRuleId, "rule without GroupId: skipped")
			continue
		}
		g := l.m.Groups[v.GroupId]
		if g == nil {
			g = &SecurityGroup{ID: v.GroupId, OwnerID: v.GroupOwnerId}
			l.m.Groups[g.ID] = g
			l.fileOf[g.ID] = s.file
		}
		obj := v.SecurityGroupRuleId
		if obj == "" {
			obj = g.ID
		}
		proto, from, to, err := protoPorts(string(v.IpProtocol), v.FromPort, v.ToPort)
		if err != nil {
			l.fatal(s.file, obj, "%v: rule dropped", err)
			continue
		}
		r := &SGRule{ID: v.SecurityGroupRuleId, GroupID: g.ID, Egress: v.IsEgress, Proto: proto, FromPort: from, ToPort: to,
			Description: v.Description}
		npeers := 0
		if v.CidrIpv4 != "" {
			npeers++
			r.Peer = PeerCIDR
			if !l.ruleCIDR(s.file, obj, r, "CidrIpv4", v.CidrIpv4, true) {
				continue
			}
		}
		if v.CidrIpv6 != "" {
			npeers++
			r.Peer = PeerCIDR
			if !l.ruleCIDR(s.file, obj, r, "CidrIpv6", v.CidrIpv6, false) {
				continue
			}
		}
		if v.PrefixListId != "" {
			npeers++
			r.Peer, r.PrefixListID = PeerPrefixList, v.PrefixListId
		}
		if v.ReferencedGroupInfo != nil && v.ReferencedGroupInfo.GroupId != "" {
			npeers++
			r.Peer, r.RefGroupID = PeerGroup, v.ReferencedGroupInfo.GroupId
		}
		if npeers != 1 {
			l.fatal(s.file, obj, "rule has %d peers (exactly one of CidrIpv4, CidrIpv6, PrefixListId, ReferencedGroupInfo.GroupId expected): rule dropped", npeers)
			continue
		}
		l.appendRule(s.file, g, r)
	}
}

// permissionRules expands one describe-security-groups permission into one rule per peer.
func (l *loader) permissionRules(file string, g *SecurityGroup, egress bool, path string, p permJSON) {
	proto, from, to, err := protoPorts(string(p.IpProtocol), p.FromPort, p.ToPort)
	if err != nil {
		l.fatal(file, g.ID, "%s: %v: permission dropped", path, err)
		return
	}
	mk := func(desc string) *SGRule {
		return &SGRule{GroupID: g.ID, Egress: egress, Proto: proto, FromPort: from, ToPort: to, Description: desc}
	}
	obj := g.ID + " " + path
	for _, x := range p.IpRanges {
		r := mk(x.Description)
		r.Peer = PeerCIDR
		if l.ruleCIDR(file, obj, r, "CidrIp", x.CidrIp, true) {
			l.appendRule(file, g, r)
		}
	}
	for _, x := range p.Ipv6Ranges {
		r := mk(x.Description)
		r.Peer = PeerCIDR
		if l.ruleCIDR(file, obj, r, "CidrIpv6", x.CidrIpv6, false) {
			l.appendRule(file, g, r)
		}
	}
	for _, x := range p.PrefixListIds {
		if x.PrefixListId == "" {
			l.fatal(file, g.ID, "%s: PrefixListIds entry without PrefixListId: skipped", path)
			continue
		}
		r := mk(x.Description)
		r.Peer, r.PrefixListID = PeerPrefixList, x.PrefixListId
		l.appendRule(file, g, r)
	}
	for _, x := range p.UserIdGroupPairs {
		if x.GroupId == "" {
			l.fatal(file, g.ID, "%s: UserIdGroupPairs entry without GroupId (group %q): skipped", path, x.GroupName)
			continue
		}
		r := mk(x.Description)
		r.Peer, r.RefGroupID = PeerGroup, x.GroupId
		l.appendRule(file, g, r)
	}
}

// ruleCIDR parses a rule's CIDR peer into r.Prefix; false (with a fatal finding) drops the rule.
func (l *loader) ruleCIDR(file, obj string, r *SGRule, field, s string, want4 bool) bool {
	p, canonical, err := parseCIDR(s)
	if err != nil {
		l.fatal(file, obj, "%s %q is not a CIDR: rule dropped", field, truncate(s, 60))
		return false
	}
	if p.Addr().Is4() != want4 {
		l.fatal(file, obj, "%s %s has the wrong address family: rule dropped", field, p)
		return false
	}
	if !canonical {
		l.warn(file, obj, "%s %s is not canonical; using %s", field, strings.TrimSpace(s), p)
	}
	r.Prefix = p
	return true
}

func (l *loader) appendRule(file string, g *SecurityGroup, r *SGRule) {
	list := &g.Ingress
	word := "ingress"
	if r.Egress {
		list, word = &g.Egress, "egress"
	}
	if r.ID == "" {
		r.ID = fmt.Sprintf("%s/%s/%d", g.ID, word, len(*list))
	}
	r.Display = display(r)
	l.fileOf[r.ID] = file
	*list = append(*list, r)
}

// protoPorts normalises a security-group rule's protocol and ports: TCP/UDP ports default to 0-65535 and
// -1 means all; ICMP type/code default to -1; other protocols ignore ports (-1 -1).
func protoPorts(protoStr string, fromP, toP *int64) (proto int16, from, to int32, err error) {
	proto, err = parseProto(protoStr)
	if err != nil {
		return 0, 0, 0, err
	}
	get := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	f, t := get(fromP), get(toP)
	switch {
	case portsChecked(proto):
		if f == -1 && t == -1 {
			return proto, 0, 65535, nil
		}
		if f < 0 || f > 65535 || t < 0 || t > 65535 {
			return 0, 0, 0, fmt.Errorf("%s port range %d-%d outside 0-65535", protoName(proto), f, t)
		}
		if f > t {
			return 0, 0, 0, fmt.Errorf("%s port range FromPort %d > ToPort %d matches no port", protoName(proto), f, t)
		}
		return proto, int32(f), int32(t), nil
	case icmpChecked(proto):
		if f < -1 || f > 255 || t < -1 || t > 255 {
			return 0, 0, 0, fmt.Errorf("%s type/code %d/%d outside -1..255", protoName(proto), f, t)
		}
		return proto, int32(f), int32(t), nil
	}
	return proto, -1, -1, nil
}

// display renders a rule: "tcp 22 from 10.0.0.0/8", "all to sg-abc", "icmp 8/-1 from pl-123".
func display(r *SGRule) string {
	var b strings.Builder
	b.WriteString(protoName(r.Proto))
	switch {
	case portsChecked(r.Proto):
		switch {
		case r.FromPort == -1 || (r.FromPort == 0 && r.ToPort == 65535):
			b.WriteString(" all")
		case r.FromPort == r.ToPort:
			fmt.Fprintf(&b, " %d", r.FromPort)
		default:
			fmt.Fprintf(&b, " %d-%d", r.FromPort, r.ToPort)
		}
	case icmpChecked(r.Proto):
		if r.FromPort == -1 && r.ToPort == -1 {
			b.WriteString(" all")
		} else {
			fmt.Fprintf(&b, " %d/%d", r.FromPort, r.ToPort)
		}
	}
	if r.Egress {
		b.WriteString(" to ")
	} else {
		b.WriteString(" from ")
	}
	switch r.Peer {
	case PeerCIDR:
		b.WriteString(r.Prefix.String())
	case PeerPrefixList:
		b.WriteString(r.PrefixListID)
	case PeerGroup:
		b.WriteString(r.RefGroupID)
	}
	return b.String()
}
