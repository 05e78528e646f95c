package main

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/audit"
	"github.com/flowlens/flowlens/pkg/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (audit, sql)")

const (
	webGroup = "sg-0a1b2c3d4e5f63001"
	webNACL  = "acl-0a1b2c3d4e5f62001"
)

// editJSON reads a sample topology file, lets edit change it, and writes it into dir.
func editJSON(t *testing.T, dir, name string, edit func(doc map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(shop + "topology/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func objects(doc map[string]any, key string) []map[string]any {
	var out []map[string]any
	for _, o := range doc[key].([]any) {
		out = append(out, o.(map[string]any))
	}
	return out
}

// TestAudit analyzes the bundled sample once, then audits candidate policies made from its export, through
// the CLI: the unchanged export changes nothing; removing sg-web's IPv4 HTTPS rule breaks exactly the HTTPS
// records (requests and their replies) at the web tier that a query of the stored flows finds, and --fail-on
// gates on that count; removing the web NACL's deny entry 50 newly allows exactly the records entry 50 rejected.
// The reports of the last two are compared with golden files in every format, SARIF parsed as JSON and JUnit as
// XML, and the audit tables read back with SQL.
func TestAudit(t *testing.T) {
	tmp := t.TempDir()
	db := filepath.Join(tmp, "shop.duckdb")
	analyzeShop(t, db)
	unchanged := filepath.Join(tmp, "unchanged")
	for _, name := range []string{"security-groups.json", "network-acls.json"} {
		editJSON(t, unchanged, name, func(map[string]any) {})
	}
	no443 := filepath.Join(tmp, "no-https-v4")
	editJSON(t, no443, "security-groups.json", func(doc map[string]any) {
		for _, g := range objects(doc, "SecurityGroups") {
			if g["GroupId"] == webGroup {
				g["IpPermissions"].([]any)[0].(map[string]any)["IpRanges"] = []any{} // keeps ::/0
			}
		}
	})
	noDeny := filepath.Join(tmp, "no-deny-50")
	editJSON(t, noDeny, "network-acls.json", func(doc map[string]any) {
		for _, n := range objects(doc, "NetworkAcls") {
			if n["NetworkAclId"] == webNACL {
				var keep []any
				for _, e := range n["Entries"].([]any) {
					if e.(map[string]any)["RuleNumber"].(float64) != 50 {
						keep = append(keep, e)
					}
				}
				n["Entries"] = keep
			}
		}
	})

	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	countFlows := func(where string) int64 {
		var n int64
		if err := d.SQL().QueryRow(`SELECT count(*) FROM flows WHERE ` + where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The traffic sg-web's IPv4 HTTPS rule admits, as logged at the web interfaces: requests in, replies out.
	httpsV4 := `interface_id IN (SELECT interface_id FROM topology_enis WHERE groups = '` + webGroup + `')
		AND action = 'ACCEPT' AND protocol = 6 AND position(':' IN srcaddr) = 0
		AND ((direction = 'ingress' AND dstport = 443) OR (direction = 'egress' AND srcport = 443))`
	wantBreak := countFlows(httpsV4)
	wantNew := countFlows(`verdict_rule = '50'`)
	d.Close()
	if wantBreak == 0 || wantNew == 0 {
		t.Fatalf("the sample has %d HTTPS-v4 records and %d rejected by entry 50", wantBreak, wantNew)
	}

	for _, tc := range []struct {
		name                   string
		policy                 string
		args                   []string
		status                 int
		wouldBreak, newlyAllow int64
		records                string // SQL over flows: the records audit_records must hold, exactly
		golden                 string
	}{
		{name: "unchanged export", policy: unchanged, status: exitOK, records: "false"},
		{name: "rule removed", policy: no443, status: exitGate, wouldBreak: wantBreak, records: httpsV4, golden: "no-https-v4"},
		{name: "rule removed, --fail-on at the count", policy: no443, args: []string{"--fail-on", strconv.FormatInt(wantBreak, 10)},
			status: exitOK, wouldBreak: wantBreak, records: httpsV4},
		{name: "rule removed, --fail-on one below", policy: no443, args: []string{"--fail-on", strconv.FormatInt(wantBreak-1, 10)},
			status: exitGate, wouldBreak: wantBreak, records: httpsV4},
		{name: "deny entry removed", policy: noDeny, status: exitOK, newlyAllow: wantNew, records: `verdict_rule = '50'`, golden: "no-deny-50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"audit", "--db", db, "--policy", tc.policy, "-o", "json"}, tc.args...)
			status, out, errOut := runCLI(t, "", args...)
			if status != tc.status {
				t.Fatalf("status %d, want %d\nstderr: %s", status, tc.status, errOut)
			}
			var rep audit.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("-o json: %v\n%s", err, out)
			}
			if rep.WouldBreak.Records != tc.wouldBreak || rep.NewlyAllowed.Records != tc.newlyAllow {
				t.Errorf("would break %d, newly allowed %d; want %d, %d", rep.WouldBreak.Records, rep.NewlyAllowed.Records,
					tc.wouldBreak, tc.newlyAllow)
			}
			// The whole history, and the sample's model agrees with its log: the stored verdicts are the
			// baseline, and replaying it gives the same report.
			_, replayed, _ := runCLI(t, "", append(args, "--replay-baseline")...)
			if rep.Baseline != audit.BaselineStored || !strings.Contains(replayed, `"baseline": "replayed"`) {
				t.Errorf("baseline %q; with --replay-baseline: %.200s", rep.Baseline, replayed)
			}
			if diff := cmp.Diff(out, strings.Replace(replayed, `"baseline": "replayed"`, `"baseline": "stored"`, 1)); diff != "" {
				t.Errorf("the stored and the replayed baseline disagree (-stored +replayed):\n%s", diff)
			}
			// audit_records holds exactly the records the query names, and audit_summary agrees with the report.
			d, err := store.OpenReadOnly(db)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var extra, missing, stored int64
			q := `WITH a AS (SELECT source_file, source_line FROM audit_records),
				f AS (SELECT CAST(source_file AS VARCHAR) AS source_file, source_line FROM flows WHERE ` + tc.records + `)
				SELECT (SELECT count(*) FROM (SELECT * FROM a EXCEPT SELECT * FROM f)),
					(SELECT count(*) FROM (SELECT * FROM f EXCEPT SELECT * FROM a)),
					(SELECT would_break_records + newly_allowed_records FROM audit_summary)`
			if err := d.SQL().QueryRow(q).Scan(&extra, &missing, &stored); err != nil {
				t.Fatal(err)
			}
			if extra != 0 || missing != 0 || stored != tc.wouldBreak+tc.newlyAllow {
				t.Errorf("audit_records: %d records the query does not name, %d it misses; audit_summary counts %d", extra, missing, stored)
			}
			// The views list the report's groups, most records first.
			var wb, na int64
			if err := d.SQL().QueryRow(`SELECT (SELECT coalesce(sum(records), 0) FROM audit_would_break),
				(SELECT coalesce(sum(records), 0) FROM audit_newly_allowed)`).Scan(&wb, &na); err != nil {
				t.Fatal(err)
			}
			if wb != tc.wouldBreak || na != tc.newlyAllow {
				t.Errorf("audit_would_break sums %d records, audit_newly_allowed %d; want %d, %d", wb, na, tc.wouldBreak, tc.newlyAllow)
			}
			if tc.golden == "" {
				return
			}
			for _, format := range audit.Formats {
				_, out, _ := runCLI(t, "", "audit", "--db", db, "--policy", tc.policy, "-o", format)
				out = strings.ReplaceAll(out, tmp, "TMP")
				checkGolden(t, filepath.Join("testdata", "audit", tc.golden+"."+format), out)
				switch format {
				case "sarif":
					checkSARIF(t, out, rep.Groups)
				case "junit":
					checkJUnit(t, out, rep.WouldBreak.Groups)
				}
			}
		})
	}
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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

// checkSARIF parses a SARIF log and checks the fields code scanning requires, one result per group.
func checkSARIF(t *testing.T, out string, groups []audit.Group) {
	t.Helper()
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string                `json:"ruleId"`
				Level     string                `json:"level"`
				Message   struct{ Text string } `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
					LogicalLocations []struct{ Name string } `json:"logicalLocations"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || log.Runs[0].Tool.Driver.Name != "flowlens" || len(log.Runs[0].Tool.Driver.Rules) != 2 {
		t.Fatalf("SARIF header: %+v", log)
	}
	res := log.Runs[0].Results
	if len(res) != len(groups) {
		t.Fatalf("%d SARIF results for %d groups", len(res), len(groups))
	}
	for i, r := range res {
		level := map[string]string{"would-break": "error", "newly-allowed": "warning"}[groups[i].Class]
		if r.RuleID != groups[i].Class || r.Level != level || r.Message.Text == "" || len(r.Locations) != 1 ||
			!strings.HasSuffix(r.Locations[0].PhysicalLocation.ArtifactLocation.URI, ".json") ||
			r.Locations[0].PhysicalLocation.Region.StartLine < 1 || len(r.Locations[0].LogicalLocations) != 1 ||
			r.Locations[0].LogicalLocations[0].Name != groups[i].Resource {
			t.Errorf("SARIF result %d: %+v, group %+v", i, r, groups[i])
		}
	}
}

// checkJUnit parses JUnit XML: one failing test case per would-break group.
func checkJUnit(t *testing.T, out string, wouldBreak int) {
	t.Helper()
	var suites struct {
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &suites); err != nil {
		t.Fatalf("JUnit is not XML: %v", err)
	}
	failing := 0
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failing++
				if s.Name != "would-break" {
					t.Errorf("failing case %q in suite %q", c.Name, s.Name)
				}
			}
		}
	}
	if failing != wouldBreak || suites.Failures != wouldBreak {
		t.Errorf("%d failing cases (%d declared), want %d", failing, suites.Failures, wouldBreak)
	}
}

