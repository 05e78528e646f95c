// Package vpc is the model of a VPC's subnets, network ACLs, security groups and network interfaces,
// loaded from the AWS CLI JSON users already have and compiled once for allocation-free rule matching.
package vpc

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go4.org/netipx"
)

// Direction is the direction of a packet relative to an ENI or a subnet.
type Direction uint8

const (
	Ingress Direction = 1
	Egress  Direction = 2
)

func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// RuleAction is what a NACL entry does with a matching packet. Security-group rules always allow.
type RuleAction uint8

const (
	Allow RuleAction = 1
	Deny  RuleAction = 2
)

func (a RuleAction) String() string {
	switch a {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Packet is what rules are matched against: one flow record's tuple.
type Packet struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8 // IANA number (6 tcp, 17 udp, 1 icmp, 58 icmpv6)
	ICMPType         int16 // ICMPUnknown when the record cannot tell
	ICMPCode         int16 // ICMPUnknown when the record cannot tell
}

// ProtoAll is the protocol of a rule or entry that matches every protocol ("-1" in AWS output).
const ProtoAll int16 = -1

// IANA protocol numbers flowlens treats specially.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// ICMPUnknown is Packet.ICMPType and ICMPCode when the flow record cannot tell: flow logs carry no ICMP
// type or code (ICMP records log ports 0 0).
const ICMPUnknown int16 = -1

// UnknownICMPMatches is how a rule or NACL entry restricted to one ICMP type or code treats a packet whose
// type or code is ICMPUnknown: it matches, because the flow log cannot tell it apart from the restricted type.
// This holds for allow and deny entries alike. Callers that need to report such assumed verdicts check
// RestrictsICMP on the deciding rule when p.ICMPType is ICMPUnknown.
const UnknownICMPMatches = true

// NACLEntry is one network ACL entry. The peer is p.Src for inbound entries and p.Dst for outbound ones;
// ports match p.DstPort.
type NACLEntry struct {
	RuleNumber         int // 1..32766; 32767 = IPv4 '*', 32768 = IPv6 '*'
	Egress             bool
	Action             RuleAction
	Prefix             netip.Prefix // masked; v4 entries never match v6 packets and vice versa
	Proto              int16        // -1 all; ports/ICMP ignored unless 6/17 (ports) or 1/58 (ICMP)
	PortFrom, PortTo   uint16       // inclusive; meaningful for Proto 6 and 17 only
	ICMPType, ICMPCode int16        // -1 all; meaningful for Proto 1 and 58 only
	Default            bool         // one of the '*' entries
	Synthesized        bool         // '*' entry missing from the input and added by the loader
	ShadowedBy         int          // RuleNumber of an earlier entry that makes this one unreachable, else 0
}

// Rule numbers AWS shows for the final '*' entries.
const (
	DefaultRuleV4 = 32767
	DefaultRuleV6 = 32768
)

// Rule returns the entry's rule number as AWS prints it ("100", "32767").
func (e *NACLEntry) Rule() string { return strconv.Itoa(e.RuleNumber) }

// NACL is a subnet's network ACL: entries are checked in ascending rule number; the first match decides;
// no match is the '*' deny.
type NACL struct {
	ID, VpcID, OwnerID string
	IsDefault          bool
	Inbound, Outbound  []NACLEntry // ascending RuleNumber, both families, ending with 32767 and 32768
	SubnetIDs          []string    // subnets of the model that use this NACL (explicitly or as VPC default), sorted
}

// PeerKind says which of SGRule's peer fields is set.
type PeerKind uint8

const (
	PeerCIDR       PeerKind = 1
	PeerPrefixList PeerKind = 2
	PeerGroup      PeerKind = 3
)

func (k PeerKind) String() string {
	switch k {
	case PeerCIDR:
		return "cidr"
	case PeerPrefixList:
		return "prefix-list"
	case PeerGroup:
		return "group"
	}
	return "peer(" + strconv.Itoa(int(k)) + ")"
}

// SGRule is one allow rule, normalised: one peer per rule, so a describe-security-groups permission with
// several IpRanges or groups becomes several SGRules.
type SGRule struct {
	// ID is the sgr- id when the input has it (describe-security-group-rules), else
	// "GROUP/ingress/N" or "GROUP/egress/N" where N is the rule's 0-based index in SecurityGroup.Ingress or Egress.
	ID string
	// Display is a readable rendering: "tcp 22 from 10.0.0.0/8", "all to sg-abc", "icmp 8/-1 from pl-123".
	Display          string
	GroupID          string
	Egress           bool
	Proto            int16 // -1 all
	FromPort, ToPort int32 // TCP/UDP port range (0 0 is port 0; -1 -1 is all); for ICMP FromPort=type, ToPort=code; -1 all
	Peer             PeerKind
	Prefix           netip.Prefix // PeerCIDR (masked)
	PrefixListID     string       // PeerPrefixList
	RefGroupID       string       // PeerGroup
	Description      string

	// set holds the compiled peer addresses for PeerPrefixList (the list's CIDRs) and PeerGroup (the member
	// ENIs' private addresses); nil matches nothing (stale reference, prefix list not loaded).
	set *netipx.IPSet
	// file is the input file the rule came from ("" when built in Go: findings then name its group's file).
	file string
	// idGenerated is true when Compile made ID ("GROUP/ingress/N"), so that it renumbers it.
	idGenerated bool
}

// SecurityGroup is one security group with its normalised rules.
type SecurityGroup struct {
	ID, Name, VpcID, OwnerID, Description string
	Ingress, Egress                       []*SGRule
}

// Timeouts come from an ENI's ConnectionTrackingConfiguration; a zero field means "not set: AWS default".
type Timeouts struct {
	TCPEstablished, UDP, UDPStream time.Duration
}

// Subnet is one subnet and the NACL that guards its boundary.
type Subnet struct {
	ID, VpcID, AZ, OwnerID string
	CIDRs                  []netip.Prefix // IPv4 first, then IPv6; masked
	// NACL is the explicitly associated NACL, else the VPC's default NACL (nil only with a fatal finding).
	NACL *NACL
	// NACLExplicit is true when a NetworkAcls[].Associations entry names the subnet (AWS lists the default
	// NACL's implicit associations there too), false when Compile fell back to the VPC's default NACL. To
	// associate a subnet from Go, set NACL and NACLExplicit; Compile resolves NACL by its ID in Model.NACLs.
	NACLExplicit bool
}

// ENI is one network interface.
type ENI struct {
	ID, SubnetID, VpcID           string
	Primary                       netip.Addr   // primary private IPv4 (or first IPv6 for IPv6-only)
	Addrs                         []netip.Addr // all private IPv4 and IPv6 addresses, primary first
	PublicIPs                     []netip.Addr
	GroupIDs                      []string
	Type, InstanceID, Description string
	Timeouts                      Timeouts
	Subnet                        *Subnet   // nil only with a fatal finding
	Ingress, Egress               []*SGRule // union of its groups' rules, in group then rule order
}

// VPC groups the objects of one VPC.
type VPC struct {
	ID          string
	DefaultNACL *NACL    // nil when the input has no default NACL for the VPC
	SubnetIDs   []string // sorted
}

// Model is a validated and compiled topology. LoadPaths and Load return one; Clone copies one. It is
// read-only while anything evaluates it, and then safe for concurrent use.
//
// To build a candidate policy in Go, Clone the model (an Engine or another goroutine may be reading the
// original), then change the copy: replace or add security groups (Groups; SecurityGroup.Ingress/Egress with
// new *SGRule values), NACLs (NACLs; NACL.Inbound/Outbound), subnet associations (Subnet.NACL with
// NACLExplicit) and group membership (ENI.GroupIDs), remove an object by setting its map value to nil, and
// call Compile. Until Compile returns, the
// derived state (VPCs, NACL.SubnetIDs, ShadowedBy, ENI.Subnet and rule lists, group member sets, Display,
// generated rule ids, the indexes and Findings) is stale: build no Engine on a model being changed. Maps are
// keyed by the object's ID. Whatever is put in a model belongs to it: never put one *SGRule in two models.
type Model struct {
	VPCs        map[string]*VPC // derived by Compile from the other objects' VpcIDs
	Subnets     map[string]*Subnet
	NACLs       map[string]*NACL
	Groups      map[string]*SecurityGroup
	ENIs        map[string]*ENI
	PrefixLists map[string][]netip.Prefix // pl- id -> entries (masked, sorted)
	Findings    []Finding                 // every problem found, sorted by file (stable within a file); set by Compile

	// input holds the findings that later Compile calls keep: the loader's (reading and converting files)
	// and those about input a Compile dropped or rewrote.
	input          []Finding
	fileOf         map[string]string // object id (acl-, subnet-, sg-, eni-, pl-) -> input file, for findings
	byAddr         map[netip.Addr]*ENI
	members        map[string][]netip.Addr // group id -> member ENIs' private addresses, sorted
	memberSets     map[string]*netipx.IPSet
	subnetByCIDR   map[netip.Prefix]*Subnet
	subnetBits4    []int // IPv4 prefix lengths present in subnetByCIDR, longest first
	subnetBits6    []int // IPv6 prefix lengths present in subnetByCIDR, longest first
	prefixListMeta map[string]prefixListMeta
	files          map[string][]byte // what Load or LoadPaths read (InputFiles)
}

type prefixListMeta struct {
	name, family string
}

// InputFiles returns the AWS CLI JSON documents Load or LoadPaths built the model from, by file name, as read:
// Load of them builds the same model again, so a program can store them beside its results (analyze does:
// flowschema.TopologyFilesTable) and rebuild the model later. A model from Clone or LoadOverlay has none (nil):
// it may differ from any input. The map and its contents are shared: do not modify them.
func (m *Model) InputFiles() map[string][]byte { return m.files }

// ENIByID returns the ENI with that id, or nil.
func (m *Model) ENIByID(id string) *ENI { return m.ENIs[id] }

// ENIByAddr returns the ENI owning a as a private address (primary or secondary), nil if none.
func (m *Model) ENIByAddr(a netip.Addr) *ENI { return m.byAddr[a] }

// SubnetOf returns the subnet with the most specific CIDR containing a, nil if none.
func (m *Model) SubnetOf(a netip.Addr) *Subnet {
	bitsList := m.subnetBits4
	if a.Is6() {
		bitsList = m.subnetBits6
	}
	for _, bits := range bitsList {
		p, err := a.Prefix(bits)
		if err != nil {
			return nil // invalid or zoned address
		}
		if s := m.subnetByCIDR[p]; s != nil {
			return s
		}
	}
	return nil
}

// GroupMembers returns the private addresses of the ENIs in the group, sorted. The slice is shared: do not
// modify it.
func (m *Model) GroupMembers(groupID string) []netip.Addr { return m.members[groupID] }

// HasFatal reports whether a finding makes the model unfit for replay.
func (m *Model) HasFatal() bool {
	for i := range m.Findings {
		if m.Findings[i].Severity == Fatal {
			return true
		}
	}
	return false
}

// FatalError returns nil when no finding is fatal, else a *FatalFindingsError with the fatal findings. A
// replay must not judge flows against such a model unless the user asked for it: its verdicts could be wrong.
func (m *Model) FatalError() error {
	var fatal []Finding
	for _, f := range m.Findings {
		if f.Severity == Fatal {
			fatal = append(fatal, f)
		}
	}
	if fatal == nil {
		return nil
	}
	return &FatalFindingsError{Findings: fatal}
}

// FatalFindingsError is the error FatalError returns.
type FatalFindingsError struct {
	Findings []Finding // the fatal findings, in Model.Findings order
}

// Error renders "N fatal topology finding(s): FILE: OBJECT: MESSAGE; FILE: OBJECT: MESSAGE".
func (e *FatalFindingsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d fatal topology finding(s)", len(e.Findings))
	for i, f := range e.Findings {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.where() + ": " + f.Message)
	}
	return b.String()
}

// Severity says whether a finding makes the model unfit for replay.
type Severity uint8

const (
	// Warning: the model is usable; the named object behaves as the message says.
	Warning Severity = 1
	// Fatal: the model would give wrong verdicts; replaying against it is refused by default.
	Fatal Severity = 2
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Fatal:
		return "fatal"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Finding is one problem in the topology input.
type Finding struct {
	Severity Severity
	File     string // input file name as given to Load/LoadPaths; "" for the whole model or an object built in Go
	Object   string // AWS id of the object (acl-, sg-, sgr-, eni-, subnet-, pl-), or a JSON path when it has none
	Message  string
}

// Error renders "FILE: OBJECT: MESSAGE (fatal)"; an empty File or Object is "-".
func (f Finding) Error() string {
	return fmt.Sprintf("%s: %s (%s)", f.where(), f.Message, f.Severity)
}

// where renders "FILE: OBJECT".
func (f Finding) where() string {
	file, obj := f.File, f.Object
	if file == "" {
		file = "-"
	}
	if obj == "" {
		obj = "-"
	}
	return file + ": " + obj
}
