package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// A gzip file is a series of members, each with its own CRC-32 of its text, checked only at the member's
// end. A damaged byte inside a member yields wrong text (and so records with wrong values) before the
// check fails, and S3 objects are often a single member of up to 75 MB compressed, so holding a member's
// records until its check passed would hold the whole file. memberReader therefore hands text on as it is
// decompressed, like any reader, but keeps track of the member it is in, so that a failure can name that
// member and the lines (or events) that came from it: those are reported as suspect (FileError.SuspectFirst,
// the ingest_errors reason corrupt-member), for the user to leave out.

// gzMember is one member of a gzip stream.
type gzMember struct {
	n         int   // 1-based number in the file
	at        int64 // offset of its header in the compressed file
	start     int64 // offset of its first byte in the decompressed text
	firstLine int64 // the line that holds its first byte (memberReader.countLines)
}

// memberReader decompresses a gzip stream member by member (what gzip.Reader does with Multistream(true),
// the default), knowing at each moment which member it is in. Not safe for concurrent use.
type memberReader struct {
	zr         *gzip.Reader
	br         *bufio.Reader // the compressed stream, handed to flate as it is (its fast path)
	cr         *countingReader
	countLines bool  // count newlines, so that a member's first line is known (text inputs)
	out        int64 // decompressed bytes handed on
	lines      int64 // newlines among them (countLines)
	cur        gzMember
	err        error
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newMemberReader(src io.Reader, countLines bool) (*memberReader, error) {
	m := &memberReader{cr: &countingReader{r: src}, countLines: countLines, cur: gzMember{n: 1, firstLine: 1}}
	m.br = bufio.NewReaderSize(m.cr, 64<<10)
	zr, err := gzip.NewReader(m.br)
	if err != nil {
		return nil, m.fail(err)
	}
	zr.Multistream(false)
	m.zr = zr
	return m, nil
}

// consumed is the offset in the compressed file up to which the decompressor has read.
func (m *memberReader) consumed() int64 { return m.cr.n - int64(m.br.Buffered()) }

func (m *memberReader) Read(p []byte) (int, error) {
	for m.err == nil {
		n, err := m.zr.Read(p)
		m.out += int64(n)
		if m.countLines {
			m.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
		}
		switch {
		case err == nil:
			if n == 0 {
				continue
			}
			return n, nil
		case err == io.EOF: // the member ended and its checksum matched
			next := gzMember{n: m.cur.n + 1, at: m.consumed(), start: m.out, firstLine: m.lines + 1}
			if rerr := m.zr.Reset(m.br); rerr != nil {
				if rerr == io.EOF {
					m.err = io.EOF // no further member: the end of the file
				} else {
					m.cur = next
					m.err = m.fail(rerr)
				}
				return n, m.err
			}
			m.zr.Multistream(false) // Reset turns it back on
			m.cur = next
			if n > 0 {
				return n, nil
			}
		default:
			m.err = m.fail(err)
			return n, m.err
		}
	}
	return 0, m.err
}

// gzipProblem is how a member broke.
type gzipProblem uint8

const (
	gzipTruncated gzipProblem = iota // the file ends inside it: the text before is right, the rest missing
	gzipChecksum                     // its CRC-32 or length does not match its text: damaged somewhere
	gzipCorrupt                      // its deflate data cannot be decoded: damaged at or before that point
	gzipHeader                       // it does not start with a gzip header
)

// GzipError is a gzip member that broke, as a FileError's cause.
type GzipError struct {
	Member  int   // 1-based member number
	At      int64 // offset of the member's header in the file
	Broke   int64 // offset in the file where the decompressor stopped
	problem gzipProblem
	// FirstUnit is the first line (event, for JSON input) that holds text of the member, 0 when none was
	// handed on; set by whoever numbers the units.
	FirstUnit int64
	err       error
}

func (e *GzipError) Unwrap() error { return e.err }

// Suspect reports whether the text already handed on from the member may be wrong: a checksum or decoding
// failure. A truncated member's text is right as far as it goes (deflate output is a prefix of the whole);
// a member that is not gzip handed nothing on.
func (e *GzipError) Suspect() bool { return e.problem == gzipChecksum || e.problem == gzipCorrupt }

func (e *GzipError) Error() string {
	where := fmt.Sprintf("gzip member %d (from byte %d of the file)", e.Member, e.At)
	switch e.problem {
	case gzipTruncated:
		return fmt.Sprintf("truncated compressed stream (unexpected end of file) in %s", where)
	case gzipChecksum:
		// The checksum covers the whole member: the damage is anywhere in it.
		return fmt.Sprintf("gzip member %d (bytes %d-%d of the file) failed its checksum: its text is damaged somewhere in it",
			e.Member, e.At, e.Broke)
	case gzipCorrupt:
		return fmt.Sprintf("%s is corrupt: its data cannot be decoded at byte %d (the damage is there or before)", where, e.Broke)
	default:
		if e.Member == 1 {
			return e.err.Error()
		}
		return fmt.Sprintf("the bytes from %d on, after gzip member %d, are not a gzip member (%v)", e.At, e.Member-1, e.err)
	}
}

// fail wraps a decompression error of the current member.
func (m *memberReader) fail(err error) error {
	e := &GzipError{Member: m.cur.n, At: m.cur.at, Broke: m.consumed(), err: err}
	var ce flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.problem = gzipTruncated
	case errors.Is(err, gzip.ErrChecksum):
		e.problem = gzipChecksum
	case errors.As(err, &ce):
		e.problem = gzipCorrupt
	case errors.Is(err, gzip.ErrHeader):
		e.problem = gzipHeader
	default:
		return err // an I/O error
	}
	if m.countLines && m.out > m.cur.start {
		e.FirstUnit = m.cur.firstLine
	}
	return e
}
