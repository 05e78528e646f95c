package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/recommend"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// RecommendConfig is one recommend run.
type RecommendConfig struct {
	// DB is a DuckDB file written by analyze: its flows, rule_hits and topology_files are read, and the
	// recommend_* tables written (atomically, other tables kept; replacing an earlier recommend's).
	DB string
	// Since and Until, when not zero, keep the records with Since <= start < Until.
	Since, Until time.Time
	// Options are Recommend's (recommend.DefaultOptions() when zero).
	Options recommend.Options
	// Run is recorded in flowlens_runs.
	Run store.Run
}

// RecommendResult is a recommend run's outcome.
type RecommendResult struct {
	Recommendation *recommend.Recommendation
	// Current is the topology analyze loaded (rebuilt from topology_files); Candidate is Current with the
	// recommendation applied (what WriteRecommendation writes as AWS CLI JSON).
	Current, Candidate *vpc.Model
	// Observations is what Recommend learned from (the aggregated rows of the flows view).
	Observations *recommend.Observations
}

// Recommend reads the results of analyze in cfg.DB back, rebuilds its topology (topology_files, as Audit
// does) and proposes least-privilege rules from the recorded traffic (recommend.Recommend).
//
// What counts as accepted: the LOG's verdict (action = 'ACCEPT'), for records the replay classed as requests
// (flow_role = 'request'). That is what AWS really let through; a request the current model would have
// rejected is still learned from, and Recommend reports it (accepted-not-allowed: drift or missing topology).
// A request the model accepts but the log rejected is not learned from: AWS did not allow it.
//
// rule_hits covers analyze's whole input, not a --since/--until window: with either set the rule hits are
// not passed on (no unused-rule findings), rather than calling a rule unused on the wrong window.
func Recommend(ctx context.Context, cfg RecommendConfig) (*RecommendResult, error) {
	d, files, _, err := openAnalyzed(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	defer func() {
		if d != nil {
			d.Close()
		}
	}()
	cur, _ := vpc.Load(files)
	if err := cur.FatalError(); err != nil {
		return nil, fmt.Errorf("%s: the stored topology: %w", cfg.DB, err)
	}
	obs, err := ReadObservations(ctx, d, cfg.Since, cfg.Until)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.DB, err)
	}
	opt := cfg.Options
	if opt.MaxRules == 0 {
		opt = recommend.DefaultOptions()
	}
	rec, err := recommend.Recommend(cur, obs, opt)
	if err != nil {
		return nil, err
	}
	cand, err := rec.Apply(cur)
	if err != nil {
		return nil, err
	}
	d.Close() // before the write: the file is reopened read-write
	d = nil
	if err := storeRecommendation(ctx, cfg, rec); err != nil {
		return nil, err
	}
	return &RecommendResult{Recommendation: rec, Current: cur, Candidate: cand, Observations: obs}, nil
}

// storeRecommendation writes rec's tables (recommend_summary, _rules, _findings) and the views over them
// (results.RecommendViews) into cfg.DB.
func storeRecommendation(ctx context.Context, cfg RecommendConfig, rec *recommend.Recommendation) error {
	tables, err := rec.Tables(memory.DefaultAllocator)
	if err != nil {
		return err
	}
	return writeResults(ctx, cfg.DB, cfg.Run, tables, results.RecommendViews())
}

// writeResults writes the tables (taking their records) and then the views over them into the file at path,
// in one store.WriteRun.
func writeResults(ctx context.Context, path string, run store.Run, tables []arrowutil.NamedRecord, views []results.View) error {
	var out []store.Table
	for _, t := range tables {
		r := results.Reader(t.Record)
		defer r.Release()
		out = append(out, store.Table{Name: t.Name, Reader: r})
	}
	for _, v := range views {
		out = append(out, store.Table{Name: v.Name, Query: v.Query})
	}
	return store.WriteRun(ctx, path, run, out...)
}

// Files written into recommend's output directory.
const (
	RecommendSGFile     = "security-groups.json"
	RecommendNACLFile   = "network-acls.json"
	RecommendReportFile = "REPORT.md"
	RecommendTFFile     = "main.tf"
	RecommendApplyFile  = "apply.sh"
)

