// Package tfplan turns the planned state of a Terraform plan (`terraform show -json PLANFILE`, read with
// github.com/hashicorp/terraform-json) into a candidate vpc.Model: the baseline model with the plan's security
// group, security group rule, network ACL and network ACL rule changes applied, every candidate rule and entry
// tied to the Terraform resource address that produced it.
package tfplan

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// EntryKey identifies a NACL entry of a candidate model.
type EntryKey struct {
	NACL       string
	Egress     bool
	RuleNumber int
}

// Unresolved is a planned change the candidate could not represent: the candidate leaves it out (never guessed).
type Unresolved struct {
	Address, Message string
}

func (u Unresolved) String() string { return u.Address + ": " + u.Message }

// Result is a candidate model built from a plan.
type Result struct {
	Model *vpc.Model
	// Rules maps each security group rule the plan created or rewrote to its resource address; Entries
	// likewise for NACL entries. Rules and entries the plan did not touch are not in the maps.
	Rules   map[*vpc.SGRule]string
	Entries map[EntryKey]string
	// Created maps the id given to each group or NACL the plan creates (its address, as "tf:ADDRESS",
	// when the id is unknown before apply) to its address.
	Created map[string]string
	// Removed lists, sorted, the ids of the baseline's groups and NACLs the plan deletes.
	Removed []string
	// Ignored lists, sorted, the addresses of planned resources of other types.
	Ignored    []string
	Unresolved []Unresolved
	// deleted maps the groups and NACLs that lost a rule or entry to the address of the deleted resource.
	deleted map[string]string
}

// ReadFile reads a plan JSON file.
func ReadFile(path string) (*tfjson.Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes `terraform show -json` output.
func Parse(b []byte) (*tfjson.Plan, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("terraform plan: %w", err)
	}
	return &p, nil
}

var supported = map[string]int{ // processing order
	"aws_security_group":                  0,
	"aws_network_acl":                     0,
	"aws_security_group_rule":             1,
	"aws_vpc_security_group_ingress_rule": 1,
	"aws_vpc_security_group_egress_rule":  1,
	"aws_network_acl_rule":                1,
}

type builder struct {
	m     *vpc.Model
	r     *Result
	plan  *tfjson.Plan
	idOf  map[string]string // resource address -> id (known or synthesized) of created groups and NACLs
	exprs map[string]map[string]*tfjson.Expression
}

// Candidate applies plan's changes to a clone of base and compiles it. The error is Compile's (fatal
// findings); the Result is returned with it.
func Candidate(base *vpc.Model, plan *tfjson.Plan) (*Result, error) {
	b := &builder{
		m:     base.Clone(),
		plan:  plan,
		idOf:  map[string]string{},
		exprs: map[string]map[string]*tfjson.Expression{},
		r:     &Result{Rules: map[*vpc.SGRule]string{}, Entries: map[EntryKey]string{}, Created: map[string]string{}, deleted: map[string]string{}},
	}
	b.r.Model = b.m
	if plan.Config != nil && plan.Config.RootModule != nil {
		for _, cr := range plan.Config.RootModule.Resources {
			b.exprs[cr.Address] = cr.Expressions
		}
	}
	var changes []*tfjson.ResourceChange
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		if _, ok := supported[rc.Type]; !ok {
			b.r.Ignored = append(b.r.Ignored, rc.Address)
			continue
		}
		a := rc.Change.Actions
		if a.NoOp() || a.Read() || len(a) == 0 {
			continue
		}
		changes = append(changes, rc)
	}
	sort.Strings(b.r.Ignored)
	b.r.Ignored = slices.Compact(b.r.Ignored)
	sort.SliceStable(changes, func(i, j int) bool { return supported[changes[i].Type] < supported[changes[j].Type] })
	// Ids of created groups and NACLs first, so rules may reference them whatever their order.
	for _, rc := range changes {
		if (rc.Type == "aws_security_group" || rc.Type == "aws_network_acl") && rc.Change.Actions.Create() {
			id := str(obj(rc.Change.After), "id")
			if id == "" {
				id = "tf:" + rc.Address
			}
			b.idOf[rc.Address] = id
			b.r.Created[id] = rc.Address
		}
	}
	for _, rc := range changes {
		b.apply(rc)
	}
	err := b.m.Compile()
	sort.Strings(b.r.Removed)
	b.r.Removed = slices.Compact(b.r.Removed)
	return b.r, err
}

