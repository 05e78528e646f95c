package recommend

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// The AWS CLI JSON of a (candidate) model, in exactly the describe-* shapes the vpc loader reads
// (aws-semantics.md section 6): {"SecurityGroups": [...]} with IpPermissions/IpPermissionsEgress, and
// {"NetworkAcls": [...]} with Entries. Loaded back with vpc.LoadPaths beside the same subnets and interfaces,
// they give a model with equal groups and NACLs: rules come out in the order they went in because a
// permission holds one (protocol, ports) and its peers in the loader's order (IpRanges, Ipv6Ranges,
// PrefixListIds, UserIdGroupPairs), which is the proposal's canonical order. NACL entries keep '*' (AWS prints
// them); the loader reads them back as input, not Synthesized.

type sgOut struct {
	Description         string    `json:"Description"`
	GroupName           string    `json:"GroupName"`
	IpPermissions       []permOut `json:"IpPermissions"`
	OwnerId             string    `json:"OwnerId,omitempty"`
	GroupId             string    `json:"GroupId"`
	IpPermissionsEgress []permOut `json:"IpPermissionsEgress"`
	VpcId               string    `json:"VpcId,omitempty"`
}

type permOut struct {
	FromPort         *int32      `json:"FromPort,omitempty"`
	IpProtocol       string      `json:"IpProtocol"`
	IpRanges         []rangeOut  `json:"IpRanges"`
	Ipv6Ranges       []rangeOut6 `json:"Ipv6Ranges"`
	PrefixListIds    []plOut     `json:"PrefixListIds"`
	ToPort           *int32      `json:"ToPort,omitempty"`
	UserIdGroupPairs []groupPair `json:"UserIdGroupPairs"`
}

type rangeOut struct {
	CidrIp      string `json:"CidrIp"`
	Description string `json:"Description,omitempty"`
}

type rangeOut6 struct {
	CidrIpv6    string `json:"CidrIpv6"`
	Description string `json:"Description,omitempty"`
}

type plOut struct {
	Description  string `json:"Description,omitempty"`
	PrefixListId string `json:"PrefixListId"`
}

type groupPair struct {
	Description string `json:"Description,omitempty"`
	GroupId     string `json:"GroupId"`
	UserId      string `json:"UserId,omitempty"`
}

type naclOut struct {
	Associations []assocOut `json:"Associations"`
	Entries      []entryOut `json:"Entries"`
	IsDefault    bool       `json:"IsDefault"`
	NetworkAclId string     `json:"NetworkAclId"`
	VpcId        string     `json:"VpcId,omitempty"`
	OwnerId      string     `json:"OwnerId,omitempty"`
}

type assocOut struct {
	NetworkAclId string `json:"NetworkAclId"`
	SubnetId     string `json:"SubnetId"`
}

type entryOut struct {
	CidrBlock     string    `json:"CidrBlock,omitempty"`
	Egress        bool      `json:"Egress"`
	IcmpTypeCode  *icmpOut  `json:"IcmpTypeCode,omitempty"`
	Ipv6CidrBlock string    `json:"Ipv6CidrBlock,omitempty"`
	PortRange     *portsOut `json:"PortRange,omitempty"`
	Protocol      string    `json:"Protocol"`
	RuleAction    string    `json:"RuleAction"`
	RuleNumber    int       `json:"RuleNumber"`
}

type icmpOut struct {
	Code int16 `json:"Code"`
	Type int16 `json:"Type"`
}

type portsOut struct {
	From uint16 `json:"From"`
	To   uint16 `json:"To"`
}

// WriteSecurityGroups writes m's security groups, in id order, as describe-security-groups output.
func WriteSecurityGroups(w io.Writer, m *vpc.Model) error {
	out := struct {
		SecurityGroups []sgOut `json:"SecurityGroups"`
	}{SecurityGroups: []sgOut{}}
	for _, id := range sortedKeys(m.Groups) {
		g := m.Groups[id]
		out.SecurityGroups = append(out.SecurityGroups, sgOut{Description: g.Description, GroupName: g.Name, OwnerId: g.OwnerID,
			GroupId: g.ID, VpcId: g.VpcID, IpPermissions: permissions(m, g.Ingress), IpPermissionsEgress: permissions(m, g.Egress)})
	}
	return writeJSON(w, out)
}

