package recommend

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// scenarioTerraform returns the scenario's recommendation, its topology and main.tf.
func scenarioTerraform(t *testing.T) (*Recommendation, *vpc.Model, []byte) {
	t.Helper()
	m := loadScenario(t)
	rec, err := Recommend(m, scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteTerraform(&b, rec, m); err != nil {
		t.Fatal(err)
	}
	return rec, m, b.Bytes()
}

// tfResource is one parsed resource block: its type, name and attributes evaluated without variables (every
// attribute main.tf writes is a literal).
type tfResource struct {
	typ, name string
	attrs     map[string]cty.Value
}

func parseTerraform(t *testing.T, src []byte) []tfResource {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL(src, "main.tf")
	if diags.HasErrors() {
		t.Fatalf("main.tf does not parse: %s", diags.Error())
	}
	var out []tfResource
	for _, blk := range f.Body.(*hclsyntax.Body).Blocks {
		if blk.Type != "resource" || len(blk.Labels) != 2 {
			t.Fatalf("unexpected block %s %v", blk.Type, blk.Labels)
		}
		r := tfResource{typ: blk.Labels[0], name: blk.Labels[1], attrs: map[string]cty.Value{}}
		for name, a := range blk.Body.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				t.Fatalf("%s.%s: %s: %s", r.typ, r.name, name, diags.Error())
			}
			r.attrs[name] = v
		}
		if len(blk.Body.Blocks) != 0 {
			t.Errorf("%s.%s has nested blocks", r.typ, r.name)
		}
		out = append(out, r)
	}
	return out
}

// want is what a resource must hold, written from the AWS provider's documentation rather than from the
// generator: the protocol by name for TCP/UDP/ICMP/ICMPv6 ("-1" for all), ports only where they apply,
// exactly one peer attribute.
func wantSGAttrs(gp *GroupProposal, r *Rule) map[string]cty.Value {
	names := map[int16]string{-1: "-1", 6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}
	proto, ok := names[r.Proto]
	if !ok {
		proto = strconv.Itoa(int(r.Proto))
	}
	w := map[string]cty.Value{"security_group_id": cty.StringVal(gp.ID), "ip_protocol": cty.StringVal(proto)}
	if r.Proto == 6 || r.Proto == 17 || r.Proto == 1 || r.Proto == 58 {
		w["from_port"] = cty.NumberIntVal(int64(r.FromPort))
		w["to_port"] = cty.NumberIntVal(int64(r.ToPort))
	}
	switch {
	case r.Peer == vpc.PeerCIDR && r.Prefix.Addr().Is4():
		w["cidr_ipv4"] = cty.StringVal(r.Prefix.String())
	case r.Peer == vpc.PeerCIDR:
		w["cidr_ipv6"] = cty.StringVal(r.Prefix.String())
	case r.Peer == vpc.PeerPrefixList:
		w["prefix_list_id"] = cty.StringVal(r.PrefixListID)
	default:
		w["referenced_security_group_id"] = cty.StringVal(r.RefGroupID)
	}
	if r.Description != "" {
		w["description"] = cty.StringVal(r.Description) // the scenario's descriptions are valid as they are
	}
	return w
}

func wantNACLAttrs(e *Entry) map[string]cty.Value {
	w := map[string]cty.Value{"network_acl_id": cty.StringVal(e.NACLID), "rule_number": cty.NumberIntVal(int64(e.RuleNumber)),
		"egress": cty.BoolVal(e.Egress), "protocol": cty.StringVal(map[int16]string{-1: "-1", 6: "6", 17: "17", 1: "1", 58: "58"}[e.Proto]),
		"rule_action": cty.StringVal(e.Action.String())}
	if e.Prefix.Addr().Is4() {
		w["cidr_block"] = cty.StringVal(e.Prefix.String())
	} else {
		w["ipv6_cidr_block"] = cty.StringVal(e.Prefix.String())
	}
	switch e.Proto {
	case 6, 17:
		w["from_port"], w["to_port"] = cty.NumberIntVal(int64(e.PortFrom)), cty.NumberIntVal(int64(e.PortTo))
	case 1, 58:
		w["icmp_type"], w["icmp_code"] = cty.NumberIntVal(int64(e.ICMPType)), cty.NumberIntVal(int64(e.ICMPCode))
	}
	return w
}

