package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// StdinName is the path that means standard input, and the source_file value of its records.
const StdinName = "-"

// inputKind is how an input's bytes are laid out, decided by content, not name.
type inputKind uint8

const (
	inputText inputKind = iota
	inputGzip
	inputParquet
)

func (k inputKind) String() string {
	return [...]string{"text", "gzip", "parquet"}[k]
}

var (
	utf8BOM      = []byte{0xef, 0xbb, 0xbf}
	gzipMagic    = []byte{0x1f, 0x8b}
	parquetMagic = []byte("PAR1")
)

// wrapping is how an input's text holds its records, decided by content.
type wrapping uint8

const (
	wrapNone   wrapping = iota // one record per line, maybe after a header line
	wrapExport                 // a CloudWatch Logs export: "<ISO-8601 timestamp> <record>" per line
	wrapJSON                   // CloudWatch Logs JSON: a record per events[].message or logEvents[].message
)

// input is one file (or stdin) of a run.
type input struct {
	path   string // to open it
	name   string // path as valid UTF-8 (utf8Text): source_file, and the file of its errors
	bom    bool   // its text starts with a UTF-8 byte-order mark, which is skipped
	kind   inputKind
	wrap   wrapping
	format Format // field order of its records
	header []byte // its header line, nil when headerless
	stdin  *bufio.Reader
	// parquetCols are the Parquet columns read (leaf indices), in format order.
	parquetCols []int
}

// SkippedFile is a file under a directory given as input that was not read, and why: directories are
// read by content, not by name, so a flow log tree may hold other files (the aws-logs-write-test object AWS
// writes when a flow log is created, a README, expected results).
type SkippedFile struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

func (s SkippedFile) String() string { return s.File + ": " + s.Reason }

// pathArg is one input path; walked says it was found under a directory (rather than named by the user),
// so that it is read only when its content is a flow log's.
type pathArg struct {
	path   string
	walked bool
}

// expandPaths turns the user's arguments into the list of inputs, in order: each argument in turn, a
// directory walked recursively in lexical order (which is time order in the S3 layouts, plain and
// Hive-style), a glob pattern expanded the same way. Hidden files and directories under a directory are
// left out; skipped lists its entries that are not regular files. Which of the walked files are flow logs
// is decided by content (sniff).
func expandPaths(args []string) (paths []pathArg, skipped []SkippedFile, err error) {
	seen := map[string]bool{}
	add := func(p string, walked bool) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, pathArg{p, walked})
		}
	}
	for _, arg := range args {
		if arg == StdinName {
			add(arg, false)
			continue
		}
		matches := []string{arg}
		if _, statErr := os.Stat(arg); statErr != nil && strings.ContainsAny(arg, "*?[") {
			m, gerr := filepath.Glob(arg)
			if gerr != nil {
				return nil, nil, fmt.Errorf("bad glob pattern %q: %w", arg, gerr)
			}
			if len(m) == 0 {
				return nil, nil, fmt.Errorf("%s: no file matches the pattern", arg)
			}
			matches = m
		}
		for _, p := range matches {
			fi, err := os.Stat(p)
			if err != nil {
				return nil, nil, err
			}
			if !fi.IsDir() {
				add(p, false)
				continue
			}
			var found []string
			err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				name := d.Name()
				if strings.HasPrefix(name, ".") && path != p {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if d.IsDir() {
					return nil
				}
				if !d.Type().IsRegular() {
					skipped = append(skipped, SkippedFile{EscapeUTF8(path), "not a regular file"})
					return nil
				}
				found = append(found, path)
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
			sort.Strings(found)
			for _, f := range found {
				add(f, true)
			}
		}
	}
	return paths, skipped, nil
}

