package recommend

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Rule 10: traffic AWS never filters. Security groups and NACLs do not filter (and flow logs do not record)
// traffic to the Amazon DNS resolver, instance metadata, Amazon Time Sync, DHCP, Windows license activation
// and the VPC router's reserved address [FL][NACL]. A rule for it would open nothing that is needed, so none
// is proposed; Recommendation.NeverFiltered lists where one would have looked needed (records of it mean a
// custom log or a mislabelled peer, worth a look).

// awsServices are the fixed link-local addresses of AWS services that are never filtered.
var awsServices = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.253"): "Amazon DNS resolver",
	netip.MustParseAddr("fd00:ec2::253"):   "Amazon DNS resolver",
	netip.MustParseAddr("169.254.169.254"): "instance metadata",
	netip.MustParseAddr("fd00:ec2::254"):   "instance metadata",
	netip.MustParseAddr("169.254.169.123"): "Amazon Time Sync",
	netip.MustParseAddr("fd00:ec2::123"):   "Amazon Time Sync",
	netip.MustParseAddr("169.254.169.250"): "Windows license activation",
	netip.MustParseAddr("169.254.169.251"): "Windows license activation",
}

// reservedAddrs returns the addresses AWS reserves in every IPv4 subnet that carry never-filtered services:
// base + 1 (the VPC router, which also serves DHCP) and base + 2 (reserved in every subnet; in the subnet at
// the base of the VPC's primary CIDR it is the Amazon DNS resolver). The model has no VPC CIDRs, so a VPC
// whose primary CIDR base holds no subnet has its resolver missed here; its traffic then gets a rule like any
// peer's.
func reservedAddrs(m *vpc.Model) map[netip.Addr]string {
	out := make(map[netip.Addr]string)
	for _, sn := range m.Subnets {
		for _, p := range sn.CIDRs {
			if !p.Addr().Is4() || p.Bits() > 29 {
				continue
			}
			base := p.Masked().Addr()
			out[base.Next()] = "VPC router (subnet base + 1)"
			out[base.Next().Next()] = "Amazon DNS resolver (base + 2)"
		}
	}
	return out
}

var broadcast = netip.MustParseAddr("255.255.255.255")

// neverFiltered names the AWS service a request to or from peer is for, "" when it is ordinary traffic.
// DHCP is UDP 67/68 with the broadcast address or the VPC router.
func (r *recommender) neverFiltered(peer netip.Addr, proto uint8, port uint16) string {
	if s := awsServices[peer]; s != "" {
		return s
	}
	if proto == vpc.ProtoUDP && (port == 67 || port == 68) && (peer == broadcast || r.reserved[peer] != "") {
		return "DHCP"
	}
	return r.reserved[peer]
}

type neverKey struct {
	eni    string
	egress bool
	peer   netip.Addr
	proto  uint8
	port   uint16
}

func (r *recommender) addNever(e *vpc.ENI, egress bool, q *Request, what string) {
	k := neverKey{e.ID, egress, q.Peer, q.Proto, q.Port}
	n := r.never[k]
	if n == nil {
		n = &NeverFiltered{ENI: e.ID, Egress: egress, Peer: q.Peer, Proto: q.Proto, Port: q.Port, Service: what}
		r.never[k] = n
	}
	n.Evidence.Add(q.Evidence)
}

// neverList returns the never-filtered traffic sorted by interface, direction, peer, protocol, port.
func (r *recommender) neverList() []NeverFiltered {
	out := make([]NeverFiltered, 0, len(r.never))
	for _, k := range slices.SortedFunc(maps.Keys(r.never), func(a, b neverKey) int {
		return cmp.Or(cmp.Compare(a.eni, b.eni), boolCmp(a.egress, b.egress), a.peer.Compare(b.peer),
			cmp.Compare(a.proto, b.proto), cmp.Compare(a.port, b.port))
	}) {
		out = append(out, *r.never[k])
	}
	return out
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
