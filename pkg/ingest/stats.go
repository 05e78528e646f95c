package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"
)

// LineError is one line that did not become a record.
type LineError struct {
	File   string `json:"file"`
	Line   int64  `json:"line"`
	Reason Reason `json:"reason"`
	Field  string `json:"field,omitempty"` // the offending field, when one is to blame
	Text   string `json:"text"`            // the line as valid UTF-8 (see utf8Text), at most MaxErrorText bytes
}

func (e LineError) String() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: %s in field %s: %q", e.File, e.Line, e.Reason, e.Field, e.Text)
	}
	return fmt.Sprintf("%s:%d: %s: %q", e.File, e.Line, e.Reason, e.Text)
}

// FileError is a file that stopped early (truncated or corrupt gzip, malformed JSON, read error): the records up to
// LastGoodLine were kept. When the file broke inside a gzip member that failed its checksum or could not be
// decoded, the lines SuspectFirst to SuspectLast (inclusive; events of JSON input) came from that member and were handed on before
// the damage was known (see memberReader): their values may be wrong. They are records (or bad lines) like
// the others; ingest_errors has a corrupt-member row with their range, to leave them out of queries. Both
// are 0 when no line is suspect.
type FileError struct {
	File         string `json:"file"`
	LastGoodLine int64  `json:"last_good_line"`
	Err          string `json:"error"`
	SuspectFirst int64  `json:"suspect_first_line,omitempty"`
	SuspectLast  int64  `json:"suspect_last_line,omitempty"`
}

func (e FileError) String() string {
	s := fmt.Sprintf("%s: stopped after line %d: %s", e.File, e.LastGoodLine, e.Err)
	if e.SuspectFirst > 0 {
		s += fmt.Sprintf("; lines %d-%d came from that member and may hold damaged values "+
			"(ingest_errors reason %s)", e.SuspectFirst, e.SuspectLast, ReasonCorruptMember)
	}
	return s
}

// newFileError describes a file that stopped after lastLine because of err.
func newFileError(file string, lastLine int64, err error) *FileError {
	fe := &FileError{File: file, LastGoodLine: lastLine, Err: utf8Text([]byte(err.Error()), MaxErrorText)}
	var ge *GzipError
	if errors.As(err, &ge) && ge.Suspect() && ge.FirstUnit > 0 && ge.FirstUnit <= lastLine {
		fe.SuspectFirst, fe.SuspectLast = ge.FirstUnit, lastLine
	}
	return fe
}

// suspectLines is how many lines the file errors name as suspect.
func suspectLines(fes []FileError) int64 {
	var n int64
	for _, fe := range fes {
		if fe.SuspectFirst > 0 {
			n += fe.SuspectLast - fe.SuspectFirst + 1
		}
	}
	return n
}

// utf8Text returns b as valid UTF-8 of at most max bytes, for every text ingest hands on (a bad line's
// text, a file name, an error message): DuckDB refuses a string that is not valid UTF-8, and with it the
// whole write. Each byte that is not part of a valid UTF-8 sequence is written as \xNN (four bytes); a
// text longer than max is cut before the character or escape that would cross it. A backslash in the
// input is kept as it is, so "\xff" in a text is either the escape or those four characters; flow log
// records never hold a backslash.
func utf8Text(b []byte, max int) string {
	if len(b) <= max && utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, min(len(b), max))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			if len(out)+4 > max {
				break
			}
			out = append(out, '\\', 'x', hexDigits[b[0]>>4], hexDigits[b[0]&15])
		} else {
			if len(out)+n > max {
				break
			}
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

const hexDigits = "0123456789abcdef"

// EscapeUTF8 returns s as valid UTF-8, each byte that is not part of a valid UTF-8 sequence written as \xNN:
// the escaping ingest applies to file names and bad lines, for other text that goes to the same store.
func EscapeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return utf8Text([]byte(s), 4*len(s))
}

// Rename is an unknown field whose column did not get the field's own name, because the name was taken
// (see docs/flows-schema.md).
type Rename struct {
	Field  string `json:"field"`  // the field's name in its input's header or LogFormat
	File   string `json:"file"`   // the first input that has it
	Column string `json:"column"` // the column it got
	Reason string `json:"reason"` // what took the name
}

func (r Rename) String() string {
	return fmt.Sprintf("field %s of %s is column %s: %s is %s", r.Field, r.File, r.Column, columnName(r.Field), r.Reason)
}

// MaxErrorText bounds the text of a bad line kept in a LineError.
const MaxErrorText = 1024

// ExamplesPerReason is how many bad lines per reason Stats.Examples keeps.
const ExamplesPerReason = 5

