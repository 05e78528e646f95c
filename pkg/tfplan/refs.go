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
// A module output (module.net.app_group_id) is followed into the output's expression in that module, and a
// module's input variable (var.app_group_id inside module.net) into the argument its call passes.
// Anything else (a variable, each.value, a data source, another attribute than id) is not followed: the
// change is reported as unresolved.

// configExpressions indexes the expressions of every resource of mod and its module calls by configuration
// address: the module path without instance keys ("module.net.module.sg.") and the resource's address in its
// module; the outputs of a called module under its path and "output" ("module.net.output").
func configExpressions(mod *tfjson.ConfigModule, prefix string, out map[string]map[string]*tfjson.Expression) {
	for _, cr := range mod.Resources {
		if cr != nil {
			out[prefix+cr.Address] = cr.Expressions
		}
	}
	for name, call := range mod.ModuleCalls { // "module.net.call": the arguments of the call
		if call != nil && len(call.Expressions) > 0 {
			out[prefix+"module."+name+".call"] = call.Expressions
		}
	}
	if prefix != "" && len(mod.Outputs) > 0 { // "module.net.output": a key no resource address can have
		outputs := map[string]*tfjson.Expression{}
		for name, o := range mod.Outputs {
			if o != nil {
				outputs[name] = o.Expression
			}
		}
		out[prefix+"output"] = outputs
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
	for _, i := range outsideKeys(addr) {
		b.WriteByte(addr[i])
	}
	return b.String()
}

// outsideKeys lists the positions of the bytes of addr outside its instance keys (brackets and what is in
// them, quoted strings included).
func outsideKeys(addr string) []int {
	var out []int
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
			out = append(out, i)
		}
	}
	return out
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

// scope is where a configuration expression is evaluated: the module instance it is in ("" the root), and
// the instance key and address of the resource it belongs to.
type scope struct {
	module string
	index  any
	who    string
}

func scopeOf(rc *tfjson.ResourceChange) scope {
	return scope{module: rc.ModuleAddress, index: rc.Index, who: rc.Address}
}

// abs is a module-relative address made absolute in the scope's module instance.
func (sc scope) abs(rel string) string {
	if sc.module == "" {
		return rel
	}
	return sc.module + "." + rel
}

// maxModuleDepth bounds how many module outputs one reference is followed through.
const maxModuleDepth = 8

// refTarget resolves one configuration reference in scope sc to the id of a group or NACL the plan creates.
// "aws_security_group.app.id" names that resource, or the same-key instance when it has instances;
// "aws_security_group.app["k"].id" that instance. A dynamic index (aws_security_group.app[each.key].id)
// hides the attribute: Terraform lists only "aws_security_group.app" and "each.key", so a bare resource is
// taken as its same-key instance's id only when dynamic (the expression references each.key or
// count.index) and the resource has instances; the attribute resolved must hold an id, which no other
// attribute of a group or NACL is. "module.NAME.OUTPUT" is followed into the output's expression, in the
// called module (a call without count/for_each instances). ok false with a reason when the reference names
// something of the plan that cannot be told (an instance, a module instance); ok false without a reason when
// it names nothing the plan creates.
func (b *builder) refTarget(sc scope, ref string, dynamic bool, depth int) (id string, ok bool, reason string) {
	if parts := strings.Split(ref, "."); len(parts) == 3 && parts[0] == "module" && !strings.Contains(ref, "[") {
		return b.outputTarget(sc, parts[1], parts[2], depth)
	}
	if name, isVar := strings.CutPrefix(ref, "var."); isVar && sc.module != "" && !strings.Contains(name, ".") {
		return b.variableTarget(sc, name, depth)
	}
	base, isID := strings.CutSuffix(ref, ".id")
	if !isID && (!dynamic || strings.HasSuffix(base, "]") || strings.Count(base, ".") != 1) {
		return "", false, ""
	}
	abs := sc.abs(base)
	if id, ok := b.idOf[abs]; ok && isID {
		return id, true, ""
	}
	if strings.HasSuffix(base, "]") { // an explicit instance the plan does not create
		return "", false, ""
	}
	if !b.hasInstances(abs) {
		return "", false, ""
	}
	if sc.index == nil {
		return "", false, fmt.Sprintf("%s has count/for_each instances and %s is not an instance", abs, sc.who)
	}
	if id, ok := b.idOf[abs+indexKey(sc.index)]; ok {
		return id, true, ""
	}
	return "", false, fmt.Sprintf("%s has no instance %s", abs, indexKey(sc.index))
}

