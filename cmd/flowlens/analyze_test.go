package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/store"
)

const shop = "../../samples/shop/"

// TestAnalyzeSampleAttribution runs analyze on the bundled scenario and checks, through DuckDB, that every
// record's attribution equals the generator's independent expectation (testdata/shop-expected/*.csv.gz, written from the
// traffic model, not from the replay engine).
func TestAnalyzeSampleAttribution(t *testing.T) {
	for _, tc := range []struct {
		name, logs, expected string
		records              int64
	}{
		{"v2", "flowlogs", "expected.csv.gz", 3000},
		{"v5", "flowlogs-v5", "expected-flowlogs-v5.csv.gz", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "shop.duckdb")
			status, out, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, "-o", "json", shop+tc.logs)
			if status != exitOK {
				t.Fatalf("status %d\nstderr: %s", status, errOut)
			}
			var rep analyzeReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("summary is not JSON: %v\n%s", err, out)
			}
			if rep.Ingest.Records != tc.records || rep.Replay.Agreement != 1 || rep.Replay.Unexplained != 0 {
				t.Errorf("records %d agreement %v unexplained %d, want %d, 1, 0", rep.Ingest.Records,
					rep.Replay.Agreement, rep.Replay.Unexplained, tc.records)
			}
			d, err := store.OpenReadOnly(db)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			exp, err := filepath.Abs(filepath.Join("testdata", "shop-expected", tc.expected))
			if err != nil {
				t.Fatal(err)
			}
			join := `FROM flows f JOIN read_csv(` + store.QuoteString(exp) + `, header = true, all_varchar = true) e
				ON f.source_line = CAST(e.line AS BIGINT) AND ends_with(f.source_file, e.file)`
			var joined int64
			if err := d.SQL().QueryRow(`SELECT count(*) ` + join).Scan(&joined); err != nil {
				t.Fatal(err)
			}
			if joined != tc.records {
				t.Fatalf("%d flows joined the expectation, want %d", joined, tc.records)
			}
			// Every attribution column, NULL and '' alike.
			// Every attribution column, NULL and '' alike. nacl_rule and sg_rule are compared on ACCEPTs only: on a
			// REJECT the engine also reports what the layer the packet never reached would have done (explain
			// shows it), which the traffic model does not record.
			got := `concat_ws(' | ', coalesce(f.direction, ''), coalesce(f.model_action, ''), coalesce(f.verdict_layer, ''),
				coalesce(f.verdict_rule, ''), coalesce(f.verdict_cause, ''), coalesce(f.verdict_also, ''),
				CASE WHEN e.action = 'ACCEPT' THEN coalesce(f.nacl_rule, '') ELSE '' END,
				CASE WHEN e.action = 'ACCEPT' THEN coalesce(f.sg_rule, '') ELSE '' END, coalesce(f.flow_role, ''))`
			want := `concat_ws(' | ', coalesce(e.flow_direction, ''), coalesce(e.action, ''), coalesce(e.layer, ''),
				coalesce(e.rule, ''), coalesce(e.cause, ''), coalesce(e.also, ''),
				CASE WHEN e.action = 'ACCEPT' THEN coalesce(e.nacl_entry, '') ELSE '' END,
				CASE WHEN e.action = 'ACCEPT' THEN coalesce(e.sg_pass, '') ELSE '' END, coalesce(e.role, ''))`
			rows, err := d.SQL().Query(`SELECT e.file || ':' || e.line, ` + got + `, ` + want + ` ` + join +
				` WHERE ` + got + ` IS DISTINCT FROM ` + want + ` ORDER BY CAST(e.line AS BIGINT) LIMIT 10`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var where, got, want string
				if err := rows.Scan(&where, &got, &want); err != nil {
					t.Fatal(err)
				}
				t.Errorf("%s\n  got:  %s\n  want: %s", where, got, want)
			}
			// Every rule of the topology has a rule_hits row, and the deny rules that decided REJECTs were hit.
			var rules, hitRules int64
			if err := d.SQL().QueryRow(`SELECT (SELECT count(*) FROM topology_sg_rules) + (SELECT count(*) FROM topology_nacl_entries),
					(SELECT count(*) FROM rule_hits)`).Scan(&rules, &hitRules); err != nil {
				t.Fatal(err)
			}
			if rules != hitRules || rules == 0 {
				t.Errorf("rule_hits has %d rows for %d topology rules", hitRules, rules)
			}
			var denyHits int64
			if err := d.SQL().QueryRow(`SELECT hits FROM rule_hits WHERE rule_type = 'nacl' AND rule_id = '50' AND direction = 'ingress'`).Scan(&denyHits); err != nil {
				t.Fatal(err)
			}
			var want50 int64
			if err := d.SQL().QueryRow(`SELECT count(*) FROM flows WHERE verdict_rule = '50'`).Scan(&want50); err != nil {
				t.Fatal(err)
			}
			if denyHits != want50 || denyHits == 0 {
				t.Errorf("rule 50 hits %d, flows decided by it %d", denyHits, want50)
			}
		})
	}
}

