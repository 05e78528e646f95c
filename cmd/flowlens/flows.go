package main

import (
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/arrowutil"
	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/store"
)

// flowsPrefetch is how many records ingest and analyze prepare ahead of DuckDB.
const flowsPrefetch = 4

// flowsTables returns the tables that store the records of src as flows: flow_records (the records, repeating
// strings as ids), flow_strings, each dimension's table (dimTables, which the caller fills after the records
// are read) and the flows view that looks it all up (see flowschema.FlowRecordsTable). The records are prepared
// on their own goroutine, not in DuckDB's scan. release frees what the tables read; call it after the write.
func flowsTables(src array.RecordReader, mem memory.Allocator, dims []store.Dimension, dimTables []store.Table) (tables []store.Table, release func(), err error) {
	recs, err := store.InternStrings(src, mem)
	if err != nil {
		return nil, nil, err
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
	return tables, func() {
		strs.Release()
		ahead.Release()
		recs.Release()
	}, nil
}
