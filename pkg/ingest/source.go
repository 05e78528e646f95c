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

// input is one file (or stdin) of a run.
type input struct {
	path   string // to open it
	name   string // path as valid UTF-8 (utf8Text): source_file, and the file of its errors
	bom    bool   // its text starts with a UTF-8 byte-order mark, which is skipped
	kind   inputKind
	format Format // field order of its records
	header []byte // its header line, nil when headerless
	stdin  *bufio.Reader
	// parquetCols are the Parquet columns read (leaf indices), in format order.
	parquetCols []int
}

// logFileSuffixes are the names a directory walk picks up; other files in a flow log tree (such as the
// aws-logs-write-test object AWS writes when a flow log is created) are skipped and reported.
var logFileSuffixes = []string{".log", ".log.gz", ".gz", ".txt", ".parquet"}

func isLogFileName(name string) bool {
	lower := strings.ToLower(name)
	for _, s := range logFileSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	return false
}

// expandPaths turns the user's arguments into the list of inputs, in order: each argument in turn, a
// directory walked recursively in lexical order (which is time order in the S3 layouts, plain and
// Hive-style), a glob pattern expanded the same way. skipped lists directory entries that are not log files.
func expandPaths(args []string) (paths, skipped []string, err error) {
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	for _, arg := range args {
		if arg == StdinName {
			add(arg)
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
				add(p)
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
				if !d.Type().IsRegular() || !isLogFileName(name) {
					skipped = append(skipped, path)
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
				add(f)
			}
		}
	}
	return paths, skipped, nil
}

// sniff opens an input, decides its kind from its first bytes and reads its header line, if any.
// For stdin it keeps the buffered reader, since stdin cannot be opened twice.
func sniff(path string, stdin io.Reader, logFormat Format) (*input, error) {
	in := &input{path: path, name: EscapeUTF8(path)}
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
			return nil, err
		}
		defer f.Close()
		r = bufio.NewReaderSize(f, 64<<10)
	}
	magic, _ := r.Peek(4)
	switch {
	case bytes.Equal(magic, parquetMagic):
		if in.stdin != nil {
			return nil, errors.New("stdin: Parquet input must be a file (it is read from its footer)")
		}
		in.kind = inputParquet
		format, cols, err := parquetFormat(path)
		if err != nil {
			return nil, err
		}
		in.format, in.parquetCols = format, cols
		return in, nil
	case bytes.HasPrefix(magic, gzipMagic):
		in.kind = inputGzip
	}
	first, err := peekFirstLine(r, in.kind == inputGzip)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the first line: %w", path, err)
	}
	if bytes.HasPrefix(first, utf8BOM) {
		// Windows tools (Notepad, PowerShell) start UTF-8 text with a byte-order mark.
		first, in.bom = first[len(utf8BOM):], true
	}
	f, ok, dup := parseHeader(first)
	if dup != "" {
		return nil, fmt.Errorf("%s: the header line names field %q twice (%.200q)", in.name, dup, first)
	}
	if ok {
		in.format, in.header = f, append([]byte(nil), first...)
		return in, nil
	}
	if logFormat != nil {
		in.format = logFormat
	} else {
		in.format, _ = ParseLogFormat(DefaultLogFormat)
	}
	return in, nil
}

// peekFirstLine returns the first line of the (possibly gzip-compressed) stream without consuming r.
func peekFirstLine(r *bufio.Reader, gz bool) ([]byte, error) {
	if !gz {
		buf, err := r.Peek(r.Size())
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i]
		}
		return bytes.TrimSuffix(buf, []byte("\r")), nil
	}
	buf, err := r.Peek(r.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf))
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, 512)
	one := make([]byte, 4096)
	for len(line) < MaxLineBytes {
		n, rerr := zr.Read(one)
		line = append(line, one[:n]...)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			return bytes.TrimSuffix(line[:i], []byte("\r")), nil
		}
		if rerr != nil {
			// A first line longer than the peeked compressed bytes, or a stream that ends: what we have is the
			// first line as far as it goes; a broken stream is reported when the file is read.
			return line, nil
		}
	}
	return line, nil
}
