// Package results builds the small result tables, rule_hits and the loaded topology (their names are in
// pkg/flowschema).
package results

import (
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// Table is one result table as a single record; the caller releases Record.
type Table = arrowutil.NamedRecord

// Column helpers of the result tables.
var (
	str     = arrowutil.StringField
	i64     = arrowutil.Int64Field
	boolean = arrowutil.BoolField
)

// nullIfZero maps the "no value" zero of a counter-like field to NULL.
func nullIfZero(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// RuleHits is the rule_hits table (flowschema.RuleHitsTable): one row per NACL entry and SG rule of the topology, zero hits included.
func RuleHits(mem memory.Allocator, hits []replay.RuleHit) arrow.Record {
	t := arrowutil.NewTable(mem, str("rule_type"), str("resource_id"), str("rule_id"), str("direction"), str("action"),
		str("rule"), i64("hits"), i64("packets"), i64("bytes"), i64("first_seen"), i64("last_seen"), i64("shadowed_by"))
	for _, h := range hits {
		var first, last any
		if h.Hits > 0 {
			first, last = h.FirstSeen, h.LastSeen
		}
		t.Row(h.RuleType, h.ResourceID, h.RuleID, h.Direction, h.Action, h.Rule, h.Hits, h.Packets, h.Bytes,
			first, last, nullIfZero(int64(h.ShadowedBy)))
	}
	return t.Record()
}

func joinAddrs[T interface{ String() string }](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return strings.Join(parts, ",")
}

// Topology returns the loaded model as tables: topology_subnets, topology_enis, topology_security_groups,
// topology_nacl_entries, topology_sg_rules and topology_findings.
func Topology(mem memory.Allocator, m *vpc.Model) []Table {
	subnets := arrowutil.NewTable(mem, str("subnet_id"), str("vpc_id"), str("az"), str("cidrs"), str("nacl_id"), boolean("nacl_explicit"))
	for _, id := range slices.Sorted(maps.Keys(m.Subnets)) {
		s := m.Subnets[id]
		var nacl any
		if s.NACL != nil {
			nacl = s.NACL.ID
		}
		subnets.Row(s.ID, s.VpcID, s.AZ, joinAddrs(s.CIDRs), nacl, s.NACLExplicit)
	}
	enis := arrowutil.NewTable(mem, str("interface_id"), str("subnet_id"), str("vpc_id"), str("primary_address"), str("addresses"),
		str("public_ips"), str("groups"), str("interface_type"), str("instance_id"), str("description"))
	for _, id := range slices.Sorted(maps.Keys(m.ENIs)) {
		e := m.ENIs[id]
		var primary any
		if e.Primary.IsValid() {
			primary = e.Primary.String()
		}
		enis.Row(e.ID, e.SubnetID, e.VpcID, primary, joinAddrs(e.Addrs), joinAddrs(e.PublicIPs),
			strings.Join(e.GroupIDs, ","), e.Type, e.InstanceID, e.Description)
	}
	groups := arrowutil.NewTable(mem, str("group_id"), str("group_name"), str("vpc_id"), str("owner_id"), str("description"),
		i64("ingress_rules"), i64("egress_rules"))
	rules := arrowutil.NewTable(mem, str("group_id"), str("rule_id"), str("direction"), str("rule"), i64("protocol"),
		i64("from_port"), i64("to_port"), str("peer_kind"), str("peer"), str("description"))
	for _, id := range slices.Sorted(maps.Keys(m.Groups)) {
		g := m.Groups[id]
		groups.Row(g.ID, g.Name, g.VpcID, g.OwnerID, g.Description, len(g.Ingress), len(g.Egress))
		for _, r := range append(append([]*vpc.SGRule(nil), g.Ingress...), g.Egress...) {
			dir, peer := "ingress", ""
			if r.Egress {
				dir = "egress"
			}
			switch r.Peer {
			case vpc.PeerCIDR:
				peer = r.Prefix.String()
			case vpc.PeerPrefixList:
				peer = r.PrefixListID
			case vpc.PeerGroup:
				peer = r.RefGroupID
			}
			rules.Row(g.ID, r.ID, dir, r.Display, int64(r.Proto), int64(r.FromPort), int64(r.ToPort), r.Peer.String(), peer, r.Description)
		}
	}
	entries := arrowutil.NewTable(mem, str("nacl_id"), str("vpc_id"), boolean("is_default"), str("direction"), i64("rule_number"),
		str("action"), str("cidr"), i64("protocol"), i64("from_port"), i64("to_port"), i64("icmp_type"), i64("icmp_code"),
		i64("shadowed_by"), str("subnets"))
	for _, id := range slices.Sorted(maps.Keys(m.NACLs)) {
		n := m.NACLs[id]
		for _, es := range []struct {
			dir string
			es  []vpc.NACLEntry
		}{{"ingress", n.Inbound}, {"egress", n.Outbound}} {
			for _, e := range es.es {
				entries.Row(n.ID, n.VpcID, n.IsDefault, es.dir, int64(e.RuleNumber), e.Action.String(), e.Prefix.String(),
					int64(e.Proto), int64(e.PortFrom), int64(e.PortTo), int64(e.ICMPType), int64(e.ICMPCode),
					nullIfZero(int64(e.ShadowedBy)), strings.Join(n.SubnetIDs, ","))
			}
		}
	}
	findings := arrowutil.NewTable(mem, str("severity"), str("file"), str("object"), str("message"))
	for _, f := range m.Findings {
		findings.Row(f.Severity.String(), f.File, f.Object, f.Message)
	}
	return []Table{
		{Name: flowschema.TopologySubnetsTable, Record: subnets.Record()},
		{Name: flowschema.TopologyENIsTable, Record: enis.Record()},
		{Name: flowschema.TopologySecurityGroupsTable, Record: groups.Record()},
		{Name: flowschema.TopologySGRulesTable, Record: rules.Record()},
		{Name: flowschema.TopologyNACLEntriesTable, Record: entries.Record()},
		{Name: flowschema.TopologyFindingsTable, Record: findings.Record()},
	}
}

// Reader adapts one record to an array.RecordReader that yields it once. It takes ownership of rec.
func Reader(rec arrow.Record) array.RecordReader {
	rr, err := array.NewRecordReader(rec.Schema(), []arrow.Record{rec})
	if err != nil {
		panic(err) // the schema is the record's own
	}
	rec.Release() // the reader retained it
	return rr
}

// RuleHitsSchema is the schema of RuleHits' record.
var RuleHitsSchema = func() *arrow.Schema {
	rec := RuleHits(memory.DefaultAllocator, nil)
	defer rec.Release()
	return rec.Schema()
}()
