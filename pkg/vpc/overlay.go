package vpc

import (
	"maps"
	"slices"
)

// OverlayReport says what LoadOverlay took from the policy. Ids are sorted.
type OverlayReport struct {
	// GroupsReplaced and NACLsReplaced are the baseline's objects the policy gave again; GroupsAdded and
	// NACLsAdded are the policy's objects the baseline does not have; GroupsRemoved and NACLsRemoved are the
	// baseline's objects an authoritative policy left out.
	GroupsReplaced, GroupsAdded, GroupsRemoved []string
	NACLsReplaced, NACLsAdded, NACLsRemoved    []string
	// Files maps each group, rule and NACL id the policy gave to the policy file it came from.
	Files map[string]string
	// Ignored lists the policy files' objects of other kinds (interfaces, subnets, prefix lists): the
	// candidate keeps the baseline's, and a warning finding names each file.
	Ignored []string
}

// Empty reports whether the policy gave no security group, rule or NACL.
func (r *OverlayReport) Empty() bool {
	return len(r.GroupsReplaced)+len(r.GroupsAdded)+len(r.NACLsReplaced)+len(r.NACLsAdded) == 0
}

// LoadOverlay builds a candidate model: the baseline (AWS CLI JSON by file name, as for Load) with the security
// groups and network ACLs of policy (describe-security-groups, describe-security-group-rules and
// describe-network-acls output) in place of the baseline's objects of the same id. Both are decoded by Load's
// reader and the merged objects go through Load's one build and validation path (Compile), so the candidate
// has exactly the findings the same JSON would have if it were one export; findings about policy objects name
// the policy file.
//
//   - A policy group replaces the baseline group with its GroupId. A field the policy object leaves out (absent,
//     not empty: "IpPermissionsEgress": [] removes every outbound rule) is the baseline's, so a hand-written
//     file may give only GroupId and IpPermissions. describe-security-group-rules entries for a group replace all
//     of the baseline's rules of that group (both forms), whichever form the baseline used.
//   - A policy NACL replaces the baseline NACL with its NetworkAclId, with the same rule for absent fields
//     (Entries, Associations, VpcId, OwnerId; IsDefault is always the baseline's: AWS cannot change it). The
//     subnets its Associations name leave the baseline NACLs that listed them, so a policy can move a subnet.
//   - Interfaces, subnets, prefix lists and everything else are the baseline's; such objects in the policy are
//     ignored (a warning).
//   - authoritative: the policy's groups are all the groups there are (the baseline's others are removed, with
//     their rules), and likewise for NACLs; each kind only when the policy has at least one object of it. An
//     interface still in a removed group is then a fatal finding, as in any export.
//
// The model's InputFiles is nil.
func LoadOverlay(base, policy map[string][]byte, authoritative bool) (*Model, *OverlayReport) {
	lb := newLoader(nil)
	lb.parseAll(base)
	lp := newLoader(nil)
	lp.parseAll(policy)
	rep := &OverlayReport{Files: map[string]string{}}

	ignoredIn := map[string]bool{}
	for _, f := range lp.enis {
		ignoredIn[f.file] = true
		rep.Ignored = append(rep.Ignored, f.v.NetworkInterfaceId)
	}
	for _, f := range lp.subnets {
		ignoredIn[f.file] = true
		rep.Ignored = append(rep.Ignored, f.v.SubnetId)
	}
	for i, f := range lp.plEntries {
		ignoredIn[f.file] = true
		if !slices.Contains(rep.Ignored, lp.plOf[i]) {
			rep.Ignored = append(rep.Ignored, lp.plOf[i])
		}
	}
	for _, f := range slices.Sorted(maps.Keys(ignoredIn)) {
		lp.warn(f, "", "interfaces, subnets and prefix lists in a policy are ignored: the candidate keeps the baseline's")
	}

	// Security groups.
	policyGroup := map[string]sourced[sgJSON]{}
	for _, s := range lp.groups {
		policyGroup[s.v.GroupId] = s
	}
	replaced := map[string]bool{}
	for id := range policyGroup {
		replaced[id] = true
	}
	for _, r := range lp.rules {
		if r.v.GroupId != "" {
			replaced[r.v.GroupId] = true
		}
	}
	inBase := map[string]bool{}
	removed := map[string]bool{}
	var groups []sourced[sgJSON]
	for _, s := range lb.groups {
		id := s.v.GroupId
		inBase[id] = true
		switch p, ok := policyGroup[id]; {
		case ok:
			groups = append(groups, sourced[sgJSON]{file: p.file, v: inheritGroup(p.v, s.v)})
			rep.GroupsReplaced = append(rep.GroupsReplaced, id)
		case replaced[id]: // rules only: the group keeps its name and VPC
			groups = append(groups, s)
			rep.GroupsReplaced = append(rep.GroupsReplaced, id)
		case authoritative && len(replaced) > 0:
			removed[id] = true
			rep.GroupsRemoved = append(rep.GroupsRemoved, id)
		default:
			groups = append(groups, s)
		}
	}
	for _, s := range lb.rules {
		if !inBase[s.v.GroupId] && s.v.GroupId != "" { // a group known only from its rules
			inBase[s.v.GroupId] = true
			if replaced[s.v.GroupId] {
				rep.GroupsReplaced = append(rep.GroupsReplaced, s.v.GroupId)
			} else if authoritative && len(replaced) > 0 {
				removed[s.v.GroupId] = true
				rep.GroupsRemoved = append(rep.GroupsRemoved, s.v.GroupId)
			}
		}
	}
	for _, s := range lp.groups {
		if !inBase[s.v.GroupId] {
			groups = append(groups, s)
		}
	}
	for id := range replaced {
		if !inBase[id] {
			rep.GroupsAdded = append(rep.GroupsAdded, id)
		}
	}
	rules := slices.DeleteFunc(slices.Clone(lb.rules), func(s sourced[sgRuleJSON]) bool {
		return replaced[s.v.GroupId] || removed[s.v.GroupId]
	})
	lb.groups, lb.rules = groups, append(rules, lp.rules...)

	// Network ACLs.
	policyNACL := map[string]sourced[naclJSON]{}
	claimed := map[string]bool{} // subnets a policy NACL's Associations name
	for _, s := range lp.nacls {
		policyNACL[s.v.NetworkAclId] = s
		for _, a := range s.v.Associations {
			claimed[a.SubnetId] = true
		}
	}
	unclaimed := func(v naclJSON, keep func(subnet string) bool) naclJSON {
		v.Associations = slices.DeleteFunc(slices.Clone(v.Associations), func(a struct{ NetworkAclAssociationId, NetworkAclId, SubnetId string }) bool {
			return !keep(a.SubnetId)
		})
		return v
	}
	var nacls []sourced[naclJSON]
	naclInBase := map[string]bool{}
	for _, s := range lb.nacls {
		id := s.v.NetworkAclId
		naclInBase[id] = true
		switch p, ok := policyNACL[id]; {
		case ok:
			v := p.v
			own := v.Associations != nil
			v = inheritNACL(v, s.v)
			if !own { // the baseline's associations, less the subnets another policy NACL claims
				v = unclaimed(v, func(sn string) bool { return !claimed[sn] })
			}
			nacls = append(nacls, sourced[naclJSON]{file: p.file, v: v})
			rep.NACLsReplaced = append(rep.NACLsReplaced, id)
		case authoritative && len(policyNACL) > 0:
			removed[id] = true
			rep.NACLsRemoved = append(rep.NACLsRemoved, id)
		default:
			nacls = append(nacls, sourced[naclJSON]{file: s.file, v: unclaimed(s.v, func(sn string) bool { return !claimed[sn] })})
		}
	}
	for _, s := range lp.nacls {
		if !naclInBase[s.v.NetworkAclId] {
			nacls = append(nacls, s)
			rep.NACLsAdded = append(rep.NACLsAdded, s.v.NetworkAclId)
		}
	}
	lb.nacls = nacls

	for id, f := range lp.m.fileOf {
		if replaced[id] || policyNACL[id].file != "" || isRuleID(id) {
			lb.m.fileOf[id] = f
			rep.Files[id] = f
		}
	}
	for _, r := range lp.rules {
		if r.v.GroupId != "" {
			if _, ok := rep.Files[r.v.GroupId]; !ok {
				rep.Files[r.v.GroupId] = r.file
				lb.m.fileOf[r.v.GroupId] = r.file
			}
		}
	}
	for id := range removed {
		delete(lb.m.fileOf, id)
	}
	for _, l := range [][]string{rep.GroupsReplaced, rep.GroupsAdded, rep.GroupsRemoved, rep.NACLsReplaced, rep.NACLsAdded, rep.NACLsRemoved, rep.Ignored} {
		slices.Sort(l)
	}
	rep.GroupsReplaced = slices.Compact(rep.GroupsReplaced)

	lb.m.input = append(lb.m.input, lp.m.input...)
	lb.build()
	lb.m.Compile()
	return lb.m, rep
}

// inheritGroup fills the fields p leaves out from b (the baseline group of the same id).
func inheritGroup(p, b sgJSON) sgJSON {
	p.GroupName = or(p.GroupName, b.GroupName)
	p.VpcId = or(p.VpcId, b.VpcId)
	p.OwnerId = or(p.OwnerId, b.OwnerId)
	p.Description = or(p.Description, b.Description)
	if p.IpPermissions == nil {
		p.IpPermissions = b.IpPermissions
	}
	if p.IpPermissionsEgress == nil {
		p.IpPermissionsEgress = b.IpPermissionsEgress
	}
	return p
}

// inheritNACL fills the fields p leaves out from b (the baseline NACL of the same id); IsDefault is b's.
func inheritNACL(p, b naclJSON) naclJSON {
	p.VpcId = or(p.VpcId, b.VpcId)
	p.OwnerId = or(p.OwnerId, b.OwnerId)
	p.IsDefault = b.IsDefault
	if p.Associations == nil {
		p.Associations = b.Associations
	}
	if p.Entries == nil {
		p.Entries = b.Entries
	}
	return p
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func isRuleID(id string) bool { return len(id) > 4 && id[:4] == "sgr-" }
