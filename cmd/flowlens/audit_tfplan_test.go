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
	if status, _, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, shop+"flowlogs"); status != exitOK {
		t.Fatalf("analyze: status %d: %s", status, errOut)
	}
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

	// One candidate at a time.
	if status, _, _ := runCLI(t, "", "audit", "--db", db, "--policy", no443, "--terraform-plan", "x.json"); status != exitUsage {
		t.Errorf("--policy with --terraform-plan: status %d, want %d", status, exitUsage)
	}
}
