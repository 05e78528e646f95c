package replay

import (
	"math/bits"
	"time"
	"unsafe"
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
	// meta packs the ENI index (high 32 bits) and the ports (a's in bits 16-31, b's in 0-15).
	meta  uint64
	proto uint8
}

// canonWords sets k to the key of a packet's connection on ENI eni, from its addresses' 16-byte forms as two
// big-endian words each (IPv4 as IPv4-mapped IPv6), and reports whether the packet's source is endpoint a.
// It writes through k field by field: building the key on the stack and copying it reloaded words just
// stored, a store-forwarding stall that cost more than the rest of the function.
func canonWords(k *connKey, eni int32, sh, sl, dh, dl uint64, sp, dp uint16, proto uint8) (srcIsA bool) {
	if proto != 6 && proto != 17 {
		sp, dp = 0, 0
	}
	srcIsA = sh < dh || (sh == dh && (sl < dl || (sl == dl && sp <= dp)))
	if !srcIsA {
		sh, sl, dh, dl, sp, dp = dh, dl, sh, sl, dp, sp
	}
	k.aHi, k.aLo, k.bHi, k.bLo = sh, sl, dh, dl
	k.meta, k.proto = uint64(uint32(eni))<<32|uint64(sp)<<16|uint64(dp), proto
	return srcIsA
}

// hash mixes every word of the key (a fixed seed: replays are reproducible, including which connections are
// evicted at the bound).
func (k *connKey) hash() uint64 {
	const m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
	h := (k.aLo ^ k.aHi*m2) * m1
	h = (h ^ h>>29 ^ k.bLo ^ bits.RotateLeft64(k.bHi, 17)) * m2
	h = (h ^ h>>31 ^ k.meta ^ uint64(k.proto)<<56) * m1
	return h ^ h>>32
}

type tcpState uint8

const (
	tcpEstablished tcpState = iota // also "state unknown": records without tcp-flags
	tcpHalfOpen
	tcpClosing
)

// entry flags
const (
	entUsed    = 1 << iota // slot holds a connection
	entInitA               // endpoint a initiated the connection (sent the request)
	entReplied             // a reply was seen
	entRef                 // touched since the clock hand last passed (second chance)
)

// connEntry is one slot of the table: the key and the connection's state in 64 bytes, one cache line, so
// that a lookup usually costs one miss.
type connEntry struct {
	aHi, aLo, bHi, bLo uint64
	meta               uint64
	last               int64  // last activity: the latest record end (Unix s) that touched the connection
	packets            uint32 // packets of all records on the connection, saturating (UDP stream detection)
	timeout            int32  // idle timeout in seconds, from protocol, state and the ENI's configuration
	hash               uint32 // high 32 bits of the key's hash: the home slot, without rehashing the key
	proto              uint8
	state              tcpState
	flags              uint8
}

func (e *connEntry) is(k *connKey) bool {
	return e.aLo == k.aLo && e.bLo == k.bLo && e.meta == k.meta && e.aHi == k.aHi && e.bHi == k.bHi &&
		e.proto == k.proto && e.flags&entUsed != 0
}

func (e *connEntry) initA() bool { return e.flags&entInitA != 0 }

// table is a bounded connection-tracking table shared by the ENIs of one replay: open addressing with linear
// probing over a power-of-two array of entries, kept at most 3/4 full, deletion by backward shift (no
// tombstones). An entry's home slot is the top bits of its hash (kept in the entry), so the home order does
// not change when the table doubles: growing reads the old array and writes the new one nearly sequentially,
// without rehashing a key. At the bound (max entries), inserting evicts by a clock sweep (second chance): the hand skips
// and clears entries touched since it last passed, and takes the first that was not; an expired one is
// reclaimed (counted in expired), a live one is counted in evicted; a reply to an evicted connection is then
// judged as if no request was seen. The table grows by doubling up to the size the bound needs, so memory
// follows the number of connections, not the input.
type table struct {
	slots []connEntry
	mem   *slotMem // owns slots when they are off the Go heap (see allocSlots)
	mask  uint64
	shift uint8 // home slot of hash h: h >> shift (64 - log2 len(slots))
	n     int
	grow  int // n at which to double (3/4 of len(slots))
	hand  uint64
	max   int

	evicted, expired, untracked int64
	peak                        int
}

// Tables start at minTableSlots (256 KiB) and grow by 4 while under bigTableSlots (16 MiB), then by 2 (memory
// stays within twice what the connections need), up to the size the bound needs (maxSlots).
const (
	minTableSlots = 1 << 12
	bigTableSlots = 1 << 18
)

// maxSlots is the size that holds t.max entries at most 3/4 full (0: unbounded).
func (t *table) maxSlots() int {
	if t.max <= 0 {
		return 0
	}
	s := minTableSlots
	for s/4*3 < t.max {
		s <<= 1
	}
	return s
}

func newTable(max int) table { return table{max: max} }

