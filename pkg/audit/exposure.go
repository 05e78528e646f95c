package audit

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Exposure is a simple measure of how much a policy admits, so that "tighter" is a number: per interface and
// direction, the IPv4 (peer address, protocol, port) triples that a new connection may use, counting TCP and
// UDP ports 0-65535 and ICMP as one "port" per address (other protocols are not counted). A triple is admitted
// when the interface's security-group rules allow it (a union of allows; an interface without groups is not
// filtered by them) and its subnet's NACL does too (first matching entry in rule-number order; peers inside the
// subnet do not meet the NACL). Ingress counts the sources that may open a connection to the interface's ports,
// egress the destinations and ports it may open connections to. Replies (stateful) are not counted.
//
// This is audit's own measure until pkg/recommend provides one (issue 10); MeasureExposure is the one
// function to swap.
type Exposure struct {
	Ingress int64 `json:"ingress"`
	Egress  int64 `json:"egress"`
	Total   int64 `json:"total"`
	// Interfaces lists each interface's figures, by id.
	Interfaces []InterfaceExposure `json:"interfaces,omitempty"`
}

// InterfaceExposure is one interface's Exposure.
type InterfaceExposure struct {
	Interface string `json:"interface"`
	Ingress   int64  `json:"ingress"`
	Egress    int64  `json:"egress"`
}

// exposureProtos are the protocols the measure counts.
var exposureProtos = []int16{vpc.ProtoTCP, vpc.ProtoUDP, vpc.ProtoICMP}

// MeasureExposure measures m (see Exposure). Interfaces with the same groups and subnet are measured once.
func MeasureExposure(m *vpc.Model) Exposure {
	var out Exposure
	cache := map[string][2]int64{}
	for _, id := range slices.Sorted(maps.Keys(m.ENIs)) {
		e := m.ENIs[id]
		if e == nil {
			continue
		}
		sig := strings.Join(e.GroupIDs, ",") + "|" + e.SubnetID
		v, ok := cache[sig]
		if !ok {
			v = [2]int64{directionExposure(m, e, false), directionExposure(m, e, true)}
			cache[sig] = v
		}
		out.Interfaces = append(out.Interfaces, InterfaceExposure{Interface: id, Ingress: v[0], Egress: v[1]})
		out.Ingress += v[0]
		out.Egress += v[1]
	}
	out.Total = out.Ingress + out.Egress
	return out
}

// portSpan is an inclusive port range with the peers it applies to (an allowed SG peer set, or a NACL entry).
type portSpan struct {
	lo, hi int32
	peers  *netipx.IPSet
	allow  bool // NACL entries only
}

func directionExposure(m *vpc.Model, e *vpc.ENI, egress bool) int64 {
	rules := e.Ingress
	var entries []vpc.NACLEntry
	if egress {
		rules = e.Egress
	}
	var local *netipx.IPSet // peers inside the subnet: the NACL does not see them
	if e.Subnet != nil {
		var b netipx.IPSetBuilder
		for _, p := range e.Subnet.CIDRs {
			if p.Addr().Is4() {
				b.AddPrefix(p)
			}
		}
		local, _ = b.IPSet()
		if n := e.Subnet.NACL; n != nil {
			entries = n.Inbound
			if egress {
				entries = n.Outbound
			}
		}
	}
	everyone := prefixSet(netip.MustParsePrefix("0.0.0.0/0"))
	var total int64
	for _, proto := range exposureProtos {
		maxPort := int32(65535)
		if proto == vpc.ProtoICMP {
			maxPort = 0
		}
		var sg, nacl []portSpan
		if !e.HasSG() {
			sg = append(sg, portSpan{lo: 0, hi: maxPort, peers: everyone})
		}
		for _, r := range rules {
			if r.Proto != vpc.ProtoAll && r.Proto != proto {
				continue
			}
			lo, hi := int32(0), maxPort
			if proto != vpc.ProtoICMP && r.Proto != vpc.ProtoAll && r.FromPort >= 0 {
				lo, hi = r.FromPort, min(r.ToPort, maxPort)
			}
			if s := rulePeers(m, r); s != nil {
				sg = append(sg, portSpan{lo: lo, hi: hi, peers: s})
			}
		}
		if len(sg) == 0 {
			continue
		}
		for _, en := range entries {
			if en.Proto != vpc.ProtoAll && en.Proto != proto || !en.Prefix.Addr().Is4() {
				continue
			}
			lo, hi := int32(0), maxPort
			if proto != vpc.ProtoICMP && en.Proto != vpc.ProtoAll {
				lo, hi = int32(en.PortFrom), min(int32(en.PortTo), maxPort)
			}
			nacl = append(nacl, portSpan{lo: lo, hi: hi, peers: prefixSet(en.Prefix), allow: en.Action == vpc.Allow})
		}
		// Elementary port intervals: every span starts or ends at their bounds.
		cuts := []int32{0, maxPort + 1}
		for _, s := range append(slices.Clone(sg), nacl...) {
			cuts = append(cuts, s.lo, s.hi+1)
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
		for i := 0; i+1 < len(cuts) && cuts[i] <= maxPort; i++ {
			lo, width := cuts[i], int64(cuts[i+1]-cuts[i])
			var sb netipx.IPSetBuilder
			for _, s := range sg {
				if s.lo <= lo && lo <= s.hi {
					sb.AddSet(s.peers)
				}
			}
			admitted, _ := sb.IPSet()
			if len(admitted.Prefixes()) == 0 {
				continue
			}
			if e.Subnet != nil && e.Subnet.NACL != nil {
				// First match decides: an entry allows its prefix less what earlier entries decided.
				var decided, allowed netipx.IPSetBuilder
				for _, s := range nacl {
					if s.lo > lo || lo > s.hi {
						continue
					}
					if s.allow {
						d, _ := decided.IPSet()
						var ab netipx.IPSetBuilder
						ab.AddSet(s.peers)
						ab.RemoveSet(d)
						as, _ := ab.IPSet()
						allowed.AddSet(as)
					}
					decided.AddSet(s.peers)
				}
				allowed.AddSet(local)
				as, _ := allowed.IPSet()
				var ib netipx.IPSetBuilder
				ib.AddSet(admitted)
				ib.Intersect(as)
				admitted, _ = ib.IPSet()
			}
			total += count4(admitted) * width
		}
	}
	return total
}

// rulePeers is the IPv4 peers of a security-group rule (nil: none).
func rulePeers(m *vpc.Model, r *vpc.SGRule) *netipx.IPSet {
	var b netipx.IPSetBuilder
	switch r.Peer {
	case vpc.PeerCIDR:
		if r.Prefix.Addr().Is4() {
			b.AddPrefix(r.Prefix)
		}
	case vpc.PeerPrefixList:
		for _, p := range m.PrefixLists[r.PrefixListID] {
			if p.Addr().Is4() {
				b.AddPrefix(p)
			}
		}
	case vpc.PeerGroup:
		for _, a := range m.GroupMembers(r.RefGroupID) {
			if a.Is4() {
				b.Add(a)
			}
		}
	}
	s, _ := b.IPSet()
	if len(s.Prefixes()) == 0 {
		return nil
	}
	return s
}

func prefixSet(p netip.Prefix) *netipx.IPSet {
	var b netipx.IPSetBuilder
	b.AddPrefix(p)
	s, _ := b.IPSet()
	return s
}

// count4 is the number of IPv4 addresses in s.
func count4(s *netipx.IPSet) int64 {
	var n int64
	for _, p := range s.Prefixes() {
		if p.Addr().Is4() {
			n += int64(1) << (32 - p.Bits())
		}
	}
	return n
}
