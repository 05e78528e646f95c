package tfplan

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// removeNACL deletes a NACL of the topology. Its subnets go back to the VPC's default NACL: the provider
// re-associates them before it deletes the NACL (AWS refuses to delete an associated one).
func (b *builder) removeNACL(addr, id string) {
	b.r.Removed = append(b.r.Removed, id)
	delete(b.m.NACLs, id)
	for sid, sn := range b.m.Subnets {
		if sn != nil && sn.NACL != nil && sn.NACL.ID == id {
			sn.NACL, sn.NACLExplicit = nil, false
			b.moved(sid, addr)
		}
	}
}

// setNACL sets the inline entries and subnets of NACL id from a planned aws_network_acl or
// aws_default_network_acl. created: the plan creates it (added to the model). replace: a direction the
// values leave out has no entries but the '*' ones (Compile adds those). The baseline entries that no
// planned entry equals are recorded as removed by addr; subnet_ids, when known, move the subnets they list
// to this NACL and the subnets it had explicitly and no longer lists back to the VPC's default NACL.
func (b *builder) setNACL(addr, id string, after, unknown map[string]any, created, replace bool) {
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
			// A created NACL whose configuration has no inline entries is created with the '*' entries
			// only (Compile adds them); separate aws_network_acl_rule resources add theirs.
			if !created {
				b.unresolved(addr, "%s entries are unknown until apply; the current ones are kept", dir)
			}
			continue
		}
		blocks, ok := after[dir].([]any)
		if !ok && !replace {
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
		old := &n.Inbound
		if dir == "egress" {
			old = &n.Outbound
		}
		for _, e := range *old {
			if !e.Default && !slices.ContainsFunc(entries, func(x vpc.NACLEntry) bool { return sameEntry(e, x) }) {
				b.r.RemovedEntries[EntryKey{id, e.Egress, e.RuleNumber}] = addr
			}
		}
		*old = entries
	}
	// subnet_ids unknown as a whole on a created NACL: not configured (computed from the association
	// resources), or naming only subnets this plan creates; unknown elements are subnets this plan creates.
	// Neither is a subnet of the topology.
	if unknown["subnet_ids"] == true && !created {
		b.unresolved(addr, "subnet_ids are unknown until apply")
	} else if ids, ok := after["subnet_ids"].([]any); ok {
		want := map[string]bool{}
		for _, s := range ids {
			if s, _ := s.(string); s != "" {
				want[s] = true
			}
		}
		for sid, sn := range b.m.Subnets {
			switch {
			case sn == nil:
			case want[sid] && (sn.NACL != n || !sn.NACLExplicit):
				sn.NACL, sn.NACLExplicit = n, true
				b.moved(sid, addr)
			case !want[sid] && sn.NACL == n && sn.NACLExplicit && !n.IsDefault:
				sn.NACL, sn.NACLExplicit = nil, false
				b.moved(sid, addr)
			}
		}
	}
}

// moved records that addr moves subnet sid to another NACL (the first address, in address order, when
// several do).
func (b *builder) moved(sid, addr string) {
	if cur, ok := b.r.Subnets[sid]; !ok || addr < cur {
		b.r.Subnets[sid] = addr
	}
}

func sameEntry(a, b vpc.NACLEntry) bool {
	return a.RuleNumber == b.RuleNumber && a.Egress == b.Egress && a.Action == b.Action && a.Prefix == b.Prefix &&
		a.Proto == b.Proto && a.PortFrom == b.PortFrom && a.PortTo == b.PortTo && a.ICMPType == b.ICMPType && a.ICMPCode == b.ICMPCode
}

