// Package exposure measures how much a policy admits, so that "how much tighter" is a number.
//
// The exposure of an interface in one direction is the (peer address x port) space a NEW connection may use:
// the peers and ports that the interface's security groups allow (the union of their rules; an interface
// without groups, such as a NAT gateway's, is not filtered by groups) AND that its subnet's network ACL allows
// in that direction (entries in ascending rule number, the first match decides, no match is the '*' deny).
// Peers inside the interface's subnet are not subject to the NACL, because AWS applies a NACL at the subnet
// boundary only. Ingress counts the sources that may open a connection to the interface, egress the
// destinations it may open connections to; replies of tracked connections are not counted.
//
// Units, per peer address:
//   - TCP and UDP count their ports, 0-65535 each (a rule or entry's port range, all ports for -1);
//   - ICMP and ICMPv6 count one unit each: flow logs carry no ICMP type or code, so a rule or entry limited to
//     one type counts as the whole unit (as vpc.UnknownICMPMatches matches it);
//   - every other protocol a security-group rule names counts one unit of its own;
//   - protocols that no rule names count one unit together ("the rest"), admitted by rules and entries for
//     all protocols (-1) only. So a rule for all protocols counts AllProtocolsUnits per address: both port
//     spaces, ICMP, ICMPv6 and the rest.
//
// An address and port admitted by two rules counts once. A referenced group stands for its member interfaces'
// private addresses, a managed prefix list for its entries. IPv4 and IPv6 are separate figures: V4 is exact
// (an int64: at most 2^32 x AllProtocolsUnits per direction and interface), V6 is the same sum as a float64
// (2^128 fits; read it as log2, Size.Log2V6).
//
// A single rule's exposure (Rules) is its security-group space only: a rule belongs to a group, which may be
// attached to interfaces in several subnets, so no one NACL applies to it.
package exposure

import (
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// AllProtocolsUnits is what a rule for all protocols (-1) counts per peer address: 65,536 TCP ports,
// 65,536 UDP ports, ICMP, ICMPv6 and one unit for every protocol no rule names.
const AllProtocolsUnits = 2*65536 + 3

// Size is an address x port space (see the package comment for the units).
type Size struct {
	V4 int64   `json:"v4"`
	V6 float64 `json:"v6"`
}

// Plus is x + y.
func (x Size) Plus(y Size) Size { return Size{V4: x.V4 + y.V4, V6: x.V6 + y.V6} }

// Log2V6 is log2 of V6 (0 when V6 is 0): 128 + 16 is "every IPv6 address, every port of one protocol".
func (x Size) Log2V6() float64 {
	if x.V6 == 0 {
		return 0
	}
	return math.Log2(x.V6)
}

// Interface is one interface's exposure.
type Interface struct {
	ID      string
	Groups  []string // the interface's groups, as in the model (shared with the model: do not modify)
	Subnet  string
	Ingress Size
	Egress  Size
}

// Measure is a model's exposure: every interface's, sorted by id, and the sums over them.
type Measure struct {
	Interfaces []Interface
	Ingress    Size
	Egress     Size
	Total      Size // Ingress + Egress
}

// ReductionV4 is 1 - after.Total.V4/before.Total.V4 (0.9: after admits a tenth of before's IPv4 space); 0
// when before admits nothing.
func ReductionV4(before, after Measure) float64 {
	if before.Total.V4 == 0 {
		return 0
	}
	return 1 - float64(after.Total.V4)/float64(before.Total.V4)
}

// Model measures every interface of m. Interfaces with the same groups and subnet have the same rules and
// NACL, so each such pair is measured once. An interface without a subnet or NACL (only in a model with fatal
// findings) is measured without a NACL. m is only read: calls on a model nobody changes may run concurrently.
func Model(m *vpc.Model) Measure {
	var out Measure
	mm := newMeasurer(m)
	type key struct{ groups, subnet string }
	cache := map[key][2]Size{}
	for _, id := range slices.Sorted(maps.Keys(m.ENIs)) {
		e := m.ENIs[id]
		if e == nil {
			continue
		}
		k := key{strings.Join(e.GroupIDs, ","), e.SubnetID}
		v, ok := cache[k]
		if !ok {
			v = [2]Size{mm.direction(e, false), mm.direction(e, true)}
			cache[k] = v
		}
		out.Interfaces = append(out.Interfaces, Interface{ID: id, Groups: e.GroupIDs, Subnet: e.SubnetID, Ingress: v[0], Egress: v[1]})
		out.Ingress = out.Ingress.Plus(v[0])
		out.Egress = out.Egress.Plus(v[1])
	}
	out.Total = out.Ingress.Plus(out.Egress)
	return out
}

// Rules measures a set of security-group rules of one direction on their own (no NACL), with m's prefix lists
// and group members. m is only read.
func Rules(m *vpc.Model, rules []*vpc.SGRule) Size {
	return newMeasurer(m).space(rules, true, nil, nil)
}

// measurer measures directions of one model; it keeps each rule's peer set, so that a rule shared by many
// interfaces (a group's) is resolved once.
type measurer struct {
	m     *vpc.Model
	peers map[*vpc.SGRule]*netipx.IPSet
}

func newMeasurer(m *vpc.Model) *measurer {
	return &measurer{m: m, peers: map[*vpc.SGRule]*netipx.IPSet{}}
}

// everyone is every IPv4 and IPv6 address.
var everyone = func() *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
	b.AddPrefix(netip.MustParsePrefix("::/0"))
	s, _ := b.IPSet()
	return s
}()

