package ingest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
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
	known   []bool       // by index into knownFields
	unknown []unknownCol // in order of first appearance
}

// unknownCol is an output column for fields flowlens does not know. Such a field is identified by its
// column name (columnName), compared case-insensitively as DuckDB compares identifiers, and by how many
// fields of its input came before it with that name: "new-field" in a text header and "new_field" in a
// Parquet file of the same run are one column, while "foo-bar foo_bar" in one header are two.
type unknownCol struct {
	key    unknownKey
	base   string // columnName of the first field seen
	field  string // that field's log name
	file   string // and its input
	column string // the column name given (build)
}

type unknownKey struct {
	name string // lower-case column name
	nth  int    // 0 for the first field of an input with that name, 1 for the second, ...
}

func newSchemaBuilder() *schemaBuilder {
	return &schemaBuilder{known: make([]bool, len(knownFields))}
}

// unknownKeys returns the identity of each of f's fields, in order (the zero key for documented fields).
func unknownKeys(f Format) []unknownKey {
	keys := make([]unknownKey, len(f))
	seen := map[string]int{}
	for i, name := range f {
		if _, ok := lookupField(name); ok {
			continue
		}
		k := strings.ToLower(columnName(name))
		keys[i] = unknownKey{k, seen[k]}
		seen[k]++
	}
	return keys
}

// add adds the columns of the input file with format f.
func (b *schemaBuilder) add(f Format, file string) {
	keys := unknownKeys(f)
	for i, name := range f {
		if k, ok := lookupField(name); ok {
			b.known[k] = true
			continue
		}
		if !slices.ContainsFunc(b.unknown, func(u unknownCol) bool { return u.key == keys[i] }) {
			b.unknown = append(b.unknown, unknownCol{key: keys[i], base: columnName(name), field: name, file: file})
		}
	}
}

// reservedColumns are names an unknown field's column must not take (compared in lower case), besides the
// documented fields' columns: the provenance columns, and the columns the replay adds after ingest's.
var reservedColumns = []string{flowschema.ColSourceFile, flowschema.ColSourceLine, flowschema.ColVerdictID,
	flowschema.ColDirection, flowschema.ColModelAction, flowschema.ColModelAgrees, flowschema.ColVerdictLayer,
	flowschema.ColVerdictRule, flowschema.ColVerdictResource, flowschema.ColVerdictAlso, flowschema.ColVerdictCause,
	flowschema.ColVerdictSteps, flowschema.ColNACLID, flowschema.ColNACLRule, flowschema.ColSGRule,
	flowschema.ColFlowRole, flowschema.ColInitiator}

// nameUnknown gives every unknown column its name: its column name (columnName of its first field) when
// that is free, else the first free name with a suffix _2, _3, ... A name is taken by a documented field's
// column, by a reserved column (reservedColumns), by an earlier unknown column, and by the internal columns
// other stages derive from a column's name: flowschema.IPv4Col(X) (Options.IPv4Numbers) and X_id, the id column a
// store interns X's strings in, for any column X of the run. It returns the renames.
func (b *schemaBuilder) nameUnknown() []Rename {
	taken := map[string]string{} // lower-case name -> why it is taken
	for _, kf := range knownFields {
		taken[kf.column] = "a documented field's column"
	}
	for _, r := range reservedColumns {
		taken[r] = "a column flowlens adds"
	}
	bases := map[string]bool{} // every column's own name, lower case
	for _, kf := range knownFields {
		bases[kf.column] = true
	}
	for _, u := range b.unknown {
		bases[u.key.name] = true
	}
	why := func(name string) string {
		l := strings.ToLower(name)
		switch {
		case taken[l] != "":
			return taken[l]
		case flowschema.IsIPv4Col(l):
			return "the name of an IPv4-number column (" + flowschema.IPv4Suffix + ")"
		case strings.HasSuffix(l, "_id") && bases[strings.TrimSuffix(l, "_id")]:
			return "the name of the id column a store keeps " + strings.TrimSuffix(name, "_id") + "'s strings in"
		}
		return ""
	}
	var renames []Rename
	for i := range b.unknown {
		u := &b.unknown[i]
		u.column = u.base
		reason := why(u.base)
		for n := 2; why(u.column) != ""; n++ {
			u.column = fmt.Sprintf("%s_%d", u.base, n)
		}
		taken[strings.ToLower(u.column)] = fmt.Sprintf("the column of field %s of %s", u.field, u.file)
		if u.column != u.base {
			renames = append(renames, Rename{Field: u.field, File: u.file, Column: u.column, Reason: reason})
		}
	}
	return renames
}

// outSchema is the run's output schema plus how each column is parsed.
type outSchema struct {
	schema *arrow.Schema
	kinds  []kind         // per column, excluding the two provenance columns and the IPv4 numbers
	index  map[string]int // documented fields' log name -> column
	// unknown fields' identity -> column, and the unknown columns that did not get their field's name
	unknown map[unknownKey]int
	renamed []Rename
	ipv4    []int // the address columns that also get an IPv4 number column (Options.IPv4Numbers), in order
}

// build returns the output schema; files are the run's inputs, the complete value set of source_file. With
// ipv4, every address column also gets a number column (see Options.IPv4Numbers), after source_line.
func (b *schemaBuilder) build(files []string, ipv4 bool) *outSchema {
	var fields []arrow.Field
	o := &outSchema{index: map[string]int{}, unknown: map[unknownKey]int{}}
	o.renamed = b.nameUnknown()
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
		o.unknown[u.key] = len(fields)
		fields = append(fields, arrow.Field{Name: u.column, Type: arrow.BinaryTypes.String, Nullable: true})
		o.kinds = append(o.kinds, kindString)
	}
	sourceFile := arrow.Field{Name: flowschema.ColSourceFile, Type: flowschema.SourceFileType}
	if len(files) > 0 {
		sourceFile = arrowutil.EnumField(flowschema.ColSourceFile, files...)
		sourceFile.Type, sourceFile.Nullable = flowschema.SourceFileType, false
	}
	fields = append(fields,
		sourceFile,
		arrow.Field{Name: flowschema.ColSourceLine, Type: arrow.PrimitiveTypes.Int64},
	)
	if ipv4 {
		for i, k := range o.kinds {
			if k == kindAddr {
				o.ipv4 = append(o.ipv4, i)
				fields = append(fields, arrow.Field{Name: flowschema.IPv4Col(fields[i].Name), Type: flowschema.IPv4Type})
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
	keys := unknownKeys(f)
	for i, name := range f {
		c, ok := o.index[name]
		if k, known := lookupField(name); known {
			r := knownFields[k].bounds()
			l.lo[i], l.span[i] = uint64(r.lo), uint64(r.hi-r.lo)
		} else {
			c, ok = o.unknown[keys[i]]
		}
		if !ok {
			panic("ingest: layout of a format the schema was not built from")
		}
		switch name {
		case "action":
			l.actionTok = i
		case "log-status":
			l.statusTok = i
		}
		l.cols[i] = c
		l.kinds[i] = o.kinds[c]
	}
	return l
}