// Addresses maps each security group and NACL id the plan changed to the resource address of its first
// (by address) created, rewritten or deleted rule or entry, or of the group or NACL itself: the audit ties findings to groups and
// NACLs (a per-rule address is in Rules and Entries).
func (r *Result) Addresses() map[string]string {
	out := map[string]string{}
	set := func(id, addr string) {
		if cur, ok := out[id]; !ok || addr < cur {
			out[id] = addr
		}
	}
	for rule, addr := range r.Rules {
		set(rule.GroupID, addr)
	}
	for k, addr := range r.Entries {
		set(k.NACL, addr)
	}
	for id, addr := range r.deleted {
		if _, ok := r.Model.Groups[id]; ok || r.Model.NACLs[id] != nil {
			set(id, addr)
		}
	}
	for id, addr := range r.Created {
		out[id] = addr
	}
	return out
}

func (b *builder) unresolved(addr, format string, args ...any) {
	b.r.Unresolved = append(b.r.Unresolved, Unresolved{addr, fmt.Sprintf(format, args...)})
}

func (b *builder) apply(rc *tfjson.ResourceChange) {
	before, after := obj(rc.Change.Before), obj(rc.Change.After)
	unknown := obj(rc.Change.AfterUnknown)
	a := rc.Change.Actions
	del := a.Delete() || a.Replace()
	create := a.Create() || a.Replace()
	switch rc.Type {
	case "aws_security_group":
		switch {
		case a.Update():
			b.setGroup(rc.Address, str(before, "id"), after, unknown, false)
		case a.Replace(): // a new id: the old group goes, the new one is named by address
			delete(b.m.Groups, str(before, "id"))
			b.r.Removed = append(b.r.Removed, str(before, "id"))
			b.setGroup(rc.Address, b.idOf[rc.Address], after, unknown, true)
		case del:
			delete(b.m.Groups, str(before, "id"))
			b.r.Removed = append(b.r.Removed, str(before, "id"))
		case create:
			b.setGroup(rc.Address, b.idOf[rc.Address], after, unknown, true)
		}
	case "aws_network_acl":
		switch {
		case a.Update():
			b.setNACL(rc.Address, str(before, "id"), after, unknown, false)
		case del:
			b.removeNACL(str(before, "id"))
			if create {
				b.setNACL(rc.Address, b.idOf[rc.Address], after, unknown, true)
			}
		case create:
			b.setNACL(rc.Address, b.idOf[rc.Address], after, unknown, true)
		}
	case "aws_network_acl_rule":
		if del || a.Update() {
			b.removeEntry(rc.Address, before)
		}
		if create || a.Update() {
			b.addEntry(rc, after, unknown)
		}
	default: // security group rules
		if del || a.Update() {
			b.removeRules(rc, before)
		}
		if create || a.Update() {
			b.addRules(rc, after, unknown)
		}
	}
}

// ref resolves attribute attr of the planned resource: its value when known, else the configuration's
// reference to a created group or NACL of this plan.
func (b *builder) ref(rc *tfjson.ResourceChange, after, unknown map[string]any, attr string) (string, bool) {
	if v := str(after, attr); v != "" {
		return v, true
	}
	if unknown[attr] != true {
		return "", true
	}
	ex := b.exprs[configAddress(rc)]
	if e := ex[attr]; e != nil {
		for _, r := range e.References { // "aws_security_group.app.id" (Terraform also lists "aws_security_group.app")
			a, ok := strings.CutSuffix(r, ".id")
			if id, created := b.idOf[a]; ok && created {
				return id, true
			}
		}
		b.unresolved(rc.Address, "%s is unknown until apply and its references %v name no group or network ACL this plan creates", attr, e.References)
		return "", false
	}
	b.unresolved(rc.Address, "%s is unknown until apply and the plan's configuration has no expression for it", attr)
	return "", false
}

