package tfplan

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"
)

// Record is the record Cause explains: the interface that logged it and the packet's addresses.
type Record struct {
	Interface, Src, Dst string
}

// Decision is what Cause reads of one replay's verdict for a record (the columns of replay's verdict table).
type Decision struct {
	Action string // ACCEPT or REJECT
	// Layer (nacl-inbound, nacl-outbound, sg-inbound, sg-outbound, ...), Rule and Resource decide a REJECT.
	Layer, Rule, Resource string
	// SGRule is the id of the security group rule that allowed the packet (or conntrack, ...); NACL and
	// NACLRule the NACL the packet met and its deciding entry.
	SGRule, NACL, NACLRule string
}

// Cause names the resource address of the planned change that makes the candidate decide record rec
// differently from the baseline, or "" when no change of the plan explains it:
//
//   - accepted before, rejected now at a NACL: the planned entry that now decides (a new or moved deny), else
//     the resource that moved the interface's subnet to another NACL, else the resource that removed the entry
//     that allowed it before, else the NACL's first changed resource (Addresses);
//   - rejected now at the security groups: the resource that removed the rule that allowed it before, else the
//     one that changed the interface's groups, else the one that changed the other end's groups (a rule
//     referencing a group matches its members), else the groups' first changed resource;
//   - rejected before, accepted now: at the layer that rejected it, the planned entry or rule that now allows
//     it, else the resource that moved the subnet or changed the groups of the interface (or the other end's),
//     else the resource that removed the deny entry that decided before, else the first changed resource of
//     the NACL or groups.
//
// Cause is safe for concurrent use (it only reads the Result).
func (r *Result) Cause(rec Record, base, cand Decision) string {
	// The layer that changed its mind, the NACL entry that decides now and the one that decided before, the
	// rule that allows now and the one that allowed before, and the groups involved.
	var layer, groups, ruleNow, ruleBefore string
	var now, before EntryKey
	switch {
	case base.Action == "ACCEPT" && cand.Action == "REJECT":
		layer, groups, ruleBefore = cand.Layer, cand.Resource, base.SGRule
		now = entryKey(cand.Resource, cand.Layer == "nacl-outbound", cand.Rule)
		before = entryKey(base.NACL, now.Egress, base.NACLRule)
	case base.Action == "REJECT" && cand.Action == "ACCEPT":
		layer, groups, ruleNow = base.Layer, base.Resource, cand.SGRule
		before = entryKey(base.Resource, base.Layer == "nacl-outbound", base.Rule)
		now = entryKey(cand.NACL, before.Egress, cand.NACLRule)
	default:
		return ""
	}
	switch {
	case strings.HasPrefix(layer, "nacl-"):
		moved := ""
		if now.NACL != before.NACL {
			moved = r.subnetOf(rec.Interface)
		}
		return cmp.Or(r.Entries[now], moved, r.RemovedEntries[before], r.first(now.NACL), r.first(before.NACL))
	case strings.HasPrefix(layer, "sg-"):
		return cmp.Or(r.ruleAddr[ruleNow], r.RemovedRules[ruleBefore], r.members(rec), r.first(groups))
	}
	return ""
}

// RuleAddress is the address of the planned resource that wrote the candidate's rule with this id (the
// candidate replay's sg_rule), "" when the plan did not touch it.
func (r *Result) RuleAddress(id string) string { return r.ruleAddr[id] }

// members is the address that changed the groups of the record's interface, else of the interface at its
// other end.
func (r *Result) members(rec Record) string {
	if a := r.Interfaces[rec.Interface]; a != "" {
		return a
	}
	for _, s := range []string{rec.Src, rec.Dst} {
		if addr, err := netip.ParseAddr(s); err == nil {
			if e := r.Model.ENIByAddr(addr); e != nil && e.ID != rec.Interface {
				if a := r.Interfaces[e.ID]; a != "" {
					return a
				}
			}
		}
	}
	return ""
}

// subnetOf is the address that moved the subnet of interface iface to another NACL.
func (r *Result) subnetOf(iface string) string {
	if e := r.Model.ENIs[iface]; e != nil {
		return r.Subnets[e.SubnetID]
	}
	return ""
}

// first is the first changed resource (Addresses) of the groups or NACL in ids (verdict_resource: ids
// joined by ",").
func (r *Result) first(ids string) string {
	if ids == "" {
		return ""
	}
	addrs := r.addresses()
	for _, id := range strings.Split(ids, ",") {
		if a := addrs[id]; a != "" {
			return a
		}
	}
	return ""
}

func entryKey(nacl string, egress bool, rule string) EntryKey {
	n, _ := strconv.Atoi(rule)
	return EntryKey{NACL: nacl, Egress: egress, RuleNumber: n}
}
