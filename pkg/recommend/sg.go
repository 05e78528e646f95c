package recommend

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// ruleKey is a rule without its ports: protocol and peer.
type ruleKey struct {
	proto  int16
	peer   vpc.PeerKind
	prefix netip.Prefix
	pl     string
	group  string
}

// portAcc is what one port of a ruleKey stands for.
type portAcc struct {
	ev     Evidence
	addrs  []netip.Addr
	basis  Basis
	reason string
}

func portsChecked(proto int16) bool { return proto == vpc.ProtoTCP || proto == vpc.ProtoUDP }
func icmpProto(proto int16) bool    { return proto == vpc.ProtoICMP || proto == vpc.ProtoICMPv6 }

// icmpReason is rule 6: flow logs record ICMP with ports 0 0 and no type or code [FLX], so which types were
// used is unknown; the rule allows the protocol with all types, and says so. ICMPv6 (protocol 58) gets its
// own rule when IPv6 peers used it.
const icmpReason = "flow logs carry no ICMP type or code: all types allowed"

// proposeGroups builds every group's proposal, in id order.
func (r *recommender) proposeGroups() {
	r.rec.NeverFiltered = r.neverList()
	kept := make(map[groupDir]bool)
	for _, id := range sortedKeys(r.m.Groups) {
		g := r.m.Groups[id]
		gp := GroupProposal{ID: id, Name: g.Name, Learning: r.learning(id)}
		for _, egress := range []bool{false, true} {
			var rules []Rule
			needs := r.sg[groupDir{id, egress}]
			active := 0
			for _, e := range r.members[id] {
				if a := r.active[e]; a != nil && a[b2i(egress)] {
					active++
				}
			}
			kept := active == 0
			switch {
			case kept:
				rules = r.keptRules(g, egress)
				r.finding(FindingNoEvidence, id, g.Name, "", "no member interface had an accepted %s request in the window "+
					"(%d member(s)): its %d current %s rule(s) are kept, never an empty set that would isolate it",
					dirName(egress), len(r.members[id]), len(rules), dirName(egress))
			case len(needs) == 0:
				r.finding(FindingCoveredElsewhere, id, g.Name, "", "%d member interface(s) had %s requests, all allowed today by "+
					"rules of their other groups: no %s rule is proposed for this group", active, dirName(egress), dirName(egress))
			default:
				choose := func(addrs []netip.Addr) []target { return r.chooseSGPeers(g, addrs) }
				rules = r.buildRules(id, egress, needs, choose, func(u Rule) { r.rec.Unproven.Rules = append(r.rec.Unproven.Rules, u) })
				rules = r.fitRules(id, g.Name, dirName(egress), r.o.MaxRules, r.o.WidestV4, r.o.WidestV6, rules)
				sortRules(rules)
			}
			if egress {
				gp.Egress, gp.KeptEgress = rules, kept
			} else {
				gp.Ingress, gp.KeptIngress = rules, kept
			}
		}
		r.rec.Groups = append(r.rec.Groups, gp)
		kept[groupDir{id, false}], kept[groupDir{id, true}] = gp.KeptIngress, gp.KeptEgress
	}
	sortRules(r.rec.Unproven.Rules)
	r.inactiveInterfaces(kept)
}

// inactiveInterfaces reports the interfaces that had no request in a direction while all their groups get
// proposals for it (their other members were active): the proposal was learned without them, so it may
// block what they do outside the window.
func (r *recommender) inactiveInterfaces(kept map[groupDir]bool) {
	for _, id := range sortedKeys(r.m.ENIs) {
		e := r.m.ENIs[id]
		if !e.HasSG() {
			continue
		}
		for _, egress := range []bool{false, true} {
			if a := r.active[e]; a != nil && a[b2i(egress)] {
				continue
			}
			if !slices.ContainsFunc(e.GroupIDs, func(g string) bool { return kept[groupDir{g, egress}] }) {
				r.finding(FindingInactiveENI, id, "", "", "no accepted %s request in the window, but its groups %v get proposals "+
					"learned from their other members: check what it does before enforcing", dirName(egress), e.GroupIDs)
			}
		}
	}
}

