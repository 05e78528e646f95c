package replay

// Records are reordered per ENI by record start (Unix seconds), in two halves. The Reader's goroutine keeps
// the clock: it sees every record in arrival order and decides when each second is released. Each shard's
// worker parses the records of its ENIs into a reorder buffer and releases them when the clock says so (the
// clock's base travels with the records, see mark), so a record is written once, by the goroutine that
// judges it, and judged straight from the buffer.
//
// A record is released (judged) once the newest start seen is more than window seconds later than its own, so
// every ENI's records are judged in start order as long as none arrives more than window seconds after a newer
// one. Within one second, records that look like requests (SYN, or a service destination port) go before
// those that look like replies, else arrival order. Records older than base are late: judged at once and
// counted. When more than max records are held, the oldest seconds are released early (counted in forced).

// clock is the reorder buffer's bookkeeping over all shards: a ring of per-second record counts covering
// [base, base+window].
type clock struct {
	window   int64
	max      int
	counts   []int32
	mask     int64
	base     int64 // every second below base has been released
	maxStart int64
	started  bool
	n        int

	forced int64
}

func newClock(windowSecs int64, max int) clock {
	c := clock{window: windowSecs, max: max}
	if windowSecs < 0 {
		return c
	}
	c.counts = make([]int32, ringSize(windowSecs))
	c.mask = int64(len(c.counts) - 1)
	return c
}

// ringSize is the number of one-second buckets a window needs (a power of two).
func ringSize(windowSecs int64) int {
	size := 1
	for int64(size) < windowSecs+2 {
		size <<= 1
	}
	return size
}

// push accounts a record starting at s, first releasing what the window lets go (base moves). now: the
// record is judged on arrival instead of buffered, either because reordering is off or because it is late
// (older than what was already released). The caller then calls bound.
func (c *clock) push(s int64) (now, late bool) {
	if c.window < 0 {
		return true, false
	}
	if !c.started {
		c.started = true
		c.base, c.maxStart = s-c.window, s
	}
	if s < c.base {
		return true, true
	}
	if s > c.maxStart {
		c.maxStart = s
		c.releaseBelow(s - c.window)
	}
	c.counts[s&c.mask]++
	c.n++
	return false, false
}

// bound releases the oldest seconds while more than max records are held. It is separate from push because
// the record just pushed may be among them: its shard must have buffered it first.
func (c *clock) bound() {
	for c.n > c.max {
		before := c.n
		c.releaseBelow(c.base + 1)
		c.forced += int64(before - c.n)
	}
}

// force releases every second below to now, counting the records as released early.
func (c *clock) force(to int64) {
	before := c.n
	c.releaseBelow(to)
	c.forced += int64(before - c.n)
}

// releaseBelow releases every second below to.
func (c *clock) releaseBelow(to int64) {
	if to <= c.base {
		return
	}
	end := min(to, c.base+int64(len(c.counts)))
	for s := c.base; s < end && c.n > 0; s++ {
		c.n -= int(c.counts[s&c.mask])
		c.counts[s&c.mask] = 0
	}
	c.base = to
}

// flush releases everything.
func (c *clock) flush() {
	if c.window >= 0 && c.started {
		c.releaseBelow(c.maxStart + 1)
	}
}

// mark tells a shard that the clock's base was base when the shard's record at index at arrived: the
// shard releases the seconds below it before taking that record.
type mark struct {
	at   int
	base int64
}

// reorder is one shard's buffer: a ring of one bucket per second, like the clock's.
type reorder struct {
	ring    []bucket
	spare   []block // released blocks, reused
	mask    int64
	base    int64
	n       int
	started bool
}

// bucket holds one second's records, request-like then reply-like, in fixed-size blocks: appending never
// copies what is already buffered, and released blocks are reused.
type bucket struct {
	blocks [2][]block
	n      [2]int
}

const blockLen = 64

// block is a slice of blockLen records, not a pointer to an array: indexing a pointer makes the compiler
// check it for nil by reading the block's first byte, and that read, on a block fresh from the OS, mapped the
// shared zero page, which the first write then replaced in a second fault that flushed the TLB of every core
// running the process (an IPI each): about a tenth of the replay's CPU time. A slice is checked against its
// length instead, so a fresh block's first access is a write.
type block []pending

// pending is one buffered record: the parsed row itself, its input record (queue sequence number) and row.
// Holding the parsed row (not a reference into its batch) makes releasing a second's records a sequential read
// instead of a cache miss per record into whichever of the window's batches it came from. No pointers: the
// garbage collector does not scan the buffer.
type pending struct {
	f   compactFlow
	seq uint32
	row int32
}

func newReorder(windowSecs int64) reorder {
	if windowSecs < 0 {
		return reorder{}
	}
	n := ringSize(windowSecs)
	return reorder{ring: make([]bucket, n), mask: int64(n - 1)}
}

// slot returns where to write a record starting at s (not late: at least the base of the last releaseBelow)
// with rank 0 (request-like) or 1 (reply-like).
func (r *reorder) slot(s int64, rank int) *pending {
	b := &r.ring[s&r.mask]
	i := b.n[rank]
	if i%blockLen == 0 {
		var blk block
		if k := len(r.spare); k > 0 {
			blk, r.spare = r.spare[k-1], r.spare[:k-1]
		} else {
			blk = make(block, blockLen)
		}
		b.blocks[rank] = append(b.blocks[rank], blk)
	}
	b.n[rank] = i + 1
	r.n++
	return &b.blocks[rank][i/blockLen][i%blockLen]
}

// releaseBelow hands every buffered record with start < to to q, in order, and moves base to to. The
// records stay valid until the next push.
func (r *reorder) releaseBelow(to int64, q *judgeQueue) {
	if !r.started {
		r.started, r.base = true, to // the first base the shard hears of: nothing is buffered yet
		return
	}
	if to <= r.base {
		return
	}
	end := min(to, r.base+int64(len(r.ring)))
	for s := r.base; s < end && r.n > 0; s++ {
		b := &r.ring[s&r.mask]
		for t := range b.blocks {
			n := b.n[t]
			r.n -= n
			for k, blk := range b.blocks[t] {
				for i := range min(n-k*blockLen, blockLen) {
					q.add(&blk[i])
				}
				r.spare = append(r.spare, blk)
				b.blocks[t][k] = nil
			}
			b.blocks[t], b.n[t] = b.blocks[t][:0], 0
		}
	}
	r.base = to
}
