package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/store"
)

// TestReportCommand runs analyze, report, audit, report, recommend and report as a user would: the page and the
// DOT file are written, the page's figures are the database's, --dot's graph has the page's edges, and the
// audit and recommend sections appear once those commands have stored their summaries.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	db, page, dot := filepath.Join(dir, "shop.duckdb"), filepath.Join(dir, "shop.html"), filepath.Join(dir, "shop.dot")
	analyzeShop(t, db)
	status, stdout, errOut := runCLI(t, "", "report", "--db", db, "--out", page, "--dot", dot, "--top", "5")
	if status != exitOK || !strings.Contains(stdout, "wrote "+page+": 3,000 records") || !strings.Contains(stdout, "wrote "+dot+": 5 of ") {
		t.Fatalf("report: status %d, stdout %s, stderr %s", status, stdout, errOut)
	}
	html := readText(t, page)
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	var records, rejects, unused int64
	err = d.SQL().QueryRow(`SELECT (SELECT count(*) FROM flows), (SELECT count(*) FROM flows WHERE action = 'REJECT'),
		(SELECT count(*) FROM unused_rules)`).Scan(&records, &rejects, &unused)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`id="records" data-value="` + itoa64(records) + `"`,
		`id="logged-rejects" data-value="` + itoa64(rejects) + `"`,
		`id="unused" data-total="` + itoa64(unused) + `"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if n := len(regexp.MustCompile(`<tr class="edge"`).FindAllString(html, -1)); n != 5 {
		t.Errorf("%d edges on the page, want --top 5", n)
	}
	if strings.Contains(html, `id="audit"`) {
		t.Error("an audit section before any audit")
	}
	if got := strings.Count(readText(t, dot), " -> "); got != 5 {
		t.Errorf("%d edges in the DOT file, want 5", got)
	}

	if status, _, errOut := runCLI(t, "", "audit", "--db", db, "--policy", shop+"topology"); status != exitOK {
		t.Fatalf("audit: status %d, stderr %s", status, errOut)
	}
	if status, _, errOut := runCLI(t, "", "report", "--db", db, "--out", page); status != exitOK {
		t.Fatalf("report after audit: status %d, stderr %s", status, errOut)
	}
	if html := readText(t, page); !strings.Contains(html, `id="audit" data-would-break="0"`) || strings.Contains(html, `id="recommend"`) {
		t.Error("no audit section after audit, or a recommend section before recommend")
	}

	if status, _, errOut := runCLI(t, "", "recommend", "--db", db, "--out", filepath.Join(dir, "rec")); status != exitOK {
		t.Fatalf("recommend: status %d, stderr %s", status, errOut)
	}
	if status, _, errOut := runCLI(t, "", "report", "--db", db, "--out", page); status != exitOK {
		t.Fatalf("report after recommend: status %d, stderr %s", status, errOut)
	}
	d, err = store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	var proposed, entries int64
	err = d.SQL().QueryRow(`SELECT rules_proposed, entries_proposed FROM recommend_summary`).Scan(&proposed, &entries)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := `id="recommend" data-rules-proposed="` + itoa64(proposed) + `" data-entries-proposed="` + itoa64(entries) + `"`
	if html := readText(t, page); !strings.Contains(html, want) || proposed == 0 {
		t.Errorf("the page after recommend lacks %s", want)
	}
}

func TestReportUsageAndErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.duckdb")
	d, err := store.Open(empty)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.SQL().Exec(`CREATE TABLE x (a INTEGER)`)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r.html")
	for _, tc := range []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string
	}{
		{name: "help", args: []string{"--help"}, wantStatus: exitOK},
		{name: "no-out", args: []string{"--db", empty}, wantStatus: exitUsage, wantErr: "--out FILE is required"},
		{name: "bad-top", args: []string{"--db", empty, "--out", out, "--top", "0"}, wantStatus: exitUsage},
		{name: "arguments", args: []string{"--out", out, "extra"}, wantStatus: exitUsage},
		{name: "same-files", args: []string{"--out", out, "--dot", out}, wantStatus: exitUsage},
		{name: "missing-db", args: []string{"--db", filepath.Join(dir, "missing.duckdb"), "--out", out}, wantStatus: exitError,
			wantErr: "does not exist: write it with 'flowlens analyze"},
		{name: "not-analyzed", args: []string{"--db", empty, "--out", out}, wantStatus: exitError,
			wantErr: "holds no flows (no analyze results): run 'flowlens analyze"},
		{name: "out-dir-missing", args: []string{"--db", empty, "--out", filepath.Join(dir, "no", "r.html")}, wantStatus: exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, errOut := runCLI(t, "", append([]string{"report"}, tc.args...)...)
			if status != tc.wantStatus || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("status %d (want %d), stderr %q (want %q)", status, tc.wantStatus, errOut, tc.wantErr)
			}
			if tc.name == "help" && (!strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "--dot")) {
				t.Errorf("--help: %s", stdout)
			}
			if tc.wantStatus != exitOK {
				if _, err := os.Stat(out); err == nil {
					t.Errorf("%s was written", out)
				}
			}
		})
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