func TestAnalyzeUsageAndTopologyErrors(t *testing.T) {
	if status, _, _ := runCLI(t, "", "analyze", shop+"flowlogs"); status != exitUsage {
		t.Errorf("without --topology: status %d, want %d", status, exitUsage)
	}
	if status, _, _ := runCLI(t, "", "analyze", "--topology", shop+"topology"); status != exitUsage {
		t.Errorf("without flow logs: status %d, want %d", status, exitUsage)
	}
	if status, _, _ := runCLI(t, "", "analyze", "--topology", shop+"topology", "--admit", "maybe", shop+"flowlogs"); status != exitUsage {
		t.Errorf("bad --admit: status %d, want %d", status, exitUsage)
	}
	// A topology whose interface names a subnet that is not loaded is a fatal finding: exit 3, file named.
	status, _, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology/network-interfaces.json",
		"--db", filepath.Join(t.TempDir(), "x.duckdb"), shop+"flowlogs")
	if status != exitFindings || !strings.Contains(errOut, "network-interfaces.json") {
		t.Errorf("status %d, stderr %s", status, errOut)
	}
}

func TestExplain(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	analyzeShop(t, db)
	status, out, errOut := runCLI(t, "", "explain", "--db", db, "--cause", "nacl-missing-return", "--limit", "1")
	if status != exitOK {
		t.Fatalf("explain: %d %s", status, errOut)
	}
	for _, want := range []string{"1. sg-outbound: allow, reply to a tracked connection",
		"2. nacl-outbound acl-0a1b2c3d4e5f62002: deny, rule 32767", "<- decides", "(nacl-missing-return)"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	status, out, _ = runCLI(t, "", "explain", "--db", db, "--action", "REJECT", "--dst-port", "443", "--protocol", "tcp", "-o", "json", "--limit", "100")
	var res explainOutput
	if err := json.Unmarshal([]byte(out), &res); status != exitOK || err != nil || len(res.Records) == 0 {
		t.Fatalf("json: %d %v %d records", status, err, len(res.Records))
	}
	for _, r := range res.Records {
		if r.Logged != "REJECT" || !strings.HasSuffix(r.Dst, ":443") || r.Protocol != "tcp" {
			t.Errorf("filter leak: %+v", r)
		}
	}
	if status, _, _ := runCLI(t, "", "explain", "--db", db, "--addr", "not-an-ip"); status != exitUsage {
		t.Errorf("bad --addr: status %d", status)
	}
}

// TestExplainFilters: every filter selects exactly the records a query of the written file selects, the
// count of matches is told when --limit cuts, and values that cannot match are refused with the valid ones.
func TestExplainFilters(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	analyzeShop(t, db)
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	count := func(where string) int64 {
		var n int64
		if err := d.SQL().QueryRow("SELECT count(*) FROM flows WHERE " + where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var iface string
	if err := d.SQL().QueryRow(`SELECT interface_id FROM flows WHERE action = 'REJECT' ORDER BY 1 LIMIT 1`).Scan(&iface); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		args      []string
		where     string // the same selection in SQL
		wantShown int    // -1: all matched
	}{
		{"a CIDR matches either address", []string{"--addr", "10.20.3.0/24"},
			"srcaddr LIKE '10.20.3.%' OR dstaddr LIKE '10.20.3.%'", -1},
		{"a source CIDR", []string{"--src", "10.20.1.0/24"}, "srcaddr LIKE '10.20.1.%'", -1},
		{"an address is a one-address prefix", []string{"--dst", "10.20.3.10"}, "dstaddr = '10.20.3.10'", -1},
		{"a unique prefix of an interface id", []string{"--interface", iface[:len(iface)-3]}, "interface_id = '" + iface + "'", -1},
		{"the layer that decided", []string{"--layer", "nacl-outbound"}, "verdict_layer = 'nacl-outbound'", -1},
		{"a cause", []string{"--cause", "sg-no-matching-rule"}, "verdict_cause = 'sg-no-matching-rule'", -1},
		{"--limit cuts", []string{"--action", "REJECT", "--limit", "3"}, "action = 'REJECT'", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"explain", "--db", db, "-o", "json", "--limit", "0"}, tc.args...)
			status, out, errOut := runCLI(t, "", args...)
			var res explainOutput
			if err := json.Unmarshal([]byte(out), &res); status != exitOK || err != nil {
				t.Fatalf("status %d, %v, stderr %s", status, err, errOut)
			}
			want := count(tc.where)
			shown := int(want)
			if tc.wantShown >= 0 {
				shown = tc.wantShown
			}
			if want == 0 || res.Matched != want || res.Shown != shown || len(res.Records) != shown {
				t.Errorf("matched %d, shown %d (%d records), want %d matched, %d shown", res.Matched, res.Shown, len(res.Records), want, shown)
			}
		})
	}
	status, _, errOut := runCLI(t, "", "explain", "--db", db, "--action", "REJECT", "--limit", "2")
	if status != exitOK || !strings.Contains(errOut, "showing 2 of") {
		t.Errorf("a cut table says how many matched: status %d, stderr %q", status, errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the usage error
	}{
		{"an unknown cause", []string{"--cause", "nacl-missing"}, "nacl-missing-return"},
		{"an unknown layer", []string{"--layer", "sg"}, "sg-inbound"},
		{"an ambiguous interface prefix", []string{"--interface", "eni-"}, "more than one interface"},
		{"a negative limit", []string{"--limit", "-1"}, "--limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, errOut := runCLI(t, "", append([]string{"explain", "--db", db}, tc.args...)...)
			if status != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("status %d, stderr %q, want usage error naming %q", status, errOut, tc.want)
			}
		})
	}
}