// permissions groups consecutive rules of one (protocol, ports) into one permission, as long as their peers
// come in the loader's order; otherwise a new permission starts, so the order survives a load.
func permissions(m *vpc.Model, rules []*vpc.SGRule) []permOut {
	out := []permOut{}
	last := -1
	for _, r := range rules {
		order := peerOrder(r.Peer, r.Prefix)
		if n := len(out); n == 0 || last > order || !samePorts(r, &out[n-1]) {
			out = append(out, newPermission(r))
		}
		last = order
		p := &out[len(out)-1]
		switch {
		case r.Peer == vpc.PeerCIDR && r.Prefix.Addr().Is4():
			p.IpRanges = append(p.IpRanges, rangeOut{r.Prefix.String(), r.Description})
		case r.Peer == vpc.PeerCIDR:
			p.Ipv6Ranges = append(p.Ipv6Ranges, rangeOut6{r.Prefix.String(), r.Description})
		case r.Peer == vpc.PeerPrefixList:
			p.PrefixListIds = append(p.PrefixListIds, plOut{r.Description, r.PrefixListID})
		default:
			gp := groupPair{Description: r.Description, GroupId: r.RefGroupID}
			if g := m.Groups[r.RefGroupID]; g != nil {
				gp.UserId = g.OwnerID
			}
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, gp)
		}
	}
	return out
}

func newPermission(r *vpc.SGRule) permOut {
	p := permOut{IpProtocol: sgProtocol(r.Proto), IpRanges: []rangeOut{}, Ipv6Ranges: []rangeOut6{}, PrefixListIds: []plOut{},
		UserIdGroupPairs: []groupPair{}}
	if portsChecked(r.Proto) || icmpProto(r.Proto) {
		from, to := r.FromPort, r.ToPort
		p.FromPort, p.ToPort = &from, &to
	}
	return p
}

func samePorts(r *vpc.SGRule, p *permOut) bool {
	if p.IpProtocol != sgProtocol(r.Proto) {
		return false
	}
	if p.FromPort == nil {
		return !(portsChecked(r.Proto) || icmpProto(r.Proto))
	}
	return *p.FromPort == r.FromPort && *p.ToPort == r.ToPort
}

// sgProtocol is IpProtocol as describe-security-groups prints it: a name for TCP, UDP, ICMP and ICMPv6,
// else the number ("-1" for all).
func sgProtocol(p int16) string {
	if portsChecked(p) || icmpProto(p) {
		return protoName(p)
	}
	return strconv.Itoa(int(p))
}

// WriteNetworkACLs writes m's NACLs, in id order, as describe-network-acls output: every entry, the '*'
// ones included, and an association per subnet using the NACL (AWS lists the default NACL's too).
func WriteNetworkACLs(w io.Writer, m *vpc.Model) error {
	out := struct {
		NetworkAcls []naclOut `json:"NetworkAcls"`
	}{NetworkAcls: []naclOut{}}
	for _, id := range sortedKeys(m.NACLs) {
		n := m.NACLs[id]
		no := naclOut{Associations: []assocOut{}, Entries: []entryOut{}, IsDefault: n.IsDefault, NetworkAclId: id, VpcId: n.VpcID,
			OwnerId: n.OwnerID}
		for _, s := range n.SubnetIDs {
			no.Associations = append(no.Associations, assocOut{id, s})
		}
		for _, es := range [][]vpc.NACLEntry{n.Outbound, n.Inbound} {
			for i := range es {
				no.Entries = append(no.Entries, entryJSON(&es[i]))
			}
		}
		out.NetworkAcls = append(out.NetworkAcls, no)
	}
	return writeJSON(w, out)
}

func entryJSON(e *vpc.NACLEntry) entryOut {
	o := entryOut{Egress: e.Egress, Protocol: strconv.Itoa(int(e.Proto)), RuleAction: e.Action.String(), RuleNumber: e.RuleNumber}
	if e.Prefix.Addr().Is4() {
		o.CidrBlock = e.Prefix.String()
	} else {
		o.Ipv6CidrBlock = e.Prefix.String()
	}
	switch {
	case portsChecked(e.Proto):
		o.PortRange = &portsOut{e.PortFrom, e.PortTo}
	case icmpProto(e.Proto):
		o.IcmpTypeCode = &icmpOut{e.ICMPCode, e.ICMPType}
	}
	return o
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(v)
}
