package recommend

import (
	"encoding/json"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
)

// Table is one recommend table as a single record; the caller releases Record.
type Table = arrowutil.NamedRecord

// Statuses of a row of the rules table.
const (
	StatusProposed = "proposed" // learned from traffic: in the proposal
	StatusKept     = "kept"     // the current rule, kept for lack of evidence (rule 9): in the proposal
	StatusUnproven = "unproven" // below the evidence threshold: not in the proposal, a human decides
)

// Tables are recommend's tables (flowschema.Recommend*Table), so that `flowlens sql` and `flowlens report`
// can show a recommendation after the run: the summary (one row, the whole recommendation as JSON in
// recommendation), every proposed, kept and unproven rule and entry with its evidence, and the findings.
func (rec *Recommendation) Tables(mem memory.Allocator) ([]Table, error) {
	js, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	s := rec.Summarize()
	sum := arrowutil.NewTable(mem, ts("since"), ts("until"), i64("groups"), i64("groups_changed"), i64("rules_proposed"),
		i64("nacls"), i64("nacls_changed"), i64("entries_proposed"), i64("unproven"), i64("findings"), i64("scanners"),
		i64("never_filtered"), i64("exposure_before_v4"), i64("exposure_after_v4"), f64("exposure_cut_v4"),
		str("recommendation"))
	sum.Row(rec.Window.Start, rec.Window.End, int64(s.Groups), int64(s.GroupsChanged), int64(s.RulesProposed),
		int64(s.NACLs), int64(s.NACLsChanged), int64(s.EntriesPropose), int64(s.Unproven), int64(s.Findings),
		int64(s.Scanners), int64(s.NeverFiltered), rec.Exposure.Before.V4, rec.Exposure.After.V4,
		rec.Exposure.ReductionV4, string(js))

	rules := arrowutil.NewTable(mem, str("rule_type"), str("resource_id"), str("resource_name"), str("direction"),
		str("status"), str("rule"), str("basis"), str("reason"), i64("peers"), i64("flows"), i64("packets"), i64("bytes"),
		ts("first_seen"), ts("last_seen"), i64("distinct_windows"), str("example"), f64("exposure_v4"))
	sgRow := func(name, status string, r *Rule) {
		ev := r.Evidence
		rules.Row("sg", r.GroupID, null(name), direction(r.Egress), status, r.String(), r.Basis.String(), null(r.Reason),
			int64(r.Peers), ev.Flows, ev.Packets, ev.Bytes, nullTime(ev.FirstSeen), nullTime(ev.LastSeen),
			int64(ev.Slots()), null(ev.Example), float64(r.Exposure.V4)) // DOUBLE, as before V4 was exact
	}
	naclRow := func(status string, e *Entry) {
		ev := e.Evidence
		rules.Row("nacl", e.NACLID, nil, direction(e.Egress), status, e.String(), e.Basis.String(), null(e.Reason),
			int64(e.Peers), ev.Flows, ev.Packets, ev.Bytes, nullTime(ev.FirstSeen), nullTime(ev.LastSeen),
			int64(ev.Slots()), null(ev.Example), nil)
	}
	names := map[string]string{}
	for i := range rec.Groups {
		g := &rec.Groups[i]
		names[g.ID] = g.Name
		for _, d := range []struct {
			rules []Rule
			kept  bool
		}{{g.Ingress, g.KeptIngress}, {g.Egress, g.KeptEgress}} {
			for j := range d.rules {
				sgRow(g.Name, status(d.kept), &d.rules[j])
			}
		}
	}
	for i := range rec.NACLs {
		n := &rec.NACLs[i]
		for j := range n.Inbound {
			naclRow(status(n.KeptInbound), &n.Inbound[j])
		}
		for j := range n.Outbound {
			naclRow(status(n.KeptOutbound), &n.Outbound[j])
		}
	}
	for i := range rec.Unproven.Rules {
		r := &rec.Unproven.Rules[i]
		sgRow(names[r.GroupID], StatusUnproven, r)
	}
	for i := range rec.Unproven.Entries {
		naclRow(StatusUnproven, &rec.Unproven.Entries[i])
	}

	findings := arrowutil.NewTable(mem, str("kind"), str("resource"), str("name"), str("rule"), str("message"))
	for _, f := range rec.Findings {
		findings.Row(string(f.Kind), f.Resource, null(f.Name), null(f.Rule), f.Message)
	}
	return []Table{
		{Name: flowschema.RecommendSummaryTable, Record: sum.Record()},
		{Name: flowschema.RecommendRulesTable, Record: rules.Record()},
		{Name: flowschema.RecommendFindingsTable, Record: findings.Record()},
	}, nil
}

func status(kept bool) string {
	if kept {
		return StatusKept
	}
	return StatusProposed
}

func direction(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t int64) any {
	if t == 0 {
		return nil
	}
	return t
}

// Column helpers of the recommend tables.
var (
	str = arrowutil.StringField
	i64 = arrowutil.Int64Field
	f64 = arrowutil.Float64Field
	ts  = arrowutil.TimestampField
)
