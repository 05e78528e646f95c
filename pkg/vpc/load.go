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
	"time"

	"go4.org/netipx"
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
	files := make(map[string][]byte)
	var pre []Finding
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("topology: %w", err)
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("topology: %w", err)
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
			return nil, fmt.Errorf("topology: %w", err)
		}
		if n == 0 {
			pre = append(pre, Finding{Severity: Warning, File: p, Message: "directory holds no *.json files"})
		}
	}
	m, err := Load(files)
	if err != nil {
		return nil, err
	}
	m.Findings = append(pre, m.Findings...)
	return m, nil
}

// Load builds the model from AWS CLI JSON documents keyed by file name (the name is used in findings and to
// find a prefix-list id for get-managed-prefix-list-entries output). It never stops at the first problem:
// every problem is a Finding; the error is reserved for callers' I/O and is nil here.
func Load(files map[string][]byte) (*Model, error) {
	l := &loader{
		m: &Model{
			VPCs:           make(map[string]*VPC),
			Subnets:        make(map[string]*Subnet),
			NACLs:          make(map[string]*NACL),
			Groups:         make(map[string]*SecurityGroup),
			ENIs:           make(map[string]*ENI),
			PrefixLists:    make(map[string][]netip.Prefix),
			byAddr:         make(map[netip.Addr]*ENI),
			members:        make(map[string][]netip.Addr),
			memberSets:     make(map[string]*netipx.IPSet),
			subnetByCIDR:   make(map[netip.Prefix]*Subnet),
			prefixListMeta: make(map[string]prefixListMeta),
		},
		seen:   make(map[string]seenObject),
		fileOf: make(map[string]string),
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l.parseFile(name, files[name])
	}
	l.build()
	sort.SliceStable(l.m.Findings, func(i, j int) bool { return l.m.Findings[i].File < l.m.Findings[j].File })
	return l.m, nil
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

type loader struct {
	m *Model

	groups    []sourced[sgJSON]
	rules     []sourced[sgRuleJSON]
	nacls     []sourced[naclJSON]
	enis      []sourced[eniJSON]
	subnets   []sourced[subnetJSON]
	plEntries []sourced[prefixListEntryJSON] // file is the entry's file; id in plOf
	plOf      []string

	seen   map[string]seenObject // object id -> first occurrence
	fileOf map[string]string     // object id (including generated rule ids) -> file, for findings
}

func (l *loader) add(sev Severity, file, obj, format string, args ...any) {
	l.m.Findings = append(l.m.Findings, Finding{Severity: sev, File: file, Object: obj, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warn(file, obj, format string, args ...any) {
	l.add(Warning, file, obj, format, args...)
}
func (l *loader) fatal(file, obj, format string, args ...any) {
	l.add(Fatal, file, obj, format, args...)
}

// parseFile decodes one file's top-level keys into the loader's object lists.
func (l *loader) parseFile(name string, data []byte) {
	if !json.Valid(data) {
		var x any
		err := json.Unmarshal(data, &x)
		if err == nil {
			err = errors.New("not valid JSON")
		}
		l.fatal(name, "", "invalid JSON: %v; file skipped", err)
		return
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
			l.fileOf[oid] = file
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

// build turns the decoded objects into the compiled model, in dependency order.
func (l *loader) build() {
	l.buildPrefixLists()
	l.buildNACLs()
	l.buildSubnets()
	l.buildGroups()
	l.buildENIs()
	l.compileRules()
	l.buildIndexes()
}

func (l *loader) vpc(id string) *VPC {
	if id == "" {
		return nil
	}
	v := l.m.VPCs[id]
	if v == nil {
		v = &VPC{ID: id}
		l.m.VPCs[id] = v
	}
	return v
}

func (l *loader) buildPrefixLists() {
	for i, e := range l.plEntries {
		id := l.plOf[i]
		p, canonical, err := parseCIDR(e.v.Cidr)
		if err != nil {
			l.fatal(e.file, id, "entry %q is not a CIDR: %v; entry skipped", truncate(e.v.Cidr, 60), err)
			continue
		}
		if !canonical {
			l.warn(e.file, id, "entry %s is not canonical; using %s", strings.TrimSpace(e.v.Cidr), p)
		}
		if _, ok := l.fileOf[id]; !ok {
			l.fileOf[id] = e.file
		}
		l.m.PrefixLists[id] = append(l.m.PrefixLists[id], p)
	}
	for id, ps := range l.m.PrefixLists {
		slices.SortFunc(ps, comparePrefix)
		l.m.PrefixLists[id] = slices.Compact(ps)
	}
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func dirWord(egress bool) string {
	if egress {
		return "outbound"
	}
	return "inbound"
}

func (l *loader) buildNACLs() {
	for _, s := range l.nacls {
		v := s.v
		n := &NACL{ID: v.NetworkAclId, VpcID: v.VpcId, OwnerID: v.OwnerId, IsDefault: v.IsDefault}
		for _, ej := range v.Entries {
			e, ok := l.naclEntry(s.file, n.ID, ej)
			if !ok {
				continue
			}
			if e.Egress {
				n.Outbound = append(n.Outbound, e)
			} else {
				n.Inbound = append(n.Inbound, e)
			}
		}
		n.Inbound = l.finishEntries(s.file, n.ID, false, n.Inbound)
		n.Outbound = l.finishEntries(s.file, n.ID, true, n.Outbound)
		l.m.NACLs[n.ID] = n
		if vp := l.vpc(n.VpcID); vp != nil && n.IsDefault {
			if vp.DefaultNACL != nil {
				l.fatal(s.file, n.ID, "VPC %s has two default NACLs (%s and %s): which one guards unassociated subnets is ambiguous",
					n.VpcID, vp.DefaultNACL.ID, n.ID)
			} else {
				vp.DefaultNACL = n
			}
		} else if n.IsDefault {
			l.fatal(s.file, n.ID, "default NACL without VpcId: it cannot be the default of any subnet")
		}
	}
}

// naclEntry validates and converts one entry; ok is false when the entry is dropped (with a fatal finding).
func (l *loader) naclEntry(file, naclID string, j naclEntryJSON) (e NACLEntry, ok bool) {
	dir := dirWord(j.Egress)
	if j.RuleNumber == nil {
		l.fatal(file, naclID, "%s entry without RuleNumber: entry dropped", dir)
		return e, false
	}
	rn := *j.RuleNumber
	where := fmt.Sprintf("%s entry %d", dir, rn)
	if rn < 1 || rn > DefaultRuleV6 {
		l.fatal(file, naclID, "%s: RuleNumber out of range 1-32766 (32767/32768 for '*'): entry dropped", where)
		return e, false
	}
	e = NACLEntry{RuleNumber: int(rn), Egress: j.Egress, ICMPType: -1, ICMPCode: -1}
	e.Default = rn >= DefaultRuleV4

	switch {
	case j.CidrBlock != "" && j.Ipv6CidrBlock != "":
		l.fatal(file, naclID, "%s: has both CidrBlock and Ipv6CidrBlock: entry dropped", where)
		return e, false
	case j.CidrBlock == "" && j.Ipv6CidrBlock == "":
		l.fatal(file, naclID, "%s: no CidrBlock or Ipv6CidrBlock, so it matches no address: entry dropped", where)
		return e, false
	}
	field, s, want4 := "CidrBlock", j.CidrBlock, true
	if j.Ipv6CidrBlock != "" {
		field, s, want4 = "Ipv6CidrBlock", j.Ipv6CidrBlock, false
	}
	p, canonical, err := parseCIDR(s)
	if err != nil {
		l.fatal(file, naclID, "%s: %s %q is not a CIDR: entry dropped", where, field, truncate(s, 60))
		return e, false
	}
	if p.Addr().Is4() != want4 {
		l.fatal(file, naclID, "%s: %s %s has the wrong address family: entry dropped", where, field, p)
		return e, false
	}
	if !canonical {
		l.warn(file, naclID, "%s: %s %s is not canonical; using %s", where, field, strings.TrimSpace(s), p)
	}
	e.Prefix = p

	switch strings.ToLower(strings.TrimSpace(j.RuleAction)) {
	case "allow":
		e.Action = Allow
	case "deny":
		e.Action = Deny
	default:
		l.fatal(file, naclID, "%s: RuleAction %q is neither allow nor deny: entry dropped", where, truncate(j.RuleAction, 40))
		return e, false
	}

	e.Proto, err = parseProto(string(j.Protocol))
	if err != nil {
		l.fatal(file, naclID, "%s: %v: entry dropped", where, err)
		return e, false
	}
	switch {
	case portsChecked(e.Proto):
		e.PortFrom, e.PortTo = 0, 65535
		if j.PortRange == nil || j.PortRange.From == nil || j.PortRange.To == nil {
			l.warn(file, naclID, "%s: %s entry without a complete PortRange: treated as all ports 0-65535", where, protoName(e.Proto))
			break
		}
		from, to := *j.PortRange.From, *j.PortRange.To
		if from < 0 || from > 65535 || to < 0 || to > 65535 {
			l.fatal(file, naclID, "%s: PortRange %d-%d outside 0-65535: entry dropped", where, from, to)
			return e, false
		}
		if from > to {
			l.fatal(file, naclID, "%s: PortRange From %d > To %d matches no port: entry dropped", where, from, to)
			return e, false
		}
		e.PortFrom, e.PortTo = uint16(from), uint16(to)
	case icmpChecked(e.Proto):
		if j.IcmpTypeCode == nil {
			break // all types and codes
		}
		for _, f := range []struct {
			name string
			v    *int64
			dst  *int16
		}{{"Type", j.IcmpTypeCode.Type, &e.ICMPType}, {"Code", j.IcmpTypeCode.Code, &e.ICMPCode}} {
			if f.v == nil {
				continue
			}
			if *f.v < -1 || *f.v > 255 {
				l.fatal(file, naclID, "%s: IcmpTypeCode.%s %d outside -1..255: entry dropped", where, f.name, *f.v)
				return e, false
			}
			*f.dst = int16(*f.v)
		}
	}
	return e, true
}

// finishEntries sorts one direction's entries, rejects duplicate rule numbers, adds missing '*' entries and
// computes ShadowedBy.
func (l *loader) finishEntries(file, naclID string, egress bool, es []NACLEntry) []NACLEntry {
	sort.SliceStable(es, func(i, j int) bool { return es[i].RuleNumber < es[j].RuleNumber })
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.RuleNumber == es[i-1].RuleNumber {
			l.fatal(file, naclID, "two %s entries numbered %d: evaluation order is ambiguous; keeping the first", dirWord(egress), e.RuleNumber)
			continue
		}
		out = append(out, e)
	}
	es = out
	has4, has6 := false, false
	for _, e := range es {
		if e.RuleNumber == DefaultRuleV4 {
			has4 = true
		}
		if e.RuleNumber == DefaultRuleV6 {
			has6 = true
		}
	}
	if !has4 {
		es = append(es, defaultEntry(egress, false))
	}
	if !has6 {
		es = append(es, defaultEntry(egress, true))
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].RuleNumber < es[j].RuleNumber })
	for j := range es {
		for i := 0; i < j; i++ {
			if covers(&es[i], &es[j]) {
				es[j].ShadowedBy = es[i].RuleNumber
				break
			}
		}
		if es[j].ShadowedBy != 0 && !es[j].Default {
			l.warn(file, naclID, "%s entry %d is shadowed by entry %d, which matches every packet it matches: it never decides",
				dirWord(egress), es[j].RuleNumber, es[j].ShadowedBy)
		}
	}
	return es
}

// covers reports whether every packet b matches is also matched by a (regardless of action).
func covers(a, b *NACLEntry) bool {
	if a.Prefix.Addr().Is4() != b.Prefix.Addr().Is4() || a.Prefix.Bits() > b.Prefix.Bits() || !a.Prefix.Contains(b.Prefix.Addr()) {
		return false
	}
	if a.Proto == ProtoAll {
		return true
	}
	if a.Proto != b.Proto {
		return false
	}
	switch {
	case portsChecked(a.Proto):
		return a.PortFrom <= b.PortFrom && b.PortTo <= a.PortTo
	case icmpChecked(a.Proto):
		return (a.ICMPType == -1 || a.ICMPType == b.ICMPType) && (a.ICMPCode == -1 || a.ICMPCode == b.ICMPCode)
	}
	return true
}

func (l *loader) buildSubnets() {
	for _, s := range l.subnets {
		v := s.v
		sn := &Subnet{ID: v.SubnetId, VpcID: v.VpcId, AZ: v.AvailabilityZone, OwnerID: v.OwnerId}
		if v.CidrBlock != "" {
			l.subnetCIDR(s.file, sn, "CidrBlock", v.CidrBlock, true)
		}
		for _, a := range v.Ipv6CidrBlockAssociationSet {
			if a.Ipv6CidrBlockState != nil {
				switch a.Ipv6CidrBlockState.State {
				case "disassociating", "disassociated", "failing", "failed":
					continue
				}
			}
			l.subnetCIDR(s.file, sn, "Ipv6CidrBlock", a.Ipv6CidrBlock, false)
		}
		if len(sn.CIDRs) == 0 {
			l.warn(s.file, sn.ID, "subnet has no usable CIDR: no address maps to it")
		}
		l.m.Subnets[sn.ID] = sn
		if vp := l.vpc(sn.VpcID); vp != nil {
			vp.SubnetIDs = append(vp.SubnetIDs, sn.ID)
		} else {
			l.warn(s.file, sn.ID, "subnet without VpcId: it cannot use a VPC default NACL")
		}
	}

	// Explicit associations, in input order (files by name) so that conflicts are reported deterministically.
	assocs := make(map[string]*NACL)
	for _, s := range l.nacls {
		n := l.m.NACLs[s.v.NetworkAclId]
		for _, a := range s.v.Associations {
			sn := l.m.Subnets[a.SubnetId]
			if sn == nil {
				l.warn(s.file, n.ID, "association to subnet %q, which is not loaded: association ignored", a.SubnetId)
				continue
			}
			if prev := assocs[sn.ID]; prev != nil && prev != n {
				l.fatal(s.file, sn.ID, "subnet is associated with two NACLs (%s and %s): a subnet has exactly one; keeping %s",
					prev.ID, n.ID, prev.ID)
				continue
			}
			assocs[sn.ID] = n
		}
	}
	for _, id := range slices.Sorted(maps.Keys(l.m.Subnets)) {
		sn := l.m.Subnets[id]
		if n := assocs[id]; n != nil {
			sn.NACL, sn.NACLExplicit = n, true
		} else if vp := l.m.VPCs[sn.VpcID]; vp != nil && vp.DefaultNACL != nil {
			sn.NACL = vp.DefaultNACL
		} else {
			l.fatal(l.fileOf[id], id, "no NACL association and no default NACL loaded for VPC %q: the subnet's NACL is unknown "+
				"(load describe-network-acls for the VPC)", sn.VpcID)
			continue
		}
		sn.NACL.SubnetIDs = append(sn.NACL.SubnetIDs, id)
	}
	for _, vp := range l.m.VPCs {
		sort.Strings(vp.SubnetIDs)
	}
}

func (l *loader) subnetCIDR(file string, sn *Subnet, field, s string, want4 bool) {
	p, canonical, err := parseCIDR(s)
	if err != nil {
		l.fatal(file, sn.ID, "%s %q is not a CIDR: ignored, so its addresses map to no subnet", field, truncate(s, 60))
		return
	}
	if p.Addr().Is4() != want4 {
		l.fatal(file, sn.ID, "%s %s has the wrong address family: ignored", field, p)
		return
	}
	if !canonical {
		l.warn(file, sn.ID, "%s %s is not canonical; using %s", field, strings.TrimSpace(s), p)
	}
	sn.CIDRs = append(sn.CIDRs, p)
}

// buildGroups normalises both input forms to one rule per peer. A group with rules in the
// describe-security-group-rules form takes all its rules from that form (it carries sgr- ids); its name and
// VPC come from describe-security-groups when loaded.
func (l *loader) buildGroups() {
	fromRules := make(map[string]bool)
	for _, r := range l.rules {
		fromRules[r.v.GroupId] = r.v.GroupId != ""
	}
	for _, s := range l.groups {
		v := s.v
		g := &SecurityGroup{ID: v.GroupId, Name: v.GroupName, VpcID: v.VpcId, OwnerID: v.OwnerId, Description: v.Description}
		l.m.Groups[g.ID] = g
		l.vpc(g.VpcID)
		if fromRules[g.ID] {
			continue
		}
		for _, egress := range []bool{false, true} {
			perms := v.IpPermissions
			key := "IpPermissions"
			if egress {
				perms, key = v.IpPermissionsEgress, "IpPermissionsEgress"
			}
			for i, p := range perms {
				l.permissionRules(s.file, g, egress, fmt.Sprintf("%s[%d]", key, i), p)
			}
		}
	}
	for _, s := range l.rules {
		v := s.v
		if v.GroupId == "" {
			l.fatal(s.file, v.SecurityGroupRuleId, "rule without GroupId: skipped")
			continue
		}
		g := l.m.Groups[v.GroupId]
		if g == nil {
			g = &SecurityGroup{ID: v.GroupId, OwnerID: v.GroupOwnerId}
			l.m.Groups[g.ID] = g
			l.fileOf[g.ID] = s.file
		}
		obj := v.SecurityGroupRuleId
		if obj == "" {
			obj = g.ID
		}
		proto, from, to, err := protoPorts(string(v.IpProtocol), v.FromPort, v.ToPort)
		if err != nil {
			l.fatal(s.file, obj, "%v: rule dropped", err)
			continue
		}
		r := &SGRule{ID: v.SecurityGroupRuleId, GroupID: g.ID, Egress: v.IsEgress, Proto: proto, FromPort: from, ToPort: to,
			Description: v.Description}
		npeers := 0
		if v.CidrIpv4 != "" {
			npeers++
			r.Peer = PeerCIDR
			if !l.ruleCIDR(s.file, obj, r, "CidrIpv4", v.CidrIpv4, true) {
				continue
			}
		}
		if v.CidrIpv6 != "" {
			npeers++
			r.Peer = PeerCIDR
			if !l.ruleCIDR(s.file, obj, r, "CidrIpv6", v.CidrIpv6, false) {
				continue
			}
		}
		if v.PrefixListId != "" {
			npeers++
			r.Peer, r.PrefixListID = PeerPrefixList, v.PrefixListId
		}
		if v.ReferencedGroupInfo != nil && v.ReferencedGroupInfo.GroupId != "" {
			npeers++
			r.Peer, r.RefGroupID = PeerGroup, v.ReferencedGroupInfo.GroupId
		}
		if npeers != 1 {
			l.fatal(s.file, obj, "rule has %d peers (exactly one of CidrIpv4, CidrIpv6, PrefixListId, ReferencedGroupInfo.GroupId expected): rule dropped", npeers)
			continue
		}
		l.appendRule(s.file, g, r)
	}
}

// permissionRules expands one describe-security-groups permission into one rule per peer.
func (l *loader) permissionRules(file string, g *SecurityGroup, egress bool, path string, p permJSON) {
	proto, from, to, err := protoPorts(string(p.IpProtocol), p.FromPort, p.ToPort)
	if err != nil {
		l.fatal(file, g.ID, "%s: %v: permission dropped", path, err)
		return
	}
	mk := func(desc string) *SGRule {
		return &SGRule{GroupID: g.ID, Egress: egress, Proto: proto, FromPort: from, ToPort: to, Description: desc}
	}
	obj := g.ID + " " + path
	for _, x := range p.IpRanges {
		r := mk(x.Description)
		r.Peer = PeerCIDR
		if l.ruleCIDR(file, obj, r, "CidrIp", x.CidrIp, true) {
			l.appendRule(file, g, r)
		}
	}
	for _, x := range p.Ipv6Ranges {
		r := mk(x.Description)
		r.Peer = PeerCIDR
		if l.ruleCIDR(file, obj, r, "CidrIpv6", x.CidrIpv6, false) {
			l.appendRule(file, g, r)
		}
	}
	for _, x := range p.PrefixListIds {
		if x.PrefixListId == "" {
			l.fatal(file, g.ID, "%s: PrefixListIds entry without PrefixListId: skipped", path)
			continue
		}
		r := mk(x.Description)
		r.Peer, r.PrefixListID = PeerPrefixList, x.PrefixListId
		l.appendRule(file, g, r)
	}
	for _, x := range p.UserIdGroupPairs {
		if x.GroupId == "" {
			l.fatal(file, g.ID, "%s: UserIdGroupPairs entry without GroupId (group %q): skipped", path, x.GroupName)
			continue
		}
		r := mk(x.Description)
		r.Peer, r.RefGroupID = PeerGroup, x.GroupId
		l.appendRule(file, g, r)
	}
}

// ruleCIDR parses a rule's CIDR peer into r.Prefix; false (with a fatal finding) drops the rule.
func (l *loader) ruleCIDR(file, obj string, r *SGRule, field, s string, want4 bool) bool {
	p, canonical, err := parseCIDR(s)
	if err != nil {
		l.fatal(file, obj, "%s %q is not a CIDR: rule dropped", field, truncate(s, 60))
		return false
	}
	if p.Addr().Is4() != want4 {
		l.fatal(file, obj, "%s %s has the wrong address family: rule dropped", field, p)
		return false
	}
	if !canonical {
		l.warn(file, obj, "%s %s is not canonical; using %s", field, strings.TrimSpace(s), p)
	}
	r.Prefix = p
	return true
}

func (l *loader) appendRule(file string, g *SecurityGroup, r *SGRule) {
	list := &g.Ingress
	word := "ingress"
	if r.Egress {
		list, word = &g.Egress, "egress"
	}
	if r.ID == "" {
		r.ID = fmt.Sprintf("%s/%s/%d", g.ID, word, len(*list))
	}
	r.Display = display(r)
	l.fileOf[r.ID] = file
	*list = append(*list, r)
}

// protoPorts normalises a security-group rule's protocol and ports: TCP/UDP ports default to 0-65535 and
// -1 means all; ICMP type/code default to -1; other protocols ignore ports (-1 -1).
func protoPorts(protoStr string, fromP, toP *int64) (proto int16, from, to int32, err error) {
	proto, err = parseProto(protoStr)
	if err != nil {
		return 0, 0, 0, err
	}
	get := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	f, t := get(fromP), get(toP)
	switch {
	case portsChecked(proto):
		if f == -1 && t == -1 {
			return proto, 0, 65535, nil
		}
		if f < 0 || f > 65535 || t < 0 || t > 65535 {
			return 0, 0, 0, fmt.Errorf("%s port range %d-%d outside 0-65535", protoName(proto), f, t)
		}
		if f > t {
			return 0, 0, 0, fmt.Errorf("%s port range FromPort %d > ToPort %d matches no port", protoName(proto), f, t)
		}
		return proto, int32(f), int32(t), nil
	case icmpChecked(proto):
		if f < -1 || f > 255 || t < -1 || t > 255 {
			return 0, 0, 0, fmt.Errorf("%s type/code %d/%d outside -1..255", protoName(proto), f, t)
		}
		return proto, int32(f), int32(t), nil
	}
	return proto, -1, -1, nil
}

// display renders a rule: "tcp 22 from 10.0.0.0/8", "all to sg-abc", "icmp 8/-1 from pl-123".
func display(r *SGRule) string {
	var b strings.Builder
	b.WriteString(protoName(r.Proto))
	switch {
	case portsChecked(r.Proto):
		switch {
		case r.FromPort == -1 || (r.FromPort == 0 && r.ToPort == 65535):
			b.WriteString(" all")
		case r.FromPort == r.ToPort:
			fmt.Fprintf(&b, " %d", r.FromPort)
		default:
			fmt.Fprintf(&b, " %d-%d", r.FromPort, r.ToPort)
		}
	case icmpChecked(r.Proto):
		if r.FromPort == -1 && r.ToPort == -1 {
			b.WriteString(" all")
		} else {
			fmt.Fprintf(&b, " %d/%d", r.FromPort, r.ToPort)
		}
	}
	if r.Egress {
		b.WriteString(" to ")
	} else {
		b.WriteString(" from ")
	}
	switch r.Peer {
	case PeerCIDR:
		b.WriteString(r.Prefix.String())
	case PeerPrefixList:
		b.WriteString(r.PrefixListID)
	case PeerGroup:
		b.WriteString(r.RefGroupID)
	}
	return b.String()
}

func (l *loader) buildENIs() {
	for _, s := range l.enis {
		v := s.v
		e := &ENI{ID: v.NetworkInterfaceId, SubnetID: v.SubnetId, VpcID: v.VpcId, Type: v.InterfaceType, Description: v.Description}
		if v.Attachment != nil {
			e.InstanceID = v.Attachment.InstanceId
		}
		addr := func(field, text string, want4 bool) (netip.Addr, bool) {
			a, err := netip.ParseAddr(strings.TrimSpace(text))
			if err != nil || a.Zone() != "" || a.Is4() != want4 {
				family := "IPv6"
				if want4 {
					family = "IPv4"
				}
				l.fatal(s.file, e.ID, "%s %q is not an %s address: ignored, so flows on it are not attributed to the ENI",
					field, truncate(text, 60), family)
				return netip.Addr{}, false
			}
			return a, true
		}
		var v4 []netip.Addr
		var primary4 netip.Addr
		if v.PrivateIpAddress != "" {
			if a, ok := addr("PrivateIpAddress", v.PrivateIpAddress, true); ok {
				primary4 = a
			}
		}
		for _, p := range v.PrivateIpAddresses {
			a, ok := addr("PrivateIpAddresses.PrivateIpAddress", p.PrivateIpAddress, true)
			if !ok {
				continue
			}
			if p.Primary && !primary4.IsValid() {
				primary4 = a
			}
			v4 = append(v4, a)
			if p.Association != nil && p.Association.PublicIp != "" {
				if pub, ok := addr("Association.PublicIp", p.Association.PublicIp, true); ok {
					e.PublicIPs = appendUnique(e.PublicIPs, pub)
				}
			}
		}
		if v.Association != nil && v.Association.PublicIp != "" {
			if pub, ok := addr("Association.PublicIp", v.Association.PublicIp, true); ok {
				e.PublicIPs = appendUnique(e.PublicIPs, pub)
			}
		}
		var v6 []netip.Addr
		var primary6 netip.Addr
		for _, p := range v.Ipv6Addresses {
			a, ok := addr("Ipv6Addresses.Ipv6Address", p.Ipv6Address, false)
			if !ok {
				continue
			}
			if p.IsPrimaryIpv6 && !primary6.IsValid() {
				primary6 = a
			}
			v6 = append(v6, a)
		}
		switch {
		case primary4.IsValid():
			e.Primary = primary4
		case len(v4) > 0:
			e.Primary = v4[0]
		case primary6.IsValid():
			e.Primary = primary6
		case len(v6) > 0:
			e.Primary = v6[0]
		}
		if e.Primary.IsValid() {
			e.Addrs = append(e.Addrs, e.Primary)
		}
		for _, a := range append(v4, v6...) {
			e.Addrs = appendUnique(e.Addrs, a)
		}
		if len(e.Addrs) == 0 {
			l.warn(s.file, e.ID, "ENI has no private address: no flow can be attributed to it")
		}
		for _, g := range v.Groups {
			if g.GroupId != "" && !slices.Contains(e.GroupIDs, g.GroupId) {
				e.GroupIDs = append(e.GroupIDs, g.GroupId)
			}
		}
		if ct := v.ConnectionTrackingConfiguration; ct != nil {
			e.Timeouts.TCPEstablished = l.timeout(s.file, e.ID, "TcpEstablishedTimeout", ct.TcpEstablishedTimeout, 60, 432000)
			e.Timeouts.UDP = l.timeout(s.file, e.ID, "UdpTimeout", ct.UdpTimeout, 30, 60)
			e.Timeouts.UDPStream = l.timeout(s.file, e.ID, "UdpStreamTimeout", ct.UdpStreamTimeout, 60, 180)
		}
		l.m.ENIs[e.ID] = e
		if vp := l.vpc(e.VpcID); vp == nil && e.SubnetID == "" {
			l.fatal(s.file, e.ID, "ENI has neither SubnetId nor VpcId: its NACL is unknown")
			continue
		}
		sn := l.m.Subnets[e.SubnetID]
		if sn == nil {
			// Fatal: without the subnet flowlens knows neither the NACL the ENI's traffic crosses nor which
			// peers share its subnet (and skip the NACL), so every verdict on this ENI could be wrong.
			l.fatal(s.file, e.ID, "ENI is in subnet %q, which is not loaded: its NACL and subnet boundary are unknown "+
				"(load describe-subnets and describe-network-acls for VPC %q)", e.SubnetID, e.VpcID)
			continue
		}
		e.Subnet = sn
		if e.VpcID == "" {
			e.VpcID = sn.VpcID
		}
		for _, a := range e.Addrs {
			if !slices.ContainsFunc(sn.CIDRs, func(p netip.Prefix) bool { return p.Contains(a) }) {
				l.warn(s.file, e.ID, "address %s is outside subnet %s's CIDRs", a, sn.ID)
			}
		}
	}
}

func appendUnique(s []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(s, a) {
		return s
	}
	return append(s, a)
}

// timeout converts a ConnectionTrackingConfiguration field (seconds) to a Duration; out-of-range values are
// kept (AWS is the authority) with a warning.
func (l *loader) timeout(file, eniID, field string, sec *int64, lo, hi int64) time.Duration {
	if sec == nil {
		return 0
	}
	if *sec <= 0 || *sec > 1<<31 {
		l.fatal(file, eniID, "ConnectionTrackingConfiguration.%s %d is not a positive number of seconds: ignored (AWS default used)", field, *sec)
		return 0
	}
	if *sec < lo || *sec > hi {
		l.warn(file, eniID, "ConnectionTrackingConfiguration.%s %d s is outside AWS's documented range %d-%d s; used as given", field, *sec, lo, hi)
	}
	return time.Duration(*sec) * time.Second
}

// compileRules checks every ENI's groups, builds the group member sets and resolves rule peers.
func (l *loader) compileRules() {
	for _, id := range slices.Sorted(maps.Keys(l.m.ENIs)) {
		e := l.m.ENIs[id]
		for _, gid := range e.GroupIDs {
			if l.m.Groups[gid] == nil {
				// Fatal: the ENI's allowed set is the union of its groups' rules; without this group's rules
				// flowlens would report rejects for traffic AWS accepts.
				l.fatal(l.fileOf[id], id, "ENI is in security group %s, which is not loaded: its rules are unknown "+
					"(load describe-security-groups for the VPC)", gid)
				continue
			}
			l.m.members[gid] = append(l.m.members[gid], e.Addrs...)
		}
	}
	for gid, addrs := range l.m.members {
		slices.SortFunc(addrs, netip.Addr.Compare)
		addrs = slices.Compact(addrs)
		l.m.members[gid] = addrs
		var b netipx.IPSetBuilder
		for _, a := range addrs {
			b.Add(a)
		}
		l.m.memberSets[gid], _ = b.IPSet() // cannot fail: only valid addresses are added
	}
	empty, _ := (&netipx.IPSetBuilder{}).IPSet()
	plSets := make(map[string]*netipx.IPSet)
	for id, ps := range l.m.PrefixLists {
		var b netipx.IPSetBuilder
		for _, p := range ps {
			b.AddPrefix(p)
		}
		plSets[id], _ = b.IPSet()
	}
	for _, gid := range slices.Sorted(maps.Keys(l.m.Groups)) {
		g := l.m.Groups[gid]
		for _, r := range append(slices.Clip(g.Ingress), g.Egress...) {
			switch r.Peer {
			case PeerGroup:
				if l.m.Groups[r.RefGroupID] == nil {
					l.warn(l.fileOf[r.ID], r.ID, "group %s rule %q references group %s, which is not loaded (deleted, or in another "+
						"VPC/account): the rule matches nothing", g.ID, r.Display, r.RefGroupID)
					continue
				}
				r.set = l.m.memberSets[r.RefGroupID]
				if r.set == nil {
					r.set = empty // a group with no member ENIs loaded matches nothing
				}
			case PeerPrefixList:
				set, ok := plSets[r.PrefixListID]
				if !ok {
					l.warn(l.fileOf[r.ID], r.ID, "group %s rule %q references prefix list %s, whose entries are not loaded "+
						"(get-managed-prefix-list-entries): the rule matches nothing", g.ID, r.Display, r.PrefixListID)
					continue
				}
				r.set = set
			}
		}
	}
	for _, e := range l.m.ENIs {
		for _, gid := range e.GroupIDs {
			if g := l.m.Groups[gid]; g != nil {
				e.Ingress = append(e.Ingress, g.Ingress...)
				e.Egress = append(e.Egress, g.Egress...)
			}
		}
	}
}

// buildIndexes builds the address -> ENI and CIDR -> subnet indexes. Both are global across VPCs, so the
// same address or CIDR in two places is fatal: flows could not be attributed.
func (l *loader) buildIndexes() {
	for _, id := range slices.Sorted(maps.Keys(l.m.ENIs)) {
		e := l.m.ENIs[id]
		for _, a := range e.Addrs {
			if prev := l.m.byAddr[a]; prev != nil {
				l.fatal(l.fileOf[id], id, "address %s is also claimed by %s (VPC %s): flows on it cannot be attributed to one ENI; "+
					"the address index keeps %s (load overlapping VPCs as separate topologies)", a, prev.ID, prev.VpcID, prev.ID)
				continue
			}
			l.m.byAddr[a] = e
		}
	}
	bits4, bits6 := map[int]bool{}, map[int]bool{}
	for _, id := range slices.Sorted(maps.Keys(l.m.Subnets)) {
		sn := l.m.Subnets[id]
		for _, p := range sn.CIDRs {
			if prev := l.m.subnetByCIDR[p]; prev != nil {
				l.fatal(l.fileOf[id], id, "CIDR %s is also subnet %s's (VPC %s): addresses in it cannot be mapped to one subnet; "+
					"keeping %s (load overlapping VPCs as separate topologies)", p, prev.ID, prev.VpcID, prev.ID)
				continue
			}
			l.m.subnetByCIDR[p] = sn
			if p.Addr().Is4() {
				bits4[p.Bits()] = true
			} else {
				bits6[p.Bits()] = true
			}
		}
	}
	desc := func(m map[int]bool) []int {
		var s []int
		for b := range m {
			s = append(s, b)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(s)))
		return s
	}
	l.m.subnetBits4, l.m.subnetBits6 = desc(bits4), desc(bits6)
}
