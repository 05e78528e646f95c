package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/audit"
)

// TestAuditTerraformPlan analyzes the sample, then audits a Terraform plan that drops sg-web's IPv4 HTTPS
// inline rule (testdata/tfplan/web-no-https-v4.json) and the same change as a --policy export: the would-break
// and newly-allowed groups are the same, exit status 1, findings are tied to the plan's resource address and
// the plan's other resource is listed as ignored.
func TestAuditTerraformPlan(t *testing.T) {
	tmp := t.TempDir()
	db := filepath.Join(tmp, "shop.duckdb")
	analyzeShop(t, db)
	no443 := filepath.Join(tmp, "no-https-v4")
	editJSON(t, no443, "security-groups.json", func(doc map[string]any) {
		for _, g := range objects(doc, "SecurityGroups") {
			if g["GroupId"] == webGroup {
				g["IpPermissions"].([]any)[0].(map[string]any)["IpRanges"] = []any{}
			}
		}
	})
	run := func(args ...string) audit.Report {
		t.Helper()
		status, out, errOut := runCLI(t, "", append([]string{"audit", "--db", db, "-o", "json"}, args...)...)
		if status != exitGate {
			t.Fatalf("audit %v: status %d, want %d\nstderr: %s", args, status, exitGate, errOut)
		}
		var rep audit.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("-o json: %v\n%s", err, out)
		}
		return rep
	}
	type key struct {
		Class, Service, Src, Dst string
		Records                  int64
	}
	keys := func(rep audit.Report) []key {
		var out []key
		for _, g := range rep.Groups {
			s, _ := json.Marshal(g.Source)
			d, _ := json.Marshal(g.Destination)
			out = append(out, key{g.Class, g.Service, string(s), string(d), g.Records})
		}
		return out
	}
	want := run("--policy", no443)
	got := run("--terraform-plan", filepath.Join("testdata", "tfplan", "web-no-https-v4.json"))
	if want.WouldBreak.Records == 0 {
		t.Fatal("the policy audit breaks nothing")
	}
	if got.WouldBreak != want.WouldBreak || got.NewlyAllowed != want.NewlyAllowed {
		t.Errorf("plan: would break %+v, newly allowed %+v; policy: %+v, %+v", got.WouldBreak, got.NewlyAllowed, want.WouldBreak, want.NewlyAllowed)
	}
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Errorf("groups (-policy +plan):\n%s", diff)
	}
	for _, g := range got.Groups {
		if g.TerraformAddress != "aws_security_group.web" || g.File != filepath.Join("testdata", "tfplan", "web-no-https-v4.json") {
			t.Errorf("group %d decided by %s: terraform address %q, file %q; want aws_security_group.web in the plan file", g.ID, g.Resource, g.TerraformAddress, g.File)
		}
	}
	if !slices.Contains(got.Candidate.GroupsReplaced, webGroup) {
		t.Errorf("candidate groups replaced = %v", got.Candidate.GroupsReplaced)
	}
	if !strings.Contains(strings.Join(got.Candidate.Findings, "\n"), "ignored (not a security group, rule, network ACL or interface of the topology): aws_s3_bucket.logs") {
		t.Errorf("candidate findings = %q", got.Candidate.Findings)
	}

	// One candidate at a time; --strict is about plans.
	if status, _, _ := runCLI(t, "", "audit", "--db", db, "--policy", no443, "--terraform-plan", "x.json"); status != exitUsage {
		t.Errorf("--policy with --terraform-plan: status %d, want %d", status, exitUsage)
	}
	if status, _, _ := runCLI(t, "", "audit", "--db", db, "--policy", no443, "--strict"); status != exitUsage {
		t.Errorf("--policy with --strict: status %d, want %d", status, exitUsage)
	}
}

