package replay

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/flowlens/flowlens/pkg/replay/internal/conntrack"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// State is the mutable side of one replay: the connection-tracking table, counters and rule hits. It is not
// safe for concurrent use.
type State struct {
	eng *Engine
	ct  conntrack.Table

	naclHits []ruleStat
	sgHits   []ruleStat

	records, noData, skipData, unknownInterface, unknownDirection int64
	judged, compared, agreed                                      int64
	modelAccept, modelReject, loggedAccept, loggedReject          int64
	unexplained, acceptRejected                                   int64
	icmpInferred                                                  int64
	byLayer                                                       [numLayers]int64
	byCause                                                       [numCauses]int64
	byInference                                                   [numInferences]int64
	bySGBasis                                                     [numBases]int64
	byRule                                                        map[uint64]int64 // see ruleKey
	late                                                          int64
}

type ruleStat struct {
	hits, packets, bytes int64
	first, last          int64
}

// ruleKey identifies a deciding rule in one word, so that counting a REJECT is one fast map update: layer in
// bits 56-63, cause in 48-55, and in the low 32 bits the NACL entry's rule-hit index (NACL layers) or the
// ENI index (SG layers, BPA, and NACL entries outside the index: Evaluate's fallback '*' deny, with
// ruleFallback set and ruleV6 for the IPv6 one).
func ruleKey(layer Layer, cause Cause, idx int32) uint64 {
	return uint64(layer)<<56 | uint64(cause)<<48 | uint64(uint32(idx))
}

const (
	ruleFallback = 1 << 47
	ruleV6       = 1 << 46
)

// NewState returns an empty replay state for e, with a tracking table of Config.MaxTracked entries.
func (e *Engine) NewState() *State { return e.newState(e.cfg.MaxTracked) }

func (e *Engine) newState(maxTracked int) *State {
	return &State{
		eng:      e,
		ct:       conntrack.New(maxTracked),
		naclHits: make([]ruleStat, len(e.naclEntries)),
		sgHits:   make([]ruleStat, len(e.sgRules)),
		byRule:   map[uint64]int64{},
	}
}

// merge adds o's counters, rule hits and tracking statistics to st (Reader shards; o is not modified).
func (st *State) merge(o *State) {
	for i := range o.naclHits {
		st.naclHits[i].merge(&o.naclHits[i])
	}
	for i := range o.sgHits {
		st.sgHits[i].merge(&o.sgHits[i])
	}
	st.records += o.records
	st.noData += o.noData
	st.skipData += o.skipData
	st.unknownInterface += o.unknownInterface
	st.unknownDirection += o.unknownDirection
	st.judged += o.judged
	st.compared += o.compared
	st.agreed += o.agreed
	st.modelAccept += o.modelAccept
	st.modelReject += o.modelReject
	st.loggedAccept += o.loggedAccept
	st.loggedReject += o.loggedReject
	st.unexplained += o.unexplained
	st.icmpInferred += o.icmpInferred
	st.acceptRejected += o.acceptRejected
	for i := range o.byLayer {
		st.byLayer[i] += o.byLayer[i]
	}
	for i := range o.byCause {
		st.byCause[i] += o.byCause[i]
	}
	for i := range o.byInference {
		st.byInference[i] += o.byInference[i]
	}
	for i := range o.bySGBasis {
		st.bySGBasis[i] += o.bySGBasis[i]
	}
	for k, n := range o.byRule {
		st.byRule[k] += n
	}
	st.late += o.late
	st.ct.Stats.Add(&o.ct.Stats)
}

func (s *ruleStat) merge(o *ruleStat) {
	if o.hits == 0 {
		return
	}
	if s.hits == 0 || o.first < s.first {
		s.first = o.first
	}
	if o.last > s.last {
		s.last = o.last
	}
	s.hits += o.hits
	s.packets += o.packets
	s.bytes += o.bytes
}

func (s *ruleStat) add(c *compactFlow) {
	if s.hits == 0 || c.start < s.first {
		s.first = c.start
	}
	if c.end > s.last {
		s.last = c.end
	}
	s.hits++
	s.packets += c.packets
	s.bytes += c.bytes
}

func (st *State) hitNACL(i int32, c *compactFlow) {
	if i >= 0 {
		st.naclHits[i].add(c)
	}
}

func (st *State) hitSG(i int32, c *compactFlow) {
	if i >= 0 {
		st.sgHits[i].add(c)
	}
}

