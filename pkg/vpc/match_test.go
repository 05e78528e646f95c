package vpc

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Tiny constructors for readable tables.

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func tcp(src, dst string, dport uint16) Packet {
	return Packet{Src: addr(src), Dst: addr(dst), SrcPort: 40000, DstPort: dport, Proto: ProtoTCP, ICMPType: ICMPUnknown, ICMPCode: ICMPUnknown}
}

func udp(src, dst string, dport uint16) Packet {
	p := tcp(src, dst, dport)
	p.Proto = ProtoUDP
	return p
}

func icmp(src, dst string, typ, code int16) Packet {
	p := Packet{Src: addr(src), Dst: addr(dst), Proto: ProtoICMP, ICMPType: typ, ICMPCode: code}
	if p.Src.Is6() {
		p.Proto = ProtoICMPv6
	}
	return p
}

func proto(src, dst string, n uint8) Packet {
	return Packet{Src: addr(src), Dst: addr(dst), DstPort: 9, Proto: n, ICMPType: ICMPUnknown, ICMPCode: ICMPUnknown}
}

func entry(rule int, egress bool, action RuleAction, cidr string, proto int16, from, to uint16) NACLEntry {
	return NACLEntry{RuleNumber: rule, Egress: egress, Action: action, Prefix: prefix(cidr), Proto: proto,
		PortFrom: from, PortTo: to, ICMPType: -1, ICMPCode: -1}
}

func icmpEntry(rule int, cidr string, proto, typ, code int16) NACLEntry {
	e := entry(rule, false, Allow, cidr, proto, 0, 0)
	e.ICMPType, e.ICMPCode = typ, code
	return e
}

func TestNACLEntryMatches(t *testing.T) {
	tests := []struct {
		name  string
		entry NACLEntry
		pkt   Packet
		want  bool
	}{
		{"v4 cidr contains src", entry(100, false, Allow, "10.0.0.0/8", ProtoAll, 0, 0), tcp("10.1.2.3", "172.16.0.1", 22), true},
		{"v4 cidr misses src", entry(100, false, Allow, "10.0.0.0/8", ProtoAll, 0, 0), tcp("11.1.2.3", "10.0.0.1", 22), false},
		{"inbound matches src not dst", entry(100, false, Allow, "10.0.0.0/8", ProtoAll, 0, 0), tcp("192.0.2.1", "10.0.0.1", 22), false},
		{"outbound matches dst", entry(100, true, Allow, "10.0.0.0/8", ProtoAll, 0, 0), tcp("192.0.2.1", "10.0.0.1", 22), true},
		{"outbound ignores src", entry(100, true, Allow, "10.0.0.0/8", ProtoAll, 0, 0), tcp("10.0.0.1", "192.0.2.1", 22), false},
		{"v4 all vs v6 packet", entry(100, false, Allow, "0.0.0.0/0", ProtoAll, 0, 0), tcp("2001:db8::1", "2001:db8::2", 22), false},
		{"v6 all vs v4 packet", entry(101, false, Allow, "::/0", ProtoAll, 0, 0), tcp("10.0.0.1", "10.0.0.2", 22), false},
		{"v6 cidr contains v6 src", entry(101, false, Allow, "2001:db8::/32", ProtoAll, 0, 0), tcp("2001:db8::1", "2001:db9::2", 22), true},
		{"proto -1 matches udp", entry(100, false, Allow, "0.0.0.0/0", ProtoAll, 0, 0), udp("10.0.0.1", "10.0.0.2", 53), true},
		{"proto -1 matches esp", entry(100, false, Allow, "0.0.0.0/0", ProtoAll, 0, 0), proto("10.0.0.1", "10.0.0.2", 50), true},
		{"tcp port inside range", entry(100, false, Allow, "0.0.0.0/0", ProtoTCP, 1024, 65535), tcp("10.0.0.1", "10.0.0.2", 1024), true},
		{"tcp port top of range", entry(100, false, Allow, "0.0.0.0/0", ProtoTCP, 1024, 65535), tcp("10.0.0.1", "10.0.0.2", 65535), true},
		{"tcp port below range", entry(100, false, Allow, "0.0.0.0/0", ProtoTCP, 1024, 65535), tcp("10.0.0.1", "10.0.0.2", 1023), false},
		{"tcp entry vs udp packet", entry(100, false, Allow, "0.0.0.0/0", ProtoTCP, 0, 65535), udp("10.0.0.1", "10.0.0.2", 53), false},
		{"udp single port", entry(100, false, Allow, "0.0.0.0/0", ProtoUDP, 53, 53), udp("10.0.0.1", "10.0.0.2", 53), true},
		{"other proto ignores ports", entry(100, false, Allow, "0.0.0.0/0", 50, 1, 1), proto("10.0.0.1", "10.0.0.2", 50), true},
		{"icmp -1/-1 matches echo", icmpEntry(100, "0.0.0.0/0", ProtoICMP, -1, -1), icmp("10.0.0.1", "10.0.0.2", 8, 0), true},
		{"icmp type 8 matches echo", icmpEntry(100, "0.0.0.0/0", ProtoICMP, 8, -1), icmp("10.0.0.1", "10.0.0.2", 8, 0), true},
		{"icmp type 8 misses echo reply", icmpEntry(100, "0.0.0.0/0", ProtoICMP, 8, -1), icmp("10.0.0.1", "10.0.0.2", 0, 0), false},
		{"icmp code 4 misses code 1", icmpEntry(100, "0.0.0.0/0", ProtoICMP, 3, 4), icmp("10.0.0.1", "10.0.0.2", 3, 1), false},
		{"icmp type 8 matches unknown type", icmpEntry(100, "0.0.0.0/0", ProtoICMP, 8, -1), icmp("10.0.0.1", "10.0.0.2", ICMPUnknown, ICMPUnknown), true},
		{"icmp entry vs icmpv6 packet", icmpEntry(100, "::/0", ProtoICMP, -1, -1), icmp("2001:db8::1", "2001:db8::2", 128, 0), false},
		{"icmpv6 entry", icmpEntry(100, "::/0", ProtoICMPv6, 128, -1), icmp("2001:db8::1", "2001:db8::2", 128, 0), true},
		{"zero addr never matches", entry(100, false, Allow, "0.0.0.0/0", ProtoAll, 0, 0), Packet{Proto: ProtoTCP}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.entry.Matches(tt.pkt); got != tt.want {
				t.Errorf("Matches(%+v) = %v, want %v", tt.pkt, got, tt.want)
			}
		})
	}
}

