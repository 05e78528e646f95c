package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flowlens/flowlens/internal/human"
	"github.com/flowlens/flowlens/pkg/ingest"
	"github.com/flowlens/flowlens/pkg/pipeline"
)

type ingestConfig struct {
	cmdline   string // the command as given, for flowlens_runs
	paths     []string
	logFormat string
	db        string
	parquet   string
	output    string
	strict    bool
	workers   int
}

func ingestCommand() *command {
	return &command{
		name:    "ingest",
		summary: "parse flow logs; print a summary, or write them to DuckDB (--db) or Parquet (--parquet)",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg ingestConfig
			fs := newFlagSet(env, "ingest", "ingest [flags] PATH...\n\n"+
				"PATH is a flow log file (text, gzip or Parquet, recognised by content), a directory (walked\n"+
				"recursively, S3 layouts included), a glob pattern, or - for standard input.",
				"# check a download of S3-delivered logs: counts, bad lines with file:line",
				"flowlens ingest AWSLogs/",
				"# keep the records for SQL, failing on any bad line",
				"flowlens ingest --strict --db flows.duckdb 'logs/*.log.gz'",
				"# convert to Parquet from stdin",
				"cat flows.log | flowlens ingest --parquet flows.parquet -")
			fs.StringVar(&cfg.logFormat, "log-format", "", "the flow log's LogFormat (`FORMAT`, e.g. '${version} ${account-id} ...') for headerless input (default: the version-2 format)")
			fs.StringVar(&cfg.db, "db", "", "write the records to this DuckDB `FILE` (flows and ingest_errors, replaced atomically)")
			fs.StringVar(&cfg.parquet, "parquet", "", "write the records to this Parquet `FILE`")
			fs.StringVarP(&cfg.output, "output", "o", "table", "summary `FORMAT`: table or json")
			fs.BoolVar(&cfg.strict, "strict", false, "exit with status 3 when any line is bad or any file stops early")
			fs.IntVar(&cfg.workers, "workers", 0, "`N` parse goroutines (default: one per core)")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			cfg.paths, cfg.cmdline = fs.Args(), commandLine("ingest", args)
			if len(cfg.paths) == 0 {
				return usageErrorf("no input: give flow log files, directories, globs or - for stdin (see --help)")
			}
			if cfg.output != "table" && cfg.output != "json" {
				return usageErrorf("-o %q: want table or json", cfg.output)
			}
			if err := checkOutputDir("--db", cfg.db); err != nil {
				return err
			}
			if err := checkOutputDir("--parquet", cfg.parquet); err != nil {
				return err
			}
			return runIngest(ctx, env, cfg)
		},
	}
}

func runIngest(ctx context.Context, env *cmdEnv, cfg ingestConfig) error {
	progress, clearProgress := progressLine(env)
	st, err := pipeline.Ingest(ctx, pipeline.IngestConfig{
		Paths:    cfg.paths,
		Ingest:   ingest.Options{LogFormat: cfg.logFormat, Workers: cfg.workers, Stdin: env.stdin},
		DB:       cfg.db,
		Parquet:  cfg.parquet,
		Run:      storeRun(env, "ingest", cfg.cmdline, time.Now()),
		Progress: progress,
	})
	clearProgress()
	if err != nil {
		return err
	}
	if cfg.output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		writeIngestSummary(env.stdout, st, cfg)
	}
	if cfg.strict && (st.BadLines > 0 || len(st.FileErrors) > 0) {
		return findingsErrorf("--strict: %d bad lines, %d files stopped early", st.BadLines, len(st.FileErrors))
	}
	return nil
}

// checkOutputDir fails early, naming the flag, when an output file's directory does not exist.
func checkOutputDir(flag, path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageErrorf("%s %s: directory %s does not exist", flag, path, dir)
	}
	return nil
}

