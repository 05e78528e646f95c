package vpc

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	shopWeb     = "sg-0a1b2c3d4e5f63001"
	shopApp     = "sg-0a1b2c3d4e5f63002"
	shopDefault = "sg-0a1b2c3d4e5f63000"
	aclWeb      = "acl-0a1b2c3d4e5f62001"
	aclApp      = "acl-0a1b2c3d4e5f62002"
	subnetApp   = "subnet-0a1b2c3d4e5f61002"
)

func shopFiles(t *testing.T) map[string][]byte {
	t.Helper()
	dir := "../../samples/shop/topology"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(dir, e.Name())] = data
	}
	return files
}

// shape renders what a replay depends on: each group's rules, each NACL's entries, each subnet's NACL, each
// group's name.
func shape(m *Model) map[string][]string {
	out := map[string][]string{}
	for id, g := range m.Groups {
		rs := []string{"name " + g.Name}
		for _, r := range append(slices.Clone(g.Ingress), g.Egress...) {
			rs = append(rs, r.ID+": "+r.Display)
		}
		out[id] = rs
	}
	for id, n := range m.NACLs {
		var es []string
		for _, e := range append(slices.Clone(n.Inbound), n.Outbound...) {
			es = append(es, fmt.Sprintf("%v %d %v %v %d %d-%d", e.Egress, e.RuleNumber, e.Action, e.Prefix, e.Proto, e.PortFrom, e.PortTo))
		}
		out[id] = es
	}
	for id, s := range m.Subnets {
		out[id] = []string{s.NACL.ID}
	}
	return out
}

func fatalFindings(m *Model) []string {
	var out []string
	for _, f := range m.Findings {
		if f.Severity == Fatal {
			out = append(out, f.Object+": "+f.Message)
		}
	}
	return out
}

