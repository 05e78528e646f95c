package replay

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// TestWalk: the steps of a packet's walk, in packet order, for each kind of step, and what is read from them.
// testdata/topology.json: eni-1235b8ca123456789 (172.31.16.139, sg-web, subnet-a with acl-a), eni-b (sg-db,
// subnet-b with acl-b), eni-open (sg-open, untracked-capable); acl-a denies tcp 22 from 198.51.100.0/24 (50),
// allows all in (100), and out only tcp, udp, the VPC and IPv6.
func TestWalk(t *testing.T) {
	type step struct{ Layer, Decision, Basis string }
	type want struct {
		Steps        []step
		Layer, Also  string
		Cause        string
		ModelAction  string
		DecidingRule string
	}
	const web = "eni-1235b8ca123456789"
	bpa := flow(web, "203.0.113.12", "172.31.16.139", 50000, 8080, 6, 1000, Reject)
	bpa.BPA = true
	for _, tc := range []struct {
		name  string
		flows []Flow // judged in order on one state; the last one is checked
		want  want
	}{
		{name: "ingress allowed: NACL entry, then an SG rule",
			flows: []Flow{flow(web, "203.0.113.12", "172.31.16.139", 50000, 443, 6, 1000, Accept)},
			want: want{Steps: []step{{"nacl-inbound", "allow", "nacl-entry"}, {"sg-inbound", "allow", "sg-rule"}},
				ModelAction: "ACCEPT"}},
		{name: "ingress: the NACL's deny decides, the SG would block too",
			flows: []Flow{flow(web, "198.51.100.7", "172.31.16.139", 50000, 22, 6, 1000, Reject)},
			want: want{Steps: []step{{"nacl-inbound", "deny", "nacl-entry"}, {"sg-inbound", "deny", "implicit-deny"}},
				ModelAction: "REJECT", Layer: "nacl-inbound", Also: "sg-inbound", Cause: "nacl-explicit-deny", DecidingRule: "50"}},
		{name: "ingress: the NACL allows, no SG rule does",
			flows: []Flow{flow(web, "203.0.113.12", "172.31.16.139", 50000, 8080, 6, 1000, Reject)},
			want: want{Steps: []step{{"nacl-inbound", "allow", "nacl-entry"}, {"sg-inbound", "deny", "implicit-deny"}},
				ModelAction: "REJECT", Layer: "sg-inbound", Cause: "sg-no-matching-rule", DecidingRule: "implicit-deny"}},
		{name: "same subnet: the NACL is not on the path",
			flows: []Flow{flow(web, "172.31.16.21", "172.31.16.139", 50000, 22, 6, 1000, Accept)},
			want: want{Steps: []step{{"nacl-inbound", "not on the path", "same-subnet"}, {"sg-inbound", "allow", "sg-rule"}},
				ModelAction: "ACCEPT"}},
		{name: "egress: the SG comes first; a tracked reply passes it, the NACL's '*' denies it",
			flows: []Flow{
				flow(web, "203.0.113.12", "172.31.16.139", 0, 0, 1, 1000, Accept),
				flow(web, "172.31.16.139", "203.0.113.12", 0, 0, 1, 1001, Reject),
			},
			want: want{Steps: []step{{"sg-outbound", "allow", "conntrack"}, {"nacl-outbound", "deny", "nacl-entry"}},
				ModelAction: "REJECT", Layer: "nacl-outbound", Cause: "nacl-missing-return", DecidingRule: "32767"}},
		{name: "a reply whose request was never seen passes the groups as assumed",
			flows: []Flow{flow(web, "172.31.16.139", "203.0.113.12", 443, 50000, 6, 1000, Accept)},
			want: want{Steps: []step{{"sg-outbound", "allow", "conntrack-assumed"}, {"nacl-outbound", "allow", "nacl-entry"}},
				ModelAction: "ACCEPT"}},
		{name: "egress request to a port no outbound rule allows",
			flows: []Flow{flow(web, "172.31.16.139", "203.0.113.12", 50000, 8080, 6, 1000, Reject)},
			want: want{Steps: []step{{"sg-outbound", "deny", "implicit-deny"}, {"nacl-outbound", "allow", "nacl-entry"}},
				ModelAction: "REJECT", Layer: "sg-outbound", Cause: "sg-no-matching-rule", DecidingRule: "implicit-deny"}},
		{name: "Block Public Access is a first step of its own",
			flows: []Flow{bpa},
			want: want{Steps: []step{{"bpa", "deny", "block-public-access"}, {"nacl-inbound", "allow", "nacl-entry"},
				{"sg-inbound", "deny", "implicit-deny"}},
				ModelAction: "REJECT", Layer: "bpa", Also: "sg-inbound", Cause: "block-public-access"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(loadModel(t), Config{})
			st := e.NewState()
			var v Verdict
			for i := range tc.flows {
				v = e.Judge(st, &tc.flows[i])
			}
			got := want{Layer: v.Layer.String(), Also: v.Also.String(), ModelAction: v.ModelAction.String(),
				DecidingRule: v.Rule()}
			if v.Cause != CauseNone {
				got.Cause = v.Cause.String()
			}
			for _, s := range v.Path.Steps() {
				got.Steps = append(got.Steps, step{s.Layer.String(), s.Decision.String(), s.Basis.String()})
			}
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("(-got +want):\n%s", d)
			}
		})
	}
}

