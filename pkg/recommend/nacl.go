package recommend

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Rule 8: NACLs. A NACL guards its subnets' boundaries and is stateless [NACL]: each request that crossed a
// boundary needs an allow entry in the direction it crossed (the service), and its replies an allow entry in
// the other direction, to the client's ephemeral ports (the return). Entries are numbered NACLFirstRule,
// +NACLRuleStep, ... (gaps for later inserts): scanner denies first, then the allows in canonical order; the
// '*' denies stay implicit. Each direction fits NACLMaxEntries per family, by the same merging as groups.

// ephemeralRanges are the client port ranges of common systems [NACL]: a return entry admits the narrowest
// one holding every client port observed, so that the next connection's port (chosen anywhere in that range)
// passes too.
var ephemeralRanges = []struct {
	from, to uint16
	name     string
}{
	{32768, 61000, "the Linux ephemeral range"},
	{49152, 65535, "the Windows and IANA ephemeral range"},
	{1024, 65535, "the AWS-recommended ephemeral range"},
}

// ephemeral returns the return range for client ports cmin..cmax (0 0: unknown) and why.
func ephemeral(cmin, cmax uint16) (from, to uint16, why string) {
	if cmin == 0 && cmax == 0 {
		return 1024, 65535, "client ports unknown: the AWS-recommended ephemeral range 1024-65535"
	}
	for _, e := range ephemeralRanges {
		if cmin >= e.from && cmax <= e.to {
			return e.from, e.to, fmt.Sprintf("clients used ports %d-%d: %s %d-%d", cmin, cmax, e.name, e.from, e.to)
		}
	}
	// Clients below 1024 (NTP, DNS servers talking to each other): exactly what was observed, up to 65535
	// when the observed ports reach into the ephemeral ranges.
	to = cmax
	if cmax >= 1024 {
		to = 65535
	}
	return cmin, to, fmt.Sprintf("clients used ports %d-%d, below 1024: %d-%d", cmin, cmax, cmin, to)
}

// proposeNACLs builds every NACL's proposal, in id order.
func (r *recommender) proposeNACLs() {
	for _, id := range sortedKeys(r.m.NACLs) {
		n := r.m.NACLs[id]
		np := NACLProposal{ID: id, SubnetIDs: slices.Clone(n.SubnetIDs)}
		// The service entries of both directions first: a direction's return entries are judged with the
		// requests they serve, whose entries are in the other direction.
		var services [2][]Rule
		for _, egress := range []bool{false, true} {
			if needs := r.nacl[naclDir{n, egress}]; len(needs) > 0 {
				services[b2i(egress)] = r.serviceRules(n, egress, needs)
			}
		}
		for _, egress := range []bool{false, true} {
			needs := r.nacl[naclDir{n, egress}]
			var es []Entry
			kept := len(needs) == 0
			if kept {
				es = keptEntries(n, egress)
				r.finding(FindingNoEvidence, id, "", "", "no accepted traffic crossed the NACL's subnets %s in the window "+
					"(%d subnet(s)): its %d current %s entries are kept", naclWord(egress), len(n.SubnetIDs), len(es), naclWord(egress))
			} else {
				admitted := r.admittedBy(services[b2i(!egress)], r.nacl[naclDir{n, !egress}])
				es = r.naclEntries(n, egress, needs, services[b2i(egress)], admitted)
			}
			if egress {
				np.Outbound, np.KeptOutbound = es, kept
			} else {
				np.Inbound, np.KeptInbound = es, kept
			}
		}
		r.rec.NACLs = append(r.rec.NACLs, np)
	}
	slices.SortStableFunc(r.rec.Unproven.Entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.NACLID, b.NACLID), boolCmp(a.Egress, b.Egress), cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.PortFrom, b.PortFrom), comparePrefix(a.Prefix, b.Prefix))
	})
}

func naclWord(egress bool) string {
	if egress {
		return "outbound"
	}
	return "inbound"
}

