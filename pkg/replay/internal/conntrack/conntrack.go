// Package conntrack is the bounded connection-tracking table of a replay: connections keyed per ENI in
// canonical form, with who initiated, TCP state and idle timeout, evicted by a clock sweep at the bound.
package conntrack

import (
	"math/bits"
	"unsafe"
)

// Key identifies one connection on one ENI in canonical form: the two endpoints ordered (a <= b), so that a
// request and its reply find the same entry with one lookup; the entry says which endpoint initiated.
// Protocols other than TCP/UDP are keyed by address pair + protocol (ports zero) [CT]. The key holds no
// pointers, so the garbage collector does not scan the table. The zero Key is no connection; set one with
// Set.
type Key struct {
	aHi, aLo, bHi, bLo uint64
	// meta packs the ENI index (high 32 bits) and the ports (a's in bits 16-31, b's in 0-15).
	meta  uint64
	proto uint8
}

// Set sets k to the key of a packet's connection on ENI eni, from its addresses' 16-byte forms as two
// big-endian words each (IPv4 as IPv4-mapped IPv6), and reports whether the packet's source is endpoint a.
// It writes through k field by field: building the key on the stack and copying it reloaded words just
// stored, a store-forwarding stall that cost more than the rest of the function.
func (k *Key) Set(eni int32, srcHi, srcLo, dstHi, dstLo uint64, srcPort, dstPort uint16, proto uint8) (srcIsA bool) {
	aHi, aLo, bHi, bLo, aPort, bPort := srcHi, srcLo, dstHi, dstLo, srcPort, dstPort
	if proto != 6 && proto != 17 {
		aPort, bPort = 0, 0
	}
	srcIsA = aHi < bHi || (aHi == bHi && (aLo < bLo || (aLo == bLo && aPort <= bPort)))
	if !srcIsA {
		aHi, aLo, bHi, bLo, aPort, bPort = bHi, bLo, aHi, aLo, bPort, aPort
	}
	k.aHi, k.aLo, k.bHi, k.bLo = aHi, aLo, bHi, bLo
	k.meta, k.proto = uint64(uint32(eni))<<32|uint64(aPort)<<16|uint64(bPort), proto
	return srcIsA
}

// Hash mixes every word of the key (a fixed seed: replays are reproducible, including which connections are
// evicted at the bound). Compute it once per record and pass it to Peek, Find and Insert.
func (k *Key) Hash() uint64 {
	const m1, m2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9
	h := (k.aLo ^ k.aHi*m2) * m1
	h = (h ^ h>>29 ^ k.bLo ^ bits.RotateLeft64(k.bHi, 17)) * m2
	h = (h ^ h>>31 ^ k.meta ^ uint64(k.proto)<<56) * m1
	return h ^ h>>32
}

// TCPState is where a tracked TCP connection stands, as far as logged tcp-flags tell; the caller picks the
// idle timeout from it.
type TCPState uint8

const (
	TCPEstablished TCPState = iota // also "state unknown": records without tcp-flags
	TCPHalfOpen                    // a SYN was logged and no SYN-ACK yet
	TCPClosing                     // a FIN or RST was logged
)

// entry flags
const (
	entUsed    = 1 << iota // slot holds a connection
	entInitA               // endpoint a initiated the connection (sent the request)
	entReplied             // a reply was seen
	entRef                 // touched since the clock hand last passed (second chance)
)

// Entry is one slot of the table: the key and the connection's state in 64 bytes, one cache line, so that a
// lookup usually costs one miss. The table sets the key; the caller owns the exported fields, which Insert
// zeroes.
type Entry struct {
	aHi, aLo, bHi, bLo uint64
	meta               uint64
	Last               int64  // last activity, record time (Unix s); Live compares it with Timeout
	Packets            uint32 // for the caller (a replay counts packets on the connection, saturating)
	Timeout            int32  // idle timeout in seconds
	hash               uint32 // high 32 bits of the key's hash: the home slot, without rehashing the key
	proto              uint8
	State              TCPState // for the caller, which picks Timeout from it
	flags              uint8
}

