package replay

// reorder is a bounded reorder buffer keyed by record start (Unix seconds): a ring of one bucket per second
// covering [base, base+window]. A record is released (judged) once the newest start seen is more than window
// seconds later than its own, so every ENI's records are judged in start order as long as none arrives more than
// window seconds after a newer one. Within one second, records that look like requests (SYN, or a service
// destination port) go before those that look like replies, else arrival order. Records older than base are
// late: judged at once and counted. When more than max records are held, the oldest seconds are released
// early (counted in forced).
type reorder struct {
	window   int64
	max      int
	ring     []bucket
	spare    []*block // released blocks, reused
	mask     int64
	base     int64 // every second below base has been released
	maxStart int64
	started  bool
	n        int

	forced int64
}

// bucket holds one second's records, request-like then reply-like, in fixed-size blocks: appending never
// copies what is already buffered, and released blocks are reused.
type bucket struct {
	blocks [2][]*block
	n      [2]int
}

const blockLen = 64

type block [blockLen]pending

// pending is one buffered record: the parsed row itself, its input record (queue sequence number) and row.
// Holding the parsed row (not a reference into its batch) makes releasing a second's records a sequential read
// instead of a cache miss per record into whichever of the window's batches it came from. No pointers: the
// garbage collector does not scan the buffer.
type pending struct {
	f   cflow
	seq uint32
	row int32
}

// releaseFunc receives a released record; p is only valid during the call.
type releaseFunc func(p *pending, late bool)

func newReorder(windowSecs int64, max int) reorder {
	r := reorder{window: windowSecs, max: max}
	if windowSecs < 0 {
		return r
	}
	size := int64(1)
	for size < windowSecs+2 {
		size <<= 1
	}
	r.ring = make([]bucket, size)
	r.mask = size - 1
	return r
}

func (r *reorder) disabled() bool { return r.window < 0 }

// push buffers a record starting at s (tie: 0 request-like, 1 reply-like, see inferRole) and releases what the
// window lets go, in order, through judge. A record older than what was already released is judged at once
// with late set.
func (r *reorder) push(s int64, tie int, p *pending, judge releaseFunc) {
	if r.window < 0 {
		judge(p, false)
		return
	}
	if !r.started {
		r.started = true
		r.base, r.maxStart = s-r.window, s
	}
	if s < r.base {
		judge(p, true)
		return
	}
	if s > r.maxStart {
		r.maxStart = s
		r.releaseBelow(s-r.window, judge)
	}
	b := &r.ring[s&r.mask]
	i := b.n[tie]
	if i%blockLen == 0 {
		var blk *block
		if k := len(r.spare); k > 0 {
			blk, r.spare = r.spare[k-1], r.spare[:k-1]
		} else {
			blk = new(block)
		}
		b.blocks[tie] = append(b.blocks[tie], blk)
	}
	b.blocks[tie][i/blockLen][i%blockLen] = *p
	b.n[tie] = i + 1
	r.n++
	for r.n > r.max {
		before := r.n
		r.releaseBelow(r.base+1, judge)
		r.forced += int64(before - r.n)
	}
}

// releaseBelow judges every buffered record with start < to, in order, and moves base to to.
func (r *reorder) releaseBelow(to int64, judge releaseFunc) {
	if to <= r.base {
		return
	}
	end := to
	if end-r.base > int64(len(r.ring)) {
		end = r.base + int64(len(r.ring))
	}
	for s := r.base; s < end && r.n > 0; s++ {
		b := &r.ring[s&r.mask]
		for t := range b.blocks {
			n := b.n[t]
			for k, blk := range b.blocks[t] {
				for i := range min(n-k*blockLen, blockLen) {
					judge(&blk[i], false)
				}
				r.spare = append(r.spare, blk)
				b.blocks[t][k] = nil
			}
			r.n -= n
			b.blocks[t], b.n[t] = b.blocks[t][:0], 0
		}
	}
	r.base = to
}

// flush releases everything.
func (r *reorder) flush(judge releaseFunc) {
	if r.window < 0 || !r.started {
		return
	}
	r.releaseBelow(r.maxStart+1, judge)
}
