package recommend

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

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
