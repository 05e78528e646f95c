package recommend

import (
	"encoding/json"
	"net/netip"
	"strconv"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Basis names the recommendation rule that produced a proposed rule or entry: each is one documented choice
// (see the package documentation), so a reader can ask "why this peer?" and get a name, not a guess.
type Basis uint8

const (
	// BasisGroupReference: the peers are private addresses of interfaces of a group, referenced by id (the
	// AWS best practice; rule 1).
	BasisGroupReference Basis = iota + 1
	// BasisPrefixList: a managed prefix list of the model covers the peers (rule 2).
	BasisPrefixList
	// BasisCIDR: the peers' addresses aggregated into prefixes under the width limits (rule 3).
	BasisCIDR
	// BasisInternetWide: many unrelated public networks used the service: 0.0.0.0/0 (::/0) on its port only (rule 4).
	BasisInternetWide
	// BasisSubnet: NACL peers inside the model, by their subnet's CIDR (rule 8).
	BasisSubnet
	// BasisEphemeralReturn: a NACL entry for the replies, to the clients' ephemeral ports (rule 8).
	BasisEphemeralReturn
	// BasisScannerDeny: an explicit NACL deny for a source that was only ever rejected (rule 8).
	BasisScannerDeny
	// BasisKept: no evidence in the window for this group or NACL direction: the current rule is kept (rule 9).
	BasisKept
	// BasisCurrentDeny: an explicit deny entry of the current NACL whose sources were only ever rejected: kept
	// ahead of the allows (rule 8), unless Options.DropCurrentDenies.
	BasisCurrentDeny
)

var basisNames = [...]string{"", "group-reference", "prefix-list", "cidr", "internet-wide", "subnet", "ephemeral-return",
	"scanner-deny", "kept-no-evidence", "current-deny"}

func (b Basis) String() string {
	if int(b) < len(basisNames) && b > 0 {
		return basisNames[b]
	}
	return "basis(" + strconv.Itoa(int(b)) + ")"
}

// MarshalText renders the name, so JSON output reads "group-reference", not 1.
func (b Basis) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// Rule is one proposed security-group rule with what justifies it. Exactly one of Prefix, PrefixListID and
// RefGroupID is set, as Peer says. Ports follow vpc.SGRule: TCP/UDP FromPort..ToPort inclusive; ICMP and
// ICMPv6 -1 -1 (all types: flow logs carry no ICMP type); other protocols -1 -1.
type Rule struct {
	GroupID          string       `json:"group_id"`
	Egress           bool         `json:"egress"`
	Proto            int16        `json:"proto"`
	FromPort         int32        `json:"from_port"`
	ToPort           int32        `json:"to_port"`
	Peer             vpc.PeerKind `json:"-"` // rendered as "peer" by MarshalJSON
	Prefix           netip.Prefix `json:"cidr,omitzero"`
	PrefixListID     string       `json:"prefix_list_id,omitempty"`
	RefGroupID       string       `json:"ref_group_id,omitempty"`
	RefGroupName     string       `json:"ref_group_name,omitempty"`
	Description      string       `json:"description,omitempty"` // the AWS rule description: a short evidence summary
	Basis            Basis        `json:"basis"`
	Reason           string       `json:"reason"`           // why this peer and these ports, in words
	Peers            int          `json:"peers"`            // distinct observed peer addresses it covers
	Ports            int          `json:"observed_ports"`   // distinct observed service ports it covers
	Evidence         Evidence     `json:"evidence"`         // summed over what it covers
	Exposure         Exposure     `json:"exposure"`         // of this rule alone
	MergedToFitQuota bool         `json:"merged,omitempty"` // widened or merged to fit MaxRules (see Findings)
}

// MarshalJSON adds the peer kind by name.
func (r Rule) MarshalJSON() ([]byte, error) {
	type plain Rule
	return json.Marshal(struct {
		plain
		Peer string `json:"peer"`
		Rule string `json:"rule"`
	}{plain(r), r.Peer.String(), r.String()})
}

// SGRule returns the rule as a new *vpc.SGRule for a candidate model (Compile fills ID and Display).
func (r *Rule) SGRule() *vpc.SGRule {
	return &vpc.SGRule{GroupID: r.GroupID, Egress: r.Egress, Proto: r.Proto, FromPort: r.FromPort, ToPort: r.ToPort,
		Peer: r.Peer, Prefix: r.Prefix, PrefixListID: r.PrefixListID, RefGroupID: r.RefGroupID, Description: r.Description}
}

// String renders the rule like vpc's Display, with the referenced group's name: "tcp 5432 from sg-0db (db)".
func (r *Rule) String() string {
	s := r.SGRule().String()
	if r.Peer == vpc.PeerGroup && r.RefGroupName != "" {
		s += " (" + r.RefGroupName + ")" // the peer ends vpc's rendering
	}
	return s
}

// Entry is one proposed NACL entry with what justifies it. Its fields are those of vpc.NACLEntry that an
// entry is built from; Entry.NACLEntry converts it.
type Entry struct {
	NACLID     string         `json:"nacl_id"`
	RuleNumber int            `json:"rule_number"`
	Egress     bool           `json:"egress"`
	Action     vpc.RuleAction `json:"-"` // rendered as "action" by MarshalJSON
	Prefix     netip.Prefix   `json:"cidr"`
	Proto      int16          `json:"proto"`
	PortFrom   uint16         `json:"port_from"` // TCP/UDP only
	PortTo     uint16         `json:"port_to"`
	ICMPType   int16          `json:"icmp_type"` // ICMP/ICMPv6 only; -1 all
	ICMPCode   int16          `json:"icmp_code"`
	Basis      Basis          `json:"basis"`
	Reason     string         `json:"reason"`
	Peers      int            `json:"peers"`
	Evidence   Evidence       `json:"evidence"`
}

// MarshalJSON adds the action by name.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	return json.Marshal(struct {
		plain
		Action string `json:"action"`
	}{plain(e), e.Action.String()})
}

