package recommend

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// The change from the current configuration (the topology a Recommendation was made from) to the proposal,
// shared by main.tf (which current rule a resource adopts with terraform import) and apply.sh (what to
// authorize, revoke, create, replace and delete, and in which order).

// sgKey identifies a security-group rule the way AWS does when it refuses a duplicate
// (InvalidPermission.Duplicate) or matches a revoke: direction, protocol, ports and peer. The description is
// not part of it. Ports are -1 -1 for every protocol other than TCP, UDP, ICMP and ICMPv6: AWS ignores them.
type sgKey struct {
	egress   bool
	proto    int16
	from, to int32
	peer     vpc.PeerKind
	prefix   netip.Prefix
	id       string // the prefix list or the referenced group
}

func newSGKey(egress bool, proto int16, from, to int32, peer vpc.PeerKind, prefix netip.Prefix, pl, ref string) sgKey {
	if !portsChecked(proto) && !icmpProto(proto) {
		from, to = -1, -1
	}
	k := sgKey{egress: egress, proto: proto, from: from, to: to, peer: peer}
	switch peer {
	case vpc.PeerCIDR:
		k.prefix = prefix.Masked()
	case vpc.PeerPrefixList:
		k.id = pl
	default:
		k.id = ref
	}
	return k
}

func proposedKey(r *Rule) sgKey {
	return newSGKey(r.Egress, r.Proto, r.FromPort, r.ToPort, r.Peer, r.Prefix, r.PrefixListID, r.RefGroupID)
}

func currentKey(r *vpc.SGRule) sgKey {
	return newSGKey(r.Egress, r.Proto, r.FromPort, r.ToPort, r.Peer, r.Prefix, r.PrefixListID, r.RefGroupID)
}

// sgChange is one security-group direction's change.
type sgChange struct {
	Group  *GroupProposal
	Egress bool
	// Kept: the direction is the current configuration, kept for lack of evidence (nothing to do).
	Kept bool
	// Proposed is the direction's proposed rules; Existing[i] is the current rule identical to Proposed[i]
	// (sgKey), nil when Proposed[i] must be authorized.
	Proposed []Rule
	Existing []*vpc.SGRule
	// Revoke holds the current rules that no proposed rule is identical to, in current order.
	Revoke []*vpc.SGRule
	// Current is the number of current rules (the quota check of authorize-before-revoke).
	Current int
}

// Authorize returns the proposed rules the group lacks, in proposal order.
func (c *sgChange) Authorize() []*Rule {
	var out []*Rule
	for i := range c.Proposed {
		if c.Existing[i] == nil {
			out = append(out, &c.Proposed[i])
		}
	}
	return out
}

// groupChange compares one direction of gp with the current group cur (nil: a group the topology lacks, all
// of whose rules are new).
func groupChange(gp *GroupProposal, cur *vpc.SecurityGroup, egress bool) sgChange {
	c := sgChange{Group: gp, Egress: egress, Kept: gp.KeptIngress, Proposed: gp.Ingress}
	if egress {
		c.Kept, c.Proposed = gp.KeptEgress, gp.Egress
	}
	var current []*vpc.SGRule
	if cur != nil {
		current = cur.Ingress
		if egress {
			current = cur.Egress
		}
	}
	c.Current = len(current)
	byKey := make(map[sgKey]*vpc.SGRule, len(current))
	for _, r := range current {
		if _, dup := byKey[currentKey(r)]; !dup {
			byKey[currentKey(r)] = r
		}
	}
	used := make(map[*vpc.SGRule]bool)
	c.Existing = make([]*vpc.SGRule, len(c.Proposed))
	for i := range c.Proposed {
		if r := byKey[proposedKey(&c.Proposed[i])]; r != nil && !used[r] {
			c.Existing[i], used[r] = r, true
		}
	}
	for _, r := range current {
		if !used[r] {
			c.Revoke = append(c.Revoke, r)
		}
	}
	return c
}

// naclOpKind is what one NACL step does (create-network-acl-entry, replace-network-acl-entry,
// delete-network-acl-entry).
type naclOpKind uint8

const (
	opCreate naclOpKind = iota + 1
	opReplace
	opDelete
)

