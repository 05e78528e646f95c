package recommend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// scenarioScript returns the scenario's apply.sh; ids gives some current rules security group rule ids
// (group id -> ingress rule index -> sgr- id), as describe-security-group-rules would.
func scenarioScript(t *testing.T, ids map[string]map[int]string) (*Recommendation, []byte) {
	t.Helper()
	m := loadScenario(t)
	rec, err := Recommend(m, scenarioTraffic(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for g, byIndex := range ids {
		for i, id := range byIndex {
			m.Groups[g].Ingress[i].ID = id
		}
	}
	var b bytes.Buffer
	if err := WriteApplyScript(&b, rec, m); err != nil {
		t.Fatal(err)
	}
	return rec, b.Bytes()
}

func bashPath(t *testing.T) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on PATH")
	}
	return bash
}

// TestApplyScriptSyntaxAndGolden: the script is valid bash (bash -n checks every command: none is commented
// out), starts as documented, and is pinned (golden).
func TestApplyScriptSyntaxAndGolden(t *testing.T) {
	_, src := scenarioScript(t, map[string]map[int]string{"sg-0web": {2: "sgr-0web22world"}})
	path := filepath.Join(t.TempDir(), "apply.sh")
	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bashPath(t), "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if !bytes.HasPrefix(src, []byte("#!/usr/bin/env bash\nset -euo pipefail\n")) {
		t.Errorf("apply.sh does not start with the shebang and set -euo pipefail")
	}
	for _, s := range []string{"REVIEW BEFORE RUNNING. Guard: DRY_RUN.", `DRY_RUN="${DRY_RUN:-1}"`} {
		if !bytes.Contains(src, []byte(s)) {
			t.Errorf("apply.sh lacks %q", s)
		}
	}
	// every command follows at least one comment line (its reason)
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "run aws ") && (i == 0 || !strings.HasPrefix(lines[i-1], "# ") && !strings.HasPrefix(lines[i-1], "run aws ")) {
			t.Errorf("line %d has no comment before it: %s", i+1, l)
		}
	}
	golden(t, "apply.sh", src)
}

// awsCall is one recorded invocation of the fake aws command.
type awsCall struct {
	args []string
}

func (c awsCall) op() string { return c.args[1] }

func (c awsCall) flag(name string) (string, bool) {
	for i, a := range c.args {
		if a == name && i+1 < len(c.args) {
			return c.args[i+1], true
		}
	}
	return "", false
}

// runScript runs apply.sh with bash, a fake aws first on PATH that records its arguments (NUL-separated, one
// invocation per line of the record file), and env; it returns the calls and the script's stdout.
func runScript(t *testing.T, src []byte, env ...string) ([]awsCall, string) {
	t.Helper()
	dir := t.TempDir()
	record := filepath.Join(dir, "calls")
	fake := "#!/usr/bin/env bash\nprintf '%s\\0' \"$@\" >> " + shellQuote(record) + "\nprintf '\\n' >> " + shellQuote(record) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "apply.sh")
	if err := os.WriteFile(script, src, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bashPath(t), script)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("apply.sh: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(record)
	if os.IsNotExist(err) {
		return nil, stdout.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls []awsCall
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		args := strings.Split(strings.TrimSuffix(line, "\x00"), "\x00")
		calls = append(calls, awsCall{args})
	}
	return calls, stdout.String()
}

// TestApplyScriptDryRunByDefault: run as written, the script calls no aws command and prints each one.
func TestApplyScriptDryRunByDefault(t *testing.T) {
	_, src := scenarioScript(t, nil)
	calls, out := runScript(t, src)
	if len(calls) != 0 {
		t.Errorf("the dry run called aws %d time(s): %v", len(calls), calls[0].args)
	}
	if n := strings.Count(out, "dry run: aws ec2 "); n != strings.Count(string(src), "\nrun aws ec2 ") || n == 0 {
		t.Errorf("the dry run printed %d commands, the script has %d", n, strings.Count(string(src), "\nrun aws ec2 "))
	}
}

// ipPermissionArg is --ip-permissions as the EC2 API defines it; decoding with DisallowUnknownFields proves
// that every field name is AWS's.
type ipPermissionArg struct {
	IpProtocol    string
	FromPort      *int32
	ToPort        *int32
	IpRanges      []struct{ CidrIp, Description string }
	Ipv6Ranges    []struct{ CidrIpv6, Description string }
	PrefixListIds []struct {
		PrefixListId, Description string
	}
	UserIdGroupPairs []struct{ GroupId, Description string }
}