// direction measures e's rules in one direction behind its subnet's NACL.
func (mm *measurer) direction(e *vpc.ENI, egress bool) Size {
	rules := e.Ingress
	if egress {
		rules = e.Egress
	}
	var entries []vpc.NACLEntry
	var local *netipx.IPSet
	if e.Subnet != nil && e.Subnet.NACL != nil {
		entries = e.Subnet.NACL.Inbound
		if egress {
			entries = e.Subnet.NACL.Outbound
		}
		var b netipx.IPSetBuilder
		for _, p := range e.Subnet.CIDRs {
			b.AddPrefix(p)
		}
		local, _ = b.IPSet()
	}
	return mm.space(rules, e.HasSG(), entries, local)
}

// unit is one counted protocol: proto (rest: protocols no rule names) and its highest port (0: one unit).
type unit struct {
	proto   int16
	rest    bool
	maxPort int32
}

// span is an inclusive port range and the peers it applies to: a rule's allowed peers, or a NACL entry.
type span struct {
	lo, hi int32
	peers  *netipx.IPSet
	allow  bool // NACL entries only
}

// space is the exposure of rules (filtered: an interface with groups; else everything passes the groups)
// behind NACL entries (nil local: no NACL applies; else local is the peers the NACL does not see).
func (mm *measurer) space(rules []*vpc.SGRule, filtered bool, entries []vpc.NACLEntry, local *netipx.IPSet) Size {
	units := []unit{{proto: vpc.ProtoTCP, maxPort: 65535}, {proto: vpc.ProtoUDP, maxPort: 65535},
		{proto: vpc.ProtoICMP}, {proto: vpc.ProtoICMPv6}}
	for _, r := range rules {
		if r.Proto != vpc.ProtoAll && !slices.ContainsFunc(units, func(u unit) bool { return u.proto == r.Proto }) {
			units = append(units, unit{proto: r.Proto})
		}
	}
	units = append(units, unit{proto: vpc.ProtoAll, rest: true})
	var x Size
	var sg, nacl []span
	for _, u := range units {
		sg, nacl = sg[:0], nacl[:0]
		if !filtered {
			sg = append(sg, span{lo: 0, hi: u.maxPort, peers: everyone})
		}
		for _, r := range rules {
			if !u.matches(r.Proto) {
				continue
			}
			if p := mm.rulePeers(r); p != nil {
				lo, hi := u.ports(r.Proto, r.FromPort, r.ToPort)
				sg = append(sg, span{lo: lo, hi: hi, peers: p})
			}
		}
		if len(sg) == 0 {
			continue
		}
		if local != nil {
			for i := range entries {
				en := &entries[i]
				if !u.matches(en.Proto) {
					continue
				}
				lo, hi := u.ports(en.Proto, int32(en.PortFrom), int32(en.PortTo))
				var b netipx.IPSetBuilder
				b.AddPrefix(en.Prefix)
				s, _ := b.IPSet()
				nacl = append(nacl, span{lo: lo, hi: hi, peers: s, allow: en.Action == vpc.Allow})
			}
		}
		x = x.Plus(countUnit(u, sg, nacl, local))
	}
	return x
}

