package conntrack

import (
	"runtime"
	"syscall"
	"unsafe"
)

// Large tracking tables live outside the Go heap, in anonymous mappings advised to use transparent huge
// pages: the table is read at random (one cache line per record), so with 4 KiB pages nearly every lookup
// also misses the TLB, and filling a fresh table costs a page fault per 4 KiB. The slots hold no pointers,
// so the garbage collector never needs to see them. A mapping is unmapped when its table grows and, through
// a cleanup, when the slots' owner (a slotMem) becomes unreachable.

const (
	hugePage     = 2 << 20
	madvHugePage = 14 // MADV_HUGEPAGE, the same on every Linux architecture
)

// slotMem owns the mapping behind a table's slots (nil mapping: slots on the Go heap).
type slotMem struct {
	m       []byte // the whole mapping (slots start at its first huge-page boundary)
	cleanup runtime.Cleanup
}

// free unmaps now; the slots must not be used after.
func (sm *slotMem) free() {
	if sm != nil && sm.m != nil {
		sm.cleanup.Stop()
		syscall.Munmap(sm.m)
		sm.m = nil
	}
}

// allocSlots returns n zeroed slots; for tables of at least a huge page, in a huge-page-aligned mapping
// owned by the returned slotMem (freed by free or when the slotMem is unreachable).
func allocSlots(n int) ([]Entry, *slotMem) {
	size := n * int(unsafe.Sizeof(Entry{}))
	if size < hugePage {
		return make([]Entry, n), nil
	}
	m, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]Entry, n), nil
	}
	off := 0
	if r := uintptr(unsafe.Pointer(&m[0])) % hugePage; r != 0 {
		off = int(hugePage - r)
	}
	_ = syscall.Madvise(m[off:off+size], madvHugePage) // a hint: ignored where transparent huge pages are off
	sm := &slotMem{m: m}
	sm.cleanup = runtime.AddCleanup(sm, func(m []byte) { syscall.Munmap(m) }, m)
	return unsafe.Slice((*Entry)(unsafe.Pointer(&m[off])), n), sm
}