// orderNACL is a custom NACL listed out of order in the file, with a deny before a broader allow.
const orderNACL = `{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": false, "Entries": [
  {"RuleNumber": 200, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 90, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 22, "To": 22}},
  {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.1.0.0/16", "PortRange": {"From": 22, "To": 22}},
  {"RuleNumber": 110, "Protocol": "17", "RuleAction": "deny", "Egress": false, "Ipv6CidrBlock": "2001:db8::/32", "PortRange": {"From": 53, "To": 53}},
  {"RuleNumber": 120, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "Ipv6CidrBlock": "::/0"},
  {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "deny", "Egress": true, "CidrBlock": "192.0.2.0/24"},
  {"RuleNumber": 110, "Protocol": "6", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 1024, "To": 65535}}
]}]}`

func loadOne(t testing.TB, name, doc string) *Model {
	t.Helper()
	m, err := Load(map[string][]byte{name: []byte(doc)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNACLEvaluate(t *testing.T) {
	n := loadOne(t, "acl.json", orderNACL).NACLs["acl-1"]
	tests := []struct {
		name       string
		dir        Direction
		pkt        Packet
		wantRule   int
		wantAction RuleAction
	}{
		{"deny 90 before allow 100 and 200", Ingress, tcp("10.1.2.3", "10.9.0.1", 22), 90, Deny},
		{"allow 200 when 90 misses the port", Ingress, tcp("10.1.2.3", "10.9.0.1", 443), 200, Allow},
		{"allow 200 from outside 10/8", Ingress, tcp("192.0.2.1", "10.9.0.1", 22), 200, Allow},
		{"v6 deny 110", Ingress, udp("2001:db8::1", "2001:db8::2", 53), 110, Deny},
		{"v6 allow 120 past the v4 entries", Ingress, tcp("2001:db8::1", "2001:db8::2", 22), 120, Allow},
		{"outbound deny 100 on dst", Egress, tcp("10.9.0.1", "192.0.2.9", 40000), 100, Deny},
		{"outbound allow 110 ephemeral", Egress, tcp("10.9.0.1", "198.51.100.1", 40000), 110, Allow},
		{"outbound v4 star deny", Egress, tcp("10.9.0.1", "198.51.100.1", 80), DefaultRuleV4, Deny},
		{"outbound v6 star deny", Egress, tcp("2001:db8::1", "2001:db8::2", 40000), DefaultRuleV6, Deny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := n.Evaluate(tt.dir, tt.pkt)
			if got == nil {
				t.Fatal("Evaluate returned nil")
			}
			if got.RuleNumber != tt.wantRule || got.Action != tt.wantAction {
				t.Errorf("Evaluate = %s %s, want %d %s", got.Rule(), got.Action, tt.wantRule, tt.wantAction)
			}
			// EvaluateAt gives the same entry and its position in the direction's list.
			list := n.Inbound
			if tt.dir == Egress {
				list = n.Outbound
			}
			at, pos := n.EvaluateAt(tt.dir, &tt.pkt)
			if at != got || pos < 0 || pos >= len(list) || &list[pos] != got {
				t.Errorf("EvaluateAt = %p at %d, want %p (Evaluate) at its position in %d entries", at, pos, got, len(list))
			}
		})
	}
	t.Run("returns a pointer into the entries", func(t *testing.T) {
		got := n.Evaluate(Ingress, tcp("10.1.2.3", "10.9.0.1", 22))
		if got != &n.Inbound[0] {
			t.Errorf("Evaluate returned %p, want &Inbound[0] %p", got, &n.Inbound[0])
		}
	})
	t.Run("ascending order with synthesized star entries", func(t *testing.T) {
		type row struct {
			Rule        int
			Default     bool
			Synthesized bool
		}
		var got []row
		for _, e := range n.Inbound {
			got = append(got, row{e.RuleNumber, e.Default, e.Synthesized})
		}
		want := []row{{90, false, false}, {100, false, false}, {110, false, false}, {120, false, false}, {200, false, false},
			{DefaultRuleV4, true, true}, {DefaultRuleV6, true, true}}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("inbound order (-got +want):\n%s", diff)
		}
	})
}

func TestShadowedBy(t *testing.T) {
	doc := `{"NetworkAcls": [{"NetworkAclId": "acl-s", "VpcId": "vpc-1", "Entries": [
  {"RuleNumber": 10, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 1000, "To": 2000}},
  {"RuleNumber": 20, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.1.0.0/16", "PortRange": {"From": 1500, "To": 1600}},
  {"RuleNumber": 30, "Protocol": "6", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.1.0.0/16", "PortRange": {"From": 1500, "To": 2500}},
  {"RuleNumber": 40, "Protocol": "17", "RuleAction": "allow", "Egress": false, "CidrBlock": "10.1.0.0/16", "PortRange": {"From": 1500, "To": 1600}},
  {"RuleNumber": 50, "Protocol": "1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": -1, "Code": -1}},
  {"RuleNumber": 60, "Protocol": "1", "RuleAction": "deny", "Egress": false, "CidrBlock": "10.0.0.0/8", "IcmpTypeCode": {"Type": 8, "Code": -1}},
  {"RuleNumber": 70, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "192.0.2.0/24"},
  {"RuleNumber": 80, "Protocol": "6", "RuleAction": "deny", "Egress": false, "CidrBlock": "192.0.2.128/25", "PortRange": {"From": 22, "To": 22}},
  {"RuleNumber": 90, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "192.0.0.0/16"},
  {"RuleNumber": 95, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "Ipv6CidrBlock": "::/0"},
  {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "Ipv6CidrBlock": "2001:db8::/32"},
  {"RuleNumber": 10, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"},
  {"RuleNumber": 20, "Protocol": "6", "RuleAction": "deny", "Egress": true, "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 22, "To": 22}}
]}]}`
	m := loadOne(t, "acl.json", doc)
	n := m.NACLs["acl-s"]
	got := map[string]int{}
	for _, e := range append(append([]NACLEntry{}, n.Inbound...), n.Outbound...) {
		got[dirWord(e.Egress)+" "+e.Rule()] = e.ShadowedBy
	}
	want := map[string]int{
		"inbound 10":     0,
		"inbound 20":     10, // tcp 1500-1600 from 10.1/16 inside deny 10's tcp 1000-2000 from 10/8: action does not matter
		"inbound 30":     0,  // port range sticks out of 10's
		"inbound 40":     0,  // udp is not tcp
		"inbound 50":     0,
		"inbound 60":     50, // icmp -1 covers type 8
		"inbound 70":     0,
		"inbound 80":     70, // proto -1 on a containing prefix
		"inbound 90":     0,  // wider prefix than 70: not covered
		"inbound 95":     0,  // v6 entries are never covered by v4 ones
		"inbound 100":    95,
		"inbound 32767":  0, // no earlier v4 entry covers 0.0.0.0/0 for all protocols
		"inbound 32768":  95,
		"outbound 10":    0,
		"outbound 20":    10,
		"outbound 32767": 10,
		"outbound 32768": 0,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ShadowedBy (-got +want):\n%s", diff)
	}
	// Shadowed non-'*' entries are reported as warnings.
	var shadowWarnings int
	for _, f := range m.Findings {
		if f.Object == "acl-s" && f.Severity == Warning {
			shadowWarnings++
		}
	}
	if shadowWarnings != 5 {
		t.Errorf("got %d shadow warnings, want 5: %v", shadowWarnings, m.Findings)
	}
}

func basicModel(t testing.TB) *Model {
	t.Helper()
	m, err := LoadPaths("testdata/basic")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ruleByID(t testing.TB, m *Model, id string) *SGRule {
	t.Helper()
	for _, g := range m.Groups {
		for _, r := range append(append([]*SGRule{}, g.Ingress...), g.Egress...) {
			if r.ID == id {
				return r
			}
		}
	}
	t.Fatalf("no rule %s", id)
	return nil
}

const (
	webSG   = "sg-0web00000000000a1"
	appSG   = "sg-0app00000000000b2"
	dbSG    = "sg-0db000000000000c3"
	defSG   = "sg-0def00000000000d4"
	webENI  = "eni-0web0000000000001"
	appENI  = "eni-0app0000000000002"
	dbENI   = "eni-0db00000000000003"
	natENI  = "eni-0nat0000000000004"
	webV6   = "2600:1f18:1234:5600::10"
	appV6   = "2600:1f18:1234:560a::20"
	plCorp  = "pl-0a1b2c3d4e5f67890"
	privACL = "acl-0c0c0c0c0c0c0c0c0"
	defACL  = "acl-0d0d0d0d0d0d0d0d0"
)

func TestSGRuleMatches(t *testing.T) {
	m := basicModel(t)
	tests := []struct {
		name string
		rule string
		pkt  Packet
		want bool
	}{
		{"v4 cidr any source", webSG + "/ingress/0", tcp("203.0.113.9", "10.20.0.10", 443), true},
		{"v4 cidr wrong port", webSG + "/ingress/0", tcp("203.0.113.9", "10.20.0.10", 80), false},
		{"v4 rule vs v6 packet", webSG + "/ingress/0", tcp("2001:db8::9", webV6, 443), false},
		{"v6 rule v6 packet", webSG + "/ingress/1", tcp("2001:db8::9", webV6, 443), true},
		{"v6 rule vs v4 packet", webSG + "/ingress/1", tcp("203.0.113.9", "10.20.0.10", 443), false},
		{"prefix list first entry", webSG + "/ingress/2", tcp("198.51.100.7", "10.20.0.10", 22), true},
		{"prefix list second entry", webSG + "/ingress/2", tcp("192.0.2.70", "10.20.0.10", 22), true},
		{"prefix list outside entries", webSG + "/ingress/2", tcp("192.0.2.10", "10.20.0.10", 22), false},
		{"icmp type 8", webSG + "/ingress/3", icmp("10.20.10.20", "10.20.0.10", 8, 0), true},
		{"icmp type 0 misses type 8 rule", webSG + "/ingress/3", icmp("10.20.10.20", "10.20.0.10", 0, 0), false},
		{"icmp unknown type assumed", webSG + "/ingress/3", icmp("10.20.10.20", "10.20.0.10", ICMPUnknown, ICMPUnknown), true},
		{"icmp from outside the cidr", webSG + "/ingress/3", icmp("192.0.2.1", "10.20.0.10", 8, 0), false},
		{"icmp rule vs tcp packet", webSG + "/ingress/3", tcp("10.20.10.20", "10.20.0.10", 8), false},
		{"group ref primary member", "sgr-0a0000000000app01", tcp("10.20.0.10", "10.20.10.20", 8080), true},
		{"group ref secondary member address", "sgr-0a0000000000app01", tcp("10.20.0.12", "10.20.10.20", 8080), true},
		{"group ref v6 member address", "sgr-0a0000000000app01", tcp(webV6, appV6, 8080), true},
		{"group ref public ip is not a member", "sgr-0a0000000000app01", tcp("54.210.1.10", "10.20.10.20", 8080), false},
		{"group ref non-member", "sgr-0a0000000000app01", tcp("10.20.20.30", "10.20.10.20", 8080), false},
		{"stale group ref matches nothing", "sgr-0a0000000000app02", tcp("10.20.0.10", "10.20.10.20", 22), false},
		{"egress proto -1 any port", "sgr-0a0000000000app03", udp("10.20.10.20", "8.8.8.8", 53), true},
		{"egress proto -1 other proto", "sgr-0a0000000000app03", proto("10.20.10.20", "8.8.8.8", 47), true},
		{"egress matches dst not src", "sgr-0a0000000000app03", tcp("10.20.10.20", "2001:db8::1", 443), false},
		{"self reference proto -1", defSG + "/ingress/0", udp(appV6, appV6, 9999), true},
		{"self reference non-member", defSG + "/ingress/0", udp("10.20.0.10", "10.20.10.20", 9999), false},
		{"tcp 5432 from app group", dbSG + "/ingress/0", tcp("10.20.10.20", "10.20.20.30", 5432), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ruleByID(t, m, tt.rule)
			if got := r.Matches(tt.pkt); got != tt.want {
				t.Errorf("rule %s %q Matches(%v -> %v) = %v, want %v", r.ID, r.Display, tt.pkt.Src, tt.pkt.Dst, got, tt.want)
			}
		})
	}
}

func TestEvalSG(t *testing.T) {
	m := basicModel(t)
	tests := []struct {
		name string
		eni  string
		dir  Direction
		pkt  Packet
		want string // rule id, "" for implicit deny
	}{
		{"web https v6", webENI, Ingress, tcp("2001:db8::9", webV6, 443), webSG + "/ingress/1"},
		{"web ssh from vpn prefix list", webENI, Ingress, tcp("198.51.100.7", "10.20.0.11", 22), webSG + "/ingress/2"},
		{"web ssh from internet denied", webENI, Ingress, tcp("203.0.113.1", "10.20.0.11", 22), ""},
		{"app second group (default) self reference", appENI, Ingress, udp("10.20.10.20", "10.20.10.20", 53), defSG + "/ingress/0"},
		{"app 8080 from web", appENI, Ingress, tcp("10.20.0.11", "10.20.10.20", 8080), "sgr-0a0000000000app01"},
		{"app egress first group first", appENI, Egress, tcp("10.20.10.20", "203.0.113.1", 443), "sgr-0a0000000000app03"},
		{"app egress v6 via default group", appENI, Egress, tcp(appV6, "2001:db8::1", 443), defSG + "/egress/1"},
		{"db has no egress rules", dbENI, Egress, tcp("10.20.20.30", "10.20.10.20", 443), ""},
		{"nat gateway has no groups", natENI, Ingress, tcp("10.20.10.20", "10.20.0.5", 443), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := m.ENIByID(tt.eni)
			got := ""
			r := e.EvalSG(tt.dir, tt.pkt)
			if r != nil {
				got = r.ID
			}
			if got != tt.want {
				t.Errorf("EvalSG = %q, want %q", got, tt.want)
			}
			// EvalSGAt gives the same rule and its position in the direction's list (-1 for none).
			rules := e.Ingress
			if tt.dir == Egress {
				rules = e.Egress
			}
			at, pos := e.EvalSGAt(tt.dir, &tt.pkt)
			if at != r || (r == nil) != (pos == -1) || (r != nil && (pos >= len(rules) || rules[pos] != r)) {
				t.Errorf("EvalSGAt = %v at %d, want %v (EvalSG) at its position", at, pos, r)
			}
		})
	}
	if m.ENIByID(natENI).HasSG() || !m.ENIByID(webENI).HasSG() {
		t.Error("HasSG: want false for the NAT gateway ENI, true for web")
	}
}