// causeTopology: one interface (10.0.1.10) whose NACL denies TCP replies from 192.0.2.0/24 explicitly and lets
// replies out only to 203.0.113.0/24, and whose group allows 443 in from 10.0.0.0/8 only and 443 out to two
// networks only.
const causeTopology = `{
  "Subnets": [{"SubnetId": "subnet-c", "VpcId": "vpc-c", "CidrBlock": "10.0.1.0/24"}],
  "NetworkAcls": [{"NetworkAclId": "acl-c", "VpcId": "vpc-c", "IsDefault": true, "Associations": [{"SubnetId": "subnet-c"}],
    "Entries": [
      {"RuleNumber": 50, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "192.0.2.0/24", "PortRange": {"From": 1024, "To": 65535}},
      {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}},
      {"RuleNumber": 110, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 22, "To": 22}},
      {"RuleNumber": 120, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "198.51.100.0/24"},
      {"RuleNumber": 130, "Protocol": "17", "RuleAction": "allow", "Egress": false, "CidrBlock": "192.0.2.0/24", "PortRange": {"From": 1024, "To": 65535}},
      {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}},
      {"RuleNumber": 105, "Protocol": "6", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 8443, "To": 8443}},
      {"RuleNumber": 110, "Protocol": "6", "RuleAction": "allow", "Egress": true, "CidrBlock": "203.0.113.0/24", "PortRange": {"From": 1024, "To": 65535}},
      {"RuleNumber": 120, "Protocol": "17", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 53, "To": 53}}]}],
  "SecurityGroups": [{"GroupId": "sg-c", "VpcId": "vpc-c",
    "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    "IpPermissionsEgress": [
      {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "192.0.2.0/24"}, {"CidrIp": "198.51.100.0/24"}]},
      {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}]}],
  "NetworkInterfaces": [{"NetworkInterfaceId": "eni-c", "SubnetId": "subnet-c", "VpcId": "vpc-c",
    "PrivateIpAddress": "10.0.1.10", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.1.10", "Primary": true}],
    "Groups": [{"GroupId": "sg-c"}]}]
}`

// TestCauses: a cause names what the user must change, alike for both directions and both layers; the last
// record of each case is checked (the earlier ones set up its connection).
func TestCauses(t *testing.T) {
	m, err := vpc.Load(map[string][]byte{"causes.json": []byte(causeTopology)})
	if err != nil || m.HasFatal() {
		t.Fatalf("load: %v %v", err, m.Findings)
	}
	const eni, me = "eni-c", "10.0.1.10"
	in := func(src string, sport, dport uint16, proto uint8, at int64) Flow {
		return flow(eni, src, me, sport, dport, proto, at, Reject)
	}
	out := func(dst string, sport, dport uint16, proto uint8, at int64) Flow {
		return flow(eni, me, dst, sport, dport, proto, at, Accept)
	}
	for _, tc := range []struct {
		name  string
		flows []Flow
		layer string
		cause string
	}{
		{"ingress: the service is allowed, not from this source", []Flow{in("203.0.113.5", 50000, 443, 6, 1000)},
			"sg-inbound", "ingress-restricted"},
		{"ingress: no inbound rule for the service", []Flow{in("10.2.2.2", 50000, 22, 6, 1000)},
			"sg-inbound", "sg-no-matching-rule"},
		{"egress: the service is allowed, not to this destination", []Flow{out("203.0.113.9", 50000, 443, 6, 1000)},
			"sg-outbound", "egress-restricted"},
		{"egress: no outbound rule for the service", []Flow{out("192.0.2.7", 50000, 8443, 6, 1000)},
			"sg-outbound", "sg-no-matching-rule"},
		{"ingress request the NACL has no entry for", []Flow{in("10.2.2.2", 50000, 8080, 6, 1000)},
			"nacl-inbound", "nacl-default-deny"},
		{"a reply denied by an explicit NACL entry: the entry, not a missing return rule",
			[]Flow{out("192.0.2.7", 50000, 443, 6, 1000), in("192.0.2.7", 443, 50000, 6, 1001)},
			"nacl-inbound", "nacl-explicit-deny"},
		{"a reply out that no NACL entry allows: a missing return rule",
			[]Flow{flow(eni, "10.2.2.2", me, 50001, 443, 6, 1000, Accept), out("10.2.2.2", 443, 50001, 6, 1001)},
			"nacl-outbound", "nacl-missing-return"},
		{"a reply after its connection idled out, that no rule allows",
			[]Flow{out("192.0.2.53", 40000, 53, 17, 1000), in("192.0.2.53", 53, 40000, 17, 1100)},
			"sg-inbound", "conntrack-expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(m, Config{})
			st := e.NewState()
			var v Verdict
			for i := range tc.flows {
				v = e.Judge(st, &tc.flows[i])
			}
			if got := [2]string{v.Layer.String(), v.Cause.String()}; got != [2]string{tc.layer, tc.cause} {
				t.Errorf("layer, cause = %q, want %q %q", got, tc.layer, tc.cause)
			}
		})
	}
}

