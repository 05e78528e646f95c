package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// readAll runs a Reader over paths and renders every record as one text line: the provenance, then the
// non-NULL columns as name=value in schema order.
func readAll(t *testing.T, paths []string, opts Options) (string, Stats, []LineError) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.Alloc = mem
	rd, err := NewReader(context.Background(), paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	var b strings.Builder
	for rd.Next() {
		renderRows(&b, rd.Record())
	}
	// A run without records ends with ErrNoRecords (TestNoRecords); the tests here look at what it counted.
	if err := rd.Err(); err != nil && !errors.Is(err, ErrNoRecords) {
		t.Fatal(err)
	}
	return b.String(), rd.Stats(), rd.Errors()
}

func renderRows(b *strings.Builder, rec arrow.Record) {
	sc := rec.Schema()
	fi := sc.FieldIndices(flowschema.ColSourceFile)[0]
	li := sc.FieldIndices(flowschema.ColSourceLine)[0]
	for r := 0; r < int(rec.NumRows()); r++ {
		fmt.Fprintf(b, "%s:%d", filepath.Base(rec.Column(fi).ValueStr(r)), rec.Column(li).(*array.Int64).Value(r))
		for c := 0; c < int(rec.NumCols()); c++ {
			if c == fi || c == li || rec.Column(c).IsNull(r) {
				continue
			}
			fmt.Fprintf(b, " %s=%s", sc.Field(c).Name, rec.Column(c).ValueStr(r))
		}
		b.WriteByte('\n')
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func schemaNames(t *testing.T, paths []string, opts Options) []string {
	t.Helper()
	rd, err := NewReader(context.Background(), paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	var names []string
	for _, f := range rd.Schema().Fields() {
		names = append(names, f.Name+":"+f.Type.String())
	}
	return names
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name      string
		paths     []string
		logFormat string
	}{
		{name: "examples", paths: []string{"testdata/examples.log"}},
		{name: "examples_noheader", paths: []string{"testdata/examples_noheader.log"}},
		{name: "custom_v3", paths: []string{"testdata/custom_v3.log"}},
		{name: "custom_v5", paths: []string{"testdata/custom_v5.log"}},
		{name: "malformed", paths: []string{"testdata/malformed.log"}},
		// Mixed formats in one run: the schema is the union, missing columns are NULL.
		{name: "mixed", paths: []string{"testdata/examples.log", "testdata/custom_v5.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, _ := readAll(t, tt.paths, Options{LogFormat: tt.logFormat})
			if st.Lines != st.Records+st.HeaderLines+st.BadLines {
				t.Errorf("lines %d != records %d + headers %d + bad %d", st.Lines, st.Records, st.HeaderLines, st.BadLines)
			}
			golden(t, tt.name, got)
		})
	}
}

func TestHeaderlessWithLogFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v5.log")
	lines, err := os.ReadFile("testdata/custom_v5.log")
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := bytes.Cut(lines, []byte("\n"))
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	format := "${" + strings.ReplaceAll(string(header), " ", "} ${") + "}"
	got, st, _ := readAll(t, []string{path}, Options{LogFormat: format})
	want, _, _ := readAll(t, []string{"testdata/custom_v5.log"}, Options{})
	// Same records; line numbers shift by the missing header.
	want = strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(want, "custom_v5.log:2", "v5.log:1"),
		"custom_v5.log:3", "v5.log:2"), "custom_v5.log:4", "v5.log:3")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if st.HeaderLines != 0 || st.Records != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSchema(t *testing.T) {
	got := schemaNames(t, []string{"testdata/examples.log"}, Options{})
	want := []string{"version:int32", "account_id:utf8", "interface_id:utf8", "srcaddr:utf8", "dstaddr:utf8",
		"srcport:int32", "dstport:int32", "protocol:int32", "packets:int64", "bytes:int64", "start:int64",
		"end:int64", "action:utf8", "log_status:utf8", "source_file:dictionary<values=utf8, indices=int32, ordered=false>", "source_line:int64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got = schemaNames(t, []string{"testdata/custom_v3.log"}, Options{})
	want = []string{"version:int32", "interface_id:utf8", "srcaddr:utf8", "dstaddr:utf8", "srcport:int32",
		"dstport:int32", "protocol:int32", "start:int64", "end:int64", "action:utf8", "vpc_id:utf8", "subnet_id:utf8",
		"instance_id:utf8", "tcp_flags:int32", "type:utf8", "pkt_srcaddr:utf8", "pkt_dstaddr:utf8",
		"future_field:utf8", "source_file:dictionary<values=utf8, indices=int32, ordered=false>", "source_line:int64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMalformedCounts(t *testing.T) {
	_, st, errs := readAll(t, []string{"testdata/malformed.log"}, Options{})
	if st.Lines != 19 || st.Records != 5 || st.HeaderLines != 2 || st.BadLines != 12 {
		t.Errorf("lines/records/headers/bad = %d/%d/%d/%d, want 19/5/2/12", st.Lines, st.Records, st.HeaderLines, st.BadLines)
	}
	type got struct {
		Line   int64
		Reason string
		Field  string
	}
	var gotErrs []got
	for _, e := range errs {
		gotErrs = append(gotErrs, got{e.Line, e.Reason.String(), e.Field})
	}
	want := []got{
		{3, "field-count", ""},
		{4, "field-count", ""},
		{5, "bad-number", "srcport"},
		{6, "bad-number", "bytes"},
		{7, "bad-address", "srcaddr"},
		{8, "bad-address", "dstaddr"},
		{9, "bad-value", "action"},
		{10, "empty-line", ""},
		{13, "bad-value", "log-status"},
		{14, "bad-number", "srcport"},
		{16, "invalid-byte", ""},
		{18, "invalid-byte", ""},
	}
	if diff := cmp.Diff(want, gotErrs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	wantBy := map[string]int64{"field-count": 2, "bad-number": 3, "bad-address": 2, "bad-value": 2,
		"empty-line": 1, "invalid-byte": 2}
	if diff := cmp.Diff(wantBy, st.BadByReason); diff != "" {
		t.Errorf("by reason (-want +got):\n%s", diff)
	}
	if errs[0].File != "testdata/malformed.log" || !strings.HasSuffix(errs[0].Text, "ACCEPT") {
		t.Errorf("first error = %+v", errs[0])
	}
}

// TestChunkBoundaries cuts the input into tiny chunks: every record and line number must survive.
func TestChunkBoundaries(t *testing.T) {
	want, wantSt, _ := readAll(t, []string{"testdata/malformed.log"}, Options{})
	for _, size := range []int{1, 7, 64, 150, 333} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			got, st, _ := readAll(t, []string{"testdata/malformed.log"}, Options{ChunkBytes: size, Workers: 3})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if st.Lines != wantSt.Lines || st.BadLines != wantSt.BadLines {
				t.Errorf("lines %d bad %d, want %d %d", st.Lines, st.BadLines, wantSt.Lines, wantSt.BadLines)
			}
		})
	}
}

