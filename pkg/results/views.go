package results

import "github.com/flowlens/flowlens/pkg/flowschema"

// View is a documented view over the written results: analyze creates every one in the DuckDB file (so the
// stock DuckDB CLI sees them too), and flowlens sql lists them. Each names the columns it reads, so it stays
// correct when the tables gain columns.
type View struct {
	Name  string
	Doc   string // what a row is, one sentence
	Query string // the SELECT
	// Verdicts says that the view reads the replay's columns of flows, which only analyze writes: ingest --db
	// removes such views (an earlier analyze's) along with the verdicts table.
	Verdicts bool
}

// How the views read the flows.
//
// Request and reply records of one conversation are put together by the replay's flow_role: the client is
// the sender of the requests (srcaddr of a request, dstaddr of a reply), the server the other end, and the
// port the server's (dstport of a request, srcport of a reply). A record the replay could not judge (no
// flow_role: NODATA, an interface the topology lacks) aggregates as a request.
//
// Every count is of flow-log records (flows, in AWS's words) as logged: traffic between two interfaces that
// both log is counted at each of them, as AWS bills and Athena aggregates it. Times are TIMESTAMPs (UTC) made from
// the records' start and end seconds.
const (
	clientExpr = `CASE WHEN flow_role = 'reply' THEN dstaddr ELSE srcaddr END`
	serverExpr = `CASE WHEN flow_role = 'reply' THEN srcaddr ELSE dstaddr END`
	portExpr   = `CASE WHEN flow_role = 'reply' THEN srcport ELSE dstport END`
	// aggregates are what most views count, over flows; first and last are epoch seconds (see times).
	aggregates = `count(*) AS records, CAST(sum(packets) AS BIGINT) AS packets, CAST(sum(bytes) AS BIGINT) AS bytes,
		min(start) AS first, max("end") AS last`
	times = `make_timestamp(first * 1000000) AS first_seen, make_timestamp(last * 1000000) AS last_seen`
	// loggedAt says which ends of the conversation logged records of it: client, server or both (then every
	// count holds each packet twice); NULL when the replay could not tell the direction.
	loggedAtAggs = `bool_or((flow_role = 'reply') = (direction = 'ingress')) AS at_client,
		bool_or((flow_role = 'reply') <> (direction = 'ingress')) AS at_server`
	loggedAt = `CASE WHEN at_client AND at_server THEN 'both' WHEN at_client THEN 'client' WHEN at_server THEN 'server' END AS logged_at`
	// service names a protocol and port as analyze's summary does: tcp/443, udp/53, icmp/0, 47/0.
	service = `concat(CASE protocol WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmpv6'
		ELSE CAST(protocol AS VARCHAR) END, '/', CAST(port AS VARCHAR)) AS service`
)

// Names of the documented views.
const (
	ViewRejectsByLayer     = "rejects_by_layer"
	ViewRejectsByRule      = "rejects_by_rule"
	ViewTopTalkers         = "top_talkers"
	ViewUnusedRules        = "unused_rules"
	ViewGroupEdges         = "group_edges"
	ViewUnexplainedRejects = "unexplained_rejects"
)

