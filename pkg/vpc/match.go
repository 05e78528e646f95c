package vpc

import "net/netip"

// The functions in this file are the per-record path: they only compare integers and prefixes, and never
// allocate (TestNoAllocs guards it).

// portsChecked reports whether a rule with protocol proto restricts ports (TCP and UDP only).
func portsChecked(proto int16) bool { return proto == ProtoTCP || proto == ProtoUDP }

// icmpChecked reports whether a rule with protocol proto restricts ICMP type and code.
func icmpChecked(proto int16) bool { return proto == ProtoICMP || proto == ProtoICMPv6 }

// icmpMatches matches a rule's ICMP type/code (-1 all) against a packet's (ICMPUnknown: see UnknownICMPMatches).
func icmpMatches(ruleType, ruleCode int16, p *Packet) bool {
	if ruleType != -1 && ruleType != p.ICMPType && !(p.ICMPType == ICMPUnknown && UnknownICMPMatches) {
		return false
	}
	if ruleCode != -1 && ruleCode != p.ICMPCode && !(p.ICMPCode == ICMPUnknown && UnknownICMPMatches) {
		return false
	}
	return true
}

// Matches reports whether the entry matches p: the peer (p.Src for inbound, p.Dst for outbound) is in the
// entry's prefix of the same family, the protocol matches, and, for TCP/UDP, p.DstPort is in the port range;
// for ICMP/ICMPv6, the type and code match (see UnknownICMPMatches).
func (e *NACLEntry) Matches(p Packet) bool {
	peer := p.Src
	if e.Egress {
		peer = p.Dst
	}
	return e.match(peer, &p)
}

// match is Matches with the peer chosen once per NACL walk; the cheap protocol test runs before the prefix test.
func (e *NACLEntry) match(peer netip.Addr, p *Packet) bool {
	if e.Proto != ProtoAll {
		if e.Proto != int16(p.Proto) {
			return false
		}
		switch {
		case portsChecked(e.Proto):
			if p.DstPort < e.PortFrom || p.DstPort > e.PortTo {
				return false
			}
		case icmpChecked(e.Proto):
			if !icmpMatches(e.ICMPType, e.ICMPCode, p) {
				return false
			}
		}
	}
	return e.Prefix.Contains(peer)
}

// RestrictsICMP reports whether the entry is for ICMP or ICMPv6 and limited to one type or code, so that its
// match on a packet with ICMPUnknown type is an assumption.
func (e *NACLEntry) RestrictsICMP() bool {
	return icmpChecked(e.Proto) && (e.ICMPType != -1 || e.ICMPCode != -1)
}

// Evaluate returns the entry that decides p in direction dir: entries are checked in ascending rule number;
// the first match decides; no match is the '*' deny of p's family. It never returns nil (a NACL without a
// matching '*' entry, which Load never builds, yields a package-level deny entry) and returns a pointer into
// Inbound or Outbound otherwise.
func (n *NACL) Evaluate(dir Direction, p Packet) *NACLEntry {
	en, _ := n.EvaluateAt(dir, &p)
	return en
}

// EvaluateAt is Evaluate that also returns the entry's position in Inbound or Outbound (-1 for the
// package-level deny), and reads p in place.
func (n *NACL) EvaluateAt(dir Direction, p *Packet) (*NACLEntry, int) {
	entries, peer, i := n.Inbound, p.Src, 0
	if dir == Egress {
		entries, peer, i = n.Outbound, p.Dst, 2
	}
	for j := range entries {
		if entries[j].match(peer, p) {
			return &entries[j], j
		}
	}
	if peer.Is6() {
		i++
	}
	return &fallbackDeny[i], -1
}

// fallbackDeny is returned by Evaluate for packets that no entry matches (a zero Addr, or a NACL built
// without '*' entries outside Load). Callers must not modify it.
var fallbackDeny = [4]NACLEntry{
	defaultEntry(false, false), defaultEntry(false, true),
	defaultEntry(true, false), defaultEntry(true, true),
}

