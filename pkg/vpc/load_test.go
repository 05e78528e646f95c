package vpc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpAddrs = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func TestLoadBasic(t *testing.T) {
	m := basicModel(t)

	t.Run("findings", func(t *testing.T) {
		want := []Finding{
			{Warning, filepath.Join("testdata", "basic", "network-acls.json"), privACL,
				"inbound entry 140 is shadowed by entry 100, which matches every packet it matches: it never decides"},
			{Warning, filepath.Join("testdata", "basic", "security-group-rules.json"), "sgr-0a0000000000app02",
				`group sg-0app00000000000b2 rule "tcp 22 from sg-0gone0000000dead0" references group sg-0gone0000000dead0, ` +
					"which is not loaded (deleted, or in another VPC/account): the rule matches nothing"},
		}
		if diff := cmp.Diff(m.Findings, want); diff != "" {
			t.Errorf("findings (-got +want):\n%s", diff)
		}
		if m.HasFatal() {
			t.Error("HasFatal = true")
		}
	})

	t.Run("ENI with secondary IPs, IPv6, public IPs and conntrack timeouts", func(t *testing.T) {
		got := m.ENIByID(webENI)
		want := &ENI{
			ID: webENI, SubnetID: "subnet-0aaa1111bbbb22220", VpcID: "vpc-0a1b2c3d4e5f60001",
			Primary:     addr("10.20.0.10"),
			Addrs:       []netip.Addr{addr("10.20.0.10"), addr("10.20.0.11"), addr("10.20.0.12"), addr(webV6)},
			PublicIPs:   []netip.Addr{addr("54.210.1.10"), addr("54.210.1.11")},
			GroupIDs:    []string{webSG},
			Type:        "interface",
			InstanceID:  "i-0web0000000000001",
			Description: "web-1",
			Timeouts:    Timeouts{TCPEstablished: time.Hour, UDP: 30 * time.Second, UDPStream: 2 * time.Minute},
		}
		if diff := cmp.Diff(got, want, cmpAddrs, cmpopts.IgnoreFields(ENI{}, "Subnet", "Ingress", "Egress")); diff != "" {
			t.Errorf("ENI (-got +want):\n%s", diff)
		}
		if got.Subnet != m.Subnets["subnet-0aaa1111bbbb22220"] {
			t.Error("ENI.Subnet does not point at its subnet")
		}
		if len(got.Ingress) != 4 || len(got.Egress) != 2 {
			t.Errorf("ENI rules: %d ingress, %d egress; want 4, 2", len(got.Ingress), len(got.Egress))
		}
	})

	t.Run("subnets and NACL associations", func(t *testing.T) {
		type row struct {
			ID, NACL string
			Explicit bool
			CIDRs    []netip.Prefix
		}
		var got []row
		for _, id := range slices.Sorted(maps.Keys(m.Subnets)) {
			s := m.Subnets[id]
			got = append(got, row{id, s.NACL.ID, s.NACLExplicit, s.CIDRs})
		}
		want := []row{
			{"subnet-0aaa1111bbbb22220", defACL, true, []netip.Prefix{prefix("10.20.0.0/24"), prefix("2600:1f18:1234:5600::/64")}},
			{"subnet-0aaa1111bbbb22221", privACL, true, []netip.Prefix{prefix("10.20.10.0/24"), prefix("2600:1f18:1234:560a::/64")}},
			{"subnet-0aaa1111bbbb22222", defACL, false, []netip.Prefix{prefix("10.20.20.0/24")}},
		}
		if diff := cmp.Diff(got, want, cmpAddrs); diff != "" {
			t.Errorf("subnets (-got +want):\n%s", diff)
		}
		v := m.VPCs["vpc-0a1b2c3d4e5f60001"]
		if v == nil || v.DefaultNACL != m.NACLs[defACL] || len(v.SubnetIDs) != 3 {
			t.Errorf("VPC = %+v, want default NACL %s and 3 subnets", v, defACL)
		}
		if diff := cmp.Diff(m.NACLs[defACL].SubnetIDs, []string{"subnet-0aaa1111bbbb22220", "subnet-0aaa1111bbbb22222"}); diff != "" {
			t.Errorf("default NACL SubnetIDs (-got +want):\n%s", diff)
		}
	})

	t.Run("default NACL entries as AWS prints them", func(t *testing.T) {
		all := func(rule int, cidr string, action RuleAction) NACLEntry {
			return NACLEntry{RuleNumber: rule, Egress: true, Action: action, Prefix: prefix(cidr), Proto: ProtoAll,
				ICMPType: -1, ICMPCode: -1, Default: rule >= DefaultRuleV4}
		}
		want := []NACLEntry{all(100, "0.0.0.0/0", Allow), all(101, "::/0", Allow), all(32767, "0.0.0.0/0", Deny), all(32768, "::/0", Deny)}
		want[2].ShadowedBy, want[3].ShadowedBy = 100, 101
		if diff := cmp.Diff(m.NACLs[defACL].Outbound, want, cmpAddrs); diff != "" {
			t.Errorf("default NACL outbound (-got +want):\n%s", diff)
		}
	})

	t.Run("custom NACL icmp and port entries", func(t *testing.T) {
		in := m.NACLs[privACL].Inbound
		var e130 NACLEntry
		for _, e := range in {
			if e.RuleNumber == 130 {
				e130 = e
			}
		}
		want := NACLEntry{RuleNumber: 130, Action: Allow, Prefix: prefix("10.20.0.0/16"), Proto: ProtoICMP, ICMPType: 8, ICMPCode: -1}
		if diff := cmp.Diff(e130, want, cmpAddrs); diff != "" {
			t.Errorf("entry 130 (-got +want):\n%s", diff)
		}
		if !e130.RestrictsICMP() {
			t.Error("entry 130 RestrictsICMP = false")
		}
	})

	t.Run("describe-security-groups rules normalised one per peer", func(t *testing.T) {
		type row struct{ ID, Display, Desc string }
		var got []row
		g := m.Groups[webSG]
		for _, r := range append(append([]*SGRule{}, g.Ingress...), g.Egress...) {
			got = append(got, row{r.ID, r.Display, r.Description})
		}
		want := []row{
			{webSG + "/ingress/0", "tcp 443 from 0.0.0.0/0", "https"},
			{webSG + "/ingress/1", "tcp 443 from ::/0", "https v6"},
			{webSG + "/ingress/2", "tcp 22 from " + plCorp, ""},
			{webSG + "/ingress/3", "icmp 8/-1 from 10.20.0.0/16", "ping from vpc"},
			{webSG + "/egress/0", "all to 0.0.0.0/0", ""},
			{webSG + "/egress/1", "all to ::/0", ""},
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("web rules (-got +want):\n%s", diff)
		}
		if g.Name != "web" || g.VpcID != "vpc-0a1b2c3d4e5f60001" || g.OwnerID != "123456789012" {
			t.Errorf("web group metadata = %q %q %q", g.Name, g.VpcID, g.OwnerID)
		}
	})

	t.Run("describe-security-group-rules form preferred", func(t *testing.T) {
		g := m.Groups[appSG]
		want := []*SGRule{
			{ID: "sgr-0a0000000000app01", Display: "tcp 8080 from " + webSG, GroupID: appSG, Proto: ProtoTCP, FromPort: 8080, ToPort: 8080,
				Peer: PeerGroup, RefGroupID: webSG},
			{ID: "sgr-0a0000000000app02", Display: "tcp 22 from sg-0gone0000000dead0", GroupID: appSG, Proto: ProtoTCP, FromPort: 22, ToPort: 22,
				Peer: PeerGroup, RefGroupID: "sg-0gone0000000dead0", Description: "old bastion"},
		}
		if diff := cmp.Diff(g.Ingress, want, cmpAddrs, cmpopts.IgnoreUnexported(SGRule{})); diff != "" {
			t.Errorf("app ingress (-got +want):\n%s", diff)
		}
		if len(g.Egress) != 1 || g.Egress[0].ID != "sgr-0a0000000000app03" || g.Egress[0].Display != "all to 0.0.0.0/0" ||
			g.Egress[0].FromPort != -1 {
			t.Errorf("app egress = %+v", g.Egress)
		}
		if g.Name != "app" {
			t.Errorf("app name = %q: metadata must still come from describe-security-groups", g.Name)
		}
	})

	t.Run("prefix lists", func(t *testing.T) {
		want := map[string][]netip.Prefix{plCorp: {prefix("192.0.2.64/26"), prefix("198.51.100.0/24")}}
		if diff := cmp.Diff(m.PrefixLists, want, cmpAddrs); diff != "" {
			t.Errorf("PrefixLists (-got +want):\n%s", diff)
		}
	})
}

