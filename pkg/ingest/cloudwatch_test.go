package ingest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

const cwDir = "testdata/cloudwatch"

// splitRendered splits readAll's output into the source lines and the records without their provenance.
func splitRendered(t *testing.T, got string) (lines []string, records []string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		prov, rest, _ := strings.Cut(l, " ")
		_, line, _ := strings.Cut(prov, ":")
		lines, records = append(lines, line), append(records, rest)
	}
	return lines, records
}

// TestCloudWatchInputs: each shape CloudWatch Logs delivers flow logs in gives the records of the same
// events given as plain text, through the same parser (the out-of-range line 8 is a bad line in every
// shape), with source_line the line (export) or the event's position in the file (JSON, control events
// counted).
func TestCloudWatchInputs(t *testing.T) {
	wantOut, wantSt, wantErrs := readAll(t, []string{filepath.Join(cwDir, "records.log")}, Options{})
	_, wantRecords := splitRendered(t, wantOut)
	if wantSt.Records != 11 || len(wantErrs) != 1 {
		t.Fatalf("records.log: %d records, errors %v", wantSt.Records, wantErrs)
	}
	plain, err := os.ReadFile(filepath.Join(cwDir, "records.log"))
	if err != nil {
		t.Fatal(err)
	}
	badRecord := strings.Split(string(plain), "\n")[7]
	lines := func(from int) (l []string) {
		for i := from; i < from+12; i++ {
			if i != from+7 {
				l = append(l, strconv.Itoa(i))
			}
		}
		return l
	}
	tests := []struct {
		name     string
		file     string
		first    int    // source_line of the first event
		badText  string // text of the bad line
		controls int64
	}{
		{name: "plain text", file: "records.log", first: 1, badText: badRecord},
		{name: "export task object, text", file: "export.txt", first: 1, badText: "2025-11-20T00:00:35.861Z " + badRecord},
		{name: "export task object, gzip", file: "export-000000.gz", first: 1, badText: "2025-11-20T00:00:35.861Z " + badRecord},
		{name: "filter-log-events, two pages", file: "filter-log-events.json", first: 1, badText: badRecord},
		{name: "get-log-events", file: "get-log-events.json", first: 1, badText: badRecord},
		{name: "Firehose subscription data, text", file: "firehose.json", first: 2, badText: badRecord, controls: 1},
		{name: "Firehose subscription data, gzip members", file: "firehose-delivery.gz", first: 2, badText: badRecord, controls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(cwDir, tt.file)
			got, st, errs := readAll(t, []string{path}, Options{})
			gotLines, gotRecords := splitRendered(t, got)
			if diff := cmp.Diff(wantRecords, gotRecords); diff != "" {
				t.Errorf("records (-plain text +%s):\n%s", tt.file, diff)
			}
			if diff := cmp.Diff(lines(tt.first), gotLines); diff != "" {
				t.Errorf("source lines (-want +got):\n%s", diff)
			}
			wantErr := []LineError{{File: path, Line: int64(tt.first + 7), Reason: ReasonOutOfRange, Field: "dstport", Text: tt.badText}}
			if diff := cmp.Diff(wantErr, errs); diff != "" {
				t.Errorf("bad lines (-want +got):\n%s", diff)
			}
			if st.Lines != 12 || st.Records != 11 || st.BadLines != 1 || st.ControlMessages != tt.controls || len(st.FileErrors) != 0 {
				t.Errorf("lines %d records %d bad %d controls %d file errors %v; want 12 11 1 %d none",
					st.Lines, st.Records, st.BadLines, st.ControlMessages, st.FileErrors, tt.controls)
			}
		})
	}
}

// TestCloudWatchGzipFixtures: the gzip fixtures hold what their readable sources say (one member for the
// export object, one per document for Firehose), so the two cannot drift apart.
func TestCloudWatchGzipFixtures(t *testing.T) {
	for gz, src := range map[string]string{"export-000000.gz": "export.txt", "firehose-delivery.gz": "firehose.json"} {
		data, err := os.ReadFile(filepath.Join(cwDir, gz))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(cwDir, src))
		if !bytes.Equal(got, want) {
			t.Errorf("%s does not decompress to %s", gz, src)
		}
	}
}