func (st *State) count(v *Verdict) {
	st.judged++
	for i := range v.Path.Steps() {
		if v.Path.steps[i].ICMPInferred {
			st.icmpInferred++
			break
		}
	}
	st.byInference[v.Infer]++
	if sg := v.Path.sgStep(); sg != nil {
		st.bySGBasis[sg.Basis]++
	}
	switch v.Logged {
	case Accept:
		st.loggedAccept++
	case Reject:
		st.loggedReject++
	}
	if ok, cmpOK := v.Agrees(); cmpOK {
		st.compared++
		if ok {
			st.agreed++
		} else if v.ModelAction == Reject {
			st.acceptRejected++
		}
	}
	if v.Cause != CauseNone {
		st.byCause[v.Cause]++
	}
	switch v.ModelAction {
	case Accept:
		st.modelAccept++
		if v.Cause == CauseUnexplained {
			st.unexplained++
		}
	case Reject:
		st.modelReject++
		st.byLayer[v.Layer]++
		k := ruleKey(v.Layer, v.Cause, v.eni)
		if s := v.Path.decider(); s.Basis == BasisEntry {
			if s.index >= 0 {
				k = ruleKey(v.Layer, v.Cause, s.index)
			} else {
				k |= ruleFallback
				if s.Entry.RuleNumber == vpc.DefaultRuleV6 {
					k |= ruleV6
				}
			}
		}
		st.byRule[k]++
	}
}

// Summary is the outcome of one replay, JSON-marshalable.
type Summary struct {
	Records          int64 `json:"records"`           // rows seen
	Judged           int64 `json:"judged"`            // rows with a modeled action
	NotJudged        int64 `json:"not_judged"`        // NODATA + SKIPDATA, passed through
	NoData           int64 `json:"nodata"`            //
	SkipData         int64 `json:"skipdata"`          //
	UnknownInterface int64 `json:"unknown_interface"` // interface-id (or addresses) not in the model
	// UnknownInterfaces is the number of distinct interface ids among them (Reader only); UnknownInterfaceIDs
	// the first of them, sorted, at most Config.MaxExamples.
	UnknownInterfaces   int      `json:"unknown_interfaces"`
	UnknownInterfaceIDs []string `json:"unknown_interface_ids,omitempty"`
	UnknownDirection    int64    `json:"unknown_direction"` // no flow-direction and no address of the ENI
	BadAddresses        int64    `json:"bad_addresses"`     // address fields that did not parse (read as NULL)

	Compared  int64   `json:"compared"`  // judged rows with a logged action
	Agreed    int64   `json:"agreed"`    // model_action = action
	Agreement float64 `json:"agreement"` // Agreed / Compared (0 when nothing compared)

	ModelAccept  int64 `json:"model_accept"`
	ModelReject  int64 `json:"model_reject"`
	LoggedAccept int64 `json:"logged_accept"`
	LoggedReject int64 `json:"logged_reject"`

	// Unexplained: logged REJECT that the model accepts. AcceptRejected: logged ACCEPT that the model rejects.
	Unexplained         int64    `json:"unexplained"`
	UnexplainedExamples []string `json:"unexplained_examples,omitempty"` // source_file:source_line
	AcceptRejected      int64    `json:"accept_rejected"`
	AcceptRejectedEx    []string `json:"accept_rejected_examples,omitempty"`
	// ICMPTypeInferred: judged ICMP records whose verdict weighed a rule or entry restricted to an ICMP type,
	// and so rests on the type flowlens inferred from request or reply (flow logs carry none).
	ICMPTypeInferred int64 `json:"icmp_type_inferred"`

	RejectsByLayer map[string]int64 `json:"rejects_by_layer"`
	RejectsByCause map[string]int64 `json:"rejects_by_cause"` // includes "unexplained"
	RejectsByRule  []RuleCount      `json:"rejects_by_rule"`  // descending count

	Inference map[string]int64 `json:"inference"` // how request/reply was decided
	SGPass    map[string]int64 `json:"sg_pass"`   // rule / conntrack / conntrack-assumed / no-security-group / denied

	Late               int64 `json:"late"`                // records older than what was already judged (outside the reorder window)
	ForcedReleases     int64 `json:"forced_releases"`     // records judged early because the reorder buffer was full
	ConntrackEvictions int64 `json:"conntrack_evictions"` // live connections evicted at the table bound
	ConntrackExpired   int64 `json:"conntrack_expired"`   // idle-timed-out connections removed
	ConntrackUntracked int64 `json:"conntrack_untracked"` // admitted flows not tracked (0.0.0.0/0 both ways)
	ConntrackPeak      int   `json:"conntrack_peak"`
	ConntrackMax       int   `json:"conntrack_max"`
}

