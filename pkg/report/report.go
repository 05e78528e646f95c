// Package report turns an analyzed results file into one self-contained HTML page (and the group graph as
// Graphviz DOT): Build reads the numbers with SQL over the DuckDB file, WriteHTML and WriteDOT render them.
//
// Every number comes from a query over the file, opened read-only through pkg/store; each chart is one
// aggregating query (one pass over flows at most), so the cost grows with the records only inside DuckDB, and
// what Go holds is bounded by Options.Top and the timeline's bucket count. The output depends only on the file
// and the options: rows are ranked with ties broken by key, and nothing says when the page was made.
package report

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
)

// DefaultTop is how many rows a ranked section shows unless Options.Top says otherwise.
const DefaultTop = 20

// Options say what to read and how much to show.
type Options struct {
	DB  string // a DuckDB file that flowlens analyze wrote
	Top int    // rows per ranked section (ports, peers, edges, rules); 0 means DefaultTop
}

// ErrNotAnalyzed is wrapped by Build's error when the file lacks what analyze writes; the message says what to
// run.
var ErrNotAnalyzed = errors.New("no analyze results")

// Report is everything the page shows. Lists are ranked (most first, ties by key) and cut at Top; each says
// how many rows and records it stands for in all, so that what was folded away can be told.
type Report struct {
	File      string // the DuckDB file's base name
	Top       int
	Overview  Overview
	Timeline  Timeline
	Ports     Ranking // logged REJECTs of requests by protocol/destination port (results.RejectedPorts)
	Peers     Ranking // logged REJECTs by peer address (results.RejectedPeers)
	Edges     Edges
	Unused    List[UnusedRule]
	Broad     List[BroadRule]
	Audit     *Audit     // nil: the file has no audit_summary
	Recommend *Recommend // nil: the file has no recommend_summary
}

// Overview is the whole file in one line: its window, its records and how far the model agrees with the log.
type Overview struct {
	Since, Until time.Time // the earliest start and the latest end (or start) of the records (UTC); zero when none has a start
	Records      int64
	Compared     int64   // judged records with a logged action
	Agreed       int64   // of those, the model's action is the logged one
	Agreement    float64 // Agreed / Compared; 0 when nothing was compared
	LoggedReject int64   // action = REJECT
	ModelReject  int64   // model_action = REJECT
	// The disagreements: logged ACCEPT that the model rejects, logged REJECT that the model accepts.
	AcceptRejected, RejectAccepted int64
	NotJudged                      int64 // model_action IS NULL (NODATA, SKIPDATA, unknown interfaces)
}

// Timeline is the REJECTs (logged or modelled) per time bucket, split by deciding layer and cause.
type Timeline struct {
	Bucket  time.Duration
	Series  []Series // one per (layer, cause), most records first
	Buckets []Bucket // every bucket from the first REJECT's to the last one's, empty ones included
	Records int64    // the REJECTs charted
	Max     int64    // the largest bucket total
}

// Series is one (layer, cause) of the timeline. Layer is "" for a REJECT the model did not make (the log's
// alone: cause unexplained, or a record it could not judge).
type Series struct {
	Layer, Cause string
	Records      int64
}

// Label names the series as the page's legend does: "sg-inbound: sg-no-matching-rule", or "log only: unexplained".
func (s Series) Label() string {
	layer := s.Layer
	if layer == "" {
		layer = "log only"
	}
	return layer + ": " + s.Cause
}

// Bucket is one time bucket: Counts[i] records of Series[i], from Start (UTC) to Start+Bucket.
type Bucket struct {
	Start  time.Time
	Counts []int64
	Total  int64
}

// Ranking is a top list of keys by records.
type Ranking struct {
	Rows    []results.Count
	Keys    int64 // distinct keys in all
	Records int64 // records over all keys
}

// Folded is what the ranking leaves out: keys and records.
func (r Ranking) Folded() (keys, records int64) {
	records = r.Records
	for _, c := range r.Rows {
		records -= c.Count
	}
	return r.Keys - int64(len(r.Rows)), records
}

// Edges is who talks to whom: the group_edges view summed over services into (source, destination) pairs,
// most bytes first.
type Edges struct {
	Rows           []Edge
	Edges          int64 // pairs in all
	Records, Bytes int64 // over all pairs
}

// Folded is what the list leaves out: pairs, records and bytes.
func (e Edges) Folded() (edges, records, bytes int64) {
	records, bytes = e.Records, e.Bytes
	for _, r := range e.Rows {
		records -= r.Records
		bytes -= r.Bytes
	}
	return e.Edges - int64(len(e.Rows)), records, bytes
}

