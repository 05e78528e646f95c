package replay

import (
	"encoding/binary"
	"maps"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// AdmitPolicy says which action decides that a record's connection enters the tracking table.
type AdmitPolicy uint8

const (
	// AdmitLogged (default): a connection is tracked when the log says ACCEPT (the model's action when the
	// record has no action). The log is ground truth for what AWS admitted, so replies to a connection that
	// the model wrongly denies are still judged as replies, and one drift does not cascade.
	AdmitLogged AdmitPolicy = iota
	// AdmitModel: a connection is tracked when the model accepts the packet. For audit mode ("what would this
	// candidate policy have blocked?"), where the log's action belongs to another policy.
	AdmitModel
)

// Defaults for Config's zero values.
const (
	DefaultMaxTracked    = 1 << 20
	DefaultReorderWindow = 10 * time.Minute
	// DefaultMaxBuffered keeps peak memory of a replay well under 1 GB: a buffered record costs about 550 bytes
	// (its parsed row plus its share of the input and output batches held until the batch is judged).
	DefaultMaxBuffered = 1 << 19
	DefaultMaxExamples = 20
)

// Config tunes one replay. The zero value means every default.
type Config struct {
	// MaxTracked bounds the connection-tracking table (all ENIs together). At the bound a connection not
	// touched recently is evicted (a clock sweep approximating least recently used; an idled-out one first
	// when the sweep meets it) and counted (Summary.ConntrackEvictions). The table holds 64 bytes per slot and
	// is kept at most 3/4 full, so at the bound it takes 85-170 bytes per MaxTracked entry. On Linux, tables of
	// 2 MiB and more are mapped outside the Go heap, with transparent huge pages where the system allows them.
	MaxTracked int
	// ReorderWindow is how far back in record time (start) records may arrive and still be judged in order.
	// Zero: DefaultReorderWindow; negative: no reordering (arrival order).
	ReorderWindow time.Duration
	// MaxBuffered bounds the records held for reordering (about 100 bytes each); beyond it the oldest are
	// judged early. The input records held for in-order output are bounded by twice as many rows.
	MaxBuffered int
	// Undocumented idle timeouts (see DefaultTCPHalfOpenTimeout, DefaultTCPClosingTimeout, DefaultICMPTimeout).
	TCPHalfOpenTimeout, TCPClosingTimeout, ICMPTimeout time.Duration
	// Admit chooses when a connection enters the tracking table.
	Admit AdmitPolicy
	// MaxExamples bounds the source_file:source_line examples kept per kind in the summary.
	MaxExamples int
	// Workers is the number of judging goroutines of a Reader (ENIs are sharded among them; each has
	// MaxTracked/Workers tracking entries). Zero: runtime.GOMAXPROCS(0).
	Workers int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxTracked, DefaultMaxTracked)
	def(&c.MaxBuffered, DefaultMaxBuffered)
	def(&c.MaxExamples, DefaultMaxExamples)
	def(&c.Workers, runtime.GOMAXPROCS(0))
	if c.ReorderWindow == 0 {
		c.ReorderWindow = DefaultReorderWindow
	}
	defd(&c.TCPHalfOpenTimeout, DefaultTCPHalfOpenTimeout)
	defd(&c.TCPClosingTimeout, DefaultTCPClosingTimeout)
	defd(&c.ICMPTimeout, DefaultICMPTimeout)
	return c
}

// eniInfo is the engine's compiled view of one ENI.
type eniInfo struct {
	eni     *vpc.ENI
	cidrs   []netip.Prefix // the ENI's subnet CIDRs: peers inside them never meet the NACL
	addrs4  []uint32       // the ENI's private IPv4 addresses (eni.Addrs), big-endian numbers
	nets4   [][2]uint32    // the IPv4 cidrs as (network, mask), big-endian numbers
	nacl    *vpc.NACL
	groups  string // comma-separated sg- ids (verdict_resource)
	tcpEst  int32  // idle timeouts in seconds, ENI configuration or AWS default
	udp     int32
	udpStrm int32

	// rule-hit indexes without map lookups: naclBase[0/1] is the index of nacl.Inbound[0]/Outbound[0] in
	// Engine.naclEntries (-1: not indexed); sgIdx[0/1][j] is the index of eni.Ingress[j]/Egress[j] in sgRules.
	naclBase [2]int32
	sgIdx    [2][]int32

	// output text of the verdict table (Reader.buildVerdicts): the NACL's id ("" without one), groups, the VPC id
	naclIDText, groupsText, vpcText string
}