// hasInstances says whether the plan creates count/for_each instances of abs (a resource or module call).
func (b *builder) hasInstances(abs string) bool {
	for a := range b.idOf {
		if strings.HasPrefix(a, abs+"[") {
			return true
		}
	}
	return false
}

// outputTarget resolves output OUTPUT of module call NAME, called from scope sc, through the output's
// expression in that module.
func (b *builder) outputTarget(sc scope, name, output string, depth int) (string, bool, string) {
	call := sc.abs("module." + name)
	e := b.exprs[stripKeys(call)+".output"][output]
	if e == nil {
		return "", false, ""
	}
	if b.hasInstances(call) {
		return "", false, fmt.Sprintf("%s has count/for_each instances", call)
	}
	if depth >= maxModuleDepth {
		return "", false, fmt.Sprintf("module outputs nested deeper than %d", maxModuleDepth)
	}
	ids, err := b.resolveRefs(scope{module: call, who: sc.who}, e.References, depth+1)
	switch {
	case err != nil:
		return "", false, err.Error()
	case len(ids) > 1:
		return "", false, fmt.Sprintf("output %s of %s names %d groups or network ACLs", output, call, len(ids))
	case len(ids) == 1:
		return ids[0], true, ""
	}
	return "", false, ""
}

// variableTarget resolves input variable name of the module instance of scope sc through the argument its
// module call passes, in the calling module; an instance key of the call (count/for_each on the module) is
// the referencing instance key there (module.svc["cache"] passing aws_security_group.svc[each.key].id).
func (b *builder) variableTarget(sc scope, name string, depth int) (string, bool, string) {
	parent, call, key := splitModule(sc.module)
	e := b.exprs[stripKeys(call)+".call"][name]
	if e == nil {
		return "", false, ""
	}
	if depth >= maxModuleDepth {
		return "", false, fmt.Sprintf("module variables nested deeper than %d", maxModuleDepth)
	}
	ids, err := b.resolveRefs(scope{module: parent, index: key, who: sc.who}, e.References, depth+1)
	switch {
	case err != nil:
		return "", false, err.Error()
	case len(ids) > 1:
		return "", false, fmt.Sprintf("var.%s of %s names %d groups or network ACLs", name, sc.module, len(ids))
	case len(ids) == 1:
		return ids[0], true, ""
	}
	return "", false, ""
}

// splitModule splits a module instance address into its caller's ("" the root), the call's address in
// the caller with the module's path (module.a.module.b, without the last key) and the last instance key
// (nil when the call has none): module.a["x"].module.b[0] -> module.a["x"], module.a["x"].module.b, 0.
func splitModule(addr string) (parent, call string, key any) {
	last := 0
	for _, i := range outsideKeys(addr) {
		if strings.HasPrefix(addr[i:], ".module.") {
			last = i + 1
		}
	}
	if last > 0 {
		parent = addr[:last-1]
	}
	call = addr
	if i := strings.IndexByte(addr[last:], '['); i >= 0 {
		call = addr[:last+i]
		var v any
		if json.Unmarshal([]byte(addr[last+i+1:len(addr)-1]), &v) == nil {
			key = v
		}
	}
	return parent, call, key
}

// resolveRefs resolves the references of one expression in scope sc to the distinct ids of the groups and
// NACLs of this plan they name, in reference order; an error when one names something of the plan that
// cannot be told.
func (b *builder) resolveRefs(sc scope, refs []string, depth int) ([]string, error) {
	dynamic := slices.ContainsFunc(refs, func(r string) bool { return r == "each.key" || r == "count.index" })
	var ids []string
	for _, r := range refs { // "aws_security_group.app.id" (Terraform also lists "aws_security_group.app")
		id, ok, reason := b.refTarget(sc, r, dynamic, depth)
		if reason != "" {
			return nil, fmt.Errorf("its reference %s cannot be resolved: %s", r, reason)
		}
		if ok && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
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
	ids, err := b.resolveRefs(scopeOf(rc), e.References, 0)
	if err != nil {
		return nil, fmt.Errorf("%s is unknown until apply and %w", attr, err)
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
