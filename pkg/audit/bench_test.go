package audit

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// BenchmarkAggregatorAdd: the Aggregator's per-record path over a chained replay's batches of 4,096 rows,
// 1% of them would-break (grouped), the rest still allowed (counted only), verdicts already known.
func BenchmarkAggregatorAdd(b *testing.B) {
	mem := memory.NewGoAllocator()
	model, err := vpc.LoadPaths("../../samples/shop/topology")
	if err != nil {
		b.Fatal(err)
	}
	base := []Verdict{{Action: accept, Agrees: "true", Role: "request", SGRule: "sg-0a1b2c3d4e5f63001/ingress/0"}}
	cand := []Verdict{
		{Action: accept, Role: "request", SGRule: "sg-0a1b2c3d4e5f63001/ingress/0"},
		{Action: reject, Role: "request", Layer: "sg-inbound", Rule: "implicit-deny", Resource: "sg-0a1b2c3d4e5f63001", Cause: "ingress-restricted"},
	}
	const n = 4096
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{iface: "eni-0e9ef431b1d115683", src: fmt.Sprintf("198.18.%d.%d", i/256%256, i%256), dst: "10.20.1.10",
			sport: 40000 + int64(i), dport: 443, proto: 6, packets: 10, bytes: 1000, start: 1000, end: 1060, line: int64(i + 1)}
		if i%100 == 0 {
			rows[i].candID = 1
		}
	}
	rec := flowRecord(mem, rows)
	defer rec.Release()
	a := NewAggregator(model, func() arrow.Record { return verdictTable(mem, base) }, func() arrow.Record { return verdictTable(mem, cand) })
	if err := a.Add(rec); err != nil { // reads the verdict tables
		b.Fatal(err)
	}
	if err := a.flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := a.Add(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds()/1e6, "Mrows/s")
}