// keptEntries is rule 9 for a NACL direction without evidence: its current numbered entries.
func keptEntries(n *vpc.NACL, egress bool) []Entry {
	cur := n.Inbound
	if egress {
		cur = n.Outbound
	}
	var out []Entry
	for _, c := range cur {
		if c.Default {
			continue
		}
		out = append(out, Entry{NACLID: n.ID, RuleNumber: c.RuleNumber, Egress: egress, Action: c.Action, Prefix: c.Prefix,
			Proto: c.Proto, PortFrom: c.PortFrom, PortTo: c.PortTo, ICMPType: c.ICMPType, ICMPCode: c.ICMPCode,
			Basis: BasisKept, Reason: "no evidence in the window: current entry " + c.Rule() + " kept"})
	}
	return out
}

// serviceRules builds one direction's service entries (as CIDR Rules) from its needs; the unproven go to
// Recommendation.Unproven.
func (r *recommender) serviceRules(n *vpc.NACL, egress bool, needs map[naclNeed]map[netip.Addr]*peerUse) []Rule {
	services := make(map[svc]peerSet)
	for need, peers := range needs {
		if need.ret {
			continue
		}
		ps := make(peerSet, len(peers))
		for a, u := range peers {
			ps[a] = &u.ev
		}
		services[svc{need.proto, need.port}] = ps
	}
	unproven := func(u Rule) { r.rec.Unproven.Entries = append(r.rec.Unproven.Entries, toEntry(n.ID, &u)) }
	return r.buildRules(n.ID, egress, services, func(a []netip.Addr) []target { return r.naclPeers(a, true) }, unproven)
}

// admittedBy returns the peers (per protocol) whose requests in needs are admitted by one of the proposed
// service entries rules: the clients whose replies the other direction's return entries serve.
func (r *recommender) admittedBy(rules []Rule, needs map[naclNeed]map[netip.Addr]*peerUse) map[uint8]map[netip.Addr]bool {
	out := make(map[uint8]map[netip.Addr]bool)
	for need, peers := range needs {
		if need.ret {
			continue
		}
		for a := range peers {
			if !slices.ContainsFunc(rules, func(ru Rule) bool {
				return ru.Proto == int16(need.proto) && ru.Prefix.Contains(a) &&
					(!portsChecked(ru.Proto) || int32(need.port) >= ru.FromPort && int32(need.port) <= ru.ToPort)
			}) {
				continue
			}
			if out[need.proto] == nil {
				out[need.proto] = make(map[netip.Addr]bool)
			}
			out[need.proto][a] = true
		}
	}
	return out
}

