package recommend

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// recommend runs Recommend on the scenario topology.
func recommend(t *testing.T, o Options, reqs ...Request) *Recommendation {
	t.Helper()
	rec, err := Recommend(loadScenario(t), &Observations{Window: week, Requests: reqs}, o)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// rules renders one group direction's proposal as "RULE [basis]".
func rules(rec *Recommendation, group string, egress bool) []string {
	var out []string
	for _, g := range rec.Groups {
		if g.ID != group {
			continue
		}
		rs := g.Ingress
		if egress {
			rs = g.Egress
		}
		for _, r := range rs {
			out = append(out, r.String()+" ["+r.Basis.String()+"]")
		}
	}
	return out
}

// entries renders one NACL direction's proposal as "NUMBER ACTION PROTO PORTS CIDR [basis]".
func entries(rec *Recommendation, nacl string, egress bool) []string {
	var out []string
	for _, n := range rec.NACLs {
		if n.ID != nacl {
			continue
		}
		es := n.Inbound
		if egress {
			es = n.Outbound
		}
		for _, e := range es {
			ports := ""
			if portsChecked(e.Proto) {
				ports = fmt.Sprintf(" %d-%d", e.PortFrom, e.PortTo)
			}
			out = append(out, fmt.Sprintf("%d %s %s%s %s [%s]", e.RuleNumber, e.Action, protoName(e.Proto), ports, e.Prefix, e.Basis))
		}
	}
	return out
}

func kinds(rec *Recommendation, kind FindingKind) []string {
	var out []string
	for _, f := range rec.Findings {
		if f.Kind == kind {
			out = append(out, f.Resource+": "+f.Message)
		}
	}
	return out
}

// TestSGPeers covers rules 1-4: which peer a rule names.
func TestSGPeers(t *testing.T) {
	internet := func(eni string, port uint16, n int) []Request { return internetClients(eni, port, n) }
	tests := []struct {
		name   string
		opt    Options
		reqs   []Request
		group  string
		egress bool
		want   []string
	}{
		{
			name:  "group reference chosen over CIDRs",
			reqs:  []Request{in("eni-0db1", "10.0.1.10", 6, 5432), in("eni-0db1", "10.0.1.11", 6, 5432)},
			group: "sg-0db",
			want:  []string{"tcp 5432 from sg-0app (app) [group-reference]"},
		},
		{
			name:  "the most exact group: fewest members not observed",
			reqs:  []Request{in("eni-0db1", "10.0.1.10", 6, 5432)},
			group: "sg-0db",
			want:  []string{"tcp 5432 from sg-0app (app) [group-reference]"},
		},
		{
			name:  "several groups cover peers no single group matches",
			reqs:  []Request{in("eni-0db1", "10.0.0.10", 6, 5432), in("eni-0db1", "10.0.0.20", 6, 5432)},
			group: "sg-0db",
			want:  []string{"tcp 5432 from sg-0bastion (bastion) [group-reference]", "tcp 5432 from sg-0web (web) [group-reference]"},
		},
		{
			name:  "interface without groups is a CIDR",
			reqs:  []Request{in("eni-0db1", "10.0.0.5", 6, 5432)},
			group: "sg-0db",
			want:  []string{"tcp 5432 from 10.0.0.5/32 [cidr]"},
		},
		{
			name:  "prefix list covering the peers",
			reqs:  []Request{in("eni-0bastion", "192.168.100.7", 6, 22), in("eni-0bastion", "192.168.101.9", 6, 22)},
			group: "sg-0bastion",
			want:  []string{"tcp 22 from pl-0c0de [prefix-list]"},
		},
		{
			name:  "prefix list wider than the limit is not used",
			opt:   Options{PrefixListWidestV4: 25},
			reqs:  []Request{in("eni-0bastion", "192.168.100.7", 6, 22)},
			group: "sg-0bastion",
			want:  []string{"tcp 22 from 192.168.100.7/32 [cidr]"},
		},
		{
			name:  "internet-wide service on its port only",
			reqs:  append(internet("eni-0web1", 443, 20), in("eni-0web1", "20.0.0.7", 6, 8443)),
			group: "sg-0web",
			want:  []string{"tcp 443 from 0.0.0.0/0 [internet-wide]", "tcp 8443 from 20.0.0.7/32 [cidr]"},
		},
		{
			name:  "IPv6 seen: ::/0 beside 0.0.0.0/0",
			reqs:  append(internet("eni-0web1", 443, 20), in("eni-0web1", "2001:db8:5::1", 6, 443)),
			group: "sg-0web",
			want:  []string{"tcp 443 from 0.0.0.0/0 [internet-wide]", "tcp 443 from ::/0 [internet-wide]"},
		},
		{
			name:  "below the internet-wide threshold: exact CIDRs",
			opt:   Options{InternetWideNets: 100},
			reqs:  internet("eni-0web1", 443, 3),
			group: "sg-0web",
			want: []string{"tcp 443 from 20.0.0.7/32 [cidr]", "tcp 443 from 21.0.1.7/32 [cidr]",
				"tcp 443 from 22.0.2.7/32 [cidr]"},
		},
		{
			name:  "private peers outside the model stay CIDRs beside an internet-wide rule",
			reqs:  append(internet("eni-0web1", 443, 20), in("eni-0web1", "172.16.5.5", 6, 443)),
			group: "sg-0web",
			want:  []string{"tcp 443 from 0.0.0.0/0 [internet-wide]", "tcp 443 from 172.16.5.5/32 [cidr]"},
		},
		{
			name: "aggregation widens to fit the CIDRs per service",
			opt:  Options{MaxCIDRsPerService: 1},
			reqs: []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "52.94.1.20", 6, 443),
				out("eni-0db1", "52.94.3.40", 6, 443)},
			group: "sg-0db", egress: true,
			want: []string{"tcp 443 to 52.94.0.0/22 [cidr]"},
		},
		{
			name:  "aggregation never wider than the widest prefix",
			opt:   Options{MaxCIDRsPerService: 1},
			reqs:  []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "54.1.0.1", 6, 443)},
			group: "sg-0db", egress: true,
			want: []string{"tcp 443 to 52.94.0.10/32 [cidr]", "tcp 443 to 54.1.0.1/32 [cidr]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := rules(recommend(t, tc.opt, tc.reqs...), tc.group, tc.egress)
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("(-got +want)\n%s", diff)
			}
		})
	}
}

