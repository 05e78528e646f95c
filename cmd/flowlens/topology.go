package main

import (
	"context"

	"github.com/flowlens/flowlens/pkg/vpc"
)

// topologyCommand loads the AWS CLI JSON describing a VPC, prints what was loaded and every finding, and
// fails with exitFindings when a finding is fatal.
func topologyCommand() *command {
	return &command{
		name:    "topology",
		summary: "load and check the VPC topology (AWS CLI describe-* JSON)",
		run:     runTopology,
	}
}

func runTopology(_ context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "topology", "topology --topology PATH [--topology PATH...] [-o table|json]\n\n"+
		"Loads the AWS CLI describe-* JSON of a VPC, prints what was loaded and every finding (fatal ones exit 3).",
		"# check an export before analyzing with it",
		"flowlens topology --topology samples/shop/topology",
		"# two exports (two accounts), as JSON",
		"flowlens topology --topology prod/ --topology shared-services/ -o json")
	var (
		paths  []string
		output string
	)
	fs.StringArrayVar(&paths, "topology", nil, "AWS CLI JSON file or directory (`PATH`, walked for *.json); repeatable")
	fs.StringVarP(&output, "output", "o", "table", "output `FORMAT`: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (pass topology files with --topology)", fs.Arg(0))
	}
	if len(paths) == 0 {
		return usageErrorf("--topology is required")
	}
	if output != "table" && output != "json" {
		return usageErrorf("-o must be table or json, not %q", output)
	}
	m, err := vpc.LoadPaths(paths...)
	if err != nil {
		return err
	}
	if output == "json" {
		err = m.WriteJSON(env.stdout)
	} else {
		err = m.WriteTable(env.stdout)
	}
	if err != nil {
		return err
	}
	if m.HasFatal() {
		n := 0
		for _, f := range m.Findings {
			if f.Severity == vpc.Fatal {
				n++
			}
		}
		return findingsErrorf("%d fatal topology finding(s): the model cannot be trusted for replay", n)
	}
	return nil
}
