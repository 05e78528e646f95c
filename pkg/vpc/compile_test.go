package vpc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// probes are packets every verdict table below evaluates, chosen to hit each kind of rule of testdata/basic.
var probes = []Packet{
	tcp("203.0.113.9", "10.20.0.10", 443),
	tcp("198.51.100.7", "10.20.0.11", 22),
	tcp("10.20.0.11", "10.20.10.20", 8080),
	udp("10.20.10.20", "10.20.10.20", 53),
	tcp("2001:db8::9", webV6, 443),
	icmp("10.20.10.20", "10.20.0.10", 8, 0),
	tcp("10.20.10.20", "10.20.20.30", 5432),
	tcp("203.0.113.1", "10.20.0.11", 3389),
	tcp("10.20.0.1", "10.0.1.5", 22),
}

// verdicts evaluates every probe in both directions on every NACL ("acl in pkt: 100 allow") and every ENI
// ("eni out pkt: RULE-ID" or "deny"), in id order.
func verdicts(m *Model) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(m.NACLs)) {
		for _, dir := range []Direction{Ingress, Egress} {
			for _, p := range probes {
				e := m.NACLs[id].Evaluate(dir, p)
				out = append(out, fmt.Sprintf("%s %s %v>%v:%d: %s %s", id, dir, p.Src, p.Dst, p.DstPort, e.Rule(), e.Action))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m.ENIs)) {
		for _, dir := range []Direction{Ingress, Egress} {
			for _, p := range probes {
				got := "deny"
				if r := m.ENIs[id].EvalSG(dir, p); r != nil {
					got = r.ID + " " + r.Display
				}
				out = append(out, fmt.Sprintf("%s %s %v>%v:%d: %s", id, dir, p.Src, p.Dst, p.DstPort, got))
			}
		}
	}
	return out
}

// reachable returns every object pointer and every NACL entry address reachable from m.
func reachable(m *Model) map[any]bool {
	seen := make(map[any]bool)
	for _, g := range m.Groups {
		for _, r := range append(slices.Clone(g.Ingress), g.Egress...) {
			seen[r] = true
		}
	}
	for _, e := range m.ENIs {
		seen[e] = true
		for _, r := range append(slices.Clone(e.Ingress), e.Egress...) {
			seen[r] = true
		}
	}
	for _, n := range m.NACLs {
		seen[n] = true
		for i := range n.Inbound {
			seen[&n.Inbound[i]] = true
		}
		for i := range n.Outbound {
			seen[&n.Outbound[i]] = true
		}
	}
	for _, s := range m.Subnets {
		seen[s] = true
	}
	return seen
}

func TestClone(t *testing.T) {
	m := basicModel(t)
	c := m.Clone()
	if diff := cmp.Diff(c.Summary(), m.Summary()); diff != "" {
		t.Errorf("clone summary (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(verdicts(c), verdicts(m)); diff != "" {
		t.Errorf("clone verdicts (-got +want):\n%s", diff)
	}
	orig := reachable(m)
	for p := range reachable(c) {
		if orig[p] {
			t.Fatalf("clone shares %T %p with the original", p, p)
		}
	}
	if e := c.ENIByAddr(addr("10.20.0.11")); e != c.ENIs[webENI] {
		t.Errorf("clone ENIByAddr = %p, want the clone's web ENI %p", e, c.ENIs[webENI])
	}
	if s := c.SubnetOf(addr(appV6)); s != c.Subnets["subnet-0aaa1111bbbb22221"] || s.NACL != c.NACLs[privACL] {
		t.Error("clone SubnetOf does not return the clone's subnet, linked to the clone's NACL")
	}
}

// Changing a clone, with or without Compile, never changes the original's verdicts.
func TestCloneIsolation(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Model)
	}{
		{"rule changed in place", func(c *Model) { r := c.Groups[webSG].Ingress[0]; r.FromPort, r.ToPort = 80, 80 }},
		{"rules removed and compiled", func(c *Model) { c.Groups[webSG].Ingress = nil; c.Compile() }},
		{"NACL entry changed in place", func(c *Model) { c.NACLs[privACL].Inbound[0].Prefix = prefix("0.0.0.0/0") }},
		{"NACL entry added and compiled", func(c *Model) {
			n := c.NACLs[defACL]
			n.Inbound = append(n.Inbound, entry(1, false, Deny, "0.0.0.0/0", ProtoAll, 0, 0))
			c.Compile()
		}},
		{"group membership changed and compiled", func(c *Model) { c.ENIs[webENI].GroupIDs = nil; c.Compile() }},
		{"NACL removed and compiled", func(c *Model) { c.NACLs[privACL] = nil; c.Compile() }},
		{"prefix list emptied and compiled", func(c *Model) { c.PrefixLists[plCorp] = nil; c.Compile() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := basicModel(t)
			want, wantFindings := verdicts(m), slices.Clone(m.Findings)
			c := m.Clone()
			tt.change(c)
			if diff := cmp.Diff(verdicts(m), want); diff != "" {
				t.Errorf("original verdicts changed (-got +want):\n%s", diff)
			}
			if cmp.Equal(verdicts(c), want) {
				t.Error("the change made no difference to the clone: the case tests nothing")
			}
			if diff := cmp.Diff(m.Findings, wantFindings); diff != "" {
				t.Errorf("original findings changed (-got +want):\n%s", diff)
			}
		})
	}
}