// defaultEntry returns the synthesized '*' deny entry of one direction and family.
func defaultEntry(egress, v6 bool) NACLEntry {
	e := NACLEntry{RuleNumber: DefaultRuleV4, Egress: egress, Action: Deny, Prefix: netip.MustParsePrefix("0.0.0.0/0"),
		Proto: ProtoAll, ICMPType: -1, ICMPCode: -1, Default: true, Synthesized: true}
	if v6 {
		e.RuleNumber, e.Prefix = DefaultRuleV6, netip.MustParsePrefix("::/0")
	}
	return e
}

// Matches reports whether the rule allows p: the peer (p.Src for ingress rules, p.Dst for egress) is in the
// rule's CIDR, prefix list or referenced group's member addresses; the protocol matches; for TCP/UDP,
// p.DstPort is in FromPort..ToPort; for ICMP/ICMPv6, the type and code match (see UnknownICMPMatches).
func (r *SGRule) Matches(p Packet) bool { return r.match(&p) }

// match is Matches without copying the packet for every rule EvalSG tries.
func (r *SGRule) match(p *Packet) bool {
	if !r.allowsService(p) {
		return false
	}
	peer := p.Src
	if r.Egress {
		peer = p.Dst
	}
	return r.peerContains(peer)
}

// allowsService matches the rule's protocol, ports and ICMP type and code against p, whatever the peer.
func (r *SGRule) allowsService(p *Packet) bool {
	if r.Proto != ProtoAll {
		if r.Proto != int16(p.Proto) {
			return false
		}
		switch {
		case portsChecked(r.Proto):
			if r.FromPort != -1 && (int32(p.DstPort) < r.FromPort || int32(p.DstPort) > r.ToPort) {
				return false
			}
		case icmpChecked(r.Proto):
			if !icmpMatches(int16(r.FromPort), int16(r.ToPort), p) {
				return false
			}
		}
	}
	return true
}

func (r *SGRule) peerContains(a netip.Addr) bool {
	switch r.Peer {
	case PeerCIDR:
		return r.Prefix.Contains(a)
	case PeerPrefixList, PeerGroup:
		return r.set != nil && r.set.Contains(a)
	}
	return false
}

// RestrictsICMP reports whether the rule is for ICMP or ICMPv6 and limited to one type or code, so that its
// match on a packet with ICMPUnknown type is an assumption.
func (r *SGRule) RestrictsICMP() bool {
	return icmpChecked(r.Proto) && (r.FromPort != -1 || r.ToPort != -1)
}

// AllPeers reports whether the rule's peer is the CIDR 0.0.0.0/0 (for an IPv4 p) or ::/0 (for an IPv6 p).
// Prefix lists and groups never count, even when they contain every address.
func (r *SGRule) AllPeers(p Packet) bool {
	return r.Peer == PeerCIDR && r.Prefix.Bits() == 0 && r.Prefix.Addr().Is4() == p.Src.Is4()
}

// AllPorts reports whether the rule allows every port of its protocol: protocol -1, or TCP/UDP 0-65535.
func (r *SGRule) AllPorts() bool {
	if r.Proto == ProtoAll {
		return true
	}
	return portsChecked(r.Proto) && (r.FromPort == -1 || (r.FromPort == 0 && r.ToPort == 65535))
}

// HasSG reports whether security groups filter this ENI's traffic. ENIs without groups (NAT gateway,
// transit gateway attachment and similar AWS-managed interfaces) are not filtered by security groups at all,
// so EvalSG's nil (implicit deny) does not apply to them.
func (e *ENI) HasSG() bool { return len(e.GroupIDs) > 0 }

// EvalSG returns the first of the ENI's rules in dir that matches p, or nil (implicit deny). Allocation-free.
func (e *ENI) EvalSG(dir Direction, p Packet) *SGRule {
	r, _ := e.EvalSGAt(dir, &p)
	return r
}

