// Package pipeline wires flowlens's stages into the runs its commands make: ingest -> replay -> store (Analyze)
// and ingest -> store or Parquet (Ingest). It owns the readers that connect the stages and releases them; a
// command builds a configuration, makes one call and prints the report.
package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// TopN is how many peers and ports AnalyzeReport lists.
const TopN = 10

// ProgressInterval is how often Analyze and Ingest call their Progress function.
const ProgressInterval = 500 * time.Millisecond

// AnalyzeConfig is one analyze run.
type AnalyzeConfig struct {
	// Model is the VPC the records are replayed through, already loaded (and its findings reported).
	Model *vpc.Model
	// Paths are the flow logs: files, directories, glob patterns, "-" for Ingest.Stdin.
	Paths []string
	// Ingest configures the parser (LogFormat, Workers, Stdin, ...). Analyze turns IPv4Numbers on.
	Ingest ingest.Options
	// Replay configures the replay engine.
	Replay replay.Config
	// DB is the DuckDB file written; the tables Analyze writes are replaced atomically (store.WriteRun).
	DB string
	// Run is recorded in flowlens_runs. Run.Started is also where AnalyzeReport.Elapsed starts (zero: now).
	Run store.Run
	// Progress, if not nil, is called every ProgressInterval, from another goroutine, with the records parsed
	// and the bytes read so far, until the write is over; never after Analyze returns.
	Progress func(records, bytes int64)
	// Shard, if set, keeps only the records of the interfaces in that shard (the others are left out before the
	// replay) and records it in flowschema.ShardTable; the zero Spec judges every record.
	Shard shard.Spec
}

// AnalyzeReport is what an analyze run found.
type AnalyzeReport struct {
	Ingest ingest.Stats
	Replay replay.Summary
	// TopRejectedPeers and TopRejectedPorts are read back from the written file: at most TopN of each
	// (results.TopRejectedPeers, results.TopRejectedPorts); nil when nothing was rejected.
	TopRejectedPeers, TopRejectedPorts []results.Count
	// Elapsed runs from Run.Started to the end of the write.
	Elapsed time.Duration
	// Topology counts what the model holds.
	Topology TopologyCounts
	// Shard is AnalyzeConfig.Shard; ShardSkipped counts the records left out because their interface is in
	// another shard (Ingest.Records - ShardSkipped were replayed).
	Shard        shard.Spec
	ShardSkipped int64
}

// TopologyCounts counts the objects of a loaded VPC model.
type TopologyCounts struct {
	VPCs, Subnets, NACLs, Groups, ENIs int
}

// Analyze ingests cfg.Paths, replays the records through cfg.Model and writes to cfg.DB, in one atomic write:
// the records with their verdicts (flows, a view over flow_records, flow_strings and verdicts), rule_hits,
// ingest_errors, the topology_* tables, what a later audit needs (topology_files, replay_settings) and the
// documented views (results.Views). It then reads the top rejected peers and ports back from the file.
// Nothing is written when it fails with errors.Is(err, store.ErrNotWritten) or before the write (an error
// that is not a *store.WrittenError); a *store.WrittenError says the file is complete. The records are read once, batch by batch: no batch is copied, and the
// IPv4 numbers the parser makes for the replay are dropped before the write.
func Analyze(ctx context.Context, cfg AnalyzeConfig) (*AnalyzeReport, error) {
	if cfg.Run.Started.IsZero() {
		cfg.Run.Started = time.Now()
	}
	mem := memory.DefaultAllocator
	// The parser hands the replay the IPv4 addresses as numbers too, so that the replay does not parse their
	// text again; writeFlows drops them.
	opts := cfg.Ingest
	opts.IPv4Numbers = true
	in, err := ingest.NewReader(ctx, cfg.Paths, opts)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	var src array.RecordReader = in
	var sharded *shardFilter
	if cfg.Shard.Sharded() {
		sharded = newShardFilter(ctx, in, cfg.Shard, mem)
		defer sharded.Release()
		src = sharded
	}
	rp, replayed, err := replayStage(ctx, cfg.Model, cfg.Replay, src, mem)
	if err != nil {
		return nil, err
	}
	defer replayed.release()
	stopProgress := watchProgress(cfg.Progress, in.Progress)
	errs := in.ErrorsRecordReader(mem)
	defer errs.Release()
	extra := []store.Table{{Name: flowschema.IngestErrorsTable, Reader: errs}}
	shardTabs, releaseShard := shardTables(cfg.Shard, mem)
	defer releaseShard()
	extra = append(extra, shardTabs...)
	for _, t := range results.Topology(mem, cfg.Model) {
		r := results.Reader(t.Record)
		defer r.Release()
		extra = append(extra, store.Table{Name: t.Name, Reader: r})
	}
	rerun, releaseRerun := rerunTables(mem, cfg.Model, cfg.Replay)
	defer releaseRerun()
	extra = append(extra, rerun...)
	extra = append(extra, dropRunTables()...) // an audit or recommend of earlier flows
	views := func(l results.FlowLayout) []store.Table { return viewTables(l, false) }
	err = writeFlows(ctx, cfg.DB, cfg.Run, mem, replayed.out, replayed.tables, replayed.dims, views, extra...)
	stopProgress()
	if err != nil {
		return nil, err
	}
	m := cfg.Model
	rep := &AnalyzeReport{Ingest: in.Stats(), Replay: rp.Summary(), Elapsed: time.Since(cfg.Run.Started),
		Topology: TopologyCounts{VPCs: len(m.VPCs), Subnets: len(m.Subnets), NACLs: len(m.NACLs), Groups: len(m.Groups),
			ENIs: len(m.ENIs)}, Shard: cfg.Shard}
	if sharded != nil {
		rep.ShardSkipped = sharded.skipped
	}
	if err := topRejected(ctx, cfg.DB, rep); err != nil {
		// The file is complete (an interruption now lands here): say so.
		return nil, &store.WrittenError{Path: cfg.DB, Err: err}
	}
	return rep, nil
}

