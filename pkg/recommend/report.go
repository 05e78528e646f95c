package recommend

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Summary is the short figure set of a Recommendation (the CLI's table output).
type Summary struct {
	Groups         int     `json:"groups"`
	GroupsChanged  int     `json:"groups_changed"` // a direction learned from traffic, not kept
	RulesProposed  int     `json:"rules_proposed"` // proposed rules, kept ones excluded
	NACLs          int     `json:"nacls"`
	NACLsChanged   int     `json:"nacls_changed"`
	EntriesPropose int     `json:"entries_proposed"`
	Unproven       int     `json:"unproven"`
	Findings       int     `json:"findings"`
	Scanners       int     `json:"scanners"`
	NeverFiltered  int     `json:"never_filtered"`
	ExposureCutV4  float64 `json:"exposure_cut_v4"` // ExposureReport.ReductionV4
}

// Summarize counts what rec proposes.
func (rec *Recommendation) Summarize() Summary {
	s := Summary{Groups: len(rec.Groups), NACLs: len(rec.NACLs), Unproven: len(rec.Unproven.Rules) + len(rec.Unproven.Entries),
		Findings: len(rec.Findings), Scanners: len(rec.Scanners), NeverFiltered: len(rec.NeverFiltered),
		ExposureCutV4: rec.Exposure.ReductionV4}
	for i := range rec.Groups {
		g := &rec.Groups[i]
		if !g.KeptIngress || !g.KeptEgress {
			s.GroupsChanged++
		}
		if !g.KeptIngress {
			s.RulesProposed += len(g.Ingress)
		}
		if !g.KeptEgress {
			s.RulesProposed += len(g.Egress)
		}
	}
	for i := range rec.NACLs {
		n := &rec.NACLs[i]
		if !n.KeptInbound || !n.KeptOutbound {
			s.NACLsChanged++
		}
		if !n.KeptInbound {
			s.EntriesPropose += len(n.Inbound)
		}
		if !n.KeptOutbound {
			s.EntriesPropose += len(n.Outbound)
		}
	}
	return s
}

// WriteReport writes rec as Markdown (recommend's REPORT.md): the window, the summary, per group and NACL the
// current rules (from current, the topology rec was made from) against the proposed ones with their evidence
// and reasons, the learning rate, findings, unproven rules, never-filtered traffic, scanners and exposure.
func WriteReport(w io.Writer, rec *Recommendation, current *vpc.Model) error {
	b := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	s := rec.Summarize()
	p("# flowlens recommendation\n\n")
	p("Window: %s to %s (%d slot(s)). Learned from the accepted requests in it (replies never need a security-group rule: "+
		"groups are stateful).\n\n", rfc3339(rec.Window.Start), rfc3339(rec.Window.End), rec.Window.Normal().Slots)
	p("| | |\n|---|---|\n")
	p("| security groups changed | %d of %d |\n", s.GroupsChanged, s.Groups)
	p("| rules proposed | %d |\n", s.RulesProposed)
	p("| NACLs changed | %d of %d |\n", s.NACLsChanged, s.NACLs)
	p("| NACL entries proposed | %d |\n", s.EntriesPropose)
	p("| unproven (left for a human) | %d |\n", s.Unproven)
	p("| findings | %d |\n", s.Findings)
	p("| scanners | %d |\n", s.Scanners)
	p("| exposure (IPv4 address x port) | %s -> %s (cut %.2f%%) |\n\n", sci(rec.Exposure.Before.V4), sci(rec.Exposure.After.V4),
		100*rec.Exposure.ReductionV4)

	p("## Security groups\n\n")
	for i := range rec.Groups {
		g := &rec.Groups[i]
		p("### %s (%s)\n\n", g.ID, g.Name)
		p("Learning rate: %d (peer, service) pair(s); first seen per tenth of the window %v; %s.\n\n",
			g.Learning.Pairs, g.Learning.Curve, g.Learning.Verdict)
		var cg *vpc.SecurityGroup
		if current != nil {
			cg = current.Groups[g.ID]
		}
		for _, d := range []struct {
			name     string
			kept     bool
			proposed []Rule
			current  []*vpc.SGRule
		}{{"Ingress", g.KeptIngress, g.Ingress, currentRules(cg, false)}, {"Egress", g.KeptEgress, g.Egress, currentRules(cg, true)}} {
			p("**%s**", d.name)
			if d.kept {
				p(" - no evidence in the window: the current rules are kept")
			}
			p("\n\nCurrent:\n\n")
			if len(d.current) == 0 {
				p("- (none)\n")
			}
			for _, r := range d.current {
				p("- `%s`\n", r.String())
			}
			p("\nProposed:\n\n")
			if len(d.proposed) == 0 {
				p("- (none)\n")
			}
			for j := range d.proposed {
				r := &d.proposed[j]
				p("- `%s` [%s] %s", r.String(), r.Basis, r.Reason)
				if r.Basis != BasisKept {
					p(". Evidence: %s", evidenceText(r.Evidence, r.Peers))
				}
				if r.MergedToFitQuota {
					p(" (merged to fit the quota)")
				}
				p("\n")
			}
			p("\n")
		}
	}

	p("## Network ACLs\n\n")
	for i := range rec.NACLs {
		n := &rec.NACLs[i]
		p("### %s (subnets %s)\n\n", n.ID, strings.Join(n.SubnetIDs, ", "))
		var cn *vpc.NACL
		if current != nil {
			cn = current.NACLs[n.ID]
		}
		for _, d := range []struct {
			name     string
			kept     bool
			proposed []Entry
			current  []vpc.NACLEntry
		}{{"Inbound", n.KeptInbound, n.Inbound, currentEntries(cn, false)}, {"Outbound", n.KeptOutbound, n.Outbound, currentEntries(cn, true)}} {
			p("**%s**", d.name)
			if d.kept {
				p(" - no evidence in the window: the current entries are kept")
			}
			p("\n\nCurrent:\n\n")
			if len(d.current) == 0 {
				p("- (none)\n")
			}
			for j := range d.current {
				e := &d.current[j]
				p("- `%s`\n", entryText(e.RuleNumber, e.Action, e.Proto, e.Prefix, e.PortFrom, e.PortTo, e.ICMPType, e.ICMPCode))
			}
			p("\nProposed (the `*` deny ends the list):\n\n")
			if len(d.proposed) == 0 {
				p("- (none)\n")
			}
			for j := range d.proposed {
				e := &d.proposed[j]
				p("- `%s` [%s] %s", entryText(e.RuleNumber, e.Action, e.Proto, e.Prefix, e.PortFrom, e.PortTo,
					e.ICMPType, e.ICMPCode), e.Basis, e.Reason)
				if e.Basis != BasisKept {
					p(". Evidence: %s", evidenceText(e.Evidence, e.Peers))
				}
				p("\n")
			}
			p("\n")
		}
	}

	p("## Findings\n\n")
	if len(rec.Findings) == 0 {
		p("None.\n")
	}
	for _, f := range rec.Findings {
		p("- **%s** %s", f.Kind, f.Resource)
		if f.Name != "" {
			p(" (%s)", f.Name)
		}
		if f.Rule != "" {
			p(" `%s`", f.Rule)
		}
		p(": %s\n", f.Message)
	}

	p("\n## Unproven (not in the proposal: a human decides)\n\n")
	if len(rec.Unproven.Rules)+len(rec.Unproven.Entries) == 0 {
		p("None.\n")
	}
	for i := range rec.Unproven.Rules {
		r := &rec.Unproven.Rules[i]
		p("- %s %s `%s`: %s. Evidence: %s\n", r.GroupID, dirWord(r.Egress), r.String(), r.Reason, evidenceText(r.Evidence, r.Peers))
	}
	for i := range rec.Unproven.Entries {
		e := &rec.Unproven.Entries[i]
		p("- %s %s `%s`: %s. Evidence: %s\n", e.NACLID, naclWord(e.Egress), entryText(e.RuleNumber, e.Action, e.Proto, e.Prefix,
			e.PortFrom, e.PortTo, e.ICMPType, e.ICMPCode), e.Reason, evidenceText(e.Evidence, e.Peers))
	}

	p("\n## Traffic AWS never filters (no rule proposed)\n\n")
	if len(rec.NeverFiltered) == 0 {
		p("None seen.\n")
	}
	for _, n := range rec.NeverFiltered {
		p("- %s %s %s %s/%d (%s): %s\n", n.ENI, dirWord(n.Egress), n.Peer, protoName(int16(n.Proto)), n.Port, n.Service,
			evidenceText(n.Evidence, 1))
	}

	p("\n## Scanners\n\n")
	if len(rec.Scanners) == 0 {
		p("None.\n")
	}
	for _, sc := range rec.Scanners {
		p("- %s probed %d port(s) in %d flow(s) on %s (e.g. %s)\n", sc.Peer, sc.Ports, sc.Flows, strings.Join(sc.ENIs, ", "), sc.Example)
	}

	p("\n## Exposure per interface (IPv4 address x port open to new connections through the groups and the NACL, before -> after)\n\n")
	p("| interface | groups | ingress | egress |\n|---|---|---|---|\n")
	for _, x := range rec.Exposure.Interfaces {
		p("| %s | %s | %s -> %s | %s -> %s |\n", x.ENI, strings.Join(x.Groups, ", "), sci(x.IngressBefore.V4), sci(x.IngressAfter.V4),
			sci(x.EgressBefore.V4), sci(x.EgressAfter.V4))
	}
	p("\nNext: review, then apply the JSON (Terraform and apply.sh output are not generated yet); check it first with\n" +
		"`flowlens audit --db FILE --policy DIR`.\n")
	return b.Flush()
}

// Normal returns w with its slots filled in as Recommend uses it.
func (w Window) Normal() Window { return w.normal() }

func currentRules(g *vpc.SecurityGroup, egress bool) []*vpc.SGRule {
	if g == nil {
		return nil
	}
	if egress {
		return g.Egress
	}
	return g.Ingress
}

func currentEntries(n *vpc.NACL, egress bool) []vpc.NACLEntry {
	if n == nil {
		return nil
	}
	if egress {
		return n.Outbound
	}
	return n.Inbound
}

func dirWord(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// entryText renders a NACL entry: "100 allow tcp 443 0.0.0.0/0".
func entryText(num int, action vpc.RuleAction, proto int16, prefix netip.Prefix, from, to uint16, icmpType, icmpCode int16) string {
	n := strconv.Itoa(num)
	if num >= 32767 {
		n = "*"
	}
	s := n + " " + strings.ToLower(action.String()) + " " + protoName(proto)
	switch {
	case proto == vpc.ProtoTCP || proto == vpc.ProtoUDP:
		if from == to {
			s += " " + strconv.Itoa(int(from))
		} else {
			s += " " + strconv.Itoa(int(from)) + "-" + strconv.Itoa(int(to))
		}
	case icmpProto(proto) && (icmpType != -1 || icmpCode != -1):
		s += fmt.Sprintf(" %d/%d", icmpType, icmpCode)
	}
	return s + " " + prefix.String()
}

// evidenceText renders evidence in one line.
func evidenceText(ev Evidence, peers int) string {
	s := fmt.Sprintf("%d flow(s), %d packet(s), %d byte(s), %d peer(s), %d slot(s)", ev.Flows, ev.Packets, ev.Bytes, peers, ev.Slots())
	if ev.FirstSeen != 0 {
		s += ", " + rfc3339(ev.FirstSeen) + " .. " + rfc3339(ev.LastSeen)
	}
	if ev.Example != "" {
		s += ", e.g. " + ev.Example
	}
	return s
}

// sci renders a large count compactly.
func sci(v int64) string {
	if v < 1e6 {
		return strconv.FormatInt(v, 10)
	}
	return strconv.FormatFloat(float64(v), 'e', 3, 64)
}
