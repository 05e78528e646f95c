package report

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/flowlens/flowlens/internal/cputime"
	"github.com/flowlens/flowlens/pkg/store"
)

// BenchmarkReport times the report of a file that flowlens analyze wrote, named by FLOWLENS_BENCH_DB (skipped
// without it): bash bench/run.sh writes /tmp/flowlens-bench/analyze.duckdb from 10M records. "build" is Build
// (every query), each section's sub-benchmark its one query, "html" and "dot" the rendering of the built
// report. It reports CPU seconds per operation too (cpu-s/op). The target (issue 12) is well under a few
// seconds for the whole report on 10M records:
//
//	FLOWLENS_BENCH_DB=/tmp/flowlens-bench/analyze.duckdb go test -run '^$' -bench Report -benchtime 3x ./pkg/report
func BenchmarkReport(b *testing.B) {
	path := os.Getenv("FLOWLENS_BENCH_DB")
	if path == "" {
		b.Skip("FLOWLENS_BENCH_DB names no analyzed DuckDB file")
	}
	ctx := context.Background()
	var r *Report
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b, cputime.Process())
		for range b.N {
			var err error
			if r, err = Build(ctx, Options{DB: path}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(r.Overview.Records), "records")
	})
	if r == nil {
		return
	}
	d, err := store.OpenReadOnly(path)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	q := &querier{db: d.SQL(), top: DefaultTop}
	for _, s := range []struct {
		name string
		fn   func(context.Context, *Report) error
	}{
		{"overview", q.overview}, {"timeline", q.timeline}, {"ports", q.ports}, {"peers", q.peers}, {"edges", q.edges},
		{"unused", q.unused}, {"broad", q.broad},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b, cputime.Process())
			for range b.N {
				x := &Report{Overview: r.Overview} // the timeline's buckets come from the overview's window
				if err := s.fn(ctx, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("html", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := WriteHTML(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dot", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := WriteDOT(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the process's CPU time per operation since start (cpu-s/op): on a shared machine, wall
// time alone overstates what a query costs.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric((cputime.Process()-start).Seconds()/float64(b.N), "cpu-s/op")
}
