package vpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
)

// Top-level keys of the AWS CLI outputs flowlens reads. A file is recognised by these keys, whatever its name.
const (
	keySecurityGroups     = "SecurityGroups"     // aws ec2 describe-security-groups
	keySecurityGroupRules = "SecurityGroupRules" // aws ec2 describe-security-group-rules
	keyNetworkAcls        = "NetworkAcls"        // aws ec2 describe-network-acls
	keyNetworkInterfaces  = "NetworkInterfaces"  // aws ec2 describe-network-interfaces
	keySubnets            = "Subnets"            // aws ec2 describe-subnets
	keyPrefixLists        = "PrefixLists"        // aws ec2 describe-managed-prefix-lists
	keyEntries            = "Entries"            // aws ec2 get-managed-prefix-list-entries
	// keyPrefixListID is a flowlens extension: get-managed-prefix-list-entries prints no prefix-list id, so a
	// file may name it beside Entries ({"PrefixListId": "pl-...", "Entries": [...]}); otherwise the file name
	// must contain the id (pl-0123abcd.json, prefix-list-entries-pl-0123abcd.json).
	keyPrefixListID = "PrefixListId"
	keyNextToken    = "NextToken" // pagination token: ignored
)

var prefixListIDInName = regexp.MustCompile(`pl-[0-9a-fA-F]+`)

// LoadPaths loads files and directories (walked recursively for *.json) and returns the compiled model.
// Problems in the content are Findings in the model; the error is only for I/O (a path that cannot be read).
func LoadPaths(paths ...string) (*Model, error) {
	files, pre, err := ReadPaths(paths...)
	if err != nil {
		return nil, err
	}
	return load(files, pre), nil
}

// ReadPaths reads what LoadPaths loads: the files and directories (walked recursively for *.json), by cleaned
// file name, and a warning finding per directory that holds no *.json file. The error is for I/O only.
func ReadPaths(paths ...string) (files map[string][]byte, findings []Finding, err error) {
	files = make(map[string][]byte)
	var pre []Finding
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("topology: %w", err)
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, fmt.Errorf("topology: %w", err)
			}
			files[filepath.Clean(p)] = data
			continue
		}
		n := 0
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".json") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files[filepath.Clean(path)] = data
			n++
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("topology: %w", err)
		}
		if n == 0 {
			pre = append(pre, Finding{Severity: Warning, File: p, Message: "directory holds no *.json files"})
		}
	}
	return files, pre, nil
}

// Load builds the model from AWS CLI JSON documents keyed by file name (the name is used in findings and to
// find a prefix-list id for get-managed-prefix-list-entries output). It never stops at the first problem:
// every problem is a Finding; the error is reserved for callers' I/O and is nil here.
func Load(files map[string][]byte) (*Model, error) {
	return load(maps.Clone(files), nil), nil
}

// load decodes the files in name order, builds the model objects and compiles them; pre are findings
// LoadPaths made while reading. The model keeps files (InputFiles).
func load(files map[string][]byte, pre []Finding) *Model {
	l := newLoader(pre)
	l.parseAll(files)
	l.build()
	l.m.files = files
	l.m.Compile()
	return l.m
}

// newLoader returns a loader with an empty model whose input findings start with pre.
func newLoader(pre []Finding) *loader {
	return &loader{
		m: &Model{
			Subnets:        make(map[string]*Subnet),
			NACLs:          make(map[string]*NACL),
			Groups:         make(map[string]*SecurityGroup),
			ENIs:           make(map[string]*ENI),
			PrefixLists:    make(map[string][]netip.Prefix),
			input:          pre,
			fileOf:         make(map[string]string),
			prefixListMeta: make(map[string]prefixListMeta),
		},
		seen: make(map[string]seenObject),
	}
}

// parseAll decodes the files in name order.
func (l *loader) parseAll(files map[string][]byte) {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		l.parseFile(name, files[name])
	}
}

// sourced is one decoded object and the file it came from.
type sourced[T any] struct {
	file string
	v    T
}

type seenObject struct {
	file string
	raw  []byte // compacted JSON, to tell a repeated object from a conflicting one
}

