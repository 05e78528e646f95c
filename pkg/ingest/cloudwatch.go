package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// CloudWatch Logs inputs. Flow logs delivered to CloudWatch Logs reach users in three shapes, each read by
// content like the others, gzip-compressed or not, with the records in the flow log's LogFormat (never a
// header line):
//
//   - an export task's objects (aws logs create-export-task): lines "<ISO-8601 timestamp> <record>"; the
//     timestamp is skipped (wrapExport) and the rest parsed as a line. Lines keep their numbers.
//   - aws logs filter-log-events / get-log-events output: JSON documents {"events": [{"message": ...}]}.
//   - subscription data as Amazon Data Firehose delivers it to S3: concatenated gzip members, each a JSON
//     document {"messageType": "DATA_MESSAGE", "logEvents": [{"message": ...}]}; CONTROL_MESSAGE
//     documents are skipped and counted.
//
// In JSON input (wrapJSON), "line" means event: an event's source_line (and the line of its errors) is its
// 1-based position among all the events of the file, across documents (paginated output appended to one
// file, Firehose's concatenated documents), counting the events of skipped CONTROL_MESSAGE documents too:
// unique and increasing in file order, and the event's index in `jq -s '[.[] | (.events // .logEvents)[]]'`.
// Each message is parsed as a line, with every rule of text lines; a message is one line, so a newline
// inside one is read as a carriage return (a bad line); line ends at its end are dropped.

// timestampLen returns the length of the ISO-8601 timestamp and the single space at the start of b, as a
// CloudWatch Logs export writes them before each event's message ("2026-11-20T00:01:02.000Z "), else 0.
// Fractional seconds are optional; the zone is Z or an offset (+01:00). It never looks past a newline.
func timestampLen(b []byte) int {
	const layout = "dddd-dd-ddTdd:dd:dd" // d: a decimal digit
	if len(b) < len(layout)+2 {
		return 0
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if b[i]-'0' > 9 {
				return 0
			}
		} else if b[i] != layout[i] {
			return 0
		}
	}
	i := len(layout)
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && b[j]-'0' <= 9 {
			j++
		}
		if j == i+1 {
			return 0
		}
		i = j
	}
	switch {
	case i < len(b) && b[i] == 'Z':
		i++
	case i+6 <= len(b) && (b[i] == '+' || b[i] == '-') && b[i+1]-'0' <= 9 && b[i+2]-'0' <= 9 && b[i+3] == ':' &&
		b[i+4]-'0' <= 9 && b[i+5]-'0' <= 9:
		i += 6
	default:
		return 0
	}
	if i < len(b) && b[i] == ' ' {
		return i + 1
	}
	return 0
}

// cwScanner reads the events of CloudWatch Logs JSON documents in file order, holding one event at a time
// (and, only for a subscription document whose logEvents come before its messageType, that document's
// events). Not safe for concurrent use.
type cwScanner struct {
	dec      *json.Decoder
	base     int64 // stream offset of the decoder's first byte (a skipped byte-order mark)
	docs     int   // documents begun
	events   int64 // events read, skipped ones included: the number of the last
	controls int64 // CONTROL_MESSAGE documents skipped

	inDoc, inArray bool
	logEvents      bool   // the array is a subscription document's logEvents
	msgType        string // the document's messageType, "" until read
	sawEvents      bool   // the document has events or logEvents
	keys           []string
	deferred       []cwEvent // logEvents read before the document's messageType
	pendingBytes   int
	ev             struct {
		Message string `json:"message"`
	}
}

// cwEvent is one event handed on: its message, its number in the file, and the stream offset just past it.
type cwEvent struct {
	msg string
	n   int64
	end int64
}

// maxDeferredBytes bounds the messages of a document held until its messageType is read. Firehose
// records are at most 1,000 KiB; AWS writes messageType first, so this is only for odd writers.
const maxDeferredBytes = 64 << 20

func newCWScanner(r io.Reader, base int64) *cwScanner {
	return &cwScanner{dec: json.NewDecoder(r), base: base}
}