// WriteRecommendation writes the candidate's security groups and NACLs as AWS CLI JSON (describe-security-groups,
// describe-network-acls), REPORT.md, main.tf (the proposed rules as Terraform resources) and apply.sh (the
// AWS CLI commands from the current rules to the proposed ones, executable, dry run unless DRY_RUN=0) into
// dir (created if missing). Each file is written to a temporary name and renamed, so a failed run leaves no
// half-written file.
func WriteRecommendation(dir string, res *RecommendResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var sg, nacl, rep, tf, sh bytes.Buffer
	if err := recommend.WriteSecurityGroups(&sg, res.Candidate); err != nil {
		return err
	}
	if err := recommend.WriteNetworkACLs(&nacl, res.Candidate); err != nil {
		return err
	}
	if err := recommend.WriteReport(&rep, res.Recommendation, res.Current); err != nil {
		return err
	}
	if err := recommend.WriteTerraform(&tf, res.Recommendation, res.Current); err != nil {
		return err
	}
	if err := recommend.WriteApplyScript(&sh, res.Recommendation, res.Current); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
		perm os.FileMode
	}{{RecommendSGFile, sg.Bytes(), 0o644}, {RecommendNACLFile, nacl.Bytes(), 0o644}, {RecommendReportFile, rep.Bytes(), 0o644},
		{RecommendTFFile, tf.Bytes(), 0o644}, {RecommendApplyFile, sh.Bytes(), 0o755}} {
		path := filepath.Join(dir, f.name)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, f.b, f.perm); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return nil
}

// ReadObservations fills recommend.Observations from the flows view and rule_hits of an analyzed file with a
// few GROUP BY queries (DuckDB aggregates; Go only parses the grouped rows):
//   - Requests: accepted requests (see Recommend) per (interface, direction, local address, peer, protocol,
//     service port = dstport), with flows, packets, bytes, first start, last end, the window slots (bit_or of
//     recommend.Window.Bit, computed in SQL), the client ports (srcport) min and max, and the first record as
//     source_file:source_line. Addresses are the packet's (pkt-srcaddr/pkt-dstaddr when the log has them).
//   - Rejected: rejected inbound requests per (interface, peer, protocol, port), for scanner detection.
//   - RuleHits: rule_hits, only without since/until (see Recommend).
//
// The window is [since, until) when given, else the accepted requests' [first start, last end + 1).
func ReadObservations(ctx context.Context, d *store.DB, since, until time.Time) (*recommend.Observations, error) {
	return readObservations(ctx, d, since, until, 0)
}

