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
//     A reply is orphaned only when its own request (same interface, addresses, ports and protocol) is a
//     would-break record: when the candidate admitted the request, the reply is still allowed, whatever the
//     tracking said. The two replays' tracking tables hold different connections once they are full (each
//     evicts its own), so "tracked" against "assumed" alone would blame the candidate for evictions
//     (Result.TrackingLost counts such replies).
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

// Aggregator classifies the records of a chained replay and groups the changed ones. Not safe for concurrent
// use.
type Aggregator struct {
	// Attribute, when set before the first Add, names the change that causes a would-break or newly-allowed
	// record logged at interface iface, between addresses src and dst (the packet's), with these verdicts (a
	// Terraform resource address; "" when unknown): it becomes the record's Decider.Address.
	Attribute func(iface, src, dst string, base, cand *Verdict) string

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
	pending            []pendingRow
	seq                int64 // rows added so far
	first, last        int64
	classRecs, classBy [numClasses]int64
	// brokenRequests are the connections whose request is a (non-orphaned) would-break record; orphans are
	// the replies tracked by the baseline and assumed by the candidate, settled against brokenRequests by
	// Result (a reply can be read before its request: rows wait for their verdicts, see Add).
	brokenRequests map[connKey]struct{}
	orphans        []orphan
	lostPairs      map[uint64]int // pairList index of the still-allowed part of an orphaned pair
	trackingLost   int64
}

// connKey is a connection as one interface saw it: the client (request's source) and the server.
type connKey struct {
	iface                  string
	proto                  int16
	client, server         netip.Addr
	clientPort, serverPort int64
}

// orphan is a reply that may be orphaned, kept until Result settles it.
type orphan struct {
	row            changedRow
	seq            int64
	pair           int
	packets, bytes int64
}

// NewAggregator returns an Aggregator that names identities from candidate and looks verdict ids up in the
// two replays' verdict tables (replay.Reader.Verdicts), which it reads again when it meets an id they did not
// have yet.
func NewAggregator(candidate *vpc.Model, baseVerdicts, candVerdicts func() arrow.Record) *Aggregator {
	return &Aggregator{model: candidate, baseTab: baseVerdicts, candTab: candVerdicts, pairs: map[uint64]int{},
		groups: map[groupKey]int{}, idents: map[netip.Addr]Identity{}, files: map[string]string{},
		brokenRequests: map[connKey]struct{}{}, lostPairs: map[uint64]int{}}
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

// Add classifies the rows of one record of the chained replay. Rows whose verdicts are not yet in its copy of
// the verdict tables are copied (never the record: a row per record would keep every record of a long run)
// and classified when the tables are read again.
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
	packets, bytes := intsOf(rec, c.packets), intsOf(rec, c.bytes) // once per record, not per row
	for i := range vids {
		np, _ := packets.get(i)
		nb, _ := bytes.get(i)
		seq := a.seq + int64(i)
		if int(vids[i]) >= len(a.base) || int(cvids[i]) >= len(a.cand) {
			a.pending = append(a.pending, pendingRow{vid: vids[i], cvid: cvids[i], seq: seq, packets: np, bytes: nb,
				row: a.readRow(rec, i)})
			continue
		}
		a.add(vids[i], cvids[i], seq, np, nb, rec, i, nil)
	}
	a.seq += int64(len(vids))
	if len(a.pending) >= pendingRows {
		return a.flush()
	}
	return nil
}

// pendingRow is a row waiting for its verdicts.
type pendingRow struct {
	vid, cvid           uint32
	seq, packets, bytes int64
	row                 changedRow // as read: not yet turned to the request's direction
}

// flush reads the verdict tables again and adds the pending rows.
func (a *Aggregator) flush() error {
	if len(a.pending) == 0 {
		return nil
	}
	a.base, a.cand = readTable(a.baseTab), readTable(a.candTab)
	defer func() { a.pending = a.pending[:0] }()
	for i := range a.pending {
		p := &a.pending[i]
		if int(p.vid) >= len(a.base) || int(p.cvid) >= len(a.cand) {
			return fmt.Errorf("audit: verdict id %d/%d not in the verdict tables (%d/%d rows)", p.vid, p.cvid, len(a.base), len(a.cand))
		}
		a.add(p.vid, p.cvid, p.seq, p.packets, p.bytes, nil, 0, &p.row)
	}
	return nil
}

// add classifies one row whose verdicts are known: row i of rec, or the copy read (when rec is nil); seq is
// its position in the input.
func (a *Aggregator) add(vid, cvid uint32, seq, np, nb int64, rec arrow.Record, i int, read *changedRow) {
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
	changed := pc.Class == WouldBreak || pc.Class == NewlyAllowed
	if !changed {
		a.count(pc, np, nb)
		return
	}
	var r changedRow
	if read != nil {
		r = *read
	} else {
		r = a.readRow(rec, i)
	}
	if pc.Baseline.Role == "reply" { // the group is the request's direction: a reply's destination is the client
		r.src, r.dst, r.sport, r.dport = r.dst, r.src, r.dport, r.sport
	}
	if pc.Orphaned {
		a.orphans = append(a.orphans, orphan{row: r, seq: seq, pair: p, packets: np, bytes: nb})
		return
	}
	a.count(pc, np, nb)
	if pc.Class == WouldBreak && pc.Baseline.Role == "request" {
		a.brokenRequests[r.conn()] = struct{}{}
	}
	a.addChanged(r, seq, pc, np, nb)
}

