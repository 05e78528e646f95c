package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/audit"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/tfplan"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// AuditConfig is one audit run.
type AuditConfig struct {
	// DB is a DuckDB file written by analyze: its flows, topology_files and replay_settings are read, and the
	// audit_* tables are written into it (atomically, other tables kept).
	DB string
	// Policy are the candidate's AWS CLI JSON files or directories (security groups, rules, network ACLs).
	Policy []string
	// TerraformPlan, when set instead of Policy, is `terraform show -json` output: the candidate is the
	// baseline with the plan's network changes (pkg/tfplan), findings named by resource address.
	TerraformPlan string
	// Since and Until, when not zero, keep the records with Since <= start < Until.
	Since, Until time.Time
	// Authoritative removes the baseline's groups (NACLs) the policy leaves out (vpc.LoadOverlay).
	Authoritative bool
	// AllowFatal audits a candidate with fatal topology findings.
	AllowFatal bool
	// FailOn is the report's gate (audit.Report.FailOn).
	FailOn int64
	// Strict fails the audit (ErrUnresolvedPlan, before any replay) when the Terraform plan has changes the
	// candidate cannot represent (tfplan.Result.Unresolved).
	Strict bool
	// ReplayBaseline replays the baseline even where analyze's stored verdicts would do (storedBaseline).
	ReplayBaseline bool
	// Run is recorded in flowlens_runs.
	Run store.Run
	// Progress, if not nil, is called every ProgressInterval, from another goroutine, with the records
	// audited so far (bytes: their logged bytes); never after Audit returns.
	Progress func(records, bytes int64)
}

// replayColumns are the flows columns an audit reads: what the replay and the grouping read. The ENUM ones are
// cast to text (the replay reads them as utf8; see pkg/store/read.go).
var replayColumns = []string{flowschema.ColInterfaceID, flowschema.ColSrcAddr, flowschema.ColDstAddr,
	flowschema.ColPktSrcAddr, flowschema.ColPktDstAddr, flowschema.ColSrcPort, flowschema.ColDstPort,
	flowschema.ColProtocol, flowschema.ColPackets, flowschema.ColBytes, flowschema.ColStart, flowschema.ColEnd,
	flowschema.ColAction, flowschema.ColLogStatus, flowschema.ColTCPFlags, flowschema.ColFlowDirection,
	flowschema.ColRejectReason, flowschema.ColSourceFile, flowschema.ColSourceLine}

var textColumns = []string{flowschema.ColAction, flowschema.ColLogStatus, flowschema.ColFlowDirection}

// ErrUnresolvedPlan is what an *UnresolvedPlanError is (errors.Is).
var ErrUnresolvedPlan = errors.New("the Terraform plan has changes the candidate cannot represent")

// UnresolvedPlanError is returned, with the report and before any replay, under AuditConfig.Strict when the
// Terraform plan has changes the candidate cannot represent.
type UnresolvedPlanError struct {
	Plan       string
	Unresolved []tfplan.Unresolved
}

func (e *UnresolvedPlanError) Error() string {
	var list []string
	for _, u := range e.Unresolved {
		list = append(list, u.String())
	}
	return fmt.Sprintf("%s: %v: %s", e.Plan, ErrUnresolvedPlan, strings.Join(list, "; "))
}

func (e *UnresolvedPlanError) Is(target error) bool { return target == ErrUnresolvedPlan }

// ErrEmptyPolicy is returned when the policy holds no security group, rule or network ACL.
var ErrEmptyPolicy = errors.New("the policy holds no security group, security-group rule or network ACL " +
	"(describe-security-groups, describe-security-group-rules or describe-network-acls JSON)")

