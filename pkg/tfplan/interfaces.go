package tfplan

import (
	"slices"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Which security groups an interface has.

// interfaceGroups applies the security groups of a planned aws_instance (vpc_security_group_ids, on its
// primary network interface) or aws_network_interface (security_groups): an in-place update replaces the
// interface's groups with the planned set. The interface is matched by primary_network_interface_id (an
// instance) or id (an interface) in the plan's before values; one the topology does not have is ignored (no
// recorded traffic). Creating one is ignored the same way (its interface is new). Destroying or replacing
// one whose interface the topology has is unresolved: the recorded traffic of an interface that goes away
// cannot be replayed through a candidate without it.
func (b *builder) interfaceGroups(rc *tfjson.ResourceChange, before, after, unknown map[string]any) {
	idAttr, groupsAttr := "id", "security_groups"
	if rc.Type == "aws_instance" {
		idAttr, groupsAttr = "primary_network_interface_id", "vpc_security_group_ids"
	}
	a := rc.Change.Actions
	if a.Create() {
		b.r.Ignored = append(b.r.Ignored, rc.Address)
		return
	}
	eni := b.m.ENIs[str(before, idAttr)]
	if eni == nil {
		b.r.Ignored = append(b.r.Ignored, rc.Address)
		return
	}
	if !a.Update() {
		what := "destroys"
		if a.Replace() {
			what = "replaces"
		}
		b.unresolved(rc.Address, "%s its interface %s, which the topology has: the candidate keeps the interface as it is", what, eni.ID)
		return
	}
	groups, ok := b.idList(rc, after, unknown, groupsAttr)
	if !ok {
		return
	}
	if sameSet(groups, eni.GroupIDs) {
		return
	}
	for _, g := range groups {
		if b.m.Groups[g] == nil && b.gone[g].g == nil {
			b.unresolved(rc.Address, "%s names security group %s, which is neither in the topology nor created by the plan", groupsAttr, g)
			return
		}
	}
	eni.GroupIDs = groups
	b.member(eni.ID, rc.Address)
}

// attachGroup applies an aws_network_interface_sg_attachment: creating it adds the group to the interface
// (when it is not there already), destroying it removes the group. Attaching a group the plan deletes is
// unresolved (the group is not in the candidate).
func (b *builder) attachGroup(rc *tfjson.ResourceChange, before, after, unknown map[string]any) {
	a := rc.Change.Actions
	if a.Delete() || a.Replace() {
		if eni := b.m.ENIs[str(before, "network_interface_id")]; eni != nil {
			if i := slices.Index(eni.GroupIDs, str(before, "security_group_id")); i >= 0 {
				eni.GroupIDs = slices.Delete(slices.Clone(eni.GroupIDs), i, i+1)
				b.member(eni.ID, rc.Address)
			}
		}
		if a.Delete() {
			return
		}
	}
	eni := b.m.ENIs[str(after, "network_interface_id")]
	if eni == nil { // an interface the topology does not have, or one this plan creates
		b.r.Ignored = append(b.r.Ignored, rc.Address)
		return
	}
	g := b.groupOf(rc, after, unknown)
	if g == nil {
		return
	}
	if gid := g.ID; !slices.Contains(eni.GroupIDs, gid) {
		eni.GroupIDs = append(slices.Clone(eni.GroupIDs), gid)
		b.member(eni.ID, rc.Address)
	}
}

// member records that addr changes the groups of interface id (the first address, in address order).
func (b *builder) member(id, addr string) {
	if cur, ok := b.r.Interfaces[id]; !ok || addr < cur {
		b.r.Interfaces[id] = addr
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// keepAttached restores the deleted groups AWS would refuse to delete: those that interfaces of the candidate
// are still in, or that rules of the candidate's other groups still reference (DeleteSecurityGroup fails
// with DependencyViolation; the provider retries, then the apply fails). Each becomes an Attached and an
// Unresolved, and leaves Removed.
func (b *builder) keepAttached() {
	ids := make([]string, 0, len(b.gone))
	for id := range b.gone {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		gg := b.gone[id]
		if b.m.Groups[id] != nil { // recreated with its id
			continue
		}
		at := Attached{GroupID: id, Address: gg.addr}
		for eid, e := range b.m.ENIs {
			if e != nil && slices.Contains(e.GroupIDs, id) {
				at.Interfaces = append(at.Interfaces, eid)
			}
		}
		for gid, g := range b.m.Groups {
			if g != nil && slices.ContainsFunc(slices.Concat(g.Ingress, g.Egress), func(r *vpc.SGRule) bool {
				return r.Peer == vpc.PeerGroup && r.RefGroupID == id
			}) {
				at.ReferencedBy = append(at.ReferencedBy, gid)
			}
		}
		if len(at.Interfaces) == 0 && len(at.ReferencedBy) == 0 {
			continue
		}
		sort.Strings(at.Interfaces)
		sort.Strings(at.ReferencedBy)
		b.m.Groups[id] = gg.g
		b.r.Removed = slices.DeleteFunc(b.r.Removed, func(r string) bool { return r == id })
		b.r.StillAttached = append(b.r.StillAttached, at)
		var why []string
		if len(at.Interfaces) > 0 {
			why = append(why, "interfaces "+strings.Join(at.Interfaces, ", ")+" are still in it")
		}
		if len(at.ReferencedBy) > 0 {
			why = append(why, "rules of "+strings.Join(at.ReferencedBy, ", ")+" still reference it")
		}
		b.unresolved(gg.addr, "deletes security group %s while %s (this plan does not change that): AWS refuses the deletion "+
			"(DependencyViolation), so the apply would fail; the candidate keeps the group with its current rules", id, strings.Join(why, " and "))
	}
}
