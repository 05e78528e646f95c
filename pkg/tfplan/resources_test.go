package tfplan

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// planOf builds a plan from resource_changes and root-module configuration resources (JSON arrays), and, when
// given, the root module's module_calls (a JSON object).
func planOf(t *testing.T, changes, config, calls string) *Result {
	t.Helper()
	if config == "" {
		config = "[]"
	}
	if calls == "" {
		calls = "{}"
	}
	doc := `{"format_version": "1.2", "resource_changes": ` + changes + `, "configuration": {"root_module": {"resources": ` +
		config + `, "module_calls": ` + calls + `}}}`
	plan, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Candidate(baseline(t), plan)
	if err != nil {
		t.Fatalf("Candidate: %v", err)
	}
	return r
}

// change is one resource_changes entry; index is a JSON value or "".
func change(addr, module, typ, name, index, actions, before, after, unknown string) string {
	m := map[string]any{"address": addr, "mode": "managed", "type": typ, "name": name}
	if module != "" {
		m["module_address"] = module
	}
	if index != "" {
		m["index"] = json.RawMessage(index)
	}
	m["change"] = map[string]any{"actions": strings.Split(actions, ","), "before": json.RawMessage(before),
		"after": json.RawMessage(after), "after_unknown": json.RawMessage(unknown)}
	b, _ := json.Marshal(m)
	return string(b)
}

func list(items ...string) string { return "[" + strings.Join(items, ",") + "]" }

func unresolvedOf(r *Result) string {
	var out []string
	for _, u := range r.Unresolved {
		out = append(out, u.String())
	}
	return strings.Join(out, "\n")
}

