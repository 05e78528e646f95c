package replay

import (
	"math"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// The packet walk. At its interface a packet meets the layers in the order AWS applies them
// (docs/semantics.md, "The packet walk"):
//
//	ingress: the subnet's NACL inbound entries (only when the peer is outside the subnet), then the
//	         security groups inbound, or connection tracking for a packet of an admitted connection;
//	egress:  the security groups outbound (or connection tracking), then the NACL outbound entries
//	         (only when the peer is outside the subnet).
//
// walk follows that order and writes one Step per layer into a Path; a REJECT that the log attributes to VPC
// Block Public Access (reject-reason BPA) is a first step of its own. Everything else is read from the path:
// the first step that blocks decides the verdict (Verdict.Layer), the later blocking steps are
// Verdict.Also, the cause says what blocked it (blockCause), rule hits credit the rules the packet met up to
// the first block (creditRules), and explain prints the steps (verdict_steps). Every layer is evaluated even
// after one blocked, so that Also can say what else would have stopped the packet.

// Decision is what one layer did with a packet.
type Decision uint8

const (
	NotOnPath Decision = iota // the layer is not between the peers (a NACL, for a peer inside the subnet)
	Allow
	Block
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Block:
		return "deny"
	}
	return "not on the path"
}

// Basis says what a step's decision rests on.
type Basis uint8

const (
	BasisNone       Basis = iota
	BasisSameSubnet       // NACL not on the path: the peer is inside the interface's subnet
	BasisNoNACL           // NACL not on the path: the subnet has none (a fatal topology finding)
	BasisEntry            // NACL: the first matching entry in rule-number order decides (Step.Entry)
	BasisRule             // SG: a rule allows the packet (Step.Rule, the first of the union in model order)
	BasisTracked          // SG: a live tracking entry for the connection (security groups are stateful)
	BasisAssumed          // SG: a reply whose request was never seen, taken as tracked (see package doc)
	BasisNoGroups         // SG: the interface has no security groups (AWS-managed interfaces) and is not filtered
	BasisNoRule           // SG: no rule allows the packet (the implicit deny)
	BasisBPA              // VPC Block Public Access, as the record's reject-reason says
	numBases
)

// basisNames are the step bases as output writes them; those of SG steps not decided by a rule are the
// sg_rule column's values.
var basisNames = [numBases]string{"", "same-subnet", "no-nacl", "nacl-entry", "sg-rule", "conntrack",
	"conntrack-assumed", "no-security-group", "implicit-deny", "block-public-access"}

func (b Basis) String() string {
	if b < numBases {
		return basisNames[b]
	}
	return "basis(?)"
}

// Step is one layer of a packet's walk: what it decided and on what basis.
type Step struct {
	Layer    Layer
	Decision Decision
	Basis    Basis
	Entry    *vpc.NACLEntry // NACL on the path: the deciding entry (allow or deny)
	Rule     *vpc.SGRule    // BasisRule: the first rule in model order that allows the packet
	// ICMPInferred: the decision rests on the ICMP type and code flowlens inferred from request or reply
	// (icmpEcho): a NACL entry or security-group rule restricted to an ICMP type was weighed.
	ICMPInferred bool
	index        int32 // rule-hit index of Entry or Rule; -1 none (or an entry outside the model)
	pos          int32 // BasisRule: Rule's position in the interface's rules of the direction
}

// maxSteps is the longest walk: a BPA step and the two layers.
const maxSteps = 3

// Path is the steps of one packet's walk, in packet order. The zero Path has no steps (a record that was not
// judged).
type Path struct {
	steps [maxSteps]Step
	n     uint8
}

// Steps returns the steps in packet order. The slice aliases p.
func (p *Path) Steps() []Step { return p.steps[:p.n] }

// next appends a step and returns it to be filled in place.
func (p *Path) next(l Layer) *Step {
	s := &p.steps[p.n]
	p.n++
	*s = Step{Layer: l, index: -1}
	return s
}

// pathCode is a Path without its rules, for the verdict key: the number of steps in bits 0-1, then each
// step's layer (3 bits), decision (2), basis (4) and ICMPInferred (1).
type pathCode uint32

func (p *Path) code() pathCode {
	c := pathCode(p.n)
	for i := range p.steps[:p.n] {
		c |= p.steps[i].code(i)
	}
	return c
}