// Edge is one (source, destination) pair of identities (group_edges: security groups, an interface, or a
// /24 or /64 of addresses outside the topology).
type Edge struct {
	Source, SourceKind, SourceNames                string // kind: groups, interface or cidr; names "" for a cidr
	Destination, DestinationKind, DestinationNames string
	Services                                       []string // the pair's services, most records first, at most maxServices
	ServiceCount                                   int64    // services in all
	Records, Packets, Bytes, Accepted, Rejected    int64
}

// List is the first rows of a list and how many rows it has in all.
type List[T any] struct {
	Rows  []T
	Total int64
}

// UnusedRule is a row of the unused_rules view.
type UnusedRule struct {
	RuleType, ResourceID, RuleID, Direction, Action, Rule string
	ShadowedBy                                            int64 // 0: not shadowed
	Interfaces                                            int64
}

// BroadRule is a security group rule whose peer is a CIDR wider than /16 (0.0.0.0/0 and ::/0 included), with
// its hits in the window (rule_hits).
type BroadRule struct {
	GroupID, GroupName, RuleID, Direction, Rule, Peer string
	Hits, Bytes                                       int64
}

// Audit is the audit_summary row (flowlens audit; pkg/audit's Tables).
type Audit struct {
	Policy                                  string
	Since, Until                            time.Time // zero: unbounded
	RecordsJudged                           int64
	WouldBreakRecords, WouldBreakGroups     int64
	NewlyAllowedRecords, NewlyAllowedGroups int64
	CoverageRecords, CoverageBytes          float64 // fractions, 0 to 1
	ExposureBefore, ExposureAfter           int64
	Failed                                  bool
}

// Recommend is the recommend_summary row (flowlens recommend; pkg/recommend's Tables).
type Recommend struct {
	Since, Until                                time.Time
	Groups, GroupsChanged, RulesProposed        int64
	NACLs, NACLsChanged, EntriesProposed        int64
	Unproven, Findings, Scanners, NeverFiltered int64
	ExposureBeforeV4, ExposureAfterV4           int64
	ExposureCutV4                               float64 // fraction, 0 to 1
}

// required are the tables and views of analyze that the report reads.
var required = []string{flowschema.VerdictsTable, flowschema.RuleHitsTable, flowschema.TopologySGRulesTable,
	flowschema.TopologySecurityGroupsTable, results.ViewGroupEdges, results.ViewUnusedRules}

// Build reads the report's numbers from the analyzed DuckDB file opts.DB, opened read-only.
func Build(ctx context.Context, opts Options) (*Report, error) {
	if opts.Top <= 0 {
		opts.Top = DefaultTop
	}
	if _, err := os.Stat(opts.DB); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: write it with 'flowlens analyze --topology PATH --db %s FLOWLOG...' (or give --db)", opts.DB, opts.DB)
	}
	d, err := store.OpenReadOnly(opts.DB)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	q := &querier{db: d.SQL(), top: opts.Top}
	names, err := store.Objects(ctx, d.SQL())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.DB, err)
	}
	run := fmt.Sprintf("run 'flowlens analyze --topology PATH --db %s FLOWLOG...'", opts.DB)
	if !names[flowschema.FlowsView] {
		return nil, fmt.Errorf("%s holds no flows (%w): %s", opts.DB, ErrNotAnalyzed, run)
	}
	for _, n := range required {
		if !names[n] {
			return nil, fmt.Errorf("%s has no %s (%w; ingest --db stores flows only, an older analyze lacks views): %s",
				opts.DB, n, ErrNotAnalyzed, run)
		}
	}
	r := &Report{File: filepath.Base(opts.DB), Top: opts.Top}
	type step struct {
		what string
		fn   func(context.Context, *Report) error
	}
	steps := []step{{"overview", q.overview}, {"timeline", q.timeline}, {"rejected ports", q.ports},
		{"rejected peers", q.peers}, {"group edges", q.edges}, {"unused rules", q.unused}, {"broad rules", q.broad}}
	if names[flowschema.AuditSummaryTable] {
		steps = append(steps, step{"audit summary", q.audit})
	}
	if names[flowschema.RecommendSummaryTable] {
		steps = append(steps, step{"recommend summary", q.recommend})
	}
	for _, s := range steps {
		if err := s.fn(ctx, r); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", opts.DB, s.what, err)
		}
	}
	return r, nil
}