// TestResourceTypes: each resource type's cases beyond the fixtures, on the sample topology.
func TestResourceTypes(t *testing.T) {
	const vpcID = `"vpc-0a1b2c3d4e5f60001"`
	tests := []struct {
		name   string
		plan   func(t *testing.T) *Result
		checks func(t *testing.T, r *Result)
	}{
		{
			name: "aws_default_security_group destroyed: AWS keeps the group and its rules",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(change("aws_default_security_group.d", "", "aws_default_security_group", "d", "", "delete",
					`{"id": "`+sgDefault+`", "vpc_id": `+vpcID+`}`, `null`, `{}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if g := r.Model.Groups[sgDefault]; len(g.Ingress) != 1 || len(g.Egress) != 1 || len(r.RemovedRules) != 0 {
					t.Errorf("default group = %+v, removed %v", g, r.RemovedRules)
				}
			},
		},
		{
			name: "aws_default_security_group updated by id: listed ingress only, egress left out removed",
			plan: func(t *testing.T) *Result {
				after := `{"id": "` + sgDefault + `", "vpc_id": ` + vpcID + `, "ingress": [{"cidr_blocks": [], "security_groups": [], "self": true,
					"protocol": "tcp", "from_port": 22, "to_port": 22}], "egress": []}`
				return planOf(t, list(change("aws_default_security_group.d", "", "aws_default_security_group", "d", "", "update",
					`{"id": "`+sgDefault+`"}`, after, `{}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				g := r.Model.Groups[sgDefault]
				if len(g.Ingress) != 1 || g.Ingress[0].RefGroupID != sgDefault || g.Ingress[0].FromPort != 22 || len(g.Egress) != 0 {
					t.Errorf("default group = ingress %v egress %v", g.Ingress, g.Egress)
				}
				if r.RuleAddress(g.Ingress[0].ID) != "aws_default_security_group.d" {
					t.Errorf("RuleAddress(%s) = %q", g.Ingress[0].ID, r.RuleAddress(g.Ingress[0].ID))
				}
			},
		},
		{
			name: "aws_default_security_group of a VPC the topology lacks is ignored",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(change("aws_default_security_group.other", "", "aws_default_security_group", "other", "", "create",
					`null`, `{"vpc_id": "vpc-0fffffffffffffff0"}`, `{"id": true}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if !slices.Equal(r.Ignored, []string{"aws_default_security_group.other"}) {
					t.Errorf("Ignored = %v", r.Ignored)
				}
			},
		},
		{
			name: "aws_default_network_acl found by vpc_id; destroying one changes nothing",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(
					change("aws_default_network_acl.d", "", "aws_default_network_acl", "d", "", "create", `null`,
						`{"vpc_id": `+vpcID+`, "egress": [{"rule_no": 10, "action": "allow", "protocol": "-1", "cidr_block": "0.0.0.0/0", "from_port": 0, "to_port": 0}]}`,
						`{"id": true, "default_network_acl_id": true, "ingress": true}`),
					change("aws_default_network_acl.old", "", "aws_default_network_acl", "old", "", "delete",
						`{"id": "`+aclWeb+`", "default_network_acl_id": "`+aclWeb+`"}`, `null`, `{}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				n := r.Model.NACLs[aclDef]
				if len(n.Inbound) != 2 || len(n.Outbound) != 3 || n.Outbound[0].RuleNumber != 10 {
					t.Errorf("default NACL = in %v out %v, want only the '*' entries inbound and 10 outbound", n.Inbound, n.Outbound)
				}
				if len(r.Model.NACLs[aclWeb].Inbound) != 8 || r.Unresolved != nil {
					t.Errorf("web NACL changed, or unresolved %v", r.Unresolved)
				}
			},
		},
		{
			name: "aws_network_acl_association: updated to another NACL, destroyed back to the default NACL",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(
					change("aws_network_acl_association.app", "", "aws_network_acl_association", "app", "", "update",
						`{"id": "aclassoc-0a1b2c3d4e5f64002", "subnet_id": "subnet-0a1b2c3d4e5f61002", "network_acl_id": "`+aclApp+`"}`,
						`{"id": "aclassoc-0a1b2c3d4e5f64002", "subnet_id": "subnet-0a1b2c3d4e5f61002", "network_acl_id": "`+aclWeb+`"}`, `{}`),
					change("aws_network_acl_association.web", "", "aws_network_acl_association", "web", "", "delete",
						`{"id": "aclassoc-0a1b2c3d4e5f64001", "subnet_id": "subnet-0a1b2c3d4e5f61001", "network_acl_id": "`+aclWeb+`"}`, `null`, `{}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if got := r.Model.Subnets["subnet-0a1b2c3d4e5f61002"].NACL.ID; got != aclWeb {
					t.Errorf("app subnet NACL = %s", got)
				}
				if got := r.Model.Subnets["subnet-0a1b2c3d4e5f61001"].NACL.ID; got != aclDef {
					t.Errorf("web subnet NACL = %s, want the default", got)
				}
				if r.Subnets["subnet-0a1b2c3d4e5f61001"] != "aws_network_acl_association.web" || r.Subnets["subnet-0a1b2c3d4e5f61002"] != "aws_network_acl_association.app" {
					t.Errorf("Subnets = %v", r.Subnets)
				}
			},
		},
		{
			name: "aws_network_acl created without inline entries: only its separate rules",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(
					change("aws_network_acl.new", "", "aws_network_acl", "new", "", "create", `null`,
						`{"vpc_id": `+vpcID+`}`, `{"id": true, "ingress": true, "egress": true, "subnet_ids": true}`),
					change("aws_network_acl_rule.in", "", "aws_network_acl_rule", "in", "", "create", `null`,
						`{"rule_number": 100, "egress": false, "protocol": "tcp", "rule_action": "allow", "cidr_block": "10.0.0.0/8", "from_port": 443, "to_port": 443}`,
						`{"id": true, "network_acl_id": true}`)),
					list(`{"address": "aws_network_acl_rule.in", "mode": "managed", "type": "aws_network_acl_rule", "name": "in",
						"expressions": {"network_acl_id": {"references": ["aws_network_acl.new.id", "aws_network_acl.new"]}}}`), "")
			},
			checks: func(t *testing.T, r *Result) {
				n := r.Model.NACLs["tf:aws_network_acl.new"]
				if n == nil || len(n.Inbound) != 3 || n.Inbound[0].RuleNumber != 100 || len(n.Outbound) != 2 || r.Unresolved != nil {
					t.Errorf("NACL %+v, unresolved %v", n, r.Unresolved)
				}
				if r.Entries[EntryKey{"tf:aws_network_acl.new", false, 100}] != "aws_network_acl_rule.in" {
					t.Errorf("Entries = %v", r.Entries)
				}
			},
		},
		{
			name: "aws_network_acl destroyed: its subnet back on the default NACL, moved by its address",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(change("aws_network_acl.app", "", "aws_network_acl", "app", "", "delete",
					`{"id": "`+aclApp+`"}`, `null`, `{}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if got := r.Model.Subnets["subnet-0a1b2c3d4e5f61002"].NACL.ID; got != aclDef || r.Subnets["subnet-0a1b2c3d4e5f61002"] != "aws_network_acl.app" {
					t.Errorf("app subnet NACL = %s, Subnets %v", got, r.Subnets)
				}
				if !slices.Equal(r.Removed, []string{aclApp}) {
					t.Errorf("Removed = %v", r.Removed)
				}
			},
		},
		{
			name: "aws_network_interface_sg_attachment destroyed: the group leaves the interface; unknown interface ignored",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(
					change("aws_network_interface_sg_attachment.a", "", "aws_network_interface_sg_attachment", "a", "", "delete",
						`{"security_group_id": "`+sgWeb+`", "network_interface_id": "`+eniWeb1+`"}`, `null`, `{}`),
					change("aws_network_interface_sg_attachment.b", "", "aws_network_interface_sg_attachment", "b", "", "create",
						`null`, `{"security_group_id": "`+sgWeb+`", "network_interface_id": "eni-0ffffffffffffffff"}`, `{"id": true}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if g := r.Model.ENIs[eniWeb1].GroupIDs; len(g) != 0 || r.Interfaces[eniWeb1] != "aws_network_interface_sg_attachment.a" {
					t.Errorf("web1 groups %v, Interfaces %v", g, r.Interfaces)
				}
				if !slices.Equal(r.Ignored, []string{"aws_network_interface_sg_attachment.b"}) {
					t.Errorf("Ignored = %v", r.Ignored)
				}
			},
		},
		{
			name: "aws_instance: replaced, wholly unknown groups, more unknown groups than references: unresolved",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(
					change("aws_instance.web[0]", "", "aws_instance", "web", "0", "delete,create",
						`{"primary_network_interface_id": "`+eniWeb1+`", "vpc_security_group_ids": ["`+sgWeb+`"]}`, `{}`, `{"id": true}`),
					change("aws_instance.web[1]", "", "aws_instance", "web", "1", "update",
						`{"primary_network_interface_id": "`+eniWeb2+`", "vpc_security_group_ids": ["`+sgWeb+`"]}`,
						`{"primary_network_interface_id": "`+eniWeb2+`"}`, `{"vpc_security_group_ids": true}`),
					change("aws_instance.web[2]", "", "aws_instance", "web", "2", "update",
						`{"primary_network_interface_id": "eni-017dd15144c039af2", "vpc_security_group_ids": ["`+sgWeb+`"]}`,
						`{"primary_network_interface_id": "eni-017dd15144c039af2", "vpc_security_group_ids": [null, null]}`,
						`{"vpc_security_group_ids": [true, true]}`),
					change("aws_security_group.extra", "", "aws_security_group", "extra", "", "create", `null`,
						`{"name": "extra", "vpc_id": `+vpcID+`}`, `{"id": true, "ingress": true, "egress": true}`)),
					list(`{"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
						"expressions": {"vpc_security_group_ids": {"references": ["aws_security_group.extra.id", "aws_security_group.extra"]}}}`), "")
			},
			checks: func(t *testing.T, r *Result) {
				got := unresolvedOf(r)
				for _, want := range []string{"aws_instance.web[0]: replaces its interface " + eniWeb1,
					"aws_instance.web[1]: vpc_security_group_ids is unknown until apply as a whole",
					"aws_instance.web[2]: vpc_security_group_ids has 2 elements unknown until apply and its references name 1 groups"} {
					if !strings.Contains(got, want) {
						t.Errorf("unresolved:\n%s\nwant %q", got, want)
					}
				}
				if len(r.Interfaces) != 0 {
					t.Errorf("Interfaces = %v", r.Interfaces)
				}
			},
		},
		{
			name: "aws_network_interface naming a group nobody has: unresolved, interface unchanged",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(change("aws_network_interface.db1", "", "aws_network_interface", "db1", "", "update",
					`{"id": "`+eniDB1+`", "security_groups": ["`+sgDB+`"]}`, `{"id": "`+eniDB1+`", "security_groups": ["sg-0ffffffffffffffff"]}`, `{}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if g := r.Model.ENIs[eniDB1].GroupIDs; !slices.Equal(g, []string{sgDB}) || len(r.Unresolved) != 1 {
					t.Errorf("groups %v, unresolved %v", g, r.Unresolved)
				}
			},
		},
		{
			name: "aws_security_group replaced: the old id removed, the new one named by address",
			plan: func(t *testing.T) *Result {
				return planOf(t, list(change("aws_security_group.cache", "", "aws_security_group", "cache", "", "create,delete",
					`{"id": "`+sgDefault+`"}`, `{"name": "default2", "vpc_id": `+vpcID+`, "ingress": [], "egress": []}`, `{"id": true}`)), "", "")
			},
			checks: func(t *testing.T, r *Result) {
				if r.Model.Groups["tf:aws_security_group.cache"] == nil || !slices.Equal(r.Removed, []string{sgDefault}) {
					t.Errorf("groups %v, Removed %v", r.Model.Groups, r.Removed)
				}
			},
		},
		{
			name: "inline blocks: one unknown group element resolved from the direction's references; unknown CIDRs keep an existing group's rules",
			plan: func(t *testing.T) *Result {
				block := func(groups, cidrs string) string {
					return `{"cidr_blocks": ` + cidrs + `, "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": ` + groups +
						`, "self": false, "protocol": "tcp", "from_port": 443, "to_port": 443}`
				}
				return planOf(t, list(
					change("aws_security_group.lb", "", "aws_security_group", "lb", "", "create", `null`,
						`{"name": "lb", "vpc_id": `+vpcID+`}`, `{"id": true, "ingress": true, "egress": true}`),
					change("aws_security_group.api", "", "aws_security_group", "api", "", "create", `null`,
						`{"name": "api", "vpc_id": `+vpcID+`, "ingress": [`+block(`[null]`, `[]`)+`, `+block(`[]`, `["10.0.0.0/8"]`)+`], "egress": []}`,
						`{"id": true, "ingress": [{"security_groups": [true]}, {}], "egress": []}`),
					change("aws_security_group.web", "", "aws_security_group", "web", "", "update", `{"id": "`+sgWeb+`"}`,
						`{"id": "`+sgWeb+`", "ingress": [`+block(`[]`, `[null]`)+`]}`, `{"ingress": [{"cidr_blocks": [true]}]}`)),
					list(`{"address": "aws_security_group.api", "mode": "managed", "type": "aws_security_group", "name": "api",
						"expressions": {"ingress": {"references": ["aws_security_group.lb.id", "aws_security_group.lb"]}}}`), "")
			},
			checks: func(t *testing.T, r *Result) {
				api := r.Model.Groups["tf:aws_security_group.api"]
				if len(api.Ingress) != 2 || api.Ingress[0].RefGroupID != "tf:aws_security_group.lb" || api.Ingress[1].Prefix.String() != "10.0.0.0/8" {
					t.Errorf("api ingress = %v", api.Ingress)
				}
				if web := r.Model.Groups[sgWeb]; len(web.Ingress) != 4 || len(r.RemovedRules) != 0 {
					t.Errorf("web ingress = %v, removed %v; want the current 4 kept", web.Ingress, r.RemovedRules)
				}
				if want := "aws_security_group.web: an ingress block has values other than security_groups unknown until apply"; unresolvedOf(r) != want {
					t.Errorf("unresolved:\n%s\nwant\n%s", unresolvedOf(r), want)
				}
			},
		},
		{
			name: "count: a dynamic index maps to the same-key instance; a key the referenced resource lacks is unresolved",
			plan: func(t *testing.T) *Result {
				group := func(i string) string {
					return change("aws_security_group.g["+i+"]", "", "aws_security_group", "g", i, "create", `null`,
						`{"name": "g`+i+`", "vpc_id": `+vpcID+`}`, `{"id": true, "ingress": true, "egress": true}`)
				}
				rule := func(i string) string {
					return change("aws_security_group_rule.r["+i+"]", "", "aws_security_group_rule", "r", i, "create", `null`,
						`{"type": "ingress", "protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_blocks": ["10.0.0.0/8"]}`,
						`{"id": true, "security_group_id": true}`)
				}
				return planOf(t, list(group("0"), group("1"), rule("1"), rule("2")),
					list(`{"address": "aws_security_group_rule.r", "mode": "managed", "type": "aws_security_group_rule", "name": "r",
						"expressions": {"security_group_id": {"references": ["aws_security_group.g", "count.index"]}}}`), "")
			},
			checks: func(t *testing.T, r *Result) {
				g := r.Model.Groups["tf:aws_security_group.g[1]"]
				if g == nil || len(g.Ingress) != 1 || r.Rules[g.Ingress[0]] != "aws_security_group_rule.r[1]" {
					t.Errorf("g[1] = %+v", g)
				}
				if want := "aws_security_group_rule.r[2]: security_group_id is unknown until apply and its reference aws_security_group.g cannot be resolved: aws_security_group.g has no instance [2]"; unresolvedOf(r) != want {
					t.Errorf("unresolved:\n%s\nwant\n%s", unresolvedOf(r), want)
				}
			},
		},
		{
			name: "a module output and a module variable are followed to the group they name (a for_each module: same key)",
			plan: func(t *testing.T) *Result {
				group := func(addr, module, name, index string) string {
					return change(addr, module, "aws_security_group", name, index, "create", `null`,
						`{"name": "g", "vpc_id": `+vpcID+`}`, `{"id": true, "ingress": true, "egress": true}`)
				}
				rule := func(addr, module, name string) string {
					return change(addr, module, "aws_vpc_security_group_ingress_rule", name, "", "create", `null`,
						`{"ip_protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.0.0.0/8"}`,
						`{"id": true, "security_group_id": true}`)
				}
				return planOf(t, list(
					group("module.sg.aws_security_group.this", "module.sg", "this", ""),
					rule("aws_vpc_security_group_ingress_rule.root", "", "root"),
					group(`aws_security_group.svc["cache"]`, "", "svc", `"cache"`),
					group(`aws_security_group.svc["queue"]`, "", "svc", `"queue"`),
					rule(`module.svc["cache"].aws_vpc_security_group_ingress_rule.in`, `module.svc["cache"]`, "in"),
					rule(`module.svc["queue"].aws_vpc_security_group_ingress_rule.in`, `module.svc["queue"]`, "in")),
					list(`{"address": "aws_vpc_security_group_ingress_rule.root", "mode": "managed", "type": "aws_vpc_security_group_ingress_rule",
						"name": "root", "expressions": {"security_group_id": {"references": ["module.sg.group_id", "module.sg"]}}}`),
					`{"sg": {"module": {"outputs": {"group_id": {"expression": {"references": ["aws_security_group.this.id", "aws_security_group.this"]}}}}},
					  "svc": {"expressions": {"group_id": {"references": ["aws_security_group.svc", "each.key"]}},
					    "module": {"resources": [{"address": "aws_vpc_security_group_ingress_rule.in", "mode": "managed",
					      "type": "aws_vpc_security_group_ingress_rule", "name": "in",
					      "expressions": {"security_group_id": {"references": ["var.group_id"]}}}]}}}`)
			},
			checks: func(t *testing.T, r *Result) {
				for id, want := range map[string]string{
					"tf:module.sg.aws_security_group.this": "aws_vpc_security_group_ingress_rule.root",
					`tf:aws_security_group.svc["cache"]`:   `module.svc["cache"].aws_vpc_security_group_ingress_rule.in`,
					`tf:aws_security_group.svc["queue"]`:   `module.svc["queue"].aws_vpc_security_group_ingress_rule.in`,
				} {
					g := r.Model.Groups[id]
					if g == nil || len(g.Ingress) != 1 || r.Rules[g.Ingress[0]] != want {
						t.Errorf("%s = %+v, want one rule of %s", id, g, want)
					}
				}
				if r.Unresolved != nil {
					t.Errorf("unresolved: %v", r.Unresolved)
				}
			},
		},
		{
			name: "nested module instances: references resolve inside the same module instance",
			plan: func(t *testing.T) *Result {
				const mod = `module.env["prod"].module.sg`
				return planOf(t, list(
					change(mod+".aws_security_group.y", mod, "aws_security_group", "y", "", "create", `null`,
						`{"name": "y", "vpc_id": `+vpcID+`}`, `{"id": true, "ingress": true, "egress": true}`),
					change(mod+".aws_vpc_security_group_ingress_rule.x", mod, "aws_vpc_security_group_ingress_rule", "x", "", "create", `null`,
						`{"ip_protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_ipv4": "10.0.0.0/8"}`,
						`{"id": true, "security_group_id": true}`)), "",
					`{"env": {"module": {"module_calls": {"sg": {"module": {"resources": [{"address": "aws_vpc_security_group_ingress_rule.x",
						"mode": "managed", "type": "aws_vpc_security_group_ingress_rule", "name": "x",
						"expressions": {"security_group_id": {"references": ["aws_security_group.y.id", "aws_security_group.y"]}}}]}}}}}}`)
			},
			checks: func(t *testing.T, r *Result) {
				g := r.Model.Groups[`tf:module.env["prod"].module.sg.aws_security_group.y`]
				if g == nil || len(g.Ingress) != 1 || r.Unresolved != nil {
					t.Errorf("group %+v, unresolved %v", g, r.Unresolved)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.checks(t, tt.plan(t))
		})
	}
}

func TestAddressKeys(t *testing.T) {
	for in, want := range map[string]string{
		`module.net`:                                   `module.net`,
		`module.env["prod"].module.sg[0]`:              `module.env.module.sg`,
		`module.env["a]\"b"].module.sg`:                `module.env.module.sg`,
		`aws_security_group.app["https"]`:              `aws_security_group.app`,
		`module.net.aws_network_acl_rule.public_in[3]`: `module.net.aws_network_acl_rule.public_in`,
	} {
		if got := stripKeys(in); got != want {
			t.Errorf("stripKeys(%s) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string][3]any{
		`module.net`:                      {"", "module.net", nil},
		`module.a["x"].module.b[0]`:       {`module.a["x"]`, `module.a["x"].module.b`, float64(0)},
		`module.a["x.module.y"].module.b`: {`module.a["x.module.y"]`, `module.a["x.module.y"].module.b`, nil},
		`module.svc["cache"]`:             {"", "module.svc", "cache"},
	} {
		parent, call, key := splitModule(in)
		if got := [3]any{parent, call, key}; got != want {
			t.Errorf("splitModule(%s) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		in   any
		want string
	}{{"https", `["https"]`}, {float64(3), `[3]`}, {json.Number("7"), `[7]`}, {nil, ``}} {
		if got := indexKey(c.in); got != c.want {
			t.Errorf("indexKey(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}
