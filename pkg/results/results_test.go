package results

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TestRuleHitsNulls: first/last seen are NULL for rules never hit, shadowed_by is NULL when not shadowed.
func TestRuleHitsNulls(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := RuleHits(mem, []replay.RuleHit{
		{RuleType: "nacl", ResourceID: "acl-1", RuleID: "100", Direction: "ingress", Action: "allow", Hits: 2,
			Packets: 3, Bytes: 4, FirstSeen: 10, LastSeen: 20},
		{RuleType: "nacl", ResourceID: "acl-1", RuleID: "110", Direction: "ingress", Action: "deny", ShadowedBy: 100},
	})
	defer rec.Release()
	col := func(name string) *array.Int64 { return rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.Int64) }
	if first := col("first_seen"); first.Value(0) != 10 || !first.IsNull(1) {
		t.Errorf("first_seen = %v", first)
	}
	if sh := col("shadowed_by"); !sh.IsNull(0) || sh.Value(1) != 100 {
		t.Errorf("shadowed_by = %v", sh)
	}
	if !RuleHitsSchema.Equal(rec.Schema()) {
		t.Errorf("schema %v != RuleHitsSchema", rec.Schema())
	}
}

func TestTopologyTables(t *testing.T) {
	model, err := vpc.LoadPaths("../../samples/shop/topology")
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tables := Topology(mem, model)
	rows := map[string]int64{}
	for _, tb := range tables {
		rows[tb.Name] = tb.Record.NumRows()
		tb.Record.Release()
	}
	var entries, rules int64
	for _, n := range model.NACLs {
		entries += int64(len(n.Inbound) + len(n.Outbound))
	}
	for _, g := range model.Groups {
		rules += int64(len(g.Ingress) + len(g.Egress))
	}
	want := map[string]int64{"topology_subnets": int64(len(model.Subnets)), "topology_enis": int64(len(model.ENIs)),
		"topology_security_groups": int64(len(model.Groups)), "topology_sg_rules": rules,
		"topology_nacl_entries": entries, "topology_findings": int64(len(model.Findings))}
	for name, n := range want {
		if rows[name] != n {
			t.Errorf("%s: %d rows, want %d", name, rows[name], n)
		}
	}
	if rows["topology_enis"] == 0 || rows["topology_sg_rules"] == 0 {
		t.Errorf("empty tables: %v", rows)
	}
}
