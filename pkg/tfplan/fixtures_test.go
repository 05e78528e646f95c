package tfplan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// Sample topology ids the fixtures touch.
const (
	sgDefault = "sg-0a1b2c3d4e5f63000"
	sgWeb     = "sg-0a1b2c3d4e5f63001"
	sgApp     = "sg-0a1b2c3d4e5f63002"
	sgDB      = "sg-0a1b2c3d4e5f63003"
	sgBastion = "sg-0a1b2c3d4e5f63004"
	aclWeb    = "acl-0a1b2c3d4e5f62001"
	aclApp    = "acl-0a1b2c3d4e5f62002"
	aclDef    = "acl-0a1b2c3d4e5f62000"
	subnetDB  = "subnet-0a1b2c3d4e5f61004"
	eniWeb1   = "eni-0e9ef431b1d115683"
	eniWeb2   = "eni-095ce523b21435ce6"
	eniDB1    = "eni-0971d0fb3cb55b584"
	eniDB2    = "eni-0ff22e8370b6f503a"
	eniBast   = "eni-06558789fdf403e4b"
)

// summary is what a fixture's Result says, in comparable form.
type summary struct {
	Rules          []string // "RULE-ID DISPLAY <- ADDRESS" of Result.Rules, sorted
	Entries        map[EntryKey]string
	RemovedRules   map[string]string
	RemovedEntries map[EntryKey]string
	Interfaces     map[string]string
	Groups         map[string][]string // the candidate's groups of the interfaces in Interfaces
	Subnets        map[string]string
	NACLs          map[string]string // the candidate's NACL of the subnets in Subnets
	Created        map[string]string
	Removed        []string
	StillAttached  []Attached
	Ignored        []string
	Unresolved     []string // addresses
}

func summarize(r *Result) summary {
	s := summary{Entries: r.Entries, RemovedRules: r.RemovedRules, RemovedEntries: r.RemovedEntries,
		Interfaces: r.Interfaces, Groups: map[string][]string{}, Subnets: r.Subnets, NACLs: map[string]string{},
		Created: r.Created, Removed: r.Removed, StillAttached: r.StillAttached, Ignored: r.Ignored}
	for rule, a := range r.Rules {
		s.Rules = append(s.Rules, fmt.Sprintf("%s %s <- %s", rule.ID, rule.Display, a))
	}
	sort.Strings(s.Rules)
	for id := range r.Interfaces {
		s.Groups[id] = r.Model.ENIs[id].GroupIDs
	}
	for id := range r.Subnets {
		s.NACLs[id] = r.Model.Subnets[id].NACL.ID
	}
	for _, u := range r.Unresolved {
		s.Unresolved = append(s.Unresolved, u.Address)
	}
	return s
}

