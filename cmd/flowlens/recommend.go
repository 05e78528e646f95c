package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/flowlens/flowlens/pkg/pipeline"
	"github.com/flowlens/flowlens/pkg/recommend"
	"github.com/flowlens/flowlens/pkg/store"
)

func recommendCommand() *command {
	return &command{
		name:    "recommend",
		summary: "propose least-privilege security-group rules and NACL entries from the recorded traffic",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg pipeline.RecommendConfig
			var out, since, until, output string
			fs := newFlagSet(env, "recommend", "recommend [--db FILE] --out DIR [flags]\n\n"+
				"Reads the results an earlier analyze stored in the DuckDB file (its topology, rebuilt from topology_files,\n"+
				"its flows and rule_hits), learns from the requests the log ACCEPTED (replies need no security-group rule)\n"+
				"and proposes for every security group and NACL the smallest rule set that still allows them, each rule\n"+
				"with its evidence. Writes into DIR: "+pipeline.RecommendSGFile+" and "+pipeline.RecommendNACLFile+" (AWS CLI\n"+
				"describe-* JSON: they load back with flowlens topology and are a policy for flowlens audit),\n"+
				pipeline.RecommendReportFile+" (current vs proposed rules, findings, unproven rules, exposure, learning rate),\n"+
				pipeline.RecommendTFFile+" (Terraform: one aws_vpc_security_group_ingress_rule / _egress_rule per peer and port\n"+
				"range, aws_network_acl_rule per entry, evidence in descriptions and comments, import commands) and\n"+
				pipeline.RecommendApplyFile+" (the AWS CLI commands from the current rules to the proposed ones, adding before\n"+
				"removing so that nothing is closed before its replacement is open; a dry run that only prints them\n"+
				"unless run with DRY_RUN=0).\n\n"+
				"The recommendation is also stored in the DuckDB file (tables recommend_summary, recommend_rules,\n"+
				"recommend_findings; a later recommend replaces them) for flowlens sql and flowlens report.\n\n"+
				"Exit status: 0 done, 1 error, 2 usage.",
				"# recommend from everything analyze stored, then check the proposal against the same traffic",
				"flowlens recommend --db flowlens.duckdb --out recommended/ && flowlens audit --db flowlens.duckdb --policy recommended/",
				"# learn from the first days only (then audit --since on the rest); the proposal as JSON",
				"flowlens recommend --db flows.duckdb --out recommended/ --until 2026-11-20 -o json > recommendation.json")
			fs.StringVar(&cfg.DB, "db", DefaultDB, "DuckDB `FILE` written by analyze (the recommend_* tables are added to it)")
			fs.StringVar(&out, "out", "", "write the proposal into `DIR` (created if missing; required)")
			fs.StringVar(&since, "since", "", "learn from the records starting at or after `TIME` (RFC 3339, YYYY-MM-DD, or Unix seconds)")
			fs.StringVar(&until, "until", "", "learn from the records starting before `TIME`")
			fs.StringVarP(&output, "output", "o", "table", "stdout `FORMAT`: table (a summary) or json (the whole recommendation)")
			var dropDenies bool
			fs.BoolVar(&dropDenies, "drop-current-denies", false, "leave out the current NACL deny entries that only ever rejected traffic (kept by default, ahead of the allows; a finding names each one dropped)")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			var err error
			switch {
			case fs.NArg() > 0:
				return usageErrorf("unexpected arguments %q (the flows come from --db)", fs.Args())
			case out == "":
				return usageErrorf("--out is required (the directory to write the proposal into)")
			case cfg.DB == "":
				return usageErrorf("--db must name a file")
			case output != "table" && output != "json":
				return usageErrorf("-o must be table or json, not %q", output)
			}
			if cfg.Since, cfg.Until, err = parseWindow(since, until); err != nil {
				return err
			}
			cfg.Run = store.Run{Command: commandLine("recommend", args), Started: time.Now()}
			cfg.Options = recommend.DefaultOptions()
			cfg.Options.DropCurrentDenies = dropDenies
			// --out first: a directory that cannot be made fails before the recommendation is stored in --db
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			res, err := pipeline.Recommend(ctx, cfg)
			if err != nil {
				return err
			}
			if err := pipeline.WriteRecommendation(out, res); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(env.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res.Recommendation)
			}
			s := res.Recommendation.Summarize()
			fmt.Fprintf(env.stdout, "security groups changed  %d of %d\n", s.GroupsChanged, s.Groups)
			fmt.Fprintf(env.stdout, "rules proposed           %d (%d unproven, left for a human)\n", s.RulesProposed, s.Unproven)
			fmt.Fprintf(env.stdout, "NACLs changed            %d of %d (%d entries proposed)\n", s.NACLsChanged, s.NACLs, s.EntriesPropose)
			fmt.Fprintf(env.stdout, "findings                 %d (%d scanners)\n", s.Findings, s.Scanners)
			fmt.Fprintf(env.stdout, "exposure cut (IPv4)      %.2f%%\n", 100*s.ExposureCutV4)
			fmt.Fprintf(env.stdout, "\nwrote %s/{%s,%s,%s,%s,%s}; check it with\n  flowlens audit --db %s --policy %s\n"+
				"then apply it with %s/%s (a dry run unless DRY_RUN=0) or Terraform (%s/%s)\n", out,
				pipeline.RecommendSGFile, pipeline.RecommendNACLFile, pipeline.RecommendReportFile, pipeline.RecommendTFFile,
				pipeline.RecommendApplyFile, cfg.DB, out, out, pipeline.RecommendApplyFile, out, pipeline.RecommendTFFile)
			return nil
		},
	}
}