// TestGroupReferenceReason checks that the chosen group says why it won.
func TestGroupReferenceReason(t *testing.T) {
	rec := recommend(t, Options{}, in("eni-0db1", "10.0.1.10", 6, 5432))
	got := rec.Groups[slices.IndexFunc(rec.Groups, func(g GroupProposal) bool { return g.ID == "sg-0db" })].Ingress[0].Reason
	want := "peers are interfaces of sg-0app (app): 1 of its 2 member interface(s) observed, 1 not; preferred over " +
		"sg-0internal (internal) (1 of 5 observed)"
	if got != want {
		t.Errorf("reason\n got %q\nwant %q", got, want)
	}
}

// TestCollapse covers rule 5.
func TestCollapse(t *testing.T) {
	span := func(from, to int32, skip int32) []int32 {
		var out []int32
		for p := from; p <= to; p++ {
			if skip == 0 || (p-from)%skip != skip-1 {
				out = append(out, p)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		opt   Options
		ports []int32
		want  []portRange
	}{
		{"consecutive ports merge", Options{}, []int32{8080, 8081, 8082}, []portRange{{8080, 8082, 3}}},
		{"gap within PortGap", Options{}, []int32{8080, 8083}, []portRange{{8080, 8083, 2}}},
		{"gap wider than PortGap", Options{}, []int32{8080, 8084}, []portRange{{8080, 8080, 1}, {8084, 8084, 1}}},
		{"a tenth unobserved over a wide run", Options{}, span(30000, 30199, 10), []portRange{{30000, 30198, 180}}},
		{"never over an unobserved sensitive port", Options{}, []int32{3305, 3307}, []portRange{{3305, 3305, 1}, {3307, 3307, 1}}},
		{"an observed sensitive port merges", Options{}, []int32{3305, 3306, 3307}, []portRange{{3305, 3307, 3}}},
		{"negative gaps collapse nothing unseen", Options{PortGap: -1, PortGapFraction: -1}, []int32{8080, 8081, 8083},
			[]portRange{{8080, 8081, 2}, {8083, 8083, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opt.withDefaults()
			got := o.collapse(tc.ports)
			if diff := cmp.Diff(got, tc.want, cmp.AllowUnexported(portRange{})); diff != "" {
				t.Errorf("(-got +want)\n%s", diff)
			}
		})
	}
}

// TestICMP covers rule 6: ICMP and ICMPv6 by protocol, all types, said so.
func TestICMP(t *testing.T) {
	rec := recommend(t, Options{}, in("eni-0web2", "172.16.0.9", vpc.ProtoICMP, 0), in("eni-0web2", "2001:db8:6::1", vpc.ProtoICMPv6, 0))
	want := []string{"icmp all from 172.16.0.9/32 [cidr]", "icmpv6 all from 2001:db8:6::1/128 [cidr]"}
	if diff := cmp.Diff(rules(rec, "sg-0web", false), want); diff != "" {
		t.Errorf("rules (-got +want)\n%s", diff)
	}
	for _, r := range rec.Groups[slices.IndexFunc(rec.Groups, func(g GroupProposal) bool { return g.ID == "sg-0web" })].Ingress {
		if r.FromPort != -1 || r.ToPort != -1 || !strings.Contains(r.Reason, icmpReason) {
			t.Errorf("%s: ports %d/%d, reason %q: want -1/-1 and %q", r.String(), r.FromPort, r.ToPort, r.Reason, icmpReason)
		}
	}
	wantNACL := []string{"100 allow icmp 172.16.0.9/32 [cidr]", "110 allow icmpv6 2001:db8:6::1/128 [cidr]"}
	if diff := cmp.Diff(entries(rec, "acl-0pub", false), wantNACL); diff != "" {
		t.Errorf("NACL inbound (-got +want)\n%s", diff)
	}
}

// TestQuota covers rule 7: widen CIDRs, then merge ports, then report.
func TestQuota(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		reqs     []Request
		want     []string
		findings []FindingKind
	}{
		{
			name: "CIDRs widened first, narrowest merge first",
			opt:  Options{MaxRules: 2},
			reqs: []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "52.94.1.20", 6, 443),
				out("eni-0db1", "52.94.2.30", 6, 443), out("eni-0db1", "52.94.3.40", 6, 443)},
			want:     []string{"tcp 443 to 52.94.0.0/23 [cidr]", "tcp 443 to 52.94.2.0/23 [cidr]"},
			findings: []FindingKind{FindingQuotaMerge},
		},
		{
			name: "then port ranges merged, fewest unobserved ports first",
			opt:  Options{MaxRules: 2},
			reqs: []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "52.94.0.10", 6, 8443),
				out("eni-0db1", "52.94.0.10", 6, 8543)},
			want:     []string{"tcp 443 to 52.94.0.10/32 [cidr]", "tcp 8443-8543 to 52.94.0.10/32 [cidr]"},
			findings: []FindingKind{FindingQuotaMerge},
		},
		{
			name: "never merged over an unobserved sensitive port",
			opt:  Options{MaxRules: 2},
			reqs: []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "52.94.0.10", 6, 8443),
				out("eni-0db1", "52.94.0.10", 6, 9443)}, // 9200 and 9300 (Elasticsearch) lie between
			want: []string{"tcp 443 to 52.94.0.10/32 [cidr]", "tcp 8443 to 52.94.0.10/32 [cidr]",
				"tcp 9443 to 52.94.0.10/32 [cidr]"},
			findings: []FindingKind{FindingQuotaExceeded},
		},
		{
			name:     "still over: reported, nothing dropped",
			opt:      Options{MaxRules: 1},
			reqs:     []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "54.1.0.1", 6, 443)},
			want:     []string{"tcp 443 to 52.94.0.10/32 [cidr]", "tcp 443 to 54.1.0.1/32 [cidr]"},
			findings: []FindingKind{FindingQuotaExceeded},
		},
		{
			name:     "IPv4 and IPv6 counted separately",
			opt:      Options{MaxRules: 1},
			reqs:     []Request{out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "2001:db8:1::1", 6, 443)},
			want:     []string{"tcp 443 to 52.94.0.10/32 [cidr]", "tcp 443 to 2001:db8:1::1/128 [cidr]"},
			findings: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := recommend(t, tc.opt, tc.reqs...)
			if diff := cmp.Diff(rules(rec, "sg-0db", true), tc.want); diff != "" {
				t.Errorf("rules (-got +want)\n%s", diff)
			}
			var got []FindingKind
			for _, f := range rec.Findings {
				if f.Resource == "sg-0db" && (f.Kind == FindingQuotaMerge || f.Kind == FindingQuotaExceeded) {
					got = append(got, f.Kind)
				}
			}
			if diff := cmp.Diff(got, tc.findings); diff != "" {
				t.Errorf("findings (-got +want)\n%s", diff)
			}
		})
	}
}