// readObservations is ReadObservations with the window cut into slots slots (0: one per day, at most 64).
func readObservations(ctx context.Context, d *store.DB, since, until time.Time, slots int) (*recommend.Observations, error) {
	cols, err := viewColumns(ctx, d.SQL(), flowschema.FlowsView)
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"flow_role", "direction", flowschema.ColAction} {
		if !slices.Contains(cols, c) {
			return nil, fmt.Errorf("the %s view has no %s column: run analyze on the flow logs first", flowschema.FlowsView, c)
		}
	}
	src, dst := "srcaddr", "dstaddr"
	if slices.Contains(cols, "pkt_srcaddr") && slices.Contains(cols, "pkt_dstaddr") {
		src, dst = "coalesce(pkt_srcaddr, srcaddr)", "coalesce(pkt_dstaddr, dstaddr)"
	}
	tf, targs := timeFilter(since, until)
	where := func(extra string) string {
		if tf == "" {
			return " WHERE " + extra
		}
		return tf + " AND " + extra
	}
	accepted := `flow_role = 'request' AND action = 'ACCEPT' AND direction IS NOT NULL`
	obs := &recommend.Observations{}

	// The window first: the slots of the evidence are computed in SQL from it.
	w := recommend.Window{}
	var first, last sql.NullInt64
	if err := d.SQL().QueryRowContext(ctx, `SELECT min(start), max("end") FROM flows`+where(accepted), targs...).Scan(&first, &last); err != nil {
		return nil, err
	}
	w.Start, w.End = first.Int64, last.Int64+1
	if !since.IsZero() {
		w.Start = since.Unix()
	}
	if !until.IsZero() {
		w.End = until.Unix()
	}
	if w.End <= w.Start {
		w.End = w.Start + 1
	}
	w.Slots = slots
	w = w.Normal()
	obs.Window = w
	// slot i = (start - Start) * Slots // (End - Start), clamped to 0..Slots-1, as recommend.Window.Bit.
	slot := fmt.Sprintf(`least(greatest((start - %d) * %d // %d, 0), %d)`, w.Start, w.Slots, w.End-w.Start, w.Slots-1)

	// The requests are the one big result (a row per interface, peer and service): read as Arrow, not row by
	// row through database/sql, which cost four times as much on 1M records.
	q := `SELECT CAST(interface_id AS VARCHAR), CAST(direction AS VARCHAR),
		CAST(CASE WHEN direction = 'ingress' THEN ` + dst + ` ELSE ` + src + ` END AS VARCHAR) AS local_addr,
		CAST(CASE WHEN direction = 'ingress' THEN ` + src + ` ELSE ` + dst + ` END AS VARCHAR) AS peer_addr,
		CAST(protocol AS BIGINT), CAST(coalesce(dstport, 0) AS BIGINT), CAST(count(*) AS BIGINT),
		CAST(coalesce(sum(packets), 0) AS BIGINT), CAST(coalesce(sum(bytes), 0) AS BIGINT), CAST(min(start) AS BIGINT),
		CAST(max("end") AS BIGINT), CAST(bit_or(CAST(1 AS UBIGINT) << CAST(` + slot + ` AS INTEGER)) AS UBIGINT),
		CAST(coalesce(min(srcport), 0) AS BIGINT), CAST(coalesce(max(srcport), 0) AS BIGINT),
		arg_min(source_file, (start, source_line, source_file)), CAST(arg_min(source_line, (start, source_line, source_file)) AS BIGINT)
		FROM flows` + where(accepted+` AND start IS NOT NULL`) + ` GROUP BY ALL`
	if err := readRequests(ctx, d, q, targs, obs); err != nil {
		return nil, fmt.Errorf("reading the accepted requests: %w", err)
	}
	db := d.SQL()

	q = `SELECT interface_id, ` + src + `, protocol, coalesce(dstport, 0), count(*),
		min(CAST(source_file AS VARCHAR) || ':' || CAST(source_line AS VARCHAR))
		FROM flows` + where(`flow_role = 'request' AND action = 'REJECT' AND direction = 'ingress'`) + ` GROUP BY ALL`
	rrows, err := db.QueryContext(ctx, q, targs...)
	if err != nil {
		return nil, fmt.Errorf("reading the rejected requests: %w", err)
	}
	defer rrows.Close()
	for rrows.Next() {
		var eni, peer, ex sql.NullString
		var proto, port sql.NullInt64
		var rj recommend.Rejection
		if err := rrows.Scan(&eni, &peer, &proto, &port, &rj.Flows, &ex); err != nil {
			return nil, err
		}
		rj.ENI, rj.Peer, rj.Proto, rj.Example = eni.String, parseAddr(peer.String), uint8(proto.Int64), ex.String
		if rj.Proto == vpc.ProtoTCP || rj.Proto == vpc.ProtoUDP {
			rj.Port = uint16(port.Int64)
		}
		obs.Rejected = append(obs.Rejected, rj)
	}
	if err := rrows.Err(); err != nil {
		return nil, err
	}
	rrows.Close()

	if since.IsZero() && until.IsZero() {
		hrows, err := db.QueryContext(ctx, `SELECT resource_id, rule_id, hits FROM `+flowschema.RuleHitsTable)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", flowschema.RuleHitsTable, err)
		}
		defer hrows.Close()
		obs.RuleHits = []recommend.RuleHit{}
		for hrows.Next() {
			var h recommend.RuleHit
			if err := hrows.Scan(&h.Resource, &h.RuleID, &h.Hits); err != nil {
				return nil, err
			}
			obs.RuleHits = append(obs.RuleHits, h)
		}
		if err := hrows.Err(); err != nil {
			return nil, err
		}
	}
	// Equal inputs give equal output: GROUP BY's order is not defined.
	slices.SortFunc(obs.Requests, func(a, b recommend.Request) int {
		return cmp.Or(strings.Compare(a.ENI, b.ENI), cmp.Compare(a.Dir, b.Dir), a.Local.Compare(b.Local),
			a.Peer.Compare(b.Peer), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
	return obs, nil
}

// parseAddr parses an address column's text; the zero Addr when NULL or not an address.
func parseAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// viewColumns lists the columns of a table or view (nil when there is none).
func viewColumns(ctx context.Context, db *sql.DB, name string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = 'main'
		AND table_name = ? ORDER BY ordinal_position`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// strColumn is a text column of a query's Arrow result.
type strColumn interface {
	IsNull(int) bool
	Value(int) string
}

// readRequests runs the requests' query q as Arrow and appends its rows to obs.Requests. Strings (interface ids,
// examples) are copied once per distinct value and addresses parsed once per distinct text.
func readRequests(ctx context.Context, d *store.DB, q string, args []any, obs *recommend.Observations) error {
	rr, err := d.QueryArrow(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rr.Release()
	strs := make(map[string]string)
	addrs := make(map[string]netip.Addr)
	text := func(c strColumn, i int) string {
		if c.IsNull(i) {
			return ""
		}
		v := c.Value(i)
		s, ok := strs[v]
		if !ok {
			s = strings.Clone(v)
			strs[s] = s
		}
		return s
	}
	addr := func(c strColumn, i int) netip.Addr {
		if c.IsNull(i) {
			return netip.Addr{}
		}
		v := c.Value(i)
		a, ok := addrs[v]
		if !ok {
			a = parseAddr(v)
			addrs[strings.Clone(v)] = a
		}
		return a
	}
	for rr.Next() {
		rec := rr.Record()
		if rec.NumCols() != 16 {
			return fmt.Errorf("%d columns, want 16", rec.NumCols())
		}
		var sc [4]strColumn
		for j, c := range []int{0, 1, 2, 3} {
			col, ok := rec.Column(c).(strColumn)
			if !ok {
				return fmt.Errorf("column %d has type %s, want text", c, rec.Column(c).DataType())
			}
			sc[j] = col
		}
		// The example's file: an ENUM (an Arrow dictionary) in analyze's files, text otherwise.
		var file func(i int) string
		switch c := rec.Column(14).(type) {
		case *array.Dictionary:
			dict, ok := c.Dictionary().(strColumn)
			if !ok {
				return fmt.Errorf("column 14 has type %s, want text", c.DataType())
			}
			file = func(i int) string {
				if c.IsNull(i) {
					return ""
				}
				return text(dict, c.GetValueIndex(i))
			}
		case strColumn:
			file = func(i int) string { return text(c, i) }
		default:
			return fmt.Errorf("column 14 has type %s, want text", c.DataType())
		}
		var nc [10]*array.Int64
		for j, c := range []int{4, 5, 6, 7, 8, 9, 10, 12, 13, 15} {
			col, ok := rec.Column(c).(*array.Int64)
			if !ok {
				return fmt.Errorf("column %d has type %s, want int64", c, rec.Column(c).DataType())
			}
			nc[j] = col
		}
		win, ok := rec.Column(11).(*array.Uint64)
		if !ok {
			return fmt.Errorf("column 11 has type %s, want uint64", rec.Column(11).DataType())
		}
		n := int(rec.NumRows())
		for i := 0; i < n; i++ {
			req := recommend.Request{ENI: text(sc[0], i), Dir: vpc.Ingress, Local: addr(sc[2], i), Peer: addr(sc[3], i),
				Proto: uint8(nc[0].Value(i))}
			if !sc[1].IsNull(i) && sc[1].Value(i) == "egress" {
				req.Dir = vpc.Egress
			}
			req.Flows, req.Packets, req.Bytes = nc[2].Value(i), nc[3].Value(i), nc[4].Value(i)
			req.FirstSeen, req.LastSeen, req.Windows = nc[5].Value(i), nc[6].Value(i), win.Value(i)
			if f := file(i); f != "" && nc[9].IsValid(i) {
				req.Example = f + ":" + strconv.FormatInt(nc[9].Value(i), 10)
			}
			if req.Proto == vpc.ProtoTCP || req.Proto == vpc.ProtoUDP {
				req.Port = uint16(nc[1].Value(i))
				req.ClientPortMin, req.ClientPortMax = uint16(nc[7].Value(i)), uint16(nc[8].Value(i))
			}
			obs.Requests = append(obs.Requests, req)
		}
	}
	return rr.Err()
}
