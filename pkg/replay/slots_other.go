//go:build !linux

package replay

// slotMem owns a table's off-heap slots; elsewhere than Linux the slots are on the Go heap.
type slotMem struct{}

func (sm *slotMem) free() {}

func allocSlots(n int) ([]connEntry, *slotMem) { return make([]connEntry, n), nil }
