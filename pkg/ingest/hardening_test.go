package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

// parseOne parses line with the parser of format (with and without the IPv4 numbers) and returns the
// reason (or "ok"), the blamed field, and the stored row rendered by renderRows; both parsing paths must agree.
func parseOne(t *testing.T, format Format, line string) (string, string) {
	t.Helper()
	var result, row string
	for _, ipv4 := range []bool{false, true} {
		out, l, lp := parserWith(format, ipv4)
		b := newBatch(nil, out, l, "fuzz", 4, 64, nil)
		reason, fi := lp.parse(b, []byte(line), 1)
		var got strings.Builder
		if reason == 0 {
			rec := b.record(nil)
			renderRows(&got, rec)
			rec.Release()
		}
		checkSameAsGeneral(t, format, ipv4, []byte(line), got.String(), reason, fi, lp)
		res := "ok"
		if reason != 0 {
			res = reason.String()
			if fi >= 0 {
				res += " " + format[fi]
			}
		}
		if !ipv4 {
			result, row = res, got.String()
		} else if res != result {
			t.Fatalf("with IPv4 numbers: %s, without: %s", res, result)
		}
	}
	return result, row
}

func mustFormat(t *testing.T, s string) Format {
	t.Helper()
	f, err := ParseLogFormat(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRanges: every numeric field has its documented range; a number outside it is a bad line
// (out-of-range, naming the field), in the fast and the general parser alike. A value too large for the
// column's type stays bad-number.
func TestRanges(t *testing.T) {
	v2 := defaultFormat()
	rec := func(fields map[int]string) string {
		toks := strings.Fields("2 123456789010 eni-1 10.0.0.1 10.0.0.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK")
		for i, v := range fields {
			toks[i] = v
		}
		return strings.Join(toks, " ")
	}
	wide := mustFormat(t, "version tcp-flags traffic-path encryption-status packets")
	tests := []struct {
		name   string
		format Format
		line   string
		want   string
	}{
		{"dstport 65979", v2, rec(map[int]string{6: "65979"}), "out-of-range dstport"},
		{"srcport 65536", v2, rec(map[int]string{5: "65536"}), "out-of-range srcport"},
		{"ports 65535", v2, rec(map[int]string{5: "65535", 6: "0"}), "ok"},
		{"protocol 256", v2, rec(map[int]string{7: "256"}), "out-of-range protocol"},
		{"protocol 255", v2, rec(map[int]string{7: "255"}), "ok"},
		{"version 1", v2, rec(map[int]string{0: "1"}), "out-of-range version"},
		{"version 9", v2, rec(map[int]string{0: "9"}), "out-of-range version"},
		{"version 8", v2, rec(map[int]string{0: "8"}), "ok"},
		{"srcport beyond int32 stays bad-number", v2, rec(map[int]string{5: "99999999999"}), "bad-number srcport"},
		{"packets beyond int64", v2, rec(map[int]string{8: "9223372036854775808"}), "bad-number packets"},
		{"packets max int64", v2, rec(map[int]string{8: "9223372036854775807"}), "ok"},
		{"negative bytes", v2, rec(map[int]string{9: "-5"}), "bad-number bytes"},
		{"tcp-flags 256", wide, "3 256 1 0 1", "out-of-range tcp-flags"},
		{"tcp-flags 255", wide, "3 255 1 0 1", "ok"},
		{"traffic-path 0", wide, "5 2 0 0 1", "out-of-range traffic-path"},
		{"traffic-path 9", wide, "5 2 9 0 1", "out-of-range traffic-path"},
		{"traffic-path 8", wide, "5 2 8 0 1", "ok"},
		{"encryption-status 4", wide, "8 2 1 4 1", "out-of-range encryption-status"},
		{"encryption-status 3", wide, "8 2 1 3 1", "ok"},
		{"NULLs are in range", wide, "- - - - -", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := parseOne(t, tt.format, tt.line)
			if got != tt.want {
				t.Errorf("%q: %s, want %s", tt.line, got, tt.want)
			}
		})
	}
}

// TestIPv6Canonical: every spelling of one address is stored as one text, netip's canonical form
// (lowercase, zero-compressed); IPv4 text is stored as written (it has one spelling).
func TestIPv6Canonical(t *testing.T) {
	f := mustFormat(t, "srcaddr dstaddr pkt-srcaddr pkt-dstaddr")
	tests := []struct {
		name, line, want string
	}{
		{"upper case", "2A01:A700::1 2001:DB8::2 - -", "srcaddr=2a01:a700::1 dstaddr=2001:db8::2"},
		{"zeros spelled out", "2a01:a700:0:0::2 2a01:a700:0000:0000:0000:0000:0000:0002 - -", "srcaddr=2a01:a700::2 dstaddr=2a01:a700::2"},
		{"pkt addresses", "10.0.0.1 10.0.0.2 2001:0DB8:0:0:1:0:0:1 ::FFFF:10.0.0.1", "srcaddr=10.0.0.1 dstaddr=10.0.0.2 pkt_srcaddr=2001:db8::1:0:0:1 pkt_dstaddr=::ffff:10.0.0.1"},
		{"canonical stays", "2001:db8::1 ::1 - -", "srcaddr=2001:db8::1 dstaddr=::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, row := parseOne(t, f, tt.line)
			if res != "ok" {
				t.Fatalf("%q: %s", tt.line, res)
			}
			if diff := cmp.Diff("fuzz:1 "+tt.want+"\n", row); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParquetRanges: Parquet rows go through the same validation as text lines, ranges included.
func TestParquetRanges(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "version", Type: arrow.PrimitiveTypes.Int32},
		{Name: "dstport", Type: arrow.PrimitiveTypes.Int32},
		{Name: "protocol", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).AppendValues([]int32{2, 2, 2}, nil)
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{443, 65979, 22}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{6, 6, 300}, nil)
	checkParquet(t, b, "in.parquet:1 version=2 dstport=443 protocol=6\n",
		[]string{"2 out-of-range dstport 2 65979 6", "3 out-of-range protocol 2 22 300"})
}

// checkParquet writes b's record to a Parquet file, reads it, and compares the records rendered and the bad
// lines ("line reason field text") with want.
func checkParquet(t *testing.T, b *array.RecordBuilder, wantRecords string, wantErrs []string) {
	t.Helper()
	rec := b.NewRecord()
	defer rec.Release()
	rr, err := array.NewRecordReader(rec.Schema(), []arrow.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "in.parquet")
	if _, err := WriteParquet(context.Background(), rr, path); err != nil {
		t.Fatal(err)
	}
	got, _, errs := readAll(t, []string{path}, Options{})
	if diff := cmp.Diff(wantRecords, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	var gotErrs []string
	for _, e := range errs {
		gotErrs = append(gotErrs, fmt.Sprintf("%d %s %s %s", e.Line, e.Reason, e.Field, e.Text))
	}
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestAlmostHeader: a UTF-8 byte-order mark before the first line is skipped (header or record, text or
// gzip); a header naming a field twice is an error naming the file and the field.
func TestAlmostHeader(t *testing.T) {
	examples, err := os.ReadFile("testdata/examples.log")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(examples, []byte("\n"))
	bom := "\xef\xbb\xbf"
	tests := []struct {
		name    string
		text    string
		gzip    bool
		records int64
		headers int64
		err     string // a NewReader error containing this
	}{
		{name: "bom header", text: bom + string(examples), records: 8, headers: 1},
		{name: "bom header gzip", text: bom + string(examples), gzip: true, records: 8, headers: 1},
		{name: "bom record", text: bom + string(body), records: 8},
		{name: "bom header crlf", text: bom + strings.ReplaceAll(string(examples), "\n", "\r\n"), records: 8, headers: 1},
		{name: "duplicated field", text: "version srcaddr srcaddr dstaddr\n2 1.2.3.4 1.2.3.4 1.2.3.5\n",
			err: `names field "srcaddr" twice`},
		{name: "duplicated field, two spellings", text: "version log-status action log_status\n2 OK ACCEPT OK\n",
			err: `names field "log-status" twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flows.log")
			data := []byte(tt.text)
			if tt.gzip {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				zw.Write(data)
				zw.Close()
				data = buf.Bytes()
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.err != "" {
				_, err := NewReader(context.Background(), []string{path}, Options{})
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %v, want one naming %s and containing %q", err, path, tt.err)
				}
				return
			}
			_, st, errs := readAll(t, []string{path}, Options{})
			if st.Records != tt.records || st.HeaderLines != tt.headers || st.BadLines != 0 {
				t.Errorf("records %d headers %d bad %d (%v), want %d %d 0", st.Records, st.HeaderLines, st.BadLines, errs,
					tt.records, tt.headers)
			}
		})
	}
}

// TestUTF8Output: every string that reaches the output is valid UTF-8: a bad line's text (bytes that are
// not UTF-8 escaped as \xNN, cut on a character boundary), the file name (escaped the same way), and a
// Parquet string value that is not printable ASCII (a bad line, invalid-byte).
func TestUTF8Output(t *testing.T) {
	long := "2 123456789010 eni-1 " + strings.Repeat("é", MaxErrorText) // é is two bytes: a cut can split it
	tests := []struct {
		name     string
		file     string // base name of the input
		text     string
		wantText string // the first bad line's text; "" to check only validity
		wantFile string // base name of LineError.File and of source_file
	}{
		{name: "invalid byte", file: "a.log", text: "2 123 eni-\xff 1.2.3.4\n", wantText: `2 123 eni-\xff 1.2.3.4`, wantFile: "a.log"},
		{name: "cut in a character", file: "b.log", text: long + "\n"},
		{name: "cut in an escape", file: "c.log", text: "2 " + strings.Repeat("\xfe", MaxErrorText) + "\n"},
		{name: "file name", file: "d\xff.log", text: "2 123 eni-1\n" + strings.TrimPrefix(testRecord, "") + "\n",
			wantText: "2 123 eni-1", wantFile: `d\xff.log`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, st, errs := readAll(t, []string{path}, Options{})
			if len(errs) == 0 || len(st.Examples) == 0 {
				t.Fatalf("no bad line: %+v", st)
			}
			e := errs[0]
			for _, s := range []string{e.Text, e.File, st.Examples[0].Text, st.Examples[0].File, got} {
				if !utf8.ValidString(s) {
					t.Errorf("not valid UTF-8: %q", s)
				}
			}
			if len(e.Text) > MaxErrorText {
				t.Errorf("text is %d bytes, want at most %d", len(e.Text), MaxErrorText)
			}
			if tt.wantText != "" && e.Text != tt.wantText {
				t.Errorf("text %q, want %q", e.Text, tt.wantText)
			}
			if tt.wantFile != "" {
				if filepath.Base(e.File) != tt.wantFile {
					t.Errorf("file %q, want base %q", e.File, tt.wantFile)
				}
				if got != "" && !strings.HasPrefix(got, tt.wantFile+":") {
					t.Errorf("source_file of %q, want %q", got, tt.wantFile)
				}
			}
		})
	}
}

const testRecord = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"

// TestParquetNonASCII: a Parquet string value that is not printable ASCII (an unknown field's included)
// makes its row a bad line (invalid-byte) whose text is valid UTF-8.
func TestParquetNonASCII(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "version", Type: arrow.PrimitiveTypes.Int32},
		{Name: "my_field", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).AppendValues([]int32{2, 2, 2}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"ok", "caf\xe9", "naïve"}, nil)
	checkParquet(t, b, "in.parquet:1 version=2 my_field=ok\n",
		[]string{`2 invalid-byte  2 caf\xe9`, "3 invalid-byte  2 naïve"})
}

// TestNoRecords: input without a single record (empty, header lines only, every line bad, empty stdin) ends
// with a *NoRecordsError that says what the lines looked like; one empty file among good ones does not.
func TestNoRecords(t *testing.T) {
	header := "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	cwExport := "2026-11-20T00:00:00.000Z x 2 123456789010 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n"
	tests := []struct {
		name  string
		files map[string]string // name -> content; "-" is stdin
		want  string            // substrings of the error, "|"-separated; "" for no error
	}{
		{name: "empty file", files: map[string]string{"a.log": ""}, want: "the input file had no lines"},
		{name: "empty stdin", files: map[string]string{"-": ""}, want: "standard input had no lines"},
		{name: "header only", files: map[string]string{"a.log": header + header}, want: "only header lines (2)"},
		{name: "all bad", files: map[string]string{"a.log": strings.Repeat(cwExport, 3)},
			want: `all 3 lines of the input file were bad: field-count: 3|a.log:1 "2026-11-20T00:00:00.000Z x 2|--log-format`},
		{name: "all out of range", files: map[string]string{"a.log": strings.ReplaceAll(testRecord, " 22 ", " 70000 ") + "\n"},
			want: "out-of-range: 1|not where the log format puts them"},
		{name: "two empty files", files: map[string]string{"a.log": "", "b.log": "\n"}, want: "all 1 lines of 2 input files were bad: empty-line: 1"},
		{name: "one empty, one good", files: map[string]string{"a.log": "", "b.log": testRecord + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			var stdin io.Reader
			for name, text := range tt.files {
				if name == "-" {
					paths, stdin = append(paths, name), strings.NewReader(text)
					continue
				}
				p := filepath.Join(dir, name)
				os.WriteFile(p, []byte(text), 0o644)
				paths = append(paths, p)
			}
			sort.Strings(paths)
			rd, err := NewReader(context.Background(), paths, Options{Stdin: stdin})
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Release()
			for rd.Next() {
			}
			err = rd.Err()
			if tt.want == "" {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			var nre *NoRecordsError
			if !errors.As(err, &nre) || !errors.Is(err, ErrNoRecords) {
				t.Fatalf("error %v, want a NoRecordsError", err)
			}
			for _, w := range strings.Split(tt.want, "|") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestUnknownFieldNames: an unknown field keeps its own value under its own column, whatever its name: one
// that would shadow a provenance column, an internal column (IPv4 numbers, the replay's verdict columns, the
// store's id columns) or another field's column gets the first free name with a suffix _2, _3, ..., and
// Stats.Renamed says so.
func TestUnknownFieldNames(t *testing.T) {
	tests := []struct {
		name    string
		files   []string // contents; each its own input, in order
		columns string   // the schema's columns besides source_file and source_line
		row     string   // the first record, rendered
		renamed []string // Field->Column
	}{
		{name: "provenance", files: []string{"version source-file source-line\n2 a b\n"},
			columns: "version source_file_2 source_line_2", row: "version=2 source_file_2=a source_line_2=b",
			renamed: []string{"source-file->source_file_2", "source-line->source_line_2"}},
		{name: "two spellings of one column", files: []string{"version foo-bar foo_bar\n2 a b\n"},
			columns: "version foo_bar foo_bar_2", row: "version=2 foo_bar=a foo_bar_2=b", renamed: []string{"foo_bar->foo_bar_2"}},
		{name: "case", files: []string{"version Extra extra\n2 a b\n"},
			columns: "version Extra extra_2", row: "version=2 Extra=a extra_2=b", renamed: []string{"extra->extra_2"}},
		{name: "internal", files: []string{"srcaddr srcaddr_ipv4 verdict_id model_action direction interface_id_id\n1.2.3.4 a b c d e\n"},
			columns: "srcaddr srcaddr_ipv4_2 verdict_id_2 model_action_2 direction_2 interface_id_id_2",
			row:     "srcaddr=1.2.3.4 srcaddr_ipv4_2=a verdict_id_2=b model_action_2=c direction_2=d interface_id_id_2=e",
			renamed: []string{"srcaddr_ipv4->srcaddr_ipv4_2", "verdict_id->verdict_id_2", "model_action->model_action_2",
				"direction->direction_2", "interface_id_id->interface_id_id_2"}},
		{name: "suffix taken", files: []string{"version foo foo_2 Foo\n2 a b c\n"},
			columns: "version foo foo_2 Foo_3", row: "version=2 foo=a foo_2=b Foo_3=c", renamed: []string{"Foo->Foo_3"}},
		{name: "same field across inputs", files: []string{"version new-field\n2 a\n", "version new_field\n2 b\n"},
			columns: "version new_field", row: "version=2 new_field=a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for i, text := range tt.files {
				p := filepath.Join(dir, fmt.Sprintf("%d.log", i))
				os.WriteFile(p, []byte(text), 0o644)
				paths = append(paths, p)
			}
			rd, err := NewReader(context.Background(), paths, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, f := range rd.Schema().Fields() {
				if f.Name != flowschema.ColSourceFile && f.Name != flowschema.ColSourceLine {
					cols = append(cols, f.Name)
				}
			}
			rd.Release()
			if diff := cmp.Diff(tt.columns, strings.Join(cols, " ")); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			got, st, _ := readAll(t, paths, Options{})
			first, _, _ := strings.Cut(got, "\n")
			if diff := cmp.Diff("0.log:2 "+tt.row, first); diff != "" {
				t.Errorf("first row (-want +got):\n%s", diff)
			}
			var renamed []string
			for _, r := range st.Renamed {
				renamed = append(renamed, r.Field+"->"+r.Column)
				if r.File != paths[0] || r.Reason == "" {
					t.Errorf("rename %+v: want file %s and a reason", r, paths[0])
				}
			}
			if diff := cmp.Diff(tt.renamed, renamed); diff != "" {
				t.Errorf("renamed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDirectoryByContent: under a directory, files are read when their content is a flow log's (a header
// line, a record of the log format among the first lines, gzip or Parquet holding such), whatever their
// name; the others are skipped and listed with why. Files named on the command line are always read.
func TestDirectoryByContent(t *testing.T) {
	dir := t.TempDir()
	examples, _ := os.ReadFile("testdata/examples.log")
	_, body, _ := bytes.Cut(examples, []byte("\n"))
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gz := func(data []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		return buf.Bytes()
	}
	write("logs/a.log.gz", gz(examples))
	write("logs/b.dat", examples)                    // a header, an unusual name
	write("logs/c", append([]byte("\n\n"), body...)) // headerless, blank lines first
	write("expected.csv.gz", gz([]byte("file,line,action\na.log.gz,2,ACCEPT\n")))
	write("README.md", []byte("# Flow logs\n\nThese are the shop's logs.\n"))
	write("topology/subnets.json", []byte(`{"Subnets": []}`))
	write("AWSLogs/aws-logs-write-test", []byte("Permission Check Successful"))
	write("empty.log", nil)
	_, st, _ := readAll(t, []string{dir}, Options{})
	var skipped []string
	for _, s := range st.SkippedFiles {
		rel, _ := filepath.Rel(dir, s.File)
		if !strings.Contains(s.Reason, "not a flow log") {
			t.Errorf("%s: reason %q", rel, s.Reason)
		}
		skipped = append(skipped, rel)
	}
	want := []string{"AWSLogs/aws-logs-write-test", "README.md", "empty.log", "expected.csv.gz", "topology/subnets.json"}
	if diff := cmp.Diff(want, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if st.Files != 3 || st.Records != 24 || st.BadLines != 2 { // c's two blank lines
		t.Errorf("files %d records %d bad %d, want 3 24 2", st.Files, st.Records, st.BadLines)
	}
	// Named on the command line, a file is read whatever it holds.
	_, st, _ = readAll(t, []string{filepath.Join(dir, "README.md")}, Options{})
	if st.Files != 1 || st.BadLines != 3 || len(st.SkippedFiles) != 0 {
		t.Errorf("named file: files %d bad %d skipped %v", st.Files, st.BadLines, st.SkippedFiles)
	}
}