// TestApplyScriptCommands runs the script with DRY_RUN=0 against a fake aws and checks what aws received:
// the operations in the gap-free order, --ip-permissions as valid JSON with AWS's field names and exactly
// one peer, revokes by rule id where the topology had it, and every proposed rule the group lacked authorized.
func TestApplyScriptCommands(t *testing.T) {
	rec, src := scenarioScript(t, map[string]map[int]string{"sg-0web": {2: "sgr-0web22world"}})
	calls, _ := runScript(t, src, "DRY_RUN=0")
	if len(calls) == 0 {
		t.Fatal("no aws calls")
	}
	phase := map[string]int{"authorize-security-group-ingress": 1, "authorize-security-group-egress": 1,
		"create-network-acl-entry": 2, "replace-network-acl-entry": 2, "delete-network-acl-entry": 2,
		"revoke-security-group-ingress": 4, "revoke-security-group-egress": 4}
	last := 0
	authorized := map[string]bool{}
	for i, c := range calls {
		if c.args[0] != "ec2" || phase[c.op()] == 0 {
			t.Fatalf("call %d: unexpected %v", i, c.args)
		}
		if phase[c.op()] < last {
			t.Errorf("call %d: %s after a later phase", i, c.op())
		}
		last = phase[c.op()]
		perms, ok := c.flag("--ip-permissions")
		if !ok {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(perms))
		dec.DisallowUnknownFields()
		var ps []ipPermissionArg
		if err := dec.Decode(&ps); err != nil {
			t.Fatalf("call %d: --ip-permissions %s: %v", i, perms, err)
		}
		if len(ps) != 1 {
			t.Fatalf("call %d: %d permissions", i, len(ps))
		}
		var raw any
		if err := json.Unmarshal([]byte(perms), &raw); err != nil {
			t.Fatal(err)
		}
		if bad := nonAWSKeys(raw, ""); len(bad) > 0 {
			t.Errorf("call %d: keys that are not the EC2 API's (exact case): %v", i, bad)
		}
		p := ps[0]
		if n := len(p.IpRanges) + len(p.Ipv6Ranges) + len(p.PrefixListIds) + len(p.UserIdGroupPairs); n != 1 {
			t.Errorf("call %d: %d peers: %s", i, n, perms)
		}
		if (p.FromPort == nil) != (p.IpProtocol == "-1") {
			t.Errorf("call %d: ports %v for protocol %s", i, p.FromPort, p.IpProtocol)
		}
		if strings.HasPrefix(c.op(), "authorize") {
			g, _ := c.flag("--group-id")
			authorized[permissionKey(t, g, c.op() == "authorize-security-group-egress", p)] = true
		}
	}
	// every proposed rule the current group lacks was authorized, and no other
	want := map[string]bool{}
	m := loadScenario(t)
	for i := range rec.Groups {
		for _, egress := range []bool{false, true} {
			c := groupChange(&rec.Groups[i], m.Groups[rec.Groups[i].ID], egress)
			for _, r := range c.Authorize() {
				want[r.GroupID+" "+keyText(proposedKey(r))] = true
			}
		}
	}
	if diff := cmp.Diff(authorized, want); diff != "" {
		t.Errorf("authorized (-got +want):\n%s", diff)
	}
	revokeByID := slices.IndexFunc(calls, func(c awsCall) bool {
		id, ok := c.flag("--security-group-rule-ids")
		return ok && id == "sgr-0web22world" && c.op() == "revoke-security-group-ingress"
	})
	if revokeByID < 0 {
		t.Error("the rule with an id is not revoked by --security-group-rule-ids")
	}
}

// awsKeys are the IpPermission field names, exact case, under their parent ("" for the permission itself).
var awsKeys = map[string][]string{
	"":                 {"IpProtocol", "FromPort", "ToPort", "IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"},
	"IpRanges":         {"CidrIp", "Description"},
	"Ipv6Ranges":       {"CidrIpv6", "Description"},
	"PrefixListIds":    {"PrefixListId", "Description"},
	"UserIdGroupPairs": {"GroupId", "UserId", "VpcId", "VpcPeeringConnectionId", "Description"},
}