// Audit replays the flows analyze stored in cfg.DB against the baseline (the topology analyze loaded, rebuilt
// from topology_files) and against a candidate (that topology with cfg.Policy's groups and NACLs in place:
// vpc.LoadOverlay) in one pass, and reports what the candidate would break and newly allow (pkg/audit).
//
//   - The records are read back in input order (ORDER BY source_file, source_line), so the replays meet them in
//     the order analyze did and the reorder window does what it did then; Since/Until filter on start. A
//     connection opened before Since has no tracked request in either replay: its replies are assumed alike.
//   - Both replays use analyze's settings (replay_settings) with replay.AdmitModel: each tracks what its own
//     policy admits, so the comparison differs only by policy (see pkg/audit).
//   - Candidate findings about the policy's files, and every fatal one, go to the report; a fatal finding
//     stops the audit (an error wrapping *vpc.FatalFindingsError) unless AllowFatal. The report is returned
//     with that error.
//
// The audit tables (flowschema.Audit*Table) replace an earlier audit's in the same file.
func Audit(ctx context.Context, cfg AuditConfig) (*audit.Report, error) {
	if cfg.Run.Started.IsZero() {
		cfg.Run.Started = time.Now()
	}
	var policy map[string][]byte
	var plan *tfjson.Plan
	var planJSON []byte
	var err error
	if cfg.TerraformPlan != "" {
		if planJSON, err = os.ReadFile(cfg.TerraformPlan); err != nil {
			return nil, err
		}
		if plan, err = tfplan.Parse(planJSON); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.TerraformPlan, err)
		}
	} else if policy, _, err = vpc.ReadPaths(cfg.Policy...); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	d, files, rcfg, err := openAnalyzed(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	defer func() {
		if d != nil {
			d.Close()
		}
	}()
	base, _ := vpc.Load(files)
	var cand *vpc.Model
	var over *vpc.OverlayReport
	var planNotes []string
	var planRes *tfplan.Result
	if plan != nil {
		planRes, over, planNotes = planCandidate(base, plan)
		cand = planRes.Model
	} else {
		cand, over = vpc.LoadOverlay(files, policy, cfg.Authoritative)
		if over.Empty() {
			return nil, fmt.Errorf("%s: %w", strings.Join(cfg.Policy, ", "), ErrEmptyPolicy)
		}
	}
	policyNames := cfg.Policy
	if plan != nil {
		policyNames = []string{cfg.TerraformPlan}
	}
	rep := &audit.Report{DB: cfg.DB, Policy: policyNames, Since: cfg.Since.UTC(), Until: cfg.Until.UTC(),
		Authoritative: cfg.Authoritative, FailOn: cfg.FailOn, Candidate: audit.Candidate{
			GroupsReplaced: over.GroupsReplaced, GroupsAdded: over.GroupsAdded, GroupsRemoved: over.GroupsRemoved,
			NACLsReplaced: over.NACLsReplaced, NACLsAdded: over.NACLsAdded, NACLsRemoved: over.NACLsRemoved}}
	for _, f := range cand.Findings {
		if _, inPolicy := policy[f.File]; inPolicy || f.Severity == vpc.Fatal {
			rep.Candidate.Findings = append(rep.Candidate.Findings, f.Error())
		}
	}
	rep.Candidate.Findings = append(rep.Candidate.Findings, planNotes...)
	if err := cand.FatalError(); err != nil && !cfg.AllowFatal {
		return rep, fmt.Errorf("candidate policy: %w", err)
	}
	if cfg.Strict && planRes != nil && len(planRes.Unresolved) > 0 {
		return rep, &UnresolvedPlanError{Plan: cfg.TerraformPlan, Unresolved: planRes.Unresolved}
	}

	mem := memory.DefaultAllocator
	rcfg.Admit = replay.AdmitModel
	var attribute func(iface, src, dst string, base, cand *audit.Verdict) string
	if planRes != nil {
		attribute = planAttribution(planRes)
	}
	agg, err := replayTwice(ctx, d, cfg, base, cand, rcfg, mem, attribute, rep)
	if err != nil {
		return nil, err
	}
	d.Close()
	d = nil

	res, err := agg.Result(over.Files)
	if err != nil {
		return nil, err
	}
	rep.Exposure = audit.NewExposureChange(audit.MeasureExposure(base), audit.MeasureExposure(cand))
	rep.Apply(res)
	rep.Locate(policy)
	if plan != nil {
		locatePlan(rep, cfg.TerraformPlan, planJSON)
	}
	tables, err := audit.Tables(mem, rep, res)
	if err != nil {
		return nil, err
	}
	if err := writeResults(ctx, cfg.DB, cfg.Run, tables, results.AuditViews()); err != nil {
		return nil, err
	}
	return rep, nil
}

