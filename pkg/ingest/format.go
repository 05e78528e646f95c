package ingest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/flowlens/flowlens/pkg/arrowutil"
)

// Format is the ordered list of field names of one input: from its header line, from a LogFormat string
// given by the user, or the default version-2 order. Names are log names ("log-status").
type Format []string

// ParseLogFormat parses a flow log's LogFormat string ("${version} ${account-id} ..."). Plain names
// without ${} are accepted too. Unknown names are kept (they become string columns); duplicates are an error.
func ParseLogFormat(s string) (Format, error) {
	toks := strings.Fields(s)
	if len(toks) == 0 {
		return nil, fmt.Errorf("log format %q names no fields", s)
	}
	f := make(Format, 0, len(toks))
	seen := make(map[string]bool, len(toks))
	for _, t := range toks {
		name := t
		if strings.HasPrefix(t, "${") {
			if !strings.HasSuffix(t, "}") || len(t) < 4 {
				return nil, fmt.Errorf("log format %q: malformed field %q (want ${name})", s, t)
			}
			name = t[2 : len(t)-1]
		}
		if !validFieldName(name) {
			return nil, fmt.Errorf("log format %q: %q is not a field name", s, t)
		}
		name = canonicalLogName(name)
		if seen[name] {
			return nil, fmt.Errorf("log format %q: field %q appears twice", s, name)
		}
		seen[name] = true
		f = append(f, name)
	}
	return f, nil
}

// canonicalLogName maps a column spelling ("log_status") of a known field to its log name.
func canonicalLogName(name string) string {
	if i, ok := lookupField(name); ok {
		return knownFields[i].logName
	}
	return name
}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// parseHeader reports whether line is a header line (every token a field name, at least one of them a
// documented field) and returns its format. dup is the (log) name of a field that such a line names twice,
// in any spelling ("log-status log_status"): then the line is a broken header, not a header.
func parseHeader(line []byte) (f Format, ok bool, dup string) {
	toks := bytes.Fields(line)
	if len(toks) == 0 {
		return nil, false, ""
	}
	known := 0
	f = make(Format, 0, len(toks))
	seen := make(map[string]bool, len(toks))
	for _, t := range toks {
		name := string(t)
		if !validFieldName(name) {
			return nil, false, ""
		}
		if _, ok := lookupField(name); ok {
			known++
		}
		name = canonicalLogName(name)
		if seen[name] && dup == "" {
			dup = name
		}
		seen[name] = true
		f = append(f, name)
	}
	if known == 0 {
		return nil, false, ""
	}
	if dup != "" {
		return nil, false, dup
	}
	return f, true, ""
}

// schemaBuilder collects the union of the columns of every input of a run.
type schemaBuilder struct {
	known   []bool   // by index into knownFields
	unknown []string // log names, in order of first appearance
}

func newSchemaBuilder() *schemaBuilder {
	return &schemaBuilder{known: make([]bool, len(knownFields))}
}

func (b *schemaBuilder) add(f Format) {
	for _, name := range f {
		if i, ok := lookupField(name); ok {
			b.known[i] = true
			continue
		}
		dup := false
		for _, u := range b.unknown {
			if u == name {
				dup = true
				break
			}
		}
		if !dup {
			b.unknown = append(b.unknown, name)
		}
	}
}

// outSchema is the run's output schema plus how each column is parsed.
type outSchema struct {
	schema *arrow.Schema
	kinds  []kind // per column, excluding the two provenance columns and the IPv4 numbers
	index  map[string]int
	ipv4   []int // the address columns that also get an IPv4 number column (Options.IPv4Numbers), in order
}

// build returns the output schema; files are the run's inputs, the complete value set of source_file. With
// ipv4, every address column also gets a number column (see Options.IPv4Numbers), after source_line.
func (b *schemaBuilder) build(files []string, ipv4 bool) *outSchema {
	var fields []arrow.Field
	o := &outSchema{index: map[string]int{}}
	for i, ok := range b.known {
		if !ok {
			continue
		}
		kf := knownFields[i]
		o.index[kf.logName] = len(fields)
		if vals := kf.kind.values(); vals != nil {
			fields = append(fields, arrowutil.EnumField(kf.column, vals...))
		} else {
			fields = append(fields, arrow.Field{Name: kf.column, Type: kf.kind.arrowType(), Nullable: true})
		}
		o.kinds = append(o.kinds, kf.kind)
	}
	for _, u := range b.unknown {
		o.index[u] = len(fields)
		fields = append(fields, arrow.Field{Name: columnName(u), Type: arrow.BinaryTypes.String, Nullable: true})
		o.kinds = append(o.kinds, kindString)
	}
	sourceFile := arrow.Field{Name: ColSourceFile, Type: SourceFileType}
	if len(files) > 0 {
		sourceFile = arrowutil.EnumField(ColSourceFile, files...)
		sourceFile.Type, sourceFile.Nullable = SourceFileType, false
	}
	fields = append(fields,
		sourceFile,
		arrow.Field{Name: ColSourceLine, Type: arrow.PrimitiveTypes.Int64},
	)
	if ipv4 {
		for i, k := range o.kinds {
			if k == kindAddr {
				o.ipv4 = append(o.ipv4, i)
				fields = append(fields, arrow.Field{Name: fields[i].Name + IPv4Suffix, Type: arrow.PrimitiveTypes.Uint32})
			}
		}
	}
	o.schema = arrow.NewSchema(fields, nil)
	return o
}

// layout maps the token positions of one input's lines to output columns.
type layout struct {
	actionTok, statusTok int    // token positions of action and log-status, -1 when absent
	cols                 []int  // token position -> output column
	kinds                []kind // token position -> parse kind
	// token position -> a numeric field's range as its lowest value and the width above it, so that one
	// unsigned comparison, v-lo > span, checks both ends
	lo, span []uint64
	names    []string
	header   []byte // the input's header line, to recognise a repeated header mid-file
}

func (o *outSchema) layoutFor(f Format, header []byte) *layout {
	l := &layout{cols: make([]int, len(f)), kinds: make([]kind, len(f)), lo: make([]uint64, len(f)),
		span: make([]uint64, len(f)), names: f, header: header, actionTok: -1, statusTok: -1}
	for i, name := range f {
		if k, ok := lookupField(name); ok {
			r := knownFields[k].bounds()
			l.lo[i], l.span[i] = uint64(r.lo), uint64(r.hi-r.lo)
		}
		switch name {
		case "action":
			l.actionTok = i
		case "log-status":
			l.statusTok = i
		}
		c := o.index[name]
		l.cols[i] = c
		l.kinds[i] = o.kinds[c]
	}
	return l
}