// probe is one expected verdict: a NACL's deciding entry ("100 allow") or an ENI's deciding rule id ("" for
// the implicit deny).
type probe struct {
	nacl, eni string
	dir       Direction
	pkt       Packet
	want      string
}

func (p probe) eval(m *Model) string {
	if p.nacl != "" {
		e := m.NACLs[p.nacl].Evaluate(p.dir, p.pkt)
		return e.Rule() + " " + e.Action.String()
	}
	if r := m.ENIs[p.eni].EvalSG(p.dir, p.pkt); r != nil {
		return r.ID
	}
	return ""
}

func TestCandidatePolicy(t *testing.T) {
	const sub2 = "subnet-0aaa1111bbbb22222"
	tests := []struct {
		name   string
		change func(t *testing.T, c *Model)
		probes []probe
		// findings are the compiled clone's findings (Finding.Error), when they differ from the original's.
		findings []string
	}{
		{
			name: "rule removed: the next rules are renumbered",
			change: func(t *testing.T, c *Model) {
				g := c.Groups[webSG]
				g.Ingress = slices.Delete(g.Ingress, 0, 1) // tcp 443 from 0.0.0.0/0
			},
			probes: []probe{
				{eni: webENI, dir: Ingress, pkt: tcp("203.0.113.9", "10.20.0.10", 443), want: ""},
				{eni: webENI, dir: Ingress, pkt: tcp("2001:db8::9", webV6, 443), want: webSG + "/ingress/0"},
				{eni: webENI, dir: Ingress, pkt: tcp("198.51.100.7", "10.20.0.11", 22), want: webSG + "/ingress/1"},
			},
		},
		{
			name: "CIDR rule added",
			change: func(t *testing.T, c *Model) {
				g := c.Groups[webSG]
				g.Ingress = append(g.Ingress, &SGRule{Proto: ProtoTCP, FromPort: 3389, ToPort: 3389, Peer: PeerCIDR,
					Prefix: prefix("203.0.113.0/24")})
			},
			probes: []probe{
				{eni: webENI, dir: Ingress, pkt: tcp("203.0.113.1", "10.20.0.11", 3389), want: webSG + "/ingress/4"},
				{eni: webENI, dir: Ingress, pkt: tcp("198.51.100.1", "10.20.0.11", 3389), want: ""},
			},
		},
		{
			name: "group reference added",
			change: func(t *testing.T, c *Model) {
				g := c.Groups[dbSG]
				g.Ingress = append(g.Ingress, &SGRule{ID: "sgr-new", Proto: ProtoTCP, FromPort: 5432, ToPort: 5432, Peer: PeerGroup,
					RefGroupID: webSG})
			},
			probes: []probe{
				{eni: dbENI, dir: Ingress, pkt: tcp("10.20.0.12", "10.20.20.30", 5432), want: "sgr-new"},
				{eni: dbENI, dir: Ingress, pkt: tcp(webV6, "10.20.20.30", 5432), want: "sgr-new"},
				{eni: dbENI, dir: Ingress, pkt: tcp("10.20.20.99", "10.20.20.30", 5432), want: ""},
			},
		},
		{
			name: "group added and attached",
			change: func(t *testing.T, c *Model) {
				c.Groups["sg-new"] = &SecurityGroup{ID: "sg-new", VpcID: "vpc-0a1b2c3d4e5f60001", Ingress: []*SGRule{
					{Proto: ProtoUDP, FromPort: 514, ToPort: 514, Peer: PeerCIDR, Prefix: prefix("10.0.0.0/8")}}}
				e := c.ENIs[dbENI]
				e.GroupIDs = append(e.GroupIDs, "sg-new")
			},
			probes: []probe{
				{eni: dbENI, dir: Ingress, pkt: udp("10.20.0.10", "10.20.20.30", 514), want: "sg-new/ingress/0"},
			},
		},
		{
			name: "NACL entry added, out of order",
			change: func(t *testing.T, c *Model) {
				n := c.NACLs[privACL]
				n.Inbound = append(n.Inbound, entry(40, false, Allow, "203.0.113.128/25", ProtoTCP, 22, 22))
			},
			probes: []probe{
				{nacl: privACL, dir: Ingress, pkt: tcp("203.0.113.200", "10.20.10.20", 22), want: "40 allow"},
				{nacl: privACL, dir: Ingress, pkt: tcp("203.0.113.9", "10.20.10.20", 22), want: "50 deny"},
			},
		},
		{
			name: "NACL entries replaced: the '*' entries come back",
			change: func(t *testing.T, c *Model) {
				c.NACLs[privACL].Inbound = []NACLEntry{entry(10, false, Allow, "10.20.0.0/16", ProtoTCP, 443, 443)}
			},
			probes: []probe{
				{nacl: privACL, dir: Ingress, pkt: tcp("10.20.0.10", "10.20.10.20", 443), want: "10 allow"},
				{nacl: privACL, dir: Ingress, pkt: tcp("10.20.0.10", "10.20.10.20", 22), want: "32767 deny"},
				{nacl: privACL, dir: Ingress, pkt: tcp("2001:db8::9", appV6, 443), want: "32768 deny"},
			},
			findings: []string{`testdata/basic/security-group-rules.json: sgr-0a0000000000app02: group sg-0app00000000000b2 rule ` +
				`"tcp 22 from sg-0gone0000000dead0" references group sg-0gone0000000dead0, which is not loaded (deleted, or in ` +
				`another VPC/account): the rule matches nothing (warning)`},
		},
		{
			name: "NACL added and associated",
			change: func(t *testing.T, c *Model) {
				n := &NACL{ID: "acl-new", VpcID: "vpc-0a1b2c3d4e5f60001", Outbound: []NACLEntry{
					entry(100, true, Deny, "0.0.0.0/0", ProtoTCP, 25, 25), entry(200, true, Allow, "0.0.0.0/0", ProtoAll, 0, 0)}}
				c.NACLs[n.ID] = n
				c.Subnets[sub2].NACL, c.Subnets[sub2].NACLExplicit = n, true
			},
			probes: []probe{
				{nacl: "acl-new", dir: Egress, pkt: tcp("10.20.20.30", "192.0.2.1", 25), want: "100 deny"},
				{nacl: "acl-new", dir: Egress, pkt: tcp("10.20.20.30", "192.0.2.1", 443), want: "200 allow"},
				{nacl: "acl-new", dir: Ingress, pkt: tcp("192.0.2.1", "10.20.20.30", 443), want: "32767 deny"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := basicModel(t)
			c := m.Clone()
			tt.change(t, c)
			if err := c.Compile(); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for _, p := range tt.probes {
				if got := p.eval(c); got != p.want {
					t.Errorf("%s%s %s %v>%v:%d = %q, want %q", p.nacl, p.eni, p.dir, p.pkt.Src, p.pkt.Dst, p.pkt.DstPort, got, p.want)
				}
			}
			want := tt.findings
			if want == nil {
				want = findingStrings(m.Findings)
			}
			if diff := cmp.Diff(findingStrings(c.Findings), want); diff != "" {
				t.Errorf("findings (-got +want):\n%s", diff)
			}
		})
	}

	t.Run("association follows the NACL", func(t *testing.T) {
		c := basicModel(t).Clone()
		n := &NACL{ID: "acl-new", VpcID: "vpc-0a1b2c3d4e5f60001"}
		c.NACLs[n.ID] = n
		c.Subnets[sub2].NACL, c.Subnets[sub2].NACLExplicit = n, true
		c.Compile()
		if diff := cmp.Diff(c.NACLs[defACL].SubnetIDs, []string{"subnet-0aaa1111bbbb22220"}); diff != "" {
			t.Errorf("default NACL SubnetIDs (-got +want):\n%s", diff)
		}
		if got := c.ENIs[dbENI].Subnet.NACL; got != n || !slices.Equal(n.SubnetIDs, []string{sub2}) {
			t.Errorf("db ENI's NACL = %s, SubnetIDs %v; want acl-new guarding %s", got.ID, n.SubnetIDs, sub2)
		}
		// Removing the NACL puts the subnet back on its VPC's default NACL, as AWS does.
		c.NACLs[n.ID] = nil
		c.Compile()
		if got := c.Subnets[sub2]; got.NACL != c.NACLs[defACL] || got.NACLExplicit {
			t.Errorf("subnet NACL = %s (explicit %v) after its NACL was removed, want the default", got.NACL.ID, got.NACLExplicit)
		}
	})
}

func findingStrings(fs []Finding) []string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Error())
	}
	return s
}

