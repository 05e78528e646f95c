package replay

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Tiny constructors for expected rows.
func accept(dir, nacl, naclRule, sg, role, init string) row {
	return row{Dir: dir, Action: "ACCEPT", Agrees: "true", NACL: nacl, NACLRule: naclRule, SG: sg, Role: role, Init: init}
}

func reject(dir, layer, rule, resource, also, cause, nacl, naclRule, sg, role, init string) row {
	return row{Dir: dir, Action: "REJECT", Agrees: "true", Layer: layer, Rule: rule, Resource: resource, Also: also,
		Cause: cause, NACL: nacl, NACLRule: naclRule, SG: sg, Role: role, Init: init}
}

func disagree(r row) row { r.Agrees = "false"; return r }

const (
	eni1 = "2 123456789010 eni-1235b8ca123456789 "
	eniB = "2 123456789010 eni-b "
	eniC = "2 123456789010 eni-c "
	eniO = "2 123456789010 eni-open "
	eniT = "2 123456789010 eni-ct "

	flagsHeader = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags"
	bpaHeader   = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status reject-reason"
)

type replayCase struct {
	name   string
	header string // "" = default format v2
	cfg    Config
	batch  int // rows per input record; 0 = 2
	lines  []string
	want   []row
	sum    func(t *testing.T, s Summary)
}