// TestNoEvidence covers rule 9: groups and NACLs without traffic keep their rules.
func TestNoEvidence(t *testing.T) {
	rec, err := Recommend(loadScenario(t), scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	idle := rec.Groups[slices.IndexFunc(rec.Groups, func(g GroupProposal) bool { return g.ID == "sg-0idle" })]
	if !idle.KeptIngress || !idle.KeptEgress {
		t.Errorf("sg-0idle kept ingress %v egress %v, want both", idle.KeptIngress, idle.KeptEgress)
	}
	want := []string{"tcp 9000 from 10.0.0.0/16 [kept-no-evidence]", "tcp 9001 from sg-0empty (empty) [kept-no-evidence]"}
	if diff := cmp.Diff(rules(rec, "sg-0idle", false), want); diff != "" {
		t.Errorf("sg-0idle ingress (-got +want)\n%s", diff)
	}
	if diff := cmp.Diff(rules(rec, "sg-0idle", true), []string{"all to 0.0.0.0/0 [kept-no-evidence]"}); diff != "" {
		t.Errorf("sg-0idle egress (-got +want)\n%s", diff)
	}
	wantSpare := []string{"100 allow all 0.0.0.0/0 [kept-no-evidence]", "101 allow all ::/0 [kept-no-evidence]"}
	if diff := cmp.Diff(entries(rec, "acl-0spare", false), wantSpare); diff != "" {
		t.Errorf("acl-0spare inbound (-got +want)\n%s", diff)
	}
	gotKinds := map[FindingKind][]string{}
	for _, f := range rec.Findings {
		if f.Kind == FindingNoEvidence || f.Kind == FindingCoveredElsewhere || f.Kind == FindingInactiveENI {
			gotKinds[f.Kind] = append(gotKinds[f.Kind], f.Resource)
		}
	}
	wantKinds := map[FindingKind][]string{
		FindingNoEvidence:       {"acl-0spare", "acl-0spare", "sg-0empty", "sg-0empty", "sg-0idle", "sg-0idle"},
		FindingCoveredElsewhere: {"sg-0internal"},
	}
	if diff := cmp.Diff(gotKinds, wantKinds); diff != "" {
		t.Errorf("findings (-got +want)\n%s", diff)
	}

	// web2 shares sg-0web with web1 but had no ingress request: its group's proposal was learned without it.
	rec = recommend(t, Options{}, in("eni-0web1", "20.0.0.7", 6, 443), out("eni-0web2", "20.0.0.7", 6, 443))
	// (web1 keeps its egress through sg-0internal, whose members made no egress request: kept, so no finding.)
	want = []string{"eni-0web2: no accepted ingress request in the window, but its groups [sg-0web] get proposals learned from " +
		"their other members: check what it does before enforcing"}
	if diff := cmp.Diff(kinds(rec, FindingInactiveENI), want); diff != "" {
		t.Errorf("inactive interfaces (-got +want)\n%s", diff)
	}
}

// TestUnproven covers rule 9's evidence thresholds.
func TestUnproven(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		req      Request
		proposed bool
	}{
		{"one flow is below MinFlows", Options{}, req("eni-0db1", vpc.Egress, "52.94.0.10", 6, 443, 1, 1), false},
		{"two flows on one day is enough by default", Options{}, req("eni-0db1", vpc.Egress, "52.94.0.10", 6, 443, 2, 1), true},
		{"two days below MinWindows 3", Options{MinWindows: 3}, req("eni-0db1", vpc.Egress, "52.94.0.10", 6, 443, 50, 2), false},
		{"MinFlows raised", Options{MinFlows: 100}, req("eni-0db1", vpc.Egress, "52.94.0.10", 6, 443, 50, 5), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// db1 also talks to a proven peer, so its egress has evidence and is not kept.
			rec := recommend(t, tc.opt, tc.req, req("eni-0db1", vpc.Egress, "52.94.9.9", 6, 80, 500, 5))
			got := slices.Contains(rules(rec, "sg-0db", true), "tcp 443 to 52.94.0.10/32 [cidr]")
			unproven := slices.ContainsFunc(rec.Unproven.Rules, func(r Rule) bool { return r.String() == "tcp 443 to 52.94.0.10/32" })
			if got != tc.proposed || unproven == tc.proposed {
				t.Errorf("proposed %v, unproven %v; want proposed %v", got, unproven, tc.proposed)
			}
		})
	}
}

