package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Identity is one side of a group: a security group (the groups of an interface, joined by "+"), an interface
// without groups, or an external network (/24 for IPv4, /64 for IPv6), or many external networks at once.
type Identity struct {
	Kind string `json:"kind"` // security-group | interface | network | external
	ID   string `json:"id"`   // sg- ids joined by "+", eni- id, CIDR, or "external IPv4" / "external IPv6"
	Name string `json:"name,omitempty"`
}

// Identity kinds.
const (
	KindGroup     = "security-group"
	KindInterface = "interface"
	KindNetwork   = "network"
	KindExternal  = "external"
)

func (id Identity) String() string {
	if id.Name == "" {
		return id.ID
	}
	return id.ID + " (" + id.Name + ")"
}

// Decider is the layer and rule that rejected a group's records: the candidate's, for would-break; the
// baseline's, for newly-allowed.
type Decider struct {
	Layer    string `json:"layer"`
	Rule     string `json:"rule"`
	Resource string `json:"resource"`
	Cause    string `json:"cause"`
	Role     string `json:"role"` // of the rejected record: request or reply
	// Address is the resource address of the change that causes these records to change class, when the
	// candidate comes from a Terraform plan and the change is known (Aggregator.Attribute).
	Address string `json:"terraform_address,omitempty"`
	Records int64  `json:"records"`
}