// configAddress is the configuration address of a resource instance (no instance key); "" for resources
// in modules (not resolved yet).
func configAddress(rc *tfjson.ResourceChange) string {
	if rc.ModuleAddress != "" {
		return ""
	}
	return rc.Type + "." + rc.Name
}

// Security groups.

func (b *builder) setGroup(addr, id string, after, unknown map[string]any, created bool) {
	g := b.m.Groups[id]
	if g == nil {
		if !created {
			b.unresolved(addr, "updates security group %s, which the topology does not have", id)
			return
		}
		g = &vpc.SecurityGroup{ID: id, Name: str(after, "name"), VpcID: str(after, "vpc_id"), Description: str(after, "description")}
		b.m.Groups[id] = g
	}
	for _, dir := range []string{"ingress", "egress"} {
		if unknown[dir] == true {
			// A created group whose configuration has no inline blocks: Terraform creates it without rules
			// (it removes AWS's default egress rule); separate rule resources add theirs.
			if !created {
				b.unresolved(addr, "%s rules are unknown until apply", dir)
				continue
			}
		}
		blocks, ok := after[dir].([]any)
		if !ok && !created {
			continue
		}
		var rules []*vpc.SGRule
		for i, blk := range blocks {
			m, _ := blk.(map[string]any)
			var u map[string]any
			if us, ok := unknown[dir].([]any); ok && i < len(us) {
				u, _ = us[i].(map[string]any)
			}
			if anyTrue(u) {
				b.unresolved(addr, "an %s block has values unknown until apply (references in inline blocks are not resolved yet)", dir)
				continue
			}
			rs, err := sgRules(id, dir == "egress", m, str(m, "protocol"), num(m, "from_port"), num(m, "to_port"),
				strs(m, "cidr_blocks"), strs(m, "ipv6_cidr_blocks"), strs(m, "prefix_list_ids"), strs(m, "security_groups"), m["self"] == true)
			if err != nil {
				b.unresolved(addr, "%s block: %v", dir, err)
				continue
			}
			for _, r := range rs {
				b.r.Rules[r] = addr
			}
			rules = append(rules, rs...)
		}
		if dir == "egress" {
			g.Egress = rules
		} else {
			g.Ingress = rules
		}
	}
}

func (b *builder) addRules(rc *tfjson.ResourceChange, after, unknown map[string]any) {
	gid, ok := b.ref(rc, after, unknown, "security_group_id")
	if !ok {
		return
	}
	g := b.m.Groups[gid]
	if g == nil {
		b.unresolved(rc.Address, "security group %s is neither in the topology nor created by the plan", gid)
		return
	}
	var rs []*vpc.SGRule
	var err error
	if rc.Type == "aws_security_group_rule" {
		var src string
		if str(after, "source_security_group_id") != "" || unknown["source_security_group_id"] == true {
			if src, ok = b.ref(rc, after, unknown, "source_security_group_id"); !ok {
				return
			}
		}
		var groups []string
		if src != "" {
			groups = []string{src}
		}
		rs, err = sgRules(gid, str(after, "type") == "egress", after, str(after, "protocol"), num(after, "from_port"), num(after, "to_port"),
			strs(after, "cidr_blocks"), strs(after, "ipv6_cidr_blocks"), strs(after, "prefix_list_ids"), groups, after["self"] == true)
	} else {
		var ref string
		if str(after, "referenced_security_group_id") != "" || unknown["referenced_security_group_id"] == true {
			if ref, ok = b.ref(rc, after, unknown, "referenced_security_group_id"); !ok {
				return
			}
		}
		rs, err = sgRules(gid, rc.Type == "aws_vpc_security_group_egress_rule", after, str(after, "ip_protocol"), num(after, "from_port"), num(after, "to_port"),
			nonEmpty(str(after, "cidr_ipv4")), nonEmpty(str(after, "cidr_ipv6")), nonEmpty(str(after, "prefix_list_id")), nonEmpty(ref), false)
		if id := str(after, "security_group_rule_id"); id != "" && len(rs) == 1 {
			rs[0].ID = id
		}
	}
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return
	}
	for _, r := range rs {
		b.r.Rules[r] = rc.Address
		if r.Egress {
			g.Egress = append(g.Egress, r)
		} else {
			g.Ingress = append(g.Ingress, r)
		}
	}
}