func TestLoadOverlay(t *testing.T) {
	base := shopFiles(t)
	sgs := base["../../samples/shop/topology/security-groups.json"]
	nacls := base["../../samples/shop/topology/network-acls.json"]
	baseModel, _ := Load(base)
	want := shape(baseModel)

	for _, tc := range []struct {
		name          string
		policy        map[string][]byte
		authoritative bool
		// change edits the baseline's shape into the expected candidate's
		change    func(s map[string][]string)
		report    OverlayReport
		fatal     bool   // the candidate has fatal findings
		finding   string // a finding naming this text exists
		findingIn string // ... in this file
	}{
		{
			name:   "unchanged export",
			policy: map[string][]byte{"p/security-groups.json": sgs, "p/network-acls.json": nacls},
			change: func(map[string][]string) {},
			report: OverlayReport{GroupsReplaced: []string{shopDefault, shopWeb, shopApp, "sg-0a1b2c3d4e5f63003", "sg-0a1b2c3d4e5f63004"},
				NACLsReplaced: []string{"acl-0a1b2c3d4e5f62000", aclWeb, aclApp}},
		},
		{
			name: "hand-written group: only GroupId and IpPermissions, the rest inherited",
			policy: map[string][]byte{"p/web.json": []byte(`{"SecurityGroups": [{"GroupId": "` + shopWeb + `",
				"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}`)},
			change: func(s map[string][]string) {
				s[shopWeb] = []string{"name shop-web", shopWeb + "/ingress/0: tcp 443 from 0.0.0.0/0",
					shopWeb + "/egress/0: tcp 8080 to " + shopApp, shopWeb + "/egress/1: tcp 443 to pl-63a5400a"}
			},
			report: OverlayReport{GroupsReplaced: []string{shopWeb}},
		},
		{
			name:   "empty egress list removes every outbound rule",
			policy: map[string][]byte{"p/web.json": []byte(`{"SecurityGroups": [{"GroupId": "` + shopWeb + `", "IpPermissionsEgress": []}]}`)},
			change: func(s map[string][]string) { s[shopWeb] = s[shopWeb][:5] },
			report: OverlayReport{GroupsReplaced: []string{shopWeb}},
		},
		{
			name: "rules form replaces a group loaded from describe-security-groups",
			policy: map[string][]byte{"p/rules.json": []byte(`{"SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-0123", "GroupId": "` + shopApp + `",
				"IsEgress": false, "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "ReferencedGroupInfo": {"GroupId": "` + shopWeb + `"}}]}`)},
			change: func(s map[string][]string) {
				s[shopApp] = []string{"name shop-app", "sgr-0123: tcp 8080 from " + shopWeb}
			},
			report: OverlayReport{GroupsReplaced: []string{shopApp}},
		},
		{
			name: "a new group is added, the others kept",
			policy: map[string][]byte{"p/new.json": []byte(`{"SecurityGroups": [{"GroupId": "sg-0new", "GroupName": "new", "VpcId": "vpc-0a1b2c3d4e5f60001",
				"IpPermissions": [], "IpPermissionsEgress": []}]}`)},
			change: func(s map[string][]string) { s["sg-0new"] = []string{"name new"} },
			report: OverlayReport{GroupsAdded: []string{"sg-0new"}},
		},
		{
			name:          "authoritative: the groups left out are removed; an interface in one is fatal",
			policy:        map[string][]byte{"p/web.json": []byte(`{"SecurityGroups": [{"GroupId": "` + shopWeb + `"}]}`)},
			authoritative: true,
			change: func(s map[string][]string) {
				for _, id := range []string{shopDefault, shopApp, "sg-0a1b2c3d4e5f63003", "sg-0a1b2c3d4e5f63004"} {
					delete(s, id)
				}
				s[shopWeb] = s[shopWeb][:4] // its rules referring to shop-bastion and shop-app now match nothing
				s[shopWeb] = append(s[shopWeb], want[shopWeb][4:]...)
			},
			report: OverlayReport{GroupsReplaced: []string{shopWeb},
				GroupsRemoved: []string{shopDefault, shopApp, "sg-0a1b2c3d4e5f63003", "sg-0a1b2c3d4e5f63004"}},
			fatal:   true,
			finding: "ENI is in security group " + shopApp + ", which is not loaded",
		},
		{
			name:          "authoritative over groups keeps every NACL (the policy has none)",
			policy:        map[string][]byte{"p/security-groups.json": sgs},
			authoritative: true,
			change:        func(map[string][]string) {},
			report:        OverlayReport{GroupsReplaced: []string{shopDefault, shopWeb, shopApp, "sg-0a1b2c3d4e5f63003", "sg-0a1b2c3d4e5f63004"}},
		},
		{
			name: "a policy NACL's associations move a subnet; its entries are inherited when left out",
			policy: map[string][]byte{"p/acl.json": []byte(`{"NetworkAcls": [{"NetworkAclId": "` + aclWeb + `",
				"Associations": [{"SubnetId": "subnet-0a1b2c3d4e5f61001"}, {"SubnetId": "` + subnetApp + `"}]}]}`)},
			change: func(s map[string][]string) { s[subnetApp] = []string{aclWeb} },
			report: OverlayReport{NACLsReplaced: []string{aclWeb}},
		},
		{
			name: "a NACL entry removed",
			policy: map[string][]byte{"p/acl.json": []byte(`{"NetworkAcls": [{"NetworkAclId": "` + aclApp + `", "Entries": [
				{"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.20.1.0/24", "PortRange": {"From": 8080, "To": 8080}}]}]}`)},
			change: func(s map[string][]string) {
				s[aclApp] = []string{"false 100 allow 10.20.1.0/24 6 8080-8080", "false 32767 deny 0.0.0.0/0 -1 0-0",
					"false 32768 deny ::/0 -1 0-0", "true 32767 deny 0.0.0.0/0 -1 0-0", "true 32768 deny ::/0 -1 0-0"}
			},
			report: OverlayReport{NACLsReplaced: []string{aclApp}},
		},
		{
			name: "interfaces in a policy are ignored, with a warning naming the file",
			policy: map[string][]byte{"p/security-groups.json": sgs,
				"p/enis.json": base["../../samples/shop/topology/network-interfaces.json"]},
			change:  func(map[string][]string) {},
			report:  OverlayReport{GroupsReplaced: []string{shopDefault, shopWeb, shopApp, "sg-0a1b2c3d4e5f63003", "sg-0a1b2c3d4e5f63004"}},
			finding: "interfaces, subnets and prefix lists in a policy are ignored", findingIn: "p/enis.json",
		},
		{
			name: "a bad policy rule is reported under the policy file",
			policy: map[string][]byte{"p/web.json": []byte(`{"SecurityGroups": [{"GroupId": "` + shopWeb + `",
				"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}`)},
			change: func(s map[string][]string) {
				s[shopWeb] = []string{"name shop-web", shopWeb + "/egress/0: tcp 8080 to " + shopApp, shopWeb + "/egress/1: tcp 443 to pl-63a5400a"}
			},
			report: OverlayReport{GroupsReplaced: []string{shopWeb}},
			fatal:  true, finding: "", findingIn: "p/web.json",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rep := LoadOverlay(base, tc.policy, tc.authoritative)
			exp := map[string][]string{}
			for k, v := range want {
				exp[k] = slices.Clone(v)
			}
			tc.change(exp)
			if diff := cmp.Diff(exp, shape(m)); diff != "" {
				t.Errorf("candidate (-want +got):\n%s", diff)
			}
			rep.Files, rep.Ignored = nil, nil
			slices.Sort(tc.report.GroupsReplaced)
			if diff := cmp.Diff(tc.report, *rep, cmp.Transformer("nilEmpty", func(s []string) []string {
				if len(s) == 0 {
					return nil
				}
				return s
			})); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if got := fatalFindings(m); (len(got) > 0) != tc.fatal {
				t.Errorf("fatal findings %q, want fatal %v", got, tc.fatal)
			}
			if tc.finding != "" || tc.findingIn != "" {
				found := slices.ContainsFunc(m.Findings, func(f Finding) bool {
					return strings.Contains(f.Message, tc.finding) && (tc.findingIn == "" || f.File == tc.findingIn)
				})
				if !found {
					t.Errorf("no finding %q in %q among %v", tc.finding, tc.findingIn, m.Findings)
				}
			}
			if m.InputFiles() != nil {
				t.Errorf("a candidate has input files")
			}
		})
	}
	if len(baseModel.InputFiles()) != len(base) {
		t.Errorf("Load kept %d input files, want %d", len(baseModel.InputFiles()), len(base))
	}
}
