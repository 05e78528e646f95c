package replay

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/vpc"
)

const v2Header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"

// loadModel loads testdata/topology.json through vpc.Load.
func loadModel(t testing.TB) *vpc.Model {
	t.Helper()
	b, err := os.ReadFile("testdata/topology.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := vpc.Load(map[string][]byte{"topology.json": b})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Findings {
		if f.Severity == vpc.Fatal {
			t.Fatalf("topology: %v", f.Error())
		}
	}
	return m
}

var int32Cols = map[string]bool{"version": true, "srcport": true, "dstport": true, "protocol": true, "tcp_flags": true, "traffic_path": true}
var int64Cols = map[string]bool{"packets": true, "bytes": true, "start": true, "end": true}

// flowsSchema is the ingest schema (docs/flows-schema.md) of a text header.
func flowsSchema(header string) *arrow.Schema {
	var fields []arrow.Field
	for _, h := range strings.Fields(header) {
		name := strings.ReplaceAll(h, "-", "_")
		typ := arrow.DataType(arrow.BinaryTypes.String)
		switch {
		case int32Cols[name]:
			typ = arrow.PrimitiveTypes.Int32
		case int64Cols[name]:
			typ = arrow.PrimitiveTypes.Int64
		}
		fields = append(fields, arrow.Field{Name: name, Type: typ, Nullable: true})
	}
	fields = append(fields,
		arrow.Field{Name: "source_file", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "source_line", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	return arrow.NewSchema(fields, nil)
}

// textFlows turns flow-log text lines (fields in header order, '-' = NULL) into an Arrow reader with
// batches of at most batch rows, as the ingest stage would.
func textFlows(t testing.TB, mem memory.Allocator, header string, lines []string, batch int) array.RecordReader {
	t.Helper()
	sc := flowsSchema(header)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	var recs []arrow.Record
	nf := len(sc.Fields()) - 2
	for i, line := range lines {
		vals := strings.Fields(line)
		if len(vals) != nf {
			t.Fatalf("line %d: %d fields, header has %d", i+1, len(vals), nf)
		}
		for j, v := range vals {
			switch fb := b.Field(j).(type) {
			case *array.StringBuilder:
				if v == "-" {
					fb.AppendNull()
				} else {
					fb.Append(v)
				}
			case *array.Int32Builder:
				n, err := strconv.ParseInt(v, 10, 32)
				if v == "-" || err != nil {
					fb.AppendNull()
				} else {
					fb.Append(int32(n))
				}
			case *array.Int64Builder:
				n, err := strconv.ParseInt(v, 10, 64)
				if v == "-" || err != nil {
					fb.AppendNull()
				} else {
					fb.Append(n)
				}
			}
		}
		b.Field(nf).(*array.StringBuilder).Append("test.log")
		b.Field(nf + 1).(*array.Int64Builder).Append(int64(i + 2))
		if (i+1)%batch == 0 || i == len(lines)-1 {
			recs = append(recs, b.NewRecord())
		}
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

// verdictIDs is the verdict_id column of a Reader's output record.
func verdictIDs(rec arrow.Record) *array.Uint32 {
	return rec.Column(rec.Schema().FieldIndices(flowschema.ColVerdictID)[0]).(*array.Uint32)
}

// verdictText returns, per output row of r (drained by the caller through next), the verdict table's columns
// as text ("" for NULL, which no verdict text is), in verdictFields order.
func verdictText(t testing.TB, r *Reader) [][]string {
	t.Helper()
	var ids []uint32
	for r.Next() {
		ids = append(ids, verdictIDs(r.Record()).Uint32Values()...)
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	vt := r.Verdicts()
	defer vt.Release()
	if got := vt.Schema().Field(0).Name; got != flowschema.ColVerdictID {
		t.Fatalf("verdict table's first column is %q, want %q", got, flowschema.ColVerdictID)
	}
	out := make([][]string, len(ids))
	for j, id := range ids {
		if got := vt.Column(0).(*array.Uint32).Value(int(id)); got != id {
			t.Fatalf("verdict table row %d has verdict_id %d", id, got)
		}
		for _, f := range verdictFields {
			c := vt.Column(vt.Schema().FieldIndices(f.Name)[0])
			out[j] = append(out[j], cell(c, int(id)))
		}
	}
	return out
}

// verdictField is the index of the verdict column name in verdictFields (and in verdictText's rows).
func verdictField(name string) int {
	for i, f := range verdictFields {
		if f.Name == name {
			return i
		}
	}
	panic("no verdict column " + name)
}

// row is one output row's verdict columns as text ("" = NULL).
type row struct {
	Dir, Action, Agrees, Layer, Rule, Resource, Also, Cause, NACL, NACLRule, SG, Role, Init string
}

func cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	}
	return a.ValueStr(i)
}

// verdictRow is row i of a verdict table as text.
func verdictRow(vt arrow.Record, i int) row {
	col := func(name string) string { return cell(vt.Column(vt.Schema().FieldIndices(name)[0]), i) }
	return row{
		Dir: col(flowschema.ColDirection), Action: col(flowschema.ColModelAction), Agrees: col(flowschema.ColModelAgrees),
		Layer: col(flowschema.ColVerdictLayer), Rule: col(flowschema.ColVerdictRule), Resource: col(flowschema.ColVerdictResource),
		Also: col(flowschema.ColVerdictAlso), Cause: col(flowschema.ColVerdictCause), NACL: col(flowschema.ColNACLID),
		NACLRule: col(flowschema.ColNACLRule), SG: col(flowschema.ColSGRule), Role: col(flowschema.ColFlowRole),
		Init: col(flowschema.ColInitiator),
	}
}

// replayText runs lines through a Reader and returns the verdict rows, the summary and the rule hits.
func replayText(t testing.TB, model *vpc.Model, cfg Config, header string, lines []string, batch int) ([]row, Summary, []RuleHit) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	if tt, ok := t.(*testing.T); ok {
		defer mem.AssertSize(tt, 0)
	}
	in := textFlows(t, mem, header, lines, batch)
	r, err := NewReader(context.Background(), model, in, cfg, mem)
	in.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var ids []uint32
	var lineCol []int64
	for r.Next() {
		rec := r.Record()
		ids = append(ids, verdictIDs(rec).Uint32Values()...)
		lineCol = append(lineCol, rec.Column(rec.Schema().FieldIndices("source_line")[0]).(*array.Int64).Int64Values()...)
	}
	vt := r.Verdicts()
	defer vt.Release()
	var rows []row
	for _, id := range ids {
		rows = append(rows, verdictRow(vt, int(id)))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for i, l := range lineCol {
		if l != int64(i+2) {
			t.Fatalf("output row %d has source_line %d: row order not kept", i, l)
		}
	}
	return rows, r.Summary(), r.RuleHits()
}
