package recommend

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"go4.org/netipx"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// The gap check of a NACL change: naclChangeOf orders operations so that every packet that both the current
// and the proposed entries allow stays allowed in between (naclStep), but in-place replaces cannot always
// do it: when two allows swap rule numbers (100 a, 110 b becomes 100 b, 110 a), whichever is replaced first
// hides one of them until the other is replaced, and only a free rule number could avoid it. naclGaps
// replays the operations on a copy and finds such moments with probe packets, so apply.sh can say so
// instead of claiming a gap-free order it does not have.

// naclGap is a packet allowed by the current and the proposed entries but denied after Op.
type naclGap struct {
	Op     *naclOp
	Packet vpc.Packet
}

// naclGaps returns, per direction, the first operation after which a probe packet allowed both before and
// after the whole change is denied, with that packet. cur may be nil (no current entries).
func naclGaps(cur *vpc.NACL, c *naclChange) []naclGap {
	var out []naclGap
	for _, egress := range []bool{false, true} {
		state := map[int]vpc.NACLEntry{}
		if cur != nil {
			list := cur.Inbound
			if egress {
				list = cur.Outbound
			}
			for _, e := range list {
				state[e.RuleNumber] = e
			}
		}
		var ops []*naclOp
		for i := range c.Ops {
			if c.Ops[i].Egress() == egress {
				ops = append(ops, &c.Ops[i])
			}
		}
		if len(ops) == 0 {
			continue
		}
		before := naclOf(state, egress)
		states := make([]*vpc.NACL, len(ops))
		for i, o := range ops {
			switch o.Kind {
			case opDelete:
				delete(state, o.Old.RuleNumber)
			default:
				state[o.New.RuleNumber] = o.New.NACLEntry()
			}
			states[i] = naclOf(state, egress)
		}
		after := states[len(states)-1]
		dir := vpc.Ingress
		if egress {
			dir = vpc.Egress
		}
		allows := func(n *vpc.NACL, p *vpc.Packet) bool {
			e, _ := n.EvaluateAt(dir, p)
			return e.Action == vpc.Allow
		}
		first := len(ops)
		var gap vpc.Packet
		for _, p := range naclProbes(egress, before, after) {
			if !allows(before, &p) || !allows(after, &p) {
				continue
			}
			for i := 0; i < first; i++ {
				if !allows(states[i], &p) {
					first, gap = i, p
					break
				}
			}
		}
		if first < len(ops) {
			out = append(out, naclGap{Op: ops[first], Packet: gap})
		}
	}
	return out
}

// naclOf builds a one-direction NACL from entries by rule number, in ascending order (the evaluation order).
func naclOf(state map[int]vpc.NACLEntry, egress bool) *vpc.NACL {
	list := make([]vpc.NACLEntry, 0, len(state))
	for _, e := range state {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b vpc.NACLEntry) int { return cmp.Compare(a.RuleNumber, b.RuleNumber) })
	if egress {
		return &vpc.NACL{Outbound: list}
	}
	return &vpc.NACL{Inbound: list}
}

// naclProbes returns packets that exercise the entries of the given NACLs: for each entry, the first and
// last address of its prefix, its protocols (TCP, UDP, ICMP and ICMPv6 for "all") and, for TCP and UDP,
// every port bound of every entry (so that each range's edges meet each other entry's).
func naclProbes(egress bool, nacls ...*vpc.NACL) []vpc.Packet {
	var entries []vpc.NACLEntry
	for _, n := range nacls {
		entries = append(entries, n.Inbound...)
		entries = append(entries, n.Outbound...)
	}
	ports := []uint16{0, 65535}
	for _, e := range entries {
		if portsChecked(e.Proto) {
			ports = append(ports, e.PortFrom, e.PortTo)
		}
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	seen := map[vpc.Packet]bool{}
	var out []vpc.Packet
	add := func(p vpc.Packet) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, e := range entries {
		protos := []uint8{uint8(e.Proto)}
		if e.Proto == vpc.ProtoAll {
			protos = []uint8{vpc.ProtoTCP, vpc.ProtoUDP, vpc.ProtoICMP, vpc.ProtoICMPv6}
		}
		for _, peer := range [...]netip.Addr{e.Prefix.Addr(), netipx.PrefixLastIP(e.Prefix)} {
			for _, proto := range protos {
				p := vpc.Packet{Proto: proto, ICMPType: vpc.ICMPUnknown, ICMPCode: vpc.ICMPUnknown}
				if egress {
					p.Dst = peer
				} else {
					p.Src = peer
				}
				if proto != vpc.ProtoTCP && proto != vpc.ProtoUDP {
					add(p)
					continue
				}
				for _, port := range ports {
					p.DstPort = port
					add(p)
				}
			}
		}
	}
	return out
}

// text renders the gap's packet: "tcp port 22 from 10.0.0.0", "icmp to 203.0.113.0".
func (g *naclGap) text() string {
	p := &g.Packet
	peer, way := p.Src, "from"
	if g.Op.Egress() {
		peer, way = p.Dst, "to"
	}
	if p.Proto == vpc.ProtoTCP || p.Proto == vpc.ProtoUDP {
		return fmt.Sprintf("%s port %d %s %s", protoName(int16(p.Proto)), p.DstPort, way, peer)
	}
	return fmt.Sprintf("%s %s %s", protoName(int16(p.Proto)), way, peer)
}
