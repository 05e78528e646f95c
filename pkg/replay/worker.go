package replay

import (
	"strings"
)

// shard is one judging goroutine's input and state.
type shard struct {
	st    *State
	ids   shardIDs
	in    chan chunk
	ro    reorder   // the worker's
	now   []pending // the worker's: rows of the chunk being judged on arrival
	items []item    // being filled by the reader goroutine
	marks []mark    // clock moves between items (reader goroutine)
	base  int64     // the clock's base as the shard last heard of it (reader goroutine)
	told  bool      // base is set
	sent  uint64    // chunks sent (reader goroutine)
	want  uint64    // chunks some record waits for: sent up to here even if empty (reader goroutine)
	done  uint64    // chunks judged (guarded by Reader.mu)

	badAddrs                int64 // the worker's
	unexplainedEx, disagrEx []string
	unknownIfaces           map[string]struct{} // distinct interface ids not in the model
}

// chunk is a run of rows for one shard, in arrival order, with the clock's moves among them (marks) and its
// base when the chunk was sent: the worker buffers the rows and releases (judges) what the clock lets go.
// slots is the Reader's queue when the chunk was sent, from sequence number head: every record that a row
// the worker holds belongs to is in it.
type chunk struct {
	rows  []item
	marks []mark
	base  int64
	slots []*batchSlot
	head  uint32
}

const chunkItems = 1024

// chunkBufs are a chunk's buffers, reused.
type chunkBufs struct {
	rows  []item
	marks []mark
}

// dispatch sends every shard's pending items, and the clock's base to the shards that a released record
// waits for.
func (r *Reader) dispatch() {
	for _, sh := range r.shards {
		if len(sh.items) > 0 || sh.sent < sh.want {
			r.send(sh)
		}
	}
}

func (r *Reader) send(sh *shard) {
	sh.in <- chunk{rows: sh.items, marks: sh.marks, base: r.clk.base, slots: r.queue, head: r.headSeq}
	sh.sent++
	sh.items, sh.marks = nil, nil
	sh.base, sh.told = r.clk.base, true
}

// wait blocks until the workers have judged every row of s (all released, and dispatched).
func (r *Reader) wait(s *batchSlot) {
	r.dispatch()
	r.mu.Lock()
	for k, sh := range r.shards {
		for sh.done < s.need[k] {
			r.progress.Wait()
		}
	}
	r.mu.Unlock()
}

// work buffers one shard's chunks and judges its records as the clock releases them.
func (r *Reader) work(sh *shard) {
	defer r.wg.Done()
	q := judgeQueue{r: r, sh: sh}
	for c := range sh.in {
		q.slots, q.head = c.slots, c.head
		m := 0
		for i := range c.rows {
			for ; m < len(c.marks) && c.marks[m].at == i; m++ {
				sh.ro.releaseBelow(c.marks[m].base, &q)
				q.flush() // before the next push reuses released blocks
			}
			// The row is parsed where it is kept: parsing aside and copying it in reloaded fields just
			// stored, a store-forwarding stall.
			it := &c.rows[i]
			cols, row := &c.slots[it.seq-c.head].cols, int(it.row)
			var p *pending
			if it.now {
				sh.now = sh.now[:len(sh.now)+1] // within capacity: a chunk has at most chunkItems rows
				p = &sh.now[len(sh.now)-1]
			} else {
				start, _ := cols.start.get(row)
				p = sh.ro.slot(start, cols.reorderRank(row))
			}
			p.seq, p.row = it.seq, it.row
			sh.badAddrs += r.eng.parseRow(cols, row, it.eni, &p.f)
			if it.now {
				p.f.late = it.late
				q.add(p)
			}
		}
		sh.ro.releaseBelow(c.base, &q)
		q.flush()
		sh.now = sh.now[:0]
		r.mu.Lock()
		sh.done++
		r.progress.Broadcast()
		r.mu.Unlock()
		select {
		case r.free <- chunkBufs{c.rows[:0], c.marks[:0]}:
		default:
		}
	}
}

// judgeQueue judges a worker's released records in order, ahead records behind: a record's connection key
// is computed and its table slot loaded when it enters, so that the cache misses of several records overlap
// instead of stalling one record at a time.
type judgeQueue struct {
	r     *Reader
	sh    *shard
	slots []*batchSlot
	head  uint32
	ring  [judgeAhead]*pending
	keys  [judgeAhead]hashedKey
	i, n  int
}

const judgeAhead = 8

func (q *judgeQueue) add(p *pending) {
	if q.n == judgeAhead {
		q.judgeOne()
	}
	j := (q.i + q.n) % judgeAhead
	q.ring[j] = p
	p.f.key(&q.keys[j])
	q.sh.st.ct.Peek(q.keys[j].h)
	q.n++
}

func (q *judgeQueue) judgeOne() {
	p := q.ring[q.i]
	q.r.judgeItem(q.sh, q.slots[p.seq-q.head], p, &q.keys[q.i])
	q.ring[q.i] = nil
	q.i = (q.i + 1) % judgeAhead
	q.n--
}

// flush judges every queued record.
func (q *judgeQueue) flush() {
	for q.n > 0 {
		q.judgeOne()
	}
}

// judgeItem parses a row from its retained record, judges it and stores the verdict (worker goroutine).
func (r *Reader) judgeItem(sh *shard, s *batchSlot, p *pending, hk *hashedKey) {
	row := int(p.row)
	v := r.eng.judgeAt(sh.st, &p.f, hk)
	if p.f.late {
		sh.st.late++
	}
	s.vids[row] = sh.ids.id(r.eng.outKey(&v), &r.verdicts)
	max := r.eng.cfg.MaxExamples
	switch {
	case v.Cause == CauseUnexplained && len(sh.unexplainedEx) < max:
		sh.unexplainedEx = append(sh.unexplainedEx, r.where(s, row))
	case v.ModelAction == Reject && v.Logged == Accept && len(sh.disagrEx) < max:
		sh.disagrEx = append(sh.disagrEx, r.where(s, row))
	case v.Cause == CauseUnknownInterface:
		if id := s.cols.iface.get(row); id != "" {
			if _, ok := sh.unknownIfaces[id]; !ok {
				if sh.unknownIfaces == nil {
					sh.unknownIfaces = map[string]struct{}{}
				}
				sh.unknownIfaces[strings.Clone(id)] = struct{}{} // id points into the input record
			}
		}
	}
}
