package main

import (
	"math"
	"math/rand/v2"
	"net/netip"
)

// Record status.
const (
	stOK = iota
	stNoData
	stSkipData
)

// TCP flags as flow logs report them (ACK and PSH are not logged).
const (
	flagNone   = 0
	flagSYN    = 2
	flagSYNFIN = 3
	flagSYNACK = 18
	flagSAFIN  = 19
)

// rec is one flow-log record plus the outcome the scenario's model expects for it.
type rec struct {
	eni            *eni
	src, dst       string // srcaddr/dstaddr as logged (the ENI's primary address for secondary-address traffic)
	pktSrc, pktDst string // original packet addresses
	sport, dport   int
	proto          int
	packets, bytes int64
	start, end     int64
	accept         bool
	status         int
	flags          int
	egress         bool
	v6             bool
	path           int // traffic-path, 0 = '-'
	exp            expectation
}

// expectation is the modeled outcome of one record (see README.md, "expected.csv").
type expectation struct {
	role     string // request | reply
	layer    string // deciding layer of a REJECT
	rule     string // NACL rule number or "implicit-deny" (REJECT only)
	resource string // acl-... or the ENI's sg-...
	cause    string
	also     string // other layer that would also have blocked
	nacl     string // NACL entry that decided (allow or deny); "" when no NACL was reached
	sg       string // SG rule id that allowed it, "conntrack" for replies; "" when denied or not reached
	scenario string
}

// conversation kinds, with relative weights (per 1000) in the traffic mix.
type kind struct {
	name   string
	weight int
	gen    func(g *gen, t float64)
}

type gen struct {
	tp   *topology
	r    *rand.Rand
	base int64 // Unix seconds of the first aggregation window
	out  []rec // records of the current conversation

	clients4, clients6, scanners, badHosts, admins, s3Hosts, updHosts, apiHosts []string
	dns                                                                         []string

	// rule ids as pkg/vpc's loader names them (group/direction/index over the normalised rules)
	webIn443, webIn443v6, webIn80, webIn22, webOutApp, webOutS3 string
	appIn8080, appIn22, appOutDB, appOut443, dbIn5432           string
	bastionIn22, bastionOutAll                                  string
}

func newGen(tp *topology, seed uint64, base int64) *gen {
	g := &gen{tp: tp, r: rand.New(rand.NewPCG(seed, seed^0x5eed)), base: base}
	r := func(id, dir string, i int) string { return id + "/" + dir + "/" + itoa(i) }
	g.webIn443, g.webIn443v6, g.webIn80, g.webIn22 = r(tp.sgWeb.id, "ingress", 0), r(tp.sgWeb.id, "ingress", 1), r(tp.sgWeb.id, "ingress", 2), r(tp.sgWeb.id, "ingress", 3)
	g.webOutApp, g.webOutS3 = r(tp.sgWeb.id, "egress", 0), r(tp.sgWeb.id, "egress", 1)
	g.appIn8080, g.appIn22 = r(tp.sgApp.id, "ingress", 0), r(tp.sgApp.id, "ingress", 1)
	g.appOutDB, g.appOut443 = r(tp.sgApp.id, "egress", 0), r(tp.sgApp.id, "egress", 1)
	g.dbIn5432 = r(tp.sgDB.id, "ingress", 0)
	g.bastionIn22, g.bastionOutAll = r(tp.sgBastion.id, "ingress", 0), r(tp.sgBastion.id, "egress", 0)

	// Address pools, rendered once so that the per-record path never formats an address.
	pr := rand.New(rand.NewPCG(seed+1, 42))
	g.clients4 = pool(4000, func() string { return publicV4(pr) })
	g.clients6 = pool(400, func() string { return publicV6(pr) })
	g.scanners = pool(60, func() string { return publicV4(pr) })
	g.badHosts = pool(40, func() string { return v4(198, 51, 100, byte(1+pr.IntN(254))) })
	g.admins = pool(4, func() string { return v4(203, 0, 113, byte(10+pr.IntN(40))) })
	g.s3Hosts = pool(200, func() string {
		switch pr.IntN(3) {
		case 0:
			return v4(52, byte(216+pr.IntN(2)), byte(pr.IntN(256)), byte(1+pr.IntN(254)))
		case 1:
			return v4(54, 231, byte(pr.IntN(256)), byte(1+pr.IntN(254)))
		}
		return v4(3, 5, byte(pr.IntN(32)), byte(1+pr.IntN(254)))
	})
	g.updHosts = pool(20, func() string { return v4(3, 5, byte(pr.IntN(32)), byte(1+pr.IntN(254))) })
	g.apiHosts = pool(30, func() string { return publicV4(pr) })
	g.dns = []string{"8.8.8.8", "8.8.4.4"}
	return g
}