// icmpTopology: a NACL that admits ICMP in only as echo replies (type 0; ICMPv6 129), for the replies of
// outbound pings, and a group that allows no ICMP in at all.
const icmpTopology = `{
  "Subnets": [{"SubnetId": "subnet-i", "VpcId": "vpc-i", "CidrBlock": "10.0.2.0/24",
    "Ipv6CidrBlockAssociationSet": [{"Ipv6CidrBlock": "2001:db8:2::/64"}]}],
  "NetworkAcls": [{"NetworkAclId": "acl-i", "VpcId": "vpc-i", "IsDefault": true, "Associations": [{"SubnetId": "subnet-i"}],
    "Entries": [
      {"RuleNumber": 100, "Protocol": "1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": 0, "Code": -1}},
      {"RuleNumber": 101, "Protocol": "58", "RuleAction": "allow", "Egress": false, "Ipv6CidrBlock": "::/0", "IcmpTypeCode": {"Type": 129, "Code": -1}},
      {"RuleNumber": 110, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 443, "To": 443}},
      {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"},
      {"RuleNumber": 101, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "Ipv6CidrBlock": "::/0"}]}],
  "SecurityGroups": [{"GroupId": "sg-i", "VpcId": "vpc-i",
    "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]}],
  "NetworkInterfaces": [{"NetworkInterfaceId": "eni-i", "SubnetId": "subnet-i", "VpcId": "vpc-i",
    "PrivateIpAddress": "10.0.2.10", "PrivateIpAddresses": [{"PrivateIpAddress": "10.0.2.10", "Primary": true}],
    "Ipv6Addresses": [{"Ipv6Address": "2001:db8:2::10"}], "Groups": [{"GroupId": "sg-i"}]}]
}`

// TestICMPTypes: flow logs carry no ICMP type, so a request is taken as an echo request and a reply as an
// echo reply; a NACL that admits only echo replies then blocks inbound pings itself (before, the unknown
// type matched its echo-reply entry and the REJECT was put on the security group), lets the replies of
// outbound pings in, and the step that weighed a type-restricted entry says so.
func TestICMPTypes(t *testing.T) {
	m, err := vpc.Load(map[string][]byte{"icmp.json": []byte(icmpTopology)})
	if err != nil || m.HasFatal() {
		t.Fatalf("load: %v %v", err, m.Findings)
	}
	type got struct {
		Action, Layer, Rule, Cause string
		Inferred                   []string // layers whose step rests on the inferred type
	}
	for _, tc := range []struct {
		name  string
		flows []Flow
		want  got
	}{
		{"an inbound echo request meets no entry for it", []Flow{flow("eni-i", "203.0.113.5", "10.0.2.10", 0, 0, 1, 1000, Reject)},
			got{"REJECT", "nacl-inbound", "32767", "nacl-default-deny", []string{"nacl-inbound"}}},
		{"the reply of an outbound ping is an echo reply", []Flow{
			flow("eni-i", "10.0.2.10", "203.0.113.5", 0, 0, 1, 1000, Accept),
			flow("eni-i", "203.0.113.5", "10.0.2.10", 0, 0, 1, 1001, Accept)},
			got{"ACCEPT", "", "", "", []string{"nacl-inbound"}}},
		{"ICMPv6: an inbound echo request meets no entry for it", []Flow{flow("eni-i", "2001:db8:9::5", "2001:db8:2::10", 0, 0, 58, 1000, Reject)},
			got{"REJECT", "nacl-inbound", "32768", "nacl-default-deny", []string{"nacl-inbound"}}},
		{"TCP never rests on an ICMP type", []Flow{flow("eni-i", "203.0.113.5", "10.0.2.10", 50000, 443, 6, 1000, Accept)},
			got{"ACCEPT", "", "", "", nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(m, Config{})
			st := e.NewState()
			var v Verdict
			for i := range tc.flows {
				v = e.Judge(st, &tc.flows[i])
			}
			g := got{Action: v.ModelAction.String(), Layer: v.Layer.String(), Rule: v.Rule()}
			if v.Cause != CauseNone {
				g.Cause = v.Cause.String()
			}
			for _, s := range v.Path.Steps() {
				if s.ICMPInferred {
					g.Inferred = append(g.Inferred, s.Layer.String())
				}
			}
			if d := cmp.Diff(g, tc.want); d != "" {
				t.Errorf("(-got +want):\n%s", d)
			}
			if s := st.Summary(); s.ICMPTypeInferred != int64(len(tc.want.Inferred)) && len(tc.flows) == 1 {
				t.Errorf("summary: %d verdicts rest on an inferred ICMP type, want %d", s.ICMPTypeInferred, len(tc.want.Inferred))
			}
		})
	}
}