// nonAWSKeys returns the object keys in v (decoded JSON) that awsKeys does not allow where they stand
// (encoding/json matches field names case-insensitively, so the struct decode alone would not see "cidrIp").
func nonAWSKeys(v any, parent string) []string {
	var bad []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			bad = append(bad, nonAWSKeys(e, parent)...)
		}
	case map[string]any:
		for k, e := range x {
			if !slices.Contains(awsKeys[parent], k) {
				bad = append(bad, parent+"."+k)
			}
			if _, nested := awsKeys[k]; nested {
				bad = append(bad, nonAWSKeys(e, k)...)
			}
		}
	}
	return bad
}

// permissionKey reads a permission back into the key AWS compares rules by (protocol by name or number,
// ports, the one peer), prefixed with the group and direction.
func permissionKey(t *testing.T, group string, egress bool, p ipPermissionArg) string {
	t.Helper()
	proto, ok := map[string]int16{"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}[p.IpProtocol]
	if !ok {
		n, err := strconv.Atoi(p.IpProtocol)
		if err != nil {
			t.Fatalf("IpProtocol %q", p.IpProtocol)
		}
		proto = int16(n)
	}
	from, to := int32(-1), int32(-1)
	if p.FromPort != nil && p.ToPort != nil {
		from, to = *p.FromPort, *p.ToPort
	}
	var k sgKey
	switch {
	case len(p.IpRanges) == 1:
		k = newSGKey(egress, proto, from, to, vpc.PeerCIDR, netip.MustParsePrefix(p.IpRanges[0].CidrIp), "", "")
	case len(p.Ipv6Ranges) == 1:
		k = newSGKey(egress, proto, from, to, vpc.PeerCIDR, netip.MustParsePrefix(p.Ipv6Ranges[0].CidrIpv6), "", "")
	case len(p.PrefixListIds) == 1:
		k = newSGKey(egress, proto, from, to, vpc.PeerPrefixList, netip.Prefix{}, p.PrefixListIds[0].PrefixListId, "")
	default:
		k = newSGKey(egress, proto, from, to, vpc.PeerGroup, netip.Prefix{}, "", p.UserIdGroupPairs[0].GroupId)
	}
	return group + " " + keyText(k)
}

func TestIPPermissionsJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    vpc.SGRule
		desc string
		want string
	}{
		{"tcp cidr", vpc.SGRule{Proto: 6, FromPort: 443, ToPort: 443, Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix("0.0.0.0/0")}, "web & api",
			`[{"IpProtocol":"tcp","FromPort":443,"ToPort":443,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"web & api"}]}]`},
		{"all protocols v6", vpc.SGRule{Proto: -1, FromPort: -1, ToPort: -1, Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix("::/0")}, "",
			`[{"IpProtocol":"-1","Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]`},
		{"icmp all types", vpc.SGRule{Proto: 1, FromPort: -1, ToPort: -1, Peer: vpc.PeerGroup, RefGroupID: "sg-0app"}, "",
			`[{"IpProtocol":"icmp","FromPort":-1,"ToPort":-1,"UserIdGroupPairs":[{"GroupId":"sg-0app"}]}]`},
		{"prefix list", vpc.SGRule{Proto: 17, FromPort: 53, ToPort: 53, Peer: vpc.PeerPrefixList, PrefixListID: "pl-1"}, "dns",
			`[{"IpProtocol":"udp","FromPort":53,"ToPort":53,"PrefixListIds":[{"Description":"dns","PrefixListId":"pl-1"}]}]`},
		{"other protocol, ports left out", vpc.SGRule{Proto: 47, FromPort: -1, ToPort: -1, Peer: vpc.PeerCIDR, Prefix: netip.MustParsePrefix("10.0.0.0/8")}, "",
			`[{"IpProtocol":"47","IpRanges":[{"CidrIp":"10.0.0.0/8"}]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ipPermissionsJSON(&tc.r, tc.desc); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	bash := bashPath(t)
	for _, s := range []string{"plain", "it's", `a "b" $c`, "", "'"} {
		out, err := exec.Command(bash, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("%q: bash read %q (%v)", s, out, err)
		}
	}
}

// TestApplyScriptWarnings: the script says when authorize-before-revoke would pass AWS's rule quota and
// when a NACL change cannot be made without a gap (a swap of rule numbers with no free number below).
func TestApplyScriptWarnings(t *testing.T) {
	t.Run("security group quota", func(t *testing.T) {
		m := loadScenario(t)
		rec, err := Recommend(m, scenarioTraffic(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		rec.Options.MaxRules = 3 // sg-0web ingress: 3 current + 4 new
		var b bytes.Buffer
		if err := WriteApplyScript(&b, rec, m); err != nil {
			t.Fatal(err)
		}
		want := "# WARNING: between step 1 and step 4 this direction holds up to 7 rules (3 current + 4 new)"
		if !strings.Contains(b.String(), want) {
			t.Errorf("no quota warning %q", want)
		}
	})
	t.Run("NACL gap", func(t *testing.T) {
		n := &vpc.NACL{ID: "acl-t", Inbound: []vpc.NACLEntry{cur(1, vpc.Allow, 6, "0.0.0.0/0", 443, 443), cur(2, vpc.Allow, 6, "10.0.0.0/8", 22, 22)}}
		rec := &Recommendation{Options: Options{}.withDefaults(), NACLs: []NACLProposal{{ID: "acl-t",
			Inbound: []Entry{prop(1, vpc.Allow, 6, "10.0.0.0/8", 22, 22), prop(2, vpc.Allow, 6, "0.0.0.0/0", 443, 443)}}}}
		var b bytes.Buffer
		if err := WriteApplyScript(&b, rec, &vpc.Model{NACLs: map[string]*vpc.NACL{"acl-t": n}}); err != nil {
			t.Fatal(err)
		}
		want := "# WARNING: no in-place order avoids a gap here: after the next command, tcp port 22 from 10.0.0.0"
		if !strings.Contains(b.String(), want) {
			t.Errorf("no gap warning %q in\n%s", want, b.String())
		}
	})
}

// TestApplyScriptReachesProposal replays what the fake aws received on a model of the current rules, as AWS
// would (an authorize of a rule that exists, a create at a taken rule number or a revoke, replace or delete of
// something missing fails), and checks that the result is exactly the proposal.
func TestApplyScriptReachesProposal(t *testing.T) {
	rec, src := scenarioScript(t, map[string]map[int]string{"sg-0web": {2: "sgr-0web22world"}})
	m := loadScenario(t)
	m.Groups["sg-0web"].Ingress[2].ID = "sgr-0web22world"
	calls, _ := runScript(t, src, "DRY_RUN=0")

	sgs := map[string]bool{}     // "GROUP {key}" of every rule
	byID := map[string]string{}  // sgr- id -> its key
	nacls := map[string]string{} // "ACL egress NUMBER" -> what the entry matches and does
	naclKey := func(acl string, egress bool, num int) string { return fmt.Sprintf("%s %t %d", acl, egress, num) }
	for _, g := range m.Groups {
		for _, rs := range [][]*vpc.SGRule{g.Ingress, g.Egress} {
			for _, r := range rs {
				k := g.ID + " " + keyText(currentKey(r))
				sgs[k], byID[r.ID] = true, k
			}
		}
	}
	for _, n := range m.NACLs {
		for _, es := range [][]vpc.NACLEntry{n.Inbound, n.Outbound} {
			for _, e := range es {
				if !e.Default {
					nacls[naclKey(n.ID, e.Egress, e.RuleNumber)] = matchText(matchOf(e))
				}
			}
		}
	}
	for i, c := range calls {
		group, _ := c.flag("--group-id")
		egress := strings.HasSuffix(c.op(), "-egress") || slices.Contains(c.args, "--egress")
		var sgKeyOf string
		if perms, ok := c.flag("--ip-permissions"); ok {
			var ps []ipPermissionArg
			if err := json.Unmarshal([]byte(perms), &ps); err != nil {
				t.Fatal(err)
			}
			sgKeyOf = permissionKey(t, group, egress, ps[0])
		}
		switch op := c.op(); op {
		case "authorize-security-group-ingress", "authorize-security-group-egress":
			if sgs[sgKeyOf] {
				t.Errorf("call %d: InvalidPermission.Duplicate: %s", i, sgKeyOf)
			}
			sgs[sgKeyOf] = true
		case "revoke-security-group-ingress", "revoke-security-group-egress":
			if id, ok := c.flag("--security-group-rule-ids"); ok {
				sgKeyOf = byID[id]
			}
			if !sgs[sgKeyOf] {
				t.Errorf("call %d: revoking a rule that does not exist: %v", i, c.args)
			}
			delete(sgs, sgKeyOf)
		default:
			acl, _ := c.flag("--network-acl-id")
			numText, _ := c.flag("--rule-number")
			num, _ := strconv.Atoi(numText)
			k := naclKey(acl, egress, num)
			_, exists := nacls[k]
			if exists != (op != "create-network-acl-entry") {
				t.Errorf("call %d: %s of rule %d, which exists: %v", i, op, num, exists)
			}
			if op == "delete-network-acl-entry" {
				delete(nacls, k)
				continue
			}
			nacls[k] = matchText(matchOf(entryOfCall(t, c, egress, num)))
		}
	}

	want := map[string]bool{}
	for _, g := range m.Groups {
		if i := slices.IndexFunc(rec.Groups, func(gp GroupProposal) bool { return gp.ID == g.ID }); i >= 0 {
			for _, rs := range [][]Rule{rec.Groups[i].Ingress, rec.Groups[i].Egress} {
				for j := range rs {
					want[g.ID+" "+keyText(proposedKey(&rs[j]))] = true
				}
			}
		}
	}
	if diff := cmp.Diff(sgs, want); diff != "" {
		t.Errorf("security-group rules after apply.sh (-got +want):\n%s", diff)
	}
	wantNACL := map[string]string{}
	for _, np := range rec.NACLs {
		for _, es := range [][]Entry{np.Inbound, np.Outbound} {
			for _, e := range es {
				wantNACL[naclKey(np.ID, e.Egress, e.RuleNumber)] = matchText(matchOf(e.NACLEntry()))
			}
		}
	}
	if diff := cmp.Diff(nacls, wantNACL); diff != "" {
		t.Errorf("NACL entries after apply.sh (-got +want):\n%s", diff)
	}
}

// entryOfCall reads a create- or replace-network-acl-entry call's flags as the EC2 API does.
func entryOfCall(t *testing.T, c awsCall, egress bool, num int) vpc.NACLEntry {
	t.Helper()
	e := vpc.NACLEntry{RuleNumber: num, Egress: egress, ICMPType: -1, ICMPCode: -1}
	proto, _ := c.flag("--protocol")
	if proto == "all" {
		proto = "-1"
	}
	n, err := strconv.Atoi(proto)
	if err != nil {
		t.Fatalf("--protocol %q", proto)
	}
	e.Proto = int16(n)
	switch action, _ := c.flag("--rule-action"); action {
	case "allow":
		e.Action = vpc.Allow
	case "deny":
		e.Action = vpc.Deny
	default:
		t.Fatalf("--rule-action %q", action)
	}
	cidr, ok := c.flag("--cidr-block")
	if !ok {
		cidr, _ = c.flag("--ipv6-cidr-block")
	}
	e.Prefix = netip.MustParsePrefix(cidr)
	if pr, ok := c.flag("--port-range"); ok {
		if _, err := fmt.Sscanf(pr, "From=%d,To=%d", &e.PortFrom, &e.PortTo); err != nil {
			t.Fatalf("--port-range %q: %v", pr, err)
		}
	}
	if tc, ok := c.flag("--icmp-type-code"); ok {
		if _, err := fmt.Sscanf(tc, "Type=%d,Code=%d", &e.ICMPType, &e.ICMPCode); err != nil {
			t.Fatalf("--icmp-type-code %q: %v", tc, err)
		}
	}
	return e
}

// keyText and matchText render keys readably in diffs (netip values print their internals under %+v).
func keyText(k sgKey) string {
	peer := k.id
	if k.prefix.IsValid() {
		peer = k.prefix.String()
	}
	return fmt.Sprintf("egress=%t proto=%d ports=%d-%d %s %s", k.egress, k.proto, k.from, k.to, k.peer, peer)
}

func matchText(m naclMatch) string {
	return fmt.Sprintf("egress=%t %s proto=%d %s ports=%d-%d icmp=%d/%d", m.egress, m.action, m.proto, m.prefix, m.from, m.to,
		m.icmpType, m.icmpCode)
}