// Engine is the compiled, read-only policy: a *vpc.Model plus indexes. It is safe for concurrent use by
// several replays (each with its own State); the model must not change while the engine is in use.
type Engine struct {
	model    *vpc.Model
	cfg      Config
	enis     []eniInfo
	eniIndex map[string]int32
	eniByPtr map[*vpc.ENI]int32

	// rule-hit indexes: every NACL entry and SG rule of the topology, in a deterministic order
	naclEntries []naclRef
	naclIndex   map[*vpc.NACLEntry]int32
	sgRules     []*vpc.SGRule
	sgIndex     map[*vpc.SGRule]int32

	// output text per rule-hit index: the NACL entries' rule numbers, the SG rules' ids
	naclRuleText, sgRuleText []string

	halfOpen, closing, icmp int32 // seconds
}

type naclRef struct {
	nacl  *vpc.NACL
	entry *vpc.NACLEntry
}

// NewEngine compiles model for replay with cfg (zero fields take defaults). The model is only read.
func NewEngine(model *vpc.Model, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{
		model:     model,
		cfg:       cfg,
		eniIndex:  make(map[string]int32, len(model.ENIs)),
		eniByPtr:  make(map[*vpc.ENI]int32, len(model.ENIs)),
		naclIndex: map[*vpc.NACLEntry]int32{},
		sgIndex:   map[*vpc.SGRule]int32{},
		halfOpen:  secs(cfg.TCPHalfOpenTimeout),
		closing:   secs(cfg.TCPClosingTimeout),
		icmp:      secs(cfg.ICMPTimeout),
	}
	for _, id := range slices.Sorted(maps.Keys(model.ENIs)) {
		eni := model.ENIs[id]
		if eni == nil {
			continue
		}
		info := eniInfo{
			eni:     eni,
			groups:  strings.Join(eni.GroupIDs, ","),
			tcpEst:  secsOr(eni.Timeouts.TCPEstablished, DefaultTCPEstablishedTimeout),
			udp:     secsOr(eni.Timeouts.UDP, DefaultUDPTimeout),
			udpStrm: secsOr(eni.Timeouts.UDPStream, DefaultUDPStreamTimeout),
		}
		for _, a := range eni.Addrs {
			if a.Is4() {
				b := a.As4()
				info.addrs4 = append(info.addrs4, binary.BigEndian.Uint32(b[:]))
			}
		}
		if eni.Subnet != nil {
			info.cidrs = eni.Subnet.CIDRs
			for _, p := range info.cidrs {
				if p.Addr().Is4() {
					b := p.Masked().Addr().As4()
					mask := uint32(0)
					if p.Bits() > 0 {
						mask = ^uint32(0) << (32 - p.Bits())
					}
					info.nets4 = append(info.nets4, [2]uint32{binary.BigEndian.Uint32(b[:]), mask})
				}
			}
			info.nacl = eni.Subnet.NACL
		}
		e.eniIndex[id] = int32(len(e.enis))
		e.eniByPtr[eni] = int32(len(e.enis))
		e.enis = append(e.enis, info)
	}
	naclBase := map[*vpc.NACL][2]int32{}
	for _, id := range slices.Sorted(maps.Keys(model.NACLs)) {
		n := model.NACLs[id]
		if n == nil {
			continue
		}
		base := [2]int32{-1, -1}
		for d, list := range [][]vpc.NACLEntry{n.Inbound, n.Outbound} {
			base[d] = int32(len(e.naclEntries))
			for i := range list {
				e.naclIndex[&list[i]] = int32(len(e.naclEntries))
				e.naclEntries = append(e.naclEntries, naclRef{n, &list[i]})
			}
		}
		naclBase[n] = base
	}
	addRule := func(r *vpc.SGRule) {
		if r == nil {
			return
		}
		if _, ok := e.sgIndex[r]; !ok {
			e.sgIndex[r] = int32(len(e.sgRules))
			e.sgRules = append(e.sgRules, r)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(model.Groups)) {
		if g := model.Groups[id]; g != nil {
			for _, r := range g.Ingress {
				addRule(r)
			}
			for _, r := range g.Egress {
				addRule(r)
			}
		}
	}
	// ENI rule lists are expected to share the groups' pointers; index any that do not.
	for i := range e.enis {
		info := &e.enis[i]
		for d, rules := range [][]*vpc.SGRule{info.eni.Ingress, info.eni.Egress} {
			info.sgIdx[d] = make([]int32, len(rules))
			for j, r := range rules {
				addRule(r)
				info.sgIdx[d][j] = -1
				if k, ok := e.sgIndex[r]; ok {
					info.sgIdx[d][j] = k
				}
			}
		}
		info.naclBase = [2]int32{-1, -1}
		if b, ok := naclBase[info.nacl]; ok {
			info.naclBase = b
		}
		if info.nacl != nil {
			info.naclIDText = info.nacl.ID
		}
		info.groupsText, info.vpcText = info.groups, info.eni.VpcID
	}
	e.naclRuleText = make([]string, len(e.naclEntries))
	for i, n := range e.naclEntries {
		e.naclRuleText[i] = ruleText(n.entry)
	}
	e.sgRuleText = make([]string, len(e.sgRules))
	for i, r := range e.sgRules {
		e.sgRuleText[i] = r.ID
	}
	return e
}

// naclIndexAt is naclEntryIndex for entry en at position pos of info.nacl's list in dir (as EvaluateAt
// returns them): a sum instead of a map lookup.
func (e *Engine) naclIndexAt(info *eniInfo, dir vpc.Direction, en *vpc.NACLEntry, pos int) int32 {
	d := 0
	if dir == vpc.Egress {
		d = 1
	}
	if info.naclBase[d] >= 0 && pos >= 0 {
		return info.naclBase[d] + int32(pos)
	}
	return e.naclEntryIndex(en)
}

// sgIndex is the rule-hit index of the rule at position j of the ENI's rules in dir.
func (info *eniInfo) sgIndex(dir vpc.Direction, j int) int32 {
	if dir == vpc.Egress {
		return info.sgIdx[1][j]
	}
	return info.sgIdx[0][j]
}

// Model returns the engine's model.
func (e *Engine) Model() *vpc.Model { return e.model }

// Config returns the engine's configuration with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// secs is d in whole seconds, at most math.MaxInt32 (68 years: a timeout that never fires).
func secs(d time.Duration) int32 { return int32(min(int64(d/time.Second), math.MaxInt32)) }

func secsOr(d, def time.Duration) int32 {
	if d > 0 {
		return secs(d)
	}
	return secs(def)
}

// naclEntryIndex is the rule-hit index of en; -1 for entries outside the model (Evaluate's package-level
// fallback for packets no entry matches).
func (e *Engine) naclEntryIndex(en *vpc.NACLEntry) int32 {
	if i, ok := e.naclIndex[en]; ok {
		return i
	}
	return -1
}

// TCP flag bits as logged [FL]. ACK is only logged as part of SYN-ACK.
const (
	flagFIN    = 1
	flagSYN    = 2
	flagRST    = 4
	flagSYNACK = 18
)

// Port classes for the initiator heuristic. Ephemeral ranges: Linux 32768-61000, Windows 49152-65535,
// ELB/NAT gateway/Lambda 1024-65535 [NACL]; a port below 1024 is well-known, 1024-32767 registered.
const (
	wellKnownPortEnd = 1024
	ephemeralStart   = 32768
)

func portRank(p uint16) int {
	switch {
	case p < wellKnownPortEnd:
		return 0
	case p < ephemeralStart:
		return 1
	}
	return 2
}

// inferRoleOf guesses request versus reply without tracking state: SYN / SYN-ACK when tcp-flags has them,
// then the port classes (the lower class is the service), else the record is the first seen of its
// conversation and so taken as the request.
func inferRoleOf(proto uint8, flags int16, srcPort, dstPort uint16) (Role, Inference) {
	if proto == 6 && flags >= 0 {
		if flags&flagSYNACK == flagSYNACK {
			return RoleReply, InferTCPFlags
		}
		if flags&flagSYN != 0 {
			return RoleRequest, InferTCPFlags
		}
	}
	if proto == 6 || proto == 17 {
		rs, rd := portRank(srcPort), portRank(dstPort)
		if rd < rs {
			return RoleRequest, InferPorts
		}
		if rs < rd {
			return RoleReply, InferPorts
		}
	}
	return RoleRequest, InferOrder
}

// ResolveENI finds the ENI a record belongs to: by interface-id, or when absent by address (dstaddr for
// ingress, srcaddr for egress; without flow-direction exactly one of the two must be a known ENI). -1: unknown.
func (e *Engine) resolveENI(f *Flow) int32 {
	if f.Interface != "" {
		if i, ok := e.eniIndex[f.Interface]; ok {
			return i
		}
		return -1
	}
	var byDst, bySrc *vpc.ENI
	if f.Direction != vpc.Egress && f.Dst.IsValid() {
		byDst = e.model.ENIByAddr(f.Dst)
	}
	if f.Direction != vpc.Ingress && f.Src.IsValid() {
		bySrc = e.model.ENIByAddr(f.Src)
	}
	eni := byDst
	switch {
	case byDst != nil && bySrc != nil:
		return -1 // two monitored ENIs: not guessed
	case bySrc != nil:
		eni = bySrc
	case byDst == nil:
		return -1
	}
	if i, ok := e.eniByPtr[eni]; ok {
		return i
	}
	return -1
}

// hasAddr is eni.HasAddr for an address in the compactFlow form (kind 4 or 6).
func (info *eniInfo) hasAddr(b *[16]byte, kind uint8) bool {
	if kind == 4 {
		a := binary.BigEndian.Uint32(b[:4])
		for _, x := range info.addrs4 {
			if x == a {
				return true
			}
		}
		return false
	}
	return info.eni.HasAddr(decodeAddr(b, kind))
}

func (info *eniInfo) inSubnet(a netip.Addr) bool {
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		for _, n := range info.nets4 {
			if x&n[1] == n[0] {
				return true
			}
		}
		return false
	}
	for _, p := range info.cidrs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Judge evaluates one record against the policy, updating st (tracking table, counters, rule hits), and
// returns the verdict. Records of one ENI must be judged in time order for tracking to be right (the Reader
// orders them). Judge does not allocate in the steady state. st must belong to this engine.
func (e *Engine) Judge(st *State, f *Flow) Verdict {
	c := compactFlow{
		srcPort: f.SrcPort, dstPort: f.DstPort, proto: f.Proto, packets: f.Packets, bytes: f.Bytes,
		start: f.Start, end: f.End, flags: f.TCPFlags, action: f.Action, status: f.Status, dir: f.Direction, bpa: f.BPA,
	}
	c.src, c.srcKind = encodeAddr(f.Src)
	c.dst, c.dstKind = encodeAddr(f.Dst)
	ei := int32(-1)
	if f.Status == StatusOK {
		ei = e.resolveENI(f)
	}
	var pkt [2][16]byte
	var pktKind [2]uint8
	pkt[0], pktKind[0] = encodeAddr(f.PktSrc)
	pkt[1], pktKind[1] = encodeAddr(f.PktDst)
	e.locate(&c, ei, &pkt, &pktKind)
	return e.judgeAt(st, &c, nil)
}

// locate completes a parsed record (status, srcaddr/dstaddr, flow-direction) for judgeAt: its ENI ei
// (resolveENI), its direction (flow-direction, else which address is the ENI's) and then the addresses the
// rules match, pkt-srcaddr/pkt-dstaddr where logged (NAT gateway, secondary addresses, pods). A record with
// an undecided direction keeps srcaddr/dstaddr and is judged "unknown direction".
func (e *Engine) locate(c *compactFlow, ei int32, pkt *[2][16]byte, pktKind *[2]uint8) {
	if c.status != StatusOK || ei < 0 {
		c.eni, c.dir = -1, 0
		return
	}
	c.eni = ei
	if c.dir == 0 {
		info := &e.enis[ei]
		switch {
		case c.dstKind != 0 && info.hasAddr(&c.dst, c.dstKind):
			c.dir = vpc.Ingress
		case c.srcKind != 0 && info.hasAddr(&c.src, c.srcKind):
			c.dir = vpc.Egress
		}
	}
	if c.dir != 0 {
		if pktKind[0] != 0 {
			c.src, c.srcKind = pkt[0], pktKind[0]
		}
		if pktKind[1] != 0 {
			c.dst, c.dstKind = pkt[1], pktKind[1]
		}
	}
}

// judgeAt is Judge of a located record (see locate) and, when pre is not nil and pre.ok, the record's
// connection key already computed: the connection-tracking lookup, the packet walk (walk.go), the verdict
// and cause read from the walk, rule hits, and tracking of an admitted connection.
func (e *Engine) judgeAt(st *State, c *compactFlow, pre *hashedKey) Verdict {
	v := Verdict{Logged: c.action, eni: -1}
	st.records++
	if c.status != StatusOK {
		v.Cause = CauseNotJudged
		if c.status == StatusNoData {
			st.noData++
		} else {
			st.skipData++
		}
		return v
	}
	ei := c.eni
	if ei < 0 {
		v.Cause = CauseUnknownInterface
		st.unknownInterface++
		return v
	}
	info := &e.enis[ei]
	v.ENI, v.eni = info.eni, ei
	dir := c.dir
	if dir == 0 {
		v.Cause = CauseUnknownDirection
		st.unknownDirection++
		return v
	}
	v.Dir = dir

	// p is written field by field: a composite literal is built aside and copied in 16-byte loads of
	// fields just stored one or two bytes at a time, which stalls on store forwarding.
	var p vpc.Packet
	p.SrcPort, p.DstPort, p.Proto = c.srcPort, c.dstPort, c.proto
	p.ICMPType, p.ICMPCode = vpc.ICMPUnknown, vpc.ICMPUnknown
	decodeAddrTo(&p.Src, &c.src, c.srcKind)
	decodeAddrTo(&p.Dst, &c.dst, c.dstKind)

	// Connection tracking: a live entry for the tuple (a further packet of a tracked request) or for its
	// reverse (a reply) means the connection was admitted; it also tells request from reply.
	hk := pre
	if hk == nil || !hk.ok {
		hk = new(hashedKey) // does not escape: on the stack
		c.key(hk)
	}
	ct := &st.ct
	tracked := ct.find(&hk.k, hk.h)
	expired := false
	if tracked >= 0 {
		v.Role = RoleReply
		if ct.slots[tracked].initA() == hk.srcIsA {
			v.Role = RoleRequest
		}
		if ct.live(tracked, c.start) {
			v.Infer = InferConntrack
		} else {
			ct.remove(tracked)
			ct.expired++
			tracked, expired = -1, true
		}
	}
	if tracked < 0 {
		v.Role, v.Infer = inferRoleOf(c.proto, c.flags, c.srcPort, c.dstPort)
	}

	e.walk(&v.Path, info, dir, &p, tracked >= 0, v.Role == RoleReply && !expired, c.bpa)
	v.decide()
	if v.ModelAction == Reject {
		v.Cause = v.blockCause(expired)
	} else if c.action == Reject {
		v.Cause = CauseUnexplained
	}
	e.creditRules(st, info, dir, &p, &v.Path, c)

	admit := v.ModelAction == Accept
	if e.cfg.Admit == AdmitLogged && c.action != ActionNone {
		admit = c.action == Accept && !c.bpa
	}
	if admit {
		e.track(st, info, tracked, hk, &v, c, &p, dir)
	}
	st.count(&v)
	return v
}

// track records an admitted packet in the tracking table.
func (e *Engine) track(st *State, info *eniInfo, i int32, hk *hashedKey, v *Verdict, c *compactFlow, p *vpc.Packet, dir vpc.Direction) {
	ct := &st.ct
	if i < 0 {
		if sg := v.Path.sgStep(); sg.Basis == BasisRule && info.eni.Untracked(dir, *p, sg.Rule) {
			ct.untracked++
			return
		}
		i = ct.insert(&hk.k, hk.h, c.start)
		ent := &ct.slots[i]
		if hk.srcIsA == (v.Role != RoleReply) {
			ent.flags |= entInitA
		}
		ent.state = tcpEstablished
		if p.Proto == 6 && c.flags >= 0 && v.Role == RoleRequest && c.flags&flagSYN != 0 && c.flags&flagSYNACK != flagSYNACK {
			ent.state = tcpHalfOpen
		}
	} else {
		ct.touch(i)
	}
	ent := &ct.slots[i]
	if c.end > ent.last {
		ent.last = c.end
	}
	if c.start > ent.last {
		ent.last = c.start
	}
	if c.packets > 0 {
		ent.packets = uint32(min(int64(ent.packets)+c.packets, math.MaxUint32))
	}
	if v.Role == RoleReply {
		ent.flags |= entReplied
		if ent.state == tcpHalfOpen {
			ent.state = tcpEstablished
		}
	}
	if p.Proto == 6 && c.flags > 0 && c.flags&(flagFIN|flagRST) != 0 {
		ent.state = tcpClosing
	}
	switch p.Proto {
	case 6:
		switch ent.state {
		case tcpHalfOpen:
			ent.timeout = e.halfOpen
		case tcpClosing:
			ent.timeout = e.closing
		default:
			ent.timeout = info.tcpEst
		}
	case 17:
		// A UDP flow is a stream once a reply was seen and the connection carried more than one
		// request/response (more than two packets in all records on it).
		if ent.flags&entReplied != 0 && ent.packets > 2 {
			ent.timeout = info.udpStrm
		} else {
			ent.timeout = info.udp
		}
	case 1, 58:
		ent.timeout = e.icmp
	default:
		ent.timeout = secs(DefaultOtherTimeout)
	}
}
