package results

import (
	"context"
	"database/sql"
	"fmt"
)

// Count is one row of a top-N query: a key and how many records have it.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// RejectedPeers is a SELECT of (key VARCHAR, n BIGINT) rows over the flows view (flowschema.FlowsView), one per
// peer, unordered: the logged REJECTs per peer, the other end of the interface's record (srcaddr of an ingress
// record, dstaddr of an egress one). Records whose direction the replay could not tell are left out, so the
// view must have the replay's columns (analyze). The key is NULL for a NULL peer.
const RejectedPeers = `SELECT CASE direction WHEN 'ingress' THEN srcaddr ELSE dstaddr END AS key, count(*) AS n
		FROM flows WHERE action = 'REJECT' AND direction IS NOT NULL GROUP BY key`

// RejectedPorts is a SELECT of (key VARCHAR, n BIGINT) rows over the flows view, one per destination port,
// unordered: the logged REJECTs of requests (records the replay did not mark as replies) per protocol and
// destination port, as "tcp/22" ("udp", "icmp", "icmpv6", else the protocol number).
const RejectedPorts = `SELECT concat(CASE protocol WHEN 6 THEN 'tcp' WHEN 17 THEN 'udp' WHEN 1 THEN 'icmp' WHEN 58 THEN 'icmpv6'
			ELSE CAST(protocol AS VARCHAR) END, '/', CAST(dstport AS VARCHAR)) AS key, count(*) AS n
		FROM flows WHERE action = 'REJECT' AND coalesce(flow_role, 'request') = 'request'
		GROUP BY key`

// TopRejectedPeers returns the limit peers with the most logged REJECTs in the flows view of db (RejectedPeers),
// most first, ties by peer. A NULL peer is "".
func TopRejectedPeers(ctx context.Context, db *sql.DB, limit int) ([]Count, error) {
	return counts(ctx, db, fmt.Sprintf(`SELECT key, n FROM (%s) ORDER BY n DESC, key LIMIT %d`, RejectedPeers, limit))
}

// TopRejectedPorts returns the limit destination ports with the most logged REJECTs of requests in the flows
// view of db (RejectedPorts), most first, ties by port.
func TopRejectedPorts(ctx context.Context, db *sql.DB, limit int) ([]Count, error) {
	return counts(ctx, db, fmt.Sprintf(`SELECT key, n FROM (%s) ORDER BY n DESC, key LIMIT %d`, RejectedPorts, limit))
}

// counts runs a query of (key, count) rows.
func counts(ctx context.Context, db *sql.DB, query string) ([]Count, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var k sql.NullString
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out = append(out, Count{k.String, n})
	}
	return out, rows.Err()
}
