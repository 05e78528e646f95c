package pipeline

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/recommend"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TestReadObservations checks the GROUP BYs of recommend against the records read one by one: every accepted
// request is in exactly one row, with its flows, bytes, first and last time, client ports and the window slots
// recommend.Window.Bit gives (computed in SQL); a time filter keeps only its records and drops rule_hits.
func TestReadObservations(t *testing.T) {
	ctx := context.Background()
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	if _, err := Analyze(ctx, AnalyzeConfig{Model: model, Paths: []string{shop + "flowlogs"}, DB: db,
		Replay: replay.Config{ReorderWindow: 3 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	type key struct {
		eni, dir    string
		local, peer netip.Addr
		proto, port int64
	}
	for _, tc := range []struct {
		name         string
		since, until time.Time
		slots        int
	}{
		{name: "all, 10 slots", slots: 10},
		{name: "ten minutes, days", since: time.Date(2026, 11, 20, 0, 10, 0, 0, time.UTC), until: time.Date(2026, 11, 20, 0, 20, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := readObservations(ctx, d, tc.since, tc.until, tc.slots)
			if err != nil {
				t.Fatal(err)
			}
			if (obs.RuleHits == nil) != (!tc.since.IsZero()) {
				t.Errorf("rule hits: %d rows (nil %v) with since %v", len(obs.RuleHits), obs.RuleHits == nil, tc.since)
			}
			w := obs.Window
			if !tc.since.IsZero() && (w.Start != tc.since.Unix() || w.End != tc.until.Unix()) {
				t.Errorf("window %+v, want [%d, %d)", w, tc.since.Unix(), tc.until.Unix())
			}
			if tc.slots != 0 && w.Slots != tc.slots {
				t.Errorf("window %+v, want %d slots", w, tc.slots)
			}
			want := map[key]*recommend.Request{}
			rows, err := d.SQL().Query(`SELECT interface_id, CAST(direction AS VARCHAR), srcaddr, dstaddr, srcport, dstport, protocol,
				bytes, start, "end" FROM flows WHERE flow_role = 'request' AND action = 'ACCEPT' AND start >= ? AND start < ?`,
				w.Start, w.End)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var eni, dir, src, dst string
				var sport, dport, proto, bytes, start, end int64
				if err := rows.Scan(&eni, &dir, &src, &dst, &sport, &dport, &proto, &bytes, &start, &end); err != nil {
					t.Fatal(err)
				}
				n++
				k := key{eni: eni, dir: dir, local: netip.MustParseAddr(dst), peer: netip.MustParseAddr(src), proto: proto, port: dport}
				if dir == "egress" {
					k.local, k.peer = k.peer, k.local
				}
				if proto != 6 && proto != 17 {
					k.port, sport = 0, 0
				}
				r := want[k]
				if r == nil {
					r = &recommend.Request{ClientPortMin: uint16(sport), ClientPortMax: uint16(sport)}
					r.FirstSeen, r.LastSeen = start, end
					want[k] = r
				}
				r.Flows++
				r.Bytes += bytes
				r.FirstSeen, r.LastSeen = min(r.FirstSeen, start), max(r.LastSeen, end)
				r.ClientPortMin, r.ClientPortMax = min(r.ClientPortMin, uint16(sport)), max(r.ClientPortMax, uint16(sport))
				r.Windows |= w.Bit(start)
			}
			if n == 0 {
				t.Fatal("no accepted requests in the window")
			}
			var flows int64
			for _, q := range obs.Requests {
				dir := "ingress"
				if q.Dir == vpc.Egress {
					dir = "egress"
				}
				k := key{q.ENI, dir, q.Local, q.Peer, int64(q.Proto), int64(q.Port)}
				r := want[k]
				if r == nil {
					t.Errorf("row %+v: no such records", k)
					continue
				}
				delete(want, k)
				flows += q.Flows
				if q.Flows != r.Flows || q.Bytes != r.Bytes || q.FirstSeen != r.FirstSeen || q.LastSeen != r.LastSeen ||
					q.ClientPortMin != r.ClientPortMin || q.ClientPortMax != r.ClientPortMax || q.Windows != r.Windows || q.Example == "" {
					t.Errorf("row %+v: %+v, want %+v", k, q, *r)
				}
			}
			if len(want) > 0 || flows != int64(n) {
				t.Errorf("%d keys missing, %d flows in rows, %d records", len(want), flows, n)
			}
		})
	}
}
