package tfplan

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// setGroup sets the inline rules of group id from a planned aws_security_group or
// aws_default_security_group rc. created: the plan creates the group (it is added to the model). replace: a
// direction the values leave out has no rules (a created group: Terraform removes AWS's default egress
// rule; a default group: Terraform removes every rule it does not list); otherwise a direction left out
// keeps its rules. The baseline rules that no planned rule equals are recorded as removed by rc's address.
// A block whose values are unknown until apply is resolved by inlineGroups when it can be; otherwise it is
// reported, and the direction keeps its current rules (an existing group: leaving the block out would
// remove a rule the plan may keep) or goes without that block (a created group).
func (b *builder) setGroup(rc *tfjson.ResourceChange, id string, after, unknown map[string]any, created, replace bool) {
	addr := rc.Address
	g := b.m.Groups[id]
	if g == nil {
		if !created {
			b.unresolved(addr, "updates security group %s, which the topology does not have", id)
			return
		}
		g = &vpc.SecurityGroup{ID: id, Name: str(after, "name"), VpcID: str(after, "vpc_id"), Description: str(after, "description")}
		b.m.Groups[id] = g
	}
	for _, dir := range []string{"ingress", "egress"} {
		if unknown[dir] == true && !created {
			// A created group whose configuration has no inline blocks is created without rules (below);
			// separate rule resources add theirs.
			b.unresolved(addr, "%s rules are unknown until apply; the current ones are kept", dir)
			continue
		}
		blocks, ok := after[dir].([]any)
		if !ok && !replace {
			continue
		}
		marks, _ := unknown[dir].([]any)
		refs, skip := b.inlineGroups(rc, dir, blocks, marks)
		complete := len(skip) == 0
		var rules []*vpc.SGRule
		for i, blk := range blocks {
			if skip[i] {
				continue
			}
			m, _ := blk.(map[string]any)
			groups := strs(m, "security_groups")
			if r, ok := refs[i]; ok {
				groups = append(groups, r)
			}
			rs, err := sgRules(id, dir == "egress", m, str(m, "protocol"), num(m, "from_port"), num(m, "to_port"),
				strs(m, "cidr_blocks"), strs(m, "ipv6_cidr_blocks"), strs(m, "prefix_list_ids"), groups, m["self"] == true)
			if err != nil {
				b.unresolved(addr, "%s block: %v", dir, err)
				complete = false
				continue
			}
			rules = append(rules, rs...)
		}
		if !complete && !created {
			continue
		}
		for _, r := range rules {
			b.r.Rules[r] = addr
		}
		old := &g.Ingress
		if dir == "egress" {
			old = &g.Egress
		}
		for _, r := range *old {
			if !slices.ContainsFunc(rules, func(n *vpc.SGRule) bool { return sameRule(r, n) }) {
				b.r.RemovedRules[r.ID] = addr
			}
		}
		*old = rules
	}
}

// inlineGroups resolves the inline blocks of direction dir whose values are unknown until apply: it returns
// the group id a resolved block gains (by block index) and the blocks that cannot be resolved (reported; the
// caller leaves them out). Only security_groups may be unknown, and only when the whole direction has one
// unknown element and the configuration's references of dir name exactly one group this plan creates: the
// configuration gives one expression for all the blocks of a direction, so with more unknown elements
// which reference fills which block cannot be told.
func (b *builder) inlineGroups(rc *tfjson.ResourceChange, dir string, blocks, marks []any) (gain map[int]string, skip map[int]bool) {
	var holes []int // blocks with unknown security_groups elements
	total := 0
	skip = map[int]bool{}
	for i := range blocks {
		var u map[string]any
		if i < len(marks) {
			u, _ = marks[i].(map[string]any)
		}
		if !anyTrue(u) {
			continue
		}
		n, onlyGroups := unknownGroups(u)
		if !onlyGroups {
			b.unresolved(rc.Address, "an %s block has values other than security_groups unknown until apply", dir)
			skip[i] = true
			continue
		}
		holes = append(holes, i)
		total += n
	}
	if total == 0 {
		return nil, skip
	}
	ids, err := b.refIDs(rc, dir)
	if err == nil && (total != 1 || len(ids) != 1) {
		err = fmt.Errorf("%s blocks have %d security_groups elements unknown until apply and their references name %d groups this plan creates", dir, total, len(ids))
	}
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		for _, h := range holes {
			skip[h] = true
		}
		return nil, skip
	}
	return map[int]string{holes[0]: ids[0]}, skip
}

// unknownGroups counts the unknown elements of an inline block's security_groups (its after_unknown marks
// u); onlyGroups is false when another value of the block is unknown, or security_groups as a whole.
func unknownGroups(u map[string]any) (n int, onlyGroups bool) {
	for k, v := range u {
		if k != "security_groups" {
			if anyTrue(v) {
				return 0, false
			}
			continue
		}
		l, ok := v.([]any)
		if !ok {
			return 0, v != true
		}
		for _, x := range l {
			if x == true {
				n++
			}
		}
	}
	return n, true
}