// defaultNACL applies an aws_default_network_acl: Terraform adopts the VPC's default NACL (never creates or
// deletes one) and makes its entries exactly the inline ones, removing every entry it does not list (AWS
// keeps the '*' entries). The NACL is default_network_acl_id (known whenever the VPC exists), else the
// plan's id, else the default NACL of vpc_id in the topology. Listed subnet_ids are associated with it;
// destroying the resource only removes it from Terraform's state, so the candidate keeps the NACL as it is.
func (b *builder) defaultNACL(rc *tfjson.ResourceChange, before, after, unknown map[string]any) {
	if rc.Change.Actions.Delete() {
		return
	}
	id := cmp.Or(str(after, "default_network_acl_id"), str(before, "default_network_acl_id"), str(after, "id"), str(before, "id"))
	if id == "" {
		vpcID := cmp.Or(str(after, "vpc_id"), str(before, "vpc_id"))
		for nid, n := range b.m.NACLs {
			if n != nil && n.IsDefault && vpcID != "" && n.VpcID == vpcID {
				id = nid
			}
		}
		if id == "" {
			b.unresolved(rc.Address, "default_network_acl_id is unknown until apply and no default network ACL of the topology has vpc_id %q", vpcID)
			return
		}
	}
	if b.m.NACLs[id] == nil {
		b.r.Ignored = append(b.r.Ignored, rc.Address) // a VPC the topology does not have
		return
	}
	b.idOf[rc.Address] = id // references to the adopted NACL resolve to it
	after, unknown = maps.Clone(after), maps.Clone(unknown)
	for _, dir := range []string{"ingress", "egress"} {
		if unknown[dir] == true && rc.Change.Actions.Create() { // adoption without blocks: no entries
			after[dir], unknown[dir] = []any{}, nil
		}
	}
	b.setNACL(rc.Address, id, after, unknown, false, true)
}

// associate applies an aws_network_acl_association: the subnet moves to the NACL. Destroying it puts the
// subnet back on the VPC's default NACL (a subnet always has one NACL; that is what the provider does on
// delete). A subnet the topology does not have is ignored: no recorded traffic crosses it.
func (b *builder) associate(rc *tfjson.ResourceChange, before, after, unknown map[string]any) {
	a := rc.Change.Actions
	if a.Delete() || a.Replace() || a.Update() {
		if sid := str(before, "subnet_id"); b.m.Subnets[sid] != nil && (a.Delete() || sid != str(after, "subnet_id")) {
			sn := b.m.Subnets[sid]
			sn.NACL, sn.NACLExplicit = nil, false
			b.moved(sid, rc.Address)
		}
		if a.Delete() {
			return
		}
	}
	sn := b.m.Subnets[str(after, "subnet_id")]
	if sn == nil { // a subnet the topology does not have (one this plan creates has an unknown id)
		b.r.Ignored = append(b.r.Ignored, rc.Address)
		return
	}
	n := b.naclOf(rc, after, unknown)
	if n == nil {
		return
	}
	sn.NACL, sn.NACLExplicit = n, true
	b.moved(sn.ID, rc.Address)
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

// naclOf resolves network_acl_id of rc to a NACL of the candidate; nil when it has none (reported).
func (b *builder) naclOf(rc *tfjson.ResourceChange, after, unknown map[string]any) *vpc.NACL {
	id, ok := b.ref(rc, after, unknown, "network_acl_id")
	if !ok {
		return nil
	}
	n := b.m.NACLs[id]
	if n == nil {
		b.unresolved(rc.Address, "network ACL %s is neither in the topology nor created by the plan", id)
	}
	return n
}

func (b *builder) addEntry(rc *tfjson.ResourceChange, after, unknown map[string]any) {
	n := b.naclOf(rc, after, unknown)
	if n == nil {
		return
	}
	id := n.ID
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
	if _, planned := b.r.Entries[EntryKey{id, before["egress"] == true, int(*rn)}]; !planned {
		b.r.RemovedEntries[EntryKey{id, before["egress"] == true, int(*rn)}] = addr
	}
	*list = slices.Delete(slices.Clone(*list), i, i+1)
	delete(b.r.Entries, EntryKey{id, before["egress"] == true, int(*rn)})
	b.r.deleted[id] = addr
}
