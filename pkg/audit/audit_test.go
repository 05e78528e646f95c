package audit

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/vpc"
)

const (
	accept = flowschema.ActionAccept
	reject = flowschema.ActionReject
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name       string
		base, cand Verdict
		want       Class
		orphan     bool
	}{
		{"accepted by both", Verdict{Action: accept, Agrees: "true"}, Verdict{Action: accept}, StillAllowed, false},
		{"the candidate rejects", Verdict{Action: accept, Agrees: "true"}, Verdict{Action: reject}, WouldBreak, false},
		{"a reply whose request the candidate did not admit", Verdict{Action: accept, Agrees: "true", Role: "reply", SGRule: sgTracked},
			Verdict{Action: accept, Role: "reply", SGRule: sgAssumed}, WouldBreak, true},
		{"a reply assumed by both (request before the window)", Verdict{Action: accept, Agrees: "true", SGRule: sgAssumed},
			Verdict{Action: accept, SGRule: sgAssumed}, StillAllowed, false},
		{"the candidate admits what both rejected", Verdict{Action: reject, Agrees: "true"}, Verdict{Action: accept}, NewlyAllowed, false},
		{"rejected by all", Verdict{Action: reject, Agrees: "true"}, Verdict{Action: reject}, StillRejected, false},
		{"the log accepted what the baseline rejects", Verdict{Action: reject, Agrees: "false"}, Verdict{Action: accept}, Disputed, false},
		{"the log rejected what the baseline accepts", Verdict{Action: accept, Agrees: "false"}, Verdict{Action: reject}, Disputed, false},
		{"no logged action: the baseline's stands", Verdict{Action: accept}, Verdict{Action: reject}, WouldBreak, false},
		{"not judged", Verdict{}, Verdict{}, NotJudged, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, orphan := classify(&tc.base, &tc.cand)
			if got != tc.want || orphan != tc.orphan {
				t.Errorf("classify = %v, %v; want %v, %v", got, orphan, tc.want, tc.orphan)
			}
		})
	}
}

// row is one record handed to the Aggregator: a flow and its two verdict ids.
type row struct {
	src, dst       string
	sport, dport   int64
	line           int64
	baseID, candID uint32
	packets, bytes int64
	start, end     int64
	iface          string
	proto          int64
}