// Group is the would-break or newly-allowed records of one source identity to one destination identity on one
// service (the request's direction: a reply counts for the request it answers).
type Group struct {
	ID          int      `json:"id"` // 1-based, in report order; audit_records.group_id
	Class       string   `json:"class"`
	Source      Identity `json:"source"`
	Destination Identity `json:"destination"`
	Service     string   `json:"service"` // tcp/443, udp/53, icmp, icmpv6, proto N
	Records     int64    `json:"records"`
	// OrphanedReplies counts the would-break records that are replies of connections the candidate rejects.
	OrphanedReplies int64     `json:"orphaned_replies,omitempty"`
	Packets         int64     `json:"packets"`
	Bytes           int64     `json:"bytes"`
	FirstSeen       time.Time `json:"first_seen"`
	LastSeen        time.Time `json:"last_seen"`
	Examples        []string  `json:"examples"` // source_file:source_line
	// Deciders, most records first: for would-break the candidate's rejecting layer and rule, for newly-allowed
	// the baseline's.
	Deciders []Decider `json:"deciders"`
	// Explanation is one sentence: the candidate rule that is missing (would-break), or what no longer
	// rejects (newly-allowed).
	Explanation string `json:"explanation"`
	// Networks is how many external networks an external identity stands for.
	Networks int `json:"networks,omitempty"`
	// Resource is the group or NACL the explanation is about (the top decider's); File and Line locate it in
	// the policy, when the policy gave it (for SARIF).
	Resource string `json:"resource,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	// Column, when set, is the 1-based column of the location on Line: a Terraform plan JSON written on one
	// line (as terraform show -json writes it) has only line 1.
	Column int `json:"column,omitempty"`
	// TerraformAddress is the resource address of the change that causes the group: the Address of its
	// deciders with the most records that have one ("" when the candidate is not a Terraform plan).
	TerraformAddress string `json:"terraform_address,omitempty"`
}

// Totals counts records of one class.
type Totals struct {
	Records         int64 `json:"records"`
	Packets         int64 `json:"packets"`
	Bytes           int64 `json:"bytes"`
	OrphanedReplies int64 `json:"orphaned_replies,omitempty"`
	Groups          int   `json:"groups"`
}

// ClassCount counts the records of one Class and their logged bytes.
type ClassCount struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// PairCount is one row of audit_verdicts: the records with one baseline and one candidate verdict.
type PairCount struct {
	BaselineID, CandidateID uint32
	Baseline, Candidate     Verdict
	Class                   Class
	Orphaned                bool
	Records, Packets, Bytes int64
}

// RecordRef is one row of audit_records.
type RecordRef struct {
	File  string
	Line  int64
	Group int // Group.ID
}

// identity names an address: the security groups of the interface that owns it (the interface when it has
// none), else its /24 (IPv4) or /64 (IPv6) network.
func (a *Aggregator) identity(s string) Identity {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return Identity{Kind: KindNetwork, ID: cmp.Or(strings.Clone(s), "-")}
	}
	if id, ok := a.idents[addr]; ok {
		return id
	}
	var id Identity
	if e := a.model.ENIByAddr(addr); e != nil {
		if len(e.GroupIDs) == 0 {
			id = Identity{Kind: KindInterface, ID: e.ID}
		} else {
			var names []string
			for _, g := range e.GroupIDs {
				if sg := a.model.Groups[g]; sg != nil && sg.Name != "" {
					names = append(names, sg.Name)
				}
			}
			id = Identity{Kind: KindGroup, ID: strings.Join(e.GroupIDs, "+"), Name: strings.Join(names, "+")}
		}
	} else {
		bits := 24
		if addr.Is6() && !addr.Is4In6() {
			bits = 64
		}
		p, _ := addr.Unmap().Prefix(bits)
		id = Identity{Kind: KindNetwork, ID: p.String()}
	}
	a.idents[addr] = id
	return id
}

func classOrder(c string) int {
	if c == WouldBreak.String() {
		return 0
	}
	return 1
}

// collapse merges, per class, peer and service, the groups of more than MaxExternalPeers external networks on
// the other side into one external group. It returns, per accumulator, the one it was merged into (itself
// when kept).
func (a *Aggregator) collapse() []int {
	remap := make([]int, len(a.accs))
	for i := range remap {
		remap[i] = i
	}
	for _, side := range []bool{true, false} { // sources, then destinations
		type svcKey struct {
			class Class
			peer  Identity
			proto int16
			port  int32
			v6    bool
		}
		byService := map[svcKey][]int{}
		for i, g := range a.accs {
			if remap[i] != i {
				continue
			}
			ext, peer := g.key.src, g.key.dst
			if !side {
				ext, peer = g.key.dst, g.key.src
			}
			if ext.Kind != KindNetwork {
				continue
			}
			k := svcKey{class: g.key.class, peer: peer, proto: g.key.proto, port: g.key.port, v6: strings.Contains(ext.ID, ":")}
			byService[k] = append(byService[k], i)
		}
		for k, members := range byService {
			if len(members) <= MaxExternalPeers {
				continue
			}
			family := "external IPv4"
			unit := "/24"
			if k.v6 {
				family, unit = "external IPv6", "/64"
			}
			ext := Identity{Kind: KindExternal, ID: family, Name: fmt.Sprintf("%d %s networks", len(members), unit)}
			into := members[0]
			g := a.accs[into]
			if side {
				g.key.src = ext
			} else {
				g.key.dst = ext
			}
			g.networks = len(members)
			for _, m := range members[1:] {
				g.merge(a.accs[m])
				remap[m] = into
			}
		}
	}
	for i := range remap { // a chain: merged into a group that was merged again
		for remap[remap[i]] != remap[i] {
			remap[i] = remap[remap[i]]
		}
	}
	return remap
}

func (g *groupAcc) merge(o *groupAcc) {
	g.records += o.records
	g.packets += o.packets
	g.bytes += o.bytes
	g.orphans += o.orphans
	g.first, g.last = min(g.first, o.first), max(g.last, o.last)
	for _, e := range o.examples {
		g.addExample(e)
	}
	for d, n := range o.deciders {
		g.deciders[d] += n
	}
	g.networks += max(o.networks-1, 0)
}

// group renders an accumulator.
func (a *Aggregator) group(g *groupAcc, policyFiles map[string]string) Group {
	out := Group{Class: g.key.class.String(), Source: g.key.src, Destination: g.key.dst, Service: service(g.key.proto, g.key.port),
		Records: g.records, OrphanedReplies: g.orphans, Packets: g.packets, Bytes: g.bytes,
		FirstSeen: time.Unix(g.first, 0).UTC(), LastSeen: time.Unix(g.last, 0).UTC()}
	if g.networks > 1 {
		out.Networks = g.networks
	}
	for _, e := range g.examples {
		out.Examples = append(out.Examples, fmt.Sprintf("%s:%d", e.file, e.line))
	}
	for d, n := range g.deciders {
		d.Records = n
		out.Deciders = append(out.Deciders, d)
	}
	slices.SortFunc(out.Deciders, func(x, y Decider) int {
		return cmp.Or(cmp.Compare(y.Records, x.Records), cmp.Compare(x.Layer, y.Layer), cmp.Compare(x.Resource, y.Resource),
			cmp.Compare(x.Rule, y.Rule), cmp.Compare(x.Role, y.Role), cmp.Compare(x.Address, y.Address))
	})
	for _, d := range out.Deciders {
		if d.Address != "" {
			out.TerraformAddress = d.Address
			break
		}
	}
	out.Explanation = a.explain(&out)
	if len(out.Deciders) > 0 {
		ids := strings.Split(out.Deciders[0].Resource, ",")
		out.Resource = ids[0]
		for _, id := range ids {
			if f := policyFiles[id]; f != "" {
				out.Resource, out.File = id, f
				break
			}
		}
	}
	return out
}

// service renders a protocol and port: tcp/443, udp/53, icmp, icmpv6, proto 47.
func service(proto int16, port int32) string {
	name := ""
	switch proto {
	case vpc.ProtoTCP:
		name = "tcp"
	case vpc.ProtoUDP:
		name = "udp"
	case vpc.ProtoICMP:
		return "icmp"
	case vpc.ProtoICMPv6:
		return "icmpv6"
	default:
		return fmt.Sprintf("proto %d", proto)
	}
	return fmt.Sprintf("%s/%d", name, port)
}

// explain is the group's one sentence: the candidate rule that is missing (would-break), or what rejected it
// before (newly-allowed).
func (a *Aggregator) explain(g *Group) string {
	if len(g.Deciders) == 0 {
		return fmt.Sprintf("replies of %s connections from %s to %s, which the candidate no longer admits", g.Service, g.Source, g.Destination)
	}
	d := g.Deciders[0]
	res := a.resources(d.Resource)
	// The peer the deciding layer weighed: the other end from the interface where the record was logged.
	// A request is judged at its destination inbound and at its source outbound; a reply the other way.
	inbound := strings.HasSuffix(d.Layer, "-inbound")
	peer := g.Destination
	if inbound == (d.Role != "reply") {
		peer = g.Source
	}
	toFrom := "to"
	if inbound {
		toFrom = "from"
	}
	what := g.Service
	if d.Role == "reply" {
		what = "the replies of " + g.Service
	}
	dir := "inbound"
	if !inbound {
		dir = "outbound"
	}
	// The candidate's rejection in the present tense; the baseline's, for newly-allowed, in the past.
	denies, allows, rejects, after, afterSG, afterOther := "denies", "allows", "rejects", "", "", ""
	if g.Class == NewlyAllowed.String() {
		denies, allows, rejects = "denied", "allowed", "rejected"
		after, afterSG, afterOther = "; the candidate admits it", "; the candidate's do", "; the candidate admits it"
	}
	switch {
	case strings.HasPrefix(d.Layer, "nacl") && d.Cause == "nacl-explicit-deny":
		return fmt.Sprintf("%s entry %s of %s %s %s %s %s%s", dir, d.Rule, res, denies, what, toFrom, peer, after)
	case strings.HasPrefix(d.Layer, "nacl"):
		if after != "" {
			after = "; the candidate's does"
		}
		return fmt.Sprintf("no %s entry of %s %s %s %s %s%s", dir, res, allows, what, toFrom, peer, after)
	case strings.HasPrefix(d.Layer, "sg"):
		return fmt.Sprintf("no %s rule of %s %s %s %s %s%s", dir, res, allows, what, toFrom, peer, afterSG)
	}
	return fmt.Sprintf("%s (%s %s) %s it%s", d.Layer, res, d.Rule, rejects, afterOther)
}

// resources renders verdict_resource's ids with the group names the candidate has.
func (a *Aggregator) resources(s string) string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if g := a.model.Groups[id]; g != nil && g.Name != "" {
			out = append(out, id+" ("+g.Name+")")
		} else {
			out = append(out, id)
		}
	}
	return strings.Join(out, ", ")
}