// sniff opens an input, decides its kind from its first bytes and reads its header line, if any.
// For stdin it keeps the buffered reader, since stdin cannot be opened twice. A file found under a
// directory (walked) that is not a flow log by content gives a reason to skip it instead: a Parquet file
// without a single flow log column, or text whose first line is not a header and none of whose first lines
// is a record of the log format.
func sniff(path string, walked bool, stdin io.Reader, logFormat Format) (in *input, skip string, err error) {
	in = &input{path: path, name: EscapeUTF8(path)}
	var r *bufio.Reader
	if path == StdinName {
		if stdin == nil {
			stdin = os.Stdin
		}
		in.stdin = bufio.NewReaderSize(stdin, 1<<20)
		r = in.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		r = bufio.NewReaderSize(f, 64<<10)
	}
	magic, _ := r.Peek(4)
	switch {
	case bytes.Equal(magic, parquetMagic):
		if in.stdin != nil {
			return nil, "", errors.New("stdin: Parquet input must be a file (it is read from its footer)")
		}
		in.kind = inputParquet
		format, cols, err := parquetFormat(path)
		if err != nil {
			return nil, "", err
		}
		if walked && !slices.ContainsFunc(format, func(name string) bool { _, ok := lookupField(name); return ok }) {
			return nil, "a Parquet file without flow log columns", nil
		}
		in.format, in.parquetCols = format, cols
		return in, "", nil
	case bytes.HasPrefix(magic, gzipMagic):
		in.kind = inputGzip
	}
	head, err := peekHead(r, in.kind == inputGzip)
	if err != nil {
		return nil, "", fmt.Errorf("%s: reading the first line: %w", in.name, err)
	}
	if bytes.HasPrefix(head, utf8BOM) {
		// Windows tools (Notepad, PowerShell) start UTF-8 text with a byte-order mark.
		head, in.bom = head[len(utf8BOM):], true
	}
	first := head
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	first = bytes.TrimSuffix(first, []byte("\r"))
	f, ok, dup := parseHeader(first)
	if dup != "" {
		return nil, "", fmt.Errorf("%s: the header line names field %q twice (%.200q)", in.name, dup, first)
	}
	if ok {
		in.format, in.header = f, append([]byte(nil), first...)
		return in, "", nil
	}
	// Without a header, the records are in the flow log's LogFormat, whether the lines are records or
	// CloudWatch Logs wraps them (CloudWatch never has a header line).
	if logFormat != nil {
		in.format = logFormat
	} else {
		in.format, _ = ParseLogFormat(DefaultLogFormat)
	}
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		in.wrap = wrapJSON
		if walked {
			msgs, err := headMessages(head, sniffLines)
			if !holdsRecords(msgs, in.format, wrapNone) {
				why := "none of its first events is a record of the log format"
				if len(msgs) == 0 && err != nil {
					why = err.Error()
				}
				return nil, "not a flow log: JSON, but not CloudWatch Logs events of flow log records: " + utf8Text([]byte(why), 200), nil
			}
		}
		return in, "", nil
	}
	if l := firstNonBlank(head); timestampLen(l) > 0 {
		in.wrap = wrapExport
	}
	if walked && !holdsRecords(head, in.format, in.wrap) {
		return nil, fmt.Sprintf("not a flow log: no header line, and none of its first lines is a record of the log format "+
			"(first line %.80q)", utf8Text(first, 80)), nil
	}
	return in, "", nil
}

// firstNonBlank returns the first line of head that is not blank, without its line end.
func firstNonBlank(head []byte) []byte {
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if len(bytes.TrimSpace(line)) > 0 {
			return line
		}
	}
	return nil
}

// sniffLines is how many of a walked file's first lines holdsRecords tries.
const sniffLines = 16

// holdsRecords reports whether one of the first sniffLines non-empty lines of head is a record of format f
// (after the timestamp, for an export).
func holdsRecords(head []byte, f Format, wrap wrapping) bool {
	sb := newSchemaBuilder()
	sb.add(f, "")
	out := sb.build(nil, false)
	lp := newLineParser(out.layoutFor(f, nil))
	for tried := 0; len(head) > 0 && tried < sniffLines; {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		tried++
		if wrap == wrapExport {
			line = line[timestampLen(line):]
		}
		b := newBatch(nil, out, lp.l, "", 1, len(line), nil)
		if reason, _ := lp.parse(b, line, 1); reason == 0 {
			return true
		}
	}
	return false
}

// peekHead returns the first bytes of the (possibly gzip-compressed) stream's text without consuming r: up
// to what r buffers, and for gzip up to MaxLineBytes+1 bytes of what that decompresses to.
func peekHead(r *bufio.Reader, gz bool) ([]byte, error) {
	buf, err := r.Peek(r.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if !gz {
		return buf, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf))
	if err != nil {
		return nil, err
	}
	head := make([]byte, 0, 4096)
	one := make([]byte, 4096)
	for len(head) <= MaxLineBytes {
		n, rerr := zr.Read(one)
		head = append(head, one[:n]...)
		if rerr != nil {
			// The peeked compressed bytes end, or the stream does: what we have is the head as far as it goes;
			// a broken stream is reported when the file is read.
			break
		}
	}
	return head, nil
}
