package pipeline

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/flowlens/flowlens/pkg/audit"
	"github.com/flowlens/flowlens/pkg/tfplan"
	"github.com/flowlens/flowlens/pkg/vpc"
)

// planCandidate builds the candidate of a Terraform plan (tfplan.Candidate on a clone of base) and says what
// it changed in the OverlayReport's terms, Files naming resource addresses; the notes are the plan's
// unresolved changes, the deletions AWS would refuse and the ignored resources, for the report's candidate
// findings.
func planCandidate(base *vpc.Model, plan *tfjson.Plan) (*tfplan.Result, *vpc.OverlayReport, []string) {
	r, _ := tfplan.Candidate(base, plan) // the error is FatalError, checked by the caller
	over := &vpc.OverlayReport{Files: r.Addresses()}
	for id := range over.Files {
		_, g := base.Groups[id]
		_, n := base.NACLs[id]
		_, cg := r.Model.Groups[id]
		switch {
		case g:
			over.GroupsReplaced = append(over.GroupsReplaced, id)
		case n:
			over.NACLsReplaced = append(over.NACLsReplaced, id)
		case cg:
			over.GroupsAdded = append(over.GroupsAdded, id)
		default:
			over.NACLsAdded = append(over.NACLsAdded, id)
		}
	}
	for _, id := range r.Removed {
		if _, g := base.Groups[id]; g {
			over.GroupsRemoved = append(over.GroupsRemoved, id)
		} else {
			over.NACLsRemoved = append(over.NACLsRemoved, id)
		}
	}
	for _, l := range [][]string{over.GroupsReplaced, over.GroupsAdded, over.NACLsReplaced, over.NACLsAdded} {
		slices.Sort(l)
	}
	var notes []string
	for _, u := range r.Unresolved {
		notes = append(notes, "terraform plan: "+u.String()+" (unresolved: left out of the candidate)")
	}
	if len(r.Ignored) > 0 {
		notes = append(notes, "terraform plan: ignored (not a security group, rule, network ACL or interface of the topology): "+
			strings.Join(r.Ignored, ", "))
	}
	return r, over, notes
}

// planAttribution is the audit's Aggregator.Attribute for a plan's candidate: the address of the planned
// change behind each changed record (tfplan.Result.Cause).
func planAttribution(r *tfplan.Result) func(iface, src, dst string, base, cand *audit.Verdict) string {
	decision := func(v *audit.Verdict) tfplan.Decision {
		return tfplan.Decision{Action: v.Action, Layer: v.Layer, Rule: v.Rule, Resource: v.Resource, SGRule: v.SGRule,
			NACL: v.NACL, NACLRule: v.NACLRule}
	}
	return func(iface, src, dst string, base, cand *audit.Verdict) string {
		return r.Cause(tfplan.Record{Interface: iface, Src: src, Dst: dst}, decision(base), decision(cand))
	}
}

// locatePlan points every group of a plan's report at the plan file (File) and the line and column of the
// resource_changes entry of its TerraformAddress (Line 1 and no Column when the group has none; on a plan
// written on one line, as terraform show -json writes it, the Column tells entries apart): the physical
// location SARIF needs beside the address.
func locatePlan(rep *audit.Report, path string, planJSON []byte) {
	changes := 0
	if i := bytes.Index(planJSON, []byte(`"resource_changes"`)); i >= 0 {
		changes = i
	}
	for i := range rep.Groups {
		g := &rep.Groups[i]
		g.File, g.Line = path, 1
		if g.TerraformAddress == "" {
			continue
		}
		q, _ := json.Marshal(g.TerraformAddress) // as terraform (Go's encoding/json) writes it
		re := regexp.MustCompile(`"address"\s*:\s*` + regexp.QuoteMeta(string(q)))
		if loc := re.FindIndex(planJSON[changes:]); loc != nil {
			at := changes + loc[0]
			g.Line = 1 + bytes.Count(planJSON[:at], []byte("\n"))
			// the column too (SARIF counts from 1): terraform show -json writes the whole plan on one line
			g.Column = 1 + utf8.RuneCount(planJSON[bytes.LastIndexByte(planJSON[:at], '\n')+1:at])
		}
	}
}