// sgPassName is the Summary.SGPass key of a security-group step's basis.
func sgPassName(b Basis) string {
	switch b {
	case BasisNoRule:
		return "denied"
	case BasisRule:
		return "rule"
	}
	return b.String()
}

// RuleCount is the number of modeled REJECTs decided by one rule.
type RuleCount struct {
	Layer    string `json:"layer"`
	Resource string `json:"resource"`
	Rule     string `json:"rule"`
	Cause    string `json:"cause"`
	Count    int64  `json:"count"`
}

// Summary returns the counters so far (without record examples; the Reader adds them).
func (st *State) Summary() Summary {
	e := st.eng
	s := Summary{
		Records: st.records, Judged: st.judged, NoData: st.noData, SkipData: st.skipData,
		NotJudged: st.noData + st.skipData, UnknownInterface: st.unknownInterface, UnknownDirection: st.unknownDirection,
		Compared: st.compared, Agreed: st.agreed,
		ModelAccept: st.modelAccept, ModelReject: st.modelReject, LoggedAccept: st.loggedAccept, LoggedReject: st.loggedReject,
		Unexplained: st.unexplained, AcceptRejected: st.acceptRejected, ICMPTypeInferred: st.icmpInferred,
		RejectsByLayer: map[string]int64{}, RejectsByCause: map[string]int64{},
		Inference: map[string]int64{}, SGPass: map[string]int64{},
		Late:               st.late,
		ConntrackEvictions: st.ct.Stats.Evicted, ConntrackExpired: st.ct.Stats.Expired,
		ConntrackUntracked: st.ct.Stats.Untracked, ConntrackPeak: st.ct.Stats.Peak, ConntrackMax: st.ct.Stats.Max,
	}
	if s.Compared > 0 {
		s.Agreement = float64(s.Agreed) / float64(s.Compared)
	}
	for l, n := range st.byLayer {
		if n > 0 {
			s.RejectsByLayer[Layer(l).String()] = n
		}
	}
	for c, n := range st.byCause {
		if n > 0 && Cause(c) != CauseNotJudged && Cause(c) != CauseUnknownInterface && Cause(c) != CauseUnknownDirection {
			s.RejectsByCause[Cause(c).String()] = n
		}
	}
	for i, n := range st.byInference {
		if n > 0 {
			s.Inference[Inference(i).String()] = n
		}
	}
	for b, n := range st.bySGBasis {
		if n > 0 {
			s.SGPass[sgPassName(Basis(b))] = n
		}
	}
	for k, n := range st.byRule {
		layer, idx := Layer(k>>56), int32(uint32(k))
		rc := RuleCount{Layer: layer.String(), Cause: Cause(k >> 48).String(), Count: n}
		switch layer {
		case LayerNACLInbound, LayerNACLOutbound:
			if k&ruleFallback == 0 {
				ref := e.naclEntries[idx]
				rc.Resource, rc.Rule = ref.nacl.ID, ref.entry.Rule()
				break
			}
			if nacl := e.enis[idx].nacl; nacl != nil {
				rc.Resource = nacl.ID
			}
			rc.Rule = strconv.Itoa(vpc.DefaultRuleV4)
			if k&ruleV6 != 0 {
				rc.Rule = strconv.Itoa(vpc.DefaultRuleV6)
			}
		case LayerSGInbound, LayerSGOutbound:
			rc.Resource, rc.Rule = e.enis[idx].groups, "implicit-deny"
		case LayerBPA:
			rc.Resource = e.enis[idx].eni.VpcID
		}
		s.RejectsByRule = append(s.RejectsByRule, rc)
	}
	// Merge rows that render the same (different ENIs with the same groups).
	slices.SortFunc(s.RejectsByRule, func(a, b RuleCount) int {
		return cmp.Or(cmp.Compare(a.Layer, b.Layer), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Cause, b.Cause))
	})
	merged := s.RejectsByRule[:0]
	for _, rc := range s.RejectsByRule {
		if n := len(merged); n > 0 && merged[n-1].Layer == rc.Layer && merged[n-1].Resource == rc.Resource && merged[n-1].Rule == rc.Rule && merged[n-1].Cause == rc.Cause {
			merged[n-1].Count += rc.Count
			continue
		}
		merged = append(merged, rc)
	}
	s.RejectsByRule = merged
	slices.SortStableFunc(s.RejectsByRule, func(a, b RuleCount) int { return cmp.Compare(b.Count, a.Count) })
	return s
}