// CloudWatchJSONError is JSON input that is not (or no longer) CloudWatch Logs JSON.
type CloudWatchJSONError struct {
	Offset int64 // byte of the (decompressed) stream where it broke
	Doc    int   // 1-based document
	Event  int64 // events read before it
	Msg    string
	err    error
}

func (e *CloudWatchJSONError) Error() string {
	return fmt.Sprintf("%s at byte %d (document %d, after event %d)", e.Msg, e.Offset, e.Doc, e.Event)
}

func (e *CloudWatchJSONError) Unwrap() error { return e.err }

// fail describes err, a decoding error or a shape that is not CloudWatch's, at the decoder's position.
func (s *cwScanner) fail(msg string, err error) error {
	var ge *GzipError
	if errors.As(err, &ge) {
		return err // the compressed stream broke: that is the error
	}
	off := s.dec.InputOffset()
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off, msg = se.Offset, "malformed JSON: "+se.Error()
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		msg = "truncated JSON (the input ends inside a document)"
	case err != nil && msg == "":
		msg = err.Error()
	}
	return &CloudWatchJSONError{Offset: s.base + off, Doc: s.docs, Event: s.events, Msg: msg, err: err}
}

// next returns the next event to parse; io.EOF after the last one.
func (s *cwScanner) next() (cwEvent, error) {
	for {
		switch {
		case s.inArray:
			if s.dec.More() {
				s.ev.Message = ""
				if err := s.dec.Decode(&s.ev); err != nil {
					var te *json.UnmarshalTypeError
					if errors.As(err, &te) {
						return cwEvent{}, s.fail(fmt.Sprintf("event %d is not an object with a string message (%v)", s.events+1, err), nil)
					}
					return cwEvent{}, s.fail("", err)
				}
				s.events++
				ev := cwEvent{msg: s.ev.Message, n: s.events, end: s.base + s.dec.InputOffset()}
				switch {
				case s.logEvents && (s.msgType == "" || len(s.deferred) > 0):
					s.pendingBytes += len(ev.msg)
					if s.pendingBytes > maxDeferredBytes {
						return cwEvent{}, s.fail(fmt.Sprintf("more than %d MiB of logEvents before the document's messageType", maxDeferredBytes>>20), nil)
					}
					s.deferred = append(s.deferred, ev)
				case s.logEvents && s.msgType == "CONTROL_MESSAGE":
				default:
					return ev, nil
				}
				continue
			}
			if _, err := s.dec.Token(); err != nil { // ]
				return cwEvent{}, s.fail("", err)
			}
			s.inArray = false
		case len(s.deferred) > 0 && s.msgType != "":
			// The messageType came after the logEvents: hand them on now, or drop a control message's.
			if s.msgType == "CONTROL_MESSAGE" {
				s.deferred, s.pendingBytes = s.deferred[:0], 0
				continue
			}
			ev := s.deferred[0]
			s.deferred = s.deferred[1:]
			return ev, nil
		case s.inDoc:
			if !s.dec.More() {
				if _, err := s.dec.Token(); err != nil { // }
					return cwEvent{}, s.fail("", err)
				}
				if !s.sawEvents {
					return cwEvent{}, s.fail(fmt.Sprintf("not CloudWatch Logs JSON: a document without events or logEvents (keys %.100q)", s.keys), nil)
				}
				if s.msgType == "" {
					s.msgType = "DATA_MESSAGE" // none given: the events are data
				}
				if s.msgType == "CONTROL_MESSAGE" {
					s.controls++
				}
				s.inDoc = false
				continue
			}
			tok, err := s.dec.Token()
			if err != nil {
				return cwEvent{}, s.fail("", err)
			}
			key, _ := tok.(string)
			if len(s.keys) < 8 {
				s.keys = append(s.keys, key)
			}
			switch key {
			case "events", "logEvents":
				tok, err := s.dec.Token()
				if err != nil {
					return cwEvent{}, s.fail("", err)
				}
				s.sawEvents = true
				if tok == nil { // null: no events
					continue
				}
				if tok != json.Delim('[') {
					return cwEvent{}, s.fail(fmt.Sprintf("not CloudWatch Logs JSON: %s is not an array", key), nil)
				}
				s.inArray, s.logEvents = true, key == "logEvents"
			case "messageType":
				var t *string
				if err := s.dec.Decode(&t); err != nil {
					return cwEvent{}, s.fail("not CloudWatch Logs JSON: messageType is not a string", err)
				}
				if t != nil {
					s.msgType = *t
				}
			default:
				var skip skipValue
				if err := s.dec.Decode(&skip); err != nil {
					return cwEvent{}, s.fail("", err)
				}
			}
		default:
			tok, err := s.dec.Token()
			if err == io.EOF {
				return cwEvent{}, io.EOF
			}
			if err != nil {
				return cwEvent{}, s.fail("", err)
			}
			s.docs++
			if tok != json.Delim('{') {
				return cwEvent{}, s.fail("not CloudWatch Logs JSON: a document is not an object", nil)
			}
			s.inDoc, s.sawEvents, s.msgType, s.keys, s.deferred, s.pendingBytes = true, false, "", s.keys[:0], s.deferred[:0], 0
		}
	}
}