// String renders the entry as REPORT.md does: "100 allow tcp 443 0.0.0.0/0".
func (e *Entry) String() string {
	return entryText(e.RuleNumber, e.Action, e.Proto, e.Prefix, e.PortFrom, e.PortTo, e.ICMPType, e.ICMPCode)
}

// NACLEntry returns the entry for a candidate model.
func (e *Entry) NACLEntry() vpc.NACLEntry {
	return vpc.NACLEntry{RuleNumber: e.RuleNumber, Egress: e.Egress, Action: e.Action, Prefix: e.Prefix, Proto: e.Proto,
		PortFrom: e.PortFrom, PortTo: e.PortTo, ICMPType: e.ICMPType, ICMPCode: e.ICMPCode}
}

// GroupProposal is the proposed rule set of one security group of the topology.
type GroupProposal struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Ingress and Egress are the complete proposed rules, canonical order (protocol, ports, peer). A direction
	// without evidence holds the current rules with BasisKept (rule 9: never an empty set that isolates).
	Ingress []Rule `json:"ingress"`
	Egress  []Rule `json:"egress"`
	// KeptIngress and KeptEgress say that a direction is the current configuration, kept for lack of evidence.
	KeptIngress bool     `json:"kept_ingress"`
	KeptEgress  bool     `json:"kept_egress"`
	Learning    Learning `json:"learning"`
}

// NACLProposal is the proposed entries of one NACL: ascending rule numbers, the '*' denies implicit (Apply and
// Compile add them).
type NACLProposal struct {
	ID           string   `json:"id"`
	SubnetIDs    []string `json:"subnet_ids"`
	Inbound      []Entry  `json:"inbound"`
	Outbound     []Entry  `json:"outbound"`
	KeptInbound  bool     `json:"kept_inbound"`
	KeptOutbound bool     `json:"kept_outbound"`
}

// FindingKind names a kind of finding.
type FindingKind string

