package replay

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Action is a logged or modeled action. ActionNone is "absent" (NODATA/SKIPDATA, NULL, or not judged).
type Action uint8

const (
	ActionNone Action = iota
	Accept
	Reject
)

func (a Action) String() string {
	switch a {
	case Accept:
		return "ACCEPT"
	case Reject:
		return "REJECT"
	}
	return ""
}

// LogStatus is the record's log-status.
type LogStatus uint8

const (
	StatusOK LogStatus = iota // also used when the column is absent
	StatusNoData
	StatusSkipData
)

func (s LogStatus) String() string {
	switch s {
	case StatusNoData:
		return "NODATA"
	case StatusSkipData:
		return "SKIPDATA"
	}
	return "OK"
}

// Layer is the modeled layer that decided a REJECT. LayerNone: the record was accepted or not judged.
type Layer uint8

const (
	LayerNone Layer = iota
	LayerNACLInbound
	LayerNACLOutbound
	LayerSGInbound
	LayerSGOutbound
	LayerBPA
	numLayers
)

var layerNames = [numLayers]string{"", "nacl-inbound", "nacl-outbound", "sg-inbound", "sg-outbound", "bpa"}

func (l Layer) String() string {
	if l < numLayers {
		return layerNames[l]
	}
	return "layer(?)"
}

// LayerNames returns the names of the layers a REJECT can be attributed to (verdict_layer's values).
func LayerNames() []string { return append([]string(nil), layerNames[1:]...) }

// Layers is a set of layers (bit 1<<Layer).
type Layers uint8

// Has reports whether l is in the set.
func (s Layers) Has(l Layer) bool { return s&(1<<l) != 0 }

func (s Layers) String() string { return layersText[s&(1<<numLayers-1)] }

// layersText holds the comma-separated text of every set, so that writing verdict_also never allocates.
var layersText = func() (t [1 << numLayers]string) {
	for s := range t {
		var parts []string
		for l := LayerNACLInbound; l < numLayers; l++ {
			if Layers(s).Has(l) {
				parts = append(parts, l.String())
			}
		}
		t[s] = strings.Join(parts, ",")
	}
	return t
}()

// Cause is a short code saying why a record got its verdict. The causes of a modeled REJECT are defined by
// what the user must change, alike for both directions and both layers (docs/semantics.md, "Causes").
type Cause uint8

const (
	CauseNone              Cause = iota // accepted by the model and by the log
	CauseNACLExplicitDeny               // a numbered NACL deny entry matched: change that entry
	CauseNACLDefaultDeny                // a request reached the NACL's '*' entry: add an allow entry for the service
	CauseNACLMissingReturn              // a reply reached the NACL's '*' entry: add an allow entry for the return traffic (ephemeral ports)
	CauseSGNoMatchingRule               // no rule of the groups in the direction allows the protocol and port: add a rule
	CauseEgressRestricted               // outbound rules allow the protocol and port, but not to this destination: widen a rule's peer
	CauseConntrackExpired               // a reply whose tracked connection had idled out, and no rule allows it
	CauseBPA                            // reject-reason BPA: VPC Block Public Access
	CauseUnexplained                    // logged REJECT that the model accepts (drift, missing topology, closed connection)
	CauseUnknownInterface               // interface-id not in the model (or no address matches a known ENI)
	CauseUnknownDirection               // neither address belongs to the ENI and flow-direction is absent
	CauseNotJudged                      // NODATA / SKIPDATA: passed through unjudged
	CauseIngressRestricted              // inbound rules allow the protocol and port, but not from this source: widen a rule's peer
	numCauses
)

var causeNames = [numCauses]string{
	"", "nacl-explicit-deny", "nacl-default-deny", "nacl-missing-return", "sg-no-matching-rule",
	"egress-restricted", "conntrack-expired", "block-public-access", "unexplained", "unknown-interface",
	"unknown-direction", "not-judged", "ingress-restricted",
}

// CauseNames returns every verdict_cause value.
func CauseNames() []string { return append([]string(nil), causeNames[1:]...) }

func (c Cause) String() string {
	if c < numCauses {
		return causeNames[c]
	}
	return "cause(?)"
}

// Role says whether a record is the request or the reply side of its connection.
type Role uint8

const (
	RoleUnknown Role = iota
	RoleRequest
	RoleReply
)

func (r Role) String() string {
	switch r {
	case RoleRequest:
		return "request"
	case RoleReply:
		return "reply"
	}
	return ""
}

// Inference names how the engine decided the record's Role.
type Inference uint8

const (
	InferNone      Inference = iota
	InferConntrack           // the tuple (or its reverse) was in the tracking table
	InferTCPFlags            // SYN (request) or SYN-ACK (reply) in tcp-flags
	InferPorts               // service port (<1024, or <32768 against >=32768) versus ephemeral port
	InferOrder               // nothing else: the first record of a conversation is the request
	numInferences
)

var inferenceNames = [numInferences]string{"", "conntrack", "tcp-flags", "ports", "order"}

func (i Inference) String() string {
	if i < numInferences {
		return inferenceNames[i]
	}
	return "inference(?)"
}

// Flow is one flow-log record, typed. The zero netip.Addr means absent ('-').
type Flow struct {
	Interface        string // interface-id; "" when absent
	Src, Dst         netip.Addr
	PktSrc, PktDst   netip.Addr // pkt-srcaddr / pkt-dstaddr; zero when absent
	SrcPort, DstPort uint16
	Proto            uint8
	Packets, Bytes   int64
	Start, End       int64 // Unix seconds
	Action           Action
	Status           LogStatus
	TCPFlags         int16         // -1 absent
	Direction        vpc.Direction // from flow-direction; 0 absent
	BPA              bool          // reject-reason = BPA
}

// Verdict is the engine's judgment of one record: the walk of its packet through the layers (Path) and what
// is read from it. Pointers point into the read-only model.
type Verdict struct {
	ENI         *vpc.ENI      // nil: unknown interface
	eni         int32         // engine index of ENI (-1 none)
	Dir         vpc.Direction // 0: undecided
	Path        Path          // the layers the packet met, in packet order (no steps when not judged)
	ModelAction Action        // the model's action, read from Path; ActionNone = not judged
	Logged      Action        // the record's action
	Layer       Layer         // the first layer that blocks (a modeled REJECT), else LayerNone
	Also        Layers        // the later layers that would also have blocked
	Cause       Cause
	Role        Role
	Infer       Inference
}

// Judged reports whether the record got a modeled action.
func (v *Verdict) Judged() bool { return v.ModelAction != ActionNone }

// Agrees reports whether the model and the log agree; ok is false when either side is absent.
func (v *Verdict) Agrees() (agrees, ok bool) {
	if v.ModelAction == ActionNone || v.Logged == ActionNone {
		return false, false
	}
	return v.ModelAction == v.Logged, true
}

// Rule is the verdict_rule text: the deciding NACL entry's number, or "implicit-deny" for a security group.
func (v *Verdict) Rule() string {
	s := v.Path.decider()
	switch {
	case s == nil:
		return ""
	case s.Basis == BasisEntry:
		return ruleText(s.Entry)
	case s.Basis == BasisNoRule:
		return BasisNoRule.String()
	}
	return ""
}

// ruleNumberText caches the text of every NACL rule number, so that writing rule columns does not allocate.
var ruleNumberText = func() (t [vpc.DefaultRuleV6 + 1]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func ruleText(en *vpc.NACLEntry) string {
	if en.RuleNumber >= 0 && en.RuleNumber < len(ruleNumberText) {
		return ruleNumberText[en.RuleNumber]
	}
	return en.Rule()
}
