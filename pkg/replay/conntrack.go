package replay

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/flowlens/flowlens/pkg/vpc"
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

// connKey identifies one connection on one ENI in canonical form: the two endpoints ordered (a <= b), so that
// a request and its reply find the same entry with one lookup; the entry says which endpoint initiated.
// Protocols other than TCP/UDP are keyed by address pair + protocol (ports zero) [CT]. The key holds no
// pointers, so the garbage collector does not scan the table.
type connKey struct {
	aHi, aLo, bHi, bLo uint64
	eni                int32
	aPort, bPort       uint16
	proto              uint8
}

func addrWords(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// canonKey returns the key of p's connection on ENI eni and whether p's source is endpoint a.
func canonKey(eni int32, p *vpc.Packet) (k connKey, srcIsA bool) {
	sh, sl := addrWords(p.Src)
	dh, dl := addrWords(p.Dst)
	var sp, dp uint16
	if p.Proto == 6 || p.Proto == 17 {
		sp, dp = p.SrcPort, p.DstPort
	}
	srcIsA = sh < dh || (sh == dh && (sl < dl || (sl == dl && sp <= dp)))
	if srcIsA {
		return connKey{aHi: sh, aLo: sl, bHi: dh, bLo: dl, eni: eni, aPort: sp, bPort: dp, proto: p.Proto}, true
	}
	return connKey{aHi: dh, aLo: dl, bHi: sh, bLo: sl, eni: eni, aPort: dp, bPort: sp, proto: p.Proto}, false
}

type tcpState uint8

const (
	tcpEstablished tcpState = iota // also "state unknown": records without tcp-flags
	tcpHalfOpen
	tcpClosing
)

type connEntry struct {
	key        connKey
	last       int64 // last activity: the latest record end (Unix s) that touched the connection
	timeout    int64 // idle timeout in seconds, from protocol, state and the ENI's configuration
	packets    int64 // packets of all records on the connection (UDP stream detection)
	state      tcpState
	initA      bool // endpoint a initiated the connection (sent the request)
	replied    bool
	prev, next int32 // LRU list, head = least recently touched
}

// table is a bounded connection-tracking table shared by all ENIs of one replay. At the bound, inserting evicts
// the least recently touched entry: an expired one is reclaimed silently (counted in expired), a live one is
// counted in evicted; a reply to an evicted connection is then judged as if no request was seen.
type table struct {
	idx        map[connKey]int32
	ents       []connEntry
	free       int32 // free-list head through next, -1 none
	head, tail int32
	max        int

	evicted, expired, untracked int64
	peak                        int
}

func newTable(max int) table {
	if max <= 0 {
		return table{idx: map[connKey]int32{}, free: -1, head: -1, tail: -1}
	}
	hint := max
	if hint > 1<<16 {
		hint = 1 << 16
	}
	return table{idx: make(map[connKey]int32, hint), ents: make([]connEntry, 0, hint), free: -1, head: -1, tail: -1, max: max}
}

func (t *table) find(k connKey) int32 {
	if i, ok := t.idx[k]; ok {
		return i
	}
	return -1
}

func (t *table) live(i int32, now int64) bool {
	e := &t.ents[i]
	return now-e.last <= e.timeout
}

func (t *table) unlink(i int32) {
	e := &t.ents[i]
	if e.prev >= 0 {
		t.ents[e.prev].next = e.next
	} else {
		t.head = e.next
	}
	if e.next >= 0 {
		t.ents[e.next].prev = e.prev
	} else {
		t.tail = e.prev
	}
}

func (t *table) pushBack(i int32) {
	e := &t.ents[i]
	e.prev, e.next = t.tail, -1
	if t.tail >= 0 {
		t.ents[t.tail].next = i
	} else {
		t.head = i
	}
	t.tail = i
}

// touch marks i as most recently used.
func (t *table) touch(i int32) {
	if t.tail == i {
		return
	}
	t.unlink(i)
	t.pushBack(i)
}

func (t *table) remove(i int32) {
	t.unlink(i)
	delete(t.idx, t.ents[i].key)
	t.ents[i] = connEntry{next: t.free}
	t.free = i
}

// insert adds k (not present) and returns its slot; now is the current record time, for eviction accounting.
func (t *table) insert(k connKey, now int64) int32 {
	if len(t.idx) >= t.max && t.head >= 0 {
		h := t.head
		if t.live(h, now) {
			t.evicted++
		} else {
			t.expired++
		}
		t.remove(h)
	}
	var i int32
	if t.free >= 0 {
		i = t.free
		t.free = t.ents[i].next
	} else {
		t.ents = append(t.ents, connEntry{})
		i = int32(len(t.ents) - 1)
	}
	t.ents[i] = connEntry{key: k}
	t.idx[k] = i
	t.pushBack(i)
	if n := len(t.idx); n > t.peak {
		t.peak = n
	}
	return i
}