// EvalSGAt is EvalSG that also returns the rule's position in Ingress or Egress (-1 for none), and reads p
// in place.
func (e *ENI) EvalSGAt(dir Direction, p *Packet) (*SGRule, int) { return e.EvalSGFrom(dir, p, 0) }

// EvalSGFrom is EvalSGAt that starts at position from of the ENI's rules in dir. A security group is a union
// of allows: calling it again with the previous position + 1 walks every rule that allows p, in model order.
func (e *ENI) EvalSGFrom(dir Direction, p *Packet, from int) (*SGRule, int) {
	rules := e.Ingress
	if dir == Egress {
		rules = e.Egress
	}
	for j := from; j < len(rules); j++ {
		if rules[j].match(p) {
			return rules[j], j
		}
	}
	return nil, -1
}

// Overlaps reports whether some packet could match both r and o, rules of one direction: their protocols,
// port ranges (or ICMP types and codes) and peers intersect. It is exact for CIDR peers and for prefix lists
// and groups as compiled; a rule whose peer matches nothing overlaps nothing.
func (r *SGRule) Overlaps(o *SGRule) bool {
	if r.Proto != ProtoAll && o.Proto != ProtoAll {
		if r.Proto != o.Proto {
			return false
		}
		switch {
		case portsChecked(r.Proto):
			if r.FromPort != -1 && o.FromPort != -1 && (r.ToPort < o.FromPort || o.ToPort < r.FromPort) {
				return false
			}
		case icmpChecked(r.Proto):
			if (r.FromPort != -1 && o.FromPort != -1 && r.FromPort != o.FromPort) ||
				(r.ToPort != -1 && o.ToPort != -1 && r.ToPort != o.ToPort) {
				return false
			}
		}
	}
	switch {
	case r.Peer == PeerCIDR && o.Peer == PeerCIDR:
		return r.Prefix.Overlaps(o.Prefix)
	case r.Peer == PeerCIDR:
		return o.set != nil && o.set.OverlapsPrefix(r.Prefix)
	case o.Peer == PeerCIDR:
		return r.set != nil && r.set.OverlapsPrefix(o.Prefix)
	}
	return r.set != nil && o.set != nil && r.set.Overlaps(o.set)
}

// SGAllowsService reports whether one of the ENI's rules in dir allows p's protocol and port (and ICMP type
// and code) for some peer: when EvalSG finds no rule, it tells a packet whose service is not allowed at all
// from one whose peer is not among those allowed.
func (e *ENI) SGAllowsService(dir Direction, p *Packet) bool {
	rules := e.Ingress
	if dir == Egress {
		rules = e.Egress
	}
	for _, r := range rules {
		if r.allowsService(p) {
			return true
		}
	}
	return false
}

// Untracked reports whether a TCP/UDP flow admitted in dir by rule r is untracked ([CT]): r's peer is
// 0.0.0.0/0 (::/0 for IPv6) and the ENI has a rule in the other direction allowing all ports to/from
// 0.0.0.0/0 (::/0) for that protocol. ICMP and other protocols: always false.
func (e *ENI) Untracked(dir Direction, p Packet, r *SGRule) bool {
	if r == nil || (p.Proto != ProtoTCP && p.Proto != ProtoUDP) || !r.AllPeers(p) {
		return false
	}
	other := e.Egress
	if dir == Egress {
		other = e.Ingress
	}
	for _, o := range other {
		if o.AllPeers(p) && o.AllPorts() && (o.Proto == ProtoAll || o.Proto == int16(p.Proto)) {
			return true
		}
	}
	return false
}

// HasAddr reports whether a is one of the ENI's private addresses.
func (e *ENI) HasAddr(a netip.Addr) bool {
	for _, x := range e.Addrs {
		if x == a {
			return true
		}
	}
	return false
}