const (
	FindingNoEvidence       FindingKind = "no-evidence"             // rule 9: current rules kept
	FindingCoveredElsewhere FindingKind = "covered-by-other-groups" // rule 9: members active, traffic allowed by other groups
	FindingInactiveENI      FindingKind = "interface-no-evidence"   // rule 9: an interface without traffic under proposed groups
	FindingUnknownENI       FindingKind = "unknown-interface"       // requests on an interface the model lacks
	FindingUnused           FindingKind = "unused-rule"             // rule 11: allowed nothing in the window
	FindingOverBroad        FindingKind = "over-broad-rule"         // rule 11: wide peer, few peers used it
	FindingWorldSensitive   FindingKind = "sensitive-port-world"    // rule 11: admin/database port open to the world
	FindingShadowed         FindingKind = "shadowed-nacl-entry"     // rule 11: never decides
	FindingStaleReference   FindingKind = "stale-group-reference"   // rule 11: referenced group missing or empty
	FindingQuotaMerge       FindingKind = "quota-merge"             // rule 7: what was merged to fit
	FindingQuotaExceeded    FindingKind = "quota-exceeded"          // rule 7/8: still over after merging
	FindingScanner          FindingKind = "scanner"                 // rule 8: a source only ever rejected
	FindingScannerAdmitted  FindingKind = "scanner-admitted"        // rule 8b: a prober some requests of which were accepted: not learned
	FindingScannerOnly      FindingKind = "scanner-only-rule"       // rule 8b: a current rule that admitted only probers
	FindingUnexplainedDeny  FindingKind = "accepted-not-allowed"    // an accepted request the current model denies
	// FindingCurrentDenyDropped: an explicit deny of the current NACL is not in the proposal (accepted
	// traffic crossed it, or Options.DropCurrentDenies): what it blocked may now be allowed.
	FindingCurrentDenyDropped FindingKind = "current-deny-dropped"
	// FindingRejectedAtReceiver: requests accepted by their sender but rejected by the receiving interface's
	// own records: not mirrored to (not learned for) the receiver.
	FindingRejectedAtReceiver FindingKind = "rejected-at-receiver"
)

// Finding is one statement about the current configuration or the proposal.
type Finding struct {
	Kind     FindingKind `json:"kind"`
	Resource string      `json:"resource"`       // sg-, acl- or eni- id
	Name     string      `json:"name,omitempty"` // the group's name
	Rule     string      `json:"rule,omitempty"` // the rule's id and rendering, or a NACL rule number
	Message  string      `json:"message"`
}

// NeverFiltered is traffic AWS neither filters nor logs normally (rule 10) that showed up where a rule would
// otherwise have been proposed: no rule is proposed for it.
type NeverFiltered struct {
	ENI      string     `json:"eni"`
	Egress   bool       `json:"egress"`
	Peer     netip.Addr `json:"peer"`
	Proto    uint8      `json:"proto"`
	Port     uint16     `json:"port"`
	Service  string     `json:"service"` // "Amazon DNS resolver", "instance metadata", ...
	Evidence Evidence   `json:"evidence"`
}

// Scanner is a source that was only ever rejected and probed many ports (rule 8).
type Scanner struct {
	Peer    netip.Addr `json:"peer"`
	Ports   int        `json:"ports"` // distinct (protocol, port) probed
	Flows   int64      `json:"flows"`
	ENIs    []string   `json:"enis"`
	Example string     `json:"example"`
}

// Unproven holds what the evidence did not justify (rule 9): below Options.MinFlows or MinWindows. Nothing
// here is in the proposal; a human decides.
type Unproven struct {
	Rules   []Rule  `json:"rules"`
	Entries []Entry `json:"entries"`
}

func protoName(p int16) string {
	switch p {
	case vpc.ProtoAll:
		return "all"
	case vpc.ProtoTCP:
		return "tcp"
	case vpc.ProtoUDP:
		return "udp"
	case vpc.ProtoICMP:
		return "icmp"
	case vpc.ProtoICMPv6:
		return "icmpv6"
	}
	return "proto " + strconv.Itoa(int(p))
}
