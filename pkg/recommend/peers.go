package recommend

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// target is a peer a rule can name (a group, a prefix list or a CIDR) with the observed addresses it covers.
type target struct {
	peer   vpc.PeerKind
	prefix netip.Prefix
	pl     string
	group  string
	basis  Basis
	reason string
	addrs  []netip.Addr // observed peers it covers, sorted
}

// peerSet is the observed peers of one service, with their evidence.
type peerSet map[netip.Addr]*Evidence

func (ps peerSet) sorted() []netip.Addr {
	out := make([]netip.Addr, 0, len(ps))
	for a := range ps {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// chooseSGPeers applies rules 1 to 4 in order to the peers of one service of group g: each rule takes the
// peers it can name and leaves the rest to the next.
func (r *recommender) chooseSGPeers(g *vpc.SecurityGroup, addrs []netip.Addr) []target {
	targets, rest := r.groupTargets(g, addrs)
	t, rest := r.prefixListTargets(rest)
	targets = append(targets, t...)
	t, rest = r.internetTargets(rest)
	targets = append(targets, t...)
	return append(targets, r.cidrTargets(rest, "")...)
}

// groupTargets is rule 1: peers that are private addresses of interfaces with security groups (in g's VPC:
// a reference to a group of another VPC needs peering) are named by a referenced group. Several groups can
// hold a peer; the one chosen matches the observed peers most exactly: fewest member interfaces that were
// NOT observed (what the reference opens beyond the evidence), then most still-uncovered observed peers
// covered, then fewest members, then id. Repeated until every such peer is covered. The reason names the
// runners-up.
func (r *recommender) groupTargets(g *vpc.SecurityGroup, addrs []netip.Addr) ([]target, []netip.Addr) {
	byENI := make(map[*vpc.ENI][]netip.Addr)
	var rest []netip.Addr
	for _, a := range addrs {
		e := r.m.ENIByAddr(a)
		if e == nil || !e.HasSG() || (g.VpcID != "" && e.VpcID != "" && e.VpcID != g.VpcID) {
			rest = append(rest, a)
			continue
		}
		byENI[e] = append(byENI[e], a)
	}
	uncovered := make(map[*vpc.ENI]bool, len(byENI))
	for e := range byENI {
		uncovered[e] = true
	}
	type cand struct {
		id                          string
		members, observed, covering int
	}
	var out []target
	for len(uncovered) > 0 {
		var cands []cand
		seen := make(map[string]bool)
		for e := range uncovered {
			for _, id := range e.GroupIDs {
				if seen[id] || r.m.Groups[id] == nil {
					continue
				}
				seen[id] = true
				c := cand{id: id, members: len(r.members[id])}
				for _, m := range r.members[id] {
					if byENI[m] != nil {
						c.observed++
					}
					if uncovered[m] {
						c.covering++
					}
				}
				cands = append(cands, c)
			}
		}
		if len(cands) == 0 {
			for e := range uncovered {
				rest = append(rest, byENI[e]...)
			}
			break
		}
		slices.SortFunc(cands, func(a, b cand) int {
			return cmp.Or(cmp.Compare(a.members-a.observed, b.members-b.observed), cmp.Compare(b.covering, a.covering),
				cmp.Compare(a.members, b.members), cmp.Compare(a.id, b.id))
		})
		best := cands[0]
		t := target{peer: vpc.PeerGroup, group: best.id, basis: BasisGroupReference}
		for _, m := range r.members[best.id] {
			if uncovered[m] {
				t.addrs = append(t.addrs, byENI[m]...)
				delete(uncovered, m)
			}
		}
		slices.SortFunc(t.addrs, netip.Addr.Compare)
		var b strings.Builder
		fmt.Fprintf(&b, "peers are interfaces of %s: %d of its %d member interface(s) observed, %d not",
			r.groupName(best.id), best.observed, best.members, best.members-best.observed)
		if len(cands) > 1 {
			b.WriteString("; preferred over ")
			for i, c := range cands[1:min(len(cands), 4)] {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%s (%d of %d observed)", r.groupName(c.id), c.observed, c.members)
			}
		}
		t.reason = b.String()
		out = append(out, t)
	}
	slices.SortFunc(rest, netip.Addr.Compare)
	return out, rest
}

// prefixListTargets is rule 2: a managed prefix list of the model that covers peers is named instead of
// their CIDRs, when none of its entries is wider than Options.PrefixListWidestV4/V6. The list covering most
// of the remaining peers is taken first (ties: fewer addresses, then id), until no list covers any.
func (r *recommender) prefixListTargets(addrs []netip.Addr) ([]target, []netip.Addr) {
	type list struct {
		id    string
		set   *netipx.IPSet
		addrs float64
	}
	var lists []list
	for _, id := range sortedKeys(r.m.PrefixLists) {
		ps := r.m.PrefixLists[id]
		ok := len(ps) > 0
		var b netipx.IPSetBuilder
		size := 0.0
		for _, p := range ps {
			if (p.Addr().Is4() && p.Bits() < r.o.PrefixListWidestV4) || (p.Addr().Is6() && p.Bits() < r.o.PrefixListWidestV6) {
				ok = false
			}
			b.AddPrefix(p)
			size += prefixSize(p)
		}
		if ok {
			set, _ := b.IPSet()
			lists = append(lists, list{id, set, size})
		}
	}
	var out []target
	for len(addrs) > 0 && len(lists) > 0 {
		best, bestN := -1, 0
		for i, l := range lists {
			n := 0
			for _, a := range addrs {
				if l.set.Contains(a) {
					n++
				}
			}
			if n > bestN || (n == bestN && n > 0 && l.addrs < lists[best].addrs) {
				best, bestN = i, n
			}
		}
		if best < 0 {
			break
		}
		l := lists[best]
		t := target{peer: vpc.PeerPrefixList, pl: l.id, basis: BasisPrefixList}
		var rest []netip.Addr
		for _, a := range addrs {
			if l.set.Contains(a) {
				t.addrs = append(t.addrs, a)
			} else {
				rest = append(rest, a)
			}
		}
		t.reason = fmt.Sprintf("managed prefix list %s (%d entries) covers %d observed peer(s)", l.id, len(r.m.PrefixLists[l.id]), len(t.addrs))
		out = append(out, t)
		addrs = rest
		lists = slices.Delete(lists, best, best+1)
	}
	return out, addrs
}

// isPublic reports whether a is an internet address: global unicast, not private (RFC 1918, fc00::/7),
// not shared address space (100.64.0.0/10) and in no subnet of the model.
func (r *recommender) isPublic(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a) && r.m.SubnetOf(a) == nil
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicNets counts the distinct /24 (IPv4) and /48 (IPv6) networks of the public addresses among addrs.
func (r *recommender) publicNets(addrs []netip.Addr) int {
	nets := make(map[netip.Prefix]struct{})
	for _, a := range addrs {
		if r.isPublic(a) {
			nets[netNet(a)] = struct{}{}
		}
	}
	return len(nets)
}

// netNet is the network an internet address is counted in: its /24 (IPv4) or /48 (IPv6), roughly one
// organisation's allocation, so that one client with many addresses counts once.
func netNet(a netip.Addr) netip.Prefix {
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, _ := a.Prefix(bits)
	return p
}

// internetTargets is rule 4: when the public peers of a service fall in more than Options.InternetWideNets
// distinct networks, the service is internet-wide: 0.0.0.0/0 covers its public IPv4 peers and ::/0 its
// public IPv6 peers, on this service's port only. Other peers are left to rule 3.
func (r *recommender) internetTargets(addrs []netip.Addr) ([]target, []netip.Addr) {
	nets := r.publicNets(addrs)
	if nets <= r.o.InternetWideNets {
		return nil, addrs
	}
	v4 := target{peer: vpc.PeerCIDR, prefix: netip.MustParsePrefix("0.0.0.0/0"), basis: BasisInternetWide}
	v6 := target{peer: vpc.PeerCIDR, prefix: netip.MustParsePrefix("::/0"), basis: BasisInternetWide}
	var rest []netip.Addr
	for _, a := range addrs {
		switch {
		case !r.isPublic(a):
			rest = append(rest, a)
		case a.Is4():
			v4.addrs = append(v4.addrs, a)
		default:
			v6.addrs = append(v6.addrs, a)
		}
	}
	var out []target
	for _, t := range []target{v4, v6} {
		if len(t.addrs) > 0 {
			t.reason = fmt.Sprintf("internet-wide: %d public address(es) in %d distinct /24 or /48 networks used this service "+
				"(threshold %d); opened to all on this port only", len(t.addrs), nets, r.o.InternetWideNets)
			out = append(out, t)
		}
	}
	return out, rest
}

// cidrTargets is rule 3: the peers' addresses as the fewest prefixes that hold exactly them (netipx), then,
// while there are more than Options.MaxCIDRsPerService, the two neighbouring prefixes with the narrowest
// common supernet are merged into it, never into one wider than WidestV4/WidestV6. The reason says how many
// unobserved addresses a widened prefix admits. what prefixes the reason ("" for security groups).
func (r *recommender) cidrTargets(addrs []netip.Addr, what string) []target {
	if len(addrs) == 0 {
		return nil
	}
	var b netipx.IPSetBuilder
	for _, a := range addrs {
		b.Add(a)
	}
	set, _ := b.IPSet()
	ps := widen(set.Prefixes(), r.o.MaxCIDRsPerService, r.o.WidestV4, r.o.WidestV6)
	out := make([]target, 0, len(ps))
	for _, p := range ps {
		t := target{peer: vpc.PeerCIDR, prefix: p, basis: BasisCIDR}
		for _, a := range addrs {
			if p.Contains(a) {
				t.addrs = append(t.addrs, a)
			}
		}
		if un := prefixSize(p) - float64(len(t.addrs)); un > 0 {
			t.reason = fmt.Sprintf("%s%d observed address(es) aggregated into %s, widened to fit %d prefixes per service: "+
				"admits %.0f unobserved address(es)", what, len(t.addrs), p, r.o.MaxCIDRsPerService, un)
		} else {
			t.reason = fmt.Sprintf("%s%d observed address(es), exactly %s", what, len(t.addrs), p)
		}
		out = append(out, t)
	}
	return out
}

// widen merges prefixes (sorted, disjoint, as netipx returns them) until at most maxN remain: each step
// replaces the two neighbours with the longest common prefix by that supernet (which may swallow others),
// never producing a prefix shorter than widest4/widest6. It returns fewer than maxN only when nothing else
// may be merged.
func widen(ps []netip.Prefix, maxN, widest4, widest6 int) []netip.Prefix {
	for len(ps) > maxN {
		best, bestBits := -1, -1
		for i := 0; i+1 < len(ps); i++ {
			bits := commonBits(ps[i], ps[i+1])
			limit := widest4
			if ps[i].Addr().Is6() {
				limit = widest6
			}
			if bits >= limit && bits > bestBits {
				best, bestBits = i, bits
			}
		}
		if best < 0 {
			break
		}
		var b netipx.IPSetBuilder
		for _, p := range ps {
			b.AddPrefix(p)
		}
		b.AddPrefix(netip.PrefixFrom(ps[best].Addr(), bestBits).Masked())
		set, _ := b.IPSet()
		ps = set.Prefixes()
	}
	return ps
}

// commonBits is the length of the longest prefix holding both a and b, -1 across address families.
func commonBits(a, b netip.Prefix) int {
	if a.Addr().Is4() != b.Addr().Is4() {
		return -1
	}
	x, y := a.Addr().As16(), b.Addr().As16()
	n, off := 0, 0
	if a.Addr().Is4() {
		off = 12
	}
	for i := off; i < 16; i++ {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		for d&0x80 == 0 {
			n++
			d <<= 1
		}
		break
	}
	return min(n, a.Bits(), b.Bits())
}

// prefixSize is the number of addresses in p.
func prefixSize(p netip.Prefix) float64 {
	return math.Ldexp(1, p.Addr().BitLen()-p.Bits())
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