// wantFinding matches a Finding whose message contains Msg.
type wantFinding struct {
	Sev    Severity
	File   string
	Object string
	Msg    string
}

func checkFindings(t *testing.T, got []Finding, want []wantFinding) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g, w := got[i], want[i]
		ok = g.Severity == w.Sev && g.File == w.File && g.Object == w.Object && strings.Contains(g.Message, w.Msg)
	}
	if !ok {
		var b strings.Builder
		for _, f := range got {
			b.WriteString("\n  " + f.Error())
		}
		t.Errorf("findings:%s\nwant %d matching %+v", b.String(), len(want), want)
	}
}

// noENIs is the finding every topology without network interfaces has: most validation cases load fragments.
var noENIs = wantFinding{Fatal, "", "", "the topology has no network interfaces, so a replay would judge no flow"}

// A VPC with one subnet and a default NACL: the base for the validation cases.
const okSubnets = `{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}]}`
const okNACLs = `{"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1", "IsDefault": true, "Entries": [
  {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"}]}]}`

func TestValidationFindings(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []wantFinding
	}{
		{
			name: "stale group reference is a warning naming the rule",
			files: map[string]string{"sg.json": `{"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1", "IpPermissions": [
				{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": "sg-gone"}]}]}]}`},
			want: []wantFinding{noENIs, {Warning, "sg.json", "sg-1/ingress/0", `rule "tcp 22 from sg-gone" references group sg-gone, which is not loaded`}},
		},
		{
			name: "ENI in unknown subnet is fatal",
			files: map[string]string{"eni.json": `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-x",
				"VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.5"}]}`},
			want: []wantFinding{{Fatal, "eni.json", "eni-1", `subnet "subnet-x", which is not loaded: its NACL and subnet boundary are unknown`}},
		},
		{
			name: "ENI in unknown group is fatal",
			files: map[string]string{"s.json": okSubnets, "n.json": okNACLs, "eni.json": `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1",
				"SubnetId": "subnet-1", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.1.5", "Groups": [{"GroupId": "sg-nope"}]}]}`},
			want: []wantFinding{{Fatal, "eni.json", "eni-1", "security group sg-nope, which is not loaded"}},
		},
		{
			name: "two ENIs claiming one address is fatal",
			files: map[string]string{"s.json": okSubnets, "n.json": okNACLs, "eni.json": `{"NetworkInterfaces": [
				{"NetworkInterfaceId": "eni-2", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5"},
				{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5"}]}`},
			want: []wantFinding{{Fatal, "eni.json", "eni-2", "address 10.0.1.5 is also claimed by eni-1"}},
		},
		{
			name: "NACL entry without CIDR is fatal",
			files: map[string]string{"n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [
				{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false}]}]}`},
			want: []wantFinding{noENIs, {Fatal, "n.json", "acl-1", "inbound entry 100: no CidrBlock or Ipv6CidrBlock"}},
		},
		{
			name: "NACL port range From > To is fatal",
			files: map[string]string{"n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [
				{"RuleNumber": 7, "Protocol": "6", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 90, "To": 80}}]}]}`},
			want: []wantFinding{noENIs, {Fatal, "n.json", "acl-1", "outbound entry 7: PortRange From 90 > To 80"}},
		},
		{
			name: "SG port range From > To is fatal",
			files: map[string]string{"r.json": `{"SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IsEgress": false,
				"IpProtocol": "udp", "FromPort": 600, "ToPort": 500, "CidrIpv4": "10.0.0.0/8"}]}`},
			want: []wantFinding{noENIs, {Fatal, "r.json", "sgr-1", "FromPort 600 > ToPort 500"}},
		},
		{
			name: "unparseable CIDRs and addresses are fatal",
			files: map[string]string{
				"n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": true, "Entries": [
					{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.0.0.300/8"}]}]}`,
				"s.json": `{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"},
					{"SubnetId": "subnet-2", "VpcId": "vpc-1", "CidrBlock": "banana"}]}`,
				"sg.json": `{"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1", "IpPermissionsEgress": [
					{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "::/0"}]}]}]}`,
				"e.json": `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.999",
					"Groups": [{"GroupId": "sg-1"}]}]}`,
			},
			want: []wantFinding{
				{Fatal, "e.json", "eni-1", `PrivateIpAddress "10.0.1.999" is not an IPv4 address`},
				{Warning, "e.json", "eni-1", "ENI has no private address"},
				{Fatal, "n.json", "acl-1", `inbound entry 100: CidrBlock "10.0.0.300/8" is not a CIDR`},
				{Fatal, "s.json", "subnet-2", `CidrBlock "banana" is not a CIDR`},
				{Warning, "s.json", "subnet-2", "subnet has no usable CIDR"},
				{Fatal, "sg.json", "sg-1 IpPermissionsEgress[0]", "CidrIp ::/0 has the wrong address family"},
			},
		},
		{
			name: "subnet with no NACL and no default NACL is fatal",
			files: map[string]string{"s.json": okSubnets, "n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-c", "VpcId": "vpc-1",
				"IsDefault": false, "Entries": []}]}`},
			want: []wantFinding{noENIs, {Fatal, "s.json", "subnet-1", `no NACL association and no default NACL loaded for VPC "vpc-1"`}},
		},
		{
			name: "NACL association to an unknown subnet is a warning",
			files: map[string]string{"s.json": okSubnets, "n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1",
				"IsDefault": true, "Associations": [{"SubnetId": "subnet-1"}, {"SubnetId": "subnet-elsewhere"}]}]}`},
			want: []wantFinding{noENIs, {Warning, "n.json", "acl-d", `association to subnet "subnet-elsewhere", which is not loaded`}},
		},
		{
			name: "prefix-list reference with no entries loaded is a warning",
			files: map[string]string{"sg.json": `{"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1", "IpPermissions": [
				{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-0abc"}]}]}]}`,
				"pls.json": `{"PrefixLists": [{"PrefixListId": "pl-0abc", "PrefixListName": "x", "AddressFamily": "IPv4"}]}`},
			want: []wantFinding{noENIs, {Warning, "sg.json", "sg-1/ingress/0", "references prefix list pl-0abc, whose entries are not loaded"}},
		},
		{
			name: "unknown top-level key is a warning",
			files: map[string]string{"s.json": `{"Subnets": [], "Vpcs": []}`, "other.json": `{"Reservations": []}`,
				"list.json": `[1, 2]`},
			want: []wantFinding{
				noENIs,
				{Warning, "list.json", "", "top level is not a JSON object"},
				{Warning, "other.json", "", `no recognised top-level key`},
				{Warning, "s.json", "", `unknown top-level key "Vpcs" ignored`},
			},
		},
		{
			name:  "a file that is not AWS CLI output is named with the keys it has",
			files: map[string]string{"instances.json": `{"Reservations": [], "Vpcs": []}`, "empty.json": `{}`},
			want: []wantFinding{
				noENIs,
				{Warning, "empty.json", "", "no recognised top-level key (expected SecurityGroups, SecurityGroupRules, NetworkAcls, " +
					"NetworkInterfaces, Subnets, PrefixLists or Entries; found none); file ignored"},
				{Warning, "instances.json", "", `no recognised top-level key (expected SecurityGroups, SecurityGroupRules, NetworkAcls, ` +
					`NetworkInterfaces, Subnets, PrefixLists or Entries; found "Reservations", "Vpcs"); file ignored`},
			},
		},
		{
			name:  "invalid JSON is fatal and other files still load",
			files: map[string]string{"bad.json": `{"Subnets": [`, "s.json": okSubnets, "n.json": okNACLs},
			want:  []wantFinding{noENIs, {Fatal, "bad.json", "", "invalid JSON"}},
		},
		{
			name: "bad object is fatal and its siblings load",
			files: map[string]string{"n.json": okNACLs, "s.json": `{"Subnets": [{"SubnetId": 5}, {"SubnetId": "subnet-1", "VpcId": "vpc-1",
				"CidrBlock": "10.0.1.0/24"}]}`},
			want: []wantFinding{noENIs, {Fatal, "s.json", "Subnets[0]", "cannot decode"}},
		},
		{
			name: "non-canonical CIDR is masked with a warning",
			files: map[string]string{"n.json": okNACLs, "s.json": `{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1",
				"CidrBlock": "100.68.0.18/18"}]}`},
			want: []wantFinding{noENIs, {Warning, "s.json", "subnet-1", "CidrBlock 100.68.0.18/18 is not canonical; using 100.68.0.0/18"}},
		},
		{
			name:  "prefix-list entries without an id are a warning",
			files: map[string]string{"entries.json": `{"Entries": [{"Cidr": "10.0.0.0/8"}]}`},
			want:  []wantFinding{noENIs, {Warning, "entries.json", "", "without a prefix-list id"}},
		},
		{
			name: "same object in two files with different content is a warning",
			files: map[string]string{"n.json": okNACLs, "a.json": okSubnets,
				"b.json": `{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24"}]}`},
			want: []wantFinding{noENIs, {Warning, "b.json", "subnet-1", "also loaded from a.json with different content"}},
		},
		{
			name:  "same object in two files with the same content is silent",
			files: map[string]string{"n.json": okNACLs, "a.json": okSubnets, "b.json": okSubnets},
			want:  []wantFinding{noENIs},
		},
		{
			name: "two NACL associations for one subnet are fatal",
			files: map[string]string{"s.json": okSubnets, "n.json": `{"NetworkAcls": [
				{"NetworkAclId": "acl-a", "VpcId": "vpc-1", "Associations": [{"SubnetId": "subnet-1"}]},
				{"NetworkAclId": "acl-b", "VpcId": "vpc-1", "IsDefault": true, "Associations": [{"SubnetId": "subnet-1"}]}]}`},
			want: []wantFinding{noENIs, {Fatal, "n.json", "subnet-1", "associated with two NACLs (acl-a and acl-b)"}},
		},
		{
			name: "duplicate NACL rule numbers are fatal",
			files: map[string]string{"n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [
				{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
				{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "deny", "Egress": false, "Ipv6CidrBlock": "::/0"}]}]}`},
			want: []wantFinding{noENIs, {Fatal, "n.json", "acl-1", "two inbound entries numbered 100"}},
		},
		{
			name: "bad protocol and action are fatal",
			files: map[string]string{"n.json": `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [
				{"RuleNumber": 1, "Protocol": "gre", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
				{"RuleNumber": 2, "Protocol": "6", "RuleAction": "maybe", "Egress": false, "CidrBlock": "0.0.0.0/0"}]}]}`},
			want: []wantFinding{
				noENIs,
				{Fatal, "n.json", "acl-1", `inbound entry 1: protocol "gre" is not a name`},
				{Fatal, "n.json", "acl-1", `inbound entry 2: RuleAction "maybe"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := make(map[string][]byte)
			for k, v := range tt.files {
				files[k] = []byte(v)
			}
			m, err := Load(files)
			if err != nil {
				t.Fatal(err)
			}
			checkFindings(t, m.Findings, tt.want)
			wantFatal := false
			for _, w := range tt.want {
				wantFatal = wantFatal || w.Sev == Fatal
			}
			if m.HasFatal() != wantFatal {
				t.Errorf("HasFatal = %v, want %v", m.HasFatal(), wantFatal)
			}
		})
	}
}