func TestOutputDirMissing(t *testing.T) {
	for _, args := range [][]string{
		{"analyze", "--topology", shop + "topology", "--db", "no/such/dir/x.duckdb", shop + "flowlogs"},
		{"ingest", "--db", "no/such/dir/x.duckdb", shop + "flowlogs"},
		{"ingest", "--parquet", "no/such/dir/x.parquet", shop + "flowlogs"},
	} {
		status, _, errOut := runCLI(t, "", args...)
		if status != exitUsage || !strings.Contains(errOut, "no/such/dir does not exist") {
			t.Errorf("%v: status %d, stderr %q", args, status, errOut)
		}
	}
}

// TestIngestAnalyzeSameFile: ingest and analyze take turns on one file. Both write flows as a view over
// flow_records and flow_strings, analyze's with verdicts too; ingest drops an earlier analyze's verdicts, and
// flows always has every record, with verdict columns exactly when analyze wrote it.
func TestIngestAnalyzeSameFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.duckdb")
	objects := func() string {
		d, err := store.OpenReadOnly(db)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var objs string
		var flows, verdictCols int64
		err = d.SQL().QueryRow(`SELECT (SELECT string_agg(table_name || ':' || table_type, ' ' ORDER BY table_name)
			FROM information_schema.tables WHERE table_name IN ('flows', 'flow_records', 'flow_strings', 'verdicts')),
			(SELECT count(*) FROM flows),
			(SELECT count(*) FROM information_schema.columns WHERE table_name = 'flows' AND column_name = 'verdict_cause')`).
			Scan(&objs, &flows, &verdictCols)
		if err != nil {
			t.Fatal(err)
		}
		if flows != 3000 {
			t.Errorf("%s: flows has %d rows, want 3000", objs, flows)
		}
		if want := int64(strings.Count(objs, "verdicts")); verdictCols != want {
			t.Errorf("%s: flows has %d verdict_cause columns, want %d", objs, verdictCols, want)
		}
		return objs
	}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "--db", db, shop + "flowlogs"}, "flow_records:BASE TABLE flow_strings:BASE TABLE flows:VIEW"},
		{[]string{"analyze", "--topology", shop + "topology", "--db", db, shop + "flowlogs"}, "flow_records:BASE TABLE flow_strings:BASE TABLE flows:VIEW verdicts:BASE TABLE"},
		{[]string{"analyze", "--topology", shop + "topology", "--db", db, shop + "flowlogs"}, "flow_records:BASE TABLE flow_strings:BASE TABLE flows:VIEW verdicts:BASE TABLE"},
		{[]string{"ingest", "--db", db, shop + "flowlogs"}, "flow_records:BASE TABLE flow_strings:BASE TABLE flows:VIEW"},
	}
	for i, st := range steps {
		if status, _, errOut := runCLI(t, "", st.args...); status != exitOK {
			t.Fatalf("step %d %v: status %d: %s", i, st.args[0], status, errOut)
		}
		if got := objects(); got != st.want {
			t.Errorf("after step %d (%s): %s, want %s", i, st.args[0], got, st.want)
		}
	}
	// flowlens_runs keeps each run's command as given
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var cmds string
	if err := d.SQL().QueryRow(`SELECT string_agg(DISTINCT command, '|' ORDER BY command) FROM flowlens_runs`).Scan(&cmds); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, st := range []int{1, 0} { // analyze sorts first
		want = append(want, "flowlens "+strings.Join(steps[st].args, " "))
	}
	if w := strings.Join(want, "|"); cmds != w {
		t.Errorf("flowlens_runs commands %q, want %q", cmds, w)
	}
}