// RuleHit is one row of the rule_hits table: one NACL entry or SG rule of the topology, with the records
// whose packet the model says it decided or allowed (see Engine.creditRules): for a NACL entry, the records it
// decided; for a security-group rule, every record it allows among those the groups judged by their rules
// (not the packets that connection tracking let through), whether or not another rule of the union matched
// first. A rule with no hits allowed nothing in the window. Rules with no hits are included.
// FirstSeen/LastSeen are Unix seconds, 0 with no hits.
type RuleHit struct {
	RuleType   string `json:"rule_type"`   // "nacl" | "sg"
	ResourceID string `json:"resource_id"` // acl-... | sg-...
	RuleID     string `json:"rule_id"`     // NACL rule number text | sgr-... or synthetic id
	Direction  string `json:"direction"`   // "ingress" | "egress"
	Action     string `json:"action"`      // "allow" | "deny"
	Rule       string `json:"rule"`        // readable rule
	Hits       int64  `json:"hits"`
	Packets    int64  `json:"packets"`
	Bytes      int64  `json:"bytes"`
	FirstSeen  int64  `json:"first_seen"`
	LastSeen   int64  `json:"last_seen"`
	ShadowedBy int    `json:"shadowed_by"` // rule number of an earlier NACL entry covering this one, 0 none
}

// RuleHits returns one row per NACL entry and per SG rule of the topology (NACLs and groups in id order,
// entries and rules in model order).
func (st *State) RuleHits() []RuleHit {
	e := st.eng
	out := make([]RuleHit, 0, len(e.naclEntries)+len(e.sgRules))
	for i, ref := range e.naclEntries {
		en := ref.entry
		h := RuleHit{
			RuleType: "nacl", ResourceID: ref.nacl.ID, RuleID: en.Rule(),
			Direction: dirText(en.Egress), Action: en.Action.String(), Rule: naclDisplay(en),
			ShadowedBy: en.ShadowedBy,
		}
		st.naclHits[i].fill(&h)
		out = append(out, h)
	}
	for i, r := range e.sgRules {
		h := RuleHit{
			RuleType: "sg", ResourceID: r.GroupID, RuleID: r.ID,
			Direction: dirText(r.Egress), Action: vpc.Allow.String(), Rule: r.Display,
		}
		st.sgHits[i].fill(&h)
		out = append(out, h)
	}
	return out
}

func (s *ruleStat) fill(h *RuleHit) {
	h.Hits, h.Packets, h.Bytes = s.hits, s.packets, s.bytes
	if s.hits > 0 {
		h.FirstSeen, h.LastSeen = s.first, s.last
	}
}

func dirText(egress bool) string {
	if egress {
		return vpc.Egress.String()
	}
	return vpc.Ingress.String()
}

// naclDisplay renders an entry like the console: "allow tcp 22 from 10.0.0.0/8", "deny all to ::/0".
func naclDisplay(en *vpc.NACLEntry) string {
	b := []byte(en.Action.String())
	b = append(b, ' ')
	switch en.Proto {
	case -1:
		b = append(b, "all"...)
	case 6, 17:
		if en.Proto == 6 {
			b = append(b, "tcp "...)
		} else {
			b = append(b, "udp "...)
		}
		b = strconv.AppendUint(b, uint64(en.PortFrom), 10)
		if en.PortTo != en.PortFrom {
			b = append(b, '-')
			b = strconv.AppendUint(b, uint64(en.PortTo), 10)
		}
	case 1, 58:
		if en.Proto == 1 {
			b = append(b, "icmp "...)
		} else {
			b = append(b, "icmpv6 "...)
		}
		b = strconv.AppendInt(b, int64(en.ICMPType), 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(en.ICMPCode), 10)
	default:
		b = append(b, "proto "...)
		b = strconv.AppendInt(b, int64(en.Proto), 10)
	}
	if en.Egress {
		b = append(b, " to "...)
	} else {
		b = append(b, " from "...)
	}
	b = append(b, en.Prefix.String()...)
	return string(b)
}