// loader holds the decoded objects between reading and building, and the model being built. Its findings
// go to the model's input findings, which Compile keeps.
type loader struct {
	m *Model

	groups    []sourced[sgJSON]
	rules     []sourced[sgRuleJSON]
	nacls     []sourced[naclJSON]
	enis      []sourced[eniJSON]
	subnets   []sourced[subnetJSON]
	plEntries []sourced[prefixListEntryJSON] // file is the entry's file; id in plOf
	plOf      []string

	seen map[string]seenObject // object id -> first occurrence
}

func (l *loader) add(sev Severity, file, obj, format string, args ...any) {
	l.m.input = append(l.m.input, Finding{Severity: sev, File: file, Object: obj, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warn(file, obj, format string, args ...any) {
	l.add(Warning, file, obj, format, args...)
}
func (l *loader) fatal(file, obj, format string, args ...any) {
	l.add(Fatal, file, obj, format, args...)
}

// Byte-order marks: Windows tools write them (PowerShell 5's > and Out-File write UTF-16 LE with one;
// Set-Content -Encoding UTF8 and Notepad write UTF-8 with one); encoding/json accepts neither.
var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// text returns a file's content as UTF-8: without a UTF-8 byte-order mark, and decoded when it is UTF-16
// with a byte-order mark (unpaired surrogates become U+FFFD). Other content is returned as it is.
func text(data []byte) []byte {
	var order unicode.Endianness
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		return data[len(bomUTF8):]
	case bytes.HasPrefix(data, bomUTF16LE):
		order = unicode.LittleEndian
	case bytes.HasPrefix(data, bomUTF16BE):
		order = unicode.BigEndian
	default:
		return data
	}
	out, err := unicode.UTF16(order, unicode.ExpectBOM).NewDecoder().Bytes(data)
	if err != nil {
		return data // not reached: the decoder replaces what it cannot decode
	}
	return out
}

// encodingProblem describes data that is not UTF-8 (after text): its first bytes, which tell a reader the
// encoding, and the first byte that is not UTF-8. It is "" for UTF-8.
func encodingProblem(data []byte) string {
	if len(data) >= 2 && (data[0] == 0 || data[1] == 0) {
		// JSON starts with ASCII, which UTF-16 pairs with a zero byte.
		return fmt.Sprintf("UTF-16 text without a byte-order mark (first bytes % #x)", data[:2])
	}
	if utf8.Valid(data) {
		return ""
	}
	at := 0
	for at < len(data) {
		r, n := utf8.DecodeRune(data[at:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		at += n
	}
	first := data[:min(2, len(data))]
	return fmt.Sprintf("not UTF-8 or UTF-16 text (first bytes % #x; byte %#02x at offset %d is not UTF-8)", first, data[at], at)
}

// parseFile decodes one file's top-level keys into the loader's object lists.
func (l *loader) parseFile(name string, data []byte) {
	data = text(data)
	problem := encodingProblem(data)
	if !json.Valid(data) {
		if problem != "" {
			l.fatal(name, "", "%s: save it as UTF-8; file skipped", problem)
			return
		}
		var x any
		err := json.Unmarshal(data, &x)
		if err == nil {
			err = errors.New("not valid JSON")
		}
		l.fatal(name, "", "invalid JSON: %v; file skipped", err)
		return
	}
	if problem != "" {
		// Valid JSON around bytes that are not UTF-8 (a description in a legacy code page): encoding/json
		// reads those bytes as U+FFFD, which only names and descriptions can contain.
		l.warn(name, "", "%s: bytes that are not UTF-8 are read as U+FFFD; save it as UTF-8", problem)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		l.warn(name, "", "not AWS CLI describe-* output (the top level is not a JSON object); file ignored")
		return
	}
	known := false
	var unknown []string
	for key := range top {
		switch key {
		case keySecurityGroups, keySecurityGroupRules, keyNetworkAcls, keyNetworkInterfaces, keySubnets,
			keyPrefixLists, keyEntries:
			known = true
		case keyPrefixListID, keyNextToken:
		default:
			unknown = append(unknown, key)
		}
	}
	sort.Strings(unknown)
	if !known {
		l.warn(name, "", "no recognised top-level key (expected %s, %s, %s, %s, %s, %s or %s; found %s); file ignored",
			keySecurityGroups, keySecurityGroupRules, keyNetworkAcls, keyNetworkInterfaces, keySubnets, keyPrefixLists,
			keyEntries, quoteList(unknown))
		return
	}
	for _, k := range unknown {
		l.warn(name, "", "unknown top-level key %q ignored", k)
	}

	parseList(l, name, top, keySecurityGroups, func(v sgJSON) string { return v.GroupId }, &l.groups)
	parseList(l, name, top, keySecurityGroupRules, func(v sgRuleJSON) string { return v.SecurityGroupRuleId }, &l.rules)
	parseList(l, name, top, keyNetworkAcls, func(v naclJSON) string { return v.NetworkAclId }, &l.nacls)
	parseList(l, name, top, keyNetworkInterfaces, func(v eniJSON) string { return v.NetworkInterfaceId }, &l.enis)
	parseList(l, name, top, keySubnets, func(v subnetJSON) string { return v.SubnetId }, &l.subnets)
	var pls []sourced[prefixListJSON]
	parseList(l, name, top, keyPrefixLists, func(v prefixListJSON) string { return v.PrefixListId }, &pls)
	for _, pl := range pls {
		l.m.prefixListMeta[pl.v.PrefixListId] = prefixListMeta{name: pl.v.PrefixListName, family: pl.v.AddressFamily}
	}

	rawID, hasID := top[keyPrefixListID]
	if _, ok := top[keyEntries]; !ok {
		if hasID {
			l.warn(name, "", "%q without %q ignored", keyPrefixListID, keyEntries)
		}
		return
	}
	var id string
	if hasID {
		if err := json.Unmarshal(rawID, &id); err != nil || !strings.HasPrefix(id, "pl-") {
			l.fatal(name, "", "%q must be a pl- id string; prefix-list entries skipped", keyPrefixListID)
			return
		}
	} else {
		id = prefixListIDInName.FindString(filepath.Base(name))
		if id == "" {
			l.warn(name, "", "prefix-list entries (get-managed-prefix-list-entries output) without a prefix-list id: "+
				"name the file after the list (pl-0123abcd.json) or add \"PrefixListId\": \"pl-...\" beside \"Entries\"; entries ignored")
			return
		}
	}
	var entries []sourced[prefixListEntryJSON]
	parseList(l, name, top, keyEntries, func(prefixListEntryJSON) string { return "" }, &entries)
	for _, e := range entries {
		l.plEntries = append(l.plEntries, e)
		l.plOf = append(l.plOf, id)
	}
	if len(entries) == 0 {
		// An empty list is legitimate; remember it so references to it are not reported as missing.
		if _, ok := l.m.PrefixLists[id]; !ok {
			l.m.PrefixLists[id] = nil
		}
	}
}

// parseList decodes top[key] element by element so that one bad object does not hide the others. Objects
// whose id was already loaded are dropped: silently when identical, with a warning when they differ.
func parseList[T any](l *loader, file string, top map[string]json.RawMessage, key string, id func(T) string, out *[]sourced[T]) {
	raw, ok := top[key]
	if !ok {
		return
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		l.fatal(file, key, "%s is not a JSON list: %v; skipped", key, err)
		return
	}
	for i, e := range elems {
		var v T
		if err := json.Unmarshal(e, &v); err != nil {
			l.fatal(file, fmt.Sprintf("%s[%d]", key, i), "cannot decode: %v; object skipped", err)
			continue
		}
		oid := id(v)
		// Prefix-list entries have no id; hand-written rules files may lack sgr- ids (the loader then
		// names the rule after its group).
		if key != keyEntries && (oid != "" || key != keySecurityGroupRules) {
			if oid == "" {
				l.fatal(file, fmt.Sprintf("%s[%d]", key, i), "object without an id; skipped")
				continue
			}
			var buf bytes.Buffer
			_ = json.Compact(&buf, e) // e is valid JSON: it decoded above
			if prev, dup := l.seen[oid]; dup {
				if !bytes.Equal(prev.raw, buf.Bytes()) {
					l.warn(file, oid, "also loaded from %s with different content; keeping the first (files are read in name order)", prev.file)
				}
				continue
			}
			l.seen[oid] = seenObject{file: file, raw: buf.Bytes()}
			l.m.fileOf[oid] = file
		}
		*out = append(*out, sourced[T]{file: file, v: v})
	}
}

func quoteList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