// naclEntries builds one direction's entries from its needs, its proposed service entries and the clients
// whose requests the other direction admits (see returnRules).
func (r *recommender) naclEntries(n *vpc.NACL, egress bool, needs map[naclNeed]map[netip.Addr]*peerUse, services []Rule,
	admitted map[uint8]map[netip.Addr]bool) []Entry {
	returns := make(map[uint8]map[netip.Addr]*peerUse)
	for need, peers := range needs {
		if need.ret {
			returns[need.proto] = peers
		}
	}
	unproven := func(u Rule) { r.rec.Unproven.Entries = append(r.rec.Unproven.Entries, toEntry(n.ID, &u)) }
	rules := slices.Clone(services)
	for _, proto := range slices.Sorted(maps.Keys(returns)) {
		rules = append(rules, r.returnRules(n.ID, egress, proto, returns[proto], admitted[proto], unproven)...)
	}
	denies := r.currentDenies(n, egress, needs)
	if !egress {
		for _, d := range r.denies[n] {
			// a scanner inside a kept deny is denied already (its own entry would be shadowed)
			if !slices.ContainsFunc(denies, func(c Entry) bool {
				return c.Proto == vpc.ProtoAll && c.Prefix.Contains(d.Prefix.Addr()) && c.Prefix.Bits() <= d.Prefix.Bits()
			}) {
				denies = append(denies, d)
			}
		}
	}
	v4, v6 := 0, 0
	for _, d := range denies {
		if d.Prefix.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	// The deny entries take their share of the quota first; v4 and v6 counts only differ when scanners of
	// both families were found, so the tighter one is used for both.
	limit := max(r.o.NACLMaxEntries-max(v4, v6), 1)
	rules = r.fitRules(n.ID, "", naclWord(egress), limit, r.o.WidestV4, r.o.WidestV6, rules)
	rules = mergeCovered(rules)
	sortRules(rules)
	out := slices.Clone(denies)
	for i := range rules {
		out = append(out, toEntry(n.ID, &rules[i]))
	}
	for i := range out {
		out[i].RuleNumber = r.o.NACLFirstRule + i*r.o.NACLRuleStep
	}
	return out
}

// currentDenies returns the explicit deny entries of n's current direction to keep ahead of the proposed
// allows: those no accepted request of this direction crossed (a peer of needs inside the entry's prefix, of
// its protocol and, for a request, its ports), that is whose sources were only ever rejected (an intended
// block: a broader allow must not open it silently). Their evidence is the rejected requests they match
// (Observations.Rejected holds inbound ones). A deny that accepted traffic crossed, or any with
// Options.DropCurrentDenies, is left out with a finding.
func (r *recommender) currentDenies(n *vpc.NACL, egress bool, needs map[naclNeed]map[netip.Addr]*peerUse) []Entry {
	cur := n.Inbound
	if egress {
		cur = n.Outbound
	}
	var out []Entry
	for _, c := range cur {
		if c.Default || c.Action != vpc.Deny {
			continue
		}
		ev, peers := r.deniedEvidence(n, &c)
		rule := naclWord(egress) + " " + c.Rule()
		if r.o.DropCurrentDenies {
			r.finding(FindingCurrentDenyDropped, n.ID, "", rule, "current deny entry %d (%s) is left out (DropCurrentDenies): "+
				"%d rejected flow(s) from %d source(s) it blocked may now be allowed", c.RuleNumber, c.Prefix, ev.Flows, peers)
			continue
		}
		if a, ok := r.crossed(&c, needs); ok {
			r.finding(FindingCurrentDenyDropped, n.ID, "", rule, "current deny entry %d (%s) is left out: accepted traffic "+
				"crossed it (peer %s, admitted by an earlier entry); %d rejected flow(s) from %d source(s) it blocked may now be "+
				"allowed: check the proposal's order", c.RuleNumber, c.Prefix, a, ev.Flows, peers)
			continue
		}
		e := Entry{NACLID: n.ID, Egress: egress, Action: vpc.Deny, Prefix: c.Prefix, Proto: c.Proto, PortFrom: c.PortFrom,
			PortTo: c.PortTo, ICMPType: c.ICMPType, ICMPCode: c.ICMPCode, Basis: BasisCurrentDeny, Peers: peers, Evidence: ev,
			Reason: fmt.Sprintf("current deny entry %d kept ahead of the allows: no accepted request crossed it; it rejected "+
				"%d flow(s) from %d source(s) in the window", c.RuleNumber, ev.Flows, peers)}
		out = append(out, e)
	}
	return out
}

// crossed returns a peer of an accepted request (or reply) of needs that the deny entry c matches.
func (r *recommender) crossed(c *vpc.NACLEntry, needs map[naclNeed]map[netip.Addr]*peerUse) (netip.Addr, bool) {
	var hit []netip.Addr
	for need, peers := range needs {
		if c.Proto != vpc.ProtoAll && c.Proto != int16(need.proto) {
			continue
		}
		if !need.ret && portsChecked(c.Proto) && (need.port < c.PortFrom || need.port > c.PortTo) {
			continue
		}
		for a := range peers {
			if c.Prefix.Contains(a) {
				hit = append(hit, a)
			}
		}
	}
	if len(hit) == 0 {
		return netip.Addr{}, false
	}
	return slices.MinFunc(hit, netip.Addr.Compare), true
}

// deniedEvidence sums the rejected requests into n's subnets that the inbound deny entry c matches.
func (r *recommender) deniedEvidence(n *vpc.NACL, c *vpc.NACLEntry) (Evidence, int) {
	var ev Evidence
	if c.Egress {
		return ev, 0
	}
	peers := make(map[netip.Addr]bool)
	for i := range r.rejected {
		x := &r.rejected[i]
		if !x.Peer.IsValid() || !c.Prefix.Contains(x.Peer) || (c.Proto != vpc.ProtoAll && c.Proto != int16(x.Proto)) ||
			(portsChecked(c.Proto) && (x.Port < c.PortFrom || x.Port > c.PortTo)) {
			continue
		}
		e := r.m.ENIByID(x.ENI)
		if e == nil || e.Subnet == nil || e.Subnet.NACL != n || inSubnet(e.Subnet, x.Peer) {
			continue
		}
		ev.Flows += x.Flows
		if x.Example != "" && (ev.Example == "" || x.Example < ev.Example) {
			ev.Example = x.Example
		}
		peers[x.Peer] = true
	}
	return ev, len(peers)
}

// naclPeers chooses NACL peers (NACLs name only CIDRs): internet-wide services as 0.0.0.0/0 and ::/0 (rule 4,
// when internet is true), peers inside the model's subnets by their subnet's CIDR (the AWS practice for
// NACLs: one entry per subnet, whatever interface comes and goes in it), the rest aggregated (rule 3).
func (r *recommender) naclPeers(addrs []netip.Addr, internet bool) []target {
	var out []target
	if internet {
		out, addrs = r.internetTargets(addrs)
	}
	bySubnet := make(map[netip.Prefix]*target)
	var rest []netip.Addr
	for _, a := range addrs {
		sn := r.m.SubnetOf(a)
		if sn == nil {
			rest = append(rest, a)
			continue
		}
		var p netip.Prefix
		for _, c := range sn.CIDRs {
			if c.Contains(a) {
				p = c
				break
			}
		}
		t := bySubnet[p]
		if t == nil {
			t = &target{peer: vpc.PeerCIDR, prefix: p, basis: BasisSubnet}
			bySubnet[p] = t
		}
		t.reason = fmt.Sprintf("peers in subnet %s (%s)", sn.ID, p)
		t.addrs = append(t.addrs, a)
	}
	for _, p := range slices.SortedFunc(maps.Keys(bySubnet), comparePrefix) {
		out = append(out, *bySubnet[p])
	}
	return append(out, r.cidrTargets(rest, "")...)
}

// returnRules builds the return entries of one protocol: the replies go to the clients' ephemeral ports.
// A return entry is judged with the requests it serves: it is proposed when the entry admitting the request
// of one of its clients is (admitted), whatever its own flows, since a request admitted without its reply is
// a broken connection; only when none of its clients' requests is admitted do the evidence thresholds decide.
// Internet-wide clients (more than InternetWideNets public networks) get 0.0.0.0/0 (::/0) with 1024-65535,
// since any internet client may pick any port of it; other clients are grouped by the ephemeral range their
// observed ports fall in (see ephemeral) and named like service peers. ICMP replies get ICMP all types.
func (r *recommender) returnRules(owner string, egress bool, proto uint8, peers map[netip.Addr]*peerUse,
	admitted map[netip.Addr]bool, unproven func(Rule)) []Rule {
	addrs := make([]netip.Addr, 0, len(peers))
	for a := range peers {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	type group struct {
		from, to uint16
		why      string
		targets  []target
	}
	var groups []group
	internet, rest := r.internetTargets(addrs)
	if len(internet) > 0 {
		groups = append(groups, group{1024, 65535, "internet-wide clients: the AWS-recommended ephemeral range 1024-65535", internet})
	}
	byRange := make(map[[2]uint16][]netip.Addr)
	whys := make(map[[2]uint16]string)
	for _, a := range rest {
		u := peers[a]
		from, to, why := ephemeral(u.cmin, u.cmax)
		k := [2]uint16{from, to}
		byRange[k] = append(byRange[k], a)
		if whys[k] == "" || why < whys[k] {
			whys[k] = why
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(byRange), func(a, b [2]uint16) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		groups = append(groups, group{k[0], k[1], whys[k], r.naclPeers(byRange[k], false)})
	}
	var out []Rule
	for _, g := range groups {
		for _, t := range g.targets {
			ru := Rule{GroupID: owner, Egress: egress, Proto: int16(proto), FromPort: -1, ToPort: -1, Peer: vpc.PeerCIDR,
				Prefix: t.prefix, Basis: BasisEphemeralReturn, Peers: len(t.addrs)}
			served := 0
			for _, a := range t.addrs {
				ru.Evidence.Add(peers[a].ev)
				if admitted[a] {
					served++
				}
			}
			ru.Reason = "replies to " + t.reason
			switch {
			case portsChecked(ru.Proto):
				ru.FromPort, ru.ToPort = int32(g.from), int32(g.to)
				ru.Reason += "; " + g.why
			case icmpProto(ru.Proto):
				ru.Reason += "; " + icmpReason
			}
			switch {
			case served > 0 && !r.proven(ru.Evidence):
				ru.Reason += fmt.Sprintf("; proposed with the %s entries admitting the requests of %d of its %d client(s), "+
					"whose replies it carries (its own %d flow(s) are below the thresholds)", naclWord(!egress), served, len(t.addrs), ru.Evidence.Flows)
			case served == 0 && !r.proven(ru.Evidence):
				ru.Reason = r.unprovenReason(ru.Evidence) + ru.Reason
				unproven(ru)
				continue
			}
			out = append(out, ru)
		}
	}
	return out
}

// mergeCovered merges every allow that another allow covers (same family, the other's protocol all or the
// same, its ports and prefix inside the other's) into the covering one: all being allows, the covered entry
// could never decide (AWS, and the loader, would call it shadowed), so only its evidence is kept.
func mergeCovered(rules []Rule) []Rule {
	covers := func(j, i *Rule) bool {
		if j.Prefix.Addr().Is4() != i.Prefix.Addr().Is4() || j.Prefix.Bits() > i.Prefix.Bits() || !j.Prefix.Contains(i.Prefix.Addr()) {
			return false
		}
		if j.Proto == vpc.ProtoAll {
			return true
		}
		return j.Proto == i.Proto && (!portsChecked(i.Proto) || (j.FromPort <= i.FromPort && i.ToPort <= j.ToPort))
	}
	dropped := make([]bool, len(rules))
	for i := range rules {
		for j := range rules {
			if i == j || dropped[j] || !covers(&rules[j], &rules[i]) {
				continue
			}
			if covers(&rules[i], &rules[j]) && j > i { // equal: the first one stays
				continue
			}
			rules[j].Evidence.Add(rules[i].Evidence)
			rules[j].Peers += rules[i].Peers
			what := protoName(rules[i].Proto)
			if portsChecked(rules[i].Proto) {
				what += fmt.Sprintf(" %d-%d", rules[i].FromPort, rules[i].ToPort)
			}
			rules[j].Reason += fmt.Sprintf("; covers the entry %s %s (%s), merged here: it could never decide",
				what, rules[i].Prefix, rules[i].Basis)
			dropped[i] = true
			break
		}
	}
	out := rules[:0]
	for i := range rules {
		if !dropped[i] {
			out = append(out, rules[i])
		}
	}
	return out
}

// toEntry converts a CIDR Rule built for a NACL into an allow entry (RuleNumber set by the caller).
func toEntry(naclID string, ru *Rule) Entry {
	e := Entry{NACLID: naclID, Egress: ru.Egress, Action: vpc.Allow, Prefix: ru.Prefix, Proto: ru.Proto, ICMPType: -1,
		ICMPCode: -1, Basis: ru.Basis, Reason: ru.Reason, Peers: ru.Peers, Evidence: ru.Evidence}
	if portsChecked(ru.Proto) {
		e.PortFrom, e.PortTo = uint16(ru.FromPort), uint16(ru.ToPort)
	}
	return e
}

// findScanners finds the sources that were only ever rejected (never the peer of an accepted request) and
// probed Options.ScannerPorts or more distinct (protocol, port), reports each, and, unless
// Options.NoScannerDenies, prepares inbound deny entries in the NACLs of the subnets they probed (at most
// MaxScannerDenies per NACL, the most probing first). A scanner inside the probed subnet never crosses its
// NACL and gets no entry there.
func (r *recommender) findScanners(rej []Rejection) {
	type probe struct {
		ports   map[svc]struct{}
		flows   int64
		enis    map[string]bool
		example string
	}
	byPeer := make(map[netip.Addr]*probe)
	for i := range rej {
		x := &rej[i]
		if !x.Peer.IsValid() || r.accepted[x.Peer] {
			continue
		}
		p := byPeer[x.Peer]
		if p == nil {
			p = &probe{ports: make(map[svc]struct{}), enis: make(map[string]bool)}
			byPeer[x.Peer] = p
		}
		p.ports[svc{x.Proto, x.Port}] = struct{}{}
		p.flows += x.Flows
		if x.ENI != "" {
			p.enis[x.ENI] = true
		}
		if x.Example != "" && (p.example == "" || x.Example < p.example) {
			p.example = x.Example
		}
	}
	for a, p := range byPeer {
		if len(p.ports) < r.o.ScannerPorts {
			continue
		}
		r.rec.Scanners = append(r.rec.Scanners, Scanner{Peer: a, Ports: len(p.ports), Flows: p.flows,
			ENIs: slices.Sorted(maps.Keys(p.enis)), Example: p.example})
	}
	slices.SortFunc(r.rec.Scanners, func(a, b Scanner) int {
		return cmp.Or(cmp.Compare(b.Ports, a.Ports), cmp.Compare(b.Flows, a.Flows), a.Peer.Compare(b.Peer))
	})
	for _, s := range r.rec.Scanners {
		r.finding(FindingScanner, s.Peer.String(), "", "", "probed %d distinct ports in %d flow(s) on %d interface(s) and was "+
			"never accepted (e.g. %s)", s.Ports, s.Flows, len(s.ENIs), s.Example)
		if r.o.NoScannerDenies {
			continue
		}
		for _, id := range s.ENIs {
			e := r.m.ENIByID(id)
			if e == nil || e.Subnet == nil || e.Subnet.NACL == nil || inSubnet(e.Subnet, s.Peer) {
				continue
			}
			n := e.Subnet.NACL
			ds := r.denies[n]
			if len(ds) >= r.o.MaxScannerDenies || slices.ContainsFunc(ds, func(d Entry) bool { return d.Prefix.Addr() == s.Peer }) {
				continue
			}
			r.denies[n] = append(ds, Entry{NACLID: n.ID, Action: vpc.Deny, Prefix: netip.PrefixFrom(s.Peer, s.Peer.BitLen()),
				Proto: vpc.ProtoAll, ICMPType: -1, ICMPCode: -1, Basis: BasisScannerDeny, Peers: 1,
				Evidence: Evidence{Flows: s.Flows, Example: s.Example},
				Reason: fmt.Sprintf("scanner: probed %d distinct ports and was never accepted; explicit deny ahead of the "+
					"allows (an allowed return range would otherwise let its probes reach the groups)", s.Ports)})
		}
	}
}