// matches reports whether a rule or entry for proto applies to u.
func (u unit) matches(proto int16) bool {
	if u.rest {
		return proto == vpc.ProtoAll
	}
	return proto == vpc.ProtoAll || proto == u.proto
}

// ports is the range of u's ports that a rule or entry for proto with ports from..to covers (-1: all).
func (u unit) ports(proto int16, from, to int32) (int32, int32) {
	if u.maxPort == 0 || proto == vpc.ProtoAll || from < 0 {
		return 0, u.maxPort
	}
	return from, min(to, u.maxPort)
}

// countUnit counts one unit: over the elementary port intervals (within one, the same spans apply), the union
// of the security-group spans' peers, less what the NACL does not allow outside local.
func countUnit(u unit, sg, nacl []span, local *netipx.IPSet) Size {
	cuts := []int32{0, u.maxPort + 1}
	for _, s := range sg {
		cuts = append(cuts, s.lo, s.hi+1)
	}
	for _, s := range nacl {
		cuts = append(cuts, s.lo, s.hi+1)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var x Size
	for i := 0; i+1 < len(cuts) && cuts[i] <= u.maxPort; i++ {
		lo, width := cuts[i], int64(cuts[i+1]-cuts[i])
		var sb netipx.IPSetBuilder
		n := 0
		for _, s := range sg {
			if s.lo <= lo && lo <= s.hi {
				sb.AddSet(s.peers)
				n++
			}
		}
		if n == 0 {
			continue
		}
		if local != nil {
			sb.Intersect(naclAllowed(nacl, lo, local))
		}
		admitted, _ := sb.IPSet()
		v4, v6 := count(admitted)
		x = x.Plus(Size{V4: v4 * width, V6: v6 * float64(width)})
	}
	return x
}

// naclAllowed is the peers the NACL spans allow at port lo, first match deciding (an entry allows its
// prefix less what earlier entries decided), plus local, which the NACL does not see.
func naclAllowed(nacl []span, lo int32, local *netipx.IPSet) *netipx.IPSet {
	var decided, allowed netipx.IPSetBuilder
	for _, s := range nacl {
		if s.lo > lo || lo > s.hi {
			continue
		}
		if s.allow {
			var ab netipx.IPSetBuilder
			ab.AddSet(s.peers)
			d, _ := decided.IPSet()
			ab.RemoveSet(d)
			as, _ := ab.IPSet()
			allowed.AddSet(as)
		}
		decided.AddSet(s.peers)
	}
	allowed.AddSet(local)
	as, _ := allowed.IPSet()
	return as
}

// rulePeers is the addresses a rule's peer stands for (nil: none, such as a stale group reference).
func (mm *measurer) rulePeers(r *vpc.SGRule) *netipx.IPSet {
	if s, ok := mm.peers[r]; ok {
		return s
	}
	var b netipx.IPSetBuilder
	switch r.Peer {
	case vpc.PeerCIDR:
		b.AddPrefix(r.Prefix)
	case vpc.PeerPrefixList:
		for _, p := range mm.m.PrefixLists[r.PrefixListID] {
			b.AddPrefix(p)
		}
	case vpc.PeerGroup:
		for _, a := range mm.m.GroupMembers(r.RefGroupID) {
			b.Add(a)
		}
	}
	s, _ := b.IPSet()
	if len(s.Prefixes()) == 0 {
		s = nil
	}
	mm.peers[r] = s
	return s
}

// count is the number of IPv4 and IPv6 addresses in s.
func count(s *netipx.IPSet) (v4 int64, v6 float64) {
	for _, p := range s.Prefixes() {
		if p.Addr().Is4() {
			v4 += int64(1) << (32 - p.Bits())
		} else {
			v6 += math.Ldexp(1, 128-p.Bits())
		}
	}
	return v4, v6
}
