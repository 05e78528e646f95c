package recommend

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowlens/flowlens/pkg/vpc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func opposite(d vpc.Direction) vpc.Direction {
	if d == vpc.Ingress {
		return vpc.Egress
	}
	return vpc.Ingress
}

// verdict judges request q (from client port cport) on model m at every layer it meets: the interface's
// security groups and, when the peer is outside its subnet, its NACL for the request and for the reply (NACLs
// are stateless); when the peer is an interface of the model, the same on the peer's side. It returns "" when
// everything allows it, else the first layer that blocks.
func verdict(m *vpc.Model, q Request, cport uint16) string {
	e := m.ENIByID(q.ENI)
	local := e.Primary
	p := vpc.Packet{Src: q.Peer, Dst: local, SrcPort: cport, DstPort: q.Port, Proto: q.Proto,
		ICMPType: vpc.ICMPUnknown, ICMPCode: vpc.ICMPUnknown}
	if q.Dir == vpc.Egress {
		p.Src, p.Dst = local, q.Peer
	}
	reply := vpc.Packet{Src: p.Dst, Dst: p.Src, SrcPort: p.DstPort, DstPort: p.SrcPort, Proto: p.Proto,
		ICMPType: vpc.ICMPUnknown, ICMPCode: vpc.ICMPUnknown}
	side := func(at *vpc.ENI, dir vpc.Direction, other netip.Addr) string {
		if at.HasSG() {
			if r, _ := at.EvalSGAt(dir, &p); r == nil {
				return at.ID + " sg " + dir.String()
			}
		}
		if !inSubnet(at.Subnet, other) {
			n := at.Subnet.NACL
			if en, _ := n.EvaluateAt(dir, &p); en.Action != vpc.Allow {
				return n.ID + " " + dir.String() + " request: " + en.Rule()
			}
			if en, _ := n.EvaluateAt(opposite(dir), &reply); en.Action != vpc.Allow {
				return n.ID + " " + opposite(dir).String() + " reply: " + en.Rule()
			}
		}
		return ""
	}
	if v := side(e, q.Dir, q.Peer); v != "" {
		return v
	}
	if pe := m.ENIByAddr(q.Peer); pe != nil && pe != e {
		return side(pe, opposite(q.Dir), local)
	}
	return ""
}