func dirName(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// keptRules is rule 9 for a direction without evidence: the current rules, unchanged.
func (r *recommender) keptRules(g *vpc.SecurityGroup, egress bool) []Rule {
	cur := g.Ingress
	if egress {
		cur = g.Egress
	}
	out := make([]Rule, 0, len(cur))
	for _, c := range cur {
		out = append(out, Rule{GroupID: g.ID, Egress: egress, Proto: c.Proto, FromPort: c.FromPort, ToPort: c.ToPort,
			Peer: c.Peer, Prefix: c.Prefix, PrefixListID: c.PrefixListID, RefGroupID: c.RefGroupID,
			RefGroupName: r.refName(c.RefGroupID), Description: c.Description, Basis: BasisKept,
			Reason: "no evidence in the window: current rule " + c.ID + " kept"})
	}
	return out
}

func (r *recommender) refName(id string) string {
	if g := r.m.Groups[id]; g != nil {
		return g.Name
	}
	return ""
}

// buildRules turns one direction's observed services into rules of owner (a group, or a NACL for entries):
// peers chosen by choose per service (rules 1-4 for groups), then, per (protocol, peer), the evidence
// threshold (rule 9: what falls short goes to unproven) and port collapsing (rule 5).
func (r *recommender) buildRules(owner string, egress bool, needs map[svc]peerSet, choose func([]netip.Addr) []target,
	unproven func(Rule)) []Rule {
	acc := make(map[ruleKey]map[int32]*portAcc)
	for _, s := range slices.SortedFunc(maps.Keys(needs), cmpSvc) {
		ps := needs[s]
		proto, port := int16(s.proto), int32(s.port)
		if !portsChecked(proto) {
			port = -1
		}
		for _, t := range choose(ps.sorted()) {
			k := ruleKey{proto: proto, peer: t.peer, prefix: t.prefix, pl: t.pl, group: t.group}
			pa := &portAcc{addrs: t.addrs, basis: t.basis, reason: t.reason}
			for _, a := range t.addrs {
				pa.ev.Add(*ps[a])
			}
			if acc[k] == nil {
				acc[k] = make(map[int32]*portAcc)
			}
			acc[k][port] = pa
		}
	}
	var rules []Rule
	for _, k := range slices.SortedFunc(maps.Keys(acc), cmpRuleKey) {
		byPort := acc[k]
		var proven []int32
		for _, p := range slices.Sorted(maps.Keys(byPort)) {
			if pa := byPort[p]; !r.proven(pa.ev) {
				u := r.makeRule(owner, egress, k, portRange{p, p, 1}, []*portAcc{pa})
				u.Reason = r.unprovenReason(pa.ev) + u.Reason
				unproven(u)
				continue
			}
			proven = append(proven, p)
		}
		if len(proven) == 0 {
			continue
		}
		ranges := []portRange{{-1, -1, 1}}
		if portsChecked(k.proto) {
			ranges = r.o.collapse(proven)
		}
		for _, rg := range ranges {
			var pas []*portAcc
			for _, p := range proven {
				if p >= rg.from && p <= rg.to {
					pas = append(pas, byPort[p])
				}
			}
			rules = append(rules, r.makeRule(owner, egress, k, rg, pas))
		}
	}
	return rules
}

func cmpSvc(a, b svc) int { return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.port, b.port)) }

func cmpRuleKey(a, b ruleKey) int {
	return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(peerOrder(a.peer, a.prefix), peerOrder(b.peer, b.prefix)),
		comparePrefix(a.prefix, b.prefix), cmp.Compare(a.pl, b.pl), cmp.Compare(a.group, b.group))
}

// peerOrder is the order of peers within one permission of describe-security-groups (IpRanges, Ipv6Ranges,
// PrefixListIds, UserIdGroupPairs), which the loader keeps: sorting rules by it makes the AWS JSON load back
// in the same order.
func peerOrder(k vpc.PeerKind, p netip.Prefix) int {
	switch k {
	case vpc.PeerCIDR:
		if p.Addr().Is6() {
			return 1
		}
		return 0
	case vpc.PeerPrefixList:
		return 2
	}
	return 3
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// sortRules puts rules in canonical order: protocol, ports, peer kind (as AWS groups them), peer.
func sortRules(rules []Rule) {
	slices.SortStableFunc(rules, func(a, b Rule) int {
		return cmp.Or(cmp.Compare(a.GroupID, b.GroupID), boolCmp(a.Egress, b.Egress), cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.FromPort, b.FromPort), cmp.Compare(a.ToPort, b.ToPort),
			cmpRuleKey(ruleKey{peer: a.Peer, prefix: a.Prefix, pl: a.PrefixListID, group: a.RefGroupID},
				ruleKey{peer: b.Peer, prefix: b.Prefix, pl: b.PrefixListID, group: b.RefGroupID}))
	})
}

// proven reports whether evidence meets Options.MinFlows and MinWindows (rule 9).
func (r *recommender) proven(ev Evidence) bool {
	return ev.Flows >= r.o.MinFlows && ev.Slots() >= r.o.MinWindows
}

