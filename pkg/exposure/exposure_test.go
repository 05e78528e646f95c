package exposure

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// The test VPC: the interface under test, eni-x (10.0.1.10), in sg-x in subnet 10.0.1.0/24 behind acl-x;
// sg-ref's two members (10.0.2.5, 10.0.2.6) in 10.0.2.0/24; prefix list pl-1 with two /24s.

func rule(proto int16, from, to int32, peer string) *vpc.SGRule {
	return &vpc.SGRule{Proto: proto, FromPort: from, ToPort: to, Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix(peer)}
}

func entry(n int, action vpc.RuleAction, proto int16, from, to uint16, peer string) vpc.NACLEntry {
	return vpc.NACLEntry{RuleNumber: n, Action: action, Proto: proto, PortFrom: from, PortTo: to,
		Prefix: netip.MustParsePrefix(peer), ICMPType: -1, ICMPCode: -1}
}

var allowAll = []vpc.NACLEntry{entry(100, vpc.Allow, -1, 0, 0, "0.0.0.0/0"), entry(101, vpc.Allow, -1, 0, 0, "::/0")}

// testModel builds the test VPC with sg-x's rules in one direction and acl-x's entries in that direction
// (the other direction allows everything). groups false leaves eni-x without groups.
func testModel(t *testing.T, egress, groups bool, rules []*vpc.SGRule, entries []vpc.NACLEntry) *vpc.Model {
	t.Helper()
	sgx := &vpc.SecurityGroup{ID: "sg-x", VpcID: "vpc-1"}
	acl := &vpc.NACL{ID: "acl-x", VpcID: "vpc-1", Inbound: entries, Outbound: allowAll}
	for i := range entries {
		entries[i].Egress = egress
	}
	if egress {
		sgx.Egress = rules
		acl.Inbound, acl.Outbound = allowAll, entries
	} else {
		sgx.Ingress = rules
	}
	def := &vpc.NACL{ID: "acl-def", VpcID: "vpc-1", IsDefault: true, Inbound: allowAll, Outbound: allowAll}
	eni := func(id, subnet, addr string, groups ...string) *vpc.ENI {
		a := netip.MustParseAddr(addr)
		return &vpc.ENI{ID: id, SubnetID: subnet, VpcID: "vpc-1", Primary: a, Addrs: []netip.Addr{a}, GroupIDs: groups}
	}
	x := eni("eni-x", "subnet-x", "10.0.1.10", "sg-x")
	if !groups {
		x.GroupIDs = nil
	}
	m := &vpc.Model{
		Subnets: map[string]*vpc.Subnet{
			"subnet-x":   {ID: "subnet-x", VpcID: "vpc-1", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")}, NACL: acl, NACLExplicit: true},
			"subnet-ref": {ID: "subnet-ref", VpcID: "vpc-1", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.2.0/24")}},
		},
		NACLs:  map[string]*vpc.NACL{"acl-x": acl, "acl-def": def},
		Groups: map[string]*vpc.SecurityGroup{"sg-x": sgx, "sg-ref": {ID: "sg-ref", VpcID: "vpc-1"}},
		ENIs: map[string]*vpc.ENI{"eni-x": x, "eni-r1": eni("eni-r1", "subnet-ref", "10.0.2.5", "sg-ref"),
			"eni-r2": eni("eni-r2", "subnet-ref", "10.0.2.6", "sg-ref")},
		PrefixLists: map[string][]netip.Prefix{"pl-1": {netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24")}},
	}
	if err := m.Compile(); err != nil {
		t.Fatalf("compile: %v", err)
	}
	return m
}

func TestModel(t *testing.T) {
	const all4 = int64(1) << 32
	tests := []struct {
		name    string
		egress  bool
		noSG    bool
		rules   []*vpc.SGRule
		entries []vpc.NACLEntry
		want    Size
	}{
		{name: "0.0.0.0/0 tcp 443 behind a NACL that denies one /24",
			rules:   []*vpc.SGRule{rule(6, 443, 443, "0.0.0.0/0")},
			entries: []vpc.NACLEntry{entry(50, vpc.Deny, -1, 0, 0, "203.0.113.0/24"), entry(100, vpc.Allow, -1, 0, 0, "0.0.0.0/0")},
			want:    Size{V4: all4 - 256}},
		{name: "the first match decides: an earlier allow wins over a later deny",
			rules:   []*vpc.SGRule{rule(6, 443, 443, "0.0.0.0/0")},
			entries: []vpc.NACLEntry{entry(50, vpc.Allow, 6, 443, 443, "0.0.0.0/0"), entry(60, vpc.Deny, -1, 0, 0, "203.0.113.0/24")},
			want:    Size{V4: all4}},
		{name: "a peer inside the subnet bypasses the NACL",
			rules:   []*vpc.SGRule{rule(6, 22, 22, "10.0.0.0/16")},
			entries: []vpc.NACLEntry{entry(100, vpc.Allow, 6, 22, 22, "10.0.2.0/24")}, // 10.0.1.0/24 is local
			want:    Size{V4: 256 + 256}},
		{name: "egress: the outbound entries decide",
			egress:  true,
			rules:   []*vpc.SGRule{rule(6, 443, 443, "0.0.0.0/0")},
			entries: []vpc.NACLEntry{entry(100, vpc.Allow, 6, 443, 443, "10.128.0.0/9")},
			want:    Size{V4: 1<<23 + 256}},
		{name: "all protocols behind an allow-all NACL",
			rules:   []*vpc.SGRule{rule(-1, -1, -1, "10.9.0.0/24")},
			entries: allowAll,
			want:    Size{V4: 256 * AllProtocolsUnits}},
		{name: "all protocols behind a NACL that allows only TCP",
			rules:   []*vpc.SGRule{rule(-1, -1, -1, "10.9.0.0/24")},
			entries: []vpc.NACLEntry{entry(100, vpc.Allow, 6, 0, 65535, "0.0.0.0/0")},
			want:    Size{V4: 256 * 65536}},
		{name: "the NACL cuts the ports",
			rules:   []*vpc.SGRule{rule(6, 0, 65535, "10.9.0.0/24")},
			entries: []vpc.NACLEntry{entry(100, vpc.Allow, 6, 1024, 65535, "0.0.0.0/0")},
			want:    Size{V4: 256 * (65536 - 1024)}},
		{name: "ICMP counts one unit per address, whatever the type",
			rules:   []*vpc.SGRule{rule(1, 8, -1, "10.9.0.7/32")},
			entries: allowAll,
			want:    Size{V4: 1}},
		{name: "another protocol counts one unit per address",
			rules:   []*vpc.SGRule{rule(47, -1, -1, "10.9.0.0/30")},
			entries: allowAll,
			want:    Size{V4: 4}},
		{name: "IPv6 ::/0 on one port",
			rules:   []*vpc.SGRule{rule(6, 443, 443, "::/0")},
			entries: allowAll,
			want:    Size{V6: 0x1p128}},
		{name: "IPv4 NACL entries never admit IPv6 peers",
			rules:   []*vpc.SGRule{rule(6, 443, 443, "::/0")},
			entries: []vpc.NACLEntry{entry(100, vpc.Allow, -1, 0, 0, "0.0.0.0/0")},
			want:    Size{}},
		{name: "two overlapping rules count once",
			rules:   []*vpc.SGRule{rule(6, 80, 81, "10.9.0.0/24"), rule(6, 81, 82, "10.9.0.0/25")},
			entries: allowAll,
			want:    Size{V4: 256 + 256 + 128}},
		{name: "a referenced group counts its members' addresses",
			rules:   []*vpc.SGRule{{Proto: 6, FromPort: 5432, ToPort: 5432, Peer: vpc.PeerGroup, RefGroupID: "sg-ref"}},
			entries: allowAll,
			want:    Size{V4: 2}},
		{name: "a prefix list counts its entries, less what the NACL denies",
			rules:   []*vpc.SGRule{{Proto: 6, FromPort: 22, ToPort: 22, Peer: vpc.PeerPrefixList, PrefixListID: "pl-1"}},
			entries: []vpc.NACLEntry{entry(50, vpc.Deny, 6, 22, 22, "192.0.2.0/25"), entry(100, vpc.Allow, -1, 0, 0, "0.0.0.0/0")},
			want:    Size{V4: 512 - 128}},
		{name: "no rules admit nothing",
			entries: allowAll,
			want:    Size{}},
		{name: "an interface without groups is filtered by the NACL only",
			noSG:    true,
			entries: []vpc.NACLEntry{entry(100, vpc.Allow, 6, 443, 443, "0.0.0.0/0")},
			// the NACL's tcp 443 from everywhere, and every unit from the subnet's own 256 addresses
			want: Size{V4: all4 + 256*(AllProtocolsUnits-1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel(t, tc.egress, !tc.noSG, tc.rules, tc.entries)
			x := Model(m)
			var got Size
			for _, i := range x.Interfaces {
				if i.ID == "eni-x" {
					got = i.Ingress
					if tc.egress {
						got = i.Egress
					}
				}
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("(-got +want)\n%s", diff)
			}
			if x.Total != x.Ingress.Plus(x.Egress) {
				t.Errorf("total %v, want ingress %v + egress %v", x.Total, x.Ingress, x.Egress)
			}
		})
	}
}

// TestRules checks that a rule's own exposure ignores the NACL.
func TestRules(t *testing.T) {
	m := testModel(t, false, true, nil, []vpc.NACLEntry{entry(100, vpc.Allow, 6, 443, 443, "10.0.0.0/8")})
	tests := []struct {
		name  string
		rules []*vpc.SGRule
		want  Size
	}{
		{"one port from everywhere", []*vpc.SGRule{rule(6, 443, 443, "0.0.0.0/0")}, Size{V4: 1 << 32}},
		{"TCP and UDP are separate spaces", []*vpc.SGRule{rule(6, 53, 53, "10.1.0.0/24"), rule(17, 53, 53, "10.1.0.0/24")}, Size{V4: 512}},
		{"all protocols from a /8", []*vpc.SGRule{rule(-1, -1, -1, "10.0.0.0/8")}, Size{V4: (1 << 24) * AllProtocolsUnits}},
		{"a group", []*vpc.SGRule{{Proto: 6, FromPort: 1, ToPort: 2, Peer: vpc.PeerGroup, RefGroupID: "sg-ref"}}, Size{V4: 4}},
		{"a stale group admits nothing", []*vpc.SGRule{{Proto: 6, FromPort: 1, ToPort: 2, Peer: vpc.PeerGroup, RefGroupID: "sg-gone"}}, Size{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(Rules(m, tc.rules), tc.want); diff != "" {
				t.Errorf("(-got +want)\n%s", diff)
			}
		})
	}
	if got := (Size{V6: 0x1p144}).Log2V6(); got != 144 {
		t.Errorf("Log2V6 = %v, want 144", got)
	}
}

// TestSample pins the sample: shop-web admits every IPv4 address on 443 and 80 but the 256 its NACL denies,
// and the bastion on port 22; the database interfaces admit shop-app's three addresses on 5432.
func TestSample(t *testing.T) {
	m, err := vpc.LoadPaths("../../samples/shop/topology")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, i := range Model(m).Interfaces {
		got[i.ID] = i.Ingress.V4
	}
	want := map[string]int64{"eni-0e9ef431b1d115683": 2*(1<<32-256) + 1, "eni-0971d0fb3cb55b584": 3}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s ingress v4 %d, want %d", id, got[id], w)
		}
	}
}
