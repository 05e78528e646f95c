package arrowutil

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Prefetch returns a reader that reads src on its own goroutine, up to depth records ahead of the consumer.
//
// A consumer such as DuckDB's Arrow scan calls Next from its worker threads under a lock: whatever src does in
// Next (for analyze: ordering and dispatching the replay, interning strings) would run there, one batch at a
// time, while the scan's other threads wait for their next batch. With Prefetch that work overlaps with
// the consumer's. The returned reader takes ownership of src's reference: Release stops the goroutine (after
// the src.Next call in progress) and releases src. src's Err is reported once the records before it were read.
func Prefetch(src array.RecordReader, depth int) array.RecordReader {
	p := &prefetcher{src: src, schema: src.Schema(), ch: make(chan arrow.Record, max(depth, 1)), stop: make(chan struct{})}
	p.refs.Store(1)
	p.wg.Add(1)
	go p.run()
	return p
}

type prefetcher struct {
	refs   atomic.Int64
	src    array.RecordReader
	schema *arrow.Schema
	ch     chan arrow.Record
	stop   chan struct{}
	wg     sync.WaitGroup
	cur    arrow.Record
	err    error // src's, valid once ch is closed
}

func (p *prefetcher) run() {
	defer p.wg.Done()
	defer close(p.ch)
	for p.src.Next() {
		rec := p.src.Record()
		rec.Retain()
		select {
		case p.ch <- rec:
		case <-p.stop:
			rec.Release()
			return
		}
	}
	p.err = p.src.Err()
}

func (p *prefetcher) Schema() *arrow.Schema { return p.schema }
func (p *prefetcher) Record() arrow.Record  { return p.cur }
func (p *prefetcher) Retain()               { p.refs.Add(1) }

// Err is src's error, once Next has returned false.
func (p *prefetcher) Err() error { return p.err }

func (p *prefetcher) Next() bool {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	rec, ok := <-p.ch
	if !ok {
		return false // p.err was set before ch was closed
	}
	p.cur = rec
	return true
}

func (p *prefetcher) Release() {
	if p.refs.Add(-1) != 0 {
		return
	}
	close(p.stop)
	for rec := range p.ch { // unblocks the goroutine's send; ends when it closes ch
		rec.Release()
	}
	p.wg.Wait()
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	p.src.Release()
}