func (r *recommender) unprovenReason(ev Evidence) string {
	return fmt.Sprintf("unproven: %d flow(s) in %d window(s), below the %d flow(s) and %d window(s) required; ",
		ev.Flows, ev.Slots(), r.o.MinFlows, r.o.MinWindows)
}

// makeRule builds the rule for key k on port range rg from the ports' accumulators.
func (r *recommender) makeRule(group string, egress bool, k ruleKey, rg portRange, pas []*portAcc) Rule {
	ru := Rule{GroupID: group, Egress: egress, Proto: k.proto, FromPort: rg.from, ToPort: rg.to, Peer: k.peer,
		Prefix: k.prefix, PrefixListID: k.pl, RefGroupID: k.group, RefGroupName: r.refName(k.group)}
	peers := make(map[netip.Addr]struct{})
	for _, pa := range pas {
		ru.Evidence.Add(pa.ev)
		for _, a := range pa.addrs {
			peers[a] = struct{}{}
		}
	}
	ru.Peers, ru.Ports = len(peers), len(pas)
	ru.Basis, ru.Reason = pas[0].basis, pas[0].reason
	if rg.to > rg.from {
		ru.Reason += "; " + rg.note()
	}
	if icmpProto(k.proto) {
		ru.Reason += "; " + icmpReason
	}
	ru.Description = describe(ru.Evidence, ru.Peers)
	return ru
}

