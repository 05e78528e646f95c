package ingest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

// rec is a default-format record whose srcport (40000+i) and last address byte tell it apart.
func rec(i int) string {
	return fmt.Sprintf("2 123456789012 eni-0a1b2c3d4e5f6a7b8 10.0.0.%d 10.0.1.1 %d 443 6 10 840 1763600000 1763600060 ACCEPT OK", i%250, 40000+i)
}

// recs returns records from to to-1, one per line.
func recs(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(rec(i) + "\n")
	}
	return b.String()
}

// gzipMember compresses text as one gzip member; level gzip.NoCompression stores the text as it is, so
// that a byte of it can be damaged on purpose.
func gzipMember(t *testing.T, text string, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte(text))
	zw.Close()
	return buf.Bytes()
}

// damage flips the first byte of the first occurrence of what in data (a '4' becomes a '9').
func damage(t *testing.T, data []byte, what string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(what))
	if i < 0 {
		t.Fatalf("%q not in the data", what)
	}
	out := append([]byte(nil), data...)
	out[i] ^= 0x0d
	return out
}

// TestDamagedGzip: a gzip member that fails its checksum (or cannot be decoded) stops the file with an error
// naming the member, and the lines already handed on from that member are named as suspect (file, first and
// last line), while every line of the members before it arrives intact. A truncated member names no
// suspect lines: deflate output before the cut is right.
func TestDamagedGzip(t *testing.T) {
	header := benchHeader
	m1 := header + recs(0, 50)                                    // lines 1-51
	m2 := recs(50, 100)                                           // lines 52-101
	m3 := recs(100, 120)                                          // lines 102-121
	midA, midB := m1+rec(50)[:30], rec(50)[30:]+"\n"+recs(51, 80) // line 52 split across the members
	tests := []struct {
		name    string
		data    func(t *testing.T) []byte
		records int64 // records kept
		last    int64 // the last good line
		suspect [2]int64
		err     string   // substrings of the error, "|"-separated
		rows    []string // rendered records that must be there
	}{
		{name: "second member fails its checksum",
			data: func(t *testing.T) []byte {
				return append(gzipMember(t, m1, gzip.BestSpeed), damage(t, gzipMember(t, m2, gzip.NoCompression), "443 6 ")...)
			},
			records: 100, last: 101, suspect: [2]int64{52, 101},
			err: "gzip member 2 (bytes 466-|failed its checksum",
			// The damaged record: dstport 943 for 443, a wrong value that parses.
			rows: []string{"f.gz:52 version=2 account_id=123456789012 interface_id=eni-0a1b2c3d4e5f6a7b8 srcaddr=10.0.0.50 dstaddr=10.0.1.1 srcport=40050 dstport=943"}},
		{name: "single member fails its checksum",
			data: func(t *testing.T) []byte {
				return damage(t, gzipMember(t, m1+m2, gzip.NoCompression), rec(70)[strings.Index(rec(70), "443"):])
			},
			records: 100, last: 101, suspect: [2]int64{1, 101}, err: "gzip member 1 (bytes 0-"},
		{name: "single compressed member damaged",
			data: func(t *testing.T) []byte {
				d := gzipMember(t, m1+m2, gzip.BestCompression)
				d[len(d)-30] ^= 0x55
				return d
			},
			err: "gzip member 1"},
		{name: "member boundary inside a line",
			data: func(t *testing.T) []byte {
				return append(gzipMember(t, midA, gzip.BestSpeed), damage(t, gzipMember(t, midB, gzip.NoCompression), "443 6 ")...)
			},
			records: 80, last: 81, suspect: [2]int64{52, 81}, err: "gzip member 2"},
		{name: "third member not read after a damaged second",
			data: func(t *testing.T) []byte {
				d := append(gzipMember(t, m1, gzip.BestSpeed), damage(t, gzipMember(t, m2, gzip.NoCompression), "443 6 ")...)
				return append(d, gzipMember(t, m3, gzip.BestSpeed)...)
			},
			records: 100, last: 101, suspect: [2]int64{52, 101}, err: "gzip member 2"},
		{name: "truncated second member",
			data: func(t *testing.T) []byte {
				d2 := gzipMember(t, m2, gzip.NoCompression)
				return append(gzipMember(t, m1, gzip.BestSpeed), d2[:len(d2)/2]...)
			},
			err: "truncated compressed stream|in gzip member 2"},
		{name: "not gzip after the first member",
			data: func(t *testing.T) []byte {
				return append(gzipMember(t, m1, gzip.BestSpeed), "PK\x03\x04 not gzip"...)
			},
			records: 50, last: 51, err: "after gzip member 1, are not a gzip member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.gz")
			if err := os.WriteFile(path, tt.data(t), 0o644); err != nil {
				t.Fatal(err)
			}
			got, st, _ := readAll(t, []string{path}, Options{ChunkBytes: 1024})
			fe := oneFileError(t, st, tt.err)
			if st.Lines != st.Records+st.HeaderLines+st.BadLines || st.Records+st.HeaderLines+st.BadLines != fe.LastGoodLine {
				t.Errorf("lines %d, records %d + headers %d + bad %d, last good line %d: do not reconcile",
					st.Lines, st.Records, st.HeaderLines, st.BadLines, fe.LastGoodLine)
			}
			// Every line of an intact member arrives, as it was.
			want := strings.Split(strings.TrimSpace(renderText(t, m1, "f.gz")), "\n")
			if gotLines := strings.Split(got, "\n"); len(gotLines) < len(want) || !cmp.Equal(gotLines[:len(want)], want) &&
				!strings.Contains(tt.name, "single") {
				t.Errorf("the first member's records did not all arrive intact")
			}
			if strings.Contains(tt.name, "compressed") {
				// Where a damaged deflate stream breaks depends on the damage: what holds is the range.
				if fe.LastGoodLine > 0 && (fe.SuspectFirst != 1 || fe.SuspectLast != fe.LastGoodLine) {
					t.Errorf("suspect lines %d-%d, want 1-%d", fe.SuspectFirst, fe.SuspectLast, fe.LastGoodLine)
				}
				return
			}
			if tt.records == 0 { // truncated: whatever was complete before the cut, nothing suspect
				tt.records, tt.last = st.Records, fe.LastGoodLine
				if st.Records <= 50 {
					t.Errorf("records %d: want those of member 1 and part of member 2", st.Records)
				}
			}
			if diff := cmp.Diff([]int64{tt.records, tt.last, tt.suspect[0], tt.suspect[1], tt.suspect[1] - tt.suspect[0] + min(tt.suspect[0], 1)},
				[]int64{st.Records, fe.LastGoodLine, fe.SuspectFirst, fe.SuspectLast, st.SuspectLines}); diff != "" {
				t.Errorf("records, last good line, suspect first, last, count (-want +got):\n%s", diff)
			}
			for _, r := range tt.rows {
				if !strings.Contains(got, r) {
					t.Errorf("no record %q", r)
				}
			}
		})
	}
}