func TestAuditUsageAndErrors(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	// A port range with From > To: fatal in any export, so in a candidate too.
	if err := os.WriteFile(filepath.Join(bad, "sg.json"), []byte(`{"SecurityGroups": [{"GroupId": "`+webGroup+`",
		"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(tmp, "shop.duckdb")
	if status, _, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, shop+"flowlogs-v5"); status != exitOK {
		t.Fatalf("analyze: %d %s", status, errOut)
	}
	ingested := filepath.Join(tmp, "ingested.duckdb")
	if status, _, errOut := runCLI(t, "", "ingest", "--db", ingested, shop+"flowlogs-v5"); status != exitOK {
		t.Fatalf("ingest: %d %s", status, errOut)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no policy", []string{"--db", db}, exitUsage, "--policy is required"},
		{"bad format", []string{"--db", db, "--policy", bad, "-o", "xml"}, exitUsage, "-o \"xml\""},
		{"bad time", []string{"--db", db, "--policy", bad, "--since", "yesterday"}, exitUsage, "--since"},
		{"since after until", []string{"--db", db, "--policy", bad, "--since", "2026-11-21", "--until", "2026-11-20"}, exitUsage, "not before"},
		{"fatal candidate", []string{"--db", db, "--policy", bad}, exitFindings, "FromPort 443 > ToPort 80"},
		{"empty policy", []string{"--db", db, "--policy", tmp + "/none.json"}, exitError, "none.json"},
		{"database without topology_files", []string{"--db", ingested, "--policy", bad}, exitError, "topology_files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, errOut := runCLI(t, "", append([]string{"audit"}, tc.args...)...)
			if status != tc.status || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("status %d, want %d; stderr %q, want it to name %q", status, tc.status, errOut, tc.stderr)
			}
		})
	}
	// --allow-fatal-topology audits the fatal candidate anyway (sg-web without its HTTPS rule: breaks), and
	// --since/--until narrow the records to those starting in the window.
	status, out, errOut := runCLI(t, "", "audit", "--db", db, "--policy", bad, "--allow-fatal-topology", "-o", "json",
		"--since", "2026-11-20T00:05:00Z", "--until", "2026-11-20T00:06:00Z", "--fail-on", "1000000")
	if status != exitOK {
		t.Fatalf("--allow-fatal-topology: status %d: %s", status, errOut)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var inWindow int64
	if err := d.SQL().QueryRow(`SELECT count(*) FROM flows WHERE start >= epoch(TIMESTAMP '2026-11-20 00:05:00')
		AND start < epoch(TIMESTAMP '2026-11-20 00:06:00')`).Scan(&inWindow); err != nil {
		t.Fatal(err)
	}
	var got int64
	for _, c := range rep.Records {
		got += c.Records
	}
	if got != inWindow || rep.WouldBreak.Records == 0 || len(rep.Candidate.Findings) == 0 {
		t.Errorf("window: %d records audited, want %d; would break %d; findings %q", got, inWindow, rep.WouldBreak.Records, rep.Candidate.Findings)
	}
}
