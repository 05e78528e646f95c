package recommend

import (
	"fmt"
	"net/netip"
)

// Rule 13: is the window long enough? A group whose members still met new (peer, service) pairs at the end
// of the window will meet more after it: its proposal would break them. Learning counts, per group, the
// pairs first seen in each tenth of the window.

// Learning is the learning-rate figure of one group.
type Learning struct {
	Pairs      int     `json:"pairs"`       // distinct (peer identity, protocol, port) pairs
	Curve      [10]int `json:"curve"`       // pairs first seen in each tenth of the window
	FirstTenth int     `json:"first_tenth"` // Curve[0]
	LastTenth  int     `json:"last_tenth"`  // Curve[9]
	Verdict    string  `json:"verdict"`
}

// pairKey is a (peer identity, service): the peer interface when it is in the model (its addresses are one
// identity), else its /24 or /48 network (internet clients churn addresses; a new address of a known network
// is not news).
type pairKey struct {
	eni   string
	net   netip.Prefix
	proto uint8
	port  uint16
}

func (r *recommender) addPair(group string, peer netip.Addr, s svc, first int64) {
	k := pairKey{proto: s.proto, port: s.port}
	if e := r.m.ENIByAddr(peer); e != nil {
		k.eni = e.ID
	} else {
		k.net = netNet(peer)
	}
	ps := r.pairs[group]
	if ps == nil {
		ps = make(map[pairKey]int64)
		r.pairs[group] = ps
	}
	if t, ok := ps[k]; !ok || (first != 0 && first < t) {
		ps[k] = first
	}
}

// learning computes a group's figure; the verdict reads the last tenth against the first: a window is long
// enough when new pairs have stopped appearing at its end.
func (r *recommender) learning(group string) Learning {
	var l Learning
	span := r.w.End - r.w.Start
	for _, first := range r.pairs[group] {
		i := int64(0)
		if span > 0 {
			i = min(max((first-r.w.Start)*10/span, 0), 9)
		}
		l.Curve[i]++
		l.Pairs++
	}
	l.FirstTenth, l.LastTenth = l.Curve[0], l.Curve[9]
	switch {
	case l.Pairs == 0:
		l.Verdict = "no traffic"
	case l.LastTenth == 0:
		l.Verdict = "settled: no new pair in the last tenth of the window"
	default:
		l.Verdict = fmt.Sprintf("still learning: %d new pair(s) in the last tenth vs %d in the first; "+
			"consider a longer window before enforcing", l.LastTenth, l.FirstTenth)
	}
	return l
}