// TestFlowsViewsMatchParquet: ingest and analyze store records as ids (flow_records, flow_strings) and show
// them through the flows view; for every input column both views must give exactly the rows of ingest's
// Parquet output, which is written straight from the Arrow records: same rows (duplicates counted), same
// NULLs and empty strings, same column names and order; and the two views have the same column types. Inputs
// cover the default format, NODATA/SKIPDATA and IPv6, custom orders with many string fields (v3, v5, an
// unknown field) and malformed lines.
func TestFlowsViewsMatchParquet(t *testing.T) {
	const testdata = "../../pkg/ingest/testdata/"
	for _, logs := range [][]string{
		{shop + "flowlogs", shop + "flowlogs-v5"},
		{testdata + "examples.log", testdata + "custom_v3.log", testdata + "custom_v5.log", testdata + "malformed.log"},
	} {
		t.Run(filepath.Base(logs[0]), func(t *testing.T) {
			dir := t.TempDir()
			ingested, analyzed, pq := filepath.Join(dir, "i.duckdb"), filepath.Join(dir, "a.duckdb"), filepath.Join(dir, "f.parquet")
			if status, _, errOut := runCLI(t, "", append([]string{"ingest", "--db", ingested, "--parquet", pq}, logs...)...); status != exitOK {
				t.Fatalf("ingest: %d %s", status, errOut)
			}
			args := append([]string{"analyze", "--topology", shop + "topology", "--db", analyzed}, logs...)
			if status, _, errOut := runCLI(t, "", args...); status != exitOK {
				t.Fatalf("analyze: %d %s", status, errOut)
			}
			d, err := store.OpenReadOnly(analyzed)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			db := d.SQL()
			if _, err := db.Exec(`ATTACH ` + store.QuoteString(ingested) + ` AS i (READ_ONLY);
				CREATE TEMP VIEW p AS SELECT * FROM read_parquet(` + store.QuoteString(pq) + `)`); err != nil {
				t.Fatal(err)
			}
			var pCols, iCols, aCols, iTypes, aTypes string
			err = db.QueryRow(`WITH c AS (SELECT table_catalog AS db, table_name, column_name, data_type, ordinal_position AS pos
					FROM information_schema.columns WHERE table_name IN ('p', 'flows')),
				n AS (SELECT count(*) AS n FROM c WHERE table_name = 'p')
				SELECT (SELECT string_agg('"' || column_name || '"', ', ' ORDER BY pos) FROM c WHERE table_name = 'p'),
					(SELECT string_agg('"' || column_name || '"', ', ' ORDER BY pos) FROM c WHERE db = 'i' AND table_name = 'flows'),
					(SELECT string_agg('"' || column_name || '"', ', ' ORDER BY pos) FROM c, n WHERE db = 'a' AND table_name = 'flows' AND pos <= n.n),
					(SELECT string_agg(data_type, ', ' ORDER BY pos) FROM c WHERE db = 'i' AND table_name = 'flows'),
					(SELECT string_agg(data_type, ', ' ORDER BY pos) FROM c, n WHERE db = 'a' AND table_name = 'flows' AND pos <= n.n)`).
				Scan(&pCols, &iCols, &aCols, &iTypes, &aTypes)
			if err != nil {
				t.Fatal(err)
			}
			if pCols == "" || iCols != pCols || aCols != pCols {
				t.Fatalf("columns differ:\nparquet: %s\ningest:  %s\nanalyze: %s", pCols, iCols, aCols)
			}
			if iTypes != aTypes {
				t.Errorf("column types differ:\ningest:  %s\nanalyze: %s", iTypes, aTypes)
			}
			// The IPv4 numbers analyze has ingest make for replay are not stored.
			var numCols string
			if err := db.QueryRow(`SELECT coalesce(string_agg(table_name || '.' || column_name, ', '), '') FROM information_schema.columns
				WHERE table_catalog = 'a' AND column_name LIKE '%` + flowschema.IPv4Suffix + `'`).Scan(&numCols); err != nil {
				t.Fatal(err)
			}
			if numCols != "" {
				t.Errorf("analyze stored the IPv4 number columns %s", numCols)
			}
			for _, view := range []string{"i.flows", "a.flows"} {
				var rows, missing, extra int64
				err = db.QueryRow(`SELECT (SELECT count(*) FROM p),
					(SELECT count(*) FROM (SELECT `+pCols+` FROM p EXCEPT ALL SELECT `+pCols+` FROM `+view+`)),
					(SELECT count(*) FROM (SELECT `+pCols+` FROM `+view+` EXCEPT ALL SELECT `+pCols+` FROM p))`).
					Scan(&rows, &missing, &extra)
				if err != nil {
					t.Fatal(err)
				}
				if rows == 0 || missing != 0 || extra != 0 {
					t.Errorf("%s: %d rows in the Parquet file; %d missing from the view, %d extra", view, rows, missing, extra)
				}
			}
		})
	}
}