// oneFileError returns the run's one file error and checks that its message holds each "|"-separated
// part of want.
func oneFileError(t *testing.T, st Stats, want string) FileError {
	t.Helper()
	if len(st.FileErrors) != 1 {
		t.Fatalf("file errors %v, want one", st.FileErrors)
	}
	fe := st.FileErrors[0]
	for _, w := range strings.Split(want, "|") {
		if !strings.Contains(fe.Err, w) {
			t.Errorf("error %q lacks %q", fe.Err, w)
		}
	}
	return fe
}

// renderText renders the records of text read as a plain file named name.
func renderText(t *testing.T, text, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, _ := readAll(t, []string{path}, Options{})
	return got
}

// TestCorruptMemberRow: the suspect lines of a file error are an ingest_errors row of their own, with the
// range in line and last_line, so that a query can leave them out.
func TestCorruptMemberRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := ErrorsRecord(mem, []LineError{{File: "a.gz", Line: 3, Reason: ReasonBadNumber, Field: "srcport", Text: "x"}},
		[]FileError{{File: "a.gz", LastGoodLine: 101, Err: "gzip member 2 failed", SuspectFirst: 52, SuspectLast: 101},
			{File: "b.gz", LastGoodLine: 7, Err: "truncated"}})
	defer rec.Release()
	var got []string
	for i := 0; i < int(rec.NumRows()); i++ {
		var row []string
		for c := 0; c < int(rec.NumCols()); c++ {
			s := rec.Column(c).ValueStr(i)
			if c == 4 {
				s = s[:min(len(s), 14)]
			}
			row = append(row, s)
		}
		got = append(got, strings.Join(row, "|"))
	}
	want := []string{
		"a.gz|3|bad-number|srcport|x|3",
		"a.gz|101|file-error|(null)|gzip member 2 |(null)",
		"a.gz|52|corrupt-member|(null)|lines 52-101 c|101",
		"b.gz|7|file-error|(null)|truncated|(null)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ingest_errors rows (-want +got):\n%s", diff)
	}
	if rec.Schema().Field(5).Name != "last_line" || rec.Column(5).(*array.Int64).Value(2) != 101 {
		t.Errorf("last_line column missing")
	}
}