// removeRules removes the rules a deleted rule resource stood for: by sgr- id when the topology has it, else
// by content (group, direction, protocol, ports, peer).
func (b *builder) removeRules(rc *tfjson.ResourceChange, before map[string]any) {
	gid := str(before, "security_group_id")
	g := b.m.Groups[gid]
	if g == nil {
		return // the group goes too, or the topology does not have it: nothing to remove
	}
	var rs []*vpc.SGRule
	var err error
	if rc.Type == "aws_security_group_rule" {
		rs, err = sgRules(gid, str(before, "type") == "egress", before, str(before, "protocol"), num(before, "from_port"), num(before, "to_port"),
			strs(before, "cidr_blocks"), strs(before, "ipv6_cidr_blocks"), strs(before, "prefix_list_ids"), nonEmpty(str(before, "source_security_group_id")), before["self"] == true)
	} else {
		rs, err = sgRules(gid, rc.Type == "aws_vpc_security_group_egress_rule", before, str(before, "ip_protocol"), num(before, "from_port"), num(before, "to_port"),
			nonEmpty(str(before, "cidr_ipv4")), nonEmpty(str(before, "cidr_ipv6")), nonEmpty(str(before, "prefix_list_id")), nonEmpty(str(before, "referenced_security_group_id")), false)
	}
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return
	}
	sgrID := str(before, "security_group_rule_id")
	for _, want := range rs {
		list := &g.Ingress
		if want.Egress {
			list = &g.Egress
		}
		i := slices.IndexFunc(*list, func(r *vpc.SGRule) bool {
			return (sgrID != "" && r.ID == sgrID) || sameRule(r, want)
		})
		if i < 0 {
			b.unresolved(rc.Address, "deletes %s %q of %s, which the topology does not have", dirName(want.Egress), want.Display, gid)
			continue
		}
		*list = slices.Delete(slices.Clone(*list), i, i+1)
		b.r.deleted[gid] = rc.Address
	}
}

func sameRule(a, b *vpc.SGRule) bool {
	return a.Proto == b.Proto && a.FromPort == b.FromPort && a.ToPort == b.ToPort && a.Peer == b.Peer &&
		a.Prefix == b.Prefix && a.PrefixListID == b.PrefixListID && a.RefGroupID == b.RefGroupID
}

