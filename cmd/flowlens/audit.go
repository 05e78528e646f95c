package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/audit"
	"github.com/flowlens/flowlens/pkg/pipeline"
	"github.com/flowlens/flowlens/pkg/store"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// exitGate is audit's status when would-break records exceed --fail-on: 1, like an error, so that a CI step
// fails on either; a completed audit has written its report, a failed one has not.
const exitGate = exitError

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "replay the recorded flows against a candidate policy: what would break, what would be newly allowed",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg pipeline.AuditConfig
			var since, until, output string
			fs := newFlagSet(env, "audit", "audit --db FILE (--policy PATH | --terraform-plan PLAN.json) [flags]\n\n"+
				"Replays the flows an earlier analyze stored in the DuckDB file twice in one pass: through the topology\n"+
				"that analyze loaded (stored as topology_files) and through a candidate, that topology with the security\n"+
				"groups and network ACLs of --policy (AWS CLI describe-security-groups, describe-security-group-rules,\n"+
				"describe-network-acls JSON; e.g. a hand-edited copy of the export) in place of those with the same id.\n"+
				"Both replays use analyze's replay settings and track the connections their own policy admits. Reports\n"+
				"the traffic that would break (accepted now, rejected by the candidate) and that would be newly allowed,\n"+
				"grouped by source -> destination : service with the rule that decides, coverage and exposure; writes\n"+
				"audit_summary, audit_verdicts, audit_groups and audit_records into the same file.\n"+
				"With --terraform-plan the candidate is that topology with a Terraform plan's security group, rule,\n"+
				"network ACL, NACL association and interface group changes applied (terraform show -json PLANFILE);\n"+
				"every group names the resource address that causes it; --strict fails on changes it cannot represent.\n\n"+
				"Exit status: 0 when would-break records are at most --fail-on, 1 when more (or on an error), 2 usage,\n"+
				"3 fatal findings in the candidate topology, or with --strict a plan change that cannot be represented.",
				"# audit a hand-edited copy of the current export",
				"flowlens audit --db flowlens.duckdb --policy policy/",
				"# a CI gate: SARIF for code scanning, fail when anything recorded in the last week would break",
				"flowlens audit --db flows.duckdb --policy policy/ --since 2026-11-13 -o sarif > audit.sarif",
				"# the policy is the whole truth: groups and NACLs it leaves out are removed; tolerate 10 broken records",
				"flowlens audit --db flows.duckdb --policy recommended/ --authoritative --fail-on 10 -o markdown",
				"# a Terraform change before it is applied; --strict: fail on any change the candidate cannot represent",
				"terraform show -json tfplan > plan.json && flowlens audit --db flows.duckdb --terraform-plan plan.json --strict")
			fs.StringVar(&cfg.DB, "db", DefaultDB, "DuckDB `FILE` written by analyze (the audit_* tables are written into it)")
			fs.StringVar(&cfg.TerraformPlan, "terraform-plan", "", "candidate from a Terraform plan: `PLAN.json` is terraform show -json output; its security group and network ACL changes are applied to the analyzed topology (instead of --policy)")
			fs.StringArrayVar(&cfg.Policy, "policy", nil, "candidate policy: AWS CLI JSON file or directory (`PATH`) of security groups, rules and network ACLs (repeatable; required)")
			fs.StringVar(&since, "since", "", "audit the records starting at or after `TIME` (RFC 3339, YYYY-MM-DD, or Unix seconds)")
			fs.StringVar(&until, "until", "", "audit the records starting before `TIME`")
			fs.Int64Var(&cfg.FailOn, "fail-on", 0, "exit with status 1 when more than `N` recorded records would break")
			fs.BoolVar(&cfg.Authoritative, "authoritative", false, "the policy holds every group (NACL) there is: remove the current ones it leaves out (each kind only when the policy has some)")
			fs.BoolVar(&cfg.Strict, "strict", false, "with --terraform-plan: exit with status 3, before replaying, when the plan has changes the candidate cannot represent (unresolved references, deletions AWS would refuse)")
			fs.BoolVar(&cfg.AllowFatal, "allow-fatal-topology", false, "audit even when the candidate has fatal topology findings")
			fs.BoolVar(&cfg.ReplayBaseline, "replay-baseline", false, "replay the current configuration too, even where analyze's stored verdicts are the same (the whole history, and the model agreed with the log on every record): slower, the same answer; a cross-check")
			fs.StringVarP(&output, "output", "o", "table", "report `FORMAT`: "+strings.Join(audit.Formats, ", "))
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			var err error
			switch {
			case fs.NArg() > 0:
				return usageErrorf("unexpected arguments %q (the flows come from --db)", fs.Args())
			case len(cfg.Policy) == 0 && cfg.TerraformPlan == "":
				return usageErrorf("--policy is required (the candidate's AWS CLI JSON; see --help), or --terraform-plan")
			case len(cfg.Policy) > 0 && cfg.TerraformPlan != "":
				return usageErrorf("--policy and --terraform-plan are two candidates: give one")
			case cfg.Authoritative && cfg.TerraformPlan != "":
				return usageErrorf("--authoritative applies to --policy only")
			case cfg.Strict && cfg.TerraformPlan == "":
				return usageErrorf("--strict applies to --terraform-plan only")
			case cfg.DB == "":
				return usageErrorf("--db must name a file")
			case !slices.Contains(audit.Formats, output):
				return usageErrorf("-o %q: want %s", output, strings.Join(audit.Formats, ", "))
			case cfg.FailOn < 0:
				return usageErrorf("--fail-on %d: want 0 or more", cfg.FailOn)
			}
			if cfg.Since, cfg.Until, err = parseWindow(since, until); err != nil {
				return err
			}
			cfg.Run = store.Run{Command: commandLine("audit", args), Started: time.Now()}
			return runAudit(ctx, env, cfg, output)
		},
	}
}

