package replay

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// where renders a row's origin as source_file:source_line (or the row number in the stream's record).
func (r *Reader) where(s *batchSlot, row int) string {
	var file string
	if r.cols.file >= 0 {
		if c := s.rec.Column(r.cols.file); c.IsValid(row) {
			file = c.ValueStr(row) // Utf8 or dictionary-encoded
		}
	}
	lines := intArr(s.rec, r.cols.line)
	line, ok := lines.get(row)
	if file == "" && !ok {
		return "row " + strconv.Itoa(row)
	}
	return file + ":" + strconv.FormatInt(line, 10)
}

// Summary returns the replay's summary, merged over the shards; complete after Next returned false.
// ConntrackPeak is the sum of the shards' peaks.
func (r *Reader) Summary() Summary {
	st := r.mergedState()
	s := st.Summary()
	s.ForcedReleases = r.clk.forced
	for _, sh := range r.shards {
		s.BadAddresses += sh.badAddrs
	}
	for _, sh := range r.shards {
		s.UnexplainedExamples = append(s.UnexplainedExamples, sh.unexplainedEx...)
		s.AcceptRejectedEx = append(s.AcceptRejectedEx, sh.disagrEx...)
		for id := range sh.unknownIfaces {
			s.UnknownInterfaceIDs = append(s.UnknownInterfaceIDs, id) // shards own disjoint interfaces
		}
	}
	slices.Sort(s.UnknownInterfaceIDs)
	s.UnknownInterfaces = len(s.UnknownInterfaceIDs)
	if len(s.UnknownInterfaceIDs) > r.eng.cfg.MaxExamples {
		s.UnknownInterfaceIDs = s.UnknownInterfaceIDs[:r.eng.cfg.MaxExamples]
	}
	s.UnexplainedExamples = firstN(s.UnexplainedExamples, r.eng.cfg.MaxExamples)
	s.AcceptRejectedEx = firstN(s.AcceptRejectedEx, r.eng.cfg.MaxExamples)
	return s
}

// firstN sorts examples (by source_file then line) and keeps n.
func firstN(ex []string, n int) []string {
	slices.SortFunc(ex, func(a, b string) int {
		fa, la := splitWhere(a)
		fb, lb := splitWhere(b)
		return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb))
	})
	if len(ex) > n {
		ex = ex[:n]
	}
	return ex
}

func splitWhere(s string) (string, int64) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	n, _ := strconv.ParseInt(s[i+1:], 10, 64)
	return s[:i], n
}

// RuleHits returns the rule_hits rows, merged over the shards; complete after Next returned false.
func (r *Reader) RuleHits() []RuleHit { return r.mergedState().RuleHits() }

func (r *Reader) mergedState() *State {
	if len(r.shards) == 1 {
		return r.shards[0].st
	}
	m := r.eng.newState(0)
	for _, sh := range r.shards {
		m.merge(sh.st)
	}
	return m
}
