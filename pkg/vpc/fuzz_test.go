package vpc

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoad feeds arbitrary bytes to the loader as one file (and as a second file beside a valid topology):
// Load must never panic, and whatever it builds must keep the invariants the replay engine relies on.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/basic/*.json")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(filepath.Base(s), data)
	}
	f.Add("x.json", []byte(orderNACL))
	f.Add("pl-0abc.json", []byte(`{"Entries": [{"Cidr": "10.0.0.0/8"}], "PrefixListId": 7}`))
	f.Add("x.json", []byte(`{"SecurityGroupRules": [{"GroupId": "sg-1", "IpProtocol": "icmp", "FromPort": 300, "CidrIpv4": "1.2.3.4/32"}]}`))
	f.Add("x.json", []byte(`{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-0aaa1111bbbb22220",
		"PrivateIpAddress": "10.20.0.10", "Ipv6Addresses": [{"Ipv6Address": "fe80::1%eth0"}]}]}`))
	f.Add("x.json", []byte(`null`))
	f.Add("x.json", []byte(`{"Subnets": null, "NetworkAcls": [null, 1, {}]}`))
	// Windows encodings: byte-order marks, UTF-16 both ways, a legacy code page, UTF-16 without a mark.
	f.Add("x.json", append([]byte{0xEF, 0xBB, 0xBF}, okSubnets...))
	f.Add("x.json", utf16Bytes(okNACLs, binary.LittleEndian, true))
	f.Add("x.json", utf16Bytes(encodingDoc, binary.BigEndian, true))
	f.Add("x.json", []byte(strings.Replace(encodingDoc, "café ☕ 🚀", "caf\xe9", 1)))
	f.Add("x.json", utf16Bytes(okSubnets, binary.LittleEndian, false))
	// A small valid topology to load beside the fuzzed file, so that fuzzed objects meet existing ids
	// (duplicates, references, address conflicts). Kept small: minimization runs the target many times.
	base := map[string][]byte{"s.json": []byte(okSubnets), "n.json": []byte(okNACLs), "e.json": []byte(`{
		"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
			"UserIdGroupPairs": [{"GroupId": "sg-1"}], "PrefixListIds": [{"PrefixListId": "pl-0abc"}]}]}],
		"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "PrivateIpAddress": "10.0.1.5",
			"Groups": [{"GroupId": "sg-1"}]}]}`)}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		m, err := Load(map[string][]byte{name: data})
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, m)
		files := map[string][]byte{"zz-" + name: data}
		for k, v := range base {
			files[k] = v
		}
		m, err = Load(files)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, m)
	})
}

func checkInvariants(t *testing.T, m *Model) {
	t.Helper()
	probe := []Packet{tcp("10.20.0.10", "10.20.10.20", 22), udp("2001:db8::1", "2001:db8::2", 53), {}}
	for id, n := range m.NACLs {
		for _, list := range [][]NACLEntry{n.Inbound, n.Outbound} {
			if len(list) < 2 || list[len(list)-2].RuleNumber != DefaultRuleV4 || list[len(list)-1].RuleNumber != DefaultRuleV6 {
				t.Fatalf("%s: entries do not end with the '*' entries: %+v", id, list)
			}
			for i := 1; i < len(list); i++ {
				if list[i-1].RuleNumber >= list[i].RuleNumber {
					t.Fatalf("%s: entries not strictly ascending: %+v", id, list)
				}
			}
		}
		for _, p := range probe {
			if n.Evaluate(Ingress, p) == nil || n.Evaluate(Egress, p) == nil {
				t.Fatalf("%s: Evaluate returned nil", id)
			}
		}
	}
	for id, e := range m.ENIs {
		for _, p := range probe {
			e.EvalSG(Ingress, p)
			e.EvalSG(Egress, p)
		}
		for _, a := range e.Addrs {
			if !a.IsValid() {
				t.Fatalf("%s: invalid address", id)
			}
		}
	}
	for id, s := range m.Subnets {
		if s.NACL == nil && !m.HasFatal() {
			t.Fatalf("%s: no NACL and no fatal finding", id)
		}
	}
	for _, f := range m.Findings {
		if f.Severity != Warning && f.Severity != Fatal {
			t.Fatalf("finding without severity: %v", f)
		}
	}
	_ = m.Summary()
	// Compile on a loaded model is a no-op, and a clone compiles to the same findings.
	c := m.Clone()
	c.Compile()
	if diff := cmp.Diff(c.Findings, m.Findings); diff != "" {
		t.Fatalf("Clone+Compile changed the findings (-got +want):\n%s", diff)
	}
}
