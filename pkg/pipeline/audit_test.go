package pipeline

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TestAuditReadBack checks what an audit reads of an analyze's file: the topology's JSON byte for byte and the
// replay settings (results.ReadRerun), and the records in input order (readFlows sorts DuckDB's runs), with
// and without a time window.
func TestAuditReadBack(t *testing.T) {
	ctx := context.Background()
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "shop.duckdb")
	cfg := replay.Config{ReorderWindow: 3 * time.Minute, MaxTracked: 5000, TCPHalfOpenTimeout: time.Minute}
	if _, err := Analyze(ctx, AnalyzeConfig{Model: model, Paths: []string{shop + "flowlogs"}, DB: db, Replay: cfg}); err != nil {
		t.Fatal(err)
	}
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	files, got, err := results.ReadRerun(ctx, d.SQL())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(model.InputFiles(), files); diff != "" {
		t.Errorf("topology_files (-loaded +stored):\n%s", diff)
	}
	if diff := cmp.Diff(cfg, got); diff != "" {
		t.Errorf("replay_settings (-analyze +stored):\n%s", diff)
	}
	defer func(n int64) { auditChunkLines = n }(auditChunkLines)
	for _, tc := range []struct {
		name         string
		since, until time.Time
		chunk        int64
		want         int64
	}{
		{name: "all", chunk: 1 << 20, want: 3000},
		{name: "ten minutes", since: time.Date(2026, 11, 20, 0, 10, 0, 0, time.UTC), until: time.Date(2026, 11, 20, 0, 20, 0, 0, time.UTC), chunk: 1 << 20},
		{name: "all, chunks of 97 lines", chunk: 97, want: 3000},
		{name: "ten minutes, chunks of 97 lines", since: time.Date(2026, 11, 20, 0, 10, 0, 0, time.UTC), until: time.Date(2026, 11, 20, 0, 20, 0, 0, time.UTC), chunk: 97},
		{name: "nothing", since: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), chunk: 97, want: -1},
	} {
		auditChunkLines = tc.chunk
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == -1 {
				tc.want = 0
			} else if tc.want == 0 {
				if err := d.SQL().QueryRow(`SELECT count(*) FROM flows WHERE start >= ? AND start < ?`, tc.since.Unix(),
					tc.until.Unix()).Scan(&tc.want); err != nil {
					t.Fatal(err)
				}
			}
			rr, err := readFlows(ctx, d, tc.since, tc.until, false)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			var n, last int64
			for rr.Next() {
				rec := rr.Record()
				lines := rec.Column(rec.Schema().FieldIndices(flowschema.ColSourceLine)[0]).(*array.Int64)
				for i := 0; i < lines.Len(); i++ {
					if lines.Value(i) <= last {
						t.Fatalf("line %d after %d", lines.Value(i), last)
					}
					last = lines.Value(i)
					n++
				}
				if !rec.Schema().HasField(flowschema.IPv4Col(flowschema.ColSrcAddr)) {
					t.Fatalf("no IPv4 numbers: %v", rec.Schema())
				}
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("%d records, want %d", n, tc.want)
			}
		})
	}
}
