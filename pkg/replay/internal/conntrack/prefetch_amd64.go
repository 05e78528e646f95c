package conntrack

import "unsafe"

// prefetch2 asks the CPU to load the cache lines at p and q without waiting for them (PREFETCHT0): the
// memory may be anything mapped, and nothing is read into a register. Two lines per call, because the call
// (Go cannot inline assembly) costs more than the instructions.
//
//go:noescape
func prefetch2(p, q unsafe.Pointer)
