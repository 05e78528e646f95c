package replay

import "unsafe"

// prefetch asks the CPU to load the cache line at p without waiting for it (PREFETCHT0): the memory may
// be anything mapped, and nothing is read into a register.
//
//go:noescape
func prefetch(p unsafe.Pointer)
