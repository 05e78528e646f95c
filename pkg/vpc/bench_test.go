package vpc

import "testing"

// TestNoAllocs guards the per-record path: matching must not allocate.
func TestNoAllocs(t *testing.T) {
	m := basicModel(t)
	acl := m.NACLs[privACL]
	web := m.ENIByID(webENI)
	app := m.ENIByID(appENI)
	v4 := tcp("203.0.113.9", "10.20.10.20", 40000)
	v6 := tcp("2001:db8::9", appV6, 40000)
	fromPL := tcp("198.51.100.7", "10.20.0.10", 22)
	fromWeb := tcp("10.20.0.11", "10.20.10.20", 8080)
	tests := []struct {
		name string
		f    func()
	}{
		{"NACL.Evaluate v4", func() { acl.Evaluate(Ingress, v4) }},
		{"NACL.Evaluate v6 star", func() { acl.Evaluate(Egress, udp(appV6, "2001:db8::1", 53)) }},
		{"ENI.EvalSG prefix list", func() { web.EvalSG(Ingress, fromPL) }},
		{"ENI.EvalSG group ref", func() { app.EvalSG(Ingress, fromWeb) }},
		{"ENI.EvalSG implicit deny", func() { app.EvalSG(Ingress, v6) }},
		{"ENI.Untracked", func() { web.Untracked(Ingress, v4, web.Ingress[0]) }},
		{"Model.ENIByAddr", func() { m.ENIByAddr(fromWeb.Src) }},
		{"Model.SubnetOf", func() { m.SubnetOf(v6.Dst) }},
		{"ENI.HasAddr", func() { web.HasAddr(fromWeb.Src) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, n)
		}
	}
}

func BenchmarkNACLEvaluate(b *testing.B) {
	m := basicModel(b)
	acl := m.NACLs[privACL]
	pkts := []Packet{
		tcp("203.0.113.9", "10.20.10.20", 22),   // entry 50
		tcp("10.20.0.10", "10.20.10.20", 443),   // entry 110
		icmp("10.20.0.10", "10.20.10.20", 8, 0), // entry 130
		udp("2001:db8::9", appV6, 53),           // v6 '*' at the end: walks every entry
		tcp("2001:db8::9", appV6, 40000),        // entry 150
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if acl.Evaluate(Ingress, pkts[i%len(pkts)]) == nil {
			b.Fatal("nil entry")
		}
	}
}

func BenchmarkENIEvalSG(b *testing.B) {
	m := basicModel(b)
	web := m.ENIByID(webENI)
	app := m.ENIByID(appENI)
	cases := []struct {
		e *ENI
		p Packet
	}{
		{web, tcp("203.0.113.9", "10.20.0.10", 443)},   // first rule
		{web, tcp("198.51.100.7", "10.20.0.10", 22)},   // prefix list
		{web, tcp("203.0.113.9", "10.20.0.10", 3389)},  // implicit deny: every rule
		{app, tcp("10.20.0.11", "10.20.10.20", 8080)},  // group reference
		{app, udp("10.20.10.20", "10.20.10.20", 5353)}, // self reference in the second group
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := &cases[i%len(cases)]
		c.e.EvalSG(Ingress, c.p)
	}
}

func BenchmarkENIByAddr(b *testing.B) {
	m := basicModel(b)
	a := addr("10.20.0.11")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if m.ENIByAddr(a) == nil {
			b.Fatal("not found")
		}
	}
}

func BenchmarkSubnetOf(b *testing.B) {
	m := basicModel(b)
	a := addr(appV6)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if m.SubnetOf(a) == nil {
			b.Fatal("not found")
		}
	}
}