// TestAnalyzeSampleDirectory: analyze of the whole sample directory reads its two flow logs and nothing
// else (the README and the topology JSON are listed as skipped), with no bad line.
func TestAnalyzeSampleDirectory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	status, out, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, "-o", "json", shop)
	if status != exitOK {
		t.Fatalf("status %d\nstderr: %s", status, errOut)
	}
	var rep analyzeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, s := range rep.Ingest.SkippedFiles {
		skipped = append(skipped, strings.TrimPrefix(s.File, shop))
	}
	if st := rep.Ingest; st.Files != 2 || st.Records != 4000 || st.BadLines != 0 ||
		!slices.Contains(skipped, "README.md") || !slices.Contains(skipped, "topology/subnets.json") {
		t.Errorf("files %d records %d bad %d skipped %v; want 2, 4000, 0 and README.md, topology/*.json skipped",
			st.Files, st.Records, st.BadLines, skipped)
	}
}

// TestAnalyzeUnknownInterfaces: records on interfaces the topology lacks are named first in the summary with
// the export that fixes it, and --strict fails on them.
func TestAnalyzeUnknownInterfaces(t *testing.T) {
	topo := t.TempDir()
	files, err := filepath.Glob(shop + "topology/*.json")
	if err != nil || len(files) == 0 {
		t.Fatal("no sample topology", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "network-interfaces.json" {
			var doc map[string][]json.RawMessage
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			doc["NetworkInterfaces"] = doc["NetworkInterfaces"][:5] // drop the other interfaces
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(topo, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		flags  []string
		status int
	}{
		{"reported", nil, exitOK},
		{"--strict fails", []string{"--strict"}, exitFindings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"analyze", "--topology", topo, "--db", filepath.Join(t.TempDir(), "p.duckdb")}, tc.flags...)
			status, out, errOut := runCLI(t, "", append(args, shop+"flowlogs")...)
			if status != tc.status {
				t.Fatalf("status %d, want %d; stderr %s", status, tc.status, errOut)
			}
			lines := strings.Split(out, "\n")
			if len(lines) < 5 || !strings.HasPrefix(lines[2], "WARNING: ") || !strings.Contains(lines[2], "interfaces the topology does not have") ||
				!strings.Contains(out, "aws ec2 describe-network-interfaces --network-interface-ids eni-") {
				t.Errorf("the summary does not start with the warning and its fix:\n%s", strings.Join(lines[:min(len(lines), 6)], "\n"))
			}
		})
	}
}

