package replay

import (
	"sync"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// rowVerdict is a Verdict reduced to what its text columns depend on (Engine.outKey), unpacked from a verdictKey to
// write the verdict table.
type rowVerdict struct {
	eni, nacl, sg int32 // engine indexes of the ENI, the NACL step's entry and the SG step's rule; -1 none
	path          pathCode
	dir           vpc.Direction
	model, logged Action
	layer         Layer
	cause         Cause
	also          Layers
	role          Role
	infer         Inference
}

// verdictSet numbers the distinct verdicts of a replay. Shards look ids up in their own map first (shardIDs)
// and take the lock only for a verdict they have not seen, so the lock is taken about once per distinct
// verdict per shard.
type verdictSet struct {
	mu   sync.Mutex
	ids  map[verdictKey]uint32
	keys []verdictKey // by id
}

// shardIDs are the verdict ids a shard has used: the Reader's verdictSet without its lock. It is an
// open-addressing table of packed keys, whose hash and compares are a few inline instructions: with a Go map
// of rowVerdict (its hash and memequal calls) numbering verdicts took 9% of the replay's CPU.
type shardIDs struct {
	slots []idSlot // power of two; load at most one half
	n     int
}

type idSlot struct {
	k    verdictKey
	id   uint32
	used bool
}

func (t *shardIDs) id(p verdictKey, set *verdictSet) uint32 {
	h := p.a*0x9E3779B97F4A7C15 ^ p.b*0xC2B2AE3D27D4EB4F ^ p.c*0x165667B19E3779F9
	h ^= h >> 29
	if t.slots == nil {
		t.slots = make([]idSlot, 1<<10)
	}
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for ; t.slots[i].used; i = (i + 1) & mask {
		if t.slots[i].k == p {
			return t.slots[i].id
		}
	}
	id := set.id(p)
	t.slots[i] = idSlot{k: p, id: id, used: true}
	if t.n++; 2*t.n > len(t.slots) {
		old := t.slots
		t.slots = make([]idSlot, 2*len(old))
		mask = uint64(len(t.slots) - 1)
		for _, s := range old {
			if s.used {
				h := s.k.a*0x9E3779B97F4A7C15 ^ s.k.b*0xC2B2AE3D27D4EB4F ^ s.k.c*0x165667B19E3779F9
				h ^= h >> 29
				j := h & mask
				for t.slots[j].used {
					j = (j + 1) & mask
				}
				t.slots[j] = s
			}
		}
	}
	return id
}

// verdictKey is a rowVerdict packed into three words (packKey), which hash and compare in a few instructions. A
// struct, not an array: Go passes and returns it in registers, where an array went through the stack in
// overlapping 16-byte copies whose reloads missed store forwarding.
type verdictKey struct{ a, b, c uint64 }

func packKey(eni, nacl, sg int32, path pathCode, infer Inference, dir vpc.Direction, model, logged Action,
	layer Layer, cause Cause, also Layers, role Role) verdictKey {
	return verdictKey{
		a: uint64(uint32(eni)) | uint64(uint32(nacl))<<32,
		b: uint64(uint32(sg)) | uint64(infer)<<32 | uint64(dir)<<40 | uint64(model)<<48 | uint64(logged)<<56,
		c: uint64(layer) | uint64(cause)<<8 | uint64(also)<<16 | uint64(role)<<24 | uint64(path)<<32,
	}
}

// pack is packKey of v's fields.
func (v *rowVerdict) pack() verdictKey {
	return packKey(v.eni, v.nacl, v.sg, v.path, v.infer, v.dir, v.model, v.logged, v.layer, v.cause, v.also, v.role)
}

// unpack is the inverse of packKey.
func (p verdictKey) unpack() rowVerdict {
	return rowVerdict{
		eni: int32(uint32(p.a)), nacl: int32(uint32(p.a >> 32)), sg: int32(uint32(p.b)),
		infer: Inference(p.b >> 32 & 0xff), dir: vpc.Direction(p.b >> 40 & 0xff), model: Action(p.b >> 48 & 0xff),
		logged: Action(p.b >> 56), layer: Layer(p.c & 0xff), cause: Cause(p.c >> 8 & 0xff), also: Layers(p.c >> 16 & 0xff),
		role: Role(p.c >> 24 & 0xff), path: pathCode(p.c >> 32),
	}
}

func (vs *verdictSet) id(k verdictKey) uint32 {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	id, ok := vs.ids[k]
	if !ok {
		if vs.ids == nil {
			vs.ids = make(map[verdictKey]uint32)
		}
		id = uint32(len(vs.keys))
		vs.ids[k] = id
		vs.keys = append(vs.keys, k)
	}
	return id
}
