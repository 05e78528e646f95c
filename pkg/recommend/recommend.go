// Package recommend proposes least-privilege security-group rules and NACL entries from observed traffic,
// each with the evidence that justifies it, and findings on the current configuration.
//
// Recommend is a pure function of a topology (*vpc.Model), Observations and Options. Every choice it makes is
// a named rule (Basis, FindingKind) documented where it is made:
//
//  1. peers that are interfaces of a group become a reference to the group that matches them most exactly
//     (groupTargets);
//  2. a managed prefix list covering peers is used when none of its entries is too wide (prefixListTargets);
//  3. other peers are aggregated into CIDRs under width and count limits (cidrTargets);
//  4. a service used by many unrelated public networks is opened to 0.0.0.0/0 (::/0) on its port only
//     (internetTargets);
//  5. ports collapse into ranges only where little unseen is opened, never over an unseen sensitive port
//     (Options.collapse);
//  6. ICMP and ICMPv6 rules allow all types: flow logs carry none (icmpReason);
//  7. each group direction fits AWS's rule quota, by widening CIDRs then merging ports (fitRules);
//  8. NACLs get ordered entries, ephemeral return ranges the clients used and scanner denies (nacl.go);
//     8b. the accepted requests of probing sources (many ports tried, mostly rejected) are not learned
//     from, and a current rule that admitted only them is reported (probers.go);
//  9. a direction with no evidence keeps its current rules; rules under the evidence thresholds are
//     Unproven, not proposed;
//  10. traffic AWS never filters gets no rule (neverFiltered);
//  11. findings on the current configuration (current.go);
//  12. exposure before and after, per interface and per rule (exposure.go, measured by pkg/exposure);
//  13. the learning rate per group (learning.go).
//
// Apply turns a Recommendation into a candidate *vpc.Model; WriteSecurityGroups and WriteNetworkACLs write it
// as AWS CLI JSON.
package recommend

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Recommendation is Recommend's result. Every slice is sorted (groups and NACLs by id, rules in canonical
// order, findings by kind then resource), so equal inputs give byte-equal output.
type Recommendation struct {
	Window        Window          `json:"window"`
	Options       Options         `json:"options"` // as used, defaults filled in
	Groups        []GroupProposal `json:"groups"`
	NACLs         []NACLProposal  `json:"nacls"`
	Unproven      Unproven        `json:"unproven"`
	NeverFiltered []NeverFiltered `json:"never_filtered"`
	Scanners      []Scanner       `json:"scanners"`
	Findings      []Finding       `json:"findings"`
	Exposure      ExposureReport  `json:"exposure"`
}

// Recommend proposes rules for every security group and NACL of m from obs. m is only read (it may be shared
// with a replay); obs is only read. It fails when m has fatal findings (its verdicts, and so the attribution
// of traffic to groups, could be wrong) or when the candidate it builds does not compile.
func Recommend(m *vpc.Model, obs *Observations, opt Options) (*Recommendation, error) {
	if m == nil {
		return nil, fmt.Errorf("recommend: no topology")
	}
	if err := m.FatalError(); err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	if obs == nil {
		obs = &Observations{}
	}
	r := newRecommender(m, obs, opt.withDefaults())
	r.findProbers(obs.Requests, obs.Rejected)
	r.collect(obs.Requests)
	r.findScanners(obs.Rejected)
	r.probersFindings()
	r.proposeGroups()
	r.proposeNACLs()
	r.currentFindings(obs.RuleHits)
	rec := r.rec
	candidate, err := rec.Apply(m)
	if err != nil {
		return nil, err
	}
	rec.Exposure = exposureReport(m, candidate)
	r.ruleExposure(candidate)
	slices.SortFunc(rec.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message))
	})
	rec.emptyLists()
	return rec, nil
}