// code is step i's bits of a pathCode.
func (s *Step) code(i int) pathCode {
	x := uint32(s.Layer) | uint32(s.Decision)<<3 | uint32(s.Basis)<<5
	if s.ICMPInferred {
		x |= 1 << 9
	}
	return pathCode(x) << (2 + 10*i)
}

func (c pathCode) len() int { return int(c & 3) }

func (c pathCode) step(i int) (l Layer, d Decision, b Basis, icmpInferred bool) {
	x := uint32(c) >> (2 + 10*i)
	return Layer(x & 7), Decision(x >> 3 & 3), Basis(x >> 5 & 15), x>>9&1 == 1
}

// icmpEcho is the ICMP type and code flowlens takes for an ICMP or ICMPv6 record, which logs none: a request
// is an echo request (type 8, ICMPv6 128) and a reply an echo reply (type 0, ICMPv6 129), code 0. Most ICMP
// in flow logs is ping; other types cannot be told apart. A step whose decision weighed an entry or rule
// restricted to an ICMP type says so (Step.ICMPInferred).
func icmpEcho(proto uint8, role Role) (typ, code int16) {
	switch {
	case proto == vpc.ProtoICMP && role == RoleReply:
		return 0, 0
	case proto == vpc.ProtoICMP:
		return 8, 0
	case role == RoleReply:
		return 129, 0
	}
	return 128, 0
}

// icmpFamily is the index of an ICMP protocol in eniInfo's ICMP tables (0 ICMP, 1 ICMPv6), -1 for others.
func icmpFamily(proto uint8) int {
	switch proto {
	case vpc.ProtoICMP:
		return 0
	case vpc.ProtoICMPv6:
		return 1
	}
	return -1
}

// dirIndex is 0 for ingress, 1 for egress.
func dirIndex(dir vpc.Direction) int {
	if dir == vpc.Egress {
		return 1
	}
	return 0
}

// decider returns the first step that blocks, or nil when every step allows.
func (p *Path) decider() *Step {
	for i := range p.steps[:p.n] {
		if p.steps[i].Decision == Block {
			return &p.steps[i]
		}
	}
	return nil
}

// walk writes the steps of a packet at interface info, in direction dir, into w. tracked says that the
// packet belongs to a live tracked connection; assumeReply that it is a reply whose request was never seen
// (so the stateful security groups let it through); bpa that the log blames Block Public Access.
func (e *Engine) walk(w *Path, info *eniInfo, dir vpc.Direction, p *vpc.Packet, tracked, assumeReply, bpa bool) {
	if bpa {
		s := w.next(LayerBPA)
		s.Decision, s.Basis = Block, BasisBPA
	}
	if dir == vpc.Ingress {
		e.naclStep(w.next(LayerNACLInbound), info, dir, p)
		e.sgStep(w.next(LayerSGInbound), info, dir, p, tracked, assumeReply)
		return
	}
	e.sgStep(w.next(LayerSGOutbound), info, dir, p, tracked, assumeReply)
	e.naclStep(w.next(LayerNACLOutbound), info, dir, p)
}

// naclStep evaluates the subnet's network ACL, a stateless filter at the subnet boundary: replies are judged
// like any packet, and traffic between addresses of one subnet never crosses it.
func (e *Engine) naclStep(s *Step, info *eniInfo, dir vpc.Direction, p *vpc.Packet) {
	peer := p.Src
	if dir == vpc.Egress {
		peer = p.Dst
	}
	switch {
	case info.nacl == nil:
		s.Basis = BasisNoNACL
		return
	case info.inSubnet(peer):
		s.Basis = BasisSameSubnet
		return
	}
	en, pos := info.nacl.EvaluateAt(dir, p)
	s.Basis, s.Entry, s.index = BasisEntry, en, e.naclIndexAt(info, dirIndex(dir), en, pos)
	if f := icmpFamily(p.Proto); f >= 0 {
		// the entries read up to the deciding one (all of them for the package's fallback deny) include
		// one restricted to an ICMP type
		if pos < 0 {
			pos = math.MaxInt32
		}
		s.ICMPInferred = int32(pos) >= info.naclICMPTyped[dirIndex(dir)][f]
	}
	s.Decision = Block
	if en.Action == vpc.Allow {
		s.Decision = Allow
	}
}

