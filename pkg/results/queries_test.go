package results

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/store"
)

// TestTopRejected: peers are the other end of the interface's record, ports those of rejected requests
// (replies left out, NULL role counted as a request); ties go by key.
func TestTopRejected(t *testing.T) {
	path := filepath.Join(t.TempDir(), "top.duckdb")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec(`CREATE TABLE flows AS SELECT * FROM (VALUES
		('10.0.0.1', '10.0.0.9', 6, 22, 'REJECT', 'ingress', 'request'),
		('10.0.0.1', '10.0.0.9', 6, 22, 'REJECT', 'ingress', NULL),
		('10.0.0.9', '10.0.0.2', 17, 53, 'REJECT', 'egress', 'request'),
		('10.0.0.9', '10.0.0.3', 6, 40000, 'REJECT', 'egress', 'reply'),
		('10.0.0.4', '10.0.0.9', 50, 0, 'REJECT', NULL, 'request'),
		('10.0.0.5', '10.0.0.9', 1, 0, 'ACCEPT', 'ingress', 'request')
	) AS t(srcaddr, dstaddr, protocol, dstport, action, direction, flow_role)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		query func(context.Context, *sql.DB, int) ([]Count, error)
		limit int
		want  []Count
	}{
		{name: "peers", query: TopRejectedPeers, limit: 10,
			want: []Count{{"10.0.0.1", 2}, {"10.0.0.2", 1}, {"10.0.0.3", 1}}},
		{name: "peers limited", query: TopRejectedPeers, limit: 1, want: []Count{{"10.0.0.1", 2}}},
		{name: "ports", query: TopRejectedPorts, limit: 10,
			want: []Count{{"tcp/22", 2}, {"50/0", 1}, {"udp/53", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.query(context.Background(), db.SQL(), tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
