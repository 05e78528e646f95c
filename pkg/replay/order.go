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
	mask     int64
	base     int64 // every second below base has been released
	maxStart int64
	started  bool
	n        int

	forced int64
}

// bucket holds one second's records, request-like then reply-like; slices are reused after release.
type bucket struct{ recs [2][]pending }

// pending is one buffered record: its input record (queue sequence number), row and ENI. 12 bytes, no
// pointers; the parsed row stays in its batch.
type pending struct {
	seq uint32
	row int32
	eni int32
}

type releaseFunc func(p pending, late bool)

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
func (r *reorder) push(s int64, tie int, p pending, judge releaseFunc) {
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
	b.recs[tie] = append(b.recs[tie], p)
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
		for t := range b.recs {
			for _, p := range b.recs[t] {
				judge(p, false)
			}
			r.n -= len(b.recs[t])
			b.recs[t] = b.recs[t][:0]
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
