package results

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/store"
)

// TestConversationsLayouts: top_talkers and group_edges give the same rows whether the file stores the
// addresses as text, as ids into flow_strings, or one of each, and those rows are the conversations worked out by hand: a
// reply counts for the conversation its request opened (client and server swapped, the server's port), a
// record without a verdict counts as a request, a record without an address is left out, and which ends
// logged the conversation follows direction and role.
func TestConversationsLayouts(t *testing.T) {
	const rows = `(VALUES
		-- 10.0.0.1 -> 10.0.0.9:443, logged at the server (ingress request, egress reply)
		('10.0.0.1', '10.0.0.9', 40001, 443, 6, 'ACCEPT', 1, 10, 100, 0),
		('10.0.0.9', '10.0.0.1', 443, 40001, 6, 'ACCEPT', 2, 20, 200, 1),
		-- the same conversation logged at the client (egress request)
		('10.0.0.1', '10.0.0.9', 40002, 443, 6, 'ACCEPT', 3, 1, 10, 2),
		-- no verdict: a request; and a REJECT
		('10.0.0.5', '10.0.0.9', 5000, 22, 6, 'REJECT', 4, 1, 40, NULL),
		-- no source address: left out
		(NULL, '10.0.0.9', 1, 2, 6, 'ACCEPT', 5, 1, 1, 0)
	) AS t(srcaddr, dstaddr, srcport, dstport, protocol, action, start, packets, bytes, verdict_id)`
	setup := []string{
		`CREATE TABLE verdicts AS SELECT * FROM (VALUES (0, 'request', 'ingress'), (1, 'reply', 'egress'),
			(2, 'request', 'egress')) AS v(verdict_id, flow_role, direction)`,
		`CREATE TABLE topology_enis (interface_id VARCHAR, addresses VARCHAR, public_ips VARCHAR, groups VARCHAR, subnet_id VARCHAR)`,
		`INSERT INTO topology_enis VALUES ('eni-9', '10.0.0.9', NULL, 'sg-web', 'subnet-1'), ('eni-1', '10.0.0.1', NULL, '', 'subnet-1')`,
		`CREATE TABLE topology_security_groups (group_id VARCHAR, group_name VARCHAR)`,
		`INSERT INTO topology_security_groups VALUES ('sg-web', 'web')`,
	}
	layouts := map[string][]string{
		"text": {`CREATE TABLE flow_records AS SELECT srcaddr, dstaddr, srcport, dstport, protocol,
			CAST(action AS ENUM('ACCEPT', 'REJECT')) AS action, start, start + 1 AS "end", packets, bytes,
			CAST(verdict_id AS UINTEGER) AS verdict_id FROM ` + rows},
		"ids": {`CREATE TABLE flow_strings AS SELECT * FROM (VALUES (0, NULL), (1, '10.0.0.1'), (2, '10.0.0.9'),
				(3, '10.0.0.5')) AS s(string_id, value)`,
			`CREATE TABLE flow_records AS SELECT
				CAST(coalesce((SELECT string_id FROM flow_strings WHERE value = srcaddr), 0) AS UINTEGER) AS srcaddr_id,
				CAST(coalesce((SELECT string_id FROM flow_strings WHERE value = dstaddr), 0) AS UINTEGER) AS dstaddr_id,
				srcport, dstport, protocol, CAST(action AS ENUM('ACCEPT', 'REJECT')) AS action, start,
				start + 1 AS "end", packets, bytes, CAST(verdict_id AS UINTEGER) AS verdict_id FROM ` + rows},
	}
	layouts["mixed"] = []string{layouts["ids"][0], `CREATE TABLE flow_records AS SELECT
				CAST(coalesce((SELECT string_id FROM flow_strings WHERE value = srcaddr), 0) AS UINTEGER) AS srcaddr_id,
				dstaddr, srcport, dstport, protocol, CAST(action AS ENUM('ACCEPT', 'REJECT')) AS action, start,
				start + 1 AS "end", packets, bytes, CAST(verdict_id AS UINTEGER) AS verdict_id FROM ` + rows}
	want := map[string][][]any{
		ViewTopTalkers: {
			{"10.0.0.1", "10.0.0.9", "tcp/443", int64(3), int64(31), int64(310), int64(3), int64(0), "both"},
			{"10.0.0.5", "10.0.0.9", "tcp/22", int64(1), int64(1), int64(40), int64(0), int64(1), nil},
		},
		ViewGroupEdges: {
			{"eni-1", "sg-web", "tcp/443", int64(3), int64(31), int64(310), int64(3), int64(0)},
			{"10.0.0.0/24", "sg-web", "tcp/22", int64(1), int64(1), int64(40), int64(0), int64(1)},
		},
	}
	cols := map[string]string{
		ViewTopTalkers: `client, server, service, records, packets, bytes, accepted, rejected, logged_at`,
		ViewGroupEdges: `source, destination, service, records, packets, bytes, accepted, rejected`,
	}
	for name, ddl := range layouts {
		t.Run(name, func(t *testing.T) {
			db, err := store.Open(filepath.Join(t.TempDir(), name+".duckdb"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range append(append([]string(nil), setup...), ddl...) {
				if _, err := db.SQL().Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			// The flows view as the store would write it, for ReadFlowLayout.
			flows := map[string]string{
				"text": `CREATE VIEW flows AS SELECT srcaddr, dstaddr FROM flow_records`,
				"ids": `CREATE VIEW flows AS SELECT s.value[srcaddr_id + 1] AS srcaddr, s.value[dstaddr_id + 1] AS dstaddr
					FROM flow_records, (SELECT list(value ORDER BY string_id) AS value FROM flow_strings) s`,
				"mixed": `CREATE VIEW flows AS SELECT s.value[srcaddr_id + 1] AS srcaddr, dstaddr
					FROM flow_records, (SELECT list(value ORDER BY string_id) AS value FROM flow_strings) s`,
			}[name]
			if _, err := db.SQL().Exec(flows); err != nil {
				t.Fatal(err)
			}
			layout, err := ReadFlowLayout(context.Background(), db.SQL())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(layout.IDs); got != map[string]int{"text": 0, "ids": 2, "mixed": 1}[name] {
				t.Fatalf("ReadFlowLayout: %v", layout.IDs)
			}
			for _, v := range Views(layout) {
				if want[v.Name] == nil {
					continue
				}
				rs, err := db.SQL().Query(`SELECT ` + cols[v.Name] + ` FROM (` + v.Query + `)`)
				if err != nil {
					t.Fatalf("%s: %v", v.Name, err)
				}
				var got [][]any
				for rs.Next() {
					row := make([]any, len(want[v.Name][0]))
					ptrs := make([]any, len(row))
					for i := range row {
						ptrs[i] = &row[i]
					}
					if err := rs.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					got = append(got, row)
				}
				rs.Close()
				if diff := cmp.Diff(want[v.Name], got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", v.Name, diff)
				}
			}
		})
	}
}