// The same problem made in Go and loaded from JSON gives the same findings and the same verdicts.
func TestCompileMatchesLoad(t *testing.T) {
	const (
		nacl = `{"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1", "IsDefault": true, "Entries": [
  {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"}%s]}]}`
		rules = `{"SecurityGroupRules": [
  {"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": false, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8"}%s]}`
		eni = `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5",
  "Groups": [{"GroupId": "sg-1"}]}]}`
	)
	files := func(naclExtra, rulesExtra string) map[string][]byte {
		return map[string][]byte{"s.json": []byte(okSubnets), "n.json": []byte(fmt.Sprintf(nacl, naclExtra)),
			"r.json": []byte(fmt.Sprintf(rules, rulesExtra)), "e.json": []byte(eni)}
	}
	tests := []struct {
		name                string
		naclJSON, rulesJSON string
		change              func(m *Model)
		wantFatal           bool
	}{
		{
			name:     "duplicate NACL rule number",
			naclJSON: `, {"RuleNumber": 100, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 22, "To": 22}}`,
			change: func(m *Model) {
				n := m.NACLs["acl-d"]
				n.Inbound = append(n.Inbound, entry(100, false, Deny, "10.0.0.0/8", ProtoTCP, 22, 22))
			},
			wantFatal: true,
		},
		{
			name:     "NACL port range From > To",
			naclJSON: `, {"RuleNumber": 7, "Protocol": "6", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 90, "To": 80}}`,
			change: func(m *Model) {
				n := m.NACLs["acl-d"]
				n.Outbound = append(n.Outbound, entry(7, true, Allow, "0.0.0.0/0", ProtoTCP, 90, 80))
			},
			wantFatal: true,
		},
		{
			name:      "security-group port range FromPort > ToPort",
			rulesJSON: `, {"SecurityGroupRuleId": "sgr-2", "GroupId": "sg-1", "IsEgress": false, "IpProtocol": "udp", "FromPort": 600, "ToPort": 500, "CidrIpv4": "10.0.0.0/8"}`,
			change: func(m *Model) {
				g := m.Groups["sg-1"]
				g.Ingress = append(g.Ingress, &SGRule{ID: "sgr-2", Proto: ProtoUDP, FromPort: 600, ToPort: 500, Peer: PeerCIDR, Prefix: prefix("10.0.0.0/8")})
			},
			wantFatal: true,
		},
		{
			name:      "reference to a group that is not loaded",
			rulesJSON: `, {"SecurityGroupRuleId": "sgr-3", "GroupId": "sg-1", "IsEgress": false, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "ReferencedGroupInfo": {"GroupId": "sg-gone"}}`,
			change: func(m *Model) {
				g := m.Groups["sg-1"]
				g.Ingress = append(g.Ingress, &SGRule{ID: "sgr-3", Proto: ProtoTCP, FromPort: 443, ToPort: 443, Peer: PeerGroup, RefGroupID: "sg-gone"})
			},
		},
	}
	base, _ := Load(files("", ""))
	if len(base.Findings) != 0 {
		t.Fatalf("base topology findings: %v", base.Findings)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loaded, _ := Load(files(tt.naclJSON, tt.rulesJSON))
			built := base.Clone()
			tt.change(built)
			err := built.Compile()
			if diff := cmp.Diff(built.Findings, loaded.Findings); diff != "" {
				t.Errorf("findings (-built in Go +loaded from JSON):\n%s", diff)
			}
			if len(loaded.Findings) != 1 || loaded.HasFatal() != tt.wantFatal || (err != nil) != tt.wantFatal {
				t.Errorf("findings %v, Compile error %v; want one finding, fatal %v", loaded.Findings, err, tt.wantFatal)
			}
			if diff := cmp.Diff(verdicts(built), verdicts(loaded)); diff != "" {
				t.Errorf("verdicts (-built in Go +loaded from JSON):\n%s", diff)
			}
		})
	}
}