// rerunTables are what a later audit needs besides the flows (topology_files, replay_settings; a model with no
// input files drops an older topology_files), and the drops of an earlier audit's tables, which described
// other flows. release releases their readers, after the write.
func rerunTables(mem memory.Allocator, m *vpc.Model, cfg replay.Config) (tables []store.Table, release func()) {
	var readers []array.RecordReader
	add := func(t results.Table) {
		r := results.Reader(t.Record)
		readers = append(readers, r)
		tables = append(tables, store.Table{Name: t.Name, Reader: r})
	}
	add(results.ReplaySettings(mem, cfg))
	if files, ok := results.TopologyFiles(mem, m); ok {
		add(files)
	} else {
		tables = append(tables, store.Table{Name: flowschema.TopologyFilesTable, Drop: true})
	}
	return tables, func() {
		for _, r := range readers {
			r.Release()
		}
	}
}

// viewTables returns the documented views (results.Views) of a file whose flows are stored as l, to write
// after the tables, created in the file so that any DuckDB client sees them; with dropVerdicts, only drops of
// those that read the replay's columns (ingest --db, which removes an earlier analyze's verdicts).
func viewTables(l results.FlowLayout, dropVerdicts bool) []store.Table {
	var ts []store.Table
	for _, v := range results.Views(l) {
		switch {
		case !dropVerdicts:
			ts = append(ts, store.Table{Name: v.Name, Query: v.Query})
		case v.Verdicts:
			ts = append(ts, store.Table{Name: v.Name, Drop: true})
		}
	}
	return ts
}

// dropRunTables removes what an audit or a recommend wrote (their tables and views): a run that writes new
// flows makes them describe records the file no longer holds.
func dropRunTables() []store.Table {
	var ts []store.Table
	for _, name := range []string{flowschema.AuditSummaryTable, flowschema.AuditVerdictsTable, flowschema.AuditGroupsTable,
		flowschema.AuditRecordsTable, flowschema.RecommendSummaryTable, flowschema.RecommendRulesTable,
		flowschema.RecommendFindingsTable} {
		ts = append(ts, store.Table{Name: name, Drop: true})
	}
	for _, v := range append(results.AuditViews(), results.RecommendViews()...) {
		ts = append(ts, store.Table{Name: v.Name, Drop: true})
	}
	return ts
}

// topRejected asks the written file for the most rejected peers and destination ports.
func topRejected(ctx context.Context, path string, rep *AnalyzeReport) error {
	db, err := store.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if rep.TopRejectedPeers, err = results.TopRejectedPeers(ctx, db.SQL(), TopN); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if rep.TopRejectedPorts, err = results.TopRejectedPorts(ctx, db.SQL(), TopN); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// watchProgress calls progress (if not nil) with what read returns (an ingest.Reader's Progress) every
// ProgressInterval until the returned function is called; that function returns once progress is no longer
// being called.
func watchProgress(progress func(records, bytes int64), read func() (records, bytes int64)) (stop func()) {
	if progress == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				progress(read())
			}
		}
	}()
	return func() { close(quit); <-done }
}