// openAnalyzed opens a results file analyze wrote, read-only, with what the replay ran with: the topology's
// JSON files (topology_files) and the replay settings (replay_settings). The caller closes the file.
func openAnalyzed(ctx context.Context, path string) (*store.DB, map[string][]byte, replay.Config, error) {
	d, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, nil, replay.Config{}, err
	}
	files, rcfg, err := results.ReadRerun(ctx, d.SQL())
	if err != nil {
		d.Close()
		return nil, nil, replay.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, files, rcfg, nil
}

// auditPrefetch is how many records of the flows are read ahead of the replays, on their own goroutine: more
// than a chunk's (auditChunkLines) worth, so the next chunk's query overlaps the replays. On 10M records,
// same round: 9.3-10.2 s with 512 against 11.1-11.8 s with 1.
const auditPrefetch = 512

// replayTwice reads the stored flows from d and replays them through base and cand in one pass, the
// candidate's replay chained on the baseline's, into an Aggregator. When analyze's stored verdicts are what
// the baseline's replay would give (storedBaseline), only the candidate is replayed and the stored verdicts
// are the baseline; rep.Baseline says which.
func replayTwice(ctx context.Context, d *store.DB, cfg AuditConfig, base, cand *vpc.Model, rcfg replay.Config,
	mem memory.Allocator, attribute func(iface, src, dst string, base, cand *audit.Verdict) string, rep *audit.Report) (*audit.Aggregator, error) {
	stored, err := storedBaseline(ctx, d, cfg) // kept for the Aggregator, which reads it up to its Result
	if err != nil {
		return nil, err
	}
	flows, err := readFlows(ctx, d, cfg.Since, cfg.Until, stored != nil)
	if err != nil {
		return nil, err
	}
	in := arrowutil.Prefetch(flows, auditPrefetch) // takes flows' reference
	defer in.Release()
	counted := &countingReader{RecordReader: in}
	var baseline array.RecordReader = counted
	baseVerdicts := func() arrow.Record { stored.Retain(); return stored }
	rep.Baseline = audit.BaselineStored
	if stored == nil {
		baseRd, err := replay.NewEngine(base, rcfg).NewReader(ctx, counted, mem)
		if err != nil {
			return nil, err
		}
		defer baseRd.Release()
		baseline, baseVerdicts, rep.Baseline = baseRd, baseRd.Verdicts, audit.BaselineReplayed
	}
	candRd, err := replay.NewEngine(cand, rcfg).NewReader(ctx, baseline, mem, replay.IDColumn(audit.CandidateIDColumn))
	if err != nil {
		return nil, err
	}
	defer candRd.Release()
	agg := audit.NewAggregator(cand, baseVerdicts, candRd.Verdicts)
	agg.Attribute = attribute
	stopProgress := watchProgress(cfg.Progress, counted.progress)
	defer stopProgress()
	for candRd.Next() {
		if err := agg.Add(candRd.Record()); err != nil {
			return nil, err
		}
	}
	if err := candRd.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.DB, err)
	}
	return agg, nil
}

