package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand runs analyze --shard and export as a user would: the flows land under shard=I/date=/hour=,
// athena.sql beside them, a second export into the same directory needs --overwrite.
func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	db, out := filepath.Join(dir, "shop.duckdb"), filepath.Join(dir, "out")
	if status, _, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, "--shard", "2/3", shop+"flowlogs"); status != exitOK {
		t.Fatalf("analyze: status %d, stderr %s", status, errOut)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string
	}{
		{name: "first", args: []string{"--parquet", out}, wantStatus: exitOK, wantOut: "shard 2/3"},
		{name: "again-refused", args: []string{"--parquet", out}, wantStatus: exitUsage},
		{name: "overwrite", args: []string{"--parquet", out, "--overwrite", "-o", "json"}, wantStatus: exitOK, wantOut: `"shard": "2/3"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, stdout, errOut := runCLI(t, "", append([]string{"export", "--db", db}, tc.args...)...)
			if status != tc.wantStatus || !strings.Contains(stdout, tc.wantOut) {
				t.Fatalf("status %d (want %d), stdout %s, stderr %s", status, tc.wantStatus, stdout, errOut)
			}
			files, _ := filepath.Glob(filepath.Join(out, "flows", "shard=2", "date=2026-11-20", "hour=00", "*.parquet"))
			if len(files) != 1 {
				t.Errorf("flows files %v, want one", files)
			}
			if _, err := os.Stat(filepath.Join(out, "athena.sql")); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestExportAndShardUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		wantStatus int
	}{
		{name: "export-no-parquet", args: []string{"export", "--db", filepath.Join(dir, "x.duckdb")}, wantStatus: exitUsage},
		{name: "export-bad-output", args: []string{"export", "--parquet", dir, "-o", "xml"}, wantStatus: exitUsage},
		{name: "export-no-db", args: []string{"export", "--db", filepath.Join(dir, "missing.duckdb"), "--parquet", filepath.Join(dir, "o")}, wantStatus: exitError},
		{name: "shard-index-too-big", args: []string{"analyze", "--topology", shop + "topology", "--shard", "3/3", shop + "flowlogs"}, wantStatus: exitUsage},
		{name: "shard-zero-count", args: []string{"analyze", "--topology", shop + "topology", "--shard", "0/0", shop + "flowlogs"}, wantStatus: exitUsage},
		{name: "shard-not-numbers", args: []string{"analyze", "--topology", shop + "topology", "--shard", "a", shop + "flowlogs"}, wantStatus: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, _, errOut := runCLI(t, "", tc.args...); status != tc.wantStatus {
				t.Errorf("status %d, want %d; stderr %s", status, tc.wantStatus, errOut)
			}
		})
	}
}