var replayCases = []replayCase{
	{
		// [FLX]: SG allows inbound ICMP, NACL allows inbound ICMP but denies outbound ICMP.
		name: "documented ping example",
		lines: []string{
			eni1 + "203.0.113.12 172.31.16.139 0 0 1 4 336 1432917027 1432917142 ACCEPT OK",
			eni1 + "172.31.16.139 203.0.113.12 0 0 1 4 336 1432917094 1432917142 REJECT OK",
		},
		want: []row{
			accept("ingress", "acl-a", "100", "sg-web/ingress/3", "request", "order"),
			reject("egress", "nacl-outbound", "32767", "acl-a", "", "nacl-missing-return", "acl-a", "32767", "conntrack", "reply", "conntrack"),
		},
	},
	{
		name: "ping, SG denies inbound ICMP: a single REJECT",
		lines: []string{
			eniB + "203.0.113.12 172.31.9.12 0 0 1 4 336 1432917027 1432917142 REJECT OK",
		},
		want: []row{
			reject("ingress", "sg-inbound", "implicit-deny", "sg-db", "", "sg-no-matching-rule", "acl-b", "100", "", "request", "order"),
		},
	},
	{
		name: "same subnet: no NACL",
		lines: []string{
			eni1 + "172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
			eniB + "172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
		},
		want: []row{
			accept("egress", "", "", "sg-web/egress/3", "request", "ports"),
			reject("ingress", "sg-inbound", "implicit-deny", "sg-db", "", "sg-no-matching-rule", "", "", "", "request", "ports"),
		},
	},
	{
		name: "subnet to subnet through two NACLs, both ENIs logging",
		lines: []string{
			// .21 -> eni-b:5432: out of acl-a (120), into acl-b (100), sg-db allows members of sg-web.
			eniC + "172.31.16.21 172.31.9.12 40000 5432 6 10 1000 1000 1060 ACCEPT OK",
			eniB + "172.31.16.21 172.31.9.12 40000 5432 6 10 1000 1000 1060 ACCEPT OK",
			eniB + "172.31.9.12 172.31.16.21 5432 40000 6 10 1000 1001 1060 ACCEPT OK",
			eniC + "172.31.9.12 172.31.16.21 5432 40000 6 10 1000 1001 1060 ACCEPT OK",
			// .139 -> eni-b:5432: accepted out of ENI A, rejected into ENI B by acl-b rule 90.
			eni1 + "172.31.16.139 172.31.9.12 40001 5432 6 3 180 1002 1060 ACCEPT OK",
			eniB + "172.31.16.139 172.31.9.12 40001 5432 6 3 180 1002 1060 REJECT OK",
		},
		want: []row{
			accept("egress", "acl-a", "100", "sg-web/egress/4", "request", "ports"),
			accept("ingress", "acl-b", "100", "sg-db/ingress/0", "request", "ports"),
			accept("egress", "acl-b", "100", "conntrack", "reply", "conntrack"),
			accept("ingress", "acl-a", "100", "conntrack", "reply", "conntrack"),
			accept("egress", "acl-a", "100", "sg-web/egress/4", "request", "ports"),
			reject("ingress", "nacl-inbound", "90", "acl-b", "", "nacl-explicit-deny", "acl-b", "90", "sg-db/ingress/0", "request", "ports"),
		},
	},
	{
		name: "NACL explicit deny before allow, SG would block too",
		lines: []string{
			eni1 + "198.51.100.7 172.31.16.139 50000 22 6 3 180 2000 2060 REJECT OK",
			eni1 + "198.51.100.7 172.31.16.139 50000 443 6 3 180 2000 2060 ACCEPT OK",
		},
		want: []row{
			reject("ingress", "nacl-inbound", "50", "acl-a", "sg-inbound", "nacl-explicit-deny", "acl-a", "50", "", "request", "ports"),
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
		},
	},
	{
		name: "default deny, and no egress rule for the service",
		lines: []string{
			// IPv6 into subnet-a: acl-a has no IPv6 inbound allow, so the '*' entry 32768 decides.
			eni1 + "2001:db8:1234:a102::5 2001:db8:1234:a100:8d6e:3477:df66:f105 50000 443 6 3 180 3000 3060 REJECT OK",
			// ICMP out to the internet: sg-web has no ICMP egress rule at all (first), acl-a denies it too.
			eni1 + "172.31.16.139 8.8.8.8 0 0 1 2 168 3000 3060 REJECT OK",
		},
		want: []row{
			reject("ingress", "nacl-inbound", "32768", "acl-a", "", "nacl-default-deny", "acl-a", "32768", "sg-web/ingress/2", "request", "ports"),
			reject("egress", "sg-outbound", "implicit-deny", "sg-web", "nacl-outbound", "sg-no-matching-rule", "acl-a", "32767", "", "request", "order"),
		},
	},
	{
		name: "IPv6 documented record",
		lines: []string{
			eni1 + "2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
			eni1 + "2001:db8:1234:a102:3304:8879:34cf:4071 2001:db8:1234:a100:8d6e:3477:df66:f105 22 34892 6 54 8855 1477913708 1477913820 REJECT OK",
		},
		want: []row{
			accept("egress", "acl-a", "130", "sg-web/egress/2", "request", "ports"),
			// the reply meets acl-a inbound, which has no IPv6 allow: the stateless NACL drops it.
			reject("ingress", "nacl-inbound", "32768", "acl-a", "", "nacl-missing-return", "acl-a", "32768", "conntrack", "reply", "conntrack"),
		},
	},
	{
		name: "SG reference: member of the referenced group versus a non-member in the same CIDR",
		lines: []string{
			eniB + "172.31.16.21 172.31.9.12 40000 5432 6 10 1000 4000 4060 ACCEPT OK",
			eniB + "172.31.20.5 172.31.9.12 40000 5432 6 10 1000 4000 4060 REJECT OK",
		},
		want: []row{
			accept("ingress", "acl-b", "100", "sg-db/ingress/0", "request", "ports"),
			// sg-db allows tcp 5432, but only from sg-web's members: the peer, not the service, is missing
			reject("ingress", "sg-inbound", "implicit-deny", "sg-db", "", "ingress-restricted", "acl-b", "100", "", "request", "ports"),
		},
	},
	{
		name: "untracked flow (0.0.0.0/0 both ways) versus tracked",
		lines: []string{
			eniO + "198.51.100.9 172.31.16.50 40000 8080 6 10 1000 5000 5060 ACCEPT OK",
			eniO + "172.31.16.50 198.51.100.9 8080 40000 6 10 1000 5000 5060 ACCEPT OK",
			eni1 + "203.0.113.12 172.31.16.139 50000 443 6 10 1000 5000 5060 ACCEPT OK",
			eni1 + "172.31.16.139 203.0.113.12 443 50000 6 10 1000 5000 5060 ACCEPT OK",
		},
		want: []row{
			accept("ingress", "acl-a", "100", "sg-open/ingress/0", "request", "ports"),
			accept("egress", "acl-a", "100", "sg-open/egress/0", "reply", "ports"),
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
			accept("egress", "acl-a", "100", "conntrack", "reply", "conntrack"),
		},
		sum: func(t *testing.T, s Summary) {
			// both records of the sg-open flow were admitted without tracking
			if s.ConntrackUntracked != 2 || s.ConntrackPeak != 1 {
				t.Errorf("ConntrackUntracked = %d, peak %d, want 2 and 1", s.ConntrackUntracked, s.ConntrackPeak)
			}
		},
	},
	{
		name: "conntrack timeout expiry: UDP reply after the 30 s idle timeout is judged by rules",
		lines: []string{
			eni1 + "172.31.16.139 8.8.8.8 40001 53 17 1 60 6000 6005 ACCEPT OK",
			eni1 + "8.8.8.8 172.31.16.139 53 40001 17 1 120 6020 6025 ACCEPT OK",
			eni1 + "8.8.8.8 172.31.16.139 53 40001 17 1 120 6100 6105 REJECT OK",
		},
		want: []row{
			accept("egress", "acl-a", "110", "sg-web/egress/1", "request", "ports"),
			accept("ingress", "acl-a", "100", "conntrack", "reply", "conntrack"),
			reject("ingress", "sg-inbound", "implicit-deny", "sg-web", "", "conntrack-expired", "acl-a", "100", "", "reply", "ports"),
		},
	},
	{
		name: "ENI ConnectionTrackingConfiguration: UdpTimeout 60 keeps the same reply",
		lines: []string{
			eniT + "172.31.16.60 8.8.8.8 40001 53 17 1 60 6000 6005 ACCEPT OK",
			eniT + "8.8.8.8 172.31.16.60 53 40001 17 1 120 6050 6055 ACCEPT OK",
			eniT + "8.8.8.8 172.31.16.60 53 40001 17 1 120 6200 6205 REJECT OK",
		},
		want: []row{
			accept("egress", "acl-a", "110", "sg-web/egress/1", "request", "ports"),
			accept("ingress", "acl-a", "100", "conntrack", "reply", "conntrack"),
			reject("ingress", "sg-inbound", "implicit-deny", "sg-web", "", "conntrack-expired", "acl-a", "100", "", "reply", "ports"),
		},
	},
	{
		name:   "tcp-flags: SYN request, SYN-ACK reply, and a SYN-ACK whose request was never seen",
		header: flagsHeader,
		lines: []string{
			eni1 + "203.0.113.12 172.31.16.139 1024 443 6 3 180 7000 7060 ACCEPT OK 2",
			eni1 + "172.31.16.139 203.0.113.12 443 1024 6 3 180 7000 7060 ACCEPT OK 18",
			// 8443 -> 1025 looks like a request by ports, the SYN-ACK says reply: assumed established.
			eni1 + "172.31.16.139 203.0.113.13 8443 1025 6 3 180 7000 7060 ACCEPT OK 18",
		},
		want: []row{
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "tcp-flags"),
			accept("egress", "acl-a", "100", "conntrack", "reply", "conntrack"),
			accept("egress", "acl-a", "100", "conntrack-assumed", "reply", "tcp-flags"),
		},
	},
	{
		name:  "out of order within the window, and a late record outside it",
		batch: 1,
		lines: []string{
			// the reply arrives first but starts later: ordered, it is a tracked reply.
			eni1 + "172.31.16.139 203.0.113.12 443 50000 6 10 1000 8010 8070 ACCEPT OK",
			eni1 + "203.0.113.12 172.31.16.139 50000 443 6 10 1000 8000 8060 ACCEPT OK",
			// 20 minutes later: the window (10 min) releases everything before 8600.
			eni1 + "203.0.113.12 172.31.16.139 50001 443 6 10 1000 9200 9260 ACCEPT OK",
			// late: starts before what was released; judged at once and counted.
			eni1 + "203.0.113.12 172.31.16.139 50002 443 6 10 1000 8005 8065 ACCEPT OK",
		},
		want: []row{
			accept("egress", "acl-a", "100", "conntrack", "reply", "conntrack"),
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
		},
		sum: func(t *testing.T, s Summary) {
			if s.Late != 1 {
				t.Errorf("Late = %d, want 1", s.Late)
			}
		},
	},
	{
		name:   "BPA",
		header: bpaHeader,
		lines: []string{
			eni1 + "203.0.113.12 172.31.16.139 50000 443 6 1 60 10000 10060 REJECT OK BPA",
			eni1 + "198.51.100.7 172.31.16.139 50000 22 6 1 60 10000 10060 REJECT OK BPA",
		},
		want: []row{
			reject("ingress", "bpa", "", "vpc-1", "", "block-public-access", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
			reject("ingress", "bpa", "", "vpc-1", "nacl-inbound,sg-inbound", "block-public-access", "acl-a", "50", "", "request", "ports"),
		},
	},
	{
		name: "unexplained REJECT and a logged ACCEPT the model rejects",
		lines: []string{
			eni1 + "203.0.113.50 172.31.16.139 50000 443 6 1 60 11000 11060 REJECT OK",
			eni1 + "198.51.100.7 172.31.16.139 50000 22 6 1 60 11000 11060 ACCEPT OK",
		},
		want: []row{
			{Dir: "ingress", Action: "ACCEPT", Agrees: "false", Cause: "unexplained", NACL: "acl-a", NACLRule: "100", SG: "sg-web/ingress/1", Role: "request", Init: "ports"},
			disagree(reject("ingress", "nacl-inbound", "50", "acl-a", "sg-inbound", "nacl-explicit-deny", "acl-a", "50", "", "request", "ports")),
		},
		sum: func(t *testing.T, s Summary) {
			want := Summary{Unexplained: 1, UnexplainedExamples: []string{"test.log:2"}, AcceptRejected: 1, AcceptRejectedEx: []string{"test.log:3"}, Compared: 2, Agreed: 0}
			got := Summary{Unexplained: s.Unexplained, UnexplainedExamples: s.UnexplainedExamples, AcceptRejected: s.AcceptRejected, AcceptRejectedEx: s.AcceptRejectedEx, Compared: s.Compared, Agreed: s.Agreed}
			if d := cmp.Diff(got, want); d != "" {
				t.Errorf("summary (-got +want):\n%s", d)
			}
		},
	},
	{
		name: "unknown interface, unknown direction, NODATA and SKIPDATA",
		lines: []string{
			"2 123456789010 eni-0000000000dead 203.0.113.12 172.31.16.139 0 0 1 4 336 12000 12060 ACCEPT OK",
			eni1 + "10.9.9.9 10.9.9.8 0 0 1 4 336 12000 12060 ACCEPT OK",
			eni1 + "- - - - - - - 12000 12060 - NODATA",
			"2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 12000 12060 - SKIPDATA",
		},
		want: []row{
			{Cause: "unknown-interface"},
			{Cause: "unknown-direction"},
			{Cause: "not-judged"},
			{Cause: "not-judged"},
		},
		sum: func(t *testing.T, s Summary) {
			want := [5]int64{4, 0, 1, 1, 1}
			got := [5]int64{s.Records, s.Judged, s.UnknownInterface, s.UnknownDirection, s.NotJudged / 2}
			if got != want {
				t.Errorf("records/judged/unknown-interface/unknown-direction/not-judged÷2 = %v, want %v", got, want)
			}
		},
	},
	{
		name: "eviction when the tracking table is full",
		cfg:  Config{MaxTracked: 1},
		lines: []string{
			eni1 + "203.0.113.12 172.31.16.139 50000 443 6 10 1000 13000 13060 ACCEPT OK",
			eni1 + "203.0.113.13 172.31.16.139 50000 443 6 10 1000 13001 13060 ACCEPT OK",
			eni1 + "172.31.16.139 203.0.113.12 443 50000 6 10 1000 13002 13060 ACCEPT OK",
			eni1 + "172.31.16.139 203.0.113.13 443 50000 6 10 1000 13003 13060 ACCEPT OK",
		},
		want: []row{
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
			accept("ingress", "acl-a", "100", "sg-web/ingress/1", "request", "ports"),
			// the first connection was evicted by the second: its reply is judged as one whose request was
			// never seen (assumed established), and tracking it evicts the second.
			accept("egress", "acl-a", "100", "conntrack-assumed", "reply", "ports"),
			accept("egress", "acl-a", "100", "conntrack-assumed", "reply", "ports"),
		},
		sum: func(t *testing.T, s Summary) {
			if s.ConntrackEvictions != 3 || s.ConntrackPeak != 1 {
				t.Errorf("evictions %d peak %d, want 3 and 1", s.ConntrackEvictions, s.ConntrackPeak)
			}
		},
	},
}

func TestReplay(t *testing.T) {
	model := loadModel(t)
	for _, tc := range replayCases {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == "" {
				header = v2Header
			}
			batch := tc.batch
			if batch == 0 {
				batch = 2
			}
			got, sum, _ := replayText(t, model, tc.cfg, header, tc.lines, batch)
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("verdicts (-got +want):\n%s", d)
			}
			if tc.sum != nil {
				tc.sum(t, sum)
			}
		})
	}
}