func (e *Entry) is(k *Key) bool {
	return e.aLo == k.aLo && e.bLo == k.bLo && e.meta == k.meta && e.aHi == k.aHi && e.bHi == k.bHi &&
		e.proto == k.proto && e.flags&entUsed != 0
}

// InitiatorIsA reports whether endpoint a of the key (see Key.Set's srcIsA) initiated the connection.
func (e *Entry) InitiatorIsA() bool { return e.flags&entInitA != 0 }

// SetInitiatorIsA records that endpoint a initiated the connection (new entries say b did).
func (e *Entry) SetInitiatorIsA() { e.flags |= entInitA }

// Replied reports whether SetReplied was called: a reply was seen on the connection.
func (e *Entry) Replied() bool { return e.flags&entReplied != 0 }

// SetReplied records that a reply was seen on the connection.
func (e *Entry) SetReplied() { e.flags |= entReplied }

// Stats is what a table did. Tables of disjoint connections (a replay's workers) add up with Add; Peak and
// Max are then sums, a bound on the whole rather than a simultaneous figure.
type Stats struct {
	Evicted   int64 // live connections evicted at the bound
	Expired   int64 // connections removed idle past their timeout: by the sweep at the bound, or Expire
	Untracked int64 // admitted connections the caller chose not to insert (the table never counts these)
	Peak      int   // most entries held at once
	Max       int   // the bound (0: unbounded)
}

// Add adds o's counts to s.
func (s *Stats) Add(o *Stats) {
	s.Evicted += o.Evicted
	s.Expired += o.Expired
	s.Untracked += o.Untracked
	s.Peak += o.Peak
	s.Max += o.Max
}

// Table is a bounded connection-tracking table shared by the ENIs of one replay: open addressing with linear
// probing over a power-of-two array of entries, kept at most 3/4 full, deletion by backward shift (no
// tombstones). An entry's home slot is the top bits of its hash (kept in the entry), so the home order does
// not change when the table doubles: growing reads the old array and writes the new one nearly sequentially,
// without rehashing a key. At the bound (max entries), Insert evicts by a clock sweep (second chance): the
// hand skips and clears entries touched since it last passed, and takes the first that was not; an expired
// one is reclaimed (counted in Stats.Expired), a live one is counted in Stats.Evicted; a later Find of an
// evicted connection misses. The table grows by doubling up to the size the bound needs, so memory follows the
// number of connections, not the input. The table owns its slots (on Linux, large ones outside the Go heap):
// slot indexes and Entry pointers are valid until the next Insert, Remove, Expire or Release.
//
// Time is record time (Unix seconds from the flow log), never the wall clock: the caller passes it in and
// sets each entry's Last and Timeout; the table only compares them. The zero Table is empty and unbounded.
// A Table is not safe for concurrent use (a replay keeps one per worker).
type Table struct {
	slots []Entry
	mem   *slotMem // owns slots when they are off the Go heap (see allocSlots)
	mask  uint64
	shift uint8 // home slot of hash h: h >> shift (64 - log2 len(slots))
	n     int
	grow  int // n at which to double (3/4 of len(slots))
	hand  uint64
	max   int

	// Stats counts what the table did; the caller adds Untracked, and a replay merges its tables' Stats.
	Stats Stats
}

// Tables start at minTableSlots (256 KiB) and grow by 4 while under bigTableSlots (16 MiB), then by 2 (memory
// stays within twice what the connections need), up to the size the bound needs (maxSlots).
const (
	minTableSlots = 1 << 12
	bigTableSlots = 1 << 18
)

// maxSlots is the size that holds t.max entries at most 3/4 full (0: unbounded).
func (t *Table) maxSlots() int {
	if t.max <= 0 {
		return 0
	}
	s := minTableSlots
	for s/4*3 < t.max {
		s <<= 1
	}
	return s
}