func pool(n int, f func() string) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = f()
	}
	return s
}

func v4(a, b, c, d byte) string { return netip.AddrFrom4([4]byte{a, b, c, d}).String() }

// publicV4 draws a public-looking unicast address outside private, shared, documentation and reserved space.
func publicV4(r *rand.Rand) string {
	for {
		a := byte(1 + r.IntN(223))
		switch a {
		case 10, 100, 127, 169, 172, 192, 198, 203, 3, 16, 18, 52, 54, 44:
			continue // private/reserved/documentation, and the AWS ranges used for S3 and the web servers
		}
		return v4(a, byte(r.IntN(256)), byte(r.IntN(256)), byte(1+r.IntN(254)))
	}
}

func publicV6(r *rand.Rand) string {
	prefixes := []uint16{0x2601, 0x2603, 0x2a01, 0x2a02, 0x2406, 0x2409, 0x2804}
	var a [16]byte
	p := prefixes[r.IntN(len(prefixes))]
	a[0], a[1] = byte(p>>8), byte(p)
	for i := 2; i < 16; i++ {
		a[i] = byte(r.IntN(256))
	}
	return netip.AddrFrom16(a).String()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }
func (g *gen) eniOf(t int) *eni       { return g.tp.tiers[t][g.r.IntN(len(g.tp.tiers[t]))] }
func (g *gen) linuxPort() int         { return 32768 + g.r.IntN(61000-32768) } // 32768-60999
func (g *gen) clientPort() int {
	if g.r.IntN(2) == 0 {
		return 49152 + g.r.IntN(65536-49152) // Windows, macOS
	}
	return g.linuxPort()
}
func (g *gen) between(lo, hi int) int64 { return int64(lo + g.r.IntN(hi-lo+1)) }

// window returns the start and end the ENI logs for a packet first seen at t: start is the first packet's
// second, end the end of the ENI's 60 s aggregation window (each ENI has its own window phase).
func (g *gen) window(e *eni, t float64) (int64, int64) {
	s := g.base + int64(t)
	w := s - ((s-e.phase)%60+60)%60
	return s, w + 60
}

// add appends a record for e at time t. dir: egress or not. The caller fills the rest.
func (g *gen) add(e *eni, t float64, egress bool, src, dst string, sport, dport, proto int, accept bool, x expectation) *rec {
	start, end := g.window(e, t)
	g.out = append(g.out, rec{eni: e, src: src, dst: dst, pktSrc: src, pktDst: dst, sport: sport, dport: dport, proto: proto,
		start: start, end: end, accept: accept, egress: egress, exp: x})
	return &g.out[len(g.out)-1]
}

// sizes fills packets and bytes: n packets of around avg bytes.
func (g *gen) sizes(r *rec, lo, hi, avg int) {
	r.packets = g.between(lo, hi)
	r.bytes = r.packets * int64(avg/2+g.r.IntN(avg+1))
	if r.bytes < r.packets*40 {
		r.bytes = r.packets * 40
	}
}

// exchange generates a TCP request/response on one ENI pair side: req at e (egress or ingress), reply in the
// other direction at the same ENI, same window.
func (g *gen) tcpPair(e *eni, t float64, inbound bool, client, server string, cport, sport int, reqX, repX expectation, path int) {
	req := g.add(e, t, !inbound, client, server, cport, sport, 6, true, reqX)
	g.sizes(req, 5, 40, 120)
	req.flags = flagSYNFIN
	rep := g.add(e, t, inbound, server, client, sport, cport, 6, true, repX)
	g.sizes(rep, 4, 60, 1200)
	rep.flags = flagSAFIN
	if inbound {
		rep.path = path
	} else {
		req.path = path
	}
}