// TestSampleREADMEFigures: the totals samples/shop/README.md states are what analyze reports.
func TestSampleREADMEFigures(t *testing.T) {
	readme, err := os.ReadFile(shop + "README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flowDir, pattern string
	}{
		{"v2", "flowlogs", `Totals \(v2\): (\d+) ACCEPT; (\d+) REJECT`},
		{"v5", "flowlogs-v5", `The v5 sample \(1000 records[^)]*\): (\d+) ACCEPT; (\d+) REJECT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := regexp.MustCompile(tc.pattern).FindSubmatch(readme)
			if m == nil {
				t.Fatalf("README has no %q", tc.pattern)
			}
			status, out, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", filepath.Join(t.TempDir(), "s.duckdb"),
				"-o", "json", shop+tc.flowDir)
			var rep analyzeReport
			if err := json.Unmarshal([]byte(out), &rep); status != exitOK || err != nil {
				t.Fatalf("analyze: %d %v %s", status, err, errOut)
			}
			got := fmt.Sprintf("%d ACCEPT; %d REJECT", rep.Replay.LoggedAccept, rep.Replay.LoggedReject)
			if want := fmt.Sprintf("%s ACCEPT; %s REJECT", m[1], m[2]); got != want {
				t.Errorf("analyze says %s, README %s", got, want)
			}
		})
	}
}

// TestJSONConsistent: every command's -o json has no null values and no "null" keys (empty lists are []),
// and its times are RFC 3339.
func TestJSONConsistent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "j.duckdb")
	var walk func(path string, v any) []string
	walk = func(path string, v any) (bad []string) {
		switch v := v.(type) {
		case nil:
			return []string{path + " is null"}
		case map[string]any:
			for k, x := range v {
				if k == "null" {
					bad = append(bad, path+` has a key "null"`)
				}
				if s, ok := x.(string); ok && (strings.HasSuffix(k, "_start") || strings.HasSuffix(k, "_end") || k == "start") {
					if _, err := time.Parse(time.RFC3339, s); err != nil {
						bad = append(bad, path+"."+k+" is not RFC 3339: "+s)
					}
				}
				if _, ok := x.(float64); ok && (strings.HasSuffix(k, "_start") || k == "last_end") {
					bad = append(bad, path+"."+k+" is a number, not an RFC 3339 time")
				}
				bad = append(bad, walk(path+"."+k, x)...)
			}
		case []any:
			for i, x := range v {
				bad = append(bad, walk(fmt.Sprintf("%s[%d]", path, i), x)...)
			}
		}
		return bad
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"analyze", []string{"analyze", "--topology", shop + "topology", "--db", db, shop + "flowlogs"}},
		{"ingest", []string{"ingest", shop + "flowlogs"}},
		{"topology", []string{"topology", "--topology", shop + "topology"}},
		{"explain", []string{"explain", "--db", db, "--action", "REJECT", "--limit", "3"}},
		{"explain, no match", []string{"explain", "--db", db, "--port", "1"}},
		{"recommend", []string{"recommend", "--db", db, "--out", filepath.Join(t.TempDir(), "rec")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, errOut := runCLI(t, "", append(tc.args, "-o", "json")...)
			var v any
			if err := json.Unmarshal([]byte(out), &v); status != exitOK || err != nil {
				t.Fatalf("status %d, %v, stderr %s", status, err, errOut)
			}
			if bad := walk("$", v); len(bad) > 0 {
				t.Errorf("%s", strings.Join(bad, "\n"))
			}
		})
	}
}