// TestCloudWatchJSONShapes: JSON that breaks, or is not CloudWatch's, stops its file with an error naming the
// byte and the document where it broke, keeping the events before; odd but valid shapes are read.
func TestCloudWatchJSONShapes(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(cwDir, "filter-log-events.json"))
	if err != nil {
		t.Fatal(err)
	}
	second := bytes.Index(page, []byte("}\n{")) + 2 // the second page begins
	r := func(i int) string {
		return strings.Split(string(mustRead(t, filepath.Join(cwDir, "records.log"))), "\n")[i]
	}
	tests := []struct {
		name     string
		data     string
		records  int64
		lines    string // source lines of the records
		bad      string // line:reason of the bad lines
		err      string // substrings of the file error, "|"-separated
		last     int64  // its last good line
		controls int64
	}{
		{name: "truncated second page", data: string(page[:second+250]), records: 7, lines: "1 2 3 4 5 6 7",
			err: "truncated JSON (the input ends inside a document) at byte|(document 2, after event 7)", last: 7},
		{name: "syntax error in the second page", data: string(page[:second+300]) + "}" + string(page[second+300:]),
			records: 7, lines: "1 2 3 4 5 6 7", bad: "8:out-of-range",
			err: "malformed JSON: expected comma after array element at byte 3237 (document 2, after event 8)", last: 8},
		{name: "not CloudWatch", data: `{"Subnets": []}`, err: "a document without events or logEvents (keys [\"Subnets\"]) at byte 15 (document 1, after event 0)"},
		{name: "an array", data: `[{"message": "x"}]`, err: "a document is not an object at byte 1"},
		{name: "message not a string", data: `{"events": [{"message": "` + r(0) + `"}, {"message": 5}]}`, records: 1, lines: "1",
			err: "event 2 is not an object with a string message", last: 1},
		{name: "events null, then a page", data: `{"events": null}` + "\n" + `{"events": [{"message": "` + r(0) + `"}]}`, records: 1, lines: "1"},
		{name: "messageType after logEvents",
			data: `{"logEvents": [{"message": "CWL CONTROL MESSAGE"}], "messageType": "CONTROL_MESSAGE"}` +
				`{"logEvents": [{"message": "` + r(0) + `"}, {"message": "` + r(1) + `"}], "messageType": "DATA_MESSAGE"}`,
			records: 2, lines: "2 3", controls: 1},
		{name: "no messageType", data: `{"logEvents": [{"message": "` + r(0) + `"}]}`, records: 1, lines: "1"},
		{name: "newline inside a message", data: `{"events": [{"message": "` + r(0) + `\n` + r(1) + `"}, {"message": "` + r(2) + `\r\n"}]}`,
			records: 1, lines: "2", bad: "1:invalid-byte"}, // a message ending in a line end is read without it
		{name: "empty message", data: `{"events": [{"message": ""}, {"timestamp": 1}, {"message": "` + r(0) + `"}]}`,
			records: 1, lines: "3", bad: "1:empty-line 2:empty-line"},
		{name: "byte-order mark", data: "\ufeff" + `{"events": [{"message": "` + r(0) + `"}]}`, records: 1, lines: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cw.json")
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, st, errs := readAll(t, []string{path}, Options{ChunkBytes: 256})
			var lines []string
			if got != "" {
				lines, _ = splitRendered(t, got)
			}
			var bad []string
			for _, e := range errs {
				bad = append(bad, strconv.FormatInt(e.Line, 10)+":"+e.Reason.String())
			}
			if diff := cmp.Diff([]string{tt.lines, tt.bad}, []string{strings.Join(lines, " "), strings.Join(bad, " ")}); diff != "" {
				t.Errorf("source lines of the records, bad lines (-want +got):\n%s", diff)
			}
			if st.Records != tt.records || st.ControlMessages != tt.controls {
				t.Errorf("records %d controls %d, want %d %d", st.Records, st.ControlMessages, tt.records, tt.controls)
			}
			if tt.err == "" {
				if len(st.FileErrors) != 0 {
					t.Errorf("file errors %v", st.FileErrors)
				}
				return
			}
			fe := oneFileError(t, st, tt.err)
			if fe.LastGoodLine != tt.last {
				t.Errorf("last good line %d, want %d", fe.LastGoodLine, tt.last)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFirehoseDamagedMember: in Firehose's concatenated gzip members, a member that fails its checksum names
// its events (by position in the file) as suspect; the members before arrive intact.
func TestFirehoseDamagedMember(t *testing.T) {
	src := mustRead(t, filepath.Join(cwDir, "firehose.json"))
	docs := bytes.SplitAfter(src, []byte("]}"))
	docs = docs[:len(docs)-1] // SplitAfter leaves an empty tail
	if len(docs) != 4 {
		t.Fatalf("%d documents, want 4", len(docs))
	}
	var data []byte
	for i, d := range docs {
		if i == 3 { // events 10-13, stored so that one byte of a message can be damaged
			data = append(data, damage(t, gzipMember(t, string(d), gzip.NoCompression), "44321")...)
			continue
		}
		data = append(data, gzipMember(t, string(d), gzip.BestSpeed)...)
	}
	path := filepath.Join(t.TempDir(), "firehose.gz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, st, errs := readAll(t, []string{path}, Options{})
	if len(st.FileErrors) != 1 {
		t.Fatalf("file errors %v", st.FileErrors)
	}
	fe := st.FileErrors[0]
	if !strings.Contains(fe.Err, "gzip member 4") || fe.SuspectFirst != 10 || fe.SuspectLast != 13 || fe.LastGoodLine != 13 {
		t.Errorf("file error %s: want member 4, suspect events 10-13", fe)
	}
	// The damaged byte made srcport 94321: a bad line inside the suspect range.
	if len(errs) != 2 || errs[1].Line != 10 || errs[1].Field != "srcport" {
		t.Errorf("bad lines %v, want 9 (dstport) and 10 (srcport)", errs)
	}
	lines, _ := splitRendered(t, got)
	if diff := cmp.Diff(strings.Fields("2 3 4 5 6 7 8 11 12 13"), lines); diff != "" {
		t.Errorf("source lines (-want +got):\n%s", diff)
	}
}

// TestCloudWatchByContent: under a directory, CloudWatch Logs exports and JSON are read by content; JSON that
// is not CloudWatch Logs events of flow log records is skipped and listed.
func TestCloudWatchByContent(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"export-000000.gz", "filter-log-events.json", "firehose-delivery.gz", "export.txt"} {
		if err := os.WriteFile(filepath.Join(dir, "x-"+f), mustRead(t, filepath.Join(cwDir, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "subnets.json"), []byte(`{"Subnets": []}`), 0o644)
	os.WriteFile(filepath.Join(dir, "app.json"), []byte(`{"events": [{"message": "GET /index.html 200"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("2025-11-20T00:00:00.000Z deployed v2\n"), 0o644)
	_, st, _ := readAll(t, []string{dir}, Options{})
	var skipped []string
	for _, s := range st.SkippedFiles {
		if !strings.Contains(s.Reason, "not a flow log") {
			t.Errorf("%s: reason %q", s.File, s.Reason)
		}
		skipped = append(skipped, filepath.Base(s.File))
	}
	if diff := cmp.Diff([]string{"app.json", "notes.txt", "subnets.json"}, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if st.Files != 4 || st.Records != 44 || st.ControlMessages != 1 {
		t.Errorf("files %d records %d controls %d, want 4 44 1", st.Files, st.Records, st.ControlMessages)
	}
}

// FuzzCloudWatchJSON feeds arbitrary bytes to the CloudWatch Logs JSON reader: it must never panic, number
// events in increasing order within the input, and stop with io.EOF or an error naming a byte of the input.
func FuzzCloudWatchJSON(f *testing.F) {
	for _, name := range []string{"filter-log-events.json", "get-log-events.json", "firehose.json"} {
		b, err := os.ReadFile(filepath.Join(cwDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"logEvents":[{"message":"a"}],"messageType":"CONTROL_MESSAGE"}{"events":null}`))
	f.Add([]byte(`{"events":[{"message":5}]}`))
	f.Add([]byte(`{"events":[{"message":"x\ny"}]}{"Subnets":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newCWScanner(bytes.NewReader(data), 0)
		last := int64(0)
		for i := 0; ; i++ {
			ev, err := s.next()
			if err == io.EOF {
				return
			}
			if err != nil {
				var ce *CloudWatchJSONError
				if !asCW(err, &ce) {
					t.Fatalf("error %v (%T) is not a CloudWatchJSONError", err, err)
				}
				if ce.Offset < 0 || ce.Offset > int64(len(data)) || ce.Event < last {
					t.Fatalf("error %v: offset or event out of range (input %d bytes, last event %d)", err, len(data), last)
				}
				return
			}
			if ev.n <= last || ev.end > int64(len(data)) || ev.n > int64(len(data)) {
				t.Fatalf("event %d (end %d) after %d, input %d bytes", ev.n, ev.end, last, len(data))
			}
			last = ev.n
			line := appendMessage(nil, ev.msg)
			if bytes.IndexByte(line, '\n') != len(line)-1 {
				t.Fatalf("message %q is not one line", ev.msg)
			}
		}
	})
}

func asCW(err error, target **CloudWatchJSONError) bool {
	ce, ok := err.(*CloudWatchJSONError)
	*target = ce
	return ok
}

var exportTimestamp = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}) `)

// FuzzExportLine checks the export timestamp against its definition as a regular expression, and that a
// line with one parses as the record after it: the same reason, field and row.
func FuzzExportLine(f *testing.F) {
	f.Add([]byte("2025-11-20T00:00:35.861Z 2 123456789010 eni-1235b8ca123456789 172.31.16.139 203.0.113.12 443 7 6 4 336 1432917094 1432917142 ACCEPT OK"))
	f.Add([]byte("2025-11-20T00:00:35+01:00 2 1 e - - - - - - - 1 2 - NODATA"))
	f.Add([]byte("2025-11-20T00:00:35.Z x"))
	f.Add([]byte("2025-11-20T00:00:35Z\n2 1"))
	format := defaultFormat()
	f.Fuzz(func(t *testing.T, line []byte) {
		n := timestampLen(line)
		if re := len(exportTimestamp.Find(line)); n != re {
			t.Fatalf("timestampLen(%q) = %d, want %d", line, n, re)
		}
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if len(line) == 0 {
			return
		}
		// As parseChunk reads an export's line ...
		out, l, lp := parserWith(format, false)
		r := &Reader{out: out, opts: Options{MaxErrorsKept: 10}}
		job := &fileJob{in: &input{path: "fuzz", name: "fuzz", wrap: wrapExport}, layout: l}
		tl := newTally()
		var got strings.Builder
		if rec := r.parseChunk(tl, lp, job, chunk{data: line, firstLine: 1}); rec != nil {
			renderRows(&got, rec)
			rec.Release()
		}
		gotReason := "ok"
		if len(tl.errs) == 1 {
			gotReason = tl.errs[0].Reason.String() + " " + tl.errs[0].Field
			if tl.errs[0].Text != utf8Text(line, MaxErrorText) {
				t.Fatalf("error text %q, want the whole line", tl.errs[0].Text)
			}
		}
		// ... and as the line parser reads what follows the timestamp.
		out, l, lp = parserWith(format, false)
		b := newBatch(nil, out, l, "fuzz", 4, 64, nil)
		reason, field := lp.parse(b, line[n:], 1)
		var want strings.Builder
		wantReason := "ok"
		if reason != 0 {
			wantReason = reason.String() + " "
			if field >= 0 {
				wantReason += format[field]
			}
		} else {
			rec := b.record(nil)
			renderRows(&want, rec)
			rec.Release()
		}
		checkSameAsGeneral(t, format, false, line[n:], want.String(), reason, field, lp)
		if diff := cmp.Diff([]string{wantReason, want.String()}, []string{gotReason, got.String()}); diff != "" {
			t.Fatalf("export line %q (-record alone +export line):\n%s", line, diff)
		}
	})
}