func TestUntracked(t *testing.T) {
	m := basicModel(t)
	web := m.ENIByID(webENI)
	app := m.ENIByID(appENI)
	tests := []struct {
		name string
		eni  *ENI
		dir  Direction
		pkt  Packet
		rule string
		want bool
	}{
		{"https from 0.0.0.0/0 with egress all", web, Ingress, tcp("203.0.113.9", "10.20.0.10", 443), webSG + "/ingress/0", true},
		{"https from ::/0 with egress ::/0 all", web, Ingress, tcp("2001:db8::9", webV6, 443), webSG + "/ingress/1", true},
		{"prefix-list peer is tracked", web, Ingress, tcp("198.51.100.7", "10.20.0.10", 22), webSG + "/ingress/2", false},
		{"icmp is always tracked", web, Ingress, icmp("10.20.10.20", "10.20.0.10", 8, 0), webSG + "/ingress/3", false},
		{"egress all but no inbound all", app, Egress, tcp("10.20.10.20", "203.0.113.1", 443), "sgr-0a0000000000app03", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.eni.Untracked(tt.dir, tt.pkt, ruleByID(t, m, tt.rule)); got != tt.want {
				t.Errorf("Untracked = %v, want %v", got, tt.want)
			}
		})
	}
	if web.Untracked(Ingress, tcp("203.0.113.9", "10.20.0.10", 443), nil) {
		t.Error("Untracked with a nil rule = true, want false")
	}
}

