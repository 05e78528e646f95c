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
	var rows []row
	var lineCol []int64
	for r.Next() {
		rec := r.Record()
		sc := rec.Schema()
		col := func(name string) arrow.Array { return rec.Column(sc.FieldIndices(name)[0]) }
		for i := 0; i < int(rec.NumRows()); i++ {
			rows = append(rows, row{
				Dir: cell(col(ColDirection), i), Action: cell(col(ColModelAction), i), Agrees: cell(col(ColModelAgrees), i),
				Layer: cell(col(ColVerdictLayer), i), Rule: cell(col(ColVerdictRule), i), Resource: cell(col(ColVerdictResource), i),
				Also: cell(col(ColVerdictAlso), i), Cause: cell(col(ColVerdictCause), i), NACL: cell(col(ColNACLID), i),
				NACLRule: cell(col(ColNACLRule), i), SG: cell(col(ColSGRule), i), Role: cell(col(ColFlowRole), i),
				Init: cell(col(ColInitiator), i),
			})
			lineCol = append(lineCol, col("source_line").(*array.Int64).Value(i))
		}
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