func dirName(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// sgRules expands one Terraform rule (one protocol and port range, several peers) into one SGRule per peer.
func sgRules(gid string, egress bool, m map[string]any, proto string, from, to *float64, v4, v6, pls, groups []string, self bool) ([]*vpc.SGRule, error) {
	p, err := protocol(proto)
	if err != nil {
		return nil, err
	}
	fp, tp := int32(-1), int32(-1)
	switch p {
	case vpc.ProtoTCP, vpc.ProtoUDP:
		fp, tp = 0, 65535
		if from != nil && to != nil && !(*from == -1 && *to == -1) {
			fp, tp = int32(*from), int32(*to)
		}
	case vpc.ProtoICMP, vpc.ProtoICMPv6:
		if from != nil {
			fp = int32(*from)
		}
		if to != nil {
			tp = int32(*to)
		}
	}
	desc := str(m, "description")
	base := vpc.SGRule{GroupID: gid, Egress: egress, Proto: p, FromPort: fp, ToPort: tp, Description: desc}
	var out []*vpc.SGRule
	for _, c := range append(slices.Clone(v4), v6...) {
		pf, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("CIDR %q: %v", c, err)
		}
		r := base
		r.Peer, r.Prefix = vpc.PeerCIDR, pf.Masked()
		out = append(out, &r)
	}
	for _, pl := range pls {
		r := base
		r.Peer, r.PrefixListID = vpc.PeerPrefixList, pl
		out = append(out, &r)
	}
	if self {
		groups = append(slices.Clone(groups), gid)
	}
	for _, sg := range groups {
		if i := strings.LastIndex(sg, "/"); i >= 0 && !strings.HasPrefix(sg, "tf:") { // "OWNER/sg-..."
			sg = sg[i+1:]
		}
		r := base
		r.Peer, r.RefGroupID = vpc.PeerGroup, sg
		out = append(out, &r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("rule has no peer (CIDR, prefix list or group)")
	}
	return out, nil
}

func protocol(s string) (int16, error) {
	switch strings.ToLower(s) {
	case "-1", "all":
		return vpc.ProtoAll, nil
	case "tcp":
		return vpc.ProtoTCP, nil
	case "udp":
		return vpc.ProtoUDP, nil
	case "icmp":
		return vpc.ProtoICMP, nil
	case "icmpv6", "58":
		return vpc.ProtoICMPv6, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 || n > 255 {
		return 0, fmt.Errorf("protocol %q", s)
	}
	return int16(n), nil
}

// Network ACLs.

func (b *builder) removeNACL(id string) {
	b.r.Removed = append(b.r.Removed, id)
	delete(b.m.NACLs, id)
	for _, sn := range b.m.Subnets {
		if sn != nil && sn.NACL != nil && sn.NACL.ID == id {
			sn.NACL, sn.NACLExplicit = nil, false // the VPC's default NACL again
		}
	}
}

func (b *builder) setNACL(addr, id string, after, unknown map[string]any, created bool) {
	n := b.m.NACLs[id]
	if n == nil {
		if !created {
			b.unresolved(addr, "updates network ACL %s, which the topology does not have", id)
			return
		}
		n = &vpc.NACL{ID: id, VpcID: str(after, "vpc_id")}
		b.m.NACLs[id] = n
	}
	for _, dir := range []string{"ingress", "egress"} {
		if unknown[dir] == true {
			b.unresolved(addr, "%s entries are unknown until apply", dir)
			continue
		}
		blocks, ok := after[dir].([]any)
		if !ok && !created {
			continue
		}
		var entries []vpc.NACLEntry
		for _, blk := range blocks {
			m, _ := blk.(map[string]any)
			e, err := naclEntry(m, dir == "egress", "rule_no", "action")
			if err != nil {
				b.unresolved(addr, "%s entry: %v", dir, err)
				continue
			}
			entries = append(entries, e)
			b.r.Entries[EntryKey{id, e.Egress, e.RuleNumber}] = addr
		}
		if dir == "egress" {
			n.Outbound = entries
		} else {
			n.Inbound = entries
		}
	}
	if unknown["subnet_ids"] == true {
		b.unresolved(addr, "subnet_ids are unknown until apply")
	} else if ids, ok := after["subnet_ids"].([]any); ok {
		want := map[string]bool{}
		for _, s := range ids {
			if s, _ := s.(string); s != "" {
				want[s] = true
			}
		}
		for sid, sn := range b.m.Subnets {
			if sn == nil {
				continue
			}
			if want[sid] {
				sn.NACL, sn.NACLExplicit = n, true
			} else if sn.NACL == n && sn.NACLExplicit {
				sn.NACL, sn.NACLExplicit = nil, false
			}
		}
	}
}

func naclEntry(m map[string]any, egress bool, numKey, actionKey string) (vpc.NACLEntry, error) {
	e := vpc.NACLEntry{Egress: egress, ICMPType: -1, ICMPCode: -1}
	n := num(m, numKey)
	if n == nil {
		return e, fmt.Errorf("no %s", numKey)
	}
	e.RuleNumber = int(*n)
	switch strings.ToLower(str(m, actionKey)) {
	case "allow":
		e.Action = vpc.Allow
	case "deny":
		e.Action = vpc.Deny
	default:
		return e, fmt.Errorf("rule %d: action %q", e.RuleNumber, str(m, actionKey))
	}
	p, err := protocol(str(m, "protocol"))
	if err != nil {
		return e, fmt.Errorf("rule %d: %v", e.RuleNumber, err)
	}
	e.Proto = p
	c := str(m, "cidr_block")
	if c == "" {
		c = str(m, "ipv6_cidr_block")
	}
	pf, err := netip.ParsePrefix(c)
	if err != nil {
		return e, fmt.Errorf("rule %d: CIDR %q", e.RuleNumber, c)
	}
	e.Prefix = pf.Masked()
	switch p {
	case vpc.ProtoTCP, vpc.ProtoUDP:
		e.PortFrom, e.PortTo = 0, 65535
		if f, t := num(m, "from_port"), num(m, "to_port"); f != nil && t != nil && !(*f == 0 && *t == 0) {
			e.PortFrom, e.PortTo = uint16(*f), uint16(*t)
		}
	case vpc.ProtoICMP, vpc.ProtoICMPv6:
		if v := num(m, "icmp_type"); v != nil {
			e.ICMPType = int16(*v)
		}
		if v := num(m, "icmp_code"); v != nil {
			e.ICMPCode = int16(*v)
		}
	}
	return e, nil
}

func (b *builder) addEntry(rc *tfjson.ResourceChange, after, unknown map[string]any) {
	id, ok := b.ref(rc, after, unknown, "network_acl_id")
	if !ok {
		return
	}
	n := b.m.NACLs[id]
	if n == nil {
		b.unresolved(rc.Address, "network ACL %s is neither in the topology nor created by the plan", id)
		return
	}
	e, err := naclEntry(after, after["egress"] == true, "rule_number", "rule_action")
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return
	}
	if e.Egress {
		n.Outbound = append(slices.Clone(n.Outbound), e)
	} else {
		n.Inbound = append(slices.Clone(n.Inbound), e)
	}
	b.r.Entries[EntryKey{id, e.Egress, e.RuleNumber}] = rc.Address
}

func (b *builder) removeEntry(addr string, before map[string]any) {
	id := str(before, "network_acl_id")
	n := b.m.NACLs[id]
	rn := num(before, "rule_number")
	if n == nil || rn == nil {
		return
	}
	list := &n.Inbound
	if before["egress"] == true {
		list = &n.Outbound
	}
	i := slices.IndexFunc(*list, func(e vpc.NACLEntry) bool { return e.RuleNumber == int(*rn) })
	if i < 0 {
		b.unresolved(addr, "deletes entry %d of %s, which the topology does not have", int(*rn), id)
		return
	}
	*list = slices.Delete(slices.Clone(*list), i, i+1)
	delete(b.r.Entries, EntryKey{id, before["egress"] == true, int(*rn)})
	b.r.deleted[id] = addr
}

// JSON value helpers.

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func num(m map[string]any, k string) *float64 {
	switch v := m[k].(type) {
	case float64:
		return &v
	case json.Number:
		f, err := v.Float64()
		if err == nil {
			return &f
		}
	}
	return nil
}

func strs(m map[string]any, k string) []string {
	l, _ := m[k].([]any)
	var out []string
	for _, v := range l {
		if s, _ := v.(string); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func anyTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case map[string]any:
		for _, x := range v {
			if anyTrue(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if anyTrue(x) {
				return true
			}
		}
	}
	return false
}
