// Package tfplan turns the planned state of a Terraform plan (`terraform show -json PLANFILE`, read with
// github.com/hashicorp/terraform-json) into a candidate vpc.Model: the baseline model with the plan's security
// group, security group rule, network ACL, NACL rule, NACL association and interface group changes applied,
// every candidate rule and entry tied to the Terraform resource address that produced it, and what the plan
// removes tied to the address that removes it (Result.Cause).
package tfplan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"

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

// Attached is a security group the plan deletes while interfaces of the topology are still in it (and the plan
// does not take them out), or while rules of other groups still reference it. AWS refuses to delete such a
// group (DependencyViolation), so the apply would fail at that resource: the candidate keeps the group, with
// its current rules, and the change is also listed in Unresolved.
type Attached struct {
	GroupID, Address string
	Interfaces       []string // eni- ids, sorted
	ReferencedBy     []string // ids of the other groups whose rules reference it, sorted
}

// Result is a candidate model built from a plan.
type Result struct {
	Model *vpc.Model
	// Rules maps each security group rule the plan created or rewrote to its resource address; Entries
	// likewise for NACL entries. Rules and entries the plan did not touch are not in the maps.
	Rules   map[*vpc.SGRule]string
	Entries map[EntryKey]string
	// RemovedRules maps the id of each baseline rule the plan deletes or rewrites away (the baseline model's
	// SGRule.ID, which is the baseline replay's sg_rule) to the address of the resource that removes it;
	// RemovedEntries likewise for the baseline's NACL entries.
	RemovedRules   map[string]string
	RemovedEntries map[EntryKey]string
	// Interfaces maps each interface of the topology whose security groups the plan changes to the address
	// of the (first, by address) resource that changes them; Subnets each subnet whose NACL changes to the
	// address of the resource that moves it.
	Interfaces map[string]string
	Subnets    map[string]string
	// Created maps the id given to each group or NACL the plan creates (its address, as "tf:ADDRESS",
	// when the id is unknown before apply) to its address.
	Created map[string]string
	// Removed lists, sorted, the ids of the baseline's groups and NACLs the plan deletes (and the candidate
	// does not have).
	Removed []string
	// StillAttached lists the deletions AWS would refuse, by group id.
	StillAttached []Attached
	// Ignored lists, sorted, the addresses of planned resources of other types, and of supported types that
	// touch nothing of the topology (an instance whose interface it does not have).
	Ignored    []string
	Unresolved []Unresolved
	// deleted maps the groups and NACLs that lost a rule or entry to the address of the deleted resource.
	deleted map[string]string
	// ruleAddr maps the candidate's rule ids (after Compile) to their addresses.
	ruleAddr map[string]string
	// addrs is Addresses(), computed once.
	addrs map[string]string
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
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			err = fmt.Errorf("%w at byte %d", err, syn.Offset)
		}
		return nil, fmt.Errorf("not a Terraform plan as `terraform show -json PLANFILE` writes it: %w", err)
	}
	return &p, nil
}

// supported are the resource types the candidate models, with their processing order: groups and NACLs
// first (their ids, and the rules they rewrite, come before rule resources), then rules and entries, then
// what moves subnets and interfaces (which may name groups and NACLs of this plan), and last the
// attachments that add one group to an interface whose whole list an instance may have just set.
var supported = map[string]int{
	"aws_security_group":                  0,
	"aws_default_security_group":          0,
	"aws_network_acl":                     0,
	"aws_default_network_acl":             0,
	"aws_security_group_rule":             1,
	"aws_vpc_security_group_ingress_rule": 1,
	"aws_vpc_security_group_egress_rule":  1,
	"aws_network_acl_rule":                1,
	"aws_network_acl_association":         2,
	"aws_instance":                        2,
	"aws_network_interface":               2,
	"aws_network_interface_sg_attachment": 3,
}

type builder struct {
	m    *vpc.Model
	r    *Result
	plan *tfjson.Plan
	// idOf maps resource addresses to the ids of the groups and NACLs the plan creates (known, or
	// synthesized "tf:ADDRESS") or adopts (aws_default_security_group, aws_default_network_acl).
	idOf  map[string]string
	exprs map[string]map[string]*tfjson.Expression
	// gone holds the groups the plan deletes, by id, with the address that deletes them: restored when
	// AWS would refuse the deletion (Attached).
	gone map[string]goneGroup
}