func accepted(role, nacl, sg, scen string) expectation {
	return expectation{role: role, nacl: nacl, sg: sg, scenario: scen}
}

func kinds() []kind {
	return []kind{
		{"https-v4", 300, (*gen).httpsV4},
		{"http-v4", 40, (*gen).httpV4},
		{"https-v6", 50, (*gen).httpsV6},
		{"web-app", 220, (*gen).webApp},
		{"app-db", 140, (*gen).appDB},
		{"web-s3", 30, (*gen).webS3},
		{"app-api", 30, (*gen).appAPI},
		{"admin-ssh", 15, (*gen).adminSSH},
		{"bastion-web-ssh", 10, (*gen).bastionWeb},
		{"bastion-app-ssh", 20, (*gen).bastionApp},
		{"bastion-app-ping", 5, (*gen).bastionPing},
		{"scan", 70, (*gen).scan},
		{"blocked-range", 25, (*gen).blockedRange},
		{"db-updates", 25, (*gen).dbUpdates},
		{"web-dns", 20, (*gen).webDNS},
		{"nodata", 6, (*gen).noData},
		{"skipdata", 3, (*gen).skipData},
	}
}

// Internet client -> web:443 (IPv4), sometimes to the secondary address's site.
func (g *gen) httpsV4(t float64) {
	e := g.eniOf(tierWeb)
	c, cp := g.pick(g.clients4), g.clientPort()
	g.tcpPair(e, t, true, c, e.primary, cp, 443,
		accepted("request", "100", g.webIn443, "https-v4"),
		accepted("reply", "100", "conntrack", "https-v4"), 8)
	if e.secondary != "" && g.r.IntN(2) == 0 {
		// srcaddr/dstaddr show the primary address; pkt-dstaddr/pkt-srcaddr the secondary one.
		g.out[len(g.out)-2].pktDst = e.secondary
		g.out[len(g.out)-1].pktSrc = e.secondary
	}
}

func (g *gen) httpV4(t float64) {
	e := g.eniOf(tierWeb)
	g.tcpPair(e, t, true, g.pick(g.clients4), e.primary, g.clientPort(), 80,
		accepted("request", "110", g.webIn80, "http-v4"),
		accepted("reply", "100", "conntrack", "http-v4"), 8)
	g.out[len(g.out)-1].bytes = g.out[len(g.out)-1].packets * 80 // a redirect
}

func (g *gen) httpsV6(t float64) {
	if len(g.tp.v6ENIs) == 0 {
		g.httpsV4(t)
		return
	}
	e := g.tp.v6ENIs[g.r.IntN(len(g.tp.v6ENIs))]
	g.tcpPair(e, t, true, g.pick(g.clients6), e.ipv6, g.clientPort(), 443,
		accepted("request", "105", g.webIn443v6, "https-v6"),
		accepted("reply", "101", "conntrack", "https-v6"), 8)
	g.out[len(g.out)-2].v6, g.out[len(g.out)-1].v6 = true, true
}

// web -> app:8080: logged at both ENIs, request and reply each.
func (g *gen) webApp(t float64) {
	w, a := g.eniOf(tierWeb), g.eniOf(tierApp)
	p := g.linuxPort()
	g.tcpPair(w, t, false, w.primary, a.primary, p, 8080,
		accepted("request", "100", g.webOutApp, "web-app"),
		accepted("reply", "120", "conntrack", "web-app"), 1)
	g.tcpPair(a, t, true, w.primary, a.primary, p, 8080,
		accepted("request", "100", g.appIn8080, "web-app"),
		accepted("reply", "120", "conntrack", "web-app"), 1)
	g.mirror()
}

// mirror makes the second ENI's view carry the same packet and byte counts as the first one's.
func (g *gen) mirror() {
	n := len(g.out)
	g.out[n-2].packets, g.out[n-2].bytes = g.out[n-4].packets, g.out[n-4].bytes
	g.out[n-1].packets, g.out[n-1].bytes = g.out[n-3].packets, g.out[n-3].bytes
}