// skipValue decodes any JSON value into nothing (the decoder still checks its syntax).
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// headMessages returns the messages of the first n events to parse in head, the start of a JSON input, one
// per line, and the error that stopped it, if any (head usually ends inside a document).
func headMessages(head []byte, n int) ([]byte, error) {
	s := newCWScanner(bytes.NewReader(head), 0)
	var out []byte
	for i := 0; i < n; i++ {
		ev, err := s.next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		out = appendMessage(out, ev.msg)
	}
	return out, nil
}

// appendMessage appends msg as one line: line ends at its end are dropped, and a newline inside it becomes
// a carriage return, which makes it a bad line (invalid-byte).
func appendMessage(buf []byte, msg string) []byte {
	for len(msg) > 0 && (msg[len(msg)-1] == '\n' || msg[len(msg)-1] == '\r') {
		msg = msg[:len(msg)-1]
	}
	start := len(buf)
	buf = append(buf, msg...)
	for i := start; i < len(buf); i++ {
		if buf[i] == '\n' {
			buf[i] = '\r'
		}
	}
	return append(buf, '\n')
}

// readJSON reads CloudWatch Logs JSON from src into chunks of one line per event. members is the gzip
// stream under src, if any: a member that breaks is traced to the first event that holds its bytes. It
// returns the number of the last event handed on.
func (r *Reader) readJSON(job *fileJob, src io.Reader, members *memberReader) (int64, error) {
	var base int64
	if job.in.bom {
		base = int64(len(utf8BOM))
	}
	s := newCWScanner(src, base)
	defer func() { job.controls = s.controls }()
	size := r.opts.ChunkBytes
	buf := getBuf(size)[:0]
	var first, n, last int64 // buf holds events first to first+n-1; last is the last handed on
	member, memberFirst := 0, int64(0)
	flush := func() error {
		if n == 0 {
			return nil
		}
		r.bytes.Add(int64(len(buf)))
		if err := r.submit(job, chunk{data: buf, firstLine: first}); err != nil {
			return err
		}
		last = first + n - 1
		buf, n = getBuf(size)[:0], 0
		return nil
	}
	for {
		ev, err := s.next()
		if err != nil {
			ferr := flush()
			if err == io.EOF {
				putBuf(buf)
				return last, ferr
			}
			var ge *GzipError
			if errors.As(err, &ge) && ge.Member == member {
				ge.FirstUnit = memberFirst
			}
			if ferr != nil {
				return last, ferr
			}
			return last, err
		}
		if n > 0 && (ev.n != first+n || len(buf) >= size) {
			// A gap (skipped control events) or a full chunk: a chunk's lines are numbered in a row.
			if err := flush(); err != nil {
				return last, err
			}
		}
		if n == 0 {
			first = ev.n
		}
		buf = appendMessage(buf, ev.msg)
		n++
		if members != nil && members.cur.n != member && ev.end > members.cur.start {
			member, memberFirst = members.cur.n, ev.n
		}
	}
}
