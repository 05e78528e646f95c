package replay

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWalk: the steps of a packet's walk, in packet order, for each kind of step, and what is read from them.
// testdata/topology.json: eni-1235b8ca123456789 (172.31.16.139, sg-web, subnet-a with acl-a), eni-b (sg-db,
// subnet-b with acl-b), eni-open (sg-open, untracked-capable); acl-a denies tcp 22 from 198.51.100.0/24 (50),
// allows all in (100), and out only tcp, udp, the VPC and IPv6.
func TestWalk(t *testing.T) {
	type step struct{ Layer, Decision, Basis string }
	type want struct {
		Steps        []step
		Layer, Also  string
		Cause        string
		ModelAction  string
		DecidingRule string
	}
	const web = "eni-1235b8ca123456789"
	bpa := flow(web, "203.0.113.12", "172.31.16.139", 50000, 8080, 6, 1000, Reject)
	bpa.BPA = true
	for _, tc := range []struct {
		name  string
		flows []Flow // judged in order on one state; the last one is checked
		want  want
	}{
		{name: "ingress allowed: NACL entry, then an SG rule",
			flows: []Flow{flow(web, "203.0.113.12", "172.31.16.139", 50000, 443, 6, 1000, Accept)},
			want: want{Steps: []step{{"nacl-inbound", "allow", "nacl-entry"}, {"sg-inbound", "allow", "sg-rule"}},
				ModelAction: "ACCEPT"}},
		{name: "ingress: the NACL's deny decides, the SG would block too",
			flows: []Flow{flow(web, "198.51.100.7", "172.31.16.139", 50000, 22, 6, 1000, Reject)},
			want: want{Steps: []step{{"nacl-inbound", "deny", "nacl-entry"}, {"sg-inbound", "deny", "implicit-deny"}},
				ModelAction: "REJECT", Layer: "nacl-inbound", Also: "sg-inbound", Cause: "nacl-explicit-deny", DecidingRule: "50"}},
		{name: "ingress: the NACL allows, no SG rule does",
			flows: []Flow{flow(web, "203.0.113.12", "172.31.16.139", 50000, 8080, 6, 1000, Reject)},
			want: want{Steps: []step{{"nacl-inbound", "allow", "nacl-entry"}, {"sg-inbound", "deny", "implicit-deny"}},
				ModelAction: "REJECT", Layer: "sg-inbound", Cause: "sg-no-matching-rule", DecidingRule: "implicit-deny"}},
		{name: "same subnet: the NACL is not on the path",
			flows: []Flow{flow(web, "172.31.16.21", "172.31.16.139", 50000, 22, 6, 1000, Accept)},
			want: want{Steps: []step{{"nacl-inbound", "not on the path", "same-subnet"}, {"sg-inbound", "allow", "sg-rule"}},
				ModelAction: "ACCEPT"}},
		{name: "egress: the SG comes first; a tracked reply passes it, the NACL's '*' denies it",
			flows: []Flow{
				flow(web, "203.0.113.12", "172.31.16.139", 0, 0, 1, 1000, Accept),
				flow(web, "172.31.16.139", "203.0.113.12", 0, 0, 1, 1001, Reject),
			},
			want: want{Steps: []step{{"sg-outbound", "allow", "conntrack"}, {"nacl-outbound", "deny", "nacl-entry"}},
				ModelAction: "REJECT", Layer: "nacl-outbound", Cause: "nacl-missing-return", DecidingRule: "32767"}},
		{name: "a reply whose request was never seen passes the groups as assumed",
			flows: []Flow{flow(web, "172.31.16.139", "203.0.113.12", 443, 50000, 6, 1000, Accept)},
			want: want{Steps: []step{{"sg-outbound", "allow", "conntrack-assumed"}, {"nacl-outbound", "allow", "nacl-entry"}},
				ModelAction: "ACCEPT"}},
		{name: "egress request no outbound rule allows",
			flows: []Flow{flow(web, "172.31.16.139", "203.0.113.12", 50000, 8080, 6, 1000, Reject)},
			want: want{Steps: []step{{"sg-outbound", "deny", "implicit-deny"}, {"nacl-outbound", "allow", "nacl-entry"}},
				ModelAction: "REJECT", Layer: "sg-outbound", Cause: "egress-restricted", DecidingRule: "implicit-deny"}},
		{name: "Block Public Access is a first step of its own",
			flows: []Flow{bpa},
			want: want{Steps: []step{{"bpa", "deny", "block-public-access"}, {"nacl-inbound", "allow", "nacl-entry"},
				{"sg-inbound", "deny", "implicit-deny"}},
				ModelAction: "REJECT", Layer: "bpa", Also: "sg-inbound", Cause: "block-public-access"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(loadModel(t), Config{})
			st := e.NewState()
			var v Verdict
			for i := range tc.flows {
				v = e.Judge(st, &tc.flows[i])
			}
			got := want{Layer: v.Layer.String(), Also: v.Also.String(), ModelAction: v.ModelAction.String(),
				DecidingRule: v.Rule()}
			if v.Cause != CauseNone {
				got.Cause = v.Cause.String()
			}
			for _, s := range v.Path.Steps() {
				got.Steps = append(got.Steps, step{s.Layer.String(), s.Decision.String(), s.Basis.String()})
			}
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("(-got +want):\n%s", d)
			}
		})
	}
}
