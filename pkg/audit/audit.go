// Package audit compares two replays of one recorded history, the current policy's (the baseline) and a
// candidate policy's, and reports what the candidate would break and what it would newly allow, grouped by
// who talks to whom on which service.
//
// The Aggregator reads the records of a chained replay (each record carries flowschema.ColVerdictID from the
// baseline's replay and CandidateIDColumn from the candidate's) and classifies each by its two verdicts and the
// logged action (Class). Both replays admit connections by their own verdict (replay.AdmitModel), so that the
// two differ only by policy: comparing the candidate against the stored analyze verdicts, which admit by the
// log, would also report every place where admission by the log and by a model differ.
//
//   - would break: accepted by the log and by the baseline, rejected by the candidate; and the replies of such
//     connections at the same interface, which the candidate's replay lets through only as replies whose
//     request it never admitted ("conntrack-assumed" where the baseline tracked the connection): without the
//     request the reply would not exist. Replies are grouped with their request (OrphanedReplies counts them).
//   - newly allowed: rejected by the log and by the baseline, accepted by the candidate.
//   - disputed: the log and the baseline disagree; such records are in neither list, since whether the
//     candidate changes anything for them rests on a verdict the log contradicts. A record without a logged
//     action takes the baseline's.
//
// Replies are tied to requests only within one interface: a request the candidate rejects at the server's
// interface still counts as allowed at the client's (where it left), as flow logs record each interface alone.
package audit

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// CandidateIDColumn is the candidate replay's verdict id column (replay.IDColumn).
const CandidateIDColumn = "candidate_verdict_id"

// MaxExamples is how many example records (source_file:source_line) a group keeps: the first in input order.
const MaxExamples = 3

// MaxExternalPeers is how many external networks (/24, /64) may be listed one by one for one service of one
// peer; beyond it they become one "external IPv4" (or IPv6) group that says how many networks it covers.
const MaxExternalPeers = 5

// MaxRecords bounds the rows of audit_records (the records of the groups, for SQL); the report says when it
// was reached.
const MaxRecords = 1_000_000

// Class is what the candidate changes for a record.
type Class uint8

const (
	NotJudged     Class = iota // NODATA/SKIPDATA, unknown interface or direction
	StillAllowed               // accepted by the log and the baseline, and by the candidate
	WouldBreak                 // accepted by the log and the baseline, rejected by the candidate (or a reply of such a connection)
	StillRejected              // rejected by the log and the baseline, and by the candidate
	NewlyAllowed               // rejected by the log and the baseline, accepted by the candidate
	Disputed                   // the log and the baseline disagree
	numClasses
)

var classNames = [numClasses]string{"not-judged", "still-allowed", "would-break", "still-rejected", "newly-allowed", "disputed"}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Verdict is what audit reads of one row of a replay's verdict table.
type Verdict struct {
	Action string // model_action: ACCEPT, REJECT, "" when not judged
	Agrees string // model_agrees: "true", "false", "" when no logged action
	Role   string // flow_role: request, reply
	SGRule string // sg_rule: a rule id, conntrack, conntrack-assumed, no-security-group
	// The deciding layer of a REJECT: verdict_layer, verdict_rule, verdict_resource, verdict_cause.
	Layer, Rule, Resource, Cause string
}

// logged is the action the log gave the record ("" when none), read from the verdict's agreement.
func (v *Verdict) logged() string {
	switch v.Agrees {
	case "true":
		return v.Action
	case "false":
		if v.Action == flowschema.ActionAccept {
			return flowschema.ActionReject
		}
		return flowschema.ActionAccept
	}
	return ""
}

