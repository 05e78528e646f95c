package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/flowlens/flowlens/pkg/store"
)

// TestIngestDamagedGzip: a gzip member that fails its checksum is a file error (--strict fails), the summary
// names the suspect lines, and ingest_errors gives their range so that a query can leave them out.
func TestIngestDamagedGzip(t *testing.T) {
	text, err := os.ReadFile(ingestTestdata + "examples.log") // a header and 8 records
	if err != nil {
		t.Fatal(err)
	}
	member := func(b []byte, level int) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, level)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	second := member(bytes.SplitAfterN(text, []byte("\n"), 2)[1], gzip.NoCompression) // the records again: lines 10-17
	i := bytes.Index(second, []byte(" 22 6 "))
	second[i+1] ^= 0x0b // 22 becomes 92
	dir := t.TempDir()
	path := filepath.Join(dir, "damaged.log.gz")
	if err := os.WriteFile(path, append(member(text, gzip.BestSpeed), second...), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "flows.duckdb")
	status, out, errOut := runCLI(t, "", "ingest", "--db", db, path)
	if status != exitOK {
		t.Fatalf("status %d, stderr %s", status, errOut)
	}
	for _, w := range []string{"gzip member 2", "lines 10-17 came from that member", "suspect lines: 8 from damaged gzip members"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
	if status, _, _ := runCLI(t, "", "ingest", "--strict", path); status != exitFindings {
		t.Errorf("--strict: status %d, want %d", status, exitFindings)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var all, kept, dst92 int
	var first, last int64
	err = d.SQL().QueryRow(`SELECT (SELECT count(*) FROM flows),
		(SELECT count(*) FROM flows f WHERE NOT EXISTS (SELECT 1 FROM ingest_errors e WHERE e.reason = 'corrupt-member'
			AND e.file = f.source_file AND f.source_line BETWEEN e.line AND e.last_line)),
		(SELECT count(*) FROM flows WHERE dstport = 92),
		(SELECT line FROM ingest_errors WHERE reason = 'corrupt-member'),
		(SELECT last_line FROM ingest_errors WHERE reason = 'corrupt-member')`).Scan(&all, &kept, &dst92, &first, &last)
	if err != nil {
		t.Fatal(err)
	}
	if all != 16 || kept != 8 || dst92 != 1 || first != 10 || last != 17 {
		t.Errorf("flows %d, without suspect lines %d, dstport 92 %d, corrupt-member lines %d-%d; want 16 8 1 10-17", all, kept, dst92, first, last)
	}
}

// TestIngestCloudWatch: the CloudWatch Logs golden inputs, read from their directory by content.
func TestIngestCloudWatch(t *testing.T) {
	status, out, errOut := runCLI(t, "", "ingest", ingestTestdata+"cloudwatch")
	if status != exitOK {
		t.Fatalf("status %d, stderr %s", status, errOut)
	}
	for _, w := range []string{"77 records from 7 files", "skipped     2 CloudWatch Logs control messages", "out-of-range: 7"} {
		if !strings.Contains(out, w) {
			t.Errorf("summary lacks %q:\n%s", w, out)
		}
	}
}
