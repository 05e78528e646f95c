package tfplan

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/vpc"
)

func (b *builder) removeNACL(id string) {
	b.r.Removed = append(b.r.Removed, id)
	delete(b.m.NACLs, id)
	for _, sn := range b.m.Subnets {
		if sn != nil && sn.NACL != nil && sn.NACL.ID == id {
			sn.NACL, sn.NACLExplicit = nil, false // the VPC's default NACL again
		}
	}
}

func (b *builder) setNACL(addr, id string, after, unknown map[string]any, created bool) {
	n := b.m.NACLs[id]
	if n == nil {
		if !created {
			b.unresolved(addr, "updates network ACL %s, which the topology does not have", id)
			return
		}
		n = &vpc.NACL{ID: id, VpcID: str(after, "vpc_id")}
		b.m.NACLs[id] = n
	}
	for _, dir := range []string{"ingress", "egress"} {
		if unknown[dir] == true {
			b.unresolved(addr, "%s entries are unknown until apply", dir)
			continue
		}
		blocks, ok := after[dir].([]any)
		if !ok && !created {
			continue
		}
		var entries []vpc.NACLEntry
		for _, blk := range blocks {
			m, _ := blk.(map[string]any)
			e, err := naclEntry(m, dir == "egress", "rule_no", "action")
			if err != nil {
				b.unresolved(addr, "%s entry: %v", dir, err)
				continue
			}
			entries = append(entries, e)
			b.r.Entries[EntryKey{id, e.Egress, e.RuleNumber}] = addr
		}
		if dir == "egress" {
			n.Outbound = entries
		} else {
			n.Inbound = entries
		}
	}
	if unknown["subnet_ids"] == true {
		b.unresolved(addr, "subnet_ids are unknown until apply")
	} else if ids, ok := after["subnet_ids"].([]any); ok {
		want := map[string]bool{}
		for _, s := range ids {
			if s, _ := s.(string); s != "" {
				want[s] = true
			}
		}
		for sid, sn := range b.m.Subnets {
			if sn == nil {
				continue
			}
			if want[sid] {
				sn.NACL, sn.NACLExplicit = n, true
			} else if sn.NACL == n && sn.NACLExplicit {
				sn.NACL, sn.NACLExplicit = nil, false
			}
		}
	}
}

func naclEntry(m map[string]any, egress bool, numKey, actionKey string) (vpc.NACLEntry, error) {
	e := vpc.NACLEntry{Egress: egress, ICMPType: -1, ICMPCode: -1}
	n := num(m, numKey)
	if n == nil {
		return e, fmt.Errorf("no %s", numKey)
	}
	e.RuleNumber = int(*n)
	switch strings.ToLower(str(m, actionKey)) {
	case "allow":
		e.Action = vpc.Allow
	case "deny":
		e.Action = vpc.Deny
	default:
		return e, fmt.Errorf("rule %d: action %q", e.RuleNumber, str(m, actionKey))
	}
	p, err := protocol(str(m, "protocol"))
	if err != nil {
		return e, fmt.Errorf("rule %d: %v", e.RuleNumber, err)
	}
	e.Proto = p
	c := str(m, "cidr_block")
	if c == "" {
		c = str(m, "ipv6_cidr_block")
	}
	pf, err := netip.ParsePrefix(c)
	if err != nil {
		return e, fmt.Errorf("rule %d: CIDR %q", e.RuleNumber, c)
	}
	e.Prefix = pf.Masked()
	switch p {
	case vpc.ProtoTCP, vpc.ProtoUDP:
		e.PortFrom, e.PortTo = 0, 65535
		if f, t := num(m, "from_port"), num(m, "to_port"); f != nil && t != nil && !(*f == 0 && *t == 0) {
			e.PortFrom, e.PortTo = uint16(*f), uint16(*t)
		}
	case vpc.ProtoICMP, vpc.ProtoICMPv6:
		if v := num(m, "icmp_type"); v != nil {
			e.ICMPType = int16(*v)
		}
		if v := num(m, "icmp_code"); v != nil {
			e.ICMPCode = int16(*v)
		}
	}
	return e, nil
}

func (b *builder) addEntry(rc *tfjson.ResourceChange, after, unknown map[string]any) {
	id, ok := b.ref(rc, after, unknown, "network_acl_id")
	if !ok {
		return
	}
	n := b.m.NACLs[id]
	if n == nil {
		b.unresolved(rc.Address, "network ACL %s is neither in the topology nor created by the plan", id)
		return
	}
	e, err := naclEntry(after, after["egress"] == true, "rule_number", "rule_action")
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return
	}
	if e.Egress {
		n.Outbound = append(slices.Clone(n.Outbound), e)
	} else {
		n.Inbound = append(slices.Clone(n.Inbound), e)
	}
	b.r.Entries[EntryKey{id, e.Egress, e.RuleNumber}] = rc.Address
}

func (b *builder) removeEntry(addr string, before map[string]any) {
	id := str(before, "network_acl_id")
	n := b.m.NACLs[id]
	rn := num(before, "rule_number")
	if n == nil || rn == nil {
		return
	}
	list := &n.Inbound
	if before["egress"] == true {
		list = &n.Outbound
	}
	i := slices.IndexFunc(*list, func(e vpc.NACLEntry) bool { return e.RuleNumber == int(*rn) })
	if i < 0 {
		b.unresolved(addr, "deletes entry %d of %s, which the topology does not have", int(*rn), id)
		return
	}
	*list = slices.Delete(slices.Clone(*list), i, i+1)
	delete(b.r.Entries, EntryKey{id, before["egress"] == true, int(*rn)})
	b.r.deleted[id] = addr
}