func TestLoadRecovers(t *testing.T) {
	t.Run("invalid JSON does not stop other files", func(t *testing.T) {
		m, _ := Load(map[string][]byte{"bad.json": []byte("{"), "s.json": []byte(okSubnets), "n.json": []byte(okNACLs)})
		if m.Subnets["subnet-1"] == nil || m.Subnets["subnet-1"].NACL == nil {
			t.Error("subnet-1 not loaded next to an invalid file")
		}
	})
	t.Run("stale reference matches nothing and dropped entries leave a valid NACL", func(t *testing.T) {
		m, _ := Load(map[string][]byte{"n.json": []byte(`{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [
			{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false}]}]}`)})
		n := m.NACLs["acl-1"]
		if len(n.Inbound) != 2 || !n.Inbound[0].Synthesized || n.Evaluate(Ingress, tcp("10.0.0.1", "10.0.0.2", 22)).RuleNumber != DefaultRuleV4 {
			t.Errorf("inbound = %+v, want only the synthesized '*' entries", n.Inbound)
		}
	})
}

func TestLoadFileKinds(t *testing.T) {
	entries := `{"Entries": [{"Cidr": "192.0.2.0/24", "Description": "a"}, {"Cidr": "192.0.2.0/24"}]}`
	t.Run("prefix-list id from the file name", func(t *testing.T) {
		for _, name := range []string{"pl-0123abcd.json", "dump/prefix-list-entries-pl-0123abcd.json"} {
			m := loadOne(t, name, entries)
			if diff := cmp.Diff(m.PrefixLists, map[string][]netip.Prefix{"pl-0123abcd": {prefix("192.0.2.0/24")}}, cmpAddrs); diff != "" {
				t.Errorf("%s: PrefixLists (-got +want):\n%s", name, diff)
			}
		}
	})
	t.Run("flowlens PrefixListId extension", func(t *testing.T) {
		m := loadOne(t, "entries.json", `{"PrefixListId": "pl-0ffe", "Entries": [{"Cidr": "2001:db8::/32"}]}`)
		if diff := cmp.Diff(m.PrefixLists, map[string][]netip.Prefix{"pl-0ffe": {prefix("2001:db8::/32")}}, cmpAddrs); diff != "" {
			t.Errorf("PrefixLists (-got +want):\n%s", diff)
		}
		checkFindings(t, m.Findings, []wantFinding{noENIs})
	})
	t.Run("combined file with several top-level keys", func(t *testing.T) {
		m := loadOne(t, "everything.json", `{
			"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}],
			"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1", "IsDefault": true}],
			"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1"}],
			"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5", "Groups": [{"GroupId": "sg-1"}]}],
			"NextToken": "abc"}`)
		if len(m.Findings) != 0 {
			t.Errorf("findings: %v", m.Findings)
		}
		e := m.ENIByAddr(addr("10.0.1.5"))
		if e == nil || e.Subnet.NACL.ID != "acl-d" || e.VpcID != "vpc-1" {
			t.Errorf("ENI = %+v", e)
		}
	})
	t.Run("several accounts merge", func(t *testing.T) {
		m, _ := Load(map[string][]byte{
			"a/subnets.json": []byte(`{"Subnets": [{"SubnetId": "subnet-a", "VpcId": "vpc-a", "CidrBlock": "10.1.0.0/24"}]}`),
			"b/subnets.json": []byte(`{"Subnets": [{"SubnetId": "subnet-b", "VpcId": "vpc-b", "CidrBlock": "10.2.0.0/24"}]}`),
			"a/acls.json":    []byte(`{"NetworkAcls": [{"NetworkAclId": "acl-a", "VpcId": "vpc-a", "IsDefault": true}]}`),
			"b/acls.json":    []byte(`{"NetworkAcls": [{"NetworkAclId": "acl-b", "VpcId": "vpc-b", "IsDefault": true}]}`),
		})
		if len(m.VPCs) != 2 || m.Subnets["subnet-b"].NACL.ID != "acl-b" || m.VPCs["vpc-a"].DefaultNACL.ID != "acl-a" {
			t.Errorf("VPCs %v", m.VPCs)
		}
		checkFindings(t, m.Findings, []wantFinding{{Fatal, "", "", "the topology has no network interfaces, so a replay would judge " +
			"no flow: add the output of aws ec2 describe-network-interfaces --filters Name=vpc-id,Values=vpc-a,vpc-b"}})
	})
	t.Run("directories are walked recursively for json", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "x", "y"), 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(name, content string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("x/y/s.json", okSubnets)
		write("x/n.JSON", okNACLs)
		write("x/notes.txt", "not json")
		m, err := LoadPaths(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subnets["subnet-1"] == nil || m.Subnets["subnet-1"].NACL == nil {
			t.Errorf("subnets %v", m.Subnets)
		}
		checkFindings(t, m.Findings, []wantFinding{noENIs})
		if _, err := LoadPaths(filepath.Join(dir, "missing")); err == nil {
			t.Error("LoadPaths of a missing path: want an I/O error")
		}
	})
	t.Run("IPv6-only ENI and security-group protocol names", func(t *testing.T) {
		m := loadOne(t, "all.json", `{
			"Subnets": [{"SubnetId": "subnet-6", "VpcId": "vpc-1", "Ipv6CidrBlockAssociationSet": [
				{"Ipv6CidrBlock": "2001:db8:0:1::/64", "Ipv6CidrBlockState": {"State": "associated"}},
				{"Ipv6CidrBlock": "2001:db8:0:2::/64", "Ipv6CidrBlockState": {"State": "disassociated"}}]}],
			"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1", "IsDefault": true}],
			"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1", "IpPermissions": [
				{"IpProtocol": "icmpv6", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
				{"IpProtocol": "17", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]},
				{"IpProtocol": "50", "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]},
				{"IpProtocol": "all", "Ipv6Ranges": [{"CidrIpv6": "2001:db8:ff::/48"}]}]}],
			"NetworkInterfaces": [{"NetworkInterfaceId": "eni-6", "SubnetId": "subnet-6", "Groups": [{"GroupId": "sg-1"}],
				"Ipv6Addresses": [{"Ipv6Address": "2001:db8:0:1::5"}, {"Ipv6Address": "2001:db8:0:1::6", "IsPrimaryIpv6": true}]}]}`)
		if len(m.Findings) != 0 {
			t.Errorf("findings: %v", m.Findings)
		}
		e := m.ENIByID("eni-6")
		if e.Primary != addr("2001:db8:0:1::6") || len(e.Addrs) != 2 || e.Addrs[0] != e.Primary {
			t.Errorf("Primary %v Addrs %v: want the IsPrimaryIpv6 address first", e.Primary, e.Addrs)
		}
		if got := m.Subnets["subnet-6"].CIDRs; len(got) != 1 {
			t.Errorf("subnet CIDRs %v: the disassociated block must be skipped", got)
		}
		var got []string
		for _, r := range m.Groups["sg-1"].Ingress {
			got = append(got, r.Display)
		}
		want := []string{"icmpv6 all from ::/0", "udp 53 from 2001:db8::/32", "proto 50 from 2001:db8::/32", "all from 2001:db8:ff::/48"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("Display (-got +want):\n%s", diff)
		}
	})
}