// hashedKey is a connection key with its hash, computed once per record.
type hashedKey struct {
	k      connKey
	h      uint64
	srcIsA bool
	ok     bool // set: k, h and srcIsA are those of the record (see compactFlow.key)
}

// home is the slot where a key of hash h starts its probe run.
func (t *table) home(h uint64) uint64 { return h >> t.shift }

// entryHome is home for an entry's stored hash (the hash's high 32 bits; tables stay below 2^32 slots).
func (t *table) entryHome(e *connEntry) uint64 { return uint64(e.hash) >> (t.shift - 32) }

func (t *table) find(k *connKey, h uint64) int32 {
	if t.n == 0 {
		return -1
	}
	for i := t.home(h); ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.flags&entUsed == 0 {
			return -1
		}
		if e.is(k) {
			return int32(i)
		}
	}
}

// peek prefetches the home slot of k and the next one: the worker calls it for the rows it will judge next,
// so that their cache misses overlap instead of stalling one record at a time. A slot is a cache line, and
// a lookup that misses (a new connection: half the records of a large replay) reads the home slot's run up
// to the first empty slot, two slots or more once the table is half full.
func (t *table) peek(h uint64) {
	if t.slots != nil {
		i := t.home(h)
		prefetch2(unsafe.Pointer(&t.slots[i]), unsafe.Pointer(&t.slots[(i+1)&t.mask]))
	}
}

func (t *table) live(i int32, now int64) bool {
	e := &t.slots[i]
	return now-e.last <= int64(e.timeout)
}

// touch marks i as recently used (the clock hand spares it once).
func (t *table) touch(i int32) { t.slots[i].flags |= entRef }

// remove deletes slot i, shifting back the entries of its probe run so that no lookup stops early. Only
// entries after i move.
func (t *table) remove(i int32) {
	j := uint64(i)
	for {
		t.slots[j] = connEntry{}
		k := j
		for {
			k = (k + 1) & t.mask
			e := &t.slots[k]
			if e.flags&entUsed == 0 {
				t.n--
				return
			}
			home := t.entryHome(e)
			// e may fill the hole at j unless its home lies cyclically in (j, k].
			if (k > j && (home <= j || home > k)) || (k < j && home <= j && home > k) {
				t.slots[j] = *e
				j = k
				break
			}
		}
	}
}

// evictOne frees one slot by the clock sweep; now is the current record time, for the accounting.
func (t *table) evictOne(now int64) {
	for {
		h := t.hand & t.mask
		e := &t.slots[h]
		switch {
		case e.flags&entUsed == 0:
		case now-e.last > int64(e.timeout):
			t.expired++
			t.remove(int32(h)) // the hand stays: an entry may have shifted into h
			return
		case e.flags&entRef != 0:
			e.flags &^= entRef
		default:
			t.evicted++
			t.remove(int32(h))
			return
		}
		t.hand++
	}
}

// resize moves the entries to a new array of size slots. Homes keep their order, so walking the old array
// in order writes the new one nearly sequentially (an entry whose probe run wrapped past the end is met
// first, at the start of the old array, and placed near the end of the new one: still a valid table).
func (t *table) resize(size int) {
	old, oldMem := t.slots, t.mem
	t.slots, t.mem = allocSlots(size)
	t.mask = uint64(size - 1)
	t.shift = uint8(64 - bits.TrailingZeros64(uint64(size)))
	t.grow = size / 4 * 3
	t.hand = 0
	for i := range old {
		if e := &old[i]; e.flags&entUsed != 0 {
			j := t.entryHome(e)
			for t.slots[j].flags&entUsed != 0 {
				j = (j + 1) & t.mask
			}
			t.slots[j] = *e
		}
	}
	oldMem.free()
}

// release frees the slots now (the table is empty and unusable until it grows again).
func (t *table) release() {
	t.mem.free()
	t.slots, t.mem, t.n, t.grow, t.mask = nil, nil, 0, 0, 0
}

// insert adds k (not present) and returns its slot, valid until the next insert or remove; now is the
// current record time, for eviction accounting.
func (t *table) insert(k *connKey, h uint64, now int64) int32 {
	if t.max > 0 && t.n >= t.max && t.n > 0 {
		t.evictOne(now)
	}
	if t.slots == nil {
		t.resize(minTableSlots)
	} else if t.n >= t.grow {
		size := 2 * len(t.slots)
		if size < bigTableSlots {
			size *= 2
		}
		if m := t.maxSlots(); m > 0 {
			size = max(min(size, m), 2*len(t.slots))
		}
		t.resize(size)
	}
	i := t.home(h)
	for t.slots[i].flags&entUsed != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = connEntry{aHi: k.aHi, aLo: k.aLo, bHi: k.bHi, bLo: k.bLo, meta: k.meta, proto: k.proto, flags: entUsed,
		hash: uint32(h >> 32)}
	t.n++
	if t.n > t.peak {
		t.peak = t.n
	}
	return int32(i)
}
