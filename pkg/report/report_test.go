package report

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/pipeline"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const shop = "../../samples/shop/"

var (
	shopOnce sync.Once
	shopPath string
	shopErr  error
	shopDir  string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if shopDir != "" {
		os.RemoveAll(shopDir)
	}
	os.Exit(code)
}

// shopDB returns the path of samples/shop analyzed into a DuckDB file, made once for the package's tests.
// Tests only read it: one that needs to change it works on a copy (copyDB).
func shopDB(t testing.TB) string {
	t.Helper()
	shopOnce.Do(func() {
		model, err := vpc.LoadPaths(shop + "topology")
		if err != nil {
			shopErr = err
			return
		}
		if shopDir, shopErr = os.MkdirTemp("", "flowlens-report-"); shopErr != nil {
			return
		}
		shopPath = filepath.Join(shopDir, "shop.duckdb")
		_, shopErr = pipeline.Analyze(context.Background(), pipeline.AnalyzeConfig{Model: model,
			Paths: []string{shop + "flowlogs"}, DB: shopPath})
	})
	if shopErr != nil {
		t.Fatal(shopErr)
	}
	return shopPath
}

// copyDB copies the file at path into a test's directory, under the same base name.
func copyDB(t *testing.T, path string) string {
	t.Helper()
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func openRO(t testing.TB, path string) *sql.DB {
	t.Helper()
	d, err := store.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.SQL()
}

func scalar(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n.Int64
}

func build(t testing.TB, path string, top int) *Report {
	t.Helper()
	r, err := Build(context.Background(), Options{DB: path, Top: top})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBuildMatchesSQL checks every figure of the sample's report against a direct query of the file.
func TestBuildMatchesSQL(t *testing.T) {
	path := shopDB(t)
	db := openRO(t, path)
	for _, top := range []int{3, DefaultTop, 1000} {
		r := build(t, path, top)
		o := r.Overview
		for _, c := range []struct {
			name  string
			got   int64
			query string
		}{
			{"records", o.Records, `SELECT count(*) FROM flows`},
			{"compared", o.Compared, `SELECT count(*) FROM flows WHERE model_action IS NOT NULL AND action IS NOT NULL`},
			{"agreed", o.Agreed, `SELECT count(*) FROM flows WHERE CAST(model_action AS VARCHAR) = CAST(action AS VARCHAR)`},
			{"logged reject", o.LoggedReject, `SELECT count(*) FROM flows WHERE action = 'REJECT'`},
			{"model reject", o.ModelReject, `SELECT sum(records) FROM rejects_by_layer`},
			{"not judged", o.NotJudged, `SELECT count(*) FROM flows WHERE model_action IS NULL`},
			{"since", o.Since.Unix(), `SELECT min(start) FROM flows`},
			{"until", o.Until.Unix(), `SELECT max("end") FROM flows`},
			{"timeline", r.Timeline.Records, `SELECT count(*) FROM flows WHERE action = 'REJECT' OR model_action = 'REJECT'`},
			{"ports keys", r.Ports.Keys, `SELECT count(*) FROM (` + results.RejectedPorts + `)`},
			{"ports records", r.Ports.Records, `SELECT sum(n) FROM (` + results.RejectedPorts + `)`},
			{"peers keys", r.Peers.Keys, `SELECT count(*) FROM (` + results.RejectedPeers + `)`},
			{"peers records", r.Peers.Records, `SELECT sum(n) FROM (` + results.RejectedPeers + `)`},
			{"edges", r.Edges.Edges, `SELECT count(DISTINCT (source, destination)) FROM group_edges`},
			{"edge records", r.Edges.Records, `SELECT sum(records) FROM group_edges`},
			{"edge bytes", r.Edges.Bytes, `SELECT sum(bytes) FROM group_edges`},
			{"unused", r.Unused.Total, `SELECT count(*) FROM unused_rules`},
		} {
			if want := scalar(t, db, c.query); c.got != want {
				t.Errorf("top %d: %s = %d, SQL says %d", top, c.name, c.got, want)
			}
		}
		if r.Overview.Agreement != float64(o.Agreed)/float64(o.Compared) {
			t.Errorf("agreement %v", r.Overview.Agreement)
		}

		// The timeline: each series' total and each bucket's count, against the flows.
		var sum int64
		for _, s := range r.Timeline.Series {
			want := scalar(t, db, `SELECT count(*) FROM flows WHERE (action = 'REJECT' OR model_action = 'REJECT')
				AND coalesce(CAST(verdict_layer AS VARCHAR), '') = $1 AND CAST(verdict_cause AS VARCHAR) = $2`, s.Layer, s.Cause)
			if s.Records != want {
				t.Errorf("series %s: %d, SQL says %d", s.Label(), s.Records, want)
			}
			sum += s.Records
		}
		if sum != r.Timeline.Records || len(r.Timeline.Series) == 0 {
			t.Errorf("series sum to %d of %d", sum, r.Timeline.Records)
		}
		secs := int64(r.Timeline.Bucket.Seconds())
		for _, b := range r.Timeline.Buckets {
			want := scalar(t, db, `SELECT count(*) FROM flows WHERE (action = 'REJECT' OR model_action = 'REJECT')
				AND start >= $1 AND start < $2`, b.Start.Unix(), b.Start.Unix()+secs)
			if b.Total != want {
				t.Errorf("bucket %s: %d, SQL says %d", b.Start, b.Total, want)
			}
			r.Timeline.Max = max(r.Timeline.Max, b.Total)
		}

		// The rankings are analyze's top lists.
		ctx := context.Background()
		if want, err := results.TopRejectedPorts(ctx, db, top); err != nil || !cmp.Equal(r.Ports.Rows, want) {
			t.Errorf("ports %v, want %v (%v)", r.Ports.Rows, want, err)
		}
		if want, err := results.TopRejectedPeers(ctx, db, top); err != nil || !cmp.Equal(r.Peers.Rows, want) {
			t.Errorf("peers %v, want %v (%v)", r.Peers.Rows, want, err)
		}
		if len(r.Edges.Rows) != min(top, int(r.Edges.Edges)) || len(r.Unused.Rows) != min(top, int(r.Unused.Total)) {
			t.Errorf("top %d: %d edges of %d, %d unused of %d", top, len(r.Edges.Rows), r.Edges.Edges, len(r.Unused.Rows), r.Unused.Total)
		}
		for i, e := range r.Edges.Rows {
			var records, bytes, rejected, services int64
			if err := db.QueryRow(`SELECT sum(records), sum(bytes), sum(rejected), count(*) FROM group_edges
				WHERE source = $1 AND destination = $2`, e.Source, e.Destination).Scan(&records, &bytes, &rejected, &services); err != nil {
				t.Fatal(err)
			}
			if e.Records != records || e.Bytes != bytes || e.Rejected != rejected || e.ServiceCount != services {
				t.Errorf("edge %s -> %s: %+v, SQL says records %d bytes %d rejected %d services %d", e.Source,
					e.Destination, e, records, bytes, rejected, services)
			}
			if i > 0 && e.Bytes > r.Edges.Rows[i-1].Bytes {
				t.Errorf("edge %d has more bytes than the one before it", i)
			}
		}
	}
}

// TestBroadRules: the rules open to 0.0.0.0/0, ::/0 or any CIDR wider than /16, with their hits.
func TestBroadRules(t *testing.T) {
	path := shopDB(t)
	db := openRO(t, path)
	r := build(t, path, 1000)
	rows, err := db.Query(`SELECT r.rule_id, r.peer, h.hits FROM topology_sg_rules r JOIN rule_hits h ON h.rule_id = r.rule_id
		WHERE r.peer_kind = 'cidr'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[string]int64{}
	for rows.Next() {
		var id, peer string
		var hits int64
		if err := rows.Scan(&id, &peer, &hits); err != nil {
			t.Fatal(err)
		}
		if p, err := netip.ParsePrefix(peer); err != nil || p.Bits() < 16 {
			want[id+" "+peer] = hits
		}
	}
	got := map[string]int64{}
	for _, b := range r.Broad.Rows {
		got[b.RuleID+" "+b.Peer] = b.Hits
	}
	if diff := cmp.Diff(want, got); diff != "" || len(want) == 0 || r.Broad.Total != int64(len(want)) {
		t.Errorf("broad rules (-want +got):\n%s (total %d)", diff, r.Broad.Total)
	}
}

// TestDOTGolden: the graph of the sample is testdata/shop.dot (go test -update rewrites it).
func TestDOTGolden(t *testing.T) {
	r := build(t, shopDB(t), DefaultTop)
	var b bytes.Buffer
	if err := WriteDOT(&b, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "shop.dot"), b.String())
	if strings.Count(b.String(), " -> ") != len(r.Edges.Rows) {
		t.Errorf("%d edges in the DOT, want %d", strings.Count(b.String(), " -> "), len(r.Edges.Rows))
	}
	if dot, err := exec.LookPath("dot"); err == nil { // Graphviz, where installed, must read it without a word
		cmd := exec.Command(dot, "-Tsvg", "-o", os.DevNull)
		cmd.Stdin = &b
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("dot -Tsvg: %v %s", err, out)
		}
	}
}

// TestHTMLDeterministic: the page of the sample is testdata/shop.html, and the same however often it is made;
// it loads nothing (no URL but the page's own anchors).
func TestHTMLDeterministic(t *testing.T) {
	path := shopDB(t)
	var pages [2]string
	for i := range pages {
		var b bytes.Buffer
		if err := WriteHTML(&b, build(t, path, DefaultTop)); err != nil {
			t.Fatal(err)
		}
		pages[i] = b.String()
	}
	if pages[0] != pages[1] {
		t.Fatal("two renderings of one file differ")
	}
	checkGolden(t, filepath.Join("testdata", "shop.html"), pages[0])
	for _, bad := range []string{"http:", "https:", "//cdn", "<script", "<link", "@import", "url("} {
		if strings.Contains(pages[0], bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, absent := range []string{`id="audit"`, `id="recommend"`} {
		if strings.Contains(pages[0], absent) {
			t.Errorf("the page has %s, but the file has no such summary", absent)
		}
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestSummaries: the audit and recommend sections appear when their tables are in the file, with their numbers.
func TestSummaries(t *testing.T) {
	path := copyDB(t, shopDB(t))
	addSummaries(t, path)
	r := build(t, path, DefaultTop)
	wantRec := &Recommend{Since: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 20, 0, 30, 0, 0, time.UTC),
		Groups: 5, GroupsChanged: 3, RulesProposed: 7, NACLs: 3, NACLsChanged: 1, EntriesProposed: 4, Unproven: 2, Findings: 6,
		Scanners: 1, ExposureBeforeV4: 4294967296, ExposureAfterV4: 1024, ExposureCutV4: 0.99999976}
	wantAudit := &Audit{Policy: "candidate/", RecordsJudged: 2989, WouldBreakRecords: 12, WouldBreakGroups: 2,
		NewlyAllowedRecords: 3, NewlyAllowedGroups: 1, CoverageRecords: 0.75, CoverageBytes: 0.5, ExposureBefore: 100,
		ExposureAfter: 10, Failed: true}
	if diff := cmp.Diff(wantRec, r.Recommend); diff != "" {
		t.Errorf("recommend (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantAudit, r.Audit); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="recommend" data-rules-proposed="7" data-entries-proposed="4"`,
		`id="audit" data-would-break="12" data-newly-allowed="3"`, "4,294,967,296 → 1,024", "cut &gt;99.9%"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestNotAnalyzed: a missing file, one without flows and one with flows but no verdicts say what to run.
func TestNotAnalyzed(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, setup string
		notAnalyzed bool
	}{
		{name: "missing"},
		{name: "empty", setup: `CREATE TABLE x (a INTEGER)`, notAnalyzed: true},
		{name: "ingested", setup: `CREATE TABLE flow_records (a INTEGER); CREATE VIEW flows AS SELECT a FROM flow_records`,
			notAnalyzed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".duckdb")
			if tc.setup != "" {
				d, err := store.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.SQL().Exec(tc.setup)
				d.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := Build(context.Background(), Options{DB: path})
			if err == nil || !strings.Contains(err.Error(), "flowlens analyze") || errors.Is(err, ErrNotAnalyzed) != tc.notAnalyzed {
				t.Errorf("err %v; want one naming flowlens analyze, ErrNotAnalyzed %t", err, tc.notAnalyzed)
			}
		})
	}
}

func TestBucketFor(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 0, 0, 38, 0, time.UTC)
	for _, tc := range []struct {
		window time.Duration
		want   time.Duration
	}{
		{0, time.Minute},
		{31 * time.Minute, time.Minute},
		{59 * time.Minute, time.Minute},     // 00:00:38 .. 00:59:38: 60 minute buckets
		{60 * time.Minute, 5 * time.Minute}, // 61
		{4 * time.Hour, 5 * time.Minute},
		{24 * time.Hour, 30 * time.Minute},
		{2 * 24 * time.Hour, time.Hour},
		{30 * 24 * time.Hour, 24 * time.Hour},
		{365 * 24 * time.Hour, 7 * 24 * time.Hour},
		{5 * 365 * 24 * time.Hour, 31 * 24 * time.Hour},
	} {
		got := bucketFor(t0, t0.Add(tc.window))
		if got != tc.want {
			t.Errorf("window %s: bucket %s, want %s", tc.window, got, tc.want)
		}
		if n := t0.Add(tc.window).Unix()/int64(got.Seconds()) - t0.Unix()/int64(got.Seconds()) + 1; n > maxBuckets {
			t.Errorf("window %s: %d buckets", tc.window, n)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int64]int64{0: 4, 1: 4, 4: 4, 5: 8, 11: 20, 21: 40, 41: 80, 81: 100, 101: 200, 12345: 20000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

// addSummaries adds an audit_summary and a recommend_summary table to the file at path, with the figures
// TestSummaries expects.
func addSummaries(t *testing.T, path string) {
	t.Helper()
	d, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.SQL().Exec(`CREATE TABLE recommend_summary AS SELECT TIMESTAMP '2026-11-20 00:00:00' AS since,
		TIMESTAMP '2026-11-20 00:30:00' AS until, 5::BIGINT AS "groups", 3::BIGINT AS groups_changed,
		7::BIGINT AS rules_proposed, 3::BIGINT AS nacls, 1::BIGINT AS nacls_changed, 4::BIGINT AS entries_proposed,
		2::BIGINT AS unproven, 6::BIGINT AS findings, 1::BIGINT AS scanners, 0::BIGINT AS never_filtered,
		4294967296::BIGINT AS exposure_before_v4, 1024::BIGINT AS exposure_after_v4, 0.99999976::DOUBLE AS exposure_cut_v4;
	CREATE TABLE audit_summary AS SELECT 'candidate/' AS policy, NULL::TIMESTAMP AS since, NULL::TIMESTAMP AS until,
		2989::BIGINT AS records_judged, 12::BIGINT AS would_break_records, 2::BIGINT AS would_break_groups,
		3::BIGINT AS newly_allowed_records, 1::BIGINT AS newly_allowed_groups, 0.75::DOUBLE AS coverage_records,
		0.5::DOUBLE AS coverage_bytes, 100::BIGINT AS exposure_before, 10::BIGINT AS exposure_after, true AS failed`)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestFoldedAtScale renders a report of many peers and pairs: the page says what the top lists leave out, and
// the graph draws at most maxGraphEdges pairs while the table lists the top.
func TestFoldedAtScale(t *testing.T) {
	r := &Report{File: "big.duckdb", Top: 100,
		Peers: Ranking{Rows: []results.Count{{Key: "198.51.100.1", Count: 9440}}, Keys: 1235, Records: 10000},
		Ports: Ranking{Rows: []results.Count{{Key: "tcp/22", Count: 10}}, Keys: 1, Records: 10},
		Edges: Edges{Edges: 5000, Records: 1000000, Bytes: 1 << 40}}
	for i := range 100 {
		r.Edges.Rows = append(r.Edges.Rows, Edge{Source: fmt.Sprintf("sg-%d", i), SourceKind: "groups",
			Destination: fmt.Sprintf("10.%d.0.0/24", i), DestinationKind: "cidr", Services: []string{"tcp/443"},
			ServiceCount: 1, Records: 100, Bytes: 1 << 20})
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"and 1,234 more peers: 5.6% of these records",
		"and 4,900 more pairs: 99.0% of records, &gt;99.9% of bytes", "The graph draws the first 40 pairs of the table&#39;s 100.",
		"No REJECTs."} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "more ports") {
		t.Error("a fold line for ports, which are all shown")
	}
	if n, rows := strings.Count(page, "<path d="), strings.Count(page, `<tr class="edge"`); n != maxGraphEdges || rows != 100 {
		t.Errorf("%d curves, %d rows; want %d, 100", n, rows, maxGraphEdges)
	}
}

// TestNoEnd: records without an end time still land in the timeline's buckets, and the window ends at the
// latest start.
func TestNoEnd(t *testing.T) {
	path := copyDB(t, shopDB(t))
	d, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.SQL().Exec(`ALTER VIEW flows RENAME TO flows_stored;
		CREATE VIEW flows AS SELECT * REPLACE (NULL::BIGINT AS "end") FROM flows_stored`)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := build(t, path, DefaultTop)
	db := openRO(t, path)
	if want := scalar(t, db, `SELECT max(start) FROM flows`); r.Overview.Until.Unix() != want {
		t.Errorf("until %s, want the latest start %d", r.Overview.Until, want)
	}
	var sum int64
	for _, b := range r.Timeline.Buckets {
		sum += b.Total
	}
	if sum != r.Timeline.Records || sum == 0 {
		t.Errorf("buckets hold %d of %d REJECTs", sum, r.Timeline.Records)
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		f        float64
		one, two string
	}{
		{0, "0.0%", "0.00%"}, {1, "100.0%", "100.00%"}, {0.05612, "5.6%", "5.61%"}, {0.0004, "<0.1%", "0.04%"},
		{0.00004, "<0.1%", "<0.01%"}, {0.9996, ">99.9%", "99.96%"}, {0.99996, ">99.9%", ">99.99%"}, {0.9994, "99.9%", "99.94%"},
	} {
		if one, two := pct(tc.f), pct2(tc.f); one != tc.one || two != tc.two {
			t.Errorf("%v: %s, %s; want %s, %s", tc.f, one, two, tc.one, tc.two)
		}
	}
}
