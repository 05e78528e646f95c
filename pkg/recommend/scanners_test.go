package recommend

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

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