// naclStep orders NACL operations so that no traffic that both the current and the proposed entries allow is
// ever denied in between: entries are first-match in rule-number order and a rule number holds one entry per
// direction, so an operation may widen (an allow added, a deny removed), narrow, or both. Steps 1-3 only
// widen; steps 4-7 run when every proposed allow exists (at its number or as a temporary copy) and every
// deny left is a proposed one, so a packet the proposal allows meets an allow before any deny that matches it:
//
//  1. create the proposed allows at free rule numbers, and a temporary copy of each proposed allow whose
//     number a different current allow holds, at the nearest free number below it (an allow added anywhere
//     only widens; below its number, no proposed deny can come between it and the packets it stands for);
//  2. replace current denies by proposed allows at the same number (widens);
//  3. delete the current denies the proposal drops, and those a different proposed deny replaces (widens;
//     the new deny comes back in step 5);
//  4. replace current allows by the different proposed allows at their numbers (from the highest number
//     down); their temporary copies carry the traffic meanwhile;
//  5. create the proposed denies (they only match sources that were only ever rejected, or are the current
//     denies kept);
//  6. replace current allows by proposed denies;
//  7. delete the current allows the proposal drops, the temporary copies (the traffic they carried now has
//     its own entry) and the current denies the proposal moves to another number (their new entry exists).
//
// Why 4-7 keep what the proposal allows: take a packet the proposal allows, first matched there by allow a
// at k. In these steps a exists at k or as its copy below k, and every deny present is a proposed deny at
// its proposed number, so before a (or its copy) only proposed denies numbered below k can stand, and none
// of them matches the packet, or the proposal would deny it. Two things fall outside that argument, and
// naclGaps finds them (apply.sh then warns): no free number below an entry (rule numbers are 1..32766), so no
// copy; and a current deny moved to another number, kept at its old number until its new entry exists
// (never letting in meanwhile what it blocks), which can sit ahead of an allow that is behind its new number.
type naclStep uint8

// naclOp is one NACL operation.
type naclOp struct {
	Kind naclOpKind
	Step naclStep
	Old  *vpc.NACLEntry // replace and delete: the current entry (or the temporary copy)
	New  *Entry         // create and replace: the proposed entry (or the temporary copy)
	// Temp marks the create and the delete of a temporary copy of a proposed allow (steps 1 and 7).
	Temp bool
	// For is the proposed entry a temporary copy stands for, or the one a current deny moves to (its
	// delete then waits until step 7).
	For *Entry
}

// Egress is the operation's direction.
func (o *naclOp) Egress() bool {
	if o.New != nil {
		return o.New.Egress
	}
	return o.Old.Egress
}

// RuleNumber is the rule number the operation changes.
func (o *naclOp) RuleNumber() int {
	if o.New != nil {
		return o.New.RuleNumber
	}
	return o.Old.RuleNumber
}

// naclChange is one NACL's change, both directions.
type naclChange struct {
	NACL *NACLProposal
	// Ops in execution order (step, then the step's order: ascending rule number, descending in step 4;
	// inbound before outbound on ties).
	Ops []naclOp
	// Existing maps a proposed entry to the identical current entry (nothing to do); entries of kept
	// directions are identical by construction.
	Existing map[*Entry]*vpc.NACLEntry
	// Gaps are the moments the order cannot avoid, at most one per direction: set by withGaps (naclGaps).
	Gaps []naclGap
	// Peak is the largest number of entries a direction holds between the steps, the '*' entries excluded
	// (the quota check: AWS counts entries per direction).
	Peak int
}

// sameEntry reports whether the current entry c is the proposed entry e: AWS compares the fields that
// matter for the protocol (ports for TCP/UDP, type and code for ICMP/ICMPv6).
func sameEntry(c *vpc.NACLEntry, e *Entry) bool {
	if c.RuleNumber != e.RuleNumber || c.Egress != e.Egress || c.Action != e.Action || c.Proto != e.Proto ||
		c.Prefix.Masked() != e.Prefix.Masked() {
		return false
	}
	switch {
	case portsChecked(e.Proto):
		return c.PortFrom == e.PortFrom && c.PortTo == e.PortTo
	case icmpProto(e.Proto):
		return c.ICMPType == e.ICMPType && c.ICMPCode == e.ICMPCode
	}
	return true
}

