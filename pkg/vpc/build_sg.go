package vpc

import (
	"fmt"
	"strings"
)

// buildGroups normalises both input forms to one rule per peer. A group with rules in the
// describe-security-group-rules form takes all its rules from that form (it carries sgr- ids); its name and
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
			l.m.fileOf[g.ID] = s.file
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

// appendRule appends r to its group's list; Compile gives it its generated id (when it has no sgr- id) and
// its Display.
func (l *loader) appendRule(file string, g *SecurityGroup, r *SGRule) {
	r.file = file
	if r.Egress {
		g.Egress = append(g.Egress, r)
	} else {
		g.Ingress = append(g.Ingress, r)
	}
}

// protoPorts normalises a security-group rule's protocol name or number and its ports (absent means -1); see
// rulePorts.
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
	from, to, err = rulePorts(proto, get(fromP), get(toP))
	return proto, from, to, err
}