// Views returns the documented views of a file whose flows are stored as l says, in the order they are
// created. Views(FlowLayout{}) serves for their names and documentation.
func Views(l FlowLayout) []View {
	return []View{
		{Name: ViewRejectsByLayer, Verdicts: true,
			Doc: "the model's REJECTs by deciding layer (analyze's 'REJECTs by layer'): records, of which the log ACCEPTed (a disagreement), packets, bytes, interfaces, first and last seen",
			Query: `SELECT verdict_layer, records, logged_accept, packets, bytes, interfaces, ` + times + `
FROM (SELECT verdict_layer, ` + aggregates + `, count(*) FILTER (WHERE action = 'ACCEPT') AS logged_accept,
		count(DISTINCT interface_id) AS interfaces
	FROM ` + flowschema.FlowsView + ` WHERE model_action = 'REJECT' GROUP BY verdict_layer)
ORDER BY records DESC, verdict_layer`},

		{Name: ViewRejectsByRule, Verdicts: true,
			Doc: "the model's REJECTs by layer, resource (acl- id or the interface's sg- ids), rule (NACL rule number or implicit-deny) and cause, with the NACL entry's text",
			Query: `SELECT f.verdict_layer, f.verdict_resource, f.verdict_rule, f.verdict_cause, h.rule,
	f.records, f.logged_accept, f.packets, f.bytes, f.interfaces, ` + times + `
FROM (SELECT verdict_layer, verdict_resource, verdict_rule, verdict_cause, ` + aggregates + `,
		count(*) FILTER (WHERE action = 'ACCEPT') AS logged_accept, count(DISTINCT interface_id) AS interfaces
	FROM ` + flowschema.FlowsView + ` WHERE model_action = 'REJECT' GROUP BY ALL) f
LEFT JOIN ` + flowschema.RuleHitsTable + ` h ON h.rule_type = 'nacl'
	AND h.resource_id = CAST(f.verdict_resource AS VARCHAR) AND h.rule_id = CAST(f.verdict_rule AS VARCHAR)
	AND h.direction = CASE CAST(f.verdict_layer AS VARCHAR) WHEN 'nacl-inbound' THEN 'ingress' WHEN 'nacl-outbound' THEN 'egress' END
ORDER BY f.records DESC, f.verdict_layer, f.verdict_resource, f.verdict_rule, f.verdict_cause`},

		{Name: ViewTopTalkers, Verdicts: true,
			Doc: "conversations by client, server and the server's protocol and port, most bytes first: records, packets, bytes, how many the log ACCEPTed and REJECTed, which ends logged them (client, server or both: then each packet counts twice)",
			Query: `SELECT client, server, ` + service + `, protocol, port, records, packets, bytes, accepted, rejected,
	` + loggedAt + `, ` + times + `
FROM (` + l.conversations() + `)
ORDER BY bytes DESC NULLS LAST, records DESC, client, server, protocol, port`},

		{Name: ViewUnusedRules,
			Doc: "rules that allowed (or denied) nothing in the window (rule_hits.hits = 0), never the * entries 32767 and 32768 (AWS's undeletable defaults, and the only entries the loader adds); interfaces is how many interfaces the rule's group or NACL applies to (0: deleting the whole group or NACL is the question)",
			Query: `SELECT h.rule_type, h.resource_id, h.rule_id, h.direction, h.action, h.rule, h.shadowed_by,
	coalesce(u.interfaces, 0) AS interfaces
FROM ` + flowschema.RuleHitsTable + ` h
LEFT JOIN (
	SELECT 'sg' AS rule_type, gid AS resource_id, count(DISTINCT interface_id) AS interfaces
	FROM (SELECT interface_id, unnest(string_split(groups, ',')) AS gid FROM ` + flowschema.TopologyENIsTable + `)
	GROUP BY gid
	UNION ALL
	SELECT 'nacl', s.nacl_id, count(DISTINCT e.interface_id)
	FROM ` + flowschema.TopologyENIsTable + ` e JOIN ` + flowschema.TopologySubnetsTable + ` s ON s.subnet_id = e.subnet_id
	GROUP BY s.nacl_id
) u ON u.rule_type = h.rule_type AND u.resource_id = h.resource_id
WHERE h.hits = 0 AND NOT (h.rule_type = 'nacl' AND h.rule_id IN ('32767', '32768'))
ORDER BY h.rule_type, h.resource_id, h.direction, TRY_CAST(h.rule_id AS INTEGER) NULLS LAST, h.rule_id`},

		{Name: ViewGroupEdges, Verdicts: true,
			Doc:   "who talks to whom by identity: an interface of the topology is its security groups (their ids, comma-separated, as topology_enis lists them; the interface id when it has none), any other address its /24 (IPv4) or /64 (IPv6); source opened the conversation (flow_role), destination answered on protocol and port",
			Query: l.groupEdges()},

		{Name: ViewUnexplainedRejects, Verdicts: true,
			Doc: "logged REJECTs the model allows (verdict_cause unexplained: drift, missing topology, closed connections) by interface, conversation and the entry and rule the model allowed them by; example is one such record's source_file:source_line for flowlens explain",
			Query: `SELECT interface_id, direction, flow_role, client, server, ` + service + `, protocol, port, nacl_id, nacl_rule, sg_rule,
	records, packets, bytes, ` + times + `, example
FROM (SELECT interface_id, direction, flow_role, ` + clientExpr + ` AS client, ` + serverExpr + ` AS server, protocol,
		` + portExpr + ` AS port, nacl_id, nacl_rule, sg_rule, ` + aggregates + `,
		arg_min(concat(source_file, ':', source_line), start) AS example
	FROM ` + flowschema.FlowsView + ` WHERE verdict_cause = 'unexplained' GROUP BY ALL)
ORDER BY records DESC, interface_id, client, server, protocol, port`},
	}
}

