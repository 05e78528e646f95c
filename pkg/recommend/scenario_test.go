package recommend

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// The scenario (testdata/scenario): one VPC with a public subnet (web1, web2, bastion, a NAT gateway), an app
// subnet (app1, app2, idle) and a db subnet (db1); sg-0internal holds web1, bastion, app1, app2 and db1. The
// current configuration is broad (web open on every port to the world, ssh to the world, allow-all NACLs).

// t0 is 2026-01-01T00:00:00Z; the scenario's window is one week.
const t0 = 1767225600

var week = Window{Start: t0, End: t0 + 7*DaySeconds}

func loadScenario(tb testing.TB) *vpc.Model {
	tb.Helper()
	m, err := vpc.LoadPaths("testdata/scenario")
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.FatalError(); err != nil {
		tb.Fatal(err)
	}
	return m
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// req is a tiny constructor: an accepted request seen on eni, flows records over the first `days` days of the
// week, clients using ports 40000-40100 (Linux).
func req(eni string, dir vpc.Direction, peer string, proto uint8, port uint16, flows int64, days int) Request {
	q := Request{ENI: eni, Dir: dir, Peer: addr(peer), Proto: proto, Port: port, ClientPortMin: 40000, ClientPortMax: 40100}
	q.Flows, q.Packets, q.Bytes = flows, flows*10, flows*1000
	q.FirstSeen, q.LastSeen = t0+60, t0+int64(days-1)*DaySeconds+3600
	for d := 0; d < days; d++ {
		q.Windows |= week.Bit(t0 + int64(d)*DaySeconds + 60)
	}
	q.Example = fmt.Sprintf("flows.log:%d", len(eni)+int(port))
	if proto == vpc.ProtoICMP || proto == vpc.ProtoICMPv6 {
		q.ClientPortMin, q.ClientPortMax = 0, 0
	}
	return q
}

func in(eni, peer string, proto uint8, port uint16) Request {
	return req(eni, vpc.Ingress, peer, proto, port, 20, 5)
}

func out(eni, peer string, proto uint8, port uint16) Request {
	return req(eni, vpc.Egress, peer, proto, port, 20, 5)
}

// internetClients returns n requests to port on eni from public addresses in n distinct /24s, with the
// clients' ports spread over 1024-65535 (many systems).
func internetClients(eni string, port uint16, n int) []Request {
	var out []Request
	for i := 0; i < n; i++ {
		q := in(eni, fmt.Sprintf("%d.%d.%d.7", 20+i%50, i/50, i%200), vpc.ProtoTCP, port)
		q.ClientPortMin, q.ClientPortMax = 1025, 64000
		out = append(out, q)
	}
	return out
}

// scenarioTraffic is a week of the scenario's legitimate traffic plus a scanner.
func scenarioTraffic() *Observations {
	o := &Observations{Window: week}
	o.Requests = append(o.Requests, internetClients("eni-0web1", 443, 30)...)
	o.Requests = append(o.Requests, internetClients("eni-0web2", 443, 30)...)
	o.Requests = append(o.Requests, internetClients("eni-0web1", 80, 25)...)
	o.Requests = append(o.Requests,
		in("eni-0web1", "2001:db8:5::1", vpc.ProtoTCP, 443),
		in("eni-0web1", "2001:db8:6::1", vpc.ProtoICMPv6, 0),
		// web -> app on 8080, 8081, 8083 (8082 unseen: collapsed), seen from web's side only for web2
		out("eni-0web1", "10.0.1.10", vpc.ProtoTCP, 8080),
		in("eni-0app1", "10.0.0.10", vpc.ProtoTCP, 8080),
		out("eni-0web2", "10.0.1.11", vpc.ProtoTCP, 8081),
		out("eni-0web2", "10.0.1.11", vpc.ProtoTCP, 8083),
		// app -> db, logged at db only; app -> DNS resolver and metadata (never filtered)
		in("eni-0db1", "10.0.1.10", vpc.ProtoTCP, 5432),
		in("eni-0db1", "10.0.1.11", vpc.ProtoTCP, 5432),
		out("eni-0app1", "10.0.0.2", vpc.ProtoUDP, 53),
		out("eni-0app1", "169.254.169.254", vpc.ProtoTCP, 80),
		// corp VPN -> bastion ssh (prefix list); bastion -> app ssh; app pings web
		in("eni-0bastion", "192.168.100.7", vpc.ProtoTCP, 22),
		in("eni-0bastion", "192.168.101.9", vpc.ProtoTCP, 22),
		out("eni-0bastion", "10.0.1.10", vpc.ProtoTCP, 22),
		out("eni-0bastion", "10.0.1.11", vpc.ProtoTCP, 22),
		in("eni-0web1", "10.0.1.10", vpc.ProtoICMP, 0),
		// db -> three S3-like addresses (CIDRs, Windows client ports)
		out("eni-0db1", "52.94.0.10", vpc.ProtoTCP, 443),
		out("eni-0db1", "52.94.1.20", vpc.ProtoTCP, 443),
		out("eni-0db1", "52.94.2.30", vpc.ProtoTCP, 443),
		// one flow once: unproven
		req("eni-0web1", vpc.Ingress, "203.0.113.50", vpc.ProtoTCP, 8443, 1, 1),
	)
	for i := range o.Requests[len(o.Requests)-4 : len(o.Requests)-1] {
		q := &o.Requests[len(o.Requests)-4+i]
		q.ClientPortMin, q.ClientPortMax = 49200, 65000
	}
	for p := uint16(1); p <= 15; p++ {
		o.Rejected = append(o.Rejected, Rejection{ENI: "eni-0web1", Peer: addr("198.51.100.66"), Proto: vpc.ProtoTCP, Port: p * 100,
			Flows: 1, Example: fmt.Sprintf("flows.log:%d", 9000+p)})
	}
	// a source rejected once, then accepted: not a scanner
	o.Rejected = append(o.Rejected, Rejection{ENI: "eni-0web1", Peer: addr("20.0.0.7"), Proto: vpc.ProtoTCP, Port: 22, Flows: 1})
	return o
}

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