// emptyLists makes every nil slice of rec empty, so its JSON has [] for an empty list, never null (as every
// command's -o json).
func (rec *Recommendation) emptyLists() {
	orEmpty := func(v any) {
		switch p := v.(type) {
		case *[]Rule:
			if *p == nil {
				*p = []Rule{}
			}
		case *[]Entry:
			if *p == nil {
				*p = []Entry{}
			}
		case *[]string:
			if *p == nil {
				*p = []string{}
			}
		}
	}
	orEmpty(&rec.Unproven.Rules)
	orEmpty(&rec.Unproven.Entries)
	for i := range rec.Groups {
		orEmpty(&rec.Groups[i].Ingress)
		orEmpty(&rec.Groups[i].Egress)
	}
	for i := range rec.NACLs {
		orEmpty(&rec.NACLs[i].SubnetIDs)
		orEmpty(&rec.NACLs[i].Inbound)
		orEmpty(&rec.NACLs[i].Outbound)
	}
	for i := range rec.Scanners {
		orEmpty(&rec.Scanners[i].ENIs)
	}
	for i := range rec.Exposure.Interfaces {
		orEmpty(&rec.Exposure.Interfaces[i].Groups)
	}
	if rec.Groups == nil {
		rec.Groups = []GroupProposal{}
	}
	if rec.NACLs == nil {
		rec.NACLs = []NACLProposal{}
	}
	if rec.NeverFiltered == nil {
		rec.NeverFiltered = []NeverFiltered{}
	}
	if rec.Scanners == nil {
		rec.Scanners = []Scanner{}
	}
	if rec.Findings == nil {
		rec.Findings = []Finding{}
	}
	if rec.Exposure.Interfaces == nil {
		rec.Exposure.Interfaces = []InterfaceExposure{}
	}
	if rec.Options.SensitivePorts == nil {
		rec.Options.SensitivePorts = []uint16{}
	}
}

// svc is a service: protocol and service port (0 for port-less protocols).
type svc struct {
	proto uint8
	port  uint16
}

type groupDir struct {
	group  string
	egress bool
}

type naclDir struct {
	nacl   *vpc.NACL
	egress bool
}

// naclNeed is what one NACL direction must admit: a service (ret false) or the replies of a protocol (ret true).
type naclNeed struct {
	ret   bool
	proto uint8
	port  uint16
}

// peerUse is one peer's evidence for a need, with the clients' ephemeral ports for return entries.
type peerUse struct {
	ev         Evidence
	cmin, cmax uint16 // 0 0 = unknown
}

func (u *peerUse) add(ev Evidence, cmin, cmax uint16) {
	u.ev.Add(ev)
	if cmin == 0 && cmax == 0 {
		return
	}
	if u.cmin == 0 && u.cmax == 0 {
		u.cmin, u.cmax = cmin, cmax
		return
	}
	u.cmin, u.cmax = min(u.cmin, cmin), max(u.cmax, cmax)
}

// recommender holds one Recommend call's state.
type recommender struct {
	m   *vpc.Model
	o   Options
	w   Window
	rec *Recommendation

	members  map[string][]*vpc.ENI // group id -> member interfaces, by id
	reserved map[netip.Addr]string // never-filtered addresses of the model's subnets

	sg       map[groupDir]map[svc]peerSet
	nacl     map[naclDir]map[naclNeed]map[netip.Addr]*peerUse
	pairs    map[string]map[pairKey]int64 // group -> (peer identity, service) -> first seen
	ruleUse  map[*vpc.SGRule]map[netip.Addr]struct{}
	accepted map[netip.Addr]bool   // every peer of an accepted request
	active   map[*vpc.ENI]*[2]bool // interfaces with requests, per direction (ingress, egress)
	never    map[neverKey]*NeverFiltered
	denies   map[*vpc.NACL][]Entry  // scanner denies, numbered later
	rejected []Rejection            // Observations.Rejected
	probers  map[netip.Addr]*prober // rule 8b: sources whose accepted requests are not learned from
}

func newRecommender(m *vpc.Model, obs *Observations, o Options) *recommender {
	r := &recommender{
		m: m, o: o, w: obs.Window.normal(),
		members:  make(map[string][]*vpc.ENI),
		sg:       make(map[groupDir]map[svc]peerSet),
		nacl:     make(map[naclDir]map[naclNeed]map[netip.Addr]*peerUse),
		pairs:    make(map[string]map[pairKey]int64),
		ruleUse:  make(map[*vpc.SGRule]map[netip.Addr]struct{}),
		accepted: make(map[netip.Addr]bool),
		active:   make(map[*vpc.ENI]*[2]bool),
		never:    make(map[neverKey]*NeverFiltered),
		denies:   make(map[*vpc.NACL][]Entry),
		rejected: obs.Rejected,
	}
	if obs.Window.End == 0 && obs.Window.Start == 0 {
		r.w = windowOf(obs.Requests)
	}
	r.rec = &Recommendation{Window: r.w, Options: o}
	for _, id := range slices.Sorted(maps.Keys(m.ENIs)) {
		e := m.ENIs[id]
		for _, g := range e.GroupIDs {
			if m.Groups[g] != nil && !slices.Contains(r.members[g], e) {
				r.members[g] = append(r.members[g], e)
			}
		}
	}
	r.reserved = reservedAddrs(m)
	return r
}

// windowOf is the window the requests span, in days, when the caller gave none.
func windowOf(reqs []Request) Window {
	var w Window
	for i := range reqs {
		ev := &reqs[i].Evidence
		if ev.FirstSeen != 0 && (w.Start == 0 || ev.FirstSeen < w.Start) {
			w.Start = ev.FirstSeen
		}
		w.End = max(w.End, ev.LastSeen+1)
	}
	return w.normal()
}

