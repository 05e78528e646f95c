package report

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/results"
)

// querier runs the report's queries on one read-only file; each method fills one section of a Report.
type querier struct {
	db  *sql.DB
	top int
}

// overview: one pass over flows.
func (q *querier) overview(ctx context.Context, r *Report) error {
	var since, until sql.NullInt64
	o := &r.Overview
	// Until is the latest end, or start where that is later (an end that is NULL or before its start).
	err := q.db.QueryRowContext(ctx, `SELECT min(start), greatest(max(start), coalesce(max("end"), max(start))), count(*),
		count(*) FILTER (WHERE model_action IS NOT NULL AND action IS NOT NULL),
		count(*) FILTER (WHERE model_agrees),
		count(*) FILTER (WHERE action = 'REJECT'), count(*) FILTER (WHERE model_action = 'REJECT'),
		count(*) FILTER (WHERE action = 'ACCEPT' AND model_action = 'REJECT'),
		count(*) FILTER (WHERE action = 'REJECT' AND model_action = 'ACCEPT'),
		count(*) FILTER (WHERE model_action IS NULL)
		FROM `+flowschema.FlowsView).Scan(&since, &until, &o.Records, &o.Compared, &o.Agreed, &o.LoggedReject,
		&o.ModelReject, &o.AcceptRejected, &o.RejectAccepted, &o.NotJudged)
	if err != nil {
		return err
	}
	if since.Valid {
		o.Since, o.Until = time.Unix(since.Int64, 0).UTC(), time.Unix(until.Int64, 0).UTC()
	}
	if o.Compared > 0 {
		o.Agreement = float64(o.Agreed) / float64(o.Compared)
	}
	return nil
}

// maxBuckets bounds the timeline's bars: the bucket is the first of bucketSizes that fits the window in
// this many.
const maxBuckets = 60

var bucketSizes = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// bucketFor returns the timeline's bucket for a window: the smallest of bucketSizes that covers it in at most
// maxBuckets buckets (aligned to multiples of the bucket since the Unix epoch), else whole days.
func bucketFor(since, until time.Time) time.Duration {
	for _, b := range bucketSizes {
		if until.Unix()/int64(b.Seconds())-since.Unix()/int64(b.Seconds()) < maxBuckets {
			return b
		}
	}
	days := (until.Sub(since)/(24*time.Hour))/(maxBuckets-1) + 1
	return days * 24 * time.Hour
}