// TestRecycling: column buffers are reused only once the consumer has released a record. Records kept to
// the end read the same at the end as when they arrived, while the others are released and their buffers
// reused. (Each kept record is compared with itself: batch boundaries may differ from run to run, since a
// recycled read buffer can be larger than a chunk.)
func TestRecycling(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.log")
	os.WriteFile(path, append([]byte(benchHeader), synthLines(20000, 5)...), 0o644)
	putBuf(make([]byte, 4<<20)) // a large buffer in the shared pool must not make a chunk larger
	rd, err := NewReader(context.Background(), []string{path}, Options{ChunkBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	var want strings.Builder
	var kept []arrow.Record
	rows := int64(0)
	for i := 0; rd.Next(); i++ {
		rows += rd.Record().NumRows()
		if n := rd.Record().NumRows(); n > (64<<10)/50 { // the lines are longer than 50 bytes
			t.Errorf("batch %d has %d rows: more than a 64 KiB chunk holds", i, n)
		}
		if i%2 == 0 {
			renderRows(&want, rd.Record()) // as it arrives
			rd.Record().Retain()
			kept = append(kept, rd.Record())
		}
	}
	if len(kept) < 4 || rd.pool.held == 0 || rows != 20000 {
		t.Errorf("%d batches kept, %d bytes recycled, %d rows", len(kept), rd.pool.held, rows)
	}
	var got strings.Builder
	for _, rec := range kept {
		renderRows(&got, rec) // after the others were recycled
		rec.Release()
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("(-as it arrived +at the end):\n%s", diff)
	}
}

func gzipFile(t *testing.T, src, dst string) []byte {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGzipByContent: compression is recognised by content, whatever the name.
func TestGzipByContent(t *testing.T) {
	dir := t.TempDir()
	gzipFile(t, "testdata/examples.log", filepath.Join(dir, "examples.log")) // gzip data, .log name
	got, st, _ := readAll(t, []string{filepath.Join(dir, "examples.log")}, Options{})
	want, _, _ := readAll(t, []string{"testdata/examples.log"}, Options{})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if st.Records != 8 {
		t.Errorf("records = %d, want 8", st.Records)
	}
}

func TestTruncatedGzip(t *testing.T) {
	dir := t.TempDir()
	var text bytes.Buffer
	text.WriteString(benchHeader)
	text.Write(synthLines(5000, 3))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(text.Bytes())
	zw.Close()
	full := buf.Bytes()
	path := filepath.Join(dir, "cut.log.gz")
	if err := os.WriteFile(path, full[:len(full)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.log")
	if err := os.WriteFile(good, text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, st, _ := readAll(t, []string{path, good}, Options{ChunkBytes: 4096})
	if len(st.FileErrors) != 1 {
		t.Fatalf("file errors = %v, want one", st.FileErrors)
	}
	fe := st.FileErrors[0]
	if fe.File != path || !strings.Contains(fe.Err, "truncated") {
		t.Errorf("file error = %+v", fe)
	}
	// Everything before the break was kept: the records of the cut file are exactly its lines up to the
	// last good one, minus the header; the good file is complete.
	cutRecords := st.Records - 5000
	if cutRecords <= 0 || cutRecords != fe.LastGoodLine-1 {
		t.Errorf("kept %d records from the cut file, last good line %d", cutRecords, fe.LastGoodLine)
	}
	if st.Lines != st.Records+st.HeaderLines+st.BadLines || st.BadLines != 0 {
		t.Errorf("stats do not reconcile: %+v", st)
	}
}

func TestCorruptGzip(t *testing.T) {
	dir := t.TempDir()
	data := gzipFile(t, "testdata/examples.log", filepath.Join(dir, "x.gz"))
	bad := append([]byte(nil), data...)
	for i := 20; i < len(bad)-10; i++ {
		bad[i] ^= 0x5a
	}
	if err := os.WriteFile(filepath.Join(dir, "x.gz"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, st, _ := readAll(t, []string{filepath.Join(dir, "x.gz")}, Options{})
	if len(st.FileErrors) != 1 || st.FileErrors[0].File != filepath.Join(dir, "x.gz") {
		t.Errorf("file errors = %+v", st.FileErrors)
	}
}

func TestS3Layout(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "AWSLogs", "123456789012", "vpcflowlogs", "us-east-1", "2026", "11", "20")
	hive := filepath.Join(dir, "hive", "AWSLogs", "aws-account-id=123456789012", "aws-service=vpcflowlogs",
		"aws-region=us-east-1", "year=2026", "month=11", "day=20", "hour=00")
	gzipFile(t, "testdata/examples.log", filepath.Join(plain, "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20261120T0005Z_fe123456.log.gz"))
	gzipFile(t, "testdata/custom_v5.log", filepath.Join(plain, "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20261120T0000Z_ab123456.log.gz"))
	gzipFile(t, "testdata/examples.log", filepath.Join(hive, "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20261120T0000Z_cd123456.log.gz"))
	os.WriteFile(filepath.Join(dir, "AWSLogs", "aws-logs-write-test"), []byte("Permission Check Successful"), 0o644)
	got, st, _ := readAll(t, []string{dir}, Options{})
	if st.Files != 3 || st.Records != 19 || len(st.SkippedFiles) != 1 {
		t.Errorf("files %d records %d skipped %v, want 3, 19, [aws-logs-write-test]", st.Files, st.Records, st.SkippedFiles)
	}
	// Lexical walk order = time order: the 0000Z file of the plain layout comes before its 0005Z file.
	first := strings.SplitN(got, "\n", 2)[0]
	if !strings.Contains(first, "20261120T0000Z_ab123456") {
		t.Errorf("first record from %q, want the 0000Z file", first)
	}
	// A glob reaches the same files.
	_, st2, _ := readAll(t, []string{filepath.Join(plain, "*.gz")}, Options{})
	if st2.Files != 2 {
		t.Errorf("glob found %d files, want 2", st2.Files)
	}
}

func TestStdin(t *testing.T) {
	data, err := os.ReadFile("testdata/examples.log")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	for name, in := range map[string][]byte{"text": data, "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			got, st, _ := readAll(t, []string{"-"}, Options{Stdin: bytes.NewReader(in)})
			if st.Records != 8 || !strings.HasPrefix(got, "-:2 ") {
				t.Errorf("records = %d, first = %.40q", st.Records, got)
			}
		})
	}
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	pq := filepath.Join(dir, "flows.parquet")
	rd, err := NewReader(context.Background(), []string{"testdata/examples.log", "testdata/custom_v5.log"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := WriteParquet(context.Background(), rd, pq)
	rd.Release()
	if err != nil || n != 11 {
		t.Fatalf("WriteParquet = %d, %v", n, err)
	}
	want, _, _ := readAll(t, []string{"testdata/examples.log", "testdata/custom_v5.log"}, Options{})
	got, st, _ := readAll(t, []string{pq}, Options{})
	if st.Records != 11 || st.BadLines != 0 || len(st.FileErrors) != 0 {
		t.Errorf("records %d bad %d file errors %v", st.Records, st.BadLines, st.FileErrors)
	}
	// Provenance becomes the Parquet file and row; the flow columns are the same.
	strip := func(s string) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			_, rest, _ := strings.Cut(l, " ")
			out = append(out, rest)
		}
		return out
	}
	if diff := cmp.Diff(strip(want), strip(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got, "flows.parquet:1 ") {
		t.Errorf("provenance = %.30q", got)
	}
}

func TestLogFormatErrors(t *testing.T) {
	for _, f := range []string{"", "${version} ${version}", "${version", "${ver sion}", "${1abc}"} {
		if _, err := ParseLogFormat(f); err == nil {
			t.Errorf("ParseLogFormat(%q) accepted", f)
		}
	}
	f, err := ParseLogFormat("${version} ${log_status} ${my-new-field}")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Format{"version", "log-status", "my-new-field"}, f); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNoInput(t *testing.T) {
	if _, err := NewReader(context.Background(), []string{"testdata/does-not-exist.log"}, Options{}); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := NewReader(context.Background(), []string{"testdata/nothing-*.log"}, Options{}); err == nil ||
		!strings.Contains(err.Error(), "no file matches") {
		t.Errorf("empty glob: %v", err)
	}
}

// TestEarlyRelease stops reading in the middle: no goroutine may block and nothing may leak.
func TestEarlyRelease(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.log")
	os.WriteFile(path, append([]byte(benchHeader), synthLines(20000, 4)...), 0o644)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rd, err := NewReader(context.Background(), []string{path, path + ""}, Options{ChunkBytes: 4096, Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if !rd.Next() {
		t.Fatal("no first batch")
	}
	rd.Release()
	mem.AssertSize(t, 0)
}

// TestNoAllocsPerLine: parsing a line allocates nothing, IPv6 text made canonical included, with and without
// the IPv4 numbers.
func TestNoAllocsPerLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		ipv4 bool
	}{
		{"ipv4", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK", true},
		{"ipv6", "2 123456789010 eni-1 2001:DB8:0:0::1 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK", true},
		{"ipv6 without numbers", "2 123456789010 eni-1 2001:DB8:0:0::1 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, l, lp := parserWith(defaultFormat(), tc.ipv4)
			line := []byte(tc.line)
			b := newBatch(nil, out, l, "x", 2000, 300000, nil)
			allocs := testing.AllocsPerRun(1000, func() {
				if r, _ := lp.parse(b, line, 1); r != 0 {
					t.Fatal(r)
				}
			})
			if allocs != 0 {
				t.Errorf("parse allocates %v times per line", allocs)
			}
		})
	}
}

// TestRollback: a line that fails late leaves no trace, including in validity bitmaps of later NULLs.
func TestRollback(t *testing.T) {
	out, l, lp := parserFor(defaultFormat())
	b := newBatch(nil, out, l, "x", 4, 1024, nil)
	lines := []string{
		"2 123456789010 eni-0 - - - - - - - 1 2 - NODATA", // gives the columns validity bitmaps
		"2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-2 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT BAD", // fails last
		"2 123456789010 eni-3 - - - - - - - 1431280876 1431280934 - NODATA",
		"- - eni-4 10.0.0.1 10.0.0.2 1 2 6 - 9 1 2 REJECT OK",
	}
	for i, line := range lines {
		lp.parse(b, []byte(line), int64(i+1))
	}
	rec := b.record(memory.DefaultAllocator)
	defer rec.Release()
	var got strings.Builder
	renderRows(&got, rec)
	// (parserFor adds the IPv4 numbers: 172.31.16.139 is 2887717003.)
	want := "x:1 version=2 account_id=123456789010 interface_id=eni-0 start=1 end=2 log_status=NODATA srcaddr_ipv4=0 dstaddr_ipv4=0\n" +
		"x:2 version=2 account_id=123456789010 interface_id=eni-1 srcaddr=172.31.16.139 dstaddr=172.31.16.21 srcport=20641 dstport=22 protocol=6 packets=20 bytes=4249 start=1418530010 end=1418530070 action=ACCEPT log_status=OK srcaddr_ipv4=2887717003 dstaddr_ipv4=2887716885\n" +
		"x:4 version=2 account_id=123456789010 interface_id=eni-3 start=1431280876 end=1431280934 log_status=NODATA srcaddr_ipv4=0 dstaddr_ipv4=0\n" +
		"x:5 interface_id=eni-4 srcaddr=10.0.0.1 dstaddr=10.0.0.2 srcport=1 dstport=2 protocol=6 bytes=9 start=1 end=2 action=REJECT log_status=OK srcaddr_ipv4=167772161 dstaddr_ipv4=167772162\n"
	if diff := cmp.Diff(want, got.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for i, c := range rec.Columns() {
		if v, ok := c.(interface{ ValidateFull() error }); ok {
			if err := v.ValidateFull(); err != nil {
				t.Errorf("column %d: %v", i, err)
			}
		}
		if c.Len() != 4 {
			t.Errorf("column %d has %d rows", i, c.Len())
		}
	}
}

// TestRepeatedStringHeader: a repeated header whose every field is a valid value (a layout of string
// columns) is still a header, also with CRLF line ends and at the end of a chunk.
func TestRepeatedStringHeader(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n"} {
		path := filepath.Join(t.TempDir(), "flows.log")
		text := strings.Join([]string{"vpc-id subnet-id", "vpc-1 subnet-1", "vpc-id subnet-id", "vpc-2 subnet-2",
			"vpc-id subnet-id"}, eol) + eol
		os.WriteFile(path, []byte(text), 0o644)
		for _, size := range []int{0, 17, 40} {
			got, st, _ := readAll(t, []string{path}, Options{ChunkBytes: size})
			if want := "flows.log:2 vpc_id=vpc-1 subnet_id=subnet-1\nflows.log:4 vpc_id=vpc-2 subnet_id=subnet-2\n"; got != want ||
				st.HeaderLines != 3 || st.Records != 2 || st.BadLines != 0 {
				t.Errorf("eol %q, chunk %d: %d headers, %d records, %d bad:\n%s", eol, size, st.HeaderLines, st.Records,
					st.BadLines, got)
			}
		}
	}
}

// TestGrow: a batch that starts too small grows every column, validity bitmaps included, and holds the
// same rows as one-row batches of the same lines.
func TestGrow(t *testing.T) {
	lines := []string{
		"2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-0 - - - - - - - 1 2 - NODATA",
		"2 123456789010 eni-2 2001:db8::1 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 REJECT OK",
		"2 123456789010 eni-3 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT BAD",
		"- - eni-4 10.0.0.1 10.0.0.2 1 2 6 - 9 1 2 REJECT OK",
	}
	out, l, lp := parserFor(defaultFormat())
	grown := newBatch(nil, out, l, "x", 1, 1, nil)
	var want strings.Builder
	for i := 0; i < 200; i++ {
		line := []byte(lines[i%len(lines)])
		if i%7 == 3 {
			line = []byte(lines[1])
		}
		lp.parse(grown, line, int64(i+1))
		one := newBatch(nil, out, l, "x", 1, 1, nil)
		lp.parse(one, line, int64(i+1))
		rec := one.record(memory.DefaultAllocator)
		renderRows(&want, rec)
		rec.Release()
	}
	rec := grown.record(memory.DefaultAllocator)
	defer rec.Release()
	var got strings.Builder
	renderRows(&got, rec)
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("(-one by one +grown):\n%s", diff)
	}
}

func TestSummaryCounts(t *testing.T) {
	_, st, _ := readAll(t, []string{"testdata/examples.log", "testdata/malformed.log", "testdata/custom_v3.log"}, Options{ChunkBytes: 200})
	want := Stats{
		ByAction:    map[string]int64{"ACCEPT": 4 + 4 + 3, "REJECT": 2 + 1, "-": 2},
		ByLogStatus: map[string]int64{"OK": 6 + 5, "NODATA": 1, "SKIPDATA": 1, "-": 3}, // custom_v3 has no log-status
		ByVersion:   map[string]int64{"2": 13, "3": 3},
		Interfaces:  3,
	}
	got := Stats{ByAction: st.ByAction, ByLogStatus: st.ByLogStatus, ByVersion: st.ByVersion, Interfaces: st.Interfaces}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestIPv4Numbers: with Options.IPv4Numbers every address column has a number column that holds what
// netip makes of the text for IPv4 and 0 for everything else (NULL, IPv6), across the test inputs (IPv6,
// NODATA, malformed lines rolled back, pkt-* columns, an input lacking the address columns), in batches
// small enough that buffers are recycled; without the option there is no such column.
func TestIPv4Numbers(t *testing.T) {
	dir := t.TempDir()
	synth := filepath.Join(dir, "synth.log")
	os.WriteFile(synth, append([]byte(benchHeader), synthLines(20000, 5)...), 0o644)
	noAddrs := filepath.Join(dir, "noaddrs.log")
	os.WriteFile(noAddrs, []byte("version interface-id action log-status\n2 eni-1 ACCEPT OK\n2 eni-2 REJECT OK\n"), 0o644)
	paths := []string{"testdata/examples.log", "testdata/custom_v3.log", "testdata/custom_v5.log", "testdata/malformed.log", synth, noAddrs}

	rd, err := NewReader(context.Background(), paths, Options{IPv4Numbers: true, ChunkBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	sc := rd.Schema()
	var addrCols []string
	for _, f := range sc.Fields() {
		if flowschema.IsIPv4Col(f.Name) {
			addrCols = append(addrCols, strings.TrimSuffix(f.Name, flowschema.IPv4Suffix))
		}
	}
	if want := []string{"srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"}; !cmp.Equal(addrCols, want) {
		t.Fatalf("number columns for %q, want %q", addrCols, want)
	}
	rows, v4, other := 0, 0, 0
	for rd.Next() {
		rec := rd.Record()
		for _, name := range addrCols {
			text := rec.Column(sc.FieldIndices(name)[0]).(*array.String)
			nums := rec.Column(sc.FieldIndices(flowschema.IPv4Col(name))[0]).(*array.Uint32)
			if nums.NullN() != 0 {
				t.Fatalf("%s: %d NULL numbers", flowschema.IPv4Col(name), nums.NullN())
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				want := uint32(0)
				if a, err := netip.ParseAddr(text.Value(i)); text.IsValid(i) && err == nil && a.Is4() {
					b := a.As4()
					want = binary.BigEndian.Uint32(b[:])
					v4++
				} else {
					other++
				}
				if got := nums.Value(i); got != want {
					t.Errorf("row %d %s %q: number %#x, want %#x", i, name, text.Value(i), got, want)
				}
			}
		}
		rows += int(rec.NumRows())
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if v4 < 40000 || other == 0 || rows < 20000 {
		t.Errorf("checked %d rows: %d IPv4 values, %d others; want both kinds", rows, v4, other)
	}

	plain, err := NewReader(context.Background(), paths[:1], Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Release()
	for _, f := range plain.Schema().Fields() {
		if flowschema.IsIPv4Col(f.Name) {
			t.Errorf("column %s without IPv4Numbers", f.Name)
		}
	}
}
