package tfplan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// References between planned resources.
//
// A resource the plan creates has no id until apply, so an attribute naming it (security_group_id =
// aws_security_group.app.id) is unknown in the plan's values; the plan's configuration keeps the expression's
// references. They are relative to the module the expression is in (aws_security_group.app.id inside
// module.net is module.net.aws_security_group.app), and name the resource, not an instance: an instance of a
// count/for_each resource that references a resource with instances means the instance with the same key
// (module.net.aws_vpc_security_group_ingress_rule.app["https"] -> module.net.aws_security_group.app["https"]).
// Anything else (a module output, a variable, each.value, a data source, another attribute than id) is not
// followed: the change is reported as unresolved.

// configExpressions indexes the expressions of every resource of mod and its module calls by configuration
// address: the module path without instance keys ("module.net.module.sg.") and the resource's address in its
// module.
func configExpressions(mod *tfjson.ConfigModule, prefix string, out map[string]map[string]*tfjson.Expression) {
	for _, cr := range mod.Resources {
		if cr != nil {
			out[prefix+cr.Address] = cr.Expressions
		}
	}
	for name, call := range mod.ModuleCalls {
		if call != nil && call.Module != nil {
			configExpressions(call.Module, prefix+"module."+name+".", out)
		}
	}
}

// configAddress is the configuration address of a resource instance: its module path without instance keys,
// its type and name.
func configAddress(rc *tfjson.ResourceChange) string {
	if rc.ModuleAddress == "" {
		return rc.Type + "." + rc.Name
	}
	return stripKeys(rc.ModuleAddress) + "." + rc.Type + "." + rc.Name
}

// stripKeys removes the instance keys ([0], ["a"]) from an address, quoted keys holding brackets included.
func stripKeys(addr string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case quoted && c == '\\':
			i++
		case quoted:
			quoted = c != '"'
		case depth > 0 && c == '"':
			quoted = true
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// indexKey renders an instance key as Terraform writes it in addresses: [3], ["https"].
func indexKey(idx any) string {
	switch v := idx.(type) {
	case string:
		q, _ := json.Marshal(v)
		return "[" + string(q) + "]"
	case float64:
		return "[" + strconv.FormatFloat(v, 'f', -1, 64) + "]"
	case int:
		return "[" + strconv.Itoa(v) + "]"
	case json.Number:
		return "[" + v.String() + "]"
	}
	return ""
}

// refTarget resolves one configuration reference of rc to the id of a group or NACL the plan creates.
// "aws_security_group.app.id" names that resource, or the same-key instance when it has instances;
// "aws_security_group.app["k"].id" that instance. A dynamic index (aws_security_group.app[each.key].id)
// hides the attribute: Terraform lists only "aws_security_group.app" and "each.key", so a bare resource is
// taken as its same-key instance's id only when dynamic (the expression references each.key or
// count.index) and the resource has instances; the attribute resolved must hold an id, which no other
// attribute of a group or NACL is. ok false with a reason when the reference names a resource of the plan
// with instances but not one instance of it; ok false without a reason when it names nothing the plan
// creates.
func (b *builder) refTarget(rc *tfjson.ResourceChange, ref string, dynamic bool) (id string, ok bool, reason string) {
	base, isID := strings.CutSuffix(ref, ".id")
	if !isID && (!dynamic || strings.HasSuffix(base, "]") || strings.Count(base, ".") != 1) {
		return "", false, ""
	}
	abs := base
	if rc.ModuleAddress != "" {
		abs = rc.ModuleAddress + "." + base
	}
	if id, ok := b.idOf[abs]; ok && isID {
		return id, true, ""
	}
	if strings.HasSuffix(base, "]") { // an explicit instance the plan does not create
		return "", false, ""
	}
	instances := false
	for a := range b.idOf {
		if strings.HasPrefix(a, abs+"[") {
			instances = true
			break
		}
	}
	if !instances {
		return "", false, ""
	}
	if rc.Index == nil {
		return "", false, fmt.Sprintf("%s has count/for_each instances and %s is not an instance", abs, rc.Address)
	}
	if id, ok := b.idOf[abs+indexKey(rc.Index)]; ok {
		return id, true, ""
	}
	return "", false, fmt.Sprintf("%s has no instance %s", abs, indexKey(rc.Index))
}

// ref resolves attribute attr of the planned resource: its value when known, else the configuration's
// reference to a created group or NACL of this plan. ok false means unresolved (reported).
func (b *builder) ref(rc *tfjson.ResourceChange, after, unknown map[string]any, attr string) (string, bool) {
	if v := str(after, attr); v != "" {
		return v, true
	}
	if unknown[attr] != true {
		return "", true
	}
	ids, err := b.refIDs(rc, attr)
	switch {
	case err != nil:
		b.unresolved(rc.Address, "%v", err)
		return "", false
	case len(ids) != 1:
		b.unresolved(rc.Address, "%s is unknown until apply and its references name %d groups or network ACLs this plan creates", attr, len(ids))
		return "", false
	}
	return ids[0], true
}

// refIDs resolves the references of attribute attr of rc to the distinct ids of the groups and NACLs of this
// plan they name, in reference order; an error when the configuration has no expression for attr or a
// reference names such a resource but not one instance of it.
func (b *builder) refIDs(rc *tfjson.ResourceChange, attr string) ([]string, error) {
	e := b.exprs[configAddress(rc)][attr]
	if e == nil {
		return nil, fmt.Errorf("%s is unknown until apply and the plan's configuration has no expression for it", attr)
	}
	dynamic := slices.ContainsFunc(e.References, func(r string) bool { return r == "each.key" || r == "count.index" })
	var ids []string
	for _, r := range e.References { // "aws_security_group.app.id" (Terraform also lists "aws_security_group.app")
		id, ok, reason := b.refTarget(rc, r, dynamic)
		if reason != "" {
			return nil, fmt.Errorf("%s is unknown until apply and its reference %s cannot be resolved: %s", attr, r, reason)
		}
		if ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s is unknown until apply and its references %v name no group or network ACL this plan creates", attr, e.References)
	}
	return ids, nil
}

// idList resolves a list (set) attribute of ids: the known elements, and its unknown elements from the
// configuration's references to groups this plan creates, when they are as many as the unknown elements (a
// set's order does not matter). A wholly unknown list is unresolved: the configuration does not say which
// constant ids it holds beside the references. ok false means unresolved (reported).
func (b *builder) idList(rc *tfjson.ResourceChange, after, unknown map[string]any, attr string) ([]string, bool) {
	if unknown[attr] == true {
		b.unresolved(rc.Address, "%s is unknown until apply as a whole (not element by element): its constant elements cannot be told", attr)
		return nil, false
	}
	vals, _ := after[attr].([]any)
	marks, _ := unknown[attr].([]any)
	var known []string
	missing := 0
	for i, v := range vals {
		if i < len(marks) && marks[i] == true {
			missing++
			continue
		}
		if s, _ := v.(string); s != "" {
			known = append(known, s)
		}
	}
	for i := len(vals); i < len(marks); i++ {
		if marks[i] == true {
			missing++
		}
	}
	if missing == 0 {
		return known, true
	}
	ids, err := b.refIDs(rc, attr)
	if err != nil {
		b.unresolved(rc.Address, "%v", err)
		return nil, false
	}
	if len(ids) != missing {
		b.unresolved(rc.Address, "%s has %d elements unknown until apply and its references name %d groups this plan creates", attr, missing, len(ids))
		return nil, false
	}
	return append(known, ids...), true
}