// TestNeverFiltered covers rule 10.
func TestNeverFiltered(t *testing.T) {
	reqs := []Request{
		out("eni-0app1", "10.0.0.2", vpc.ProtoUDP, 53),
		out("eni-0app1", "169.254.169.253", vpc.ProtoUDP, 53),
		out("eni-0app1", "169.254.169.254", vpc.ProtoTCP, 80),
		out("eni-0app1", "169.254.169.123", vpc.ProtoUDP, 123),
		out("eni-0web1", "fd00:ec2::254", vpc.ProtoTCP, 80),
		out("eni-0app1", "255.255.255.255", vpc.ProtoUDP, 67),
		out("eni-0app1", "10.0.1.1", vpc.ProtoUDP, 67),
		out("eni-0app1", "169.254.169.250", vpc.ProtoTCP, 1688),
		out("eni-0app1", "52.94.0.10", vpc.ProtoTCP, 443),
	}
	rec := recommend(t, Options{}, reqs...)
	var got []string
	for _, n := range rec.NeverFiltered {
		got = append(got, fmt.Sprintf("%s %v %d/%d: %s", n.ENI, n.Peer, n.Proto, n.Port, n.Service))
	}
	want := []string{
		"eni-0app1 10.0.0.2 17/53: Amazon DNS resolver (base + 2)",
		"eni-0app1 10.0.1.1 17/67: DHCP",
		"eni-0app1 169.254.169.123 17/123: Amazon Time Sync",
		"eni-0app1 169.254.169.250 6/1688: Windows license activation",
		"eni-0app1 169.254.169.253 17/53: Amazon DNS resolver",
		"eni-0app1 169.254.169.254 6/80: instance metadata",
		"eni-0app1 255.255.255.255 17/67: DHCP",
		"eni-0web1 fd00:ec2::254 6/80: instance metadata",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("never filtered (-got +want)\n%s", diff)
	}
	if diff := cmp.Diff(rules(rec, "sg-0app", true), []string{"tcp 443 to 52.94.0.10/32 [cidr]"}); diff != "" {
		t.Errorf("sg-0app egress (-got +want)\n%s", diff)
	}
}