// removeGroup deletes a group of the topology; keepAttached restores it when AWS would refuse.
func (b *builder) removeGroup(addr, id string) {
	if g := b.m.Groups[id]; g != nil {
		b.gone[id] = goneGroup{g: g, addr: addr}
	}
	delete(b.m.Groups, id)
	b.r.Removed = append(b.r.Removed, id)
}

// defaultGroup applies an aws_default_security_group: Terraform adopts the VPC's default group (it never
// creates or deletes one) and makes its rules exactly the inline ones, removing every rule it does not list.
// The group is the one of the plan's id (before or after), else the topology's group named "default" in the
// planned vpc_id. Destroying the resource only removes it from Terraform's state: AWS keeps the group and
// its rules, so the candidate does too.
func (b *builder) defaultGroup(rc *tfjson.ResourceChange, before, after, unknown map[string]any) {
	a := rc.Change.Actions
	if a.Delete() {
		return
	}
	id := cmp.Or(str(after, "id"), str(before, "id"))
	if id == "" {
		vpcID := cmp.Or(str(after, "vpc_id"), str(before, "vpc_id"))
		if vpcID == "" {
			b.unresolved(rc.Address, "vpc_id is unknown until apply: the default group cannot be told")
			return
		}
		for gid, g := range b.m.Groups {
			if g != nil && g.VpcID == vpcID && g.Name == "default" {
				id = gid
			}
		}
		if id == "" {
			b.r.Ignored = append(b.r.Ignored, rc.Address) // a VPC the topology does not have
			return
		}
	}
	if b.m.Groups[id] == nil {
		b.r.Ignored = append(b.r.Ignored, rc.Address)
		return
	}
	b.idOf[rc.Address] = id // references to the adopted group resolve to it
	if a.Create() {
		// Adoption: a direction the configuration gives no blocks is computed (unknown) in the plan, and
		// Terraform leaves it empty.
		after, unknown = maps.Clone(after), maps.Clone(unknown)
		for _, dir := range []string{"ingress", "egress"} {
			if unknown[dir] == true {
				after[dir], unknown[dir] = []any{}, nil
			}
		}
	}
	b.setGroup(rc, id, after, unknown, false, true)
}

// groupOf resolves security_group_id of rc to a group of the candidate; nil when it has none (reported).
func (b *builder) groupOf(rc *tfjson.ResourceChange, after, unknown map[string]any) *vpc.SecurityGroup {
	gid, ok := b.ref(rc, after, unknown, "security_group_id")
	if !ok {
		return nil
	}
	g := b.m.Groups[gid]
	if g == nil {
		b.unresolved(rc.Address, "security group %s is neither in the topology nor created by the plan", gid)
	}
	return g
}

func (b *builder) addRules(rc *tfjson.ResourceChange, after, unknown map[string]any) {
	g := b.groupOf(rc, after, unknown)
	if g == nil {
		return
	}
	gid := g.ID
	var ok bool
	var rs []*vpc.SGRule
	var err error
	if rc.Type == "aws_security_group_rule" {
		var src string
		if str(after, "source_security_group_id") != "" || unknown["source_security_group_id"] == true {
			if src, ok = b.ref(rc, after, unknown, "source_security_group_id"); !ok {
				return
			}
		}
		var groups []string
		if src != "" {
			groups = []string{src}
		}
		rs, err = sgRules(gid, str(after, "type") == "egress", after, str(after, "protocol"), num(after, "from_port"), num(after, "to_port"),
			strs(after, "cidr_blocks"), strs(after, "ipv6_cidr_blocks"), strs(after, "prefix_list_ids"), groups, after["self"] == true)
	} else {
		var ref string
		if str(after, "referenced_security_group_id") != "" || unknown["referenced_security_group_id"] == true {
			if ref, ok = b.ref(rc, after, unknown, "referenced_security_group_id"); !ok {
				return
			}
		}
		rs, err = sgRules(gid, rc.Type == "aws_vpc_security_group_egress_rule", after, str(after, "ip_protocol"), num(after, "from_port"), num(after, "to_port"),
			nonEmpty(str(after, "cidr_ipv4")), nonEmpty(str(after, "cidr_ipv6")), nonEmpty(str(after, "prefix_list_id")), nonEmpty(ref), false)
		if id := str(after, "security_group_rule_id"); id != "" && len(rs) == 1 {
			rs[0].ID = id
		}
	}
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return
	}
	for _, r := range rs {
		b.r.Rules[r] = rc.Address
		if r.Egress {
			g.Egress = append(g.Egress, r)
		} else {
			g.Ingress = append(g.Ingress, r)
		}
	}
}

