package results

import (
	"context"
	"database/sql"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/store"
)

// FlowLayout says how a file stores what its flows view shows, so that the views that aggregate every
// record can read the stored columns and join the verdicts table instead of going through the view's
// per-row lookups. Measured on 10M analyzed records (BenchmarkViews/top_talkers): grouping the conversations
// on address ids and joining the 2,560 verdicts took about half the CPU of grouping the view's looked-up text.
//
// The zero FlowLayout is a file that stores every column as it is (nothing interned).
type FlowLayout struct {
	// IDs maps each column of the flows view stored as an id into flowschema.FlowStringsTable (its value at
	// position id + 1 of the table's values in string_id order) to its id column; id 0 stands for NULL.
	IDs map[string]string
}

// key is the stored column that groups like col: its id when interned, else col itself.
func (l FlowLayout) key(col string) string {
	if id, ok := l.IDs[col]; ok {
		return "r." + store.QuoteIdent(id)
	}
	return "r." + store.QuoteIdent(col)
}

// notNull is the test that col is not NULL, on its stored column.
func (l FlowLayout) notNull(col string) string {
	if _, ok := l.IDs[col]; ok {
		return l.key(col) + " <> 0"
	}
	return l.key(col) + " IS NOT NULL"
}

// value turns a grouped key of col back into the column's value (k is the key's alias).
func (l FlowLayout) value(col, k string) string {
	if _, ok := l.IDs[col]; ok {
		return "s.value[" + k + " + 1]"
	}
	return k
}

// strings is the FROM item that value reads, when any column is interned.
func (l FlowLayout) strings() string {
	if len(l.IDs) == 0 {
		return ""
	}
	return ", (SELECT list(value ORDER BY string_id) AS value FROM " + flowschema.FlowStringsTable + ") s"
}

// conversations is the SELECT that top_talkers and group_edges aggregate: one row per conversation (client,
// server, protocol, the server's port) with records, packets, bytes, first, last (epoch seconds), accepted
// and rejected as logged, and at_client / at_server (see loggedAtAggs). It reads flow_records and joins the
// verdicts table for flow_role and direction; a record without a verdict (NULL flow_role) counts as a
// request, as clientExpr says.
func (l FlowLayout) conversations() string {
	src, dst := l.key(flowschema.ColSrcAddr), l.key(flowschema.ColDstAddr)
	return `SELECT ` + l.value(flowschema.ColSrcAddr, "client_k") + ` AS client, ` +
		l.value(flowschema.ColDstAddr, "server_k") + ` AS server, protocol, port, records, packets, bytes, first, last,
		accepted, rejected, at_client, at_server
	FROM (SELECT CASE WHEN v.reply THEN ` + dst + ` ELSE ` + src + ` END AS client_k,
			CASE WHEN v.reply THEN ` + src + ` ELSE ` + dst + ` END AS server_k, r.protocol,
			CASE WHEN v.reply THEN r.srcport ELSE r.dstport END AS port,
			count(*) AS records, CAST(sum(r.packets) AS BIGINT) AS packets, CAST(sum(r.bytes) AS BIGINT) AS bytes,
			min(r.start) AS first, max(r."end") AS last,
			count(*) FILTER (WHERE r.action = 'ACCEPT') AS accepted, count(*) FILTER (WHERE r.action = 'REJECT') AS rejected,
			bool_or(v.reply = v.ingress) AS at_client, bool_or(v.reply <> v.ingress) AS at_server
		FROM ` + flowschema.FlowRecordsTable + ` r LEFT JOIN (SELECT ` + flowschema.ColVerdictID + `, ` +
		flowschema.ColFlowRole + ` = 'reply' AS reply, ` + flowschema.ColDirection + ` = 'ingress' AS ingress FROM ` +
		flowschema.VerdictsTable + `) v
			ON v.` + flowschema.ColVerdictID + ` = r.` + flowschema.ColVerdictID + `
		WHERE ` + l.notNull(flowschema.ColSrcAddr) + ` AND ` + l.notNull(flowschema.ColDstAddr) + `
		GROUP BY ALL) c` + l.strings()
}

// ReadFlowLayout reads the layout of an analyzed or ingested file back: a column NAME of the flows view is
// stored as an id when flow_records has NAME_id and no NAME.
func ReadFlowLayout(ctx context.Context, db *sql.DB) (FlowLayout, error) {
	cols := func(table string) (map[string]bool, error) {
		rows, err := db.QueryContext(ctx, `SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND database_name = current_database()`, table)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		set := map[string]bool{}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				return nil, err
			}
			set[c] = true
		}
		return set, rows.Err()
	}
	records, err := cols(flowschema.FlowRecordsTable)
	if err != nil {
		return FlowLayout{}, err
	}
	view, err := cols(flowschema.FlowsView)
	if err != nil {
		return FlowLayout{}, err
	}
	l := FlowLayout{IDs: map[string]string{}}
	for c := range view {
		if id := store.InternedColumn(c); records[id] && !records[c] {
			l.IDs[c] = id
		}
	}
	return l, nil
}