// storedBaseline returns analyze's verdicts table (row i: verdict id i) when the records' stored verdicts
// are exactly what audit's baseline replay would give them, else nil. The baseline replay admits connections
// by the model's verdict, analyze by the log's (replay_settings admit): when the model agrees with the log on
// every record, the two admit the same connections, and the same records, settings, topology and input order
// give the same verdicts, so the replay can be skipped. That holds for the whole stored history only: a
// window (Since, Until) starts and ends the replay elsewhere. cfg.ReplayBaseline turns it off.
func storedBaseline(ctx context.Context, d *store.DB, cfg AuditConfig) (arrow.Record, error) {
	if cfg.ReplayBaseline || !cfg.Since.IsZero() || !cfg.Until.IsZero() {
		return nil, nil
	}
	cols, err := viewColumns(ctx, d.SQL(), flowschema.FlowRecordsTable)
	if err != nil || !slices.Contains(cols, flowschema.ColVerdictID) {
		return nil, nil
	}
	var disagree, verdicts, maxID int64
	if err := d.SQL().QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM `+flowschema.VerdictsTable+` WHERE NOT coalesce(`+flowschema.ColModelAgrees+`, true)),
		(SELECT count(*) FROM `+flowschema.VerdictsTable+`), (SELECT coalesce(max(`+flowschema.ColVerdictID+`), -1) FROM `+
		flowschema.VerdictsTable+`)`).Scan(&disagree, &verdicts, &maxID); err != nil {
		return nil, nil // no verdicts table: replay
	}
	if disagree > 0 || maxID != verdicts-1 {
		return nil, nil
	}
	var sel []string
	for _, c := range []string{flowschema.ColModelAction, flowschema.ColModelAgrees, flowschema.ColFlowRole,
		flowschema.ColSGRule, flowschema.ColVerdictLayer, flowschema.ColVerdictRule, flowschema.ColVerdictResource,
		flowschema.ColVerdictCause, flowschema.ColNACLID, flowschema.ColNACLRule} {
		q := store.QuoteIdent(c)
		sel = append(sel, "CAST("+q+" AS VARCHAR) AS "+q)
	}
	rr, err := d.QueryArrow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+flowschema.VerdictsTable+
		" ORDER BY "+flowschema.ColVerdictID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path(), err)
	}
	defer rr.Release()
	var recs []arrow.Record
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		defer rec.Release()
		recs = append(recs, rec)
	}
	if err := rr.Err(); err != nil {
		return nil, err
	}
	return arrowutil.Concat(memory.DefaultAllocator, rr.Schema(), recs)
}

// readFlowsChunk returns the records f selects in input order (source_file, source_line), as the replay met them in
// analyze: from flow_records with the strings looked up in Go (readInterned), else from the flows view. DuckDB stores them in runs of consecutive input rows (its writer threads each take whole batches), and
// go-duckdb holds the whole result in memory anyway, so the rows are read unordered and put in order in Go by
// slicing the batches into runs of consecutive lines and sorting the runs: measured on 1M records, 0.6 s against 2.6 s for
// ORDER BY in DuckDB. When the runs overlap (they cannot, unless the file was written otherwise), the query is
// run again with ORDER BY.
func readFlowsChunk(ctx context.Context, d *store.DB, f flowFilter, cache *stringsCache) (array.RecordReader, error) {
	query, args, err := flowsQuery(ctx, d, f)
	if err != nil {
		return nil, err
	}
	rr, ok, err := readInterned(ctx, d, f, cache)
	if err != nil {
		return nil, err
	}
	if !ok && f.verdictIDs {
		return nil, fmt.Errorf("%s: the stored verdict ids are read from %s, which this file lacks", d.Path(), flowschema.FlowRecordsTable)
	}
	if !ok {
		if rr, err = d.QueryArrow(ctx, query, args...); err != nil {
			return nil, err
		}
	}
	defer rr.Release()
	sorted, ok, err := sortRuns(rr)
	if err != nil || ok {
		return sorted, err
	}
	return d.QueryArrow(ctx, query+" ORDER BY "+flowschema.ColSourceFile+", "+flowschema.ColSourceLine, args...)
}

// run is a slice of a batch whose rows are consecutive lines of one source_file. Runs of unique lines are
// disjoint intervals, so sorting them by their first line orders every row. (Merely ascending rows would not
// do: a batch may hold the ends of two runs another batch interleaves.)
type run struct {
	rec        arrow.Record
	file       string
	first, end int64
	lo, hi     int
}

// sortRuns reads rr to the end and returns its rows in (source_file, source_line) order as slices of its
// batches (no copy), or ok false when its runs overlap (a line twice: not a file analyze wrote). source_file orders as ORDER BY
// does: an ENUM (a dictionary) by its values' positions, VARCHAR by name.
func sortRuns(rr array.RecordReader) (out array.RecordReader, ok bool, err error) {
	sc := rr.Schema()
	fi, li := sc.FieldIndices(flowschema.ColSourceFile), sc.FieldIndices(flowschema.ColSourceLine)
	if len(fi) != 1 || len(li) != 1 {
		return nil, false, fmt.Errorf("flows: no %s and %s columns", flowschema.ColSourceFile, flowschema.ColSourceLine)
	}
	var runs []run
	var recs []arrow.Record
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	rank := map[string]int{} // file -> position in the ENUM, every batch agreeing
	names := map[string]string{}
	enum := false
	for rr.Next() {
		rec := rr.Record()
		rec.Retain()
		recs = append(recs, rec)
		lines, ok := rec.Column(li[0]).(*array.Int64)
		if !ok {
			return nil, false, nil
		}
		var fileOf func(i int) string
		switch c := rec.Column(fi[0]).(type) {
		case *array.Dictionary:
			enum = true
			dict := c.Dictionary()
			for j := 0; j < dict.Len(); j++ {
				v := dict.ValueStr(j)
				if r, seen := rank[v]; seen && r != j {
					return nil, false, nil
				}
				rank[strings.Clone(v)] = j
			}
			fileOf = func(i int) string { return dict.ValueStr(c.GetValueIndex(i)) }
		case *array.String:
			fileOf = c.Value
		default:
			return nil, false, nil
		}
		if rec.Column(fi[0]).NullN() > 0 || lines.NullN() > 0 {
			return nil, false, nil
		}
		n := int(rec.NumRows())
		for lo := 0; lo < n; {
			f := fileOf(lo)
			hi := lo + 1
			for hi < n && lines.Value(hi) == lines.Value(hi-1)+1 && fileOf(hi) == f {
				hi++
			}
			name, seen := names[f]
			if !seen {
				name = strings.Clone(f)
				names[name] = name
			}
			runs = append(runs, run{rec: rec, file: name, first: lines.Value(lo), end: lines.Value(hi - 1), lo: lo, hi: hi})
			lo = hi
		}
	}
	if err := rr.Err(); err != nil {
		return nil, false, err
	}
	fileCmp := strings.Compare
	if enum {
		fileCmp = func(a, b string) int { return cmp.Compare(rank[a], rank[b]) }
	}
	slices.SortFunc(runs, func(x, y run) int { return cmp.Or(fileCmp(x.file, y.file), cmp.Compare(x.first, y.first)) })
	for i := 1; i < len(runs); i++ {
		if runs[i].file == runs[i-1].file && runs[i].first <= runs[i-1].end {
			return nil, false, nil
		}
	}
	parts := make([]arrow.Record, len(runs))
	for i, r := range runs {
		parts[i] = r.rec.NewSlice(int64(r.lo), int64(r.hi))
	}
	out, err = array.NewRecordReader(sc, parts)
	for _, p := range parts {
		p.Release()
	}
	return out, err == nil, err
}

// flowsQuery is the SELECT of the records to audit: the replay's columns the flows view has (input order is
// readFlows's).
func flowsQuery(ctx context.Context, d *store.DB, f flowFilter) (string, []any, error) {
	rows, err := d.SQL().QueryContext(ctx, `SELECT * FROM `+flowschema.FlowsView+` LIMIT 0`)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", d.Path(), err)
	}
	have, err := rows.Columns()
	rows.Close()
	if err != nil {
		return "", nil, err
	}
	var sel []string
	for _, c := range replayColumns {
		if !slices.Contains(have, c) {
			continue
		}
		q := store.QuoteIdent(c)
		if slices.Contains(textColumns, c) {
			sel = append(sel, "CAST("+q+" AS VARCHAR) AS "+q)
		} else {
			sel = append(sel, q)
		}
	}
	where, args := f.where()
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + flowschema.FlowsView + where
	return q, args, nil
}

// countingReader counts the records and logged bytes that pass, for progress.
type countingReader struct {
	array.RecordReader
	records, bytes atomic.Int64
}

func (c *countingReader) Next() bool {
	if !c.RecordReader.Next() {
		return false
	}
	rec := c.RecordReader.Record()
	c.records.Add(rec.NumRows())
	if idx := rec.Schema().FieldIndices(flowschema.ColBytes); len(idx) > 0 {
		if b, ok := rec.Column(idx[0]).(*array.Int64); ok {
			var n int64
			for i, v := range b.Int64Values() {
				if b.IsValid(i) {
					n += v
				}
			}
			c.bytes.Add(n)
		}
	}
	return true
}

func (c *countingReader) progress() (int64, int64) { return c.records.Load(), c.bytes.Load() }