// naclChangeOf compares np with the current NACL cur (nil: every entry is created).
func naclChangeOf(np *NACLProposal, cur *vpc.NACL) naclChange {
	c := naclChange{NACL: np, Existing: make(map[*Entry]*vpc.NACLEntry)}
	for _, egress := range []bool{false, true} {
		proposed, kept := np.Inbound, np.KeptInbound
		var current []vpc.NACLEntry
		if cur != nil {
			current = cur.Inbound
		}
		if egress {
			proposed, kept = np.Outbound, np.KeptOutbound
			if cur != nil {
				current = cur.Outbound
			}
		}
		byNumber := make(map[int]*vpc.NACLEntry)
		for i := range current {
			if !current[i].Default {
				byNumber[current[i].RuleNumber] = &current[i]
			}
		}
		size := len(byNumber)
		peak := size
		var ops []naclOp
		taken := make(map[int]bool)
		used := make(map[int]bool, len(byNumber)+len(proposed))
		for n := range byNumber {
			used[n] = true
		}
		movedTo := make(map[naclMatch]*Entry) // proposed denies by what they match: where a current deny moves
		for i := range proposed {
			used[proposed[i].RuleNumber] = true
			if e := &proposed[i]; e.Action == vpc.Deny {
				movedTo[matchOf(e.NACLEntry())] = e
			}
		}
		for i := range proposed {
			e := &proposed[i]
			taken[e.RuleNumber] = true
			old := byNumber[e.RuleNumber]
			switch {
			case old != nil && (kept || sameEntry(old, e)):
				c.Existing[e] = old
			case old == nil && e.Action == vpc.Allow:
				ops = append(ops, naclOp{Kind: opCreate, Step: 1, New: e})
			case old == nil:
				ops = append(ops, naclOp{Kind: opCreate, Step: 5, New: e})
			case old.Action == vpc.Deny && e.Action == vpc.Allow:
				ops = append(ops, naclOp{Kind: opReplace, Step: 2, Old: old, New: e})
			case old.Action == vpc.Deny:
				ops = append(ops, naclOp{Kind: opDelete, Step: 3, Old: old}, naclOp{Kind: opCreate, Step: 5, New: e})
			case e.Action == vpc.Allow:
				if t := freeBelow(e.RuleNumber, used); t > 0 {
					used[t] = true
					cp := *e
					cp.RuleNumber = t
					cpEntry := cp.NACLEntry()
					ops = append(ops, naclOp{Kind: opCreate, Step: 1, New: &cp, Temp: true, For: e},
						naclOp{Kind: opDelete, Step: 7, Old: &cpEntry, Temp: true, For: e})
				}
				ops = append(ops, naclOp{Kind: opReplace, Step: 4, Old: old, New: e})
			default:
				ops = append(ops, naclOp{Kind: opReplace, Step: 6, Old: old, New: e})
			}
		}
		if !kept {
			for i := range current {
				o := &current[i]
				if o.Default || taken[o.RuleNumber] {
					continue
				}
				op := naclOp{Kind: opDelete, Step: 7, Old: o}
				if o.Action == vpc.Deny {
					// A deny the proposal drops goes early (it only widens); one the proposal moves to another
					// number goes after its new entry exists, so that what it blocks is never let in meanwhile.
					if op.For = movedTo[matchOf(*o)]; op.For == nil {
						op.Step = 3
					}
				}
				ops = append(ops, op)
			}
		}
		slices.SortStableFunc(ops, func(a, b naclOp) int {
			if a.Step != b.Step {
				return cmp.Compare(a.Step, b.Step)
			}
			if a.Step == 4 {
				return cmp.Compare(b.RuleNumber(), a.RuleNumber())
			}
			return cmp.Compare(a.RuleNumber(), b.RuleNumber())
		})
		for _, o := range ops {
			switch o.Kind {
			case opCreate:
				size++
			case opDelete:
				size--
			}
			peak = max(peak, size)
		}
		c.Peak = max(c.Peak, peak)
		c.Ops = append(c.Ops, ops...)
	}
	slices.SortStableFunc(c.Ops, func(a, b naclOp) int { return cmp.Compare(a.Step, b.Step) })
	return c
}

// freeBelow returns the highest rule number below n that used does not hold, 0 when there is none.
func freeBelow(n int, used map[int]bool) int {
	for t := n - 1; t >= 1; t-- {
		if !used[t] {
			return t
		}
	}
	return 0
}

// naclMatch is what a NACL entry matches and does, without its rule number: a deny with the same naclMatch
// at another number is the same deny moved.
type naclMatch struct {
	egress             bool
	action             vpc.RuleAction
	proto              int16
	prefix             netip.Prefix
	from, to           uint16
	icmpType, icmpCode int16
}

func matchOf(e vpc.NACLEntry) naclMatch {
	m := naclMatch{egress: e.Egress, action: e.Action, proto: e.Proto, prefix: e.Prefix.Masked()}
	switch {
	case portsChecked(e.Proto):
		m.from, m.to = e.PortFrom, e.PortTo
	case icmpProto(e.Proto):
		m.icmpType, m.icmpCode = e.ICMPType, e.ICMPCode
	}
	return m
}

// withGaps returns c with Gaps filled (naclGaps against cur, the NACL c was computed from).
func (c naclChange) withGaps(cur *vpc.NACL) naclChange {
	c.Gaps = naclGaps(cur, &c)
	return c
}
