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

// Idle timeouts. AWS documents the first four [CT]; the last three are flowlens's choices (AWS documents none)
// and are Config fields so that the CLI can expose them as flags.
const (
	DefaultTCPEstablishedTimeout = 432000 * time.Second // AWS default, 5 days
	DefaultUDPTimeout            = 30 * time.Second     // AWS default
	DefaultUDPStreamTimeout      = 180 * time.Second    // AWS default, "more than one request/response"
	DefaultOtherTimeout          = 600 * time.Second    // AWS: other protocols, address pair + protocol
	// DefaultTCPHalfOpenTimeout applies after a SYN and before any SYN-ACK. Not documented by AWS; 120 s is
	// Linux nf_conntrack's SYN_SENT timeout.
	DefaultTCPHalfOpenTimeout = 120 * time.Second
	// DefaultTCPClosingTimeout applies once FIN or RST was logged. Not documented by AWS; 120 s is Linux
	// nf_conntrack's FIN_WAIT/TIME_WAIT timeout.
	DefaultTCPClosingTimeout = 120 * time.Second
	// DefaultICMPTimeout is the ICMP/ICMPv6 idle timeout. Not documented by AWS; 30 s is Linux
	// nf_conntrack's ICMP timeout.
	DefaultICMPTimeout = 30 * time.Second
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
	ownV6   []ownV6        // the ENI's IPv6 addresses as text and bytes (addrAt)
	nets4   [][2]uint32    // the IPv4 cidrs as (network, mask), big-endian numbers
	nacl    *vpc.NACL
	groups  string // comma-separated sg- ids (verdict_resource)
	tcpEst  int32  // idle timeouts in seconds, ENI configuration or AWS default
	udp     int32
	udpStrm int32

	// naclBase[d] is the rule-hit index of nacl.Inbound[0] (d 0) or nacl.Outbound[0] (d 1) in
	// Engine.naclEntries, -1 without a NACL: an entry's index is the base plus its position (EvaluateAt), where
	// a map lookup by pointer took 2.8% of the replay's CPU (pprof of BenchmarkReaderShop).
	naclBase [2]int32

	// sgIdx[d][j] is the rule-hit index of rule j of the ENI's rules in direction d (Engine.sgRules), where a
	// map lookup by pointer took 1.7% of the replay's CPU (pprof of BenchmarkReaderShop).
	sgIdx [2][]int32

	// alsoAfter[d][j] lists the positions k > j of the ENI's rules in direction d (0 ingress, 1 egress) that
	// overlap rule j: the only rules that can also allow a packet that rule j is the first to allow
	// (Engine.creditRules). Most rules overlap none, so crediting the union costs nothing per record.
	alsoAfter [2][][]int32

	// Where a verdict can rest on the ICMP type flowlens infers (see icmpEcho), per direction (0 ingress,
	// 1 egress) and protocol (0 ICMP, 1 ICMPv6): the position of the NACL's first entry restricted to an ICMP
	// type or code (math.MaxInt32: none), and whether a security-group rule is.
	naclICMPTyped [2][2]int32
	sgICMPTyped   [2][2]bool

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
			} else if a.Is6() {
				info.ownV6 = append(info.ownV6, ownV6{text: a.String(), b: a.As16()})
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
		var base [2]int32
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
			info.alsoAfter[d] = make([][]int32, len(rules))
			info.sgIdx[d] = make([]int32, len(rules))
			for j, r := range rules {
				addRule(r)
				info.sgIdx[d][j] = -1
				if k, ok := e.sgIndex[r]; ok {
					info.sgIdx[d][j] = k
				}
				for k := j + 1; k < len(rules); k++ {
					if r != nil && rules[k] != nil && r.Overlaps(rules[k]) {
						info.alsoAfter[d][j] = append(info.alsoAfter[d][j], int32(k))
					}
				}
			}
		}
		info.icmpTyped()
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

// icmpTyped fills naclICMPTyped and sgICMPTyped.
func (info *eniInfo) icmpTyped() {
	for d := range 2 {
		for f, proto := range [2]int16{vpc.ProtoICMP, vpc.ProtoICMPv6} {
			info.naclICMPTyped[d][f] = math.MaxInt32
			if info.nacl != nil {
				entries := info.nacl.Inbound
				if d == 1 {
					entries = info.nacl.Outbound
				}
				for j := range entries {
					if entries[j].Proto == proto && entries[j].RestrictsICMP() {
						info.naclICMPTyped[d][f] = int32(j)
						break
					}
				}
			}
			rules := info.eni.Ingress
			if d == 1 {
				rules = info.eni.Egress
			}
			for _, r := range rules {
				if r.Proto == proto && r.RestrictsICMP() {
					info.sgICMPTyped[d][f] = true
				}
			}
		}
	}
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

// naclIndexAt is the rule-hit index of entry en at position pos of the ENI's NACL entries in direction d
// (as EvaluateAt returns them).
func (e *Engine) naclIndexAt(info *eniInfo, d int, en *vpc.NACLEntry, pos int) int32 {
	if info.naclBase[d] >= 0 && pos >= 0 {
		return info.naclBase[d] + int32(pos)
	}
	return e.naclEntryIndex(en)
}

// naclEntryIndex is the rule-hit index of en; -1 for entries outside the model (Evaluate's package-level
// fallback for packets no entry matches).
func (e *Engine) naclEntryIndex(en *vpc.NACLEntry) int32 {
	if i, ok := e.naclIndex[en]; ok {
		return i
	}
	return -1
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