func runAudit(ctx context.Context, env *cmdEnv, cfg pipeline.AuditConfig, output string) error {
	progress, clearProgress := progressLine(env)
	cfg.Progress = progress
	rep, err := pipeline.Audit(ctx, cfg)
	clearProgress()
	var fe *vpc.FatalFindingsError
	if errors.As(err, &fe) {
		for _, f := range fe.Findings {
			fmt.Fprintf(env.stderr, "candidate: %s\n", f.Error())
		}
		return findingsErrorf("the candidate has %d fatal topology findings (listed above); fix the policy or pass --allow-fatal-topology", len(fe.Findings))
	}
	var ue *pipeline.UnresolvedPlanError
	if errors.As(err, &ue) {
		for _, u := range ue.Unresolved {
			fmt.Fprintf(env.stderr, "unresolved: %s\n", u)
		}
		return findingsErrorf("--strict: %s has %d changes the candidate cannot represent (listed above); nothing was replayed", ue.Plan, len(ue.Unresolved))
	}
	if err != nil {
		return err
	}
	if err := rep.Write(env.stdout, output); err != nil {
		return err
	}
	if rep.Failed {
		return &statusError{status: exitGate, err: fmt.Errorf("%d would-break records, more than --fail-on %d",
			rep.WouldBreak.Records, cfg.FailOn)}
	}
	return nil
}

// parseWindow reads --since and --until (see parseTime); since must come before until when both are given.
func parseWindow(since, until string) (from, to time.Time, err error) {
	if from, err = parseTime("--since", since); err != nil {
		return
	}
	if to, err = parseTime("--until", until); err != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		err = usageErrorf("--since %s is not before --until %s", since, until)
	}
	return
}

// parseTime reads a flag's time: RFC 3339, a date (UTC midnight), or Unix seconds; "" is the zero time.
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, usageErrorf("%s %q: want RFC 3339 (2026-11-20T00:15:00Z), a date (2026-11-20) or Unix seconds", flag, s)
}