// removeRules removes the rules a deleted rule resource stood for: by sgr- id when the topology has it, else
// by content (group, direction, protocol, ports, peer).
func (b *builder) removeRules(rc *tfjson.ResourceChange, before map[string]any) {
	gid := str(before, "security_group_id")
	g := b.m.Groups[gid]
	if g == nil {
		return // the group goes too, or the topology does not have it: nothing to remove
	}
	var rs []*vpc.SGRule
	var err error
	if rc.Type == "aws_security_group_rule" {
		rs, err = sgRules(gid, str(before, "type") == "egress", before, str(before, "protocol"), num(before, "from_port"), num(before, "to_port"),
			strs(before, "cidr_blocks"), strs(before, "ipv6_cidr_blocks"), strs(before, "prefix_list_ids"), nonEmpty(str(before, "source_security_group_id")), before["self"] == true)
	} else {
		rs, err = sgRules(gid, rc.Type == "aws_vpc_security_group_egress_rule", before, str(before, "ip_protocol"), num(before, "from_port"), num(before, "to_port"),
			nonEmpty(str(before, "cidr_ipv4")), nonEmpty(str(before, "cidr_ipv6")), nonEmpty(str(before, "prefix_list_id")), nonEmpty(str(before, "referenced_security_group_id")), false)
	}
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return
	}
	sgrID := str(before, "security_group_rule_id")
	for _, want := range rs {
		list := &g.Ingress
		if want.Egress {
			list = &g.Egress
		}
		i := slices.IndexFunc(*list, func(r *vpc.SGRule) bool {
			return (sgrID != "" && r.ID == sgrID) || sameRule(r, want)
		})
		if i < 0 {
			b.unresolved(rc.Address, "deletes %s %q of %s, which the topology does not have", dirName(want.Egress), want.Display, gid)
			continue
		}
		b.r.RemovedRules[(*list)[i].ID] = rc.Address
		*list = slices.Delete(slices.Clone(*list), i, i+1)
		b.r.deleted[gid] = rc.Address
	}
}

func sameRule(a, b *vpc.SGRule) bool {
	return a.Proto == b.Proto && a.FromPort == b.FromPort && a.ToPort == b.ToPort && a.Peer == b.Peer &&
		a.Prefix == b.Prefix && a.PrefixListID == b.PrefixListID && a.RefGroupID == b.RefGroupID
}

func dirName(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// sgRules expands one Terraform rule (one protocol and port range, several peers) into one SGRule per peer.
func sgRules(gid string, egress bool, m map[string]any, proto string, from, to *float64, v4, v6, pls, groups []string, self bool) ([]*vpc.SGRule, error) {
	p, err := protocol(proto)
	if err != nil {
		return nil, err
	}
	fp, tp := int32(-1), int32(-1)
	switch p {
	case vpc.ProtoTCP, vpc.ProtoUDP:
		fp, tp = 0, 65535
		if from != nil && to != nil && !(*from == -1 && *to == -1) {
			fp, tp = int32(*from), int32(*to)
		}
	case vpc.ProtoICMP, vpc.ProtoICMPv6:
		if from != nil {
			fp = int32(*from)
		}
		if to != nil {
			tp = int32(*to)
		}
	}
	desc := str(m, "description")
	base := vpc.SGRule{GroupID: gid, Egress: egress, Proto: p, FromPort: fp, ToPort: tp, Description: desc}
	var out []*vpc.SGRule
	for _, c := range append(slices.Clone(v4), v6...) {
		pf, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("CIDR %q: %v", c, err)
		}
		r := base
		r.Peer, r.Prefix = vpc.PeerCIDR, pf.Masked()
		out = append(out, &r)
	}
	for _, pl := range pls {
		r := base
		r.Peer, r.PrefixListID = vpc.PeerPrefixList, pl
		out = append(out, &r)
	}
	if self {
		groups = append(slices.Clone(groups), gid)
	}
	for _, sg := range groups {
		if i := strings.LastIndex(sg, "/"); i >= 0 && !strings.HasPrefix(sg, "tf:") { // "OWNER/sg-..."
			sg = sg[i+1:]
		}
		r := base
		r.Peer, r.RefGroupID = vpc.PeerGroup, sg
		out = append(out, &r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rule has no peer (CIDR, prefix list or group)")
	}
	return out, nil
}

func protocol(s string) (int16, error) {
	switch strings.ToLower(s) {
	case "-1", "all":
		return vpc.ProtoAll, nil
	case "tcp":
		return vpc.ProtoTCP, nil
	case "udp":
		return vpc.ProtoUDP, nil
	case "icmp":
		return vpc.ProtoICMP, nil
	case "icmpv6", "58":
		return vpc.ProtoICMPv6, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 || n > 255 {
		return 0, fmt.Errorf("protocol %q", s)
	}
	return int16(n), nil
}