// Stats describes a finished (or running) ingest. Lines = Records + HeaderLines + BadLines, always.
type Stats struct {
	Files        int              `json:"files"`
	SkippedFiles []SkippedFile    `json:"skipped_files,omitempty"`   // files in walked directories that are not flow logs
	Renamed      []Rename         `json:"renamed_columns,omitempty"` // unknown fields whose column name was taken
	InputBytes   int64            `json:"input_bytes"`               // decompressed text bytes (Parquet: file size)
	Lines        int64            `json:"lines"`
	Records      int64            `json:"records"`
	HeaderLines  int64            `json:"header_lines"`
	BadLines     int64            `json:"bad_lines"`
	BadByReason  map[string]int64 `json:"bad_by_reason"`
	Examples     []LineError      `json:"bad_examples"`            // the first ExamplesPerReason per reason, in input order
	ErrorsKept   int64            `json:"errors_kept"`             // bad lines kept for the ingest_errors table
	FileErrors   []FileError      `json:"file_errors"`             // files that stopped early
	SuspectLines int64            `json:"suspect_lines,omitempty"` // lines FileErrors name as suspect (damaged gzip)
	// ControlMessages counts the CloudWatch Logs subscription CONTROL_MESSAGE documents skipped, with their
	// events (which are not lines).
	ControlMessages int64            `json:"control_messages,omitempty"`
	ByVersion       map[string]int64 `json:"by_version"`            // "2", "5", "-" (absent)
	ByLogStatus     map[string]int64 `json:"by_log_status"`         // OK, NODATA, SKIPDATA, null
	ByAction        map[string]int64 `json:"by_action"`             // ACCEPT, REJECT, null
	Interfaces      int              `json:"interfaces"`            // distinct interface_id values
	FirstStart      UnixTime         `json:"first_start,omitempty"` // RFC 3339 in JSON
	LastEnd         UnixTime         `json:"last_end,omitempty"`
	Elapsed         time.Duration    `json:"elapsed_ns"`
	RecordsPerS     float64          `json:"records_per_second"`
}

// ifaceCacheBits sizes the cache of seen interface ids (see addIface): 1024 entries, 16 KiB per worker.
const ifaceCacheBits = 10

// tally is one worker's share of the counts; merged into Stats at the end.
type tally struct {
	lines, records, headers, bad int64
	inputBytes                   int64
	badBy                        [reasonCount]int64
	versions                     [16]int64 // counts of the common versions; others in byVersion
	errs                         []LineError
	byVersion                    map[int64]int64
	byStatus, byAction           map[string]int64
	ifaces                       map[string]string // interface ids, each mapped to itself (see addIface)
	ifaceCache                   *[1 << ifaceCacheBits]string
	firstStart, lastEnd          int64
}

func newTally() *tally {
	return &tally{byVersion: map[int64]int64{}, byStatus: map[string]int64{}, byAction: map[string]int64{},
		ifaces: map[string]string{}, ifaceCache: new([1 << ifaceCacheBits]string)}
}

func (t *tally) merge(o *tally) {
	t.lines += o.lines
	t.records += o.records
	t.headers += o.headers
	t.bad += o.bad
	t.inputBytes += o.inputBytes
	for i := range t.badBy {
		t.badBy[i] += o.badBy[i]
	}
	for i := range t.versions {
		t.versions[i] += o.versions[i]
	}
	t.errs = append(t.errs, o.errs...)
	for k, v := range o.byVersion {
		t.byVersion[k] += v
	}
	for k, v := range o.byStatus {
		t.byStatus[k] += v
	}
	for k, v := range o.byAction {
		t.byAction[k] += v
	}
	for k := range o.ifaces {
		t.ifaces[k] = k
	}
	if o.firstStart != 0 && (t.firstStart == 0 || o.firstStart < t.firstStart) {
		t.firstStart = o.firstStart
	}
	if o.lastEnd > t.lastEnd {
		t.lastEnd = o.lastEnd
	}
}

// absentKey counts the records without the field in Stats' by-value maps: "-", as flow logs write an absent
// value (a JSON key "null" would read as a null).
const absentKey = "-"

// UnixTime is a time in Unix seconds that JSON shows in RFC 3339 (UTC), like every time flowlens prints.
type UnixTime int64

// Time is t as a time.Time in UTC.
func (t UnixTime) Time() time.Time { return time.Unix(int64(t), 0).UTC() }

// MarshalJSON writes t in RFC 3339.
func (t UnixTime) MarshalJSON() ([]byte, error) { return json.Marshal(t.Time().Format(time.RFC3339)) }

// UnmarshalJSON reads what MarshalJSON writes.
func (t *UnixTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	*t = UnixTime(tm.Unix())
	return nil
}

// stats turns the merged tally, its errors already in input order, into Stats.
func (t *tally) stats() Stats {
	s := Stats{
		InputBytes: t.inputBytes, Lines: t.lines, Records: t.records, HeaderLines: t.headers, BadLines: t.bad,
		BadByReason: map[string]int64{}, ByVersion: map[string]int64{}, ByLogStatus: t.byStatus,
		ByAction: t.byAction, Interfaces: len(t.ifaces), FirstStart: UnixTime(t.firstStart), LastEnd: UnixTime(t.lastEnd),
		ErrorsKept: int64(len(t.errs)), Examples: []LineError{},
	}
	for r := Reason(1); r < reasonCount; r++ {
		if t.badBy[r] > 0 {
			s.BadByReason[r.String()] = t.badBy[r]
		}
	}
	for v, n := range t.versions {
		if n > 0 {
			s.ByVersion[fmt.Sprint(v)] += n
		}
	}
	for v, n := range t.byVersion {
		if v < 0 {
			s.ByVersion[absentKey] += n
		} else {
			s.ByVersion[fmt.Sprint(v)] += n
		}
	}
	per := map[Reason]int{}
	for _, e := range t.errs {
		if per[e.Reason] < ExamplesPerReason {
			per[e.Reason]++
			s.Examples = append(s.Examples, e)
		}
	}
	return s
}

func sortLineErrors(errs []LineError, fileOrder map[string]int) {
	sort.Slice(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.File != b.File {
			return fileOrder[a.File] < fileOrder[b.File]
		}
		return a.Line < b.Line
	})
}