// sgStep evaluates the interface's security groups: stateful, so a packet of a tracked connection passes
// before any rule is read; an interface without groups is not filtered; otherwise the groups are one union
// of allow rules, and nothing matching is the implicit deny.
func (e *Engine) sgStep(s *Step, info *eniInfo, dir vpc.Direction, p *vpc.Packet, tracked, assumeReply bool) {
	switch {
	case tracked:
		s.Decision, s.Basis = Allow, BasisTracked
	case !info.eni.HasSG():
		s.Decision, s.Basis = Allow, BasisNoGroups
	default:
		if f := icmpFamily(p.Proto); f >= 0 {
			s.ICMPInferred = info.sgICMPTyped[dirIndex(dir)][f]
		}
		if r, j := info.eni.EvalSGAt(dir, p); r != nil {
			s.Decision, s.Basis, s.Rule, s.pos, s.index = Allow, BasisRule, r, int32(j), info.sgIdx[dirIndex(dir)][j]
		} else if assumeReply {
			s.Decision, s.Basis = Allow, BasisAssumed
		} else {
			s.Decision, s.Basis = Block, BasisNoRule
		}
	}
}

// decide sets the verdict's modeled action, deciding layer and also-blocking layers from its path: the first
// step that blocks decides, and every later one that blocks is recorded in Also.
func (v *Verdict) decide() {
	v.ModelAction = Accept
	for i := range v.Path.Steps() {
		s := &v.Path.steps[i]
		switch {
		case s.Decision != Block:
		case v.ModelAction == Accept:
			v.ModelAction, v.Layer = Reject, s.Layer
		default:
			v.Also |= 1 << s.Layer
		}
	}
}

// blockCause names why the deciding step blocked, by what the user must change (see Cause). expired says that
// the packet's tracked connection had just idled out; info and p are the interface and packet of the walk.
func (v *Verdict) blockCause(expired bool, info *eniInfo, p *vpc.Packet) Cause {
	s := v.Path.decider()
	switch s.Basis {
	case BasisBPA:
		return CauseBPA
	case BasisEntry:
		switch {
		case !s.Entry.Default:
			return CauseNACLExplicitDeny // a deny entry: the fix is that entry, request or reply
		case v.Role == RoleReply:
			return CauseNACLMissingReturn
		}
		return CauseNACLDefaultDeny
	}
	switch {
	case expired && v.Role == RoleReply:
		return CauseConntrackExpired
	case !info.eni.SGAllowsService(v.Dir, p):
		return CauseSGNoMatchingRule
	case v.Dir == vpc.Ingress:
		return CauseIngressRestricted
	}
	return CauseEgressRestricted
}

// sgStep returns the verdict's security-group step (nil when not judged).
func (p *Path) sgStep() *Step {
	for i := range p.steps[:p.n] {
		if l := p.steps[i].Layer; l == LayerSGInbound || l == LayerSGOutbound {
			return &p.steps[i]
		}
	}
	return nil
}

// naclStep returns the verdict's NACL step (nil when not judged).
func (p *Path) naclStep() *Step {
	for i := range p.steps[:p.n] {
		if l := p.steps[i].Layer; l == LayerNACLInbound || l == LayerNACLOutbound {
			return &p.steps[i]
		}
	}
	return nil
}

// creditRules adds the record to the hits of the rules its packet met, in path order, up to the step that
// blocked it: the NACL's deciding entry, and every security-group rule that allows the packet. A security
// group is a union of allows, so crediting only the first matching rule would show a rule whose traffic is
// always matched first by another as unused; a rule is unused when it allowed nothing in the window. The
// rules before the first match did not match; of those after it, only the ones that overlap it can
// (eniInfo.alsoAfter).
func (e *Engine) creditRules(st *State, info *eniInfo, dir vpc.Direction, p *vpc.Packet, w *Path, c *compactFlow) {
	for i := range w.Steps() {
		s := &w.steps[i]
		switch s.Basis {
		case BasisEntry:
			st.hitNACL(s.index, c)
		case BasisRule:
			st.hitSG(s.index, c)
			rules := info.eni.Ingress
			if dir == vpc.Egress {
				rules = info.eni.Egress
			}
			d := dirIndex(dir)
			for _, k := range info.alsoAfter[d][s.pos] {
				if rules[k].Matches(*p) {
					st.hitSG(info.sgIdx[d][k], c)
				}
			}
		}
		if s.Decision == Block {
			return
		}
	}
}