// groupEdges: conversations (as in top_talkers) with each end replaced by its identity, worked out once per
// distinct address (addresses) and joined back on the address keys. Addresses are matched as text: IPv6 addresses are stored canonically (netip's text) in flows and in topology_enis alike.
// pairs is MATERIALIZED: DuckDB 1.1 would otherwise inline it, and aggregate the flows once per reference.
func (l FlowLayout) groupEdges() string {
	return `WITH pairs AS MATERIALIZED (` + l.conversationKeys() + `),
-- every address of every interface (private, IPv6, public) with the interface's identity
owned AS (
	SELECT addr, any_value(identity) AS identity, any_value(kind) AS kind FROM (
		SELECT unnest(string_split(concat_ws(',', nullif(addresses, ''), nullif(public_ips, '')), ',')) AS addr,
			CASE WHEN coalesce(groups, '') = '' THEN interface_id ELSE groups END AS identity,
			CASE WHEN coalesce(groups, '') = '' THEN 'interface' ELSE 'groups' END AS kind
		FROM ` + flowschema.TopologyENIsTable + `)
	WHERE addr <> '' GROUP BY addr),
-- the group names of each identity, in its order
names AS (
	SELECT identity, string_agg(coalesce(nullif(g.group_name, ''), gid), ',' ORDER BY i) AS names
	FROM (SELECT DISTINCT groups AS identity, unnest(string_split(groups, ',')) AS gid,
			generate_subscripts(string_split(groups, ','), 1) AS i
		FROM ` + flowschema.TopologyENIsTable + ` WHERE coalesce(groups, '') <> '') x
	LEFT JOIN ` + flowschema.TopologySecurityGroupsTable + ` g ON g.group_id = x.gid
	GROUP BY identity),
-- every address of the conversations, with its identity
peers AS (
	SELECT a.k, coalesce(o.identity, ` + cidrExpr + `) AS identity, coalesce(o.kind, 'cidr') AS kind
	FROM (` + l.addresses("pairs") + `) a LEFT JOIN owned o ON o.addr = a.addr),
edges AS (
	SELECT s.identity AS source, s.kind AS source_kind, d.identity AS destination, d.kind AS destination_kind,
		p.protocol, p.port, sum(p.records) AS records, sum(p.packets) AS packets, sum(p.bytes) AS bytes,
		sum(p.accepted) AS accepted, sum(p.rejected) AS rejected, min(p.first) AS first, max(p.last) AS last
	FROM pairs p JOIN peers s ON s.k = p.client_k JOIN peers d ON d.k = p.server_k
	GROUP BY ALL)
SELECT e.source, e.source_kind, sn.names AS source_names, e.destination, e.destination_kind,
	dn.names AS destination_names, ` + service + `, e.protocol, e.port,
	CAST(e.records AS BIGINT) AS records, CAST(e.packets AS BIGINT) AS packets, CAST(e.bytes AS BIGINT) AS bytes,
	CAST(e.accepted AS BIGINT) AS accepted, CAST(e.rejected AS BIGINT) AS rejected, ` + times + `
FROM edges e LEFT JOIN names sn ON sn.identity = e.source LEFT JOIN names dn ON dn.identity = e.destination
ORDER BY bytes DESC NULLS LAST, records DESC, source, destination, protocol, port`
}

// cidrExpr is the network of a.addr that group_edges names a peer by: an IPv4 address's /24
// (198.51.100.0/24), an IPv6 address's /64 in canonical text (2600:1f18:1234:5601::/64, 2a01:a700::/64). The
// IPv6 text is expanded to its eight groups first (:: stands for as many zero groups as are missing); the
// /64's own trailing zero groups join the compressed run, which is then always the longest.
const cidrExpr = `CASE WHEN NOT contains(a.addr, ':')
	THEN regexp_replace(a.addr, '\.[0-9]+$', '.0') || '/24'
	ELSE (SELECT array_to_string(CASE WHEN g[4] <> '0' THEN g[1:4] WHEN g[3] <> '0' THEN g[1:3]
			WHEN g[2] <> '0' THEN g[1:2] WHEN g[1] <> '0' THEN g[1:1] ELSE [] END, ':') || '::/64'
		FROM (SELECT list_concat(list_concat(l, list_transform(range(8 - len(l) - len(r)), x -> '0')), r) AS g
			FROM (SELECT CASE WHEN split_part(a.addr, '::', 1) = '' THEN []::VARCHAR[] ELSE string_split(split_part(a.addr, '::', 1), ':') END AS l,
				CASE WHEN NOT contains(a.addr, '::') OR split_part(a.addr, '::', 2) = '' THEN []::VARCHAR[]
					ELSE string_split(split_part(a.addr, '::', 2), ':') END AS r)))
	END`

// ViewNames lists every documented view's name (AllViews).
func ViewNames() []string {
	var names []string
	for _, v := range AllViews(FlowLayout{}) {
		names = append(names, v.Name)
	}
	return names
}