var tfName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// TestTerraformMatchesRecommendation parses main.tf back with hcl/v2 and checks every resource, in order,
// against the recommendation it was written from: one per proposed rule and entry, kept directions
// included, each attribute as the provider expects it, names valid and unique, and pins the file (golden).
func TestTerraformMatchesRecommendation(t *testing.T) {
	rec, _, src := scenarioTerraform(t)
	got := parseTerraform(t, src)
	type want struct {
		typ   string
		attrs map[string]cty.Value
		basis Basis
	}
	var wants []want
	for i := range rec.Groups {
		gp := &rec.Groups[i]
		for _, r := range gp.Ingress {
			wants = append(wants, want{TFIngressRule, wantSGAttrs(gp, &r), r.Basis})
		}
		for _, r := range gp.Egress {
			wants = append(wants, want{TFEgressRule, wantSGAttrs(gp, &r), r.Basis})
		}
	}
	for i := range rec.NACLs {
		for _, es := range [][]Entry{rec.NACLs[i].Inbound, rec.NACLs[i].Outbound} {
			for _, e := range es {
				wants = append(wants, want{TFNACLRule, wantNACLAttrs(&e), e.Basis})
			}
		}
	}
	if len(got) != len(wants) {
		t.Fatalf("%d resources, want %d (one per proposed rule and entry)", len(got), len(wants))
	}
	seen := map[string]bool{}
	for i, g := range got {
		w := wants[i]
		if g.typ != w.typ {
			t.Errorf("resource %d: type %s, want %s", i, g.typ, w.typ)
		}
		if !tfName.MatchString(g.name) || seen[g.name] {
			t.Errorf("resource %d: name %q is not a unique identifier", i, g.name)
		}
		seen[g.name] = true
		if w.typ != TFNACLRule {
			tags := g.attrs["tags"]
			if !tags.Type().IsObjectType() || tags.GetAttr("Name").AsString() != g.name ||
				tags.GetAttr("flowlens-basis").AsString() != w.basis.String() {
				t.Errorf("%s: tags %#v", g.name, tags)
			}
			delete(g.attrs, "tags")
		}
		if diff := cmp.Diff(g.attrs, w.attrs, cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })); diff != "" {
			t.Errorf("%s.%s (-got +want):\n%s", g.typ, g.name, diff)
		}
	}
	for _, name := range []string{"web_tcp_443_from_internet", "web_tcp_443_from_internet_v6", "app_tcp_22_from_bastion",
		"bastion_tcp_22_from_pl_0c0de", "db_tcp_443_to_52_94_0_10", "idle_all_to_internet", "acl_0pub_in_100_deny_all_from_198_51_100_66"} {
		if !seen[name] {
			t.Errorf("no resource named %s", name)
		}
	}
	for _, s := range []string{"# kept: no evidence in the window; the current rule tcp 9000 from 10.0.0.0/16 unchanged",
		"terraform import aws_network_acl_rule.acl_0spare_in_100_allow_all_from_internet acl-0spare:100:-1:false",
		"#   tcp 22 from 0.0.0.0/0\n"} {
		if !bytes.Contains(src, []byte(s)) {
			t.Errorf("main.tf lacks %q", s)
		}
	}
	golden(t, "main.tf", src)
}

// TestTerraformFmt runs terraform fmt -check on main.tf when a terraform binary is on PATH (never required).
func TestTerraformFmt(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform binary on PATH")
	}
	_, _, src := scenarioTerraform(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "fmt", "-check", "-diff", "main.tf")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "none.tfrc"), "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}

// TestTerraformImportsRuleIDs: a current rule with a security group rule id (describe-security-group-rules)
// is imported by it; one without says where to find it.
func TestTerraformImportsRuleIDs(t *testing.T) {
	m := loadScenario(t)
	rec, err := Recommend(m, scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Groups["sg-0idle"].Ingress[0].ID = "sgr-0idle9000"
	var b bytes.Buffer
	if err := WriteTerraform(&b, rec, m); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"terraform import aws_vpc_security_group_ingress_rule.idle_tcp_9000_from_10_0_0_0_16 sgr-0idle9000\n",
		"terraform import aws_vpc_security_group_ingress_rule.idle_tcp_9001_from_empty <the sgr- id of sg-0idle ingress tcp 9001 from sg-0empty>\n",
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("main.tf lacks %q", s)
		}
	}
}

