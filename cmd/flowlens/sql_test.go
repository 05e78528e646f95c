package main

import (
	"cmp"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
)

// sqlDrift is one logged REJECT the shop model allows (HTTPS to web-1): the sample has no drift of its own.
const sqlDrift = "testdata/sql/drift.log"

// TestSQLOnShop analyzes the bundled sample (plus sqlDrift) once and checks every documented view against an
// independent computation from the base tables and against the sample's documented facts
// (samples/shop/README.md), then the sql command's output formats against golden files.
func TestSQLOnShop(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	if status, _, errOut := runCLI(t, "", "analyze", "--topology", shop+"topology", "--db", db, shop+"flowlogs", sqlDrift); status != exitOK {
		t.Fatalf("analyze: status %d\n%s", status, errOut)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("views", func(t *testing.T) { testViews(t, d.SQL()) })
	t.Run("golden", func(t *testing.T) { testSQLGolden(t, db) })
	d.Close()
	t.Run("ingest drops the verdict views", func(t *testing.T) {
		if status, _, errOut := runCLI(t, "", "ingest", "--db", db, shop+"flowlogs"); status != exitOK {
			t.Fatalf("ingest: status %d\n%s", status, errOut)
		}
		for _, v := range results.Views(results.FlowLayout{}) {
			status, _, errOut := runCLI(t, "", "sql", "--db", db, "SELECT count(*) FROM "+v.Name)
			switch {
			case v.Verdicts && (status != exitError || !strings.Contains(errOut, "does not exist")):
				t.Errorf("%s after ingest: status %d, %s; want it gone", v.Name, status, errOut)
			case !v.Verdicts && status != exitOK:
				t.Errorf("%s after ingest: status %d, %s; want it kept", v.Name, status, errOut)
			}
		}
	})
}

// rows runs a query and returns its rows as text, NULL as "NULL".
func rows(t *testing.T, db *sql.DB, query string) [][]string {
	t.Helper()
	rs, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sortRows(rs [][]string) [][]string {
	slices.SortFunc(rs, func(a, b []string) int { return slices.Compare(a, b) })
	return rs
}

func testViews(t *testing.T, db *sql.DB) {
	// The base tables, not the flows view: flow_records with its verdict looked up by a join.
	const judged = `flow_records r JOIN verdicts v ON v.verdict_id = r.verdict_id`
	t.Run("rejects_by_layer", func(t *testing.T) {
		got := rows(t, db, `SELECT verdict_layer, records, bytes FROM rejects_by_layer ORDER BY 1`)
		want := rows(t, db, `SELECT v.verdict_layer, count(*), CAST(sum(r.bytes) AS BIGINT) FROM `+judged+` WHERE v.model_action = 'REJECT' GROUP BY 1 ORDER BY 1`)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("against the base tables (-want +got):\n%s", diff)
		}
		// samples/shop/README.md: 187 REJECTs = 62 + 23 nacl-inbound, 18 nacl-outbound, 26 sg-inbound, 58 sg-outbound.
		documented := [][]string{{"nacl-inbound", "85"}, {"nacl-outbound", "18"}, {"sg-inbound", "26"}, {"sg-outbound", "58"}}
		if diff := gocmp.Diff(documented, rows(t, db, `SELECT verdict_layer, records FROM rejects_by_layer ORDER BY 1`)); diff != "" {
			t.Errorf("against the sample's README (-want +got):\n%s", diff)
		}
	})
	t.Run("rejects_by_rule", func(t *testing.T) {
		got := rows(t, db, `SELECT verdict_layer, verdict_resource, verdict_rule, verdict_cause, coalesce(rule, ''), records FROM rejects_by_rule`)
		want := rows(t, db, `SELECT v.verdict_layer, v.verdict_resource, v.verdict_rule, v.verdict_cause,
				coalesce((SELECT concat(e.action, ' all ', CASE e.direction WHEN 'ingress' THEN 'from ' ELSE 'to ' END, e.cidr)
					FROM topology_nacl_entries e WHERE e.nacl_id = v.verdict_resource AND CAST(e.rule_number AS VARCHAR) = v.verdict_rule
					AND e.direction = CASE v.verdict_layer WHEN 'nacl-inbound' THEN 'ingress' ELSE 'egress' END), ''), count(*)
			FROM `+judged+` WHERE v.model_action = 'REJECT' GROUP BY ALL`)
		if diff := gocmp.Diff(sortRows(want), sortRows(got)); diff != "" {
			t.Errorf("against the base tables (-want +got):\n%s", diff)
		}
		documented := [][]string{ // samples/shop/README.md, the expected outcomes
			{"nacl-inbound", "acl-0a1b2c3d4e5f62001", "32767", "nacl-default-deny", "56"},
			{"nacl-inbound", "acl-0a1b2c3d4e5f62001", "50", "nacl-explicit-deny", "23"},
			{"nacl-inbound", "acl-0a1b2c3d4e5f62002", "32767", "nacl-default-deny", "6"},
			{"nacl-outbound", "acl-0a1b2c3d4e5f62002", "32767", "nacl-missing-return", "18"},
			{"sg-inbound", "sg-0a1b2c3d4e5f63001", "implicit-deny", "sg-no-matching-rule", "26"},
			{"sg-outbound", "sg-0a1b2c3d4e5f63001", "implicit-deny", "sg-no-matching-rule", "26"},
			{"sg-outbound", "sg-0a1b2c3d4e5f63003", "implicit-deny", "sg-no-matching-rule", "32"},
		}
		if diff := gocmp.Diff(sortRows(documented), sortRows(rows(t, db, `SELECT verdict_layer, verdict_resource, verdict_rule, verdict_cause, records
				FROM rejects_by_rule`))); diff != "" {
			t.Errorf("against the sample's README (-want +got):\n%s", diff)
		}
	})
	recs := flowRows(t, db)
	t.Run("top_talkers", func(t *testing.T) {
		type key struct{ client, server, proto, port string }
		type agg struct {
			records, packets, bytes, accepted, rejected int64
			atClient, atServer                          bool
		}
		byKey := map[key]*agg{}
		for _, r := range recs {
			if r.src == "" || r.dst == "" {
				continue
			}
			k := key{r.src, r.dst, r.proto, r.dstPort}
			if r.role == "reply" {
				k = key{r.dst, r.src, r.proto, r.srcPort}
			}
			a := byKey[k]
			if a == nil {
				a = &agg{}
				byKey[k] = a
			}
			a.records++
			a.packets += r.packets
			a.bytes += r.bytes
			a.accepted += b2i(r.action == "ACCEPT")
			a.rejected += b2i(r.action == "REJECT")
			if r.dir != "" {
				clientSide := (r.role == "reply") == (r.dir == "ingress")
				a.atClient = a.atClient || clientSide
				a.atServer = a.atServer || !clientSide
			}
		}
		var want [][]string
		for k, a := range byKey {
			want = append(want, []string{k.client, k.server, k.proto, k.port, fmt.Sprint(a.records), fmt.Sprint(a.packets),
				fmt.Sprint(a.bytes), fmt.Sprint(a.accepted), fmt.Sprint(a.rejected), loggedAt(a.atClient, a.atServer)})
		}
		got := rows(t, db, `SELECT client, server, protocol, port, records, packets, bytes, accepted, rejected, logged_at FROM top_talkers`)
		if diff := gocmp.Diff(sortRows(want), sortRows(got)); diff != "" {
			t.Errorf("against the flows, aggregated in Go (-want +got):\n%s", diff)
		}
		ordered := rows(t, db, `SELECT bytes FROM top_talkers`)
		if !slices.IsSortedFunc(ordered, func(a, b []string) int { return cmp.Compare(atoi(t, b[0]), atoi(t, a[0])) }) {
			t.Errorf("not ordered by bytes, most first")
		}
	})
	t.Run("group_edges", func(t *testing.T) {
		ident := map[string][2]string{} // address -> identity, kind
		for _, e := range rows(t, db, `SELECT interface_id, addresses, public_ips, groups FROM topology_enis`) {
			id, kind := e[3], "groups"
			if id == "" || id == "NULL" {
				id, kind = e[0], "interface"
			}
			for _, a := range strings.Split(e[1]+","+e[2], ",") {
				if a != "" && a != "NULL" {
					ident[a] = [2]string{id, kind}
				}
			}
		}
		identity := func(addr string) [2]string {
			if id, ok := ident[addr]; ok {
				return id
			}
			a := netip.MustParseAddr(addr)
			bits := 24
			if a.Is6() {
				bits = 64
			}
			return [2]string{netip.PrefixFrom(a, bits).Masked().String(), "cidr"}
		}
		type key struct{ src, srcKind, dst, dstKind, proto, port string }
		type agg struct{ records, bytes, accepted, rejected int64 }
		byKey := map[key]*agg{}
		for _, r := range recs {
			if r.src == "" || r.dst == "" {
				continue
			}
			client, server, port := r.src, r.dst, r.dstPort
			if r.role == "reply" {
				client, server, port = r.dst, r.src, r.srcPort
			}
			c, s := identity(client), identity(server)
			k := key{c[0], c[1], s[0], s[1], r.proto, port}
			a := byKey[k]
			if a == nil {
				a = &agg{}
				byKey[k] = a
			}
			a.records++
			a.bytes += r.bytes
			a.accepted += b2i(r.action == "ACCEPT")
			a.rejected += b2i(r.action == "REJECT")
		}
		var want [][]string
		for k, a := range byKey {
			want = append(want, []string{k.src, k.srcKind, k.dst, k.dstKind, k.proto, k.port, fmt.Sprint(a.records),
				fmt.Sprint(a.bytes), fmt.Sprint(a.accepted), fmt.Sprint(a.rejected)})
		}
		got := rows(t, db, `SELECT source, source_kind, destination, destination_kind, protocol, port, records, bytes, accepted, rejected FROM group_edges`)
		if diff := gocmp.Diff(sortRows(want), sortRows(got)); diff != "" {
			t.Errorf("against the flows and topology_enis, in Go (-want +got):\n%s", diff)
		}
		// samples/shop/README.md: web -> app 8080 is 4 records a conversation, 266 conversations and the web
		// side of one more; app -> db 5432 4 x 171; bastion -> web 22 4 x 11; admins -> bastion 22 16 + 16;
		// bastion -> app 22 three records of 18 conversations, the app's replies rejected; bastion -> app ping 6 + 6,
		// the requests rejected; db -> S3 (3.5.0.0/19) 32 rejected.
		documented := [][]string{
			{"shop-app", "shop-db", "tcp/5432", "684", "684", "0"},
			{"shop-bastion", "shop-app", "icmp/0", "12", "6", "6"},
			{"shop-bastion", "shop-app", "tcp/22", "54", "36", "18"},
			{"shop-bastion", "shop-web", "tcp/22", "44", "44", "0"},
			{"shop-db", "3.5.x", "tcp/443", "32", "0", "32"},
			{"shop-web", "shop-app", "tcp/8080", "1066", "1066", "0"},
			{"203.0.113.0/24", "shop-bastion", "tcp/22", "32", "32", "0"},
		}
		got = rows(t, db, `SELECT s, d, service, CAST(sum(records) AS BIGINT), CAST(sum(accepted) AS BIGINT), CAST(sum(rejected) AS BIGINT)
			FROM (SELECT coalesce(source_names, source) AS s, service, records, accepted, rejected,
					CASE WHEN destination LIKE '3.5.%' THEN '3.5.x' ELSE coalesce(destination_names, destination) END AS d
				FROM group_edges
				WHERE (source_kind = 'groups' AND destination_kind = 'groups') OR (source_names = 'shop-db' AND destination LIKE '3.5.%')
					OR (source = '203.0.113.0/24' AND destination_names = 'shop-bastion'))
			GROUP BY ALL`)
		if diff := gocmp.Diff(sortRows(documented), sortRows(got)); diff != "" {
			t.Errorf("against the sample's README (-want +got):\n%s", diff)
		}
		if got := rows(t, db, `SELECT DISTINCT source FROM group_edges WHERE source LIKE '%:%'`); len(got) == 0 {
			t.Errorf("no IPv6 /64 source: the sample has IPv6 clients of web-1")
		}
	})
	t.Run("unused_rules", func(t *testing.T) {
		// Every rule without hits but the * entries, from rule_hits; and no record names one of them as the
		// NACL entry or security-group rule that decided it.
		want := rows(t, db, `SELECT rule_type, resource_id, rule_id, direction FROM rule_hits
			WHERE hits = 0 AND rule_id NOT IN ('32767', '32768') ORDER BY ALL`)
		got := rows(t, db, `SELECT rule_type, resource_id, rule_id, direction FROM unused_rules ORDER BY ALL`)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("against rule_hits (-want +got):\n%s", diff)
		}
		used := rows(t, db, `SELECT count(*) FROM unused_rules u JOIN `+judged+`
			ON (u.rule_type = 'nacl' AND v.nacl_id = u.resource_id AND v.nacl_rule = u.rule_id
				AND v.direction = u.direction) OR (u.rule_type = 'sg' AND v.sg_rule = u.rule_id)`)
		if used[0][0] != "0" {
			t.Errorf("%s records were decided by an 'unused' rule", used[0][0])
		}
		// The shop: the default NACL's IPv6 entries (its subnets have no IPv6) and the default group's rules
		// (no interface uses it).
		documented := [][]string{
			{"nacl", "acl-0a1b2c3d4e5f62000", "101", "egress", "3"},
			{"nacl", "acl-0a1b2c3d4e5f62000", "101", "ingress", "3"},
			{"sg", "sg-0a1b2c3d4e5f63000", "sg-0a1b2c3d4e5f63000/egress/0", "egress", "0"},
			{"sg", "sg-0a1b2c3d4e5f63000", "sg-0a1b2c3d4e5f63000/ingress/0", "ingress", "0"},
		}
		if diff := gocmp.Diff(documented, rows(t, db, `SELECT rule_type, resource_id, rule_id, direction, interfaces FROM unused_rules`)); diff != "" {
			t.Errorf("against the sample (-want +got):\n%s", diff)
		}
	})
	t.Run("unexplained_rejects", func(t *testing.T) {
		want := rows(t, db, `SELECT count(*) FROM `+judged+` WHERE r.action = 'REJECT' AND v.model_action = 'ACCEPT'`)
		got := rows(t, db, `SELECT CAST(sum(records) AS BIGINT) FROM unexplained_rejects`)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		documented := [][]string{{"eni-0e9ef431b1d115683", "203.0.113.77", "10.20.1.10", "tcp/443", "100", "sg-0a1b2c3d4e5f63001/ingress/0", "1", "true"}}
		if diff := gocmp.Diff(documented, rows(t, db, `SELECT interface_id, client, server, service, nacl_rule, sg_rule, records,
				ends_with(example, 'drift.log:1') FROM unexplained_rejects`)); diff != "" {
			t.Errorf("the drift record (-want +got):\n%s", diff)
		}
	})
}