func (a *Aggregator) count(pc *PairCount, packets, bytes int64) {
	pc.Records++
	pc.Packets += packets
	pc.Bytes += bytes
	a.classRecs[pc.Class]++
	a.classBy[pc.Class] += bytes
}

// settleOrphans adds each possibly orphaned reply to would-break when its request is a would-break record,
// else counts it as still allowed (TrackingLost), in a pair of its own.
func (a *Aggregator) settleOrphans() {
	for _, o := range a.orphans {
		pc := &a.pairList[o.pair]
		if _, broken := a.brokenRequests[o.row.conn()]; broken {
			a.count(pc, o.packets, o.bytes)
			a.addChanged(o.row, o.seq, pc, o.packets, o.bytes)
			continue
		}
		k := uint64(pc.BaselineID)<<32 | uint64(pc.CandidateID)
		lp, ok := a.lostPairs[k]
		if !ok {
			a.pairList = append(a.pairList, PairCount{BaselineID: pc.BaselineID, CandidateID: pc.CandidateID,
				Baseline: pc.Baseline, Candidate: pc.Candidate, Class: StillAllowed})
			lp = len(a.pairList) - 1
			a.lostPairs[k] = lp
		}
		a.count(&a.pairList[lp], o.packets, o.bytes)
		a.trackingLost++
	}
	a.orphans = nil
}

func readTable(f func() arrow.Record) []Verdict {
	rec := f()
	defer rec.Release()
	return ReadVerdicts(rec)
}

// changedRow is what a group keeps of a would-break or newly-allowed record, in the request's direction:
// src is the client, dst the server.
type changedRow struct {
	iface, src, dst  string
	proto            int64
	sport, dport     int64
	start, end, line int64
	file             string
}

// conn is the row's connection at its interface.
func (r *changedRow) conn() connKey {
	k := connKey{iface: r.iface, proto: int16(r.proto)}
	k.client, _ = netip.ParseAddr(r.src)
	k.server, _ = netip.ParseAddr(r.dst)
	if r.proto == vpc.ProtoTCP || r.proto == vpc.ProtoUDP {
		k.clientPort, k.serverPort = r.sport, r.dport
	}
	return k
}

// readRow reads row i of rec as it was logged (the packet's addresses where the log has them). Its strings
// are copies: rows outlive their records.
func (a *Aggregator) readRow(rec arrow.Record, i int) changedRow {
	c := &a.cols
	str := func(col int) string {
		if col < 0 {
			return ""
		}
		arr := rec.Column(col)
		if arr.IsNull(i) {
			return ""
		}
		return strings.Clone(arr.ValueStr(i))
	}
	r := changedRow{iface: str(c.iface), src: str(c.pktSrc), dst: str(c.pktDst), file: a.internFile(str(c.file))}
	if r.src == "" {
		r.src = str(c.src)
	}
	if r.dst == "" {
		r.dst = str(c.dst)
	}
	r.proto, _ = intsOf(rec, c.proto).get(i)
	r.sport, _ = intsOf(rec, c.srcPort).get(i)
	r.dport, _ = intsOf(rec, c.dstPort).get(i)
	r.start, _ = intsOf(rec, c.start).get(i)
	r.end, _ = intsOf(rec, c.end).get(i)
	r.line, _ = intsOf(rec, c.line).get(i)
	return r
}

// addChanged adds r, a would-break or newly-allowed record, to its group.
func (a *Aggregator) addChanged(r changedRow, seq int64, pc *PairCount, packets, bytes int64) {
	src, dst, proto, start, end := r.src, r.dst, r.proto, r.start, r.end
	port := int32(r.dport)
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
	file, line := r.file, r.line
	g.addExample(example{seq, file, line})
	if pc.Orphaned {
		g.orphans++
	} else {
		v := &pc.Candidate
		if pc.Class == NewlyAllowed {
			v = &pc.Baseline
		}
		d := Decider{Layer: v.Layer, Rule: v.Rule, Resource: v.Resource, Cause: v.Cause, Role: pc.Baseline.Role}
		if a.Attribute != nil {
			d.Address = a.Attribute(r.iface, src, dst, &pc.Baseline, &pc.Candidate)
		}
		g.deciders[d]++
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
	// TrackingLost counts the replies the candidate's tracking did not match to a connection the baseline's
	// did, whose request the candidate admitted: still allowed (see the package documentation).
	TrackingLost int64
}

// Result groups what was added (and releases the records Add kept); policyFiles names the policy file of each group, rule and NACL id the policy
// gave (vpc.OverlayReport.Files), for Group.File. Call it once, after the last Add.
func (a *Aggregator) Result(policyFiles map[string]string) (*Result, error) {
	if err := a.flush(); err != nil {
		return nil, err
	}
	a.settleOrphans()
	res := &Result{Classes: map[string]ClassCount{}, TrackingLost: a.trackingLost}
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
	res.Pairs = slices.DeleteFunc(slices.Clone(a.pairList), func(p PairCount) bool { return p.Records == 0 })
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