// describe is the AWS rule description: a short evidence summary within AWS's 255 characters and allowed
// character set (letters, digits, space and ._-:/()#,@[]+=&;{}!$*).
func describe(ev Evidence, peers int) string {
	day := func(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02") }
	return fmt.Sprintf("flowlens: %d flows, %d peers, %d windows, %s to %s", ev.Flows, peers, ev.Slots(),
		day(ev.FirstSeen), day(ev.LastSeen))
}

// portRange is a collapsed run of observed ports.
type portRange struct {
	from, to int32
	observed int
}

// note says what a collapsed range opens beyond what was observed.
func (rg portRange) note() string {
	width := int(rg.to-rg.from) + 1
	return fmt.Sprintf("ports %d-%d collapsed: %d of %d observed, %d unobserved opened", rg.from, rg.to, rg.observed, width,
		width-rg.observed)
}

// collapse is rule 5: sorted distinct observed ports become ranges. A run p..q may grow to the next port only
// when the ports in it that were not observed stay at most max(PortGap, PortGapFraction * (q-p+1)) and none
// of them is a sensitive port (administrative and database ports are opened only when observed).
// Consecutive ports always merge: that opens nothing unseen.
func (o *Options) collapse(ports []int32) []portRange {
	if len(ports) == 0 {
		return nil
	}
	gap, frac := max(o.PortGap, 0), max(o.PortGapFraction, 0)
	out := []portRange{{ports[0], ports[0], 1}}
	for _, p := range ports[1:] {
		cur := &out[len(out)-1]
		width := int(p-cur.from) + 1
		unobserved := width - cur.observed - 1
		if unobserved <= max(gap, int(frac*float64(width))) && !o.sensitiveIn(cur.to+1, p-1) {
			cur.to, cur.observed = p, cur.observed+1
			continue
		}
		out = append(out, portRange{p, p, 1})
	}
	return out
}

// sensitiveIn reports whether a sensitive port lies in from..to.
func (o *Options) sensitiveIn(from, to int32) bool {
	for _, s := range o.SensitivePorts {
		if int32(s) >= from && int32(s) <= to {
			return true
		}
	}
	return false
}

// quotaWeight is what a rule counts toward AWS's rules-per-group quota of one family [Q]: a CIDR counts in
// its family; a prefix list counts its entries of the family (AWS counts its maximum entries, which the model
// does not hold); a group reference counts once, in IPv4 (flowlens's choice: AWS does not say per family).
func (r *recommender) quotaWeight(ru *Rule, v6 bool) int {
	switch ru.Peer {
	case vpc.PeerCIDR:
		if ru.Prefix.Addr().Is6() == v6 {
			return 1
		}
	case vpc.PeerGroup:
		if !v6 {
			return 1
		}
	case vpc.PeerPrefixList:
		n := 0
		for _, p := range r.m.PrefixLists[ru.PrefixListID] {
			if p.Addr().Is6() == v6 {
				n++
			}
		}
		return n
	}
	return 0
}

// fitRules is rule 7: while a family of the direction has more than Options.MaxRules rules, first two CIDR
// rules of the same protocol and ports are merged into their narrowest common supernet (never wider than
// WidestV4/WidestV6; narrowest first), then two port ranges of the same protocol and peer are merged (the
// pair opening the fewest unobserved ports first, never over an unobserved sensitive port). Every merge is
// reported (FindingQuotaMerge); a direction still over the quota is reported (FindingQuotaExceeded) and
// kept whole: dropping observed traffic silently would break it.
//
// NACL entries go through the same steps (as Rules with CIDR peers), with their own limit.
func (r *recommender) fitRules(owner, name, dir string, limit, widest4, widest6 int, rules []Rule) []Rule {
	for _, v6 := range []bool{false, true} {
		count := func() int {
			n := 0
			for i := range rules {
				n += r.quotaWeight(&rules[i], v6)
			}
			return n
		}
		before := count()
		if before <= limit {
			continue
		}
		var merged []string
		widest := widest4
		if v6 {
			widest = widest6
		}
		for count() > limit {
			i, j, bits := -1, -1, -1
			for a := range rules {
				for b := a + 1; b < len(rules); b++ {
					x, y := &rules[a], &rules[b]
					if x.Peer != vpc.PeerCIDR || y.Peer != vpc.PeerCIDR || x.Prefix.Addr().Is6() != v6 ||
						x.Proto != y.Proto || x.FromPort != y.FromPort || x.ToPort != y.ToPort {
						continue
					}
					if c := commonBits(x.Prefix, y.Prefix); c >= widest && c > bits {
						i, j, bits = a, b, c
					}
				}
			}
			if i < 0 {
				break
			}
			sup := netip.PrefixFrom(rules[i].Prefix.Addr(), bits).Masked()
			merged = append(merged, fmt.Sprintf("%s + %s -> %s", rules[i].String(), rules[j].String(), sup))
			rules[i].Prefix = sup
			mergeInto(&rules[i], &rules[j], false)
			rules = slices.Delete(rules, j, j+1)
			for b := 0; b < len(rules); b++ { // the supernet may hold other rules of the same ports
				y := &rules[b]
				if b != i && y.Peer == vpc.PeerCIDR && y.Proto == rules[i].Proto && y.FromPort == rules[i].FromPort &&
					y.ToPort == rules[i].ToPort && sup.Contains(y.Prefix.Addr()) && y.Prefix.Bits() >= sup.Bits() {
					mergeInto(&rules[i], y, false)
					rules = slices.Delete(rules, b, b+1)
					if b < i {
						i--
					}
					b--
				}
			}
		}
		for count() > limit {
			i, j, gap := -1, -1, int32(-1)
			for a := range rules {
				for b := range rules {
					x, y := &rules[a], &rules[b]
					if a == b || !portsChecked(x.Proto) || x.Proto != y.Proto || x.ToPort >= y.FromPort ||
						r.quotaWeight(x, v6) == 0 || cmpRuleKey(keyOf(x), keyOf(y)) != 0 || r.o.sensitiveIn(x.ToPort+1, y.FromPort-1) {
						continue
					}
					if d := y.FromPort - x.ToPort - 1; gap < 0 || d < gap {
						i, j, gap = a, b, d
					}
				}
			}
			if i < 0 {
				break
			}
			merged = append(merged, fmt.Sprintf("%s + %s -> ports %d-%d", rules[i].String(), rules[j].String(),
				rules[i].FromPort, rules[j].ToPort))
			rules[i].ToPort = rules[j].ToPort
			mergeInto(&rules[i], &rules[j], true)
			rules = slices.Delete(rules, j, j+1)
		}
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		if len(merged) > 0 {
			r.finding(FindingQuotaMerge, owner, name, "", "%s %s: %d rules over the quota of %d, merged to %d: %s",
				dir, fam, before, limit, count(), strings.Join(merged, "; "))
		}
		if n := count(); n > limit {
			r.finding(FindingQuotaExceeded, owner, name, "", "%s %s: %d rules after merging, over the quota of %d: "+
				"split it or raise the quota (AWS Service Quotas)", dir, fam, n, limit)
		}
	}
	return rules
}

func keyOf(ru *Rule) ruleKey {
	return ruleKey{proto: ru.Proto, peer: ru.Peer, prefix: ru.Prefix, pl: ru.PrefixListID, group: ru.RefGroupID}
}

// mergeInto adds y's evidence to x for a quota merge; ports says the merge joined port ranges (disjoint
// ports add up) rather than peers (disjoint peers add up).
func mergeInto(x, y *Rule, ports bool) {
	x.Evidence.Add(y.Evidence)
	if ports {
		x.Ports += y.Ports
		x.Peers = max(x.Peers, y.Peers)
	} else {
		x.Peers += y.Peers
		x.Ports = max(x.Ports, y.Ports)
	}
	if !x.MergedToFitQuota {
		x.Reason += "; merged to fit the rules quota (see findings)"
	}
	x.MergedToFitQuota = true
	x.Description = describe(x.Evidence, x.Peers)
}
