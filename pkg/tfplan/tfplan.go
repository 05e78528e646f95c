// Package tfplan turns the planned state of a Terraform plan (`terraform show -json PLANFILE`, read with
// github.com/hashicorp/terraform-json) into a candidate vpc.Model: the baseline model with the plan's security
// group, security group rule, network ACL and network ACL rule changes applied, every candidate rule and entry
// tied to the Terraform resource address that produced it.
package tfplan

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
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

// Network ACLs.

// JSON value helpers.
