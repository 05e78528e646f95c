package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

const shop = "../../samples/shop/"

// TestAnalyzeReadBack analyzes the bundled sample into a file and reads the flows back as Arrow: one row per
// record analyze reported, ENUM columns as readable dictionaries whose counts match the replay's summary;
// then replays the stored flows again, as the doc of store.ReadArrow says a later command would, and gets the
// same summary.
func TestAnalyzeReadBack(t *testing.T) {
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, logs string
		enums      []string // columns that must come back as dictionaries
	}{
		{name: "v2", logs: "flowlogs", enums: []string{flowschema.ColAction, flowschema.ColLogStatus,
			flowschema.ColSourceFile, flowschema.ColDirection, flowschema.ColModelAction, flowschema.ColVerdictCause}},
		{name: "v5", logs: "flowlogs-v5", enums: []string{flowschema.ColAction, flowschema.ColLogStatus,
			flowschema.ColFlowDirection, flowschema.ColDirection, flowschema.ColFlowRole}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := filepath.Join(t.TempDir(), "flows.duckdb")
			rep, err := Analyze(ctx, AnalyzeConfig{Model: model, Paths: []string{shop + tc.logs}, DB: db,
				Run: store.Run{Command: "test " + tc.name}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ingest.Records == 0 || rep.Replay.LoggedReject == 0 || len(rep.TopRejectedPeers) == 0 {
				t.Fatalf("the sample gave %d records, %d logged REJECTs, %d top peers", rep.Ingest.Records,
					rep.Replay.LoggedReject, len(rep.TopRejectedPeers))
			}

			rr, err := store.ReadArrow(ctx, db, `SELECT * FROM flows`)
			if err != nil {
				t.Fatal(err)
			}
			sc := rr.Schema()
			for _, name := range tc.enums {
				idx := sc.FieldIndices(name)
				if len(idx) != 1 || sc.Field(idx[0]).Type.ID() != arrow.DICTIONARY {
					t.Errorf("column %s: %v, want one dictionary", name, sc.Fields())
				}
			}
			count := func(rec arrow.Record, col, value string) int64 {
				c := rec.Column(sc.FieldIndices(col)[0]).(*array.Dictionary)
				n := int64(0)
				for i := 0; i < c.Len(); i++ {
					if c.IsValid(i) && c.ValueStr(i) == value {
						n++
					}
				}
				return n
			}
			var rows, logged, modeled int64
			for rr.Next() {
				rec := rr.Record()
				rows += rec.NumRows()
				logged += count(rec, flowschema.ColAction, flowschema.ActionReject)
				modeled += count(rec, flowschema.ColModelAction, flowschema.ActionReject)
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			got := []int64{rows, logged, modeled}
			want := []int64{rep.Ingest.Records, rep.Replay.LoggedReject, rep.Replay.ModelReject}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows, logged REJECTs, modeled REJECTs read back (-analyze +read):\n%s", diff)
			}

			// Replay the stored flows: in input order, without the verdict columns (the verdicts table's but
			// its id), the enumerated columns the replay reads as text.
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			query := `SELECT * REPLACE (CAST(action AS VARCHAR) AS action, CAST(log_status AS VARCHAR) AS log_status`
			if tc.name == "v5" {
				query += `, CAST(flow_direction AS VARCHAR) AS flow_direction`
			}
			query += `) FROM flows ORDER BY source_file, source_line`
			verdicts, err := store.ReadArrow(ctx, db, `SELECT * FROM verdicts LIMIT 0`)
			if err != nil {
				t.Fatal(err)
			}
			verdictCols := verdicts.Schema()
			verdicts.Release()
			stored, err := store.ReadArrow(ctx, db, query)
			if err != nil {
				t.Fatal(err)
			}
			in := arrowutil.Without(stored, func(f arrow.Field) bool {
				return f.Name != flowschema.ColVerdictID && verdictCols.HasField(f.Name)
			})
			stored.Release()
			again, err := replay.NewReader(ctx, model, in, replay.Config{}, mem)
			in.Release()
			if err != nil {
				t.Fatal(err)
			}
			for again.Next() {
			}
			if err := again.Err(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rep.Replay, again.Summary()); diff != "" {
				t.Errorf("summary of the stored flows' replay (-analyze +again):\n%s", diff)
			}
			again.Release()
		})
	}
}