// TestCurrentFindings covers rule 11.
func TestCurrentFindings(t *testing.T) {
	obs := scenarioTraffic()
	obs.RuleHits = []RuleHit{{Resource: "sg-0db", RuleID: "sg-0db/ingress/0", Hits: 0}, {Resource: "sg-0web", RuleID: "sg-0web/ingress/0", Hits: 90},
		{Resource: "acl-0pub", RuleID: "50", Hits: 0}}
	rec, err := Recommend(loadScenario(t), obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[FindingKind][]string{}
	for _, f := range rec.Findings {
		switch f.Kind {
		case FindingUnused, FindingWorldSensitive, FindingShadowed, FindingStaleReference:
			got[f.Kind] = append(got[f.Kind], f.Resource+" "+f.Rule)
		case FindingOverBroad:
			if f.Resource == "sg-0bastion" || f.Resource == "sg-0web" {
				got[f.Kind] = append(got[f.Kind], f.Resource+" "+f.Rule)
			}
		}
	}
	want := map[FindingKind][]string{
		FindingUnused: {"acl-0pub inbound 50", "sg-0db sg-0db/ingress/0 tcp 5432 from 10.0.0.0/16"},
		FindingWorldSensitive: {"sg-0bastion sg-0bastion/ingress/0 tcp 22 from 0.0.0.0/0",
			"sg-0web sg-0web/ingress/0 tcp all from 0.0.0.0/0", "sg-0web sg-0web/ingress/1 tcp all from ::/0",
			"sg-0web sg-0web/ingress/2 tcp 22 from 0.0.0.0/0"},
		FindingShadowed: {"acl-0pub inbound 150"},
		FindingStaleReference: {"sg-0db sg-0db/ingress/1 tcp 3306 from sg-0gone",
			"sg-0idle sg-0idle/ingress/1 tcp 9001 from sg-0empty"},
		FindingOverBroad: {"sg-0bastion sg-0bastion/egress/0 all to 0.0.0.0/0", "sg-0bastion sg-0bastion/ingress/0 tcp 22 from 0.0.0.0/0",
			"sg-0web sg-0web/egress/0 all to 0.0.0.0/0", "sg-0web sg-0web/egress/1 all to ::/0",
			"sg-0web sg-0web/ingress/1 tcp all from ::/0", "sg-0web sg-0web/ingress/2 tcp 22 from 0.0.0.0/0"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("findings (-got +want)\n%s", diff)
	}
}

// TestLearning covers rule 13.
func TestLearning(t *testing.T) {
	early := in("eni-0db1", "10.0.1.10", 6, 5432)
	late := in("eni-0db1", "10.0.1.11", 6, 5432)
	late.FirstSeen, late.LastSeen, late.Windows = t0+7*DaySeconds-600, t0+7*DaySeconds-60, week.Bit(t0+7*DaySeconds-600)
	sameENI := in("eni-0db1", "10.0.1.10", 6, 5432) // a repeat of the early pair: not new
	sameENI.FirstSeen = t0 + 3*DaySeconds
	rec := recommend(t, Options{}, early, late, sameENI)
	l := rec.Groups[slices.IndexFunc(rec.Groups, func(g GroupProposal) bool { return g.ID == "sg-0db" })].Learning
	want := Learning{Pairs: 2, Curve: [10]int{1, 0, 0, 0, 0, 0, 0, 0, 0, 1}, FirstTenth: 1, LastTenth: 1,
		Verdict: "still learning: 1 new pair(s) in the last tenth vs 1 in the first; consider a longer window before enforcing"}
	if diff := cmp.Diff(l, want); diff != "" {
		t.Errorf("(-got +want)\n%s", diff)
	}
}

// TestGoldenRecommendation pins the whole recommendation for the scenario (go test -update rewrites it).
func TestGoldenRecommendation(t *testing.T) {
	rec, err := Recommend(loadScenario(t), scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "recommendation.json", append(b, '\n'))
}

// TestMirrorRejected: a request accepted by the sender is mirrored to the receiving interface only when the
// receiver did not reject it (Observations.Rejected); the receiver's own accepted records win either way.
func TestMirrorRejected(t *testing.T) {
	ping := out("eni-0bastion", "10.0.1.10", vpc.ProtoICMP, 0)
	app := in("eni-0app1", "10.0.0.10", vpc.ProtoTCP, 8080)
	rejected := []Rejection{{ENI: "eni-0app1", Peer: addr("10.0.0.20"), Proto: vpc.ProtoICMP, Flows: 20, Example: "flows.log:3"}}
	tests := []struct {
		name     string
		reqs     []Request
		rejected []Rejection
		learned  bool
	}{
		{"not rejected at the receiver: mirrored", []Request{ping, app}, nil, true},
		{"rejected at the receiver: not mirrored", []Request{ping, app}, rejected, false},
		{"rejected, but the receiver also accepted it: learned", []Request{ping, app, in("eni-0app1", "10.0.0.20", vpc.ProtoICMP, 0)}, rejected, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Recommend(loadScenario(t), &Observations{Window: week, Requests: tc.reqs, Rejected: tc.rejected}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			entry := slices.ContainsFunc(entries(rec, "acl-0default", false), func(e string) bool { return strings.Contains(e, "allow icmp 10.0.0.0/24") })
			rule := false
			for _, g := range rec.Groups {
				if g.ID == "sg-0app" || g.ID == "sg-0internal" {
					rule = rule || slices.ContainsFunc(g.Ingress, func(r Rule) bool { return r.Proto == vpc.ProtoICMP && r.Basis != BasisKept })
				}
			}
			if entry != tc.learned || rule != tc.learned {
				t.Errorf("app NACL icmp entry %v, app ingress icmp rule %v; want %v\n%s", entry, rule, tc.learned,
					strings.Join(entries(rec, "acl-0default", false), "\n"))
			}
			// the sender's side is its own: the bastion's egress is learned either way
			if !slices.ContainsFunc(entries(rec, "acl-0pub", true), func(e string) bool { return strings.Contains(e, "allow icmp 10.0.1.0/24") }) {
				t.Errorf("acl-0pub outbound lacks the bastion's icmp: %q", entries(rec, "acl-0pub", true))
			}
		})
	}
}