type goneGroup struct {
	g    *vpc.SecurityGroup
	addr string
}

// Candidate applies plan's changes to a clone of base and compiles it. The error is Compile's (fatal
// findings); the Result is returned with it.
func Candidate(base *vpc.Model, plan *tfjson.Plan) (*Result, error) {
	b := &builder{
		m:     base.Clone(),
		plan:  plan,
		idOf:  map[string]string{},
		exprs: map[string]map[string]*tfjson.Expression{},
		gone:  map[string]goneGroup{},
		r: &Result{Rules: map[*vpc.SGRule]string{}, Entries: map[EntryKey]string{}, Created: map[string]string{},
			RemovedRules: map[string]string{}, RemovedEntries: map[EntryKey]string{}, Interfaces: map[string]string{},
			Subnets: map[string]string{}, deleted: map[string]string{}, ruleAddr: map[string]string{}},
	}
	b.r.Model = b.m
	if plan.Config != nil && plan.Config.RootModule != nil {
		configExpressions(plan.Config.RootModule, "", b.exprs)
	}
	var changes []*tfjson.ResourceChange
	for _, rc := range plan.ResourceChanges {
		// A deposed object (left by an earlier failed create_before_destroy) is deleted by its before.id like
		// any other object.
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
	sort.SliceStable(changes, func(i, j int) bool { return supported[changes[i].Type] < supported[changes[j].Type] })
	// Ids of created groups and NACLs first, so rules may reference them whatever their order.
	for _, rc := range changes {
		if rc.Type != "aws_security_group" && rc.Type != "aws_network_acl" {
			continue
		}
		if a := rc.Change.Actions; a.Create() || a.Replace() {
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
	b.keepAttached()
	err := b.m.Compile()
	for rule, addr := range b.r.Rules {
		b.r.ruleAddr[rule.ID] = addr
	}
	sort.Strings(b.r.Removed)
	b.r.Removed = slices.Compact(b.r.Removed)
	sort.Strings(b.r.Ignored)
	b.r.Ignored = slices.Compact(b.r.Ignored)
	b.r.addrs = b.r.Addresses()
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

func (r *Result) addresses() map[string]string { return r.addrs }

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
			b.setGroup(rc, str(before, "id"), after, unknown, false, false)
		case del:
			b.removeGroup(rc.Address, str(before, "id"))
			if create { // a new id: the new group is named by address
				b.setGroup(rc, b.idOf[rc.Address], after, unknown, true, true)
			}
		case create:
			b.setGroup(rc, b.idOf[rc.Address], after, unknown, true, true)
		}
	case "aws_default_security_group":
		b.defaultGroup(rc, before, after, unknown)
	case "aws_network_acl":
		switch {
		case a.Update():
			b.setNACL(rc.Address, str(before, "id"), after, unknown, false, false)
		case del:
			b.removeNACL(rc.Address, str(before, "id"))
			if create {
				b.setNACL(rc.Address, b.idOf[rc.Address], after, unknown, true, true)
			}
		case create:
			b.setNACL(rc.Address, b.idOf[rc.Address], after, unknown, true, true)
		}
	case "aws_default_network_acl":
		b.defaultNACL(rc, before, after, unknown)
	case "aws_network_acl_rule":
		if del || a.Update() {
			b.removeEntry(rc.Address, before)
		}
		if create || a.Update() {
			b.addEntry(rc, after, unknown)
		}
	case "aws_network_acl_association":
		b.associate(rc, before, after, unknown)
	case "aws_instance", "aws_network_interface":
		b.interfaceGroups(rc, before, after, unknown)
	case "aws_network_interface_sg_attachment":
		b.attachGroup(rc, before, after, unknown)
	default: // security group rules
		if del || a.Update() {
			b.removeRules(rc, before)
		}
		if create || a.Update() {
			b.addRules(rc, after, unknown)
		}
	}
}
