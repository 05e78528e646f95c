package audit

import (
	"encoding/json"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
)

// Table is one audit table as a single record; the caller releases Record.
type Table = arrowutil.NamedRecord

// Tables are the audit's tables (flowschema.Audit*Table): the summary (one row, with the report as JSON), the
// verdict pairs with counts, the groups, and the changed records (source_file, source_line, group_id, class:
// join flows on the first two).
func Tables(mem memory.Allocator, rep *Report, res *Result) ([]Table, error) {
	js, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	sum := arrowutil.NewTable(mem, str("policy"), ts("since"), ts("until"), boolean("authoritative"), i64("records_judged"),
		i64("would_break_records"), i64("would_break_orphaned_replies"), i64("would_break_packets"), i64("would_break_bytes"),
		i64("would_break_groups"), i64("newly_allowed_records"), i64("newly_allowed_bytes"), i64("newly_allowed_groups"),
		i64("disputed_records"), i64("accepted_records"), i64("accepted_bytes"), f64("coverage_records"), f64("coverage_bytes"),
		i64("exposure_before"), i64("exposure_after"), i64("fail_on"), boolean("failed"), str("report"))
	var since, until any
	if !rep.Since.IsZero() {
		since = rep.Since.Unix()
	}
	if !rep.Until.IsZero() {
		until = rep.Until.Unix()
	}
	wb, na := rep.WouldBreak, rep.NewlyAllowed
	sum.Row(strings.Join(rep.Policy, ","), since, until, rep.Authoritative, rep.judged(), wb.Records, wb.OrphanedReplies,
		wb.Packets, wb.Bytes, int64(wb.Groups), na.Records, na.Bytes, int64(na.Groups), rep.Records[Disputed.String()].Records,
		rep.Coverage.Accepted, rep.Coverage.AcceptedBytes, rep.Coverage.Records, rep.Coverage.Bytes,
		rep.Exposure.Before.Total, rep.Exposure.After.Total, rep.FailOn, rep.Failed, string(js))

	pairs := arrowutil.NewTable(mem, str("class"), boolean("orphaned_reply"), i64("records"), i64("packets"), i64("bytes"),
		str("flow_role"), str("baseline_action"), str("baseline_layer"), str("baseline_rule"), str("baseline_resource"),
		str("baseline_cause"), str("baseline_sg_rule"), str("candidate_action"), str("candidate_layer"), str("candidate_rule"),
		str("candidate_resource"), str("candidate_cause"), str("candidate_sg_rule"))
	for _, p := range res.Pairs {
		b, c := p.Baseline, p.Candidate
		pairs.Row(p.Class.String(), p.Orphaned, p.Records, p.Packets, p.Bytes, null(b.Role), null(b.Action), null(b.Layer),
			null(b.Rule), null(b.Resource), null(b.Cause), null(b.SGRule), null(c.Action), null(c.Layer), null(c.Rule),
			null(c.Resource), null(c.Cause), null(c.SGRule))
	}

	groups := arrowutil.NewTable(mem, i64("group_id"), str("class"), str("source_kind"), str("source"), str("source_name"),
		str("destination_kind"), str("destination"), str("destination_name"), str("service"), i64("records"),
		i64("orphaned_replies"), i64("packets"), i64("bytes"), ts("first_seen"), ts("last_seen"), str("layer"), str("resource"),
		str("rule"), str("cause"), str("explanation"), str("examples"), str("policy_file"), i64("policy_line"),
		str("terraform_address"))
	for _, g := range rep.Groups {
		var d Decider
		if len(g.Deciders) > 0 {
			d = g.Deciders[0]
		}
		groups.Row(int64(g.ID), g.Class, g.Source.Kind, g.Source.ID, null(g.Source.Name), g.Destination.Kind, g.Destination.ID,
			null(g.Destination.Name), g.Service, g.Records, g.OrphanedReplies, g.Packets, g.Bytes, g.FirstSeen.Unix(),
			g.LastSeen.Unix(), null(d.Layer), null(d.Resource), null(d.Rule), null(d.Cause), g.Explanation,
			strings.Join(g.Examples, ","), null(g.File), int64(g.Line), null(g.TerraformAddress))
	}

	class := map[int]string{}
	for _, g := range rep.Groups {
		class[g.ID] = g.Class
	}
	recs := arrowutil.NewTable(mem, str(flowschema.ColSourceFile), i64(flowschema.ColSourceLine), i64("group_id"), str("class"))
	for _, r := range res.Records {
		recs.Row(r.File, r.Line, int64(r.Group), class[r.Group])
	}
	return []Table{
		{Name: flowschema.AuditSummaryTable, Record: sum.Record()},
		{Name: flowschema.AuditVerdictsTable, Record: pairs.Record()},
		{Name: flowschema.AuditGroupsTable, Record: groups.Record()},
		{Name: flowschema.AuditRecordsTable, Record: recs.Record()},
	}, nil
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Column helpers of the audit tables.
var (
	str     = arrowutil.StringField
	i64     = arrowutil.Int64Field
	f64     = arrowutil.Float64Field
	boolean = arrowutil.BoolField
	ts      = arrowutil.TimestampField
)
