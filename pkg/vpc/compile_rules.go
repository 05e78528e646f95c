package vpc

// Compile's checks and normalisation of NACL entries and security-group rules: what makes an entry or a rule
// evaluable, whichever way it entered the model (decoded from JSON or built in Go).

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// errRuleNumber is the problem with a NACL entry numbered outside what AWS allows.
var errRuleNumber = errors.New("RuleNumber out of range 1-32766 (32767/32768 for '*')")

// checkICMP checks an ICMP type or code (field "Type" or "Code"): -1 (all) or 0-255.
func checkICMP(field string, v int64) error {
	if v < -1 || v > 255 {
		return fmt.Errorf("IcmpTypeCode.%s %d outside -1..255", field, v)
	}
	return nil
}

// checkEntry reports why an entry cannot be evaluated, nil when it can.
func checkEntry(e *NACLEntry) error {
	switch {
	case e.RuleNumber < 1 || e.RuleNumber > DefaultRuleV6:
		return errRuleNumber
	case !e.Prefix.IsValid():
		return errors.New("no CIDR, so it matches no address")
	case e.Action != Allow && e.Action != Deny:
		return fmt.Errorf("%s is neither allow nor deny", e.Action)
	case e.Proto < ProtoAll || e.Proto > 255:
		return fmt.Errorf("protocol %d is not -1 or 0-255", e.Proto)
	case portsChecked(e.Proto) && e.PortFrom > e.PortTo:
		return fmt.Errorf("PortRange From %d > To %d matches no port", e.PortFrom, e.PortTo)
	case icmpChecked(e.Proto):
		if err := checkICMP("Type", int64(e.ICMPType)); err != nil {
			return err
		}
		return checkICMP("Code", int64(e.ICMPCode))
	}
	return nil
}

// entries returns one direction's entries compiled into a new slice (the input is only read): invalid
// entries and the later of two entries with one rule number are dropped, the rest sorted by rule number,
// Egress set from the direction, missing '*' entries added, Default and ShadowedBy recomputed.
func (c *compiler) entries(file, naclID string, egress bool, in []NACLEntry) []NACLEntry {
	es := make([]NACLEntry, 0, len(in)+2)
	for _, e := range in {
		e.Egress = egress
		if err := checkEntry(&e); err != nil {
			c.drop(file, naclID, "%s entry %d: %v: entry dropped", dirWord(egress), e.RuleNumber, err)
			continue
		}
		e.Prefix = c.masked(file, naclID, fmt.Sprintf("%s entry %d: CIDR", dirWord(egress), e.RuleNumber), e.Prefix)
		e.Default = e.RuleNumber >= DefaultRuleV4
		e.ShadowedBy = 0
		es = append(es, e)
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].RuleNumber < es[j].RuleNumber })
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.RuleNumber == es[i-1].RuleNumber {
			c.drop(file, naclID, "two %s entries numbered %d: evaluation order is ambiguous; keeping the first", dirWord(egress), e.RuleNumber)
			continue
		}
		out = append(out, e)
	}
	es = out
	has4, has6 := false, false
	for _, e := range es {
		has4 = has4 || e.RuleNumber == DefaultRuleV4
		has6 = has6 || e.RuleNumber == DefaultRuleV6
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
			c.warn(file, naclID, "%s entry %d is shadowed by entry %d, which matches every packet it matches: it never decides",
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

// rulePorts normalises a security-group rule's ports for protocol proto: TCP/UDP -1 -1 means all and becomes
// 0-65535; ICMP type/code stay as given, -1 meaning all; other protocols ignore ports (-1 -1).
func rulePorts(proto int16, f, t int64) (from, to int32, err error) {
	switch {
	case portsChecked(proto):
		if f == -1 && t == -1 {
			return 0, 65535, nil
		}
		if f < 0 || f > 65535 || t < 0 || t > 65535 {
			return 0, 0, fmt.Errorf("%s port range %d-%d outside 0-65535", protoName(proto), f, t)
		}
		if f > t {
			return 0, 0, fmt.Errorf("%s port range FromPort %d > ToPort %d matches no port", protoName(proto), f, t)
		}
		return int32(f), int32(t), nil
	case icmpChecked(proto):
		if f < -1 || f > 255 || t < -1 || t > 255 {
			return 0, 0, fmt.Errorf("%s type/code %d/%d outside -1..255", protoName(proto), f, t)
		}
		return int32(f), int32(t), nil
	}
	return -1, -1, nil
}

// normaliseRule checks r and normalises its ports (see rulePorts); the error says why r cannot be evaluated.
func normaliseRule(r *SGRule) error {
	if r.Proto < ProtoAll || r.Proto > 255 {
		return fmt.Errorf("protocol %d is not -1 or 0-255", r.Proto)
	}
	from, to, err := rulePorts(r.Proto, int64(r.FromPort), int64(r.ToPort))
	if err != nil {
		return err
	}
	r.FromPort, r.ToPort = from, to
	switch {
	case r.Peer == PeerCIDR && !r.Prefix.IsValid():
		return errors.New("cidr peer without a CIDR")
	case r.Peer == PeerPrefixList && r.PrefixListID == "":
		return errors.New("prefix-list peer without a PrefixListId")
	case r.Peer == PeerGroup && r.RefGroupID == "":
		return errors.New("group peer without a group id")
	case r.Peer != PeerCIDR && r.Peer != PeerPrefixList && r.Peer != PeerGroup:
		return fmt.Errorf("%s is not a cidr, prefix-list or group peer", r.Peer)
	}
	return nil
}

// rules returns one direction of group g compiled into a new slice (the rules themselves are updated in
// place): invalid rules are dropped, the others get GroupID, Egress, a generated id when they have none of
// their own ("GROUP/ingress/N", N the index in the returned slice) and Display; peer sets are left for
// compilePeers.
func (c *compiler) rules(g *SecurityGroup, egress bool, in []*SGRule) []*SGRule {
	word := "ingress"
	if egress {
		word = "egress"
	}
	out := make([]*SGRule, 0, len(in))
	for _, r := range in {
		if r == nil {
			continue
		}
		r.GroupID, r.Egress, r.set = g.ID, egress, nil
		file := c.ruleFile(r)
		if r.idGenerated {
			r.ID, r.idGenerated = "", false
		}
		obj := r.ID
		if obj == "" {
			obj = g.ID
		}
		if err := normaliseRule(r); err != nil {
			c.drop(file, obj, "%v: rule dropped", err)
			continue
		}
		if r.Peer == PeerCIDR {
			r.Prefix = c.masked(file, obj, "rule CIDR", r.Prefix)
		}
		if r.ID == "" {
			r.ID, r.idGenerated = fmt.Sprintf("%s/%s/%d", g.ID, word, len(out)), true
		}
		r.Display = r.String()
		out = append(out, r)
	}
	return out
}

// ruleFile is the file a rule came from; a rule built in Go is reported under its group's file.
func (c *compiler) ruleFile(r *SGRule) string {
	if r.file != "" {
		return r.file
	}
	return c.m.fileOf[r.GroupID]
}

// masked returns p masked; a prefix with host bits set (only possible from Go: the loader masks CIDRs as it
// parses them) gets a warning.
func (c *compiler) masked(file, obj, what string, p netip.Prefix) netip.Prefix {
	if m := p.Masked(); m != p {
		c.change(Warning, file, obj, "%s %s is not canonical; using %s", what, p, m)
		return m
	}
	return p
}

// String renders a rule as its Display field holds it: "tcp 22 from 10.0.0.0/8", "all to sg-abc",
// "icmp 8/-1 from pl-123".
func (r *SGRule) String() string {
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