// reqKey identifies an aggregated request at one interface.
type reqKey struct {
	eni         *vpc.ENI
	egress      bool
	local, peer netip.Addr
	proto       uint8
	port        uint16
}

type reqAgg struct {
	use    peerUse
	direct bool // from the interface's own records, not mirrored from its peer's
}

// collect aggregates the requests per interface and derives what each group direction and NACL direction
// must admit.
//
// A request between two interfaces of the model needs the client's egress rule and the server's ingress rule
// (and both subnets' NACLs), but only one side may have flow logs: each request is therefore also MIRRORED to
// the peer interface. An interface's own records win over the mirror, so evidence is never counted twice, and
// a request the peer interface's own records rejected (Observations.Rejected) is not mirrored to it: the
// sender accepting it says nothing about the receiver's rules, which refused it.
func (r *recommender) collect(reqs []Request) {
	aggs := make(map[reqKey]*reqAgg, len(reqs))
	add := func(k reqKey, q *Request, direct bool) {
		a := aggs[k]
		switch {
		case a == nil:
			a = &reqAgg{direct: direct}
			aggs[k] = a
		case direct && !a.direct:
			*a = reqAgg{direct: true}
		case !direct && a.direct:
			return
		}
		a.use.add(q.Evidence, q.ClientPortMin, q.ClientPortMax)
	}
	// The receiving interfaces' rejections (inbound: Observations.Rejected): a request the receiver rejected
	// is not mirrored to it, since its rules or NACL refused it (the sender's acceptance says nothing of them).
	type rejKey struct {
		eni   string
		peer  netip.Addr
		proto uint8
		port  uint16
	}
	rejectedAt := make(map[rejKey]bool, len(r.rejected))
	for i := range r.rejected {
		x := &r.rejected[i]
		rejectedAt[rejKey{x.ENI, x.Peer, x.Proto, x.Port}] = true
	}
	notMirrored := make(map[*vpc.ENI]int64)
	unknown := make(map[string]int64)
	for i := range reqs {
		q := &reqs[i]
		e := r.m.ENIByID(q.ENI)
		if e == nil || !q.Peer.IsValid() {
			unknown[q.ENI] += q.Flows
			continue
		}
		local := q.Local
		if !local.IsValid() {
			local = e.Primary
		}
		egress := q.Dir == vpc.Egress
		if what := r.neverFiltered(q.Peer, q.Proto, q.Port); what != "" {
			r.addNever(e, egress, q, what)
			continue
		}
		add(reqKey{e, egress, local, q.Peer, q.Proto, q.Port}, q, true)
		if p := r.m.ENIByAddr(q.Peer); p != nil && p != e {
			if egress && rejectedAt[rejKey{p.ID, local, q.Proto, q.Port}] {
				notMirrored[p] += q.Flows
				continue
			}
			add(reqKey{p, !egress, q.Peer, local, q.Proto, q.Port}, q, false)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(unknown)) {
		r.finding(FindingUnknownENI, id, "", "", "%d accepted request flow(s) on an interface the topology does not have "+
			"(or without a peer address): no rule derived from them", unknown[id])
	}
	for _, p := range slices.SortedFunc(maps.Keys(notMirrored), func(a, b *vpc.ENI) int { return cmp.Compare(a.ID, b.ID) }) {
		r.finding(FindingRejectedAtReceiver, p.ID, "", "", "%d request flow(s) accepted by their sender were rejected by this "+
			"interface's own records: not learned for it (its groups and NACL refused them; a rule for them needs a human)", notMirrored[p])
	}
	notAllowed := make(map[*vpc.ENI]int64)
	for k, a := range aggs {
		r.accepted[k.peer] = true // a prober too: accepted somewhere, so not a Scanner
		if pr := r.probers[k.peer]; pr != nil && !k.egress {
			// rule 8b: credit the rules that admitted it (findings), learn nothing
			if k.eni.HasSG() {
				p := k.packet(a.use.cmin)
				first, i := k.eni.EvalSGAt(vpc.Ingress, &p)
				for rule := first; rule != nil; rule, i = k.eni.EvalSGFrom(vpc.Ingress, &p, i+1) {
					pr.rules[rule] = struct{}{}
				}
				r.attribute(k.eni, false, &p)
			}
			continue
		}
		act := r.active[k.eni]
		if act == nil {
			act = new([2]bool)
			r.active[k.eni] = act
		}
		act[b2i(k.egress)] = true
		p := k.packet(a.use.cmin)
		if k.eni.HasSG() {
			g := r.attribute(k.eni, k.egress, &p)
			if g == "" {
				g = k.eni.GroupIDs[0]
				if a.direct { // a mirror was not accepted at this interface: no drift to report
					notAllowed[k.eni] += a.use.ev.Flows
				}
			}
			r.addSG(g, k.egress, svc{k.proto, k.port}, k.peer, a.use.ev)
			r.addPair(g, k.peer, svc{k.proto, k.port}, a.use.ev.FirstSeen)
		}
		if sn := k.eni.Subnet; sn != nil && sn.NACL != nil && !inSubnet(sn, k.peer) {
			// NACLs are stateless [NACL]: the request crosses the boundary one way, its reply the other way.
			r.addNACL(naclDir{sn.NACL, k.egress}, naclNeed{false, k.proto, k.port}, k.peer, a.use.ev, 0, 0)
			r.addNACL(naclDir{sn.NACL, !k.egress}, naclNeed{true, k.proto, 0}, k.peer, a.use.ev, a.use.cmin, a.use.cmax)
		}
	}
	for _, e := range slices.SortedFunc(maps.Keys(notAllowed), func(a, b *vpc.ENI) int { return cmp.Compare(a.ID, b.ID) }) {
		r.finding(FindingUnexplainedDeny, e.ID, "", "", "%d accepted request flow(s) that the current security groups do not "+
			"allow (configuration drift or missing topology): attributed to the interface's first group %s", notAllowed[e], e.GroupIDs[0])
	}
}

// packet is the request as a vpc.Packet, from the client port cport.
func (k *reqKey) packet(cport uint16) vpc.Packet {
	p := vpc.Packet{Src: k.peer, Dst: k.local, SrcPort: cport, DstPort: k.port, Proto: k.proto,
		ICMPType: vpc.ICMPUnknown, ICMPCode: vpc.ICMPUnknown}
	if k.egress {
		p.Src, p.Dst = k.local, k.peer
	}
	return p
}

func inSubnet(sn *vpc.Subnet, a netip.Addr) bool {
	for _, p := range sn.CIDRs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// attribute returns the group whose proposal must cover a request at interface e: the group of the first
// current rule that allows it (so each group keeps the responsibilities it has today); "" when no current
// rule allows it (the caller then takes the interface's first group). It credits every current rule that
// allows the request with the peer (over-broad findings).
func (r *recommender) attribute(e *vpc.ENI, egress bool, p *vpc.Packet) string {
	dir := vpc.Ingress
	peer := p.Src
	if egress {
		dir, peer = vpc.Egress, p.Dst
	}
	first, i := e.EvalSGAt(dir, p)
	for rule := first; rule != nil; rule, i = e.EvalSGFrom(dir, p, i+1) {
		u := r.ruleUse[rule]
		if u == nil {
			u = make(map[netip.Addr]struct{})
			r.ruleUse[rule] = u
		}
		u[peer] = struct{}{}
	}
	if first != nil {
		return first.GroupID
	}
	return ""
}

func (r *recommender) addSG(group string, egress bool, s svc, peer netip.Addr, ev Evidence) {
	k := groupDir{group, egress}
	byS := r.sg[k]
	if byS == nil {
		byS = make(map[svc]peerSet)
		r.sg[k] = byS
	}
	byP := byS[s]
	if byP == nil {
		byP = make(peerSet)
		byS[s] = byP
	}
	if e := byP[peer]; e != nil {
		e.Add(ev)
	} else {
		x := ev
		byP[peer] = &x
	}
}

func (r *recommender) addNACL(d naclDir, n naclNeed, peer netip.Addr, ev Evidence, cmin, cmax uint16) {
	byN := r.nacl[d]
	if byN == nil {
		byN = make(map[naclNeed]map[netip.Addr]*peerUse)
		r.nacl[d] = byN
	}
	byP := byN[n]
	if byP == nil {
		byP = make(map[netip.Addr]*peerUse)
		byN[n] = byP
	}
	u := byP[peer]
	if u == nil {
		u = &peerUse{}
		byP[peer] = u
	}
	u.add(ev, cmin, cmax)
}

func (r *recommender) finding(kind FindingKind, resource, name, rule, format string, args ...any) {
	r.rec.Findings = append(r.rec.Findings, Finding{Kind: kind, Resource: resource, Name: name, Rule: rule,
		Message: fmt.Sprintf(format, args...)})
}

// groupName is "sg-x (name)", or the id alone.
func (r *recommender) groupName(id string) string {
	if g := r.m.Groups[id]; g != nil && g.Name != "" {
		return id + " (" + g.Name + ")"
	}
	return id
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
