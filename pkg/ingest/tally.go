package ingest

import (
	"encoding/binary"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

// tallyBatch counts the summary dimensions of a parsed batch, column by column.
func (t *tally) tallyBatch(b *batch) {
	n := b.rows
	idx := b.out.index
	if c, ok := idx["version"]; ok && b.covered[c] {
		col := &b.cols[c]
		for i, v := range col.i32[:n] {
			switch {
			case col.isNull(i):
				t.byVersion[-1]++
			case v >= 0 && int(v) < len(t.versions):
				t.versions[v]++
			default:
				t.byVersion[int64(v)]++
			}
		}
	} else {
		t.byVersion[-1] += int64(n)
	}
	if c, ok := idx["interface-id"]; ok && b.covered[c] {
		col := &b.cols[c]
		var last []byte
		for i := 0; i < n; i++ {
			if col.isNull(i) {
				continue
			}
			s := col.stringAt(i)
			if string(s) == string(last) {
				continue
			}
			last = s
			t.addIface(s)
		}
	}
	if c, ok := idx["start"]; ok && b.covered[c] {
		col := &b.cols[c]
		for i, v := range col.i64[:n] {
			if v > 0 && !col.isNull(i) && (t.firstStart == 0 || v < t.firstStart) {
				t.firstStart = v
			}
		}
	}
	if c, ok := idx["end"]; ok && b.covered[c] {
		for _, v := range b.cols[c].i64[:n] {
			if v > t.lastEnd {
				t.lastEnd = v
			}
		}
	}
}

// addIface adds an interface id to the set. Flow logs interleave a few hundred interfaces, so most ids
// were seen recently: a direct-mapped cache of the set's own copies, indexed by a hash of the id's first
// and last eight bytes, answers most of them with one comparison instead of a map lookup.
func (t *tally) addIface(s []byte) {
	if len(s) < 8 {
		if _, seen := t.ifaces[bstr(s)]; !seen {
			t.ifaces[string(s)] = string(s)
		}
		return
	}
	h := (binary.LittleEndian.Uint64(s) ^ binary.LittleEndian.Uint64(s[len(s)-8:])) * 0x9e3779b97f4a7c15 >> (64 - ifaceCacheBits)
	if t.ifaceCache[h] == bstr(s) {
		return
	}
	id, seen := t.ifaces[bstr(s)]
	if !seen {
		id = string(s)
		t.ifaces[id] = id
	}
	t.ifaceCache[h] = id
}

// drainParser moves the parser's action and log-status counts into the tally (all NULL when the input has
// no such column).
func (t *tally) drainParser(lp *lineParser, rows int) {
	if lp.l.actionTok < 0 {
		t.byAction[absentKey] += int64(rows)
	}
	for i, name := range [...]string{flowschema.ActionAccept, flowschema.ActionReject, absentKey} {
		if n := lp.actions[i]; n > 0 {
			t.byAction[name] += n
		}
	}
	if lp.l.statusTok < 0 {
		t.byStatus[absentKey] += int64(rows)
	}
	for i, name := range [...]string{flowschema.LogStatusOK, flowschema.LogStatusNoData, flowschema.LogStatusSkipData, absentKey} {
		if n := lp.statuses[i]; n > 0 {
			t.byStatus[name] += n
		}
	}
	lp.actions, lp.statuses = [3]int64{}, [4]int64{}
}

func bitSet(bm []byte, i int) bool { return i>>3 < len(bm) && bm[i>>3]&(1<<(i&7)) != 0 }