func TestRuleResourceName(t *testing.T) {
	web := &GroupProposal{ID: "sg-0web", Name: "web"}
	cidr := func(s string) Rule { return Rule{Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix(s)} }
	with := func(r Rule, f func(*Rule)) Rule { f(&r); return r }
	for _, tc := range []struct {
		name string
		gp   *GroupProposal
		r    Rule
		want string
	}{
		{"internet v4", web, with(cidr("0.0.0.0/0"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 443, 443 }), "web_tcp_443_from_internet"},
		{"internet v6", web, with(cidr("::/0"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 443, 443 }), "web_tcp_443_from_internet_v6"},
		{"host", web, with(cidr("52.94.0.10/32"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort, r.Egress = 6, 443, 443, true }), "web_tcp_443_to_52_94_0_10"},
		{"v6 prefix", web, with(cidr("2001:db8::/48"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 17, 53, 53 }), "web_udp_53_from_2001_db8_48"},
		{"range", web, with(cidr("10.0.0.0/16"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 8080, 8083 }), "web_tcp_8080_8083_from_10_0_0_0_16"},
		{"all ports", web, with(cidr("10.0.0.0/16"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 0, 65535 }), "web_tcp_all_from_10_0_0_0_16"},
		{"all protocols", web, with(cidr("0.0.0.0/0"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort, r.Egress = -1, -1, -1, true }), "web_all_to_internet"},
		{"icmp all", web, with(cidr("10.0.0.0/8"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 1, -1, -1 }), "web_icmp_from_10_0_0_0_8"},
		{"icmp echo", web, with(cidr("10.0.0.0/8"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 1, 8, -1 }), "web_icmp_8_from_10_0_0_0_8"},
		{"other protocol", web, with(cidr("10.0.0.0/8"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 47, -1, -1 }), "web_proto_47_from_10_0_0_0_8"},
		{"group by name", web, Rule{Proto: 6, FromPort: 8080, ToPort: 8080, Peer: vpc.PeerGroup, RefGroupID: "sg-0app", RefGroupName: "app", Egress: true}, "web_tcp_8080_to_app"},
		{"group without name", web, Rule{Proto: 6, FromPort: 8080, ToPort: 8080, Peer: vpc.PeerGroup, RefGroupID: "sg-0app"}, "web_tcp_8080_from_sg_0app"},
		{"self", web, Rule{Proto: -1, FromPort: -1, ToPort: -1, Peer: vpc.PeerGroup, RefGroupID: "sg-0web", RefGroupName: "web"}, "web_all_from_self"},
		{"prefix list", web, Rule{Proto: 6, FromPort: 22, ToPort: 22, Peer: vpc.PeerPrefixList, PrefixListID: "pl-0c0de"}, "web_tcp_22_from_pl_0c0de"},
		{"group name with spaces and capitals", &GroupProposal{ID: "sg-1", Name: "Web Tier (prod)"}, with(cidr("0.0.0.0/0"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 80, 80 }), "web_tier_prod_tcp_80_from_internet"},
		{"group name starting with a digit", &GroupProposal{ID: "sg-1", Name: "2tier"}, with(cidr("0.0.0.0/0"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 80, 80 }), "r_2tier_tcp_80_from_internet"},
		{"unnamed group", &GroupProposal{ID: "sg-0abc"}, with(cidr("0.0.0.0/0"), func(r *Rule) { r.Proto, r.FromPort, r.ToPort = 6, 80, 80 }), "sg_0abc_tcp_80_from_internet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ruleResourceName(tc.gp, &tc.r); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTFNamerDeduplicates(t *testing.T) {
	n := newTFNamer()
	var got []string
	for _, base := range []string{"web_tcp_80_from_internet", "web_tcp_80_from_internet", "web_tcp_80_from_internet_2",
		"web_tcp_80_from_internet", "app_all_to_internet"} {
		got = append(got, n.unique(base))
	}
	want := []string{"web_tcp_80_from_internet", "web_tcp_80_from_internet_2", "web_tcp_80_from_internet_2_2",
		"web_tcp_80_from_internet_3", "app_all_to_internet"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want)\n%s", diff)
	}
}

func TestSanitizeDescription(t *testing.T) {
	long := strings.Repeat("abcdefghij", 30)
	for _, tc := range []struct{ name, in, want string }{
		{"valid kept", "flowlens: 40 flows, 2 peers (pl-1) [a] {b} #1 @x +=&;!$*_.-/", "flowlens: 40 flows, 2 peers (pl-1) [a] {b} #1 @x +=&;!$*_.-/"},
		{"quote and percent become spaces", "web's 100% rule", "web s 100 rule"},
		{"newlines and tabs", "line1\nline2\tx", "line1 line2 x"},
		{"non-ASCII", "café → db", "caf db"},
		{"runs collapse, edges trimmed", "  a''b  ", "a b"},
		{"cut at 255", long, long[:255]},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sanitizeDescription(tc.in)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(got) > MaxDescription {
				t.Errorf("%d characters", len(got))
			}
		})
	}
}

// TestTerraformDescriptionIsLiteral: a description with HCL template characters ("${", "%{": AWS allows $ and
// {) stays a literal string, and one over AWS's limit is cut, in the parsed main.tf.
func TestTerraformDescriptionIsLiteral(t *testing.T) {
	for _, tc := range []struct{ name, desc, want string }{
		{"interpolation", "flowlens ${var.x} and %{if true}", "flowlens ${var.x} and {if true}"},
		{"too long", strings.Repeat("x", 300), strings.Repeat("x", 255)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Rule{GroupID: "sg-1", Proto: 6, FromPort: 443, ToPort: 443, Peer: vpc.PeerCIDR,
				Prefix: netip.MustParsePrefix("0.0.0.0/0"), Description: tc.desc, Basis: BasisInternetWide}
			rec := &Recommendation{Groups: []GroupProposal{{ID: "sg-1", Name: "web", Ingress: []Rule{r}}}}
			var b bytes.Buffer
			if err := WriteTerraform(&b, rec, &vpc.Model{}); err != nil {
				t.Fatal(err)
			}
			res := parseTerraform(t, b.Bytes())
			if len(res) != 1 || res[0].attrs["description"].AsString() != tc.want {
				t.Errorf("got %v, want description %q", res, tc.want)
			}
		})
	}
}