// TestFixtures: per fixture, exactly the candidate rules and entries the plan writes with their addresses,
// what it removes and by which address, the interfaces and subnets it moves, and what it reports.
func TestFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    summary
		check   func(t *testing.T, r *Result)
	}{
		{
			fixture: "module_for_each.json",
			want: summary{
				Rules: []string{
					sgApp + `/egress/2 tcp 6379 to tf:module.net.aws_security_group.svc["cache"] <- module.net.aws_vpc_security_group_egress_rule.app_to_svc["cache"]`,
					sgDB + `/egress/0 tcp 443 to 3.5.0.0/16 <- module.net.aws_vpc_security_group_egress_rule.db_out["https"]`,
					`tf:module.net.aws_security_group.svc["cache"]/ingress/0 tcp 6379 from ` + sgApp + ` <- module.net.aws_vpc_security_group_ingress_rule.svc_from_app["cache"]`,
					`tf:module.net.aws_security_group.svc["queue"]/ingress/0 tcp 5672 from ` + sgApp + ` <- module.net.aws_vpc_security_group_ingress_rule.svc_from_app["queue"]`,
				},
				Entries: map[EntryKey]string{{aclWeb, false, 45}: "module.net.aws_network_acl_rule.public_in[3]"},
				Created: map[string]string{
					`tf:module.net.aws_security_group.svc["cache"]`: `module.net.aws_security_group.svc["cache"]`,
					`tf:module.net.aws_security_group.svc["queue"]`: `module.net.aws_security_group.svc["queue"]`,
				},
				Unresolved: []string{`module.net.aws_vpc_security_group_ingress_rule.svc_metrics["cache"]`},
			},
			check: func(t *testing.T, r *Result) {
				if !strings.Contains(r.Unresolved[0].Message, "[each.value]") {
					t.Errorf("unresolved message = %q", r.Unresolved[0].Message)
				}
				if e := r.Model.NACLs[aclWeb].Inbound[0]; e.RuleNumber != 45 || e.Action != vpc.Deny {
					t.Errorf("web NACL inbound[0] = %+v, want the planned deny 45 first", e)
				}
			},
		},
		{
			fixture: "deleted_attached.json",
			want: summary{
				StillAttached: []Attached{{GroupID: sgBastion, Address: "aws_security_group.bastion",
					Interfaces: []string{eniBast}, ReferencedBy: []string{sgWeb, sgApp}}},
				Unresolved: []string{"aws_security_group.bastion"},
			},
			check: func(t *testing.T, r *Result) {
				g := r.Model.Groups[sgBastion]
				if g == nil || len(g.Ingress) != 1 || len(g.Egress) != 1 {
					t.Fatalf("candidate bastion group = %+v, want kept with its rules", g)
				}
				if m := r.Unresolved[0].Message; !strings.Contains(m, "DependencyViolation") || !strings.Contains(m, eniBast) {
					t.Errorf("message = %q", m)
				}
			},
		},
		{
			fixture: "default_sg.json",
			want: summary{
				Rules: []string{sgDefault + "/egress/0 tcp 443 to 3.5.0.0/16 <- aws_default_security_group.default"},
				RemovedRules: map[string]string{sgDefault + "/ingress/0": "aws_default_security_group.default",
					sgDefault + "/egress/0": "aws_default_security_group.default"},
				Interfaces: map[string]string{eniDB1: "aws_network_interface_sg_attachment.db_default"},
				Groups:     map[string][]string{eniDB1: {sgDB, sgDefault}},
			},
			check: func(t *testing.T, r *Result) {
				if g := r.Model.Groups[sgDefault]; len(g.Ingress) != 0 {
					t.Errorf("default group ingress = %v, want none (not listed: removed)", g.Ingress)
				}
			},
		},
		{
			fixture: "interface_groups.json",
			want: summary{
				Rules:   []string{"tf:aws_security_group.dns/egress/0 udp 53 to 8.8.4.4/32 <- aws_security_group.dns"},
				Created: map[string]string{"tf:aws_security_group.dns": "aws_security_group.dns"},
				Interfaces: map[string]string{eniWeb1: "aws_instance.web[0]", eniWeb2: "aws_network_interface_sg_attachment.web2_dns",
					eniDB2: `aws_network_interface.db["b"]`},
				Groups: map[string][]string{eniWeb1: {sgWeb, "tf:aws_security_group.dns"}, eniWeb2: {sgWeb, "tf:aws_security_group.dns"},
					eniDB2: {sgDefault}},
				Ignored: []string{"aws_instance.worker"},
			},
		},
		{
			fixture: "nacl_association.json",
			want: summary{
				Entries: map[EntryKey]string{{"tf:aws_network_acl.db", false, 100}: "aws_network_acl.db",
					{"tf:aws_network_acl.db", true, 100}: "aws_network_acl.db"},
				Subnets: map[string]string{subnetDB: "aws_network_acl_association.db"},
				NACLs:   map[string]string{subnetDB: "tf:aws_network_acl.db"},
				Created: map[string]string{"tf:aws_network_acl.db": "aws_network_acl.db"},
				Ignored: []string{"aws_network_acl_association.lab"},
			},
		},
		{
			fixture: "default_nacl.json",
			want: summary{
				Entries: map[EntryKey]string{{aclDef, false, 100}: "aws_default_network_acl.default",
					{aclDef, true, 100}: "aws_default_network_acl.default"},
				RemovedEntries: map[EntryKey]string{{aclDef, false, 100}: "aws_default_network_acl.default",
					{aclDef, false, 101}: "aws_default_network_acl.default", {aclDef, true, 101}: "aws_default_network_acl.default"},
			},
			check: func(t *testing.T, r *Result) {
				var rules []int
				for _, e := range r.Model.NACLs[aclDef].Inbound {
					rules = append(rules, e.RuleNumber)
				}
				if !slices.Equal(rules, []int{100, vpc.DefaultRuleV4, vpc.DefaultRuleV6}) {
					t.Errorf("default NACL inbound rules = %v", rules)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			_, r := candidateOf(t, tt.fixture)
			if diff := cmp.Diff(tt.want, summarize(r), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestCause: the address Cause names for a changed record, on the fixtures, from the verdicts the two replays
// would give it.
func TestCause(t *testing.T) {
	accept := func(nacl, naclRule, sgRule string) Decision {
		return Decision{Action: "ACCEPT", NACL: nacl, NACLRule: naclRule, SGRule: sgRule}
	}
	reject := func(layer, rule, resource string) Decision {
		return Decision{Action: "REJECT", Layer: layer, Rule: rule, Resource: resource}
	}
	const (
		web1, bastion, app1, db1, db2 = "10.20.1.10", "10.20.3.10", "10.20.2.10", "10.20.4.10", "10.20.4.11"
		eniApp1                       = "eni-07631aec07b5e8fa5"
	)
	tests := []struct {
		name, fixture string
		rec           Record
		base, cand    Decision
		want          string
	}{
		{"a planned deny entry now decides", "module_for_each.json", Record{eniWeb1, bastion, web1},
			accept(aclWeb, "130", sgWeb+"/ingress/2"), reject("nacl-inbound", "45", aclWeb), "module.net.aws_network_acl_rule.public_in[3]"},
		{"a planned rule now allows", "module_for_each.json", Record{eniDB1, db1, "3.5.0.139"},
			Decision{Action: "REJECT", Layer: "sg-outbound", Rule: "implicit-deny", Resource: sgDB}, accept(aclDef, "100", sgDB+"/egress/0"),
			`module.net.aws_vpc_security_group_egress_rule.db_out["https"]`},
		{"the allowing entry was rewritten by the default NACL", "default_nacl.json", Record{eniBast, "203.0.113.33", bastion},
			accept(aclDef, "100", sgBastion+"/ingress/0"), reject("nacl-inbound", "32767", aclDef), "aws_default_network_acl.default"},
		{"the subnet moved to a NACL of the plan", "nacl_association.json", Record{eniDB1, "10.20.2.11", db1},
			accept(aclDef, "100", sgDB+"/ingress/0"), reject("nacl-inbound", "32767", "tf:aws_network_acl.db"), "aws_network_acl_association.db"},
		{"the other end left the referenced group", "interface_groups.json", Record{eniApp1, app1, db2},
			accept(aclApp, "100", sgApp+"/egress/0"), reject("sg-outbound", "implicit-deny", sgApp), `aws_network_interface.db["b"]`},
		{"the interface left the group", "interface_groups.json", Record{eniDB2, app1, db2},
			accept(aclDef, "100", sgDB+"/ingress/0"), reject("sg-inbound", "implicit-deny", sgDefault), `aws_network_interface.db["b"]`},
		{"the adopted default group's rule now allows", "default_sg.json", Record{eniDB1, db1, "3.5.0.139"},
			reject("sg-outbound", "implicit-deny", sgDB), accept(aclDef, "100", sgDefault+"/egress/0"), "aws_default_security_group.default"},
		{"the removed rule allowed it", "removed_rule.json", Record{eniApp1, bastion, app1},
			accept(aclApp, "110", sgApp+"/ingress/1"), reject("sg-inbound", "implicit-deny", sgApp), "aws_security_group_rule.app_ssh"},
		{"unchanged class", "removed_rule.json", Record{eniApp1, bastion, app1},
			accept(aclApp, "110", sgApp+"/ingress/1"), accept(aclApp, "110", sgApp+"/ingress/1"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := candidateOf(t, tt.fixture)
			if got := r.Cause(tt.rec, tt.base, tt.cand); got != tt.want {
				t.Errorf("Cause = %q, want %q (removed rules %v)", got, tt.want, r.RemovedRules)
			}
		})
	}
}
