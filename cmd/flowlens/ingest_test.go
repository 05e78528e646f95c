package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/store"
)

// runCLI runs flowlens in-process and returns its exit status, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cmdEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	status := runMain(context.Background(), env, args)
	return status, out.String(), errb.String()
}

// analyzeShop analyzes the bundled sample (samples/shop) into db; a failure ends the test.
func analyzeShop(t *testing.T, db string) {
	t.Helper()
	if status, _, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, shop+"flowlogs"); status != exitOK {
		t.Fatalf("analyze: status %d: %s", status, errOut)
	}
}

const ingestTestdata = "../../pkg/ingest/testdata/"

func TestIngestDBEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "flows.duckdb")
	status, out, errOut := runCLI(t, "", "ingest", "--db", db, ingestTestdata+"examples.log", ingestTestdata+"malformed.log")
	if status != exitOK {
		t.Fatalf("status %d, stderr %s", status, errOut)
	}
	if !strings.Contains(out, "13 records") {
		t.Errorf("summary lacks the record count:\n%s", out)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	q := func(query string) string {
		t.Helper()
		rows, err := d.SQL().Query(query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		var b strings.Builder
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteByte('|')
				}
				if v == nil {
					b.WriteString("NULL")
				} else {
					b.WriteString(strings.TrimSpace(strings.ReplaceAll(toString(v), "\n", " ")))
				}
			}
			b.WriteByte('\n')
		}
		return b.String()
	}
	for _, tc := range []struct{ query, want string }{
		{`SELECT count(*), count(srcaddr), sum(bytes) FROM flows`, "13|11|39450\n"},
		{`SELECT action, count(*) FROM flows GROUP BY ALL ORDER BY 1 NULLS FIRST`, "NULL|2\nACCEPT|8\nREJECT|3\n"},
		{`SELECT log_status, "end" FROM flows WHERE interface_id = 'eni-11111111aaaaaaaaa'`, "SKIPDATA|1431280934\n"},
		{`SELECT account_id FROM flows WHERE account_id = 'unknown'`, "unknown\n"},
		{`SELECT source_file, source_line FROM flows WHERE srcaddr LIKE '2001:%'`, ingestTestdata + "examples.log|6\n"},
		{`SELECT typeof(srcport), typeof(packets), typeof(start) FROM flows LIMIT 1`, "INTEGER|BIGINT|BIGINT\n"},
		{`SELECT count(*), min(line), max(line) FROM ingest_errors`, "12|3|18\n"},
		{`SELECT reason, field FROM ingest_errors WHERE line = 5`, "bad-number|srcport\n"},
		{`SELECT current_setting('autoinstall_known_extensions')`, "false\n"},
	} {
		if got := q(tc.query); got != tc.want {
			t.Errorf("%s\n got: %q\nwant: %q", tc.query, got, tc.want)
		}
	}
	// Re-running replaces the tables instead of appending.
	if status, _, errOut := runCLI(t, "", "ingest", "--db", db, ingestTestdata+"examples.log"); status != exitOK {
		t.Fatalf("second run: %d %s", status, errOut)
	}
	d.Close()
	d, err = store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	if got := q(`SELECT count(*) FROM flows`); got != "8\n" {
		t.Errorf("after re-run: %q rows, want 8", got)
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	default:
		b, _ := json.Marshal(v)
		return strings.Trim(string(b), `"`)
	}
}