func writeIngestSummary(w io.Writer, st ingest.Stats, cfg ingestConfig) {
	fmt.Fprintf(w, "ingested %s records from %d files in %s (%s records/s)\n",
		humanCount(st.Records), st.Files, st.Elapsed.Round(time.Millisecond), humanCount(int64(st.RecordsPerS)))
	fmt.Fprintf(w, "  lines       %s = %s records + %s header lines + %s bad lines\n",
		humanCount(st.Lines), humanCount(st.Records), humanCount(st.HeaderLines), humanCount(st.BadLines))
	fmt.Fprintf(w, "  versions    %s\n", countList(st.ByVersion))
	fmt.Fprintf(w, "  log status  %s\n", countList(st.ByLogStatus))
	fmt.Fprintf(w, "  action      %s\n", countList(st.ByAction))
	fmt.Fprintf(w, "  interfaces  %d\n", st.Interfaces)
	if st.FirstStart > 0 && st.LastEnd > 0 {
		a, b := st.FirstStart.Time(), st.LastEnd.Time()
		fmt.Fprintf(w, "  time span   %s .. %s (%s)\n", a.Format(time.RFC3339), b.Format(time.RFC3339), b.Sub(a))
	}
	writeSkipped(w, "  skipped     ", st.SkippedFiles)
	if st.ControlMessages > 0 {
		fmt.Fprintf(w, "  skipped     %d CloudWatch Logs control messages\n", st.ControlMessages)
	}
	for _, r := range st.Renamed {
		fmt.Fprintf(w, "  renamed     %s\n", r)
	}
	if st.BadLines > 0 {
		fmt.Fprintf(w, "bad lines: %s (%s)\n", humanCount(st.BadLines), countList(st.BadByReason))
		for _, e := range st.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
		if st.ErrorsKept < st.BadLines {
			fmt.Fprintf(w, "  (%d kept in detail, the counts are exact)\n", st.ErrorsKept)
		}
	}
	for _, e := range st.FileErrors {
		fmt.Fprintf(w, "file error: %s\n", e)
	}
	if st.SuspectLines > 0 {
		fmt.Fprintf(w, "suspect lines: %s from damaged gzip members are in the output; ingest_errors rows with reason %s give their ranges\n",
			humanCount(st.SuspectLines), ingest.ReasonCorruptMember)
	}
	switch {
	case cfg.db != "":
		fmt.Fprintf(w, "wrote flows (a view of flow_records and flow_strings) and ingest_errors to %s\n", cfg.db)
	case cfg.parquet != "":
		fmt.Fprintf(w, "wrote %s\n", cfg.parquet)
	}
}

// maxSkippedListed bounds the skipped files a summary lists (-o json lists them all).
const maxSkippedListed = 10

// writeSkipped lists the files of walked directories that were not read, and why.
func writeSkipped(w io.Writer, prefix string, skipped []ingest.SkippedFile) {
	if len(skipped) == 0 {
		return
	}
	fmt.Fprintf(w, "%s%d files under the input directories are not flow logs and were not read:\n", prefix, len(skipped))
	for i, s := range skipped {
		if i == maxSkippedListed {
			fmt.Fprintf(w, "    ... and %d more (-o json lists them all)\n", len(skipped)-i)
			break
		}
		fmt.Fprintf(w, "    %s\n", s)
	}
}

// countList renders a count map as "A: 1, B: 2", largest first.
func countList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var kvs []kv
	for k, v := range m {
		if v > 0 {
			kvs = append(kvs, kv{k, v})
		}
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].v != kvs[j].v {
			return kvs[i].v > kvs[j].v
		}
		return kvs[i].k < kvs[j].k
	})
	parts := make([]string, len(kvs))
	for i, e := range kvs {
		parts[i] = fmt.Sprintf("%s: %s", e.k, humanCount(e.v))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// humanCount renders n with thousands separators.
func humanCount(n int64) string { return human.Count(n) }

func humanBytes(n int64) string { return human.Bytes(n) }

// progressLine returns, when stderr is a terminal, a progress function that shows the records and bytes read
// so far on stderr, and a function that clears that line; otherwise nil and a no-op.
func progressLine(env *cmdEnv) (progress func(records, bytes int64), clearLine func()) {
	if !env.stderrIsTerminal {
		return nil, func() {}
	}
	progress = func(n, b int64) {
		fmt.Fprintf(env.stderr, "\r\033[K%s records, %s read", humanCount(n), humanBytes(b))
	}
	clearLine = func() { fmt.Fprint(env.stderr, "\r\033[K") }
	return progress, clearLine
}
