package recommend

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Rule 8b: traffic that only probing sources sent is not learned. A prober is a source outside the model
// that tried Options.ScannerPorts or more distinct (protocol, port) at the interfaces, inbound, and was
// rejected more often than accepted: the shape of a port scan that some open rule let through here and there.
// Its accepted requests are not evidence of a service anyone needs, so no rule is learned from them (a rule
// learned from them would admit the scan); they are reported (FindingScannerAdmitted), and a current rule
// that admitted nobody but probers is reported as serving only scanning (FindingScannerOnly). A prober never
// accepted is a Scanner (rule 8) as well.

// prober is what the requests and rejections say of one probing source.
type prober struct {
	services map[svc]struct{}
	accepted int64 // inbound request flows accepted
	rejected int64 // inbound request flows rejected
	rules    map[*vpc.SGRule]struct{}
}

// findProbers fills r.probers from the inbound requests and rejections.
func (r *recommender) findProbers(reqs []Request, rej []Rejection) {
	all := make(map[netip.Addr]*prober)
	get := func(a netip.Addr) *prober {
		p := all[a]
		if p == nil {
			p = &prober{services: make(map[svc]struct{})}
			all[a] = p
		}
		return p
	}
	for i := range rej {
		x := &rej[i]
		if x.Peer.IsValid() && r.m.ENIByAddr(x.Peer) == nil {
			p := get(x.Peer)
			p.services[svc{x.Proto, x.Port}] = struct{}{}
			p.rejected += x.Flows
		}
	}
	for i := range reqs {
		q := &reqs[i]
		if q.Dir != vpc.Ingress || !q.Peer.IsValid() || all[q.Peer] == nil { // a prober was rejected at least once
			continue
		}
		p := all[q.Peer]
		p.services[svc{q.Proto, q.Port}] = struct{}{}
		p.accepted += q.Flows
	}
	r.probers = make(map[netip.Addr]*prober)
	for a, p := range all {
		if len(p.services) >= r.o.ScannerPorts && p.rejected > p.accepted && p.accepted > 0 {
			p.rules = make(map[*vpc.SGRule]struct{})
			r.probers[a] = p
		}
	}
}

// probersFindings reports each prober whose requests were accepted (not learned from), with the current
// rules that admitted them.
func (r *recommender) probersFindings() {
	for _, a := range slices.SortedFunc(maps.Keys(r.probers), netip.Addr.Compare) {
		p := r.probers[a]
		rules := slices.SortedFunc(maps.Keys(p.rules), func(x, y *vpc.SGRule) int {
			return cmp.Or(cmp.Compare(x.GroupID, y.GroupID), cmp.Compare(x.ID, y.ID))
		})
		var names []string
		for _, ru := range rules {
			names = append(names, ru.ID+" "+ru.Display)
		}
		r.finding(FindingScannerAdmitted, a.String(), "", "", "probed %d distinct ports inbound, %d flow(s) rejected and %d "+
			"accepted: its accepted requests are not learned from (a scan, not a service anyone needs); admitted by %v",
			len(p.services), p.rejected, p.accepted, names)
	}
}

// onlyProbers says that every peer a current rule admitted in the window was a prober.
func (r *recommender) onlyProbers(ru *vpc.SGRule) bool {
	u := r.ruleUse[ru]
	if len(u) == 0 {
		return false
	}
	for a := range u {
		if r.probers[a] == nil {
			return false
		}
	}
	return true
}