// TestRoundTrip learns from the scenario, applies the recommendation and replays every observed request
// against the candidate: each proven one passes every layer (both ends' groups, both subnets' NACLs, request
// and reply, from the lowest and the highest client port), the unproven one and scanner or unobserved
// requests are denied, and never-filtered traffic got no rule.
func TestRoundTrip(t *testing.T) {
	m := loadScenario(t)
	obs := scenarioTraffic()
	rec, err := Recommend(m, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cand, err := rec.Apply(m)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecommender(m, obs, Options{}.withDefaults())
	for _, q := range obs.Requests {
		if r.neverFiltered(q.Peer, q.Proto, q.Port) != "" {
			continue
		}
		want := ""
		if q.Flows < DefaultOptions().MinFlows {
			want = "denied"
		}
		for _, cport := range []uint16{q.ClientPortMin, q.ClientPortMax} {
			got := verdict(cand, q, cport)
			if want == "denied" && got != "" {
				got = "denied"
			}
			if got != want {
				t.Errorf("%s %s %v %d/%d from client port %d: got %q, want %q", q.ENI, q.Dir, q.Peer, q.Proto, q.Port, cport, got, want)
			}
		}
	}
	denied := []struct {
		name string
		q    Request
	}{
		{"scanner to an internet-wide port", in("eni-0web1", "198.51.100.66", vpc.ProtoTCP, 443)},
		{"ssh from the internet", in("eni-0web1", "20.0.0.7", vpc.ProtoTCP, 22)},
		{"web to db directly", out("eni-0web1", "10.0.2.10", vpc.ProtoTCP, 5432)},
		{"app to db on mysql", out("eni-0app1", "10.0.2.10", vpc.ProtoTCP, 3306)},
		{"web smtp to the internet", out("eni-0web1", "20.0.0.7", vpc.ProtoTCP, 25)},
		{"db to an unobserved internet address", out("eni-0db1", "52.94.3.1", vpc.ProtoTCP, 443)},
		{"bastion ssh from outside the prefix list", in("eni-0bastion", "192.168.102.1", vpc.ProtoTCP, 22)},
	}
	for _, c := range denied {
		if got := verdict(cand, c.q, 40000); got == "" {
			t.Errorf("%s: the candidate allows it", c.name)
		}
		if got := verdict(m, c.q, 40000); got != "" && c.name != "web to db directly" && c.name != "app to db on mysql" &&
			c.name != "bastion ssh from outside the prefix list" && c.name != "db to an unobserved internet address" {
			t.Logf("%s: already denied by the current configuration (%s)", c.name, got)
		}
	}
	for _, g := range rec.Groups {
		for _, ru := range append(slices.Clone(g.Ingress), g.Egress...) {
			if ru.Peer == vpc.PeerCIDR && (ru.Prefix.Contains(addr("169.254.169.254")) && ru.Prefix.Bits() > 0 ||
				ru.Prefix == netip.PrefixFrom(addr("10.0.0.2"), 32)) {
				t.Errorf("%s: rule %s for never-filtered traffic", g.ID, ru.String())
			}
		}
	}
	// The idle interface keeps its rules (no evidence): the others must be at least 90% tighter (issue 10's bar).
	var before, after Exposure
	for _, x := range rec.Exposure.Interfaces {
		if x.ENI != "eni-0idle" {
			before = before.Plus(x.IngressBefore).Plus(x.EgressBefore)
			after = after.Plus(x.IngressAfter).Plus(x.EgressAfter)
		}
	}
	if red := 1 - float64(after.V4)/float64(before.V4); red < 0.9 {
		t.Errorf("exposure reduction of the interfaces with evidence %.3f, want at least 0.9 (before %v, after %v)", red, before, after)
	}
}

// TestAWSJSONRoundTrip writes the candidate as AWS CLI JSON, loads it back beside the scenario's subnets,
// interfaces and prefix lists, and compares the groups and NACLs with the candidate's.
func TestAWSJSONRoundTrip(t *testing.T) {
	m := loadScenario(t)
	rec, err := Recommend(m, scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cand, err := rec.Apply(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var sgs, nacls bytes.Buffer
	if err := WriteSecurityGroups(&sgs, cand); err != nil {
		t.Fatal(err)
	}
	if err := WriteNetworkACLs(&nacls, cand); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"security-groups.json": sgs.Bytes(), "network-acls.json": nacls.Bytes()}
	for _, f := range []string{"subnets.json", "network-interfaces.json", "prefix-lists.json", "pl-0c0de.json"} {
		b, err := os.ReadFile(filepath.Join("testdata/scenario", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	back, err := vpc.LoadPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.FatalError(); err != nil {
		t.Fatal(err)
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(vpc.SGRule{}), cmpopts.IgnoreFields(vpc.NACLEntry{}, "Synthesized"),
		cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})}
	if diff := cmp.Diff(back.Groups, cand.Groups, opts); diff != "" {
		t.Errorf("groups loaded back differ (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(back.NACLs, cand.NACLs, opts); diff != "" {
		t.Errorf("NACLs loaded back differ (-got +want):\n%s", diff)
	}
	for _, n := range back.NACLs {
		for _, es := range [][]vpc.NACLEntry{n.Inbound, n.Outbound} {
			for _, e := range es {
				if e.ShadowedBy != 0 && !e.Default { // a kept allow-all makes the '*' deny unreachable: not ours
					t.Errorf("%s entry %d (egress %v) is shadowed by entry %d", n.ID, e.RuleNumber, e.Egress, e.ShadowedBy)
				}
			}
		}
	}
	golden(t, "security-groups.json", sgs.Bytes())
	golden(t, "network-acls.json", nacls.Bytes())
}

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("%s differs (-got +want); run go test -update after checking:\n%s", path, diff)
	}
}