func loggedAt(client, server bool) string {
	switch {
	case client && server:
		return "both"
	case client:
		return "client"
	case server:
		return "server"
	}
	return "NULL"
}

func atoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

type flowRow struct {
	iface, src, dst, srcPort, dstPort, proto, role, dir, action string
	packets, bytes                                              int64
}

// flowRows reads every record's fields the views group by, from the flows view ("" for NULL).
func flowRows(t *testing.T, db *sql.DB) []flowRow {
	t.Helper()
	rs, err := db.Query(`SELECT coalesce(interface_id, ''), coalesce(srcaddr, ''), coalesce(dstaddr, ''),
		coalesce(CAST(srcport AS VARCHAR), 'NULL'), coalesce(CAST(dstport AS VARCHAR), 'NULL'), coalesce(CAST(protocol AS VARCHAR), 'NULL'),
		coalesce(CAST(flow_role AS VARCHAR), ''), coalesce(CAST(direction AS VARCHAR), ''), coalesce(CAST(action AS VARCHAR), ''), coalesce(packets, 0), coalesce(bytes, 0) FROM flows`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []flowRow
	for rs.Next() {
		var r flowRow
		if err := rs.Scan(&r.iface, &r.src, &r.dst, &r.srcPort, &r.dstPort, &r.proto, &r.role, &r.dir, &r.action, &r.packets, &r.bytes); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sqlValues is one row with a value of every kind the output formats treat apart; a second row has NULLs.
const sqlValues = `SELECT 42 AS n, NULL AS nothing, 'a value longer than the forty characters a table shows' AS long,
	TIMESTAMP '2026-11-20 00:01:09' AS ts, DATE '2026-11-20' AS day, 1e20::DOUBLE AS big, 0.1::DOUBLE AS small,
	12.50::DECIMAL(6,2) AS dec, [1, 2] AS list, {'port': 443, 'proto': 'tcp'} AS struct, 'a|b, "c"' AS quoted,
	'two' || chr(10) || 'lines' AS nl, '' AS empty
UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`

// testSQLGolden runs flowlens sql and compares what it prints (stdout, stderr, exit status) with
// testdata/sql/NAME.golden; go test -run TestSQLOnShop/golden -update rewrites them.
func testSQLGolden(t *testing.T, db string) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{name: "table", args: []string{sqlValues}},
		{name: "width", args: []string{"--width", "8", sqlValues}},
		{name: "csv", args: []string{"-o", "csv", sqlValues}},
		{name: "json", args: []string{"-o", "json", sqlValues}},
		{name: "markdown", args: []string{"-o", "markdown", sqlValues}},
		{name: "view", args: []string{"SELECT verdict_layer, records, packets, first_seen FROM rejects_by_layer"}},
		{name: "error", args: []string{"SELECT * FROM no_such_table"}},
		{name: "read-only", args: []string{"CREATE TABLE t (a INTEGER)"}},
		{name: "stdin", stdin: "SELECT 1 AS a;\n-- a comment; not a statement\nSELECT 'x;y' AS b ; SELECT 2 AS c,\n  3 AS d\n"},
		{name: "stdin-json", stdin: "SELECT 1 AS a, 1 AS a; SELECT 'x' AS b WHERE false", args: []string{"-o", "json"}},
		{name: "stdin-error", stdin: "SELECT 1 AS a;\nSELECT nope FROM flows;\nSELECT 3 AS c"},
		{name: "usage", args: []string{"-o", "xml", "SELECT 1"}},
		{name: "no-statement", stdin: "-- nothing\n;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"sql", "--db", db}, tc.args...)
			status, out, errOut := runCLI(t, tc.stdin, args...)
			errOut = strings.ReplaceAll(errOut, db, "DB")
			got := strings.TrimSpace("$ flowlens sql "+strings.Join(quoteArgs(tc.args), " ")) + "\n"
			if tc.stdin != "" {
				got += "--- stdin\n" + tc.stdin + "\n"
			}
			got += "--- stdout\n" + out + "--- stderr\n" + errOut + fmt.Sprintf("--- exit %d\n", status)
			path := filepath.Join("testdata", "sql", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := gocmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, " '\"\n*") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return out
}

// TestSQLOffline: a statement can neither install or load an extension nor turn the offline settings back on,
// and queries of the results still run.
func TestSQLOffline(t *testing.T) {
	db := filepath.Join(t.TempDir(), "o.duckdb")
	analyzeShop(t, db)
	for _, tc := range []struct {
		name, query string
		status      int
		want        string // in stderr (refused) or stdout (allowed)
	}{
		{"install", "INSTALL httpfs", exitError, "disabled"},
		{"load", "LOAD httpfs", exitError, "disabled"},
		{"settings back on", "SET autoinstall_known_extensions = true", exitError, "locked"},
		{"a query", "SELECT count(*) AS n FROM flows", exitOK, "3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, errOut := runCLI(t, "", "sql", "--db", db, tc.query)
			if status != tc.status || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("status %d, stdout %q, stderr %q; want status %d and %q", status, out, errOut, tc.status, tc.want)
			}
		})
	}
}