func TestIndexes(t *testing.T) {
	m := basicModel(t)
	for _, tt := range []struct{ addr, eni, subnet string }{
		{"10.20.0.10", webENI, "subnet-0aaa1111bbbb22220"},
		{"10.20.0.12", webENI, "subnet-0aaa1111bbbb22220"},
		{webV6, webENI, "subnet-0aaa1111bbbb22220"},
		{appV6, appENI, "subnet-0aaa1111bbbb22221"},
		{"10.20.20.99", "", "subnet-0aaa1111bbbb22222"},
		{"54.210.1.10", "", ""}, // public addresses are not private ENI addresses
		{"10.21.0.1", "", ""},
	} {
		var gotENI, gotSubnet string
		if e := m.ENIByAddr(addr(tt.addr)); e != nil {
			gotENI = e.ID
		}
		if s := m.SubnetOf(addr(tt.addr)); s != nil {
			gotSubnet = s.ID
		}
		if gotENI != tt.eni || gotSubnet != tt.subnet {
			t.Errorf("%s: ENIByAddr = %q, SubnetOf = %q; want %q, %q", tt.addr, gotENI, gotSubnet, tt.eni, tt.subnet)
		}
	}
	if m.SubnetOf(netip.Addr{}) != nil || m.ENIByAddr(netip.Addr{}) != nil {
		t.Error("the zero Addr maps to an object")
	}
	want := []netip.Addr{addr("10.20.0.10"), addr("10.20.0.11"), addr("10.20.0.12"), addr(webV6)}
	if diff := cmp.Diff(m.GroupMembers(webSG), want, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("GroupMembers(web) (-got +want):\n%s", diff)
	}
	e := m.ENIByID(webENI)
	if !e.HasAddr(addr("10.20.0.11")) || e.HasAddr(addr("54.210.1.11")) {
		t.Error("HasAddr: want true for a secondary private address, false for a public one")
	}
}

func TestMostSpecificSubnet(t *testing.T) {
	doc := `{"Subnets": [
  {"SubnetId": "subnet-wide", "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"},
  {"SubnetId": "subnet-narrow", "VpcId": "vpc-2", "CidrBlock": "10.0.5.0/24"}],
 "NetworkAcls": [
  {"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": true},
  {"NetworkAclId": "acl-2", "VpcId": "vpc-2", "IsDefault": true}]}`
	m := loadOne(t, "combined.json", doc)
	for a, want := range map[string]string{"10.0.5.1": "subnet-narrow", "10.0.6.1": "subnet-wide"} {
		if got := m.SubnetOf(addr(a)); got == nil || got.ID != want {
			t.Errorf("SubnetOf(%s) = %v, want %s", a, got, want)
		}
	}
	if got := m.Subnets["subnet-narrow"].NACL.ID; got != "acl-2" {
		t.Errorf("each VPC keeps its own default NACL: subnet-narrow uses %s, want acl-2", got)
	}
}