// ReadVerdicts reads a verdict table (replay.Reader.Verdicts; row i is verdict id i).
func ReadVerdicts(rec arrow.Record) []Verdict {
	sc := rec.Schema()
	col := func(name string) arrow.Array {
		if idx := sc.FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	get := func(a arrow.Array, i int) string {
		if a == nil || a.IsNull(i) {
			return ""
		}
		return strings.Clone(a.ValueStr(i)) // kept after rec is released
	}
	action, agrees, role, sg := col(flowschema.ColModelAction), col(flowschema.ColModelAgrees), col(flowschema.ColFlowRole), col(flowschema.ColSGRule)
	layer, rule, res, cause := col(flowschema.ColVerdictLayer), col(flowschema.ColVerdictRule), col(flowschema.ColVerdictResource), col(flowschema.ColVerdictCause)
	out := make([]Verdict, rec.NumRows())
	for i := range out {
		out[i] = Verdict{Action: get(action, i), Agrees: get(agrees, i), Role: get(role, i), SGRule: get(sg, i),
			Layer: get(layer, i), Rule: get(rule, i), Resource: get(res, i), Cause: get(cause, i)}
	}
	return out
}

// classify says what the candidate changes for a record with baseline verdict b and candidate verdict c, and
// whether a would-break record is a reply that only an assumed request lets through.
func classify(b, c *Verdict) (Class, bool) {
	if b.Action == "" || c.Action == "" {
		return NotJudged, false
	}
	logged := b.logged()
	if logged == "" {
		logged = b.Action
	}
	switch {
	case logged != b.Action:
		return Disputed, false
	case b.Action == flowschema.ActionAccept && c.Action == flowschema.ActionReject:
		return WouldBreak, false
	case b.Action == flowschema.ActionAccept && b.SGRule == sgTracked && c.SGRule == sgAssumed:
		return WouldBreak, true
	case b.Action == flowschema.ActionAccept:
		return StillAllowed, false
	case c.Action == flowschema.ActionAccept:
		return NewlyAllowed, false
	}
	return StillRejected, false
}

// The sg_rule values of a packet that connection tracking let through (replay's basis names).
const (
	sgTracked = "conntrack"
	sgAssumed = "conntrack-assumed"
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
	Records  int64  `json:"records"`
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

// Aggregator classifies the records of a chained replay and groups the changed ones. Not safe for concurrent
// use.
type Aggregator struct {
	model              *vpc.Model // the candidate: interfaces and groups name identities
	baseTab, candTab   func() arrow.Record
	base, cand         []Verdict
	pairs              map[uint64]int
	pairList           []PairCount
	groups             map[groupKey]int
	accs               []*groupAcc
	records            []recordRef
	recordsTruncated   bool
	idents             map[netip.Addr]Identity
	files              map[string]string
	cols               colIdx
	schema             *arrow.Schema
	pending            []pendingRec
	npending           int
	seq                int64 // rows added so far
	first, last        int64
	classRecs, classBy [numClasses]int64
}

// NewAggregator returns an Aggregator that names identities from candidate and looks verdict ids up in the
// two replays' verdict tables (replay.Reader.Verdicts), which it reads again when it meets an id they did not
// have yet.
func NewAggregator(candidate *vpc.Model, baseVerdicts, candVerdicts func() arrow.Record) *Aggregator {
	return &Aggregator{model: candidate, baseTab: baseVerdicts, candTab: candVerdicts, pairs: map[uint64]int{},
		groups: map[groupKey]int{}, idents: map[netip.Addr]Identity{}, files: map[string]string{}}
}

type groupKey struct {
	class    Class
	src, dst Identity
	proto    int16
	port     int32 // -1: the protocol has no ports
}

type recordRef struct {
	file string
	line int64
	acc  int32
}

type groupAcc struct {
	key                              groupKey
	records, packets, bytes, orphans int64
	first, last                      int64
	examples                         []example
	deciders                         map[Decider]int64
	networks                         int
}

type example struct {
	seq  int64 // position in the input: the examples are the first MaxExamples
	file string
	line int64
}

func (g *groupAcc) addExample(e example) {
	if len(g.examples) == MaxExamples && e.seq > g.examples[MaxExamples-1].seq {
		return
	}
	g.examples = append(g.examples, e)
	slices.SortFunc(g.examples, func(x, y example) int { return cmp.Compare(x.seq, y.seq) })
	g.examples = g.examples[:min(len(g.examples), MaxExamples)]
}

// colIdx holds the record columns the Aggregator reads (-1: absent).
type colIdx struct {
	iface, src, dst, pktSrc, pktDst, srcPort, dstPort, proto, packets, bytes, start, end, file, line, vid, cvid int
}

func (a *Aggregator) bind(sc *arrow.Schema) error {
	idx := func(name string) int {
		if i := sc.FieldIndices(name); len(i) > 0 {
			return i[0]
		}
		return -1
	}
	c := colIdx{
		iface: idx(flowschema.ColInterfaceID), src: idx(flowschema.ColSrcAddr), dst: idx(flowschema.ColDstAddr),
		pktSrc: idx(flowschema.ColPktSrcAddr), pktDst: idx(flowschema.ColPktDstAddr), srcPort: idx(flowschema.ColSrcPort),
		dstPort: idx(flowschema.ColDstPort), proto: idx(flowschema.ColProtocol), packets: idx(flowschema.ColPackets),
		bytes: idx(flowschema.ColBytes), start: idx(flowschema.ColStart), end: idx(flowschema.ColEnd),
		file: idx(flowschema.ColSourceFile), line: idx(flowschema.ColSourceLine),
		vid: idx(flowschema.ColVerdictID), cvid: idx(CandidateIDColumn),
	}
	if c.vid < 0 || c.cvid < 0 {
		return fmt.Errorf("audit: the records lack %s or %s (two chained replays)", flowschema.ColVerdictID, CandidateIDColumn)
	}
	for _, i := range []int{c.vid, c.cvid} {
		if sc.Field(i).Type.ID() != arrow.UINT32 {
			return fmt.Errorf("audit: column %s has type %s, want uint32", sc.Field(i).Name, sc.Field(i).Type)
		}
	}
	a.cols, a.schema = c, sc
	return nil
}

// pendingRows is how many rows whose verdicts are not yet in the Aggregator's copy of the verdict tables it
// holds before reading the tables again: reading them costs about as much as the verdicts they hold (their
// steps are rendered as JSON), and in the first records nearly every row brings a new verdict.
const pendingRows = 1 << 16

// Add classifies the rows of one record of the chained replay. It may keep a reference on rec (released by
// Result) until the verdicts of its rows are read.
func (a *Aggregator) Add(rec arrow.Record) error {
	if a.schema == nil || !a.schema.Equal(rec.Schema()) {
		if err := a.flush(); err != nil {
			return err
		}
		if err := a.bind(rec.Schema()); err != nil {
			return err
		}
	}
	c := &a.cols
	vids := rec.Column(c.vid).(*array.Uint32).Uint32Values()
	cvids := rec.Column(c.cvid).(*array.Uint32).Uint32Values()
	held := false
	for i := range vids {
		if int(vids[i]) >= len(a.base) || int(cvids[i]) >= len(a.cand) {
			if !held {
				rec.Retain()
				a.pending = append(a.pending, pendingRec{rec: rec, seq: a.seq})
				held = true
			}
			p := &a.pending[len(a.pending)-1]
			p.rows = append(p.rows, int32(i))
			a.npending++
			continue
		}
		a.addRow(rec, i, a.seq+int64(i))
	}
	a.seq += int64(len(vids))
	if a.npending >= pendingRows {
		return a.flush()
	}
	return nil
}

// pendingRec is a record some of whose rows wait for their verdicts.
type pendingRec struct {
	rec  arrow.Record
	seq  int64 // of row 0
	rows []int32
}

// flush reads the verdict tables again and adds the pending rows.
func (a *Aggregator) flush() error {
	if len(a.pending) == 0 {
		return nil
	}
	a.base, a.cand = readTable(a.baseTab), readTable(a.candTab)
	defer func() {
		for _, p := range a.pending {
			p.rec.Release()
		}
		a.pending, a.npending = a.pending[:0], 0
	}()
	for _, p := range a.pending {
		vids := p.rec.Column(a.cols.vid).(*array.Uint32).Uint32Values()
		cvids := p.rec.Column(a.cols.cvid).(*array.Uint32).Uint32Values()
		for _, i := range p.rows {
			if int(vids[i]) >= len(a.base) || int(cvids[i]) >= len(a.cand) {
				return fmt.Errorf("audit: verdict id %d/%d not in the verdict tables (%d/%d rows)", vids[i], cvids[i], len(a.base), len(a.cand))
			}
			a.addRow(p.rec, int(i), p.seq+int64(i))
		}
	}
	return nil
}

// addRow classifies row i of rec, whose verdicts are known; seq is its position in the input.
func (a *Aggregator) addRow(rec arrow.Record, i int, seq int64) {
	c := &a.cols
	vid := rec.Column(c.vid).(*array.Uint32).Value(i)
	cvid := rec.Column(c.cvid).(*array.Uint32).Value(i)
	k := uint64(vid)<<32 | uint64(cvid)
	p, ok := a.pairs[k]
	if !ok {
		b, cv := a.base[vid], a.cand[cvid]
		class, orphan := classify(&b, &cv)
		a.pairList = append(a.pairList, PairCount{BaselineID: vid, CandidateID: cvid, Baseline: b, Candidate: cv, Class: class, Orphaned: orphan})
		p = len(a.pairList) - 1
		a.pairs[k] = p
	}
	pc := &a.pairList[p]
	np, _ := intsOf(rec, c.packets).get(i)
	nb, _ := intsOf(rec, c.bytes).get(i)
	pc.Records++
	pc.Packets += np
	pc.Bytes += nb
	a.classRecs[pc.Class]++
	a.classBy[pc.Class] += nb
	if pc.Class == WouldBreak || pc.Class == NewlyAllowed {
		a.addChanged(rec, i, seq, pc, np, nb)
	}
}

func readTable(f func() arrow.Record) []Verdict {
	rec := f()
	defer rec.Release()
	return ReadVerdicts(rec)
}

// addChanged adds row i, a would-break or newly-allowed record, to its group.
func (a *Aggregator) addChanged(rec arrow.Record, i int, seq int64, pc *PairCount, packets, bytes int64) {
	c := &a.cols
	str := func(col int) string {
		if col < 0 {
			return ""
		}
		arr := rec.Column(col)
		if arr.IsNull(i) {
			return ""
		}
		return arr.ValueStr(i)
	}
	src, dst := str(c.pktSrc), str(c.pktDst)
	if src == "" {
		src = str(c.src)
	}
	if dst == "" {
		dst = str(c.dst)
	}
	proto, _ := intsOf(rec, c.proto).get(i)
	sport, _ := intsOf(rec, c.srcPort).get(i)
	dport, _ := intsOf(rec, c.dstPort).get(i)
	start, _ := intsOf(rec, c.start).get(i)
	end, _ := intsOf(rec, c.end).get(i)
	// The group is the request's direction: a reply's destination is the client.
	if pc.Baseline.Role == "reply" {
		src, dst, sport, dport = dst, src, dport, sport
	}
	port := int32(dport)
	if proto != vpc.ProtoTCP && proto != vpc.ProtoUDP {
		port = -1
	}
	key := groupKey{class: pc.Class, src: a.identity(src), dst: a.identity(dst), proto: int16(proto), port: port}
	gi, ok := a.groups[key]
	if !ok {
		gi = len(a.accs)
		a.groups[key] = gi
		a.accs = append(a.accs, &groupAcc{key: key, first: start, last: end, deciders: map[Decider]int64{}, networks: 1})
	}
	g := a.accs[gi]
	g.records++
	g.packets += packets
	g.bytes += bytes
	g.first, g.last = min(g.first, start), max(g.last, end)
	file := a.internFile(str(c.file))
	line, _ := intsOf(rec, c.line).get(i)
	g.addExample(example{seq, file, line})
	if pc.Orphaned {
		g.orphans++
	} else {
		v := &pc.Candidate
		if pc.Class == NewlyAllowed {
			v = &pc.Baseline
		}
		g.deciders[Decider{Layer: v.Layer, Rule: v.Rule, Resource: v.Resource, Cause: v.Cause, Role: pc.Baseline.Role}]++
	}
	if len(a.records) < MaxRecords {
		a.records = append(a.records, recordRef{file: file, line: line, acc: int32(gi)})
	} else {
		a.recordsTruncated = true
	}
}

// internFile returns s as a string of its own (s may point into a record's buffers), one per file.
func (a *Aggregator) internFile(s string) string {
	if f, ok := a.files[s]; ok {
		return f
	}
	f := strings.Clone(s)
	a.files[f] = f
	return f
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

// ints reads an integer column of any width; NULLs and absent columns read as 0, not valid.
type ints struct {
	i64 *array.Int64
	i32 *array.Int32
	u16 *array.Uint16
}

func intsOf(rec arrow.Record, col int) ints {
	if col < 0 {
		return ints{}
	}
	switch a := rec.Column(col).(type) {
	case *array.Int64:
		return ints{i64: a}
	case *array.Int32:
		return ints{i32: a}
	case *array.Uint16:
		return ints{u16: a}
	}
	return ints{}
}

func (c ints) get(i int) (int64, bool) {
	switch {
	case c.i64 != nil && c.i64.IsValid(i):
		return c.i64.Value(i), true
	case c.i32 != nil && c.i32.IsValid(i):
		return int64(c.i32.Value(i)), true
	case c.u16 != nil && c.u16.IsValid(i):
		return int64(c.u16.Value(i)), true
	}
	return 0, false
}

// Result is what the Aggregator found, ready for a Report.
type Result struct {
	Classes      map[string]ClassCount
	WouldBreak   Totals
	NewlyAllowed Totals
	Groups       []Group // would-break first, then newly-allowed; each by records, most first
	Pairs        []PairCount
	Records      []RecordRef
	// RecordsTruncated: audit_records stopped at MaxRecords.
	RecordsTruncated bool
	// Accepted and AcceptedBytes count the records accepted by the log and the baseline (StillAllowed +
	// WouldBreak); Coverage and CoverageBytes the fraction the candidate still allows (1 when none).
	Accepted, AcceptedBytes int64
	Coverage, CoverageBytes float64
}

// Result groups what was added (and releases the records Add kept); policyFiles names the policy file of each group, rule and NACL id the policy
// gave (vpc.OverlayReport.Files), for Group.File. Call it once, after the last Add.
func (a *Aggregator) Result(policyFiles map[string]string) (*Result, error) {
	if err := a.flush(); err != nil {
		return nil, err
	}
	res := &Result{Classes: map[string]ClassCount{}}
	for c := Class(0); c < numClasses; c++ {
		if a.classRecs[c] > 0 {
			res.Classes[c.String()] = ClassCount{Records: a.classRecs[c], Bytes: a.classBy[c]}
		}
	}
	remap := a.collapse()
	// Build the groups in report order.
	type built struct {
		g   Group
		acc int
	}
	var gs []built
	for i, g := range a.accs {
		if remap[i] != i {
			continue
		}
		gs = append(gs, built{g: a.group(g, policyFiles), acc: i})
	}
	slices.SortFunc(gs, func(x, y built) int {
		return cmp.Or(cmp.Compare(classOrder(x.g.Class), classOrder(y.g.Class)), cmp.Compare(y.g.Records, x.g.Records),
			cmp.Compare(x.g.Source.ID, y.g.Source.ID), cmp.Compare(x.g.Destination.ID, y.g.Destination.ID),
			cmp.Compare(x.g.Service, y.g.Service))
	})
	newID := make([]int, len(a.accs))
	for i := range gs {
		gs[i].g.ID = i + 1
		newID[gs[i].acc] = i + 1
		res.Groups = append(res.Groups, gs[i].g)
		t := &res.WouldBreak
		if gs[i].g.Class == NewlyAllowed.String() {
			t = &res.NewlyAllowed
		}
		t.Groups++
		t.Records += gs[i].g.Records
		t.Packets += gs[i].g.Packets
		t.Bytes += gs[i].g.Bytes
		t.OrphanedReplies += gs[i].g.OrphanedReplies
	}
	for _, r := range a.records {
		res.Records = append(res.Records, RecordRef{File: r.file, Line: r.line, Group: newID[remap[r.acc]]})
	}
	res.RecordsTruncated = a.recordsTruncated
	res.Pairs = slices.Clone(a.pairList)
	slices.SortFunc(res.Pairs, func(x, y PairCount) int {
		return cmp.Or(cmp.Compare(x.BaselineID, y.BaselineID), cmp.Compare(x.CandidateID, y.CandidateID))
	})
	res.Accepted = a.classRecs[StillAllowed] + a.classRecs[WouldBreak]
	res.AcceptedBytes = a.classBy[StillAllowed] + a.classBy[WouldBreak]
	res.Coverage, res.CoverageBytes = 1, 1
	if res.Accepted > 0 {
		res.Coverage = float64(a.classRecs[StillAllowed]) / float64(res.Accepted)
	}
	if res.AcceptedBytes > 0 {
		res.CoverageBytes = float64(a.classBy[StillAllowed]) / float64(res.AcceptedBytes)
	}
	return res, nil
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
			cmp.Compare(x.Rule, y.Rule), cmp.Compare(x.Role, y.Role))
	})
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
