package pipeline

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// flowsPrefetch is how many records ingest and analyze prepare ahead of DuckDB.
const flowsPrefetch = 4

// stage is a step between ingest and the store: it passes the flow records on with columns added (out) and
// writes tables beside them that are complete once out is drained. A replay is one (replayStage); an audit
// would replay the same records through a second policy as another.
type stage struct {
	out    array.RecordReader
	tables []store.Table     // written after the records, before the flows view
	dims   []store.Dimension // which of tables the flows view looks up, by which key column of out
	// release releases out and the tables' readers, after the write.
	release func()
}

// replayStage replays in through model: the stage's out is rp, in's records plus verdict_id; its tables are
// verdicts (which the flows view looks up by verdict_id) and rule_hits. rp's Summary is complete once out is
// drained.
func replayStage(ctx context.Context, model *vpc.Model, cfg replay.Config, in array.RecordReader, mem memory.Allocator) (rp *replay.Reader, s *stage, err error) {
	rp, err = replay.NewReader(ctx, model, in, cfg, mem)
	if err != nil {
		return nil, nil, err
	}
	verdicts := arrowutil.Lazy(rp.VerdictSchema(), rp.Verdicts)
	hits := arrowutil.Lazy(results.RuleHitsSchema, func() arrow.Record { return results.RuleHits(mem, rp.RuleHits()) })
	var verdictCols []string
	for _, f := range rp.VerdictSchema().Fields()[1:] {
		verdictCols = append(verdictCols, f.Name)
	}
	return rp, &stage{
		out: rp,
		tables: []store.Table{
			{Name: flowschema.VerdictsTable, Reader: verdicts},
			{Name: flowschema.RuleHitsTable, Reader: hits},
		},
		dims: []store.Dimension{{Table: flowschema.VerdictsTable, Key: flowschema.ColVerdictID, Columns: verdictCols}},
		release: func() {
			hits.Release()
			verdicts.Release()
			rp.Release()
		},
	}, nil
}

// writeFlows writes the records of src, without their IPv4 numbers (flowschema.IsIPv4Col), as the flows
// tables (flowsTables) with the stage's tables and dims, then the extra tables, to the DuckDB file path in one
// store.WriteRun. views, when not nil, returns views to create last, given how the flows are stored. It does
// not release src or the tables' readers, and it returns once nothing reads src any more.
func writeFlows(ctx context.Context, path string, run store.Run, mem memory.Allocator, src array.RecordReader,
	tables []store.Table, dims []store.Dimension, views func(results.FlowLayout) []store.Table, extra ...store.Table) error {
	stored := arrowutil.Without(src, func(f arrow.Field) bool { return flowschema.IsIPv4Col(f.Name) })
	defer stored.Release()
	all, layout, release, err := flowsTables(stored, mem, dims, tables)
	if err != nil {
		return err
	}
	defer release() // stops the goroutine reading src
	all = append(all, extra...)
	if views != nil {
		all = append(all, views(layout)...)
	}
	return store.WriteRun(ctx, path, run, all...)
}

// flowsTables returns the tables that store the records of src as flows: flow_records (the records, repeating
// strings as ids), flow_strings, the dimensions' tables (dimTables, complete once the records are read) and the
// flows view that looks it all up (see flowschema.FlowsView). The records are prepared on their own goroutine,
// not in DuckDB's scan. layout says which columns are stored as ids. release frees what the tables read and
// stops that goroutine; call it after the write.
func flowsTables(src array.RecordReader, mem memory.Allocator, dims []store.Dimension, dimTables []store.Table) (tables []store.Table, layout results.FlowLayout, release func(), err error) {
	recs, err := store.InternStrings(src, mem)
	if err != nil {
		return nil, layout, nil, err
	}
	layout.IDs = map[string]string{}
	for _, c := range recs.InternedColumns() {
		layout.IDs[c] = store.InternedColumn(c)
	}
	ahead := arrowutil.Prefetch(recs, flowsPrefetch)          // takes recs' reference
	recs.Retain()                                             // kept for Strings and Query
	strs := arrowutil.Lazy(store.StringsSchema, recs.Strings) // complete once flow_records is written
	tables = append([]store.Table{
		{Name: flowschema.FlowRecordsTable, Reader: ahead},
		{Name: flowschema.FlowStringsTable, Reader: strs},
	}, dimTables...)
	tables = append(tables, store.Table{Name: flowschema.FlowsView,
		Query: recs.Query(flowschema.FlowRecordsTable, flowschema.FlowStringsTable, dims...)})
	return tables, layout, func() {
		strs.Release()
		ahead.Release()
		recs.Release()
	}, nil
}