// timeline: one pass over flows, REJECTs (logged or modelled) by bucket of start, layer and cause.
func (q *querier) timeline(ctx context.Context, r *Report) error {
	o, t := r.Overview, &r.Timeline
	if o.Since.IsZero() {
		return nil
	}
	t.Bucket = bucketFor(o.Since, o.Until)
	secs := int64(t.Bucket.Seconds())
	rows, err := q.db.QueryContext(ctx, `SELECT start // $1 AS bucket, coalesce(CAST(verdict_layer AS VARCHAR), '') AS layer,
		coalesce(CAST(verdict_cause AS VARCHAR), 'unknown') AS cause, count(*) AS records
		FROM `+flowschema.FlowsView+` WHERE (action = 'REJECT' OR model_action = 'REJECT') AND start IS NOT NULL
		GROUP BY ALL`, secs)
	if err != nil {
		return err
	}
	defer rows.Close()
	type cell struct {
		bucket  int64
		series  Series
		records int64
	}
	var cells []cell
	totals := map[Series]int64{}
	for rows.Next() {
		var c cell
		if err := rows.Scan(&c.bucket, &c.series.Layer, &c.series.Cause, &c.records); err != nil {
			return err
		}
		cells = append(cells, c)
		totals[c.series] += c.records
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for s, n := range totals {
		s.Records = n
		t.Series = append(t.Series, s)
	}
	sortSeries(t.Series)
	index := map[Series]int{}
	for i, s := range t.Series {
		index[Series{Layer: s.Layer, Cause: s.Cause}] = i
	}
	first, last := o.Since.Unix()/secs, o.Until.Unix()/secs
	for b := first; b <= last; b++ {
		t.Buckets = append(t.Buckets, Bucket{Start: time.Unix(b*secs, 0).UTC(), Counts: make([]int64, len(t.Series))})
	}
	for _, c := range cells {
		b := &t.Buckets[c.bucket-first] // start is within [Since, Until] (the overview's)
		b.Counts[index[c.series]] += c.records
		b.Total += c.records
		t.Records += c.records
	}
	for _, b := range t.Buckets {
		t.Max = max(t.Max, b.Total)
	}
	return nil
}

// ranked runs a (key, n) query (results.RejectedPeers, RejectedPorts) and keeps its top rows and totals, in
// one pass.
func (q *querier) ranked(ctx context.Context, query string) (Ranking, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT coalesce(key, ''), n, count(*) OVER (), sum(n) OVER ()
		FROM (`+query+`) ORDER BY n DESC, key LIMIT $1`, q.top)
	if err != nil {
		return Ranking{}, err
	}
	defer rows.Close()
	var rk Ranking
	for rows.Next() {
		var c results.Count
		if err := rows.Scan(&c.Key, &c.Count, &rk.Keys, &rk.Records); err != nil {
			return Ranking{}, err
		}
		rk.Rows = append(rk.Rows, c)
	}
	return rk, rows.Err()
}

func (q *querier) ports(ctx context.Context, r *Report) (err error) {
	r.Ports, err = q.ranked(ctx, results.RejectedPorts)
	return err
}

func (q *querier) peers(ctx context.Context, r *Report) (err error) {
	r.Peers, err = q.ranked(ctx, results.RejectedPeers)
	return err
}

// maxServices is how many of an edge's services are named.
const maxServices = 3

// edges: the group_edges view (one pass over flows) summed per (source, destination).
func (q *querier) edges(ctx context.Context, r *Report) error {
	rows, err := q.db.QueryContext(ctx, `SELECT source, source_kind, coalesce(source_names, ''), destination,
		destination_kind, coalesce(destination_names, ''), array_to_string(services[1:$2], ' '), n_services,
		records, packets, bytes, accepted, rejected,
		count(*) OVER (), sum(records) OVER (), sum(bytes) OVER ()
	FROM (SELECT source, source_kind, source_names, destination, destination_kind, destination_names,
			list(service ORDER BY records DESC, service) AS services, count(*) AS n_services,
			CAST(sum(records) AS BIGINT) AS records, CAST(coalesce(sum(packets), 0) AS BIGINT) AS packets,
			CAST(coalesce(sum(bytes), 0) AS BIGINT) AS bytes, CAST(sum(accepted) AS BIGINT) AS accepted,
			CAST(sum(rejected) AS BIGINT) AS rejected
		FROM `+results.ViewGroupEdges+` GROUP BY ALL)
	ORDER BY bytes DESC, records DESC, source, destination LIMIT $1`, q.top, maxServices)
	if err != nil {
		return err
	}
	defer rows.Close()
	e := &r.Edges
	for rows.Next() {
		var x Edge
		var services string
		if err := rows.Scan(&x.Source, &x.SourceKind, &x.SourceNames, &x.Destination, &x.DestinationKind,
			&x.DestinationNames, &services, &x.ServiceCount, &x.Records, &x.Packets, &x.Bytes, &x.Accepted,
			&x.Rejected, &e.Edges, &e.Records, &e.Bytes); err != nil {
			return err
		}
		x.Services = strings.Fields(services)
		e.Rows = append(e.Rows, x)
	}
	return rows.Err()
}

// unused: the unused_rules view, rules on groups and NACLs of the most interfaces first.
func (q *querier) unused(ctx context.Context, r *Report) error {
	rows, err := q.db.QueryContext(ctx, `SELECT rule_type, resource_id, rule_id, direction, action, rule,
		coalesce(shadowed_by, 0), interfaces, count(*) OVER ()
	FROM `+results.ViewUnusedRules+`
	ORDER BY interfaces DESC, rule_type, resource_id, direction, TRY_CAST(rule_id AS INTEGER) NULLS LAST, rule_id
	LIMIT $1`, q.top)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var u UnusedRule
		if err := rows.Scan(&u.RuleType, &u.ResourceID, &u.RuleID, &u.Direction, &u.Action, &u.Rule, &u.ShadowedBy,
			&u.Interfaces, &r.Unused.Total); err != nil {
			return err
		}
		r.Unused.Rows = append(r.Unused.Rows, u)
	}
	return rows.Err()
}

// broadPrefix: a security group rule whose CIDR peer has a shorter prefix than this is over-broad.
const broadPrefix = 16

// broad: security group rules open to a CIDR wider than /16, most hits first (rules that carry traffic are the
// ones to narrow with care; those with none, to remove).
func (q *querier) broad(ctx context.Context, r *Report) error {
	rows, err := q.db.QueryContext(ctx, fmt.Sprintf(`SELECT r.group_id, coalesce(g.group_name, ''), r.rule_id,
		r.direction, r.rule, r.peer, coalesce(h.hits, 0) AS hits, coalesce(h.bytes, 0), count(*) OVER ()
	FROM %s r
	LEFT JOIN %s g ON g.group_id = r.group_id
	LEFT JOIN %s h ON h.rule_type = 'sg' AND h.resource_id = r.group_id AND h.rule_id = r.rule_id
	WHERE r.peer_kind = 'cidr' AND TRY_CAST(split_part(r.peer, '/', 2) AS INTEGER) < %d
	ORDER BY hits DESC, r.group_id, r.direction, r.rule_id, r.peer LIMIT $1`,
		flowschema.TopologySGRulesTable, flowschema.TopologySecurityGroupsTable, flowschema.RuleHitsTable, broadPrefix), q.top)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b BroadRule
		if err := rows.Scan(&b.GroupID, &b.GroupName, &b.RuleID, &b.Direction, &b.Rule, &b.Peer, &b.Hits, &b.Bytes,
			&r.Broad.Total); err != nil {
			return err
		}
		r.Broad.Rows = append(r.Broad.Rows, b)
	}
	return rows.Err()
}

// audit: the audit_summary row.
func (q *querier) audit(ctx context.Context, r *Report) error {
	var a Audit
	var since, until sql.NullTime
	err := q.db.QueryRowContext(ctx, `SELECT coalesce(policy, ''), since, until, coalesce(records_judged, 0),
		coalesce(would_break_records, 0), coalesce(would_break_groups, 0), coalesce(newly_allowed_records, 0),
		coalesce(newly_allowed_groups, 0), coalesce(coverage_records, 0), coalesce(coverage_bytes, 0),
		coalesce(exposure_before, 0), coalesce(exposure_after, 0), coalesce(failed, false)
	FROM `+flowschema.AuditSummaryTable+` LIMIT 1`).Scan(&a.Policy, &since, &until, &a.RecordsJudged,
		&a.WouldBreakRecords, &a.WouldBreakGroups, &a.NewlyAllowedRecords, &a.NewlyAllowedGroups, &a.CoverageRecords,
		&a.CoverageBytes, &a.ExposureBefore, &a.ExposureAfter, &a.Failed)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	a.Since, a.Until = utc(since), utc(until)
	r.Audit = &a
	return nil
}

// recommend: the recommend_summary row.
func (q *querier) recommend(ctx context.Context, r *Report) error {
	var x Recommend
	var since, until sql.NullTime
	err := q.db.QueryRowContext(ctx, `SELECT since, until, coalesce("groups", 0), coalesce(groups_changed, 0),
		coalesce(rules_proposed, 0), coalesce(nacls, 0), coalesce(nacls_changed, 0), coalesce(entries_proposed, 0),
		coalesce(unproven, 0), coalesce(findings, 0), coalesce(scanners, 0), coalesce(never_filtered, 0),
		coalesce(exposure_before_v4, 0), coalesce(exposure_after_v4, 0), coalesce(exposure_cut_v4, 0)
	FROM `+flowschema.RecommendSummaryTable+` LIMIT 1`).Scan(&since, &until, &x.Groups, &x.GroupsChanged, &x.RulesProposed,
		&x.NACLs, &x.NACLsChanged, &x.EntriesProposed, &x.Unproven, &x.Findings, &x.Scanners, &x.NeverFiltered,
		&x.ExposureBeforeV4, &x.ExposureAfterV4, &x.ExposureCutV4)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	x.Since, x.Until = utc(since), utc(until)
	r.Recommend = &x
	return nil
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// sortSeries orders the timeline's series: most records first, then by layer and cause.
func sortSeries(s []Series) {
	slices.SortFunc(s, func(a, b Series) int {
		if c := cmp.Compare(b.Records, a.Records); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Layer, b.Layer); c != 0 {
			return c
		}
		return cmp.Compare(a.Cause, b.Cause)
	})
}