func TestIngestStrictAndJSON(t *testing.T) {
	status, out, errOut := runCLI(t, "", "ingest", "--strict", "-o", "json", ingestTestdata+"malformed.log")
	if status != exitFindings {
		t.Errorf("status %d, want %d (stderr %s)", status, exitFindings, errOut)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	got := map[string]any{"lines": raw["lines"], "records": raw["records"], "header_lines": raw["header_lines"], "bad_lines": raw["bad_lines"]}
	want := map[string]any{"lines": 19.0, "records": 5.0, "header_lines": 2.0, "bad_lines": 12.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if status, _, _ := runCLI(t, "", "ingest", ingestTestdata+"malformed.log"); status != exitOK {
		t.Errorf("without --strict: status %d, want 0", status)
	}
}

func TestIngestStdinAndParquet(t *testing.T) {
	data, err := os.ReadFile(ingestTestdata + "examples.log")
	if err != nil {
		t.Fatal(err)
	}
	pq := filepath.Join(t.TempDir(), "out.parquet")
	status, out, errOut := runCLI(t, string(data), "ingest", "--parquet", pq, "-")
	if status != exitOK || !strings.Contains(out, "8 records") {
		t.Fatalf("status %d out %s err %s", status, out, errOut)
	}
	status, out, _ = runCLI(t, "", "ingest", pq)
	if status != exitOK || !strings.Contains(out, "8 records") {
		t.Errorf("reading the Parquet back: %d %s", status, out)
	}
}

func TestIngestUsage(t *testing.T) {
	for _, args := range [][]string{{"ingest"}, {"ingest", "--bogus", "x"}, {"ingest", "-o", "xml", "x"}} {
		if status, _, _ := runCLI(t, "", args...); status != exitUsage {
			t.Errorf("%v: status %d, want %d", args, status, exitUsage)
		}
	}
	if status, out, _ := runCLI(t, "", "ingest", "--help"); status != exitOK || !strings.Contains(out, "--log-format") {
		t.Errorf("--help: %d %s", status, out)
	}
	if status, _, errOut := runCLI(t, "", "ingest", "no/such/file.log"); status != exitError || !strings.Contains(errOut, "no/such/file.log") {
		t.Errorf("missing file: %d %s", status, errOut)
	}
}

// TestIngestInvalidUTF8: bytes that are not UTF-8 in a bad line, a bad line cut inside a character, and a
// file name that is not UTF-8 reach DuckDB as valid UTF-8 (escaped): the run succeeds and every bad line is
// in ingest_errors.
func TestIngestInvalidUTF8(t *testing.T) {
	good := "2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK\n"
	tests := []struct {
		name, file, text, wantText string
	}{
		{"invalid byte", "bad.log", good + "2 123 eni-\xff\n", `2 123 eni-\xff`},
		{"cut in a character", "cut.log", good + "2 x" + strings.Repeat("é", 600) + "\n", "2 x" + strings.Repeat("é", 510)},
		{"file name", "name\xfe.log", good + "2 123 eni-1\n", "2 123 eni-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "flows.duckdb")
			status, _, errOut := runCLI(t, "", "ingest", "--db", db, path)
			if status != exitOK {
				t.Fatalf("status %d, stderr %s", status, errOut)
			}
			d, err := store.OpenReadOnly(db)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var file, text string
			var line, flows int64
			if err := d.SQL().QueryRow(`SELECT file, line, text FROM ingest_errors`).Scan(&file, &line, &text); err != nil {
				t.Fatal(err)
			}
			if err := d.SQL().QueryRow(`SELECT count(*) FROM flows WHERE source_file = ?`, file).Scan(&flows); err != nil {
				t.Fatal(err)
			}
			if line != 2 || text != tt.wantText || flows != 1 {
				t.Errorf("ingest_errors %s:%d %q with %d flows from that file; want line 2, %q, 1 flow", file, line, text, flows, tt.wantText)
			}
		})
	}
}

// TestNoRecordsFails: input without a record is an error (exit 1, the reason on stderr) and nothing is
// written: no database, no Parquet file; for ingest of a file or of stdin, and for analyze.
func TestNoRecordsFails(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.log")
	allBad := filepath.Join(dir, "bad.log")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(allBad, []byte("2026-11-20T00:00:00Z x 2 123456789010 eni-1\n"), 0o644)
	tests := []struct {
		name   string
		stdin  string
		args   []string // OUT is replaced by the output file
		stderr string
	}{
		{"ingest empty file", "", []string{"ingest", "--db", "OUT", empty}, "had no lines"},
		{"ingest all bad", "", []string{"ingest", "--db", "OUT", allBad}, "all 1 lines of the input file were bad: field-count: 1"},
		{"ingest stdin", "", []string{"ingest", "--db", "OUT", "-"}, "standard input had no lines"},
		{"ingest parquet", "", []string{"ingest", "--parquet", "OUT", empty}, "had no lines"},
		{"ingest no sink", "", []string{"ingest", empty}, "had no lines"},
		{"analyze", "", []string{"analyze", "--topology", shop + "topology", "--db", "OUT", allBad}, "were bad"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d", i))
			args := append([]string(nil), tt.args...)
			for j, a := range args {
				if a == "OUT" {
					args[j] = out
				}
			}
			status, _, errOut := runCLI(t, tt.stdin, args...)
			if status != exitError || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("status %d, stderr %q; want %d and %q", status, errOut, exitError, tt.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}

// TestIngestRenamedColumn: an unknown field that would shadow a column keeps its value under another name,
// and the summary says so.
func TestIngestRenamedColumn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	os.WriteFile(path, []byte("version interface-id source-file\n2 eni-1 mine\n"), 0o644)
	db := filepath.Join(dir, "x.duckdb")
	status, out, errOut := runCLI(t, "", "ingest", "--db", db, path)
	if status != exitOK || !strings.Contains(out, "field source-file of "+path+" is column source_file_2: source_file is a column flowlens adds") {
		t.Fatalf("status %d, stderr %s, summary:\n%s", status, errOut, out)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mine, file string
	if err := d.SQL().QueryRow(`SELECT source_file_2, source_file FROM flows`).Scan(&mine, &file); err != nil {
		t.Fatal(err)
	}
	if mine != "mine" || file != path {
		t.Errorf("source_file_2 %q, source_file %q; want mine, %s", mine, file, path)
	}
}