func TestFindingError(t *testing.T) {
	f := Finding{Severity: Fatal, File: "a.json", Object: "eni-1", Message: "boom"}
	if got, want := f.Error(), "a.json: eni-1: boom (fatal)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	for _, tt := range []struct{ got, want string }{
		{Ingress.String(), "ingress"}, {Egress.String(), "egress"}, {Allow.String(), "allow"}, {Deny.String(), "deny"},
		{Warning.String(), "warning"}, {Fatal.String(), "fatal"}, {PeerGroup.String(), "group"},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

// encodingDoc is a small complete topology whose ENI description is not ASCII.
const encodingDoc = `{
	"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}],
	"NetworkAcls": [{"NetworkAclId": "acl-d", "VpcId": "vpc-1", "IsDefault": true}],
	"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5",
		"Description": "café ☕ 🚀"}]}`

func utf16Bytes(s string, order binary.AppendByteOrder, bom bool) []byte {
	var b []byte
	if bom {
		b = order.AppendUint16(b, 0xFEFF)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return b
}

func TestLoadEncodings(t *testing.T) {
	latin1 := []byte(strings.Replace(encodingDoc, "café ☕ 🚀", "caf\xe9", 1))
	tests := []struct {
		name     string
		data     []byte
		wantDesc string // the ENI's Description; "" when the file is skipped
		want     []wantFinding
	}{
		{"UTF-8", []byte(encodingDoc), "café ☕ 🚀", nil},
		{"UTF-8 with byte-order mark", append([]byte{0xEF, 0xBB, 0xBF}, encodingDoc...), "café ☕ 🚀", nil},
		{"UTF-16 LE with byte-order mark (PowerShell 5 >)", utf16Bytes(encodingDoc, binary.LittleEndian, true), "café ☕ 🚀", nil},
		{"UTF-16 BE with byte-order mark", utf16Bytes(encodingDoc, binary.BigEndian, true), "café ☕ 🚀", nil},
		{"Latin-1 inside a string", latin1, "caf\uFFFD", []wantFinding{{Warning, "t.json", "", fmt.Sprintf("not UTF-8 or UTF-16 text "+
			"(first bytes 0x7b 0x0a; byte 0xe9 at offset %d is not UTF-8): bytes that are not UTF-8 are read as U+FFFD", bytes.IndexByte(latin1, 0xe9))}}},
		{"binary", []byte{0x1f, 0x8b, 0x08, 0x00, 0xff}, "", []wantFinding{noENIs, {Fatal, "t.json", "",
			"not UTF-8 or UTF-16 text (first bytes 0x1f 0x8b; byte 0x8b at offset 1 is not UTF-8): save it as UTF-8; file skipped"}}},
		{"UTF-16 LE without byte-order mark", utf16Bytes(encodingDoc, binary.LittleEndian, false), "", []wantFinding{noENIs, {Fatal, "t.json", "",
			"UTF-16 text without a byte-order mark (first bytes 0x7b 0x00): save it as UTF-8; file skipped"}}},
		{"UTF-8 byte-order mark then invalid JSON", []byte("\xEF\xBB\xBF{"), "", []wantFinding{noENIs, {Fatal, "t.json", "",
			"invalid JSON: unexpected end of JSON input"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadOne(t, "t.json", string(tt.data))
			checkFindings(t, m.Findings, tt.want)
			got := ""
			if e := m.ENIByID("eni-1"); e != nil {
				got = e.Description
			}
			if got != tt.wantDesc {
				t.Errorf("Description = %q, want %q", got, tt.wantDesc)
			}
		})
	}
}
