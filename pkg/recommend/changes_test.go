package recommend

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// cur and prop are tiny constructors of an inbound current entry and proposed entry; proto 6 takes ports
// from-to, proto 1 all ICMP types, -1 all.
func cur(num int, action vpc.RuleAction, proto int16, cidr string, from, to uint16) vpc.NACLEntry {
	return vpc.NACLEntry{RuleNumber: num, Action: action, Proto: proto, Prefix: netip.MustParsePrefix(cidr), PortFrom: from,
		PortTo: to, ICMPType: -1, ICMPCode: -1}
}

func prop(num int, action vpc.RuleAction, proto int16, cidr string, from, to uint16) Entry {
	return Entry{NACLID: "acl-t", RuleNumber: num, Action: action, Proto: proto, Prefix: netip.MustParsePrefix(cidr), PortFrom: from,
		PortTo: to, ICMPType: -1, ICMPCode: -1, Basis: BasisCIDR}
}

func opNames(ops []naclOp) []string {
	var out []string
	for _, o := range ops {
		out = append(out, fmt.Sprintf("%d:%s %d", o.Step, [...]string{"", "create", "replace", "delete"}[o.Kind], o.RuleNumber()))
	}
	return out
}

// TestNACLChangeOrder checks the order of NACL operations and that replaying them never denies, in between,
// a packet that both the current and the proposed entries allow, except where in-place replaces cannot avoid
// it (a swap of rule numbers), which naclGaps reports.
func TestNACLChangeOrder(t *testing.T) {
	const A, D = vpc.Allow, vpc.Deny
	for _, tc := range []struct {
		name     string
		current  []vpc.NACLEntry
		proposed []Entry
		want     []string
		gap      string // the gap's packet, "" for none
	}{
		{
			name:     "allow-all narrowed in place, new allows first",
			current:  []vpc.NACLEntry{cur(100, A, -1, "0.0.0.0/0", 0, 0), cur(101, A, -1, "::/0", 0, 0)},
			proposed: []Entry{prop(100, A, 6, "0.0.0.0/0", 443, 443), prop(110, A, 6, "10.0.0.0/8", 22, 22)},
			want:     []string{"1:create 99", "1:create 110", "4:replace 100", "7:delete 99", "7:delete 101"},
		},
		{
			name:     "scanner deny takes the allow-all's number: allows created, then the deny",
			current:  []vpc.NACLEntry{cur(100, A, -1, "0.0.0.0/0", 0, 0)},
			proposed: []Entry{prop(100, D, -1, "198.51.100.66/32", 0, 0), prop(110, A, 6, "0.0.0.0/0", 443, 443)},
			want:     []string{"1:create 110", "6:replace 100"},
		},
		{
			name:     "a current deny replaced by an allow widens early",
			current:  []vpc.NACLEntry{cur(100, D, 6, "0.0.0.0/0", 22, 22), cur(110, A, -1, "0.0.0.0/0", 0, 0)},
			proposed: []Entry{prop(100, A, 6, "10.0.0.0/8", 22, 22), prop(110, A, 6, "0.0.0.0/0", 443, 443)},
			want:     []string{"1:create 109", "2:replace 100", "4:replace 110", "7:delete 109"},
		},
		{
			name:     "a changed deny is deleted early and created once the allows exist",
			current:  []vpc.NACLEntry{cur(90, D, -1, "192.0.2.1/32", 0, 0), cur(100, A, -1, "0.0.0.0/0", 0, 0)},
			proposed: []Entry{prop(90, D, -1, "198.51.100.7/32", 0, 0), prop(100, A, 6, "0.0.0.0/0", 443, 443)},
			want:     []string{"1:create 99", "3:delete 90", "4:replace 100", "5:create 90", "7:delete 99"},
		},
		{
			name:    "entries shifted up by a new first deny: replaced from the highest number down",
			current: []vpc.NACLEntry{cur(100, A, 6, "0.0.0.0/0", 443, 443), cur(110, A, 6, "10.0.0.0/8", 22, 22)},
			proposed: []Entry{prop(100, D, -1, "198.51.100.66/32", 0, 0), prop(110, A, 6, "0.0.0.0/0", 443, 443),
				prop(120, A, 6, "10.0.0.0/8", 22, 22)},
			want: []string{"1:create 109", "1:create 120", "4:replace 110", "6:replace 100", "7:delete 109"},
		},
		{
			name: "entries shifted down when a deny is dropped",
			current: []vpc.NACLEntry{cur(100, D, -1, "198.51.100.66/32", 0, 0), cur(110, A, 6, "0.0.0.0/0", 443, 443),
				cur(120, A, 6, "10.0.0.0/8", 22, 22)},
			proposed: []Entry{prop(100, A, 6, "0.0.0.0/0", 443, 443), prop(110, A, 6, "10.0.0.0/8", 22, 22)},
			want:     []string{"1:create 109", "2:replace 100", "4:replace 110", "7:delete 109", "7:delete 120"},
		},
		{
			name:     "a deny moved to another number is deleted only after its new entry exists",
			current:  []vpc.NACLEntry{cur(50, D, -1, "198.51.100.0/24", 0, 0), cur(100, A, 6, "0.0.0.0/0", 443, 443)},
			proposed: []Entry{prop(100, D, -1, "198.51.100.0/24", 0, 0), prop(110, A, 6, "0.0.0.0/0", 443, 443)},
			want:     []string{"1:create 110", "6:replace 100", "7:delete 50"},
		},
		{
			name:     "identical entries are left alone",
			current:  []vpc.NACLEntry{cur(100, A, 6, "0.0.0.0/0", 443, 443)},
			proposed: []Entry{prop(100, A, 6, "0.0.0.0/0", 443, 443)},
		},
		{
			name:     "two allows swap rule numbers: temporary copies below each carry the traffic",
			current:  []vpc.NACLEntry{cur(100, A, 6, "0.0.0.0/0", 443, 443), cur(110, A, 6, "10.0.0.0/8", 22, 22)},
			proposed: []Entry{prop(100, A, 6, "10.0.0.0/8", 22, 22), prop(110, A, 6, "0.0.0.0/0", 443, 443)},
			want:     []string{"1:create 99", "1:create 109", "4:replace 110", "4:replace 100", "7:delete 99", "7:delete 109"},
		},
		{
			name:     "a swap with no free number below: the gap is reported",
			current:  []vpc.NACLEntry{cur(1, A, 6, "0.0.0.0/0", 443, 443), cur(2, A, 6, "10.0.0.0/8", 22, 22)},
			proposed: []Entry{prop(1, A, 6, "10.0.0.0/8", 22, 22), prop(2, A, 6, "0.0.0.0/0", 443, 443)},
			want:     []string{"4:replace 2", "4:replace 1"},
			gap:      "tcp port 22 from 10.0.0.0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &vpc.NACL{ID: "acl-t", Inbound: tc.current}
			c := naclChangeOf(&NACLProposal{ID: "acl-t", Inbound: tc.proposed}, n).withGaps(n)
			if diff := cmp.Diff(opNames(c.Ops), tc.want); diff != "" {
				t.Errorf("ops (-got +want)\n%s", diff)
			}
			var gap string
			if len(c.Gaps) > 0 {
				gap = c.Gaps[0].text()
			}
			if gap != tc.gap {
				t.Errorf("gap %q, want %q", gap, tc.gap)
			}
		})
	}
}