// TestAuditTerraformPlanFixtures analyzes the sample once, then audits each plan fixture of pkg/tfplan: the
// would-break and newly-allowed groups exactly, each with the resource address that causes it, the exit
// status (1 above --fail-on), the unresolved changes that --strict fails on (status 3), and for one fixture the
// SARIF location, the markdown column and audit_groups.terraform_address.
func TestAuditTerraformPlanFixtures(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	analyzeShop(t, db)
	const (
		app, db1Default, bastion, web = "sg-0a1b2c3d4e5f63002", "sg-0a1b2c3d4e5f63003+sg-0a1b2c3d4e5f63000", "sg-0a1b2c3d4e5f63004", webGroup
		dbGroup, defaultGroup         = "sg-0a1b2c3d4e5f63003", "sg-0a1b2c3d4e5f63000"
	)
	type group struct {
		Class, Source, Destination, Service string
		Records, Orphans                    int64
		Address                             string
	}
	tests := []struct {
		fixture    string
		status     int
		groups     []group
		unresolved string // a candidate finding's text (--strict then fails with status 3)
	}{
		{fixture: "module_for_each.json", status: exitGate, groups: []group{
			{"would-break", bastion, web, "tcp/22", 22, 11, "module.net.aws_network_acl_rule.public_in[3]"},
			{"newly-allowed", dbGroup, "external IPv4", "tcp/443", 32, 0, `module.net.aws_vpc_security_group_egress_rule.db_out["https"]`},
		}, unresolved: `module.net.aws_vpc_security_group_ingress_rule.svc_metrics["cache"]: security_group_id is unknown until apply`},
		{fixture: "deleted_attached.json", status: exitOK,
			unresolved: "aws_security_group.bastion: deletes security group sg-0a1b2c3d4e5f63004 while interfaces eni-06558789fdf403e4b are still in it"},
		{fixture: "default_sg.json", status: exitOK, groups: []group{
			{"newly-allowed", db1Default, "external IPv4", "tcp/443", 19, 0, "aws_default_security_group.default"},
		}},
		{fixture: "interface_groups.json", status: exitGate, groups: []group{
			{"would-break", app, defaultGroup, "tcp/5432", 249, 83, `aws_network_interface.db["b"]`},
			{"newly-allowed", defaultGroup, "external IPv4", "tcp/443", 13, 0, `aws_network_interface.db["b"]`},
			{"newly-allowed", web + "+tf:aws_security_group.dns", "8.8.4.0/24", "udp/53", 8, 0, "aws_security_group.dns"},
		}},
		{fixture: "nacl_association.json", status: exitGate, groups: []group{
			{"would-break", app, dbGroup, "tcp/5432", 234, 117, "aws_network_acl_association.db"},
		}},
		{fixture: "default_nacl.json", status: exitGate, groups: []group{
			{"would-break", "203.0.113.0/24", bastion, "tcp/22", 16, 0, "aws_default_network_acl.default"},
		}},
		{fixture: "removed_rule.json", status: exitGate, groups: []group{
			{"would-break", bastion, app, "tcp/22", 18, 0, "aws_security_group_rule.app_ssh"},
		}},
		{fixture: "added_rule.json", status: exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			plan := filepath.Join("..", "..", "pkg", "tfplan", "testdata", tt.fixture)
			status, out, errOut := runCLI(t, "", "audit", "--db", db, "--terraform-plan", plan, "-o", "json")
			if status != tt.status {
				t.Fatalf("status %d, want %d\nstderr: %s", status, tt.status, errOut)
			}
			var rep audit.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("-o json: %v\n%s", err, out)
			}
			var got []group
			for _, g := range rep.Groups {
				got = append(got, group{g.Class, g.Source.ID, g.Destination.ID, g.Service, g.Records, g.OrphanedReplies, g.TerraformAddress})
				if g.File != plan {
					t.Errorf("group %d: file %q, want the plan", g.ID, g.File)
				}
			}
			if diff := cmp.Diff(tt.groups, got); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
			findings := strings.Join(rep.Candidate.Findings, "\n")
			if tt.unresolved != "" && !strings.Contains(findings, tt.unresolved) {
				t.Errorf("candidate findings:\n%s\nwant %q", findings, tt.unresolved)
			}
			strict, _, errOut := runCLI(t, "", "audit", "--db", db, "--terraform-plan", plan, "--strict", "--fail-on", "1000")
			if want := map[bool]int{true: exitFindings, false: exitOK}[tt.unresolved != ""]; strict != want {
				t.Errorf("--strict: status %d, want %d\nstderr: %s", strict, want, errOut)
			}
			if tt.unresolved != "" && !strings.Contains(errOut, tt.unresolved) {
				t.Errorf("--strict stderr does not list the unresolved change:\n%s", errOut)
			}
		})
	}

	// The module fixture in detail: the gate, SARIF located at the address, markdown and audit_groups.
	plan := filepath.Join("..", "..", "pkg", "tfplan", "testdata", "module_for_each.json")
	if status, _, errOut := runCLI(t, "", "audit", "--db", db, "--terraform-plan", plan, "--fail-on", "22"); status != exitOK {
		t.Errorf("--fail-on 22 (22 would-break records): status %d, want 0\n%s", status, errOut)
	}
	status, out, _ := runCLI(t, "", "audit", "--db", db, "--terraform-plan", plan, "--fail-on", "21", "-o", "sarif")
	if status != exitGate {
		t.Errorf("--fail-on 21: status %d, want %d", status, exitGate)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				RuleID  string `json:"ruleId"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
					LogicalLocations []struct {
						Name               string `json:"name"`
						FullyQualifiedName string `json:"fullyQualifiedName"`
						Kind               string `json:"kind"`
					} `json:"logicalLocations"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil {
		t.Fatalf("sarif: %v\n%s", err, out)
	}
	type loc struct {
		Rule, URI     string
		Line          int
		Name, FQN, By string
	}
	var locs []loc
	for _, r := range sarif.Runs[0].Results {
		l := r.Locations[0]
		if !strings.HasSuffix(r.Message.Text, "; caused by "+l.LogicalLocations[0].Name) {
			t.Errorf("SARIF message %q does not name %s", r.Message.Text, l.LogicalLocations[0].Name)
		}
		locs = append(locs, loc{r.RuleID, l.PhysicalLocation.ArtifactLocation.URI, l.PhysicalLocation.Region.StartLine,
			l.LogicalLocations[0].Name, l.LogicalLocations[0].FullyQualifiedName, l.LogicalLocations[1].Name})
	}
	wantLocs := []loc{
		{"would-break", "../../pkg/tfplan/testdata/module_for_each.json", 71, "module.net.aws_network_acl_rule.public_in[3]",
			"module.net.aws_network_acl_rule.public_in[3]", webNACL},
		{"newly-allowed", "../../pkg/tfplan/testdata/module_for_each.json", 59, `module.net.aws_vpc_security_group_egress_rule.db_out["https"]`,
			`module.net.aws_vpc_security_group_egress_rule.db_out["https"]`, "sg-0a1b2c3d4e5f63003"},
	}
	if diff := cmp.Diff(wantLocs, locs); diff != "" {
		t.Errorf("SARIF locations (-want +got):\n%s", diff)
	}
	_, out, _ = runCLI(t, "", "audit", "--db", db, "--terraform-plan", plan, "-o", "markdown")
	if !strings.Contains(out, "| terraform resource |") || !strings.Contains(out, "`module.net.aws_network_acl_rule.public_in[3]`") {
		t.Errorf("markdown lacks the terraform resource column:\n%s", out)
	}
	_, out, errOut := runCLI(t, "", "sql", "--db", db, "-o", "csv", "SELECT class, terraform_address FROM audit_groups ORDER BY group_id")
	if want := "class,terraform_address\r\nwould-break,module.net.aws_network_acl_rule.public_in[3]\r\n" +
		"newly-allowed,\"module.net.aws_vpc_security_group_egress_rule.db_out[\"\"https\"\"]\"\r\n"; out != want {
		t.Errorf("audit_groups: %q, want %q (%s)", out, want, errOut)
	}
}