func (g *gen) appDB(t float64) {
	a, d := g.eniOf(tierApp), g.eniOf(tierDB)
	p := g.linuxPort()
	g.tcpPair(a, t, false, a.primary, d.primary, p, 5432,
		accepted("request", "100", g.appOutDB, "app-db"),
		accepted("reply", "120", "conntrack", "app-db"), 1)
	g.tcpPair(d, t, true, a.primary, d.primary, p, 5432,
		accepted("request", "100", g.dbIn5432, "app-db"),
		accepted("reply", "100", "conntrack", "app-db"), 1)
	g.mirror()
}

func (g *gen) webS3(t float64) {
	w := g.eniOf(tierWeb)
	g.tcpPair(w, t, false, w.primary, g.pick(g.s3Hosts), g.linuxPort(), 443,
		accepted("request", "100", g.webOutS3, "web-s3"),
		accepted("reply", "120", "conntrack", "web-s3"), 7)
}

func (g *gen) appAPI(t float64) {
	a := g.eniOf(tierApp)
	g.tcpPair(a, t, false, a.primary, g.pick(g.apiHosts), g.linuxPort(), 443,
		accepted("request", "110", g.appOut443, "app-api"),
		accepted("reply", "130", "conntrack", "app-api"), 1)
}

func (g *gen) adminSSH(t float64) {
	b := g.eniOf(tierMgmt)
	g.tcpPair(b, t, true, g.pick(g.admins), b.primary, g.clientPort(), 22,
		accepted("request", "100", g.bastionIn22, "admin-ssh"),
		accepted("reply", "100", "conntrack", "admin-ssh"), 8)
}

func (g *gen) bastionWeb(t float64) {
	b, w := g.eniOf(tierMgmt), g.eniOf(tierWeb)
	p := g.linuxPort()
	g.tcpPair(b, t, false, b.primary, w.primary, p, 22,
		accepted("request", "100", g.bastionOutAll, "bastion-web-ssh"),
		accepted("reply", "100", "conntrack", "bastion-web-ssh"), 1)
	g.tcpPair(w, t, true, b.primary, w.primary, p, 22,
		accepted("request", "130", g.webIn22, "bastion-web-ssh"),
		accepted("reply", "100", "conntrack", "bastion-web-ssh"), 1)
	g.mirror()
}

// KNOWN PROBLEM: acl-app has no outbound entry for the mgmt subnet's ephemeral ports, so the app server's
// SYN-ACKs to the bastion are dropped. The bastion logs its request and never sees a reply.
func (g *gen) bastionApp(t float64) {
	b, a := g.eniOf(tierMgmt), g.eniOf(tierApp)
	p := g.linuxPort()
	tries := g.between(2, 6)
	req := g.add(b, t, true, b.primary, a.primary, p, 22, 6, true,
		accepted("request", "100", g.bastionOutAll, "bastion-app-ssh"))
	req.packets, req.bytes, req.flags, req.path = tries, tries*60, flagSYN, 1
	in := g.add(a, t, false, b.primary, a.primary, p, 22, 6, true,
		accepted("request", "110", g.appIn22, "bastion-app-ssh"))
	in.packets, in.bytes, in.flags = tries, tries*60, flagSYN
	out := g.add(a, t, true, a.primary, b.primary, 22, p, 6, false, expectation{role: "reply",
		layer: "nacl-outbound", rule: "32767", resource: g.tp.naclApp.id, cause: "nacl-missing-return",
		nacl: "32767", sg: "conntrack", scenario: "bastion-app-ssh"})
	out.packets, out.bytes, out.flags = tries, tries*60, flagSYNACK
}

// Ping from the bastion: acl-app allows no ICMP in (and sg-app would not either).
func (g *gen) bastionPing(t float64) {
	b, a := g.eniOf(tierMgmt), g.eniOf(tierApp)
	n := g.between(1, 10)
	req := g.add(b, t, true, b.primary, a.primary, 0, 0, 1, true,
		accepted("request", "100", g.bastionOutAll, "bastion-app-ping"))
	req.packets, req.bytes, req.path = n, n*84, 1
	in := g.add(a, t, false, b.primary, a.primary, 0, 0, 1, false, expectation{role: "request",
		layer: "nacl-inbound", rule: "32767", resource: g.tp.naclApp.id, cause: "nacl-default-deny", also: "sg-inbound",
		nacl: "32767", scenario: "bastion-app-ping"})
	in.packets, in.bytes = n, n*84
}

