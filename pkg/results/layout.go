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

// addrKeys returns what the conversations group the two addresses by, and how a key turns back into the
// address: the ids when both address columns are interned (decode: the string at the id, from the strings list
// s, see stringsFrom), else their text (an interned one looked up row by row: ids of one column and text of
// the other cannot share a CASE).
func (l FlowLayout) addrKeys() (src, dst string, decode func(k string) string) {
	text := func(col string) string {
		if id, ok := l.IDs[col]; ok {
			return "s.value[r." + store.QuoteIdent(id) + " + 1]"
		}
		return "r." + store.QuoteIdent(col)
	}
	if l.keysAreIDs() {
		return "r." + store.QuoteIdent(l.IDs[flowschema.ColSrcAddr]), "r." + store.QuoteIdent(l.IDs[flowschema.ColDstAddr]),
			func(k string) string { return "s.value[" + k + " + 1]" }
	}
	return text(flowschema.ColSrcAddr), text(flowschema.ColDstAddr), func(k string) string { return k }
}

// keysAreIDs says that both addresses are interned: the conversations are grouped on ids.
func (l FlowLayout) keysAreIDs() bool {
	_, src := l.IDs[flowschema.ColSrcAddr]
	_, dst := l.IDs[flowschema.ColDstAddr]
	return src && dst
}

// mixed says that one address is interned and the other is not: it is looked up row by row.
func (l FlowLayout) mixed() bool {
	_, src := l.IDs[flowschema.ColSrcAddr]
	_, dst := l.IDs[flowschema.ColDstAddr]
	return src != dst
}

// notNull is the test that col is not NULL, on its stored column.
func (l FlowLayout) notNull(col string) string {
	if id, ok := l.IDs[col]; ok {
		return "r." + store.QuoteIdent(id) + " <> 0"
	}
	return "r." + store.QuoteIdent(col) + " IS NOT NULL"
}

// stringsFrom is the FROM item of the strings list s.
const stringsFrom = "(SELECT list(value ORDER BY string_id) AS value FROM " + flowschema.FlowStringsTable + ") s"

// conversationKeys is the aggregate that top_talkers and group_edges read: one row per conversation (client_k,
// server_k: see addrKeys; protocol; the server's port) with records, packets, bytes, first, last (epoch
// seconds), accepted and rejected as logged, and at_client / at_server (see loggedAtAggs). It reads
// flow_records and joins the verdicts table for flow_role and direction; a record without a verdict (NULL
// flow_role) counts as a request, as clientExpr says.
func (l FlowLayout) conversationKeys() string {
	src, dst, _ := l.addrKeys()
	from := flowschema.FlowRecordsTable + ` r LEFT JOIN (SELECT ` + flowschema.ColVerdictID + `, ` +
		flowschema.ColFlowRole + ` = 'reply' AS reply, ` + flowschema.ColDirection + ` = 'ingress' AS ingress FROM ` +
		flowschema.VerdictsTable + `) v ON v.` + flowschema.ColVerdictID + ` = r.` + flowschema.ColVerdictID
	if l.mixed() {
		from += `, ` + stringsFrom
	}
	return `SELECT CASE WHEN v.reply THEN ` + dst + ` ELSE ` + src + ` END AS client_k,
			CASE WHEN v.reply THEN ` + src + ` ELSE ` + dst + ` END AS server_k, r.protocol,
			CASE WHEN v.reply THEN r.srcport ELSE r.dstport END AS port,
			count(*) AS records, CAST(sum(r.packets) AS BIGINT) AS packets, CAST(sum(r.bytes) AS BIGINT) AS bytes,
			min(r.start) AS first, max(r."end") AS last,
			count(*) FILTER (WHERE r.action = 'ACCEPT') AS accepted, count(*) FILTER (WHERE r.action = 'REJECT') AS rejected,
			bool_or(v.reply = v.ingress) AS at_client, bool_or(v.reply <> v.ingress) AS at_server
		FROM ` + from + `
		WHERE ` + l.notNull(flowschema.ColSrcAddr) + ` AND ` + l.notNull(flowschema.ColDstAddr) + `
		GROUP BY ALL`
}

// conversations is conversationKeys with the addresses as text: client and server instead of the keys.
func (l FlowLayout) conversations() string {
	_, _, decode := l.addrKeys()
	from := `(` + l.conversationKeys() + `) c`
	if l.keysAreIDs() {
		from += `, ` + stringsFrom
	}
	return `SELECT ` + decode("client_k") + ` AS client, ` + decode("server_k") + ` AS server, protocol, port, records,
		packets, bytes, first, last, accepted, rejected, at_client, at_server
	FROM ` + from
}

// addresses is the SELECT of every distinct address key of the conversations in pairs (a CTE of
// conversationKeys) with its text: k, addr.
func (l FlowLayout) addresses(pairs string) string {
	_, _, decode := l.addrKeys()
	from := `(SELECT client_k AS k FROM ` + pairs + ` UNION SELECT server_k FROM ` + pairs + `) a`
	if l.keysAreIDs() {
		from += `, ` + stringsFrom
	}
	return `SELECT k, ` + decode("k") + ` AS addr FROM ` + from
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
