package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flowlens/flowlens/pkg/export"
)

type exportConfig struct {
	db, dir   string
	overwrite bool
	output    string
}

func exportCommand() *command {
	return &command{
		name:    "export",
		summary: "write the results as Hive-partitioned Parquet (date/hour, and shard) with the Athena DDL",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg exportConfig
			fs := newFlagSet(env, "export", "export [--db FILE] --parquet DIR [--overwrite]\n\n"+
				"Writes the results of 'flowlens analyze' as Parquet that Athena, Trino, Spark and DuckDB read as they\n"+
				"are: DIR/flows/[shard=I/]date=YYYY-MM-DD/hour=HH/*.parquet (by the UTC date and hour of start, and the\n"+
				"shard of an analyze --shard run), DIR/rule_hits/, DIR/ingest_errors/ and DIR/topology_*/ one file each,\n"+
				"and DIR/athena.sql, the CREATE EXTERNAL TABLE statements that read them once DIR is copied to S3.\n"+
				"flowlens itself never touches the network. See docs/sharding.md for running shards on many machines.",
				"# export, then query it with DuckDB",
				"flowlens export --db flowlens.duckdb --parquet out/",
				"duckdb -c \"SELECT verdict_cause, count(*) FROM read_parquet('out/flows/**/*.parquet', hive_partitioning = true) GROUP BY ALL\"",
				"# copy to S3 for Athena (then run out/athena.sql with your bucket)",
				"aws s3 cp --recursive out/ s3://my-bucket/flowlens/")
			fs.StringVar(&cfg.db, "db", DefaultDB, "DuckDB `FILE` written by flowlens analyze (or ingest --db)")
			fs.StringVar(&cfg.dir, "parquet", "", "output `DIR` (required); created, or empty, unless --overwrite")
			fs.BoolVar(&cfg.overwrite, "overwrite", false, "write into a DIR that is not empty, replacing athena.sql and the tables' directories (other entries are kept)")
			fs.StringVarP(&cfg.output, "output", "o", "table", "summary `FORMAT`: table or json")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			switch {
			case fs.NArg() > 0:
				return usageErrorf("unexpected arguments %q (see --help)", fs.Args())
			case cfg.dir == "":
				return usageErrorf("--parquet DIR is required")
			case cfg.output != "table" && cfg.output != "json":
				return usageErrorf("-o %q: want table or json", cfg.output)
			}
			if _, err := os.Stat(cfg.db); err != nil {
				return fmt.Errorf("--db %s: %w", cfg.db, err)
			}
			return runExport(ctx, env, cfg)
		},
	}
}

func runExport(ctx context.Context, env *cmdEnv, cfg exportConfig) error {
	rep, err := export.Run(ctx, export.Options{DB: cfg.db, Dir: cfg.dir, Overwrite: cfg.overwrite})
	var exists *export.ExistsError
	if errors.As(err, &exists) {
		return usageErrorf("--parquet %v", exists)
	}
	if err != nil {
		return err
	}
	if cfg.output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeExportSummary(env.stdout, cfg.db, rep)
	return nil
}

func writeExportSummary(w io.Writer, db string, rep *export.Report) {
	shard := ""
	if rep.Shard != "" {
		shard = ", shard " + rep.Shard
	}
	fmt.Fprintf(w, "exported %s to %s (run %s%s):\n", db, rep.Dir, rep.Run, shard)
	for _, t := range rep.Tables {
		fmt.Fprintf(w, "  %-26s %10s rows  %3d columns  %4d partitions  %s/\n", t.Name, humanCount(t.Rows), t.Columns,
			t.Partitions, t.Path)
	}
	fmt.Fprintf(w, "  %-26s CREATE EXTERNAL TABLE for each (replace %s with where you copy %s)\n",
		export.AthenaFile, export.Location, rep.Dir)
}