// Internet scanners probe 22, 23 and 3389 on the web servers. acl-web's return-traffic entry 120 (tcp
// 1024-65535 from anywhere) lets 3389 through, so there the security group decides.
func (g *gen) scan(t float64) {
	e := g.eniOf(tierWeb)
	var port int
	var x expectation
	switch g.r.IntN(10) {
	case 0, 1, 2, 3, 4:
		port = 22
	case 5, 6:
		port = 23
	default:
		port = 3389
	}
	if port == 3389 {
		x = expectation{role: "request", layer: "sg-inbound", rule: "implicit-deny", resource: g.tp.sgWeb.id,
			cause: "sg-no-matching-rule", nacl: "120", scenario: "scan"}
	} else {
		x = expectation{role: "request", layer: "nacl-inbound", rule: "32767", resource: g.tp.naclWeb.id,
			cause: "nacl-default-deny", also: "sg-inbound", nacl: "32767", scenario: "scan"}
	}
	r := g.add(e, t, false, g.pick(g.scanners), e.primary, 1024+g.r.IntN(64512), port, 6, false, x)
	r.packets = g.between(1, 2)
	r.bytes, r.flags = r.packets*40, flagSYN
}

// KNOWN PROBLEM (intended): 198.51.100.0/24 is blocked by acl-web rule 50 although sg-web allows 443.
func (g *gen) blockedRange(t float64) {
	e := g.eniOf(tierWeb)
	r := g.add(e, t, false, g.pick(g.badHosts), e.primary, g.clientPort(), 443, 6, false, expectation{role: "request",
		layer: "nacl-inbound", rule: "50", resource: g.tp.naclWeb.id, cause: "nacl-explicit-deny", nacl: "50",
		scenario: "blocked-range"})
	r.packets = g.between(1, 4)
	r.bytes, r.flags = r.packets*60, flagSYN
}

// KNOWN PROBLEM: sg-db has no outbound rules; package updates from S3-hosted repositories are rejected.
func (g *gen) dbUpdates(t float64) {
	d := g.eniOf(tierDB)
	r := g.add(d, t, true, d.primary, g.pick(g.updHosts), g.linuxPort(), 443, 6, false, expectation{role: "request",
		layer: "sg-outbound", rule: "implicit-deny", resource: g.tp.sgDB.id, cause: "sg-no-matching-rule",
		scenario: "db-updates"})
	r.packets = g.between(1, 3)
	r.bytes, r.flags = r.packets*60, flagSYN
}

// A misconfigured resolver: web servers query 8.8.8.8 directly; sg-web allows no UDP out.
func (g *gen) webDNS(t float64) {
	w := g.eniOf(tierWeb)
	r := g.add(w, t, true, w.primary, g.pick(g.dns), g.linuxPort(), 53, 17, false, expectation{role: "request",
		layer: "sg-outbound", rule: "implicit-deny", resource: g.tp.sgWeb.id, cause: "sg-no-matching-rule",
		scenario: "web-dns"})
	r.packets = g.between(1, 2)
	r.bytes = r.packets * g.between(60, 90)
}

func (g *gen) noData(t float64)   { g.status(t, stNoData, "nodata") }
func (g *gen) skipData(t float64) { g.status(t, stSkipData, "skipdata") }

func (g *gen) status(t float64, st int, scen string) {
	e := g.tp.enis[g.r.IntN(len(g.tp.enis))]
	r := g.add(e, t, false, "", "", 0, 0, 0, false, expectation{cause: "not-judged", scenario: scen})
	r.status = st
	r.start = r.end - 60
}

// expGap returns an exponential inter-arrival time with the given mean.
func (g *gen) expGap(mean float64) float64 { return -math.Log(1-g.r.Float64()) * mean }