// New returns an empty table of at most max entries (max <= 0: unbounded). It allocates nothing until the
// first Insert.
func New(max int) Table { return Table{max: max, Stats: Stats{Max: max}} }

// home is the slot where a key of hash h starts its probe run.
func (t *Table) home(h uint64) uint64 { return h >> t.shift }

// entryHome is home for an entry's stored hash (the hash's high 32 bits; tables stay below 2^32 slots).
func (t *Table) entryHome(e *Entry) uint64 { return uint64(e.hash) >> (t.shift - 32) }

// Find returns the slot of k (h is k.Hash()), or -1 when the table does not hold it.
func (t *Table) Find(k *Key, h uint64) int32 {
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

// Peek prefetches the home slot of hash h and the next one, without waiting: a caller that knows the next
// keys it will look up peeks them ahead, so that their cache misses overlap instead of stalling one lookup
// at a time. A slot is a cache line, and a lookup that misses (a new connection: half the records of a large
// replay) reads the home slot's run up to the first empty slot, two slots or more once the table is half
// full. Peek has no effect on the table's contents.
func (t *Table) Peek(h uint64) {
	if t.slots != nil {
		i := t.home(h)
		prefetch2(unsafe.Pointer(&t.slots[i]), unsafe.Pointer(&t.slots[(i+1)&t.mask]))
	}
}

// Entry returns slot i (from Find or Insert), valid until the next Insert, Remove, Expire or Release.
func (t *Table) Entry(i int32) *Entry { return &t.slots[i] }

// Live reports whether slot i is within its idle timeout at record time now: now - Last <= Timeout.
func (t *Table) Live(i int32, now int64) bool {
	e := &t.slots[i]
	return now-e.Last <= int64(e.Timeout)
}

// Touch marks slot i as recently used: the clock hand spares it once.
func (t *Table) Touch(i int32) { t.slots[i].flags |= entRef }

// Expire removes slot i, found not Live, and counts it in Stats.Expired.
func (t *Table) Expire(i int32) {
	t.Remove(i)
	t.Stats.Expired++
}

// Remove deletes slot i, shifting back the entries of its probe run so that no lookup stops early. Only
// entries after i move.
func (t *Table) Remove(i int32) {
	j := uint64(i)
	for {
		t.slots[j] = Entry{}
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
func (t *Table) evictOne(now int64) {
	for {
		h := t.hand & t.mask
		e := &t.slots[h]
		switch {
		case e.flags&entUsed == 0:
		case now-e.Last > int64(e.Timeout):
			t.Stats.Expired++
			t.Remove(int32(h)) // the hand stays: an entry may have shifted into h
			return
		case e.flags&entRef != 0:
			e.flags &^= entRef
		default:
			t.Stats.Evicted++
			t.Remove(int32(h))
			return
		}
		t.hand++
	}
}

// resize moves the entries to a new array of size slots. Homes keep their order, so walking the old array
// in order writes the new one nearly sequentially (an entry whose probe run wrapped past the end is met
// first, at the start of the old array, and placed near the end of the new one: still a valid table).
func (t *Table) resize(size int) {
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

// Release frees the slots now, without waiting for the garbage collector. The table is then empty (Stats
// are kept) and allocates again on the next Insert.
func (t *Table) Release() {
	t.mem.free()
	t.slots, t.mem, t.n, t.grow, t.mask = nil, nil, 0, 0, 0
}

// Insert adds k (h is k.Hash(); the table must not hold k) with its fields zero and returns its slot. At the
// bound it first evicts one entry (see Table); now is the current record time, which decides whether that
// entry is counted as expired or evicted.
func (t *Table) Insert(k *Key, h uint64, now int64) int32 {
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
	t.slots[i] = Entry{aHi: k.aHi, aLo: k.aLo, bHi: k.bHi, bLo: k.bLo, meta: k.meta, proto: k.proto, flags: entUsed,
		hash: uint32(h >> 32)}
	t.n++
	if t.n > t.Stats.Peak {
		t.Stats.Peak = t.n
	}
	return int32(i)
}
