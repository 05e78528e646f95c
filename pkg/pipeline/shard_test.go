package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TestShardFilter filters batches of interface ids (NULL among them) and a dictionary column through every
// shard of 3: each record comes out of exactly one shard, with its other columns, and nothing leaks.
func TestShardFilter(t *testing.T) {
	ids := [][]string{
		{"eni-a", "eni-b", "", "eni-c", "eni-a", "eni-d"}, // "" is NULL
		{"eni-a", "eni-a"},
		{"eni-e"},
	}
	const n = 3
	got := map[string]int{} // "batch/row" -> shard
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprintf("shard-%d", i), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			src := idBatches(t, mem, ids)
			f := newShardFilter(context.Background(), src, shard.Spec{Index: i, Count: n}, mem)
			src.Release()
			for f.Next() {
				rec := f.Record()
				id := rec.Column(0).(*array.String)
				pos := rec.Column(1).(*array.Dictionary)
				for r := 0; r < int(rec.NumRows()); r++ {
					key := pos.Dictionary().(*array.String).Value(pos.GetValueIndex(r))
					if _, dup := got[key]; dup {
						t.Errorf("record %s came out twice", key)
					}
					got[key] = i
					if want := shard.Of(id.Value(r), n); want != i { // Value of NULL is ""
						t.Errorf("record %s (%q) is in shard %d, came out of %d", key, id.Value(r), want, i)
					}
				}
			}
			if err := f.Err(); err != nil {
				t.Fatal(err)
			}
			f.Release()
		})
	}
	total := 0
	for _, b := range ids {
		total += len(b)
	}
	if len(got) != total {
		t.Errorf("%d records came out of the %d shards, want %d", len(got), n, total)
	}
}

// idBatches makes one record per element of ids: interface_id (NULL for "") and a dictionary column whose
// value names the record ("batch/row").
func idBatches(t *testing.T, mem memory.Allocator, ids [][]string) array.RecordReader {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: flowschema.ColInterfaceID, Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "pos", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}},
	}, nil)
	var recs []arrow.Record
	for bi, batch := range ids {
		b := array.NewRecordBuilder(mem, sc)
		for r, id := range batch {
			b.Field(0).(*array.StringBuilder).AppendValues([]string{id}, []bool{id != ""})
			if err := b.Field(1).(*array.BinaryDictionaryBuilder).AppendString(fmt.Sprintf("%d/%d", bi, r)); err != nil {
				t.Fatal(err)
			}
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	rr, err := array.NewRecordReader(sc, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	return rr
}

// TestShardsEqualOneMachine analyzes the bundled sample whole and as N shards, for N = 1, 3, 7: the shards'
// flows together are the whole run's, row for row with every verdict column; their rule hits summed per rule
// are the whole run's; their REJECTs by layer and cause add up to the whole run's; each records its shard.
func TestShardsEqualOneMachine(t *testing.T) {
	model, err := vpc.LoadPaths(shop + "topology")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	analyze := func(name string, spec shard.Spec) (string, *AnalyzeReport) {
		t.Helper()
		db := filepath.Join(dir, name+".duckdb")
		rep, err := Analyze(ctx, AnalyzeConfig{Model: model, Paths: []string{shop + "flowlogs-v5"}, DB: db, Shard: spec})
		if err != nil {
			t.Fatalf("shard %s: %v", spec, err)
		}
		return db, rep
	}
	wholeDB, whole := analyze("whole", shard.Spec{})
	want := shardResults(t, []string{wholeDB})
	if len(want.flows) == 0 || whole.Replay.ModelReject == 0 {
		t.Fatalf("the sample gave %d flows, %d REJECTs", len(want.flows), whole.Replay.ModelReject)
	}
	for _, n := range []int{1, 3, 7} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			var dbs []string
			layers, causes := map[string]int64{}, map[string]int64{}
			nonEmpty := 0
			for i := 0; i < n; i++ {
				spec := shard.Spec{Index: i, Count: n}
				db, rep := analyze(fmt.Sprintf("n%d-%d", n, i), spec)
				dbs = append(dbs, db)
				if rep.Ingest.Records-rep.ShardSkipped != rep.Replay.Records {
					t.Errorf("shard %s: %d records read, %d left out, %d replayed", spec, rep.Ingest.Records,
						rep.ShardSkipped, rep.Replay.Records)
				}
				if rep.Replay.Records > 0 {
					nonEmpty++
				}
				for k, v := range rep.Replay.RejectsByLayer {
					layers[k] += v
				}
				for k, v := range rep.Replay.RejectsByCause {
					causes[k] += v
				}
				recorded := queryRows(t, db, `SELECT shard, shards FROM `+flowschema.ShardTable)
				if diff := cmp.Diff([][]any{{int32(i), int32(n)}}, recorded); diff != "" {
					t.Errorf("shard %s: %s (-want +got):\n%s", spec, flowschema.ShardTable, diff)
				}
			}
			if nonEmpty < min(n, 3) {
				t.Errorf("only %d of %d shards got records: the test would prove little", nonEmpty, n)
			}
			got := shardResults(t, dbs)
			if diff := cmp.Diff(want.columns, got.columns); diff != "" {
				t.Fatalf("flows columns (-whole +shards):\n%s", diff)
			}
			if diff := cmp.Diff(want.flows, got.flows); diff != "" {
				t.Errorf("flows ordered by source_file, source_line (-whole +shards):\n%s", diff)
			}
			if diff := cmp.Diff(want.ruleHits, got.ruleHits); diff != "" {
				t.Errorf("rule_hits summed per rule (-whole +shards):\n%s", diff)
			}
			if diff := cmp.Diff(want.rejects, got.rejects); diff != "" {
				t.Errorf("REJECTs by layer and cause (-whole +shards):\n%s", diff)
			}
			if diff := cmp.Diff(whole.Replay.RejectsByLayer, layers, nonZero); diff != "" {
				t.Errorf("summaries' REJECTs by layer (-whole +shards):\n%s", diff)
			}
			if diff := cmp.Diff(whole.Replay.RejectsByCause, causes, nonZero); diff != "" {
				t.Errorf("summaries' REJECTs by cause (-whole +shards):\n%s", diff)
			}
		})
	}
	if got := queryRows(t, wholeDB, `SELECT count(*) FROM duckdb_tables() WHERE table_name = '`+flowschema.ShardTable+`'`); got[0][0] != int64(0) {
		t.Errorf("a run that is not sharded wrote %s", flowschema.ShardTable)
	}
}

