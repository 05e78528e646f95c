package recommend

import (
	"math"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Rule 12: exposure, measured. The exposure of a rule set is the (peer address x port) space it admits:
//   - per protocol, the union over the rules (an address and port admitted by two rules counts once);
//   - TCP and UDP count ports (0-65535); ICMP, ICMPv6 and each other protocol count one unit per address
//     (flow logs cannot tell ICMP types apart, so neither does the measure); a rule for all protocols (-1)
//     counts all TCP and UDP ports, ICMP, ICMPv6 and one unit for every other protocol together;
//   - a referenced group's addresses are its member interfaces' private addresses, a prefix list's its entries;
//   - IPv4 and IPv6 are separate figures: V4 is exact (at most 2^32 x 131074), V6 is the same sum as a float64
//     (2^128 x 131074 fits) and is best read as log2 (Log2V6).

// Exposure is the address x port space a rule set admits (see above).
type Exposure struct {
	V4 float64 `json:"v4"`
	V6 float64 `json:"v6"`
}

// Log2V6 is log2 of V6 (0 when V6 is 0): 128 + 16 is "every IPv6 address, every port of one protocol".
func (x Exposure) Log2V6() float64 {
	if x.V6 == 0 {
		return 0
	}
	return math.Log2(x.V6)
}

func (x *Exposure) add(y Exposure) { x.V4 += y.V4; x.V6 += y.V6 }

// InterfaceExposure is one interface's exposure under the current and the candidate rules.
type InterfaceExposure struct {
	ENI           string   `json:"eni"`
	Groups        []string `json:"groups"`
	IngressBefore Exposure `json:"ingress_before"`
	IngressAfter  Exposure `json:"ingress_after"`
	EgressBefore  Exposure `json:"egress_before"`
	EgressAfter   Exposure `json:"egress_after"`
}

// ExposureReport is exposure per interface and in total (sums over interfaces, both directions). Interfaces
// without security groups are not filtered by groups and are left out.
type ExposureReport struct {
	Interfaces []InterfaceExposure `json:"interfaces"`
	Before     Exposure            `json:"before"`
	After      Exposure            `json:"after"`
	// ReductionV4 is 1 - After.V4/Before.V4: 0.9 means the candidate admits a tenth of the IPv4 space.
	ReductionV4 float64 `json:"reduction_v4"`
}

// exposureReport measures every interface with groups; interfaces with the same groups have the same rules,
// so each group list is measured once.
func exposureReport(current, candidate *vpc.Model) ExposureReport {
	var rep ExposureReport
	memo := make(map[string]InterfaceExposure)
	for _, id := range sortedKeys(current.ENIs) {
		e, c := current.ENIs[id], candidate.ENIs[id]
		if !e.HasSG() || c == nil {
			continue
		}
		key := strings.Join(e.GroupIDs, ",")
		x, ok := memo[key]
		if !ok {
			x = InterfaceExposure{IngressBefore: rulesExposure(current, e.Ingress), IngressAfter: rulesExposure(candidate, c.Ingress),
				EgressBefore: rulesExposure(current, e.Egress), EgressAfter: rulesExposure(candidate, c.Egress)}
			memo[key] = x
		}
		x.ENI, x.Groups = id, slices.Clone(e.GroupIDs)
		rep.Before.add(x.IngressBefore)
		rep.Before.add(x.EgressBefore)
		rep.After.add(x.IngressAfter)
		rep.After.add(x.EgressAfter)
		rep.Interfaces = append(rep.Interfaces, x)
	}
	if rep.Before.V4 > 0 {
		rep.ReductionV4 = 1 - rep.After.V4/rep.Before.V4
	}
	return rep
}

// ruleExposure fills each proposed rule's own exposure.
func (r *recommender) ruleExposure(candidate *vpc.Model) {
	for gi := range r.rec.Groups {
		g := &r.rec.Groups[gi]
		for _, rules := range [][]Rule{g.Ingress, g.Egress} {
			for i := range rules {
				rules[i].Exposure = rulesExposure(candidate, []*vpc.SGRule{rules[i].SGRule()})
			}
		}
	}
}

// rulesExposure measures rules (of one direction) with m's prefix lists and group members.
func rulesExposure(m *vpc.Model, rules []*vpc.SGRule) Exposure {
	var x Exposure
	peers := func(r *vpc.SGRule, b *netipx.IPSetBuilder) {
		switch r.Peer {
		case vpc.PeerCIDR:
			b.AddPrefix(r.Prefix)
		case vpc.PeerPrefixList:
			for _, p := range m.PrefixLists[r.PrefixListID] {
				b.AddPrefix(p)
			}
		case vpc.PeerGroup:
			for _, a := range m.GroupMembers(r.RefGroupID) {
				b.Add(a)
			}
		}
	}
	// unit adds the union of the peers of the rules sel selects, times width.
	unit := func(sel func(*vpc.SGRule) bool, width float64) {
		var b netipx.IPSetBuilder
		any := false
		for _, r := range rules {
			if sel(r) {
				peers(r, &b)
				any = true
			}
		}
		if !any {
			return
		}
		set, _ := b.IPSet()
		v4, v6 := setSize(set)
		x.V4 += v4 * width
		x.V6 += v6 * width
	}
	for _, proto := range []int16{vpc.ProtoTCP, vpc.ProtoUDP} {
		// Elementary port intervals between the rules' range boundaries: within one, the same rules apply.
		var cuts []int32
		for _, r := range rules {
			if r.Proto == proto || r.Proto == vpc.ProtoAll {
				from, to := portsOf(r)
				cuts = append(cuts, from, to+1)
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for i := 0; i+1 < len(cuts); i++ {
			lo, hi := cuts[i], cuts[i+1]-1
			unit(func(r *vpc.SGRule) bool {
				if r.Proto != proto && r.Proto != vpc.ProtoAll {
					return false
				}
				from, to := portsOf(r)
				return from <= lo && hi <= to
			}, float64(hi-lo+1))
		}
	}
	others := []int16{vpc.ProtoICMP, vpc.ProtoICMPv6}
	for _, r := range rules {
		if r.Proto != vpc.ProtoAll && !portsChecked(r.Proto) && !slices.Contains(others, r.Proto) {
			others = append(others, r.Proto)
		}
	}
	for _, proto := range others {
		unit(func(r *vpc.SGRule) bool { return r.Proto == proto || r.Proto == vpc.ProtoAll }, 1)
	}
	unit(func(r *vpc.SGRule) bool { return r.Proto == vpc.ProtoAll }, 1) // every protocol not named by a rule
	return x
}

// portsOf is a TCP/UDP rule's port range (all ports for -1).
func portsOf(r *vpc.SGRule) (int32, int32) {
	if r.Proto == vpc.ProtoAll || r.FromPort == -1 {
		return 0, 65535
	}
	return r.FromPort, r.ToPort
}

// setSize is the number of IPv4 and IPv6 addresses in set.
func setSize(set *netipx.IPSet) (v4, v6 float64) {
	for _, p := range set.Prefixes() {
		if p.Addr().Is4() {
			v4 += prefixSize(p)
		} else {
			v6 += prefixSize(p)
		}
	}
	return v4, v6
}
