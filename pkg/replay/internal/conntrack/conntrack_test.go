package conntrack

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
		tb := New(max)
		ref := map[Key]bool{}
		key := func() Key {
			// few distinct keys, so that removals and re-inserts collide in probe runs
			var k Key
			k.Set(int32(rng.IntN(3)), 0, uint64(rng.IntN(50)), 0, uint64(rng.IntN(50)), uint16(rng.IntN(4)), 443, 6)
			return k
		}
		steps := 200000
		if max > 0 && max < 50000 {
			steps = 5000
		}
		for step := 0; step < steps; step++ {
			k := key()
			i := tb.Find(&k, k.Hash())
			if (i >= 0) != ref[k] && (max == 0 || max >= 50000) {
				t.Fatalf("max %d step %d: find = %d, map has %v", max, step, i, ref[k])
			}
			if i >= 0 && !ref[k] {
				t.Fatalf("max %d step %d: found a key that was never inserted or was removed", max, step)
			}
			switch {
			case i >= 0 && rng.IntN(3) == 0:
				tb.Remove(i)
				delete(ref, k)
			case i < 0:
				tb.Insert(&k, k.Hash(), int64(step))
				ref[k] = true
			}
			if max > 0 && tb.n > max {
				t.Fatalf("max %d: %d entries", max, tb.n)
			}
			if len(ref) > tb.n {
				// evicted keys: drop from the reference those the table no longer has
				for rk := range ref {
					if tb.Find(&rk, rk.Hash()) < 0 {
						delete(ref, rk)
					}
				}
			}
			if len(ref) != tb.n {
				t.Fatalf("max %d step %d: %d entries, map has %d", max, step, tb.n, len(ref))
			}
		}
		if max > 0 && max < 50000 && tb.Stats.Evicted+tb.Stats.Expired == 0 {
			t.Errorf("max %d: no evictions", max)
		}
	}
}

// TestConnEntrySize: a table slot is one cache line.
func TestConnEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(Entry{}); s != 64 {
		t.Errorf("Entry is %d bytes, want 64", s)
	}
}

// TestKeySet: a request and its reply share one key with opposite srcIsA; ports count only for TCP and UDP;
// the ENI is part of the key.
func TestKeySet(t *testing.T) {
	const client, server = 0xffff_0a00_0001, 0xffff_0a00_0002 // 10.0.0.1, 10.0.0.2 IPv4-mapped, low words
	for _, tc := range []struct {
		name  string
		proto uint8
		ports bool // whether different ports make different keys
	}{
		{"tcp", 6, true},
		{"udp", 17, true},
		{"icmp", 1, false},
		{"gre", 47, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req, rep, other, otherENI Key
			reqA := req.Set(3, 0, client, 0, server, 50000, 443, tc.proto)
			repA := rep.Set(3, 0, server, 0, client, 443, 50000, tc.proto)
			other.Set(3, 0, client, 0, server, 50001, 443, tc.proto)
			otherENI.Set(4, 0, client, 0, server, 50000, 443, tc.proto)
			if req != rep || reqA == repA {
				t.Errorf("request %+v (srcIsA %v), reply %+v (srcIsA %v): want one key, opposite srcIsA", req, reqA, rep, repA)
			}
			if (other != req) != tc.ports {
				t.Errorf("another client port: key differs = %v, want %v", other != req, tc.ports)
			}
			if otherENI == req {
				t.Errorf("another ENI: same key")
			}
			if req.Hash() != rep.Hash() {
				t.Errorf("request and reply hash differently")
			}
		})
	}
}
