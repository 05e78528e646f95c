package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

const sample = `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK
2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK
2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA
`

// TestReadCSVWithoutExtensions proves read_csv (a core function) works with extension autoloading off,
// and that nullstr='-' turns NODATA's dashes into NULLs.
func TestReadCSVWithoutExtensions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "flows.log")
	if err := os.WriteFile(file, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", noAutoload)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t AS SELECT * FROM read_csv("+quote(file)+", delim=' ', header=true, nullstr='-')"); err != nil {
		t.Fatal(err)
	}
	var n, nulls, dport int64
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE srcaddr IS NULL), max(dstport) FROM t`).Scan(&n, &nulls, &dport); err != nil {
		t.Fatal(err)
	}
	if n != 3 || nulls != 1 || dport != 3389 {
		t.Errorf("rows=%d null srcaddr=%d max dstport=%d, want 3, 1, 3389", n, nulls, dport)
	}
	// the file variant, as bench/run.sh uses it
	if err := run(ctx, file, filepath.Join(dir, "x.duckdb"), "test", 1); err != nil {
		t.Fatal(err)
	}
}