// TestScenarioNACLChangeHasNoGap: the scenario's NACL changes (allow-alls replaced, a scanner deny, dropped
// IPv6 allow-alls) keep every packet that is allowed before and after allowed throughout.
func TestScenarioNACLChangeHasNoGap(t *testing.T) {
	m := loadScenario(t)
	rec, err := Recommend(m, scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rec.NACLs {
		c := naclChangeOf(&rec.NACLs[i], m.NACLs[rec.NACLs[i].ID]).withGaps(m.NACLs[rec.NACLs[i].ID])
		for _, g := range c.Gaps {
			t.Errorf("%s: %s denied after %v", rec.NACLs[i].ID, g.text(), opNames([]naclOp{*g.Op}))
		}
		if rec.NACLs[i].KeptInbound && rec.NACLs[i].KeptOutbound && len(c.Ops) != 0 {
			t.Errorf("%s is kept but has operations %v", rec.NACLs[i].ID, opNames(c.Ops))
		}
	}
}

func TestGroupChange(t *testing.T) {
	sg := func(proto int16, from, to int32, cidr, desc string) *vpc.SGRule {
		return &vpc.SGRule{ID: fmt.Sprintf("sgr-%d-%s", from, cidr), GroupID: "sg-1", Proto: proto, FromPort: from, ToPort: to,
			Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix(cidr), Description: desc}
	}
	rule := func(proto int16, from, to int32, cidr string) Rule {
		return Rule{GroupID: "sg-1", Proto: proto, FromPort: from, ToPort: to, Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix(cidr)}
	}
	for _, tc := range []struct {
		name       string
		current    []*vpc.SGRule
		proposed   []Rule
		kept       bool
		authorize  int
		revokeIDs  []string
		existingAt []int
	}{
		{"identical rule, description ignored", []*vpc.SGRule{sg(6, 443, 443, "0.0.0.0/0", "old")}, []Rule{rule(6, 443, 443, "0.0.0.0/0")},
			false, 0, nil, []int{0}},
		{"narrower rule authorized, wide one revoked", []*vpc.SGRule{sg(6, 0, 65535, "0.0.0.0/0", "")},
			[]Rule{rule(6, 443, 443, "0.0.0.0/0")}, false, 1, []string{"sgr-0-0.0.0.0/0"}, nil},
		{"all-protocol ports do not matter", []*vpc.SGRule{sg(-1, 0, 0, "10.0.0.0/8", "")}, []Rule{rule(-1, -1, -1, "10.0.0.0/8")},
			false, 0, nil, []int{0}},
		{"kept direction", []*vpc.SGRule{sg(6, 22, 22, "10.0.0.0/8", "")}, []Rule{rule(6, 22, 22, "10.0.0.0/8")}, true, 0, nil, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gp := &GroupProposal{ID: "sg-1", Ingress: tc.proposed, KeptIngress: tc.kept}
			c := groupChange(gp, &vpc.SecurityGroup{ID: "sg-1", Ingress: tc.current}, false)
			if got := len(c.Authorize()); got != tc.authorize {
				t.Errorf("authorize %d, want %d", got, tc.authorize)
			}
			var revoked []string
			for _, r := range c.Revoke {
				revoked = append(revoked, r.ID)
			}
			if diff := cmp.Diff(revoked, tc.revokeIDs); diff != "" {
				t.Errorf("revoke (-got +want)\n%s", diff)
			}
			var existing []int
			for i, e := range c.Existing {
				if e != nil {
					existing = append(existing, i)
				}
			}
			if diff := cmp.Diff(existing, tc.existingAt); diff != "" {
				t.Errorf("existing (-got +want)\n%s", diff)
			}
		})
	}
}
