package ingest

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// bufPool recycles the column buffers of record batches by power-of-two size class. A batch's buffers
// come back when the consumer releases the last reference to its record (Arrow calls Free), so in steady
// state parsing allocates no column memory: neither the GC nor the kernel has to clear fresh pages for
// every chunk. Buffers from the pool are not zeroed; a batch writes every byte it exposes. It holds at
// most maxPoolHeld bytes; beyond that, freed buffers are left to the GC. Safe for concurrent use; a nil
// *bufPool allocates plainly and recycles nothing.
type bufPool struct {
	mu   sync.Mutex
	free [poolClasses][][]byte
	held int
}

const (
	minClassShift = 12 // smallest class: 4 KiB
	poolClasses   = 16 // largest class: 128 MiB
	maxPoolHeld   = 64 << 20
)

var _ memory.Allocator = (*bufPool)(nil)

// sizeClass is the smallest class that holds n bytes.
func sizeClass(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassShift
}

// get returns a buffer of n bytes with arbitrary contents.
func (p *bufPool) get(n int) []byte {
	if p == nil {
		return make([]byte, n)
	}
	c := sizeClass(n)
	if c >= poolClasses {
		return make([]byte, n)
	}
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		p.held -= cap(b)
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]byte, n, 1<<(c+minClassShift))
}

// put hands b back for reuse; b must not be used afterwards. Buffers that did not come from get are
// ignored.
func (p *bufPool) put(b []byte) {
	if p == nil {
		return
	}
	c := sizeClass(cap(b))
	if c >= poolClasses || cap(b) != 1<<(c+minClassShift) {
		return
	}
	p.mu.Lock()
	if p.held+cap(b) <= maxPoolHeld {
		p.free[c] = append(p.free[c], b[:0])
		p.held += cap(b)
	}
	p.mu.Unlock()
}

// buffer wraps b, which came from get, as an Arrow buffer that returns it to the pool when released.
// The caller owns the one reference.
func (p *bufPool) buffer(b []byte) *memory.Buffer {
	if p == nil {
		return memory.NewBufferBytes(b)
	}
	return memory.NewBufferWithAllocator(b, p)
}

// Allocate, Reallocate and Free make the pool the memory.Allocator of the buffers it hands to Arrow.
func (p *bufPool) Allocate(size int) []byte { return p.get(size) }

func (p *bufPool) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := p.get(size)
	copy(nb, b)
	p.put(b)
	return nb
}

func (p *bufPool) Free(b []byte) { p.put(b) }
