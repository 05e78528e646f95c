package replay

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestTableAgainstMap checks the open-addressing table against a Go map through random inserts, lookups and
// removals (backward-shift deletion must never hide an entry), growth, and the bound.
func TestTableAgainstMap(t *testing.T) {
	for _, max := range []int{0, 1, 300, 50000} {
		rng := rand.New(rand.NewPCG(3, uint64(max)))
		tb := newTable(max)
		ref := map[connKey]bool{}
		key := func() connKey {
			// few distinct keys, so that removals and re-inserts collide in probe runs
			var k connKey
			canonWords(&k, int32(rng.IntN(3)), 0, uint64(rng.IntN(50)), 0, uint64(rng.IntN(50)), uint16(rng.IntN(4)), 443, 6)
			return k
		}
		steps := 200000
		if max > 0 && max < 50000 {
			steps = 5000
		}
		for step := 0; step < steps; step++ {
			k := key()
			i := tb.find(&k, k.hash())
			if (i >= 0) != ref[k] && (max == 0 || max >= 50000) {
				t.Fatalf("max %d step %d: find = %d, map has %v", max, step, i, ref[k])
			}
			if i >= 0 && !ref[k] {
				t.Fatalf("max %d step %d: found a key that was never inserted or was removed", max, step)
			}
			switch {
			case i >= 0 && rng.IntN(3) == 0:
				tb.remove(i)
				delete(ref, k)
			case i < 0:
				tb.insert(&k, k.hash(), int64(step))
				ref[k] = true
			}
			if max > 0 && tb.n > max {
				t.Fatalf("max %d: %d entries", max, tb.n)
			}
			if len(ref) > tb.n {
				// evicted keys: drop from the reference those the table no longer has
				for rk := range ref {
					if tb.find(&rk, rk.hash()) < 0 {
						delete(ref, rk)
					}
				}
			}
			if len(ref) != tb.n {
				t.Fatalf("max %d step %d: %d entries, map has %d", max, step, tb.n, len(ref))
			}
		}
		if max > 0 && max < 50000 && tb.evicted+tb.expired == 0 {
			t.Errorf("max %d: no evictions", max)
		}
	}
}

// TestConnEntrySize: a table slot is one cache line.
func TestConnEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(connEntry{}); s != 64 {
		t.Errorf("connEntry is %d bytes, want 64", s)
	}
}
