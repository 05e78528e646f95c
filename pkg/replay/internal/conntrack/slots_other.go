//go:build !linux

package conntrack

// slotMem owns a table's off-heap slots; elsewhere than Linux the slots are on the Go heap.
type slotMem struct{}

func (sm *slotMem) free() {}

func allocSlots(n int) ([]Entry, *slotMem) { return make([]Entry, n), nil }
