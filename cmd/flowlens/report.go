package main

import (
	"context"
	"fmt"

	"github.com/flowlens/flowlens/pkg/report"
)

type reportConfig struct {
	opts     report.Options
	out, dot string
}

func reportCommand() *command {
	return &command{
		name:    "report",
		summary: "write the results as one self-contained HTML page for people (and the group graph as Graphviz DOT)",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg reportConfig
			fs := newFlagSet(env, "report", "report [--db FILE] --out FILE.html [--dot FILE.dot] [--top N]\n\n"+
				"Reads the results of 'flowlens analyze' (read-only) and writes one HTML file that needs nothing else,\n"+
				"no network and no script: the model's agreement with the log, REJECTs over time by layer and cause, the\n"+
				"top rejected ports and peers, who talks to whom (security groups and external networks), over-broad and\n"+
				"unused rules, and the summaries of 'flowlens audit' and 'flowlens recommend' when the file has them.\n"+
				"Lists show the top N and say what they leave out. With --dot, the who-talks-to-whom graph is also\n"+
				"written as Graphviz DOT. The page holds no time of its own making: the same file gives the same page.\n\n"+
				"Exit status: 0 written, 1 error (a file without analyze results says what to run), 2 usage.",
				"# the page for the sample, opened in a browser",
				"flowlens analyze --topology samples/shop/topology --db shop.duckdb samples/shop/flowlogs",
				"flowlens report --db shop.duckdb --out shop.html && xdg-open shop.html",
				"# longer lists, and the group graph as SVG through Graphviz",
				"flowlens report --db day.duckdb --out day.html --top 50 --dot day.dot && dot -Tsvg day.dot > day.svg")
			fs.StringVar(&cfg.opts.DB, "db", DefaultDB, "DuckDB `FILE` written by flowlens analyze (only read)")
			fs.StringVar(&cfg.out, "out", "", "write the page to `FILE` (required; replaced if it exists)")
			fs.StringVar(&cfg.dot, "dot", "", "also write the who-talks-to-whom graph as Graphviz DOT to `FILE`")
			fs.IntVar(&cfg.opts.Top, "top", report.DefaultTop, "rows per list (ports, peers, pairs, rules): the top `N`")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			switch {
			case fs.NArg() > 0:
				return usageErrorf("unexpected arguments %q (the results come from --db)", fs.Args())
			case cfg.out == "":
				return usageErrorf("--out FILE is required (the HTML page to write)")
			case cfg.opts.DB == "":
				return usageErrorf("--db must name a file")
			case cfg.opts.Top < 1:
				return usageErrorf("--top %d: want 1 or more", cfg.opts.Top)
			case cfg.dot != "" && cfg.dot == cfg.out:
				return usageErrorf("--dot and --out name the same file")
			}
			return runReport(ctx, env, cfg)
		},
	}
}

func runReport(ctx context.Context, env *cmdEnv, cfg reportConfig) error {
	r, err := report.WriteFiles(ctx, cfg.opts, cfg.out, cfg.dot)
	if err != nil {
		return err
	}
	o := r.Overview
	fmt.Fprintf(env.stdout, "wrote %s: %s records, model agrees on %.2f%% of %s compared, %s REJECTs charted\n",
		cfg.out, humanCount(o.Records), 100*o.Agreement, humanCount(o.Compared), humanCount(r.Timeline.Records))
	if cfg.dot != "" {
		fmt.Fprintf(env.stdout, "wrote %s: %d of %s pairs\n", cfg.dot, len(r.Edges.Rows), humanCount(r.Edges.Edges))
	}
	return nil
}
