package recommend

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// benchTopology is a VPC of 10 subnets and 200 interfaces in 20 groups (10 members each, tier i in subnet
// i/2), every group open today on all TCP ports from 10.0.0.0/8 and to the world.
func benchTopology(tb testing.TB) *vpc.Model {
	const vpcID = "vpc-0bench"
	var subnets, enis, groups []map[string]any
	for s := 0; s < 10; s++ {
		subnets = append(subnets, map[string]any{"SubnetId": fmt.Sprintf("subnet-%02d", s), "VpcId": vpcID,
			"CidrBlock": fmt.Sprintf("10.0.%d.0/24", s)})
	}
	for g := 0; g < 20; g++ {
		groups = append(groups, map[string]any{"GroupId": fmt.Sprintf("sg-%02d", g), "GroupName": fmt.Sprintf("tier%02d", g),
			"VpcId": vpcID,
			"IpPermissions": []map[string]any{{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535,
				"IpRanges": []map[string]string{{"CidrIp": "10.0.0.0/8"}}}},
			"IpPermissionsEgress": []map[string]any{{"IpProtocol": "-1", "IpRanges": []map[string]string{{"CidrIp": "0.0.0.0/0"}}}}})
	}
	for i := 0; i < 200; i++ {
		g := i / 10
		enis = append(enis, map[string]any{"NetworkInterfaceId": fmt.Sprintf("eni-%03d", i), "SubnetId": fmt.Sprintf("subnet-%02d", g/2),
			"VpcId": vpcID, "PrivateIpAddress": benchAddr(i).String(),
			"Groups": []map[string]string{{"GroupId": fmt.Sprintf("sg-%02d", g)}}})
	}
	nacls := []map[string]any{{"NetworkAclId": "acl-0default", "VpcId": vpcID, "IsDefault": true, "Entries": []map[string]any{
		{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
		{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"}}}}
	files := map[string][]byte{}
	for name, v := range map[string]any{"subnets.json": map[string]any{"Subnets": subnets},
		"enis.json": map[string]any{"NetworkInterfaces": enis}, "sgs.json": map[string]any{"SecurityGroups": groups},
		"nacls.json": map[string]any{"NetworkAcls": nacls}} {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		files[name] = b
	}
	m, _ := vpc.Load(files)
	if err := m.FatalError(); err != nil {
		tb.Fatal(err)
	}
	return m
}

// benchAddr is interface i's address: tier i/10 lives in subnet 10.0.(i/20).0/24.
func benchAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(i / 20), byte(10 + i%20)})
}

// benchObservations generates n request rows over 30 days: internet clients of the web tiers (groups 0-3,
// ports 80 and 443), east-west calls between tiers (tier t calls tier t+1 on port 8000+t), egress to 2000
// internet services, and a tail of rare high ports.
func benchObservations(n int) *Observations {
	rng := rand.New(rand.NewPCG(1, 2))
	w := Window{Start: t0, End: t0 + 30*DaySeconds}
	o := &Observations{Window: w, Requests: make([]Request, 0, n)}
	for len(o.Requests) < n {
		q := Request{Proto: vpc.ProtoTCP, ClientPortMin: 32768, ClientPortMax: 60999}
		day := rng.Int64N(30)
		switch k := rng.IntN(10); {
		case k < 4:
			q.ENI, q.Dir = fmt.Sprintf("eni-%03d", rng.IntN(40)), vpc.Ingress
			q.Peer = netip.AddrFrom4([4]byte{byte(20 + rng.IntN(100)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(250))})
			q.Port = []uint16{80, 443}[rng.IntN(2)]
			q.ClientPortMin, q.ClientPortMax = 1024, 65535
		case k < 7:
			src := rng.IntN(190)
			dst := (src/10+1)*10 + rng.IntN(10)
			q.ENI, q.Dir, q.Peer, q.Port = fmt.Sprintf("eni-%03d", src), vpc.Egress, benchAddr(dst), uint16(8000+src/10)
		case k < 9:
			q.ENI, q.Dir = fmt.Sprintf("eni-%03d", rng.IntN(200)), vpc.Egress
			q.Peer = netip.AddrFrom4([4]byte{52, byte(rng.IntN(8)), byte(rng.IntN(250)), 10})
			q.Port = 443
		default:
			src := rng.IntN(200)
			q.ENI, q.Dir, q.Peer, q.Port = fmt.Sprintf("eni-%03d", src), vpc.Egress, benchAddr(rng.IntN(200)), uint16(9000+rng.IntN(50))
		}
		flows := 1 + rng.Int64N(20)
		q.Evidence = Evidence{Flows: flows, Packets: flows * 10, Bytes: flows * 4000, FirstSeen: t0 + day*DaySeconds,
			LastSeen: t0 + day*DaySeconds + 600, Windows: w.Bit(t0 + day*DaySeconds), Example: "bench.log:1"}
		o.Requests = append(o.Requests, q)
	}
	return o
}

// BenchmarkRecommend measures Recommend on 200 interfaces and 1M observation rows.
func BenchmarkRecommend(b *testing.B) {
	m := benchTopology(b)
	obs := benchObservations(benchRows)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec, err := Recommend(m, obs, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(rec.Groups) != 20 {
			b.Fatalf("%d groups", len(rec.Groups))
		}
	}
}

// benchRows is the number of observation rows BenchmarkRecommend generates.
var benchRows = 1_000_000