// nonZero compares count maps ignoring zero counts.
var nonZero = cmp.Transformer("nonZero", func(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
})

// runResults is what TestShardsEqualOneMachine compares.
type runResults struct {
	columns  []string
	flows    [][]any // every column, ordered by source_file, source_line
	ruleHits [][]any // per rule: hits, packets, bytes summed, first and last seen
	rejects  [][]any // model REJECTs by verdict_layer and verdict_cause
}

// shardResults reads the union of the results of the DuckDB files dbs. DuckDB 1.1 resolves the tables of an
// attached file's view (flows) in the current catalog, so each file's flows are copied under USE.
func shardResults(t *testing.T, dbs []string) runResults {
	t.Helper()
	ctx := context.Background()
	d, err := store.Open(filepath.Join(t.TempDir(), "merged.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var flows, hits []string
	for i, db := range dbs {
		for _, q := range []string{
			fmt.Sprintf(`ATTACH %s AS s%d (READ_ONLY)`, store.QuoteString(db), i),
			fmt.Sprintf(`USE s%d`, i),
			fmt.Sprintf(`CREATE TABLE merged.main.flows_%d AS SELECT * FROM flows`, i),
			fmt.Sprintf(`CREATE TABLE merged.main.hits_%d AS SELECT * FROM rule_hits`, i),
			`USE merged`,
			fmt.Sprintf(`DETACH s%d`, i),
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		flows = append(flows, fmt.Sprintf(`SELECT * FROM flows_%d`, i))
		hits = append(hits, fmt.Sprintf(`SELECT * FROM hits_%d`, i))
	}
	u := strings.Join(flows, " UNION ALL ")
	var r runResults
	rows, err := conn.QueryContext(ctx, `SELECT * FROM (`+u+`) LIMIT 0`)
	if err != nil {
		t.Fatal(err)
	}
	r.columns, _ = rows.Columns()
	rows.Close()
	r.flows = scanRows(t, conn, `SELECT * FROM (`+u+`) ORDER BY source_file, source_line`)
	r.ruleHits = scanRows(t, conn, `SELECT rule_type, resource_id, rule_id, direction, action, rule, shadowed_by,
		sum(hits)::BIGINT, sum(packets)::BIGINT, sum(bytes)::BIGINT, min(first_seen), max(last_seen)
		FROM (`+strings.Join(hits, " UNION ALL ")+`) GROUP BY ALL ORDER BY ALL`)
	r.rejects = scanRows(t, conn, `SELECT verdict_layer::VARCHAR, verdict_cause::VARCHAR, count(*) FROM (`+u+`)
		WHERE model_action = 'REJECT' GROUP BY ALL ORDER BY ALL`)
	return r
}

// queryRows runs query on the DuckDB file db and returns its rows.
func queryRows(t *testing.T, db, query string) [][]any {
	t.Helper()
	d, err := store.OpenReadOnly(db)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	conn, err := d.SQL().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return scanRows(t, conn, query)
}

func scanRows(t *testing.T, conn *sql.Conn, query string) [][]any {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