func verdictTable(mem memory.Allocator, vs []Verdict) arrow.Record {
	cols := []string{flowschema.ColModelAction, flowschema.ColModelAgrees, flowschema.ColFlowRole, flowschema.ColSGRule,
		flowschema.ColVerdictLayer, flowschema.ColVerdictRule, flowschema.ColVerdictResource, flowschema.ColVerdictCause}
	var fields []arrow.Field
	for _, c := range cols {
		fields = append(fields, arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, v := range vs {
		for i, s := range []string{v.Action, v.Agrees, v.Role, v.SGRule, v.Layer, v.Rule, v.Resource, v.Cause} {
			if s == "" {
				b.Field(i).AppendNull()
			} else {
				b.Field(i).(*array.StringBuilder).Append(s)
			}
		}
	}
	return b.NewRecord()
}

func flowRecord(mem memory.Allocator, rows []row) arrow.Record {
	str := func(n string) arrow.Field {
		return arrow.Field{Name: n, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	i64 := func(n string) arrow.Field {
		return arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	}
	u32 := func(n string) arrow.Field { return arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Uint32} }
	sc := arrow.NewSchema([]arrow.Field{str(flowschema.ColInterfaceID), str(flowschema.ColSrcAddr), str(flowschema.ColDstAddr),
		i64(flowschema.ColSrcPort), i64(flowschema.ColDstPort), i64(flowschema.ColProtocol), i64(flowschema.ColPackets),
		i64(flowschema.ColBytes), i64(flowschema.ColStart), i64(flowschema.ColEnd), str(flowschema.ColSourceFile),
		i64(flowschema.ColSourceLine), u32(flowschema.ColVerdictID), u32(CandidateIDColumn)}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.iface)
		b.Field(1).(*array.StringBuilder).Append(r.src)
		b.Field(2).(*array.StringBuilder).Append(r.dst)
		for i, v := range []int64{r.sport, r.dport, r.proto, r.packets, r.bytes, r.start, r.end} {
			b.Field(3 + i).(*array.Int64Builder).Append(v)
		}
		b.Field(10).(*array.StringBuilder).Append("f.log")
		b.Field(11).(*array.Int64Builder).Append(r.line)
		b.Field(12).(*array.Uint32Builder).Append(r.baseID)
		b.Field(13).(*array.Uint32Builder).Append(r.candID)
	}
	return b.NewRecord()
}

// TestAggregatorGroups feeds records with known verdicts and checks the groups: identities (security groups of
// the interface that owns an address, else the /24), replies folded into their request's group and counted as
// orphaned, more than MaxExternalPeers external networks of one service merged, the first examples, the
// deciding rule and the sentence, the cause's address (Attribute), coverage, and the audit_records rows.
func TestAggregatorGroups(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	model, err := vpc.LoadPaths("../../samples/shop/topology")
	if err != nil {
		t.Fatal(err)
	}
	const web, app, webENI, appENI = "10.20.1.10", "10.20.2.10", "eni-0e9ef431b1d115683", "eni-07631aec07b5e8fa5"
	webSG := "sg-0a1b2c3d4e5f63001"
	base := []Verdict{
		0: {Action: accept, Agrees: "true", Role: "request", SGRule: "sg-0a1b2c3d4e5f63001/ingress/0"},
		1: {Action: accept, Agrees: "true", Role: "reply", SGRule: sgTracked},
		2: {Action: reject, Agrees: "true", Role: "request", Layer: "nacl-inbound", Rule: "50", Resource: "acl-0a1b2c3d4e5f62001", Cause: "nacl-explicit-deny"},
		3: {Action: accept, Agrees: "true", Role: "request", SGRule: "sg-0a1b2c3d4e5f63002/ingress/0"},
	}
	cand := []Verdict{
		0: {Action: reject, Role: "request", Layer: "sg-inbound", Rule: "implicit-deny", Resource: webSG, Cause: "ingress-restricted"},
		1: {Action: accept, Role: "reply", SGRule: sgAssumed},
		2: {Action: accept, Role: "request", SGRule: "sg-0a1b2c3d4e5f63001/ingress/0"},
		3: {Action: accept, Role: "request", SGRule: "sg-0a1b2c3d4e5f63002/ingress/0"},
	}
	var rows []row
	line := int64(1)
	add := func(r row) {
		line++
		r.line, r.proto, r.packets, r.bytes, r.start, r.end = line, 6, 2, 100, 1000+line, 1060+line
		rows = append(rows, r)
	}
	for i := range 7 { // seven internet /24s to web:443, each request and its reply at web
		client := fmt.Sprintf("198.18.%d.7", i)
		add(row{iface: webENI, src: client, dst: web, sport: 50000, dport: 443, baseID: 0, candID: 0})
		add(row{iface: webENI, src: web, dst: client, sport: 443, dport: 50000, baseID: 1, candID: 1})
	}
	add(row{iface: webENI, src: "203.0.113.9", dst: web, sport: 40000, dport: 80, baseID: 0, candID: 0}) // one network on its service: kept
	add(row{iface: webENI, src: "198.51.100.4", dst: web, sport: 40001, dport: 443, baseID: 2, candID: 2})
	add(row{iface: appENI, src: web, dst: app, sport: 40002, dport: 8080, baseID: 3, candID: 3}) // unchanged
	// A reply the candidate's tracking lost (its table evicted the connection) though it admitted the request:
	// still allowed, counted in TrackingLost. It comes first, as a reply can when its request waits for verdicts.
	add(row{iface: appENI, src: app, dst: web, sport: 8080, dport: 40003, baseID: 1, candID: 1})
	add(row{iface: appENI, src: web, dst: app, sport: 40003, dport: 8080, baseID: 3, candID: 3})

	rec := flowRecord(mem, rows)
	defer rec.Release()
	a := NewAggregator(model, func() arrow.Record { return verdictTable(mem, base) }, func() arrow.Record { return verdictTable(mem, cand) })
	// The cause of each changed record (a Terraform plan's): the web group's rejections.
	a.Attribute = func(iface, src, dst string, b, c *Verdict) string {
		if iface == webENI && (src == web || dst == web) && b.Action == accept && c.Layer == "sg-inbound" {
			return "aws_security_group.web"
		}
		return ""
	}
	// Two halves: the first rows wait for the verdict tables, the rest find them read.
	for _, part := range []arrow.Record{rec.NewSlice(0, 5), rec.NewSlice(5, rec.NumRows())} {
		err := a.Add(part)
		part.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.Result(map[string]string{webSG: "policy/sg.json"})
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		ID                       int
		Class, Source, Dest, Svc string
		Records, Orphans         int64
		Networks                 int
		Examples                 []string
		Explanation, File        string
		Address                  string
	}
	var got []brief
	for _, g := range res.Groups {
		got = append(got, brief{g.ID, g.Class, g.Source.String(), g.Destination.String(), g.Service, g.Records, g.OrphanedReplies,
			g.Networks, g.Examples, g.Explanation, g.File, g.TerraformAddress})
	}
	want := []brief{
		{1, "would-break", "external IPv4 (7 /24 networks)", webSG + " (shop-web)", "tcp/443", 14, 7, 7,
			[]string{"f.log:2", "f.log:3", "f.log:4"},
			"no inbound rule of " + webSG + " (shop-web) allows tcp/443 from external IPv4 (7 /24 networks)", "policy/sg.json", "aws_security_group.web"},
		{2, "would-break", "203.0.113.0/24", webSG + " (shop-web)", "tcp/80", 1, 0, 0, []string{"f.log:16"},
			"no inbound rule of " + webSG + " (shop-web) allows tcp/80 from 203.0.113.0/24", "policy/sg.json", "aws_security_group.web"},
		{3, "newly-allowed", "198.51.100.0/24", webSG + " (shop-web)", "tcp/443", 1, 0, 0, []string{"f.log:17"},
			"inbound entry 50 of acl-0a1b2c3d4e5f62001 denied tcp/443 from 198.51.100.0/24; the candidate admits it", "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if res.Accepted != 18 || res.Coverage != 3.0/18 || res.TrackingLost != 1 {
		t.Errorf("accepted %d, coverage %v, tracking lost %d; want 18, 3/18, 1", res.Accepted, res.Coverage, res.TrackingLost)
	}
	perGroup := map[int]int{}
	for _, r := range res.Records {
		perGroup[r.Group]++
	}
	if diff := cmp.Diff(map[int]int{1: 14, 2: 1, 3: 1}, perGroup); diff != "" {
		t.Errorf("audit_records per group (-want +got):\n%s", diff)
	}
}
