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

// TestEphemeral covers the return range of rule 8.
func TestEphemeral(t *testing.T) {
	tests := []struct {
		name       string
		cmin, cmax uint16
		from, to   uint16
	}{
		{"unknown client ports: AWS-recommended", 0, 0, 1024, 65535},
		{"Linux clients", 32768, 60999, 32768, 61000},
		{"Windows clients", 49152, 65000, 49152, 65535},
		{"clients spanning both", 33000, 65000, 1024, 65535},
		{"privileged client port (NTP)", 123, 123, 123, 123},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, to, _ := ephemeral(tc.cmin, tc.cmax)
			if from != tc.from || to != tc.to {
				t.Errorf("ephemeral(%d, %d) = %d-%d, want %d-%d", tc.cmin, tc.cmax, from, to, tc.from, tc.to)
			}
		})
	}
}

// TestNACL covers rule 8 on the scenario's public subnet: ordered entries with gaps, the scanner deny first,
// services by subnet CIDR or internet-wide, returns to the ranges the clients used.
func TestNACL(t *testing.T) {
	m := loadScenario(t)
	rec, err := Recommend(m, scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantIn := []string{
		"100 deny all 198.51.100.66/32 [scanner-deny]",
		"110 allow icmp 10.0.1.0/24 [subnet]",
		"120 allow tcp 22-22 192.168.100.7/32 [cidr]",
		"130 allow tcp 22-22 192.168.101.9/32 [cidr]",
		"140 allow tcp 80-80 0.0.0.0/0 [internet-wide]",
		"150 allow tcp 443-443 0.0.0.0/0 [internet-wide]",
		"160 allow tcp 443-443 ::/0 [internet-wide]",
		"170 allow tcp 32768-61000 10.0.1.0/24 [ephemeral-return]",
		"180 allow icmpv6 2001:db8:6::1/128 [cidr]",
	}
	if diff := cmp.Diff(entries(rec, "acl-0pub", false), wantIn); diff != "" {
		t.Errorf("acl-0pub inbound (-got +want)\n%s", diff)
	}
	wantOut := []string{
		"100 allow icmp 10.0.1.0/24 [ephemeral-return]",
		"110 allow tcp 22-22 10.0.1.0/24 [subnet]",
		// covers tcp 8080-8083 to 10.0.1.0/24 and the returns to 192.168.100.7 and 192.168.101.9 (merged here)
		"120 allow tcp 1024-65535 0.0.0.0/0 [ephemeral-return]",
		"130 allow tcp 1024-65535 ::/0 [ephemeral-return]",
		"140 allow icmpv6 2001:db8:6::1/128 [ephemeral-return]",
	}
	if diff := cmp.Diff(entries(rec, "acl-0pub", true), wantOut); diff != "" {
		t.Errorf("acl-0pub outbound (-got +want)\n%s", diff)
	}

	t.Run("quota merges entries", func(t *testing.T) {
		rec := recommend(t, Options{NACLMaxEntries: 1}, out("eni-0db1", "52.94.0.10", 6, 443), out("eni-0db1", "52.94.1.20", 6, 443),
			out("eni-0db1", "52.94.2.30", 6, 443), out("eni-0db1", "52.94.3.40", 6, 443))
		want := []string{"100 allow tcp 443-443 52.94.0.0/22 [cidr]"}
		if diff := cmp.Diff(entries(rec, "acl-0default", true), want); diff != "" {
			t.Errorf("acl-0default outbound (-got +want)\n%s", diff)
		}
		if len(kinds(rec, FindingQuotaMerge)) == 0 {
			t.Error("no quota-merge finding")
		}
	})
}

// TestScanners covers rule 8's scanner handling.
func TestScanners(t *testing.T) {
	probe := func(peer string, ports int) []Rejection {
		var out []Rejection
		for p := 1; p <= ports; p++ {
			out = append(out, Rejection{ENI: "eni-0web1", Peer: addr(peer), Proto: 6, Port: uint16(p), Flows: 2})
		}
		return out
	}
	tests := []struct {
		name     string
		opt      Options
		rejected []Rejection
		scanners []string
		denies   []string
	}{
		{"many ports, never accepted: scanner and deny", Options{}, probe("198.51.100.66", 12),
			[]string{"198.51.100.66"}, []string{"100 deny all 198.51.100.66/32 [scanner-deny]"}},
		{"few ports: not a scanner", Options{}, probe("198.51.100.66", 3), nil, nil},
		{"accepted elsewhere: not a scanner", Options{}, probe("20.0.0.7", 12), nil, nil},
		{"denies turned off: still reported", Options{NoScannerDenies: true}, probe("198.51.100.66", 12),
			[]string{"198.51.100.66"}, nil},
		{"denies bounded, most probing first", Options{MaxScannerDenies: 1},
			append(probe("198.51.100.66", 12), probe("198.51.100.77", 20)...),
			[]string{"198.51.100.77", "198.51.100.66"}, []string{"100 deny all 198.51.100.77/32 [scanner-deny]"}},
		{"inside the subnet: no NACL entry", Options{}, probe("10.0.0.99", 12), []string{"10.0.0.99"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := &Observations{Window: week, Requests: []Request{in("eni-0web1", "20.0.0.7", 6, 443)}, Rejected: tc.rejected}
			rec, err := Recommend(loadScenario(t), obs, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range rec.Scanners {
				got = append(got, s.Peer.String())
			}
			if diff := cmp.Diff(got, tc.scanners); diff != "" {
				t.Errorf("scanners (-got +want)\n%s", diff)
			}
			var denies []string
			for _, e := range entries(rec, "acl-0pub", false) {
				if strings.Contains(e, "deny") {
					denies = append(denies, e)
				}
			}
			if diff := cmp.Diff(denies, tc.denies); diff != "" {
				t.Errorf("denies (-got +want)\n%s", diff)
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

// TestNACLReturnWithRequest: a return entry is judged with the requests it serves. A client whose replies
// fall in their own ephemeral group (here: Windows ports) has its return entry proposed whenever the entry
// admitting its request is, however few its own flows.
func TestNACLReturnWithRequest(t *testing.T) {
	lone := req("eni-0web1", vpc.Ingress, "10.0.1.11", vpc.ProtoTCP, 8080, 1, 1)
	lone.ClientPortMin, lone.ClientPortMax = 49200, 65000
	const ret = "allow tcp 49152-65535 10.0.1.0/24 [ephemeral-return]"
	tests := []struct {
		name     string
		reqs     []Request
		proposed bool
	}{
		{"one flow, request admitted by a subnet entry proven by another client", []Request{in("eni-0web1", "10.0.1.10", vpc.ProtoTCP, 8080), lone}, true},
		{"one flow, request itself unproven", []Request{lone, in("eni-0web1", "10.0.1.10", vpc.ProtoTCP, 9090)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := recommend(t, Options{}, tc.reqs...)
			got := slices.ContainsFunc(entries(rec, "acl-0pub", true), func(e string) bool { return strings.HasSuffix(e, ret) })
			unproven := slices.ContainsFunc(rec.Unproven.Entries, func(e Entry) bool {
				return e.NACLID == "acl-0pub" && e.Egress && e.Basis == BasisEphemeralReturn && e.PortFrom == 49152
			})
			if got != tc.proposed || unproven == tc.proposed {
				t.Errorf("return proposed %v, unproven %v; want proposed %v\n%s", got, unproven, tc.proposed,
					strings.Join(entries(rec, "acl-0pub", true), "\n"))
			}
		})
	}
}

// TestCurrentDenies: explicit deny entries of the current NACL whose sources were only ever rejected are kept
// ahead of the allows, with the rejected records as evidence, unless Options.DropCurrentDenies; a deny that
// accepted traffic crossed, or one dropped on request, is a finding.
func TestCurrentDenies(t *testing.T) {
	rejected := []Rejection{{ENI: "eni-0web1", Peer: addr("203.0.113.9"), Proto: vpc.ProtoTCP, Port: 443, Flows: 5, Example: "flows.log:7"},
		{ENI: "eni-0web1", Peer: addr("203.0.113.10"), Proto: vpc.ProtoTCP, Port: 443, Flows: 2, Example: "flows.log:9"}}
	tests := []struct {
		name     string
		opt      Options
		extra    []Request
		first    string // the first inbound entry of acl-0pub
		flows    int64  // its evidence
		findings int    // current-deny findings
	}{
		{"only rejected: kept ahead of the allows", Options{}, nil, "100 deny all 203.0.113.0/24 [current-deny]", 7, 0},
		{"dropped on request: a finding", Options{DropCurrentDenies: true}, nil, "100 allow tcp 443-443 0.0.0.0/0 [internet-wide]", 20 * 30, 1},
		{"a source in it was accepted: dropped with a finding", Options{}, []Request{in("eni-0web1", "203.0.113.20", vpc.ProtoTCP, 443)},
			"100 allow tcp 443-443 0.0.0.0/0 [internet-wide]", 20 * 31, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := loadScenario(t)
			n := m.NACLs["acl-0pub"]
			n.Inbound = append([]vpc.NACLEntry{{RuleNumber: 50, Action: vpc.Deny, Prefix: netipPrefix("203.0.113.0/24"),
				Proto: vpc.ProtoAll, ICMPType: -1, ICMPCode: -1}}, n.Inbound...)
			obs := &Observations{Window: week, Requests: append(internetClients("eni-0web1", 443, 30), tc.extra...), Rejected: rejected}
			rec, err := Recommend(m, obs, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got := entries(rec, "acl-0pub", false)
			if len(got) == 0 || got[0] != tc.first {
				t.Fatalf("acl-0pub inbound: %q, want first %q", got, tc.first)
			}
			np := rec.NACLs[slices.IndexFunc(rec.NACLs, func(p NACLProposal) bool { return p.ID == "acl-0pub" })]
			if f := np.Inbound[0].Evidence.Flows; f != tc.flows {
				t.Errorf("first entry's evidence: %d flows, want %d", f, tc.flows)
			}
			if f := kinds(rec, FindingCurrentDenyDropped); len(f) != tc.findings {
				t.Errorf("findings %q, want %d", f, tc.findings)
			}
		})
	}
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

// TestNACLCovered: an allow entry that another proposed allow entry covers (family, protocol, ports, prefix)
// could never decide: it is merged into the covering entry, its evidence added there.
func TestNACLCovered(t *testing.T) {
	tests := []struct {
		name string
		reqs []Request
		want []string
	}{
		{"a subnet's return range inside the internet-wide one", append(internetClients("eni-0web1", 443, 30), in("eni-0web1", "10.0.1.10", vpc.ProtoTCP, 8080)),
			[]string{"100 allow tcp 1024-65535 0.0.0.0/0 [ephemeral-return]"}},
		{"nothing covered: both kept", []Request{in("eni-0web1", "192.168.100.7", vpc.ProtoTCP, 22), in("eni-0web1", "10.0.1.10", vpc.ProtoTCP, 8080)},
			[]string{"100 allow tcp 32768-61000 10.0.1.0/24 [ephemeral-return]", "110 allow tcp 32768-61000 192.168.100.7/32 [ephemeral-return]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := recommend(t, Options{}, tc.reqs...)
			if diff := cmp.Diff(entries(rec, "acl-0pub", true), tc.want); diff != "" {
				t.Errorf("acl-0pub outbound (-got +want)\n%s", diff)
			}
			var flows int64
			for _, q := range tc.reqs {
				flows += q.Flows
			}
			np := rec.NACLs[slices.IndexFunc(rec.NACLs, func(p NACLProposal) bool { return p.ID == "acl-0pub" })]
			var got int64
			for _, e := range np.Outbound {
				got += e.Evidence.Flows
			}
			if got != flows {
				t.Errorf("outbound evidence: %d flows, want %d (none lost in merging)", got, flows)
			}
		})
	}
}

// TestProbers covers rule 8b: a source that probed many ports and was mostly rejected is not learned from
// where an open rule let it through, and a current rule that only such sources used is reported.
func TestProbers(t *testing.T) {
	probe := func(peer string, ports int) []Rejection {
		var out []Rejection
		for p := 1000; p < 1000+ports; p++ {
			out = append(out, Rejection{ENI: "eni-0bastion", Peer: addr(peer), Proto: 6, Port: uint16(p), Flows: 3})
		}
		return out
	}
	const admin, prober = "20.0.0.7", "198.51.100.66"
	sshRule := "sg-0bastion/ingress/0 tcp 22 from 0.0.0.0/0"
	tests := []struct {
		name         string
		requests     []Request
		rejected     []Rejection
		sshRules     []string // the proposal's bastion ingress rules for tcp 22
		admitted     []string // scanner-admitted findings (the prober's address)
		scannerOnly  []string // scanner-only-rule findings (the rule)
		wantScanners int
	}{
		{name: "prober admitted by the open SSH rule: not learned, the rule served only scanning",
			requests: []Request{req("eni-0bastion", vpc.Ingress, prober, 6, 22, 1, 1)}, rejected: probe(prober, 12),
			// nothing else was seen: the group keeps its rules (rule 9), the finding says the rule served only scanning
			sshRules: []string{"tcp 22 from 0.0.0.0/0 [kept-no-evidence]"}, admitted: []string{prober}, scannerOnly: []string{sshRule}},
		{name: "an admin uses the rule too: learned from the admin only, no scanner-only finding",
			requests: []Request{req("eni-0bastion", vpc.Ingress, prober, 6, 22, 1, 1), in("eni-0bastion", admin, 6, 22)},
			rejected: probe(prober, 12), sshRules: []string{"tcp 22 from 20.0.0.7/32 [cidr]"}, admitted: []string{prober}},
		{name: "few ports probed: an ordinary client, learned",
			requests: []Request{req("eni-0bastion", vpc.Ingress, prober, 6, 22, 4, 2)}, rejected: probe(prober, 3),
			sshRules: []string{"tcp 22 from 198.51.100.66/32 [cidr]"}},
		{name: "accepted more than rejected: not a prober, learned",
			requests: []Request{req("eni-0bastion", vpc.Ingress, prober, 6, 22, 100, 5)}, rejected: probe(prober, 12),
			sshRules: []string{"tcp 22 from 198.51.100.66/32 [cidr]"}},
		{name: "never accepted: a scanner, not a prober", rejected: probe(prober, 12), wantScanners: 1,
			sshRules: []string{"tcp 22 from 0.0.0.0/0 [kept-no-evidence]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := &Observations{Window: week, Requests: tc.requests, Rejected: tc.rejected,
				RuleHits: []RuleHit{{Resource: "sg-0bastion", RuleID: "sg-0bastion/ingress/0", Hits: 1}}}
			rec, err := Recommend(loadScenario(t), obs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ssh []string
			for _, r := range rules(rec, "sg-0bastion", false) {
				if strings.HasPrefix(r, "tcp 22 ") {
					ssh = append(ssh, r)
				}
			}
			if diff := cmp.Diff(ssh, tc.sshRules); diff != "" {
				t.Errorf("bastion ingress tcp 22 (-got +want)\n%s", diff)
			}
			var admitted, only []string
			for _, f := range rec.Findings {
				switch f.Kind {
				case FindingScannerAdmitted:
					admitted = append(admitted, f.Resource)
				case FindingScannerOnly:
					only = append(only, f.Rule)
				}
			}
			if diff := cmp.Diff(admitted, tc.admitted); diff != "" {
				t.Errorf("scanner-admitted findings (-got +want)\n%s", diff)
			}
			if diff := cmp.Diff(only, tc.scannerOnly); diff != "" {
				t.Errorf("scanner-only-rule findings (-got +want)\n%s", diff)
			}
			if len(rec.Scanners) != tc.wantScanners {
				t.Errorf("%d scanners, want %d", len(rec.Scanners), tc.wantScanners)
			}
		})
	}
}
