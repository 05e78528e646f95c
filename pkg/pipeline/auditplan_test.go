package pipeline

import (
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/audit"
)

// TestLocatePlan: a group is located at its resource's entry in resource_changes (not at an earlier mention
// in the configuration), by line in an indented plan and by column in a plan on one line, as terraform show
// -json writes it; a group without an address points at the file's first line.
func TestLocatePlan(t *testing.T) {
	const a, b = "aws_vpc_security_group_ingress_rule.app", `module.net.aws_network_acl_rule.in["x"]`
	oneLine := `{"configuration":{"x":"` + a + `"},"resource_changes":[{"address":"` + a + `","type":"t"},{"address":"module.net.aws_network_acl_rule.in[\"x\"]"}]}`
	indented := strings.ReplaceAll(oneLine, `,{"address"`, ",\n  {\"address\"")
	for _, tc := range []struct {
		name                 string
		plan                 string
		addr                 string
		wantLine, wantColumn int
	}{
		{"one line, first entry", oneLine, a, 1, strings.Index(oneLine, `"address":"`+a) + 1},
		{"one line, quoted key", oneLine, b, 1, strings.Index(oneLine, `"address":"module.net`) + 1},
		{"indented", indented, b, 2, 4}, // after "  {"
		{"no address", oneLine, "", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &audit.Report{Groups: []audit.Group{{TerraformAddress: tc.addr}}}
			locatePlan(rep, "plan.json", []byte(tc.plan))
			g := rep.Groups[0]
			if g.File != "plan.json" || g.Line != tc.wantLine || g.Column != tc.wantColumn {
				t.Errorf("located at %s:%d:%d, want plan.json:%d:%d", g.File, g.Line, g.Column, tc.wantLine, tc.wantColumn)
			}
		})
	}
}
