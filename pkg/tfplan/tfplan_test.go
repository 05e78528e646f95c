package tfplan

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/vpc"
)

func baseline(t *testing.T) *vpc.Model {
	t.Helper()
	m, err := vpc.LoadPaths(filepath.Join("..", "..", "samples", "shop", "topology"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.FatalError(); err != nil {
		t.Fatal(err)
	}
	return m
}

// candidateOf builds the candidate of a fixture on the sample's baseline (returned too).
func candidateOf(t *testing.T, fixture string) (*vpc.Model, *Result) {
	t.Helper()
	base := baseline(t)
	plan, err := ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Candidate(base, plan)
	if err != nil {
		t.Fatalf("Candidate: %v (findings %v)", err, r.Model.Findings)
	}
	return base, r
}

func tcp(src, dst string, port uint16) vpc.Packet {
	return vpc.Packet{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: 40000, DstPort: port,
		Proto: vpc.ProtoTCP, ICMPType: vpc.ICMPUnknown, ICMPCode: vpc.ICMPUnknown}
}

// sgCheck: the security groups of the interface holding p.Dst (ingress) or p.Src (egress).
type sgCheck struct {
	dir           vpc.Direction
	p             vpc.Packet
	before, after bool   // allowed by the baseline, by the candidate
	addr          string // address the candidate's deciding rule is tied to ("" untouched rule or none)
}

// naclCheck: the NACL of the subnet of p.Dst (inbound) or p.Src (outbound).
type naclCheck struct {
	dir           vpc.Direction
	p             vpc.Packet
	before, after bool
	addr          string
}

func evalSG(t *testing.T, r *Result, m *vpc.Model, c sgCheck) (bool, string) {
	t.Helper()
	a := c.p.Dst
	if c.dir == vpc.Egress {
		a = c.p.Src
	}
	eni := m.ENIByAddr(a)
	if eni == nil {
		t.Fatalf("no interface has %s", a)
	}
	rule, _ := eni.EvalSGAt(c.dir, &c.p)
	if rule == nil {
		return false, ""
	}
	if r == nil {
		return true, ""
	}
	return true, r.Rules[rule]
}

func evalNACL(t *testing.T, r *Result, m *vpc.Model, c naclCheck) (bool, string) {
	t.Helper()
	a := c.p.Dst
	if c.dir == vpc.Egress {
		a = c.p.Src
	}
	sn := m.SubnetOf(a)
	if sn == nil || sn.NACL == nil {
		t.Fatalf("no subnet/NACL for %s", a)
	}
	e, _ := sn.NACL.EvaluateAt(c.dir, &c.p)
	if r == nil {
		return e.Action == vpc.Allow, ""
	}
	return e.Action == vpc.Allow, r.Entries[EntryKey{sn.NACL.ID, e.Egress, e.RuleNumber}]
}

func TestCandidate(t *testing.T) {
	const (
		web     = "10.20.1.10"
		app     = "10.20.2.10"
		bastion = "10.20.3.10"
		db      = "10.20.4.10"
	)
	tests := []struct {
		name       string
		fixture    string
		sg         []sgCheck
		nacl       []naclCheck
		ignored    []string
		unresolved []string // addresses
		check      func(t *testing.T, r *Result)
	}{
		{
			name:    "added ingress rule on an existing group",
			fixture: "added_rule.json",
			sg: []sgCheck{
				{vpc.Ingress, tcp(bastion, db, 5432), false, true, "aws_vpc_security_group_ingress_rule.db_from_bastion"},
				{vpc.Ingress, tcp(app, db, 5432), true, true, ""},
				{vpc.Ingress, tcp(bastion, db, 22), false, false, ""},
			},
		},
		{
			name:    "removed rule",
			fixture: "removed_rule.json",
			check: func(t *testing.T, r *Result) {
				if got := r.Addresses()["sg-0a1b2c3d4e5f63002"]; got != "aws_security_group_rule.app_ssh" {
					t.Errorf("Addresses()[app group] = %q", got)
				}
			},
			sg: []sgCheck{
				{vpc.Ingress, tcp(bastion, app, 22), true, false, ""},
				{vpc.Ingress, tcp(web, app, 8080), true, true, ""},
				{vpc.Ingress, tcp(bastion, web, 22), true, true, ""}, // the web group's own SSH rule stays
			},
		},
		{
			name:    "widened CIDR",
			fixture: "widened_cidr.json",
			sg: []sgCheck{
				{vpc.Ingress, tcp("198.51.100.7", bastion, 22), false, true, "aws_security_group.bastion"},
				{vpc.Ingress, tcp("203.0.113.9", bastion, 22), true, true, "aws_security_group.bastion"},
				{vpc.Ingress, tcp("198.51.100.7", bastion, 443), false, false, ""},
				{vpc.Egress, tcp(bastion, app, 22), true, true, "aws_security_group.bastion"},
			},
		},
		{
			name:    "new group with a rule referencing another new group",
			fixture: "new_groups.json",
			check: func(t *testing.T, r *Result) {
				cache := r.Model.Groups["tf:aws_security_group.cache"]
				if cache == nil || len(cache.Ingress) != 1 {
					t.Fatalf("cache group = %+v", cache)
				}
				rule := cache.Ingress[0]
				if rule.Peer != vpc.PeerGroup || rule.RefGroupID != "tf:aws_security_group.worker" || rule.Proto != vpc.ProtoTCP || rule.FromPort != 6379 || rule.ToPort != 6379 {
					t.Errorf("cache rule = %+v", rule)
				}
				if got := r.Rules[rule]; got != "aws_vpc_security_group_ingress_rule.cache_from_worker" {
					t.Errorf("cache rule address = %q", got)
				}
				worker := r.Model.Groups["tf:aws_security_group.worker"]
				if worker == nil || len(worker.Egress) != 1 || worker.Egress[0].RefGroupID != worker.ID || len(worker.Ingress) != 0 {
					t.Fatalf("worker group = %+v", worker)
				}
				if r.Created["tf:aws_security_group.cache"] != "aws_security_group.cache" {
					t.Errorf("Created = %v", r.Created)
				}
			},
		},
		{
			name:    "NACL rule renumbered in front of a deny",
			fixture: "nacl_renumbered.json",
			nacl: []naclCheck{
				{vpc.Ingress, tcp("198.51.100.7", web, 80), false, true, "aws_network_acl_rule.public_in_http"},
				{vpc.Ingress, tcp("192.0.2.7", web, 80), true, true, "aws_network_acl_rule.public_in_http"},
				{vpc.Ingress, tcp("198.51.100.7", web, 443), false, false, ""},
			},
			check: func(t *testing.T, r *Result) {
				n := r.Model.NACLs["acl-0a1b2c3d4e5f62001"]
				if slices.ContainsFunc(n.Inbound, func(e vpc.NACLEntry) bool { return e.RuleNumber == 110 }) {
					t.Errorf("entry 110 still there")
				}
			},
		},
		{
			name:    "unsupported resources listed as ignored, no-ops and reads skipped",
			fixture: "ignored.json",
			ignored: []string{"aws_s3_bucket.logs"},
			sg:      []sgCheck{{vpc.Ingress, tcp(app, db, 5432), true, true, ""}},
		},
		{
			name:       "unresolvable reference reported",
			fixture:    "unresolved.json",
			unresolved: []string{"aws_vpc_security_group_ingress_rule.from_var"},
			sg:         []sgCheck{{vpc.Ingress, tcp("198.51.100.7", db, 5432), false, false, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, r := candidateOf(t, tt.fixture)
			for _, c := range tt.sg {
				if got, _ := evalSG(t, nil, base, c); got != c.before {
					t.Errorf("baseline %v %+v: allowed %v, want %v", c.dir, c.p, got, c.before)
				}
				got, addr := evalSG(t, r, r.Model, c)
				if got != c.after || addr != c.addr {
					t.Errorf("candidate %v %+v: allowed %v by %q, want %v by %q", c.dir, c.p, got, addr, c.after, c.addr)
				}
			}
			for _, c := range tt.nacl {
				if got, _ := evalNACL(t, nil, base, c); got != c.before {
					t.Errorf("baseline NACL %v %+v: allowed %v, want %v", c.dir, c.p, got, c.before)
				}
				got, addr := evalNACL(t, r, r.Model, c)
				if got != c.after || addr != c.addr {
					t.Errorf("candidate NACL %v %+v: allowed %v by %q, want %v by %q", c.dir, c.p, got, addr, c.after, c.addr)
				}
			}
			if !slices.Equal(r.Ignored, tt.ignored) {
				t.Errorf("Ignored = %v, want %v", r.Ignored, tt.ignored)
			}
			var un []string
			for _, u := range r.Unresolved {
				un = append(un, u.Address)
			}
			if !slices.Equal(un, tt.unresolved) {
				t.Errorf("Unresolved = %v, want addresses %v", r.Unresolved, tt.unresolved)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestCandidateFindings: a candidate adds no findings to the baseline's (module_for_each.json's deny 45 does:
// it shadows entry 130, a warning the loader gives any NACL).
func TestCandidateFindings(t *testing.T) {
	for _, f := range []string{"added_rule.json", "removed_rule.json", "widened_cidr.json", "new_groups.json", "nacl_renumbered.json",
		"deleted_attached.json", "default_sg.json", "interface_groups.json", "nacl_association.json", "default_nacl.json"} {
		t.Run(f, func(t *testing.T) {
			base, r := candidateOf(t, f)
			if len(r.Model.Findings) != len(base.Findings) {
				t.Errorf("findings: baseline %v, candidate %v", base.Findings, r.Model.Findings)
			}
		})
	}
}

// TestParseErrors: input that is not a plan says what was expected, and where JSON breaks, at which byte.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"cut short", `{"format_version":"1.2","resource_changes":[`, "terraform show -json PLANFILE` writes it: unexpected end of JSON input at byte 44"},
		{"bad character", `{"format_version":"1.2",}`, "at byte 25"},
		{"not an object", `[1, 2]`, "cannot unmarshal array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