// Compile on a loaded model changes nothing, including findings about input the loader or Compile dropped.
func TestCompileIdempotent(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"basic", nil},
		{"dropped entries and rules", map[string]string{
			"s.json": okSubnets,
			"n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1", "IsDefault": true, "Entries": [
				{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
				{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8"},
				{"RuleNumber": 90, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 9, "To": 1}},
				{"RuleNumber": 40000, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8"},
				{"RuleNumber": 120, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8"}]}]}`,
			"r.json": `{"SecurityGroupRules": [
				{"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IpProtocol": "tcp", "FromPort": 9, "ToPort": 1, "CidrIpv4": "10.0.0.0/8"},
				{"GroupId": "sg-1", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "ReferencedGroupInfo": {"GroupId": "sg-gone"}},
				{"GroupId": "sg-1", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.9/8"}]}`,
			"e.json": `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5",
				"Groups": [{"GroupId": "sg-1"}, {"GroupId": "sg-nope"}]}, {"NetworkInterfaceId": "eni-2", "SubnetId": "subnet-x"}]}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := basicModel(t)
			if tt.files != nil {
				files := make(map[string][]byte)
				for k, v := range tt.files {
					files[k] = []byte(v)
				}
				m, _ = Load(files)
			}
			wantFindings, wantVerdicts, wantSummary := slices.Clone(m.Findings), verdicts(m), m.Summary()
			for i := range 2 {
				if err, want := m.Compile(), m.FatalError(); fmt.Sprint(err) != fmt.Sprint(want) {
					t.Errorf("Compile #%d = %v, want FatalError() %v", i+2, err, want)
				}
				if diff := cmp.Diff(m.Findings, wantFindings); diff != "" {
					t.Errorf("findings after Compile #%d (-got +want):\n%s", i+2, diff)
				}
				if diff := cmp.Diff(verdicts(m), wantVerdicts); diff != "" {
					t.Errorf("verdicts after Compile #%d (-got +want):\n%s", i+2, diff)
				}
				if diff := cmp.Diff(m.Summary(), wantSummary); diff != "" {
					t.Errorf("summary after Compile #%d (-got +want):\n%s", i+2, diff)
				}
			}
		})
	}
}

func TestCompileGoOnly(t *testing.T) {
	t.Run("invalid entries and rules built in Go are dropped with a finding", func(t *testing.T) {
		c := basicModel(t).Clone()
		n := c.NACLs[privACL]
		n.Inbound = append(n.Inbound, NACLEntry{RuleNumber: 5, Action: Allow, Proto: ProtoAll},
			NACLEntry{RuleNumber: 6, Prefix: prefix("10.0.0.0/8"), Proto: ProtoAll},
			NACLEntry{RuleNumber: 7, Action: Deny, Prefix: prefix("10.0.0.0/8"), Proto: ProtoICMP, ICMPType: 300, ICMPCode: -1},
			NACLEntry{RuleNumber: 8, Action: Deny, Prefix: prefix("10.1.2.3/16"), Proto: ProtoAll})
		g := c.Groups[dbSG]
		g.Egress = append(g.Egress, &SGRule{Proto: ProtoTCP, FromPort: 1, ToPort: 2},
			&SGRule{Proto: ProtoTCP, FromPort: 1, ToPort: 2, Peer: PeerCIDR},
			&SGRule{Proto: 300, Peer: PeerCIDR, Prefix: prefix("10.0.0.0/8")})
		c.Compile()
		const acls, sgs = "testdata/basic/network-acls.json", "testdata/basic/security-groups.json"
		var got []wantFinding
		for _, f := range c.Findings {
			if f.Object == privACL || f.Object == dbSG {
				got = append(got, wantFinding{f.Severity, f.File, f.Object, f.Message})
			}
		}
		want := []wantFinding{
			{Fatal, acls, privACL, "inbound entry 5: no CIDR, so it matches no address: entry dropped"},
			{Fatal, acls, privACL, "inbound entry 6: action(0) is neither allow nor deny: entry dropped"},
			{Fatal, acls, privACL, "inbound entry 7: IcmpTypeCode.Type 300 outside -1..255: entry dropped"},
			{Warning, acls, privACL, "inbound entry 8: CIDR 10.1.2.3/16 is not canonical; using 10.1.0.0/16"},
			{Warning, acls, privACL, "inbound entry 140 is shadowed by entry 100, which matches every packet it matches: it never decides"},
			{Fatal, sgs, dbSG, "peer(0) is not a cidr, prefix-list or group peer: rule dropped"},
			{Fatal, sgs, dbSG, "cidr peer without a CIDR: rule dropped"},
			{Fatal, sgs, dbSG, "protocol 300 is not -1 or 0-255: rule dropped"},
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("findings (-got +want):\n%s", diff)
		}
		if e := c.NACLs[privACL].Evaluate(Ingress, tcp("10.1.9.9", "10.20.10.20", 22)); e.RuleNumber != 8 || e.Prefix != prefix("10.1.0.0/16") {
			t.Errorf("Evaluate = entry %d %v, want the masked entry 8", e.RuleNumber, e.Prefix)
		}
	})
	t.Run("empty model", func(t *testing.T) {
		var m Model
		m.Compile()
		if m.ENIByAddr(addr("10.0.0.1")) != nil || m.SubnetOf(addr("10.0.0.1")) != nil || len(m.VPCs) != 0 {
			t.Error("an empty model maps an address")
		}
	})
}

func TestFatalError(t *testing.T) {
	if err := basicModel(t).FatalError(); err != nil {
		t.Errorf("basic FatalError = %v, want nil", err)
	}
	m := &Model{Findings: []Finding{
		{Fatal, "e.json", "eni-1", "ENI is in subnet \"subnet-x\", which is not loaded"},
		{Warning, "n.json", "acl-1", "shadowed"},
		{Fatal, "", "", "the topology has no network interfaces"},
	}}
	err := m.FatalError()
	var ff *FatalFindingsError
	if !errors.As(fmt.Errorf("topology: %w", err), &ff) {
		t.Fatalf("FatalError = %T, want *FatalFindingsError", err)
	}
	if diff := cmp.Diff(ff.Findings, []Finding{m.Findings[0], m.Findings[2]}); diff != "" {
		t.Errorf("FatalFindingsError.Findings (-got +want):\n%s", diff)
	}
	want := `2 fatal topology finding(s): e.json: eni-1: ENI is in subnet "subnet-x", which is not loaded; -: -: the topology has no network interfaces`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
