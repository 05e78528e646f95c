package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/flowlens/flowlens/internal/human"
)

// Report is one audit: the candidate, what it changes, coverage and exposure, the groups, and the gate.
type Report struct {
	DB            string    `json:"db"`
	Policy        []string  `json:"policy"`
	Since         time.Time `json:"since,omitzero"`
	Until         time.Time `json:"until,omitzero"`
	Authoritative bool      `json:"authoritative"`
	Candidate     Candidate `json:"candidate"`
	// Records counts the replayed records by Class (its String), with their bytes.
	Records      map[string]ClassCount `json:"records"`
	WouldBreak   Totals                `json:"would_break"`
	NewlyAllowed Totals                `json:"newly_allowed"`
	Coverage     Coverage              `json:"coverage"`
	Exposure     ExposureChange        `json:"exposure"`
	Groups       []Group               `json:"groups"`
	// FailOn is the gate: the audit fails when WouldBreak.Records > FailOn.
	FailOn int64 `json:"fail_on"`
	Failed bool  `json:"failed"`
	// RecordsTruncated: audit_records holds only the first MaxRecords changed records.
	RecordsTruncated bool `json:"records_truncated,omitempty"`
	// TrackingLost counts replies whose connection the candidate's tracking table had lost (evicted: the
	// table was full) though the candidate admitted the request: still allowed, not would-break.
	TrackingLost int64 `json:"tracking_lost,omitempty"`
	// Baseline says where the current configuration's verdicts came from: BaselineReplayed or
	// BaselineStored.
	Baseline string `json:"baseline,omitempty"`
}

// Where an audit's baseline verdicts come from.
const (
	// BaselineReplayed: the records were replayed through the current configuration, admitting connections
	// by its verdicts, beside the candidate's replay.
	BaselineReplayed = "replayed"
	// BaselineStored: analyze's stored verdicts, which are what that replay gives when the model agrees with
	// the log on every record and the whole history is audited.
	BaselineStored = "stored"
)

// Candidate says what the policy replaced (vpc.OverlayReport) and what the candidate's validation found in the
// policy's files (and every fatal finding).
type Candidate struct {
	GroupsReplaced []string `json:"groups_replaced,omitempty"`
	GroupsAdded    []string `json:"groups_added,omitempty"`
	GroupsRemoved  []string `json:"groups_removed,omitempty"`
	NACLsReplaced  []string `json:"nacls_replaced,omitempty"`
	NACLsAdded     []string `json:"nacls_added,omitempty"`
	NACLsRemoved   []string `json:"nacls_removed,omitempty"`
	Findings       []string `json:"findings,omitempty"`
}

// Coverage is the share of the accepted records (log and baseline) and of their bytes the candidate still
// allows.
type Coverage struct {
	Accepted      int64   `json:"accepted_records"`
	AcceptedBytes int64   `json:"accepted_bytes"`
	Records       float64 `json:"records"`
	Bytes         float64 `json:"bytes"`
}

// ExposureChange is the Exposure of the baseline and of the candidate.
type ExposureChange struct {
	Measure string   `json:"measure"`
	Before  Exposure `json:"before"`
	After   Exposure `json:"after"`
	// Change is After.Total / Before.Total - 1 (-0.9: 90% less); 0 when Before.Total is 0.
	Change float64 `json:"change"`
}

// ExposureMeasure names the measure in reports.
const ExposureMeasure = "peer addresses x ports that may open a new connection, per interface and direction, through the security groups and the NACL (pkg/exposure): tcp and udp count ports, icmp, icmpv6 and each other protocol 1; ingress, egress and total are IPv4, *_v6 IPv6"

// NewExposureChange compares two measures.
func NewExposureChange(before, after Exposure) ExposureChange {
	c := ExposureChange{Measure: ExposureMeasure, Before: before, After: after}
	if before.Total > 0 {
		c.Change = float64(after.Total)/float64(before.Total) - 1
	}
	return c
}

// Apply copies a Result's figures into the report and applies the gate.
func (r *Report) Apply(res *Result) {
	r.Records, r.WouldBreak, r.NewlyAllowed, r.Groups = res.Classes, res.WouldBreak, res.NewlyAllowed, res.Groups
	r.Coverage = Coverage{Accepted: res.Accepted, AcceptedBytes: res.AcceptedBytes, Records: res.Coverage, Bytes: res.CoverageBytes}
	r.RecordsTruncated = res.RecordsTruncated
	r.TrackingLost = res.TrackingLost
	r.Failed = r.WouldBreak.Records > r.FailOn
}

// Formats Write accepts.
var Formats = []string{"table", "json", "markdown", "sarif", "junit"}

// Write renders the report in format (one of Formats).
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "table":
		return r.WriteTable(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	case "markdown":
		return r.WriteMarkdown(w)
	case "sarif":
		return r.WriteSARIF(w)
	case "junit":
		return r.WriteJUnit(w)
	}
	return fmt.Errorf("audit: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

func (r *Report) groupsOf(class Class) []Group {
	var out []Group
	for _, g := range r.Groups {
		if g.Class == class.String() {
			out = append(out, g)
		}
	}
	return out
}

// verdictLine is the gate's outcome in words.
func (r *Report) verdictLine() string {
	if r.Failed {
		return fmt.Sprintf("FAIL: %s would-break records, more than --fail-on %s", count(r.WouldBreak.Records), count(r.FailOn))
	}
	return fmt.Sprintf("PASS: %s would-break records, at most --fail-on %s", count(r.WouldBreak.Records), count(r.FailOn))
}

func (r *Report) candidateLine() string {
	c := r.Candidate
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(len(c.GroupsReplaced), "security groups replaced")
	add(len(c.GroupsAdded), "added")
	add(len(c.GroupsRemoved), "removed")
	add(len(c.NACLsReplaced), "network ACLs replaced")
	add(len(c.NACLsAdded), "added")
	add(len(c.NACLsRemoved), "removed")
	if len(parts) == 0 {
		return "nothing replaced"
	}
	return strings.Join(parts, ", ")
}

func (r *Report) window() string {
	if r.Since.IsZero() && r.Until.IsZero() {
		return "all records"
	}
	s, u := "the first record", "the last"
	if !r.Since.IsZero() {
		s = r.Since.Format(time.RFC3339)
	}
	if !r.Until.IsZero() {
		u = r.Until.Format(time.RFC3339)
	}
	return "records from " + s + " to " + u
}

func (r *Report) judged() int64 {
	var n int64
	for c, t := range r.Records {
		if c != NotJudged.String() {
			n += t.Records
		}
	}
	return n
}

// WriteTable renders the report for a terminal.
func (r *Report) WriteTable(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "flowlens audit: policy %s against %s (%s; %s records judged)\n", strings.Join(r.Policy, ", "), r.DB,
		r.window(), count(r.judged()))
	fmt.Fprintf(b, "candidate: %s\n", r.candidateLine())
	switch r.Baseline {
	case BaselineStored:
		fmt.Fprintf(b, "baseline: the verdicts analyze stored (the model agreed with the log on every record), the candidate replayed\n")
	case BaselineReplayed:
		fmt.Fprintf(b, "baseline: the current configuration replayed beside the candidate\n")
	}
	for _, f := range r.Candidate.Findings {
		fmt.Fprintf(b, "  finding: %s\n", f)
	}
	fmt.Fprintf(b, "would break:   %s records%s in %d groups, %s\n", count(r.WouldBreak.Records), orphans(r.WouldBreak),
		r.WouldBreak.Groups, bytesText(r.WouldBreak.Bytes))
	fmt.Fprintf(b, "newly allowed: %s records in %d groups, %s\n", count(r.NewlyAllowed.Records), r.NewlyAllowed.Groups,
		bytesText(r.NewlyAllowed.Bytes))
	fmt.Fprintf(b, "coverage: the candidate still allows %s of %s accepted records and %s of their bytes\n",
		pct(r.Coverage.Records), count(r.Coverage.Accepted), pct(r.Coverage.Bytes))
	if d := r.Records[Disputed.String()]; d.Records > 0 {
		fmt.Fprintf(b, "disputed: %s records where the log and the current model disagree are in neither list\n", count(d.Records))
	}
	if r.TrackingLost > 0 {
		fmt.Fprintf(b, "tracking: %s replies whose connection the candidate's full tracking table had evicted count as still allowed "+
			"(the candidate admitted their requests); raise max_tracked (analyze --max-tracked) to track them all\n", count(r.TrackingLost))
	}
	fmt.Fprintf(b, "exposure (IPv4 address x port pairs open to new connections): %s\n", r.exposureText(" -> "))
	for _, class := range []Class{WouldBreak, NewlyAllowed} {
		gs := r.groupsOf(class)
		if len(gs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s\n", strings.ToUpper(strings.ReplaceAll(class.String(), "-", " ")))
		for _, g := range gs {
			fmt.Fprintf(b, "#%d %s -> %s : %s\n", g.ID, g.Source, g.Destination, g.Service)
			fmt.Fprintf(b, "   %s records%s, %s packets, %s, %s .. %s\n", count(g.Records), orphans(Totals{OrphanedReplies: g.OrphanedReplies}),
				count(g.Packets), bytesText(g.Bytes), g.FirstSeen.Format(time.DateTime), g.LastSeen.Format(time.DateTime))
			for _, d := range g.Deciders {
				fmt.Fprintf(b, "   %s %s rule %s (%s, %s): %s records\n", d.Layer, d.Resource, d.Rule, d.Cause, d.Role, count(d.Records))
			}
			fmt.Fprintf(b, "   %s\n", g.Explanation)
			if g.TerraformAddress != "" {
				fmt.Fprintf(b, "   caused by %s\n", g.TerraformAddress)
			}
			fmt.Fprintf(b, "   e.g. %s\n", strings.Join(g.Examples, ", "))
		}
	}
	fmt.Fprintf(b, "\n%s\n", r.verdictLine())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown renders the report as a pull-request comment.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	icon := "✅"
	if r.Failed {
		icon = "❌"
	}
	fmt.Fprintf(b, "## %s flowlens audit of `%s`\n\n", icon, strings.Join(r.Policy, "`, `"))
	fmt.Fprintf(b, "%s. Replayed %s recorded records (%s) of `%s` against the candidate (%s).\n\n",
		r.verdictLine(), count(r.judged()), r.window(), r.DB, r.candidateLine())
	fmt.Fprintf(b, "| | records | bytes | groups |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(b, "| would break | %s%s | %s | %d |\n", count(r.WouldBreak.Records), orphans(r.WouldBreak), bytesText(r.WouldBreak.Bytes), r.WouldBreak.Groups)
	fmt.Fprintf(b, "| newly allowed | %s | %s | %d |\n\n", count(r.NewlyAllowed.Records), bytesText(r.NewlyAllowed.Bytes), r.NewlyAllowed.Groups)
	fmt.Fprintf(b, "**Coverage:** the candidate still allows %s of %s accepted records and %s of their bytes.  \n",
		pct(r.Coverage.Records), count(r.Coverage.Accepted), pct(r.Coverage.Bytes))
	fmt.Fprintf(b, "**Exposure** (IPv4 address × port pairs open to new connections): %s.\n", r.exposureText(" → "))
	if len(r.Candidate.Findings) > 0 {
		fmt.Fprintf(b, "\n**Findings in the policy:**\n\n")
		for _, f := range r.Candidate.Findings {
			fmt.Fprintf(b, "- %s\n", mdEscape(f))
		}
	}
	for _, class := range []Class{WouldBreak, NewlyAllowed} {
		gs := r.groupsOf(class)
		if len(gs) == 0 {
			continue
		}
		title := "Would break"
		if class == NewlyAllowed {
			title = "Newly allowed"
		}
		// A Terraform plan's report names the resource that causes each group in a column of its own.
		tf := slices.ContainsFunc(gs, func(g Group) bool { return g.TerraformAddress != "" })
		head, rule := "", ""
		if tf {
			head, rule = " terraform resource |", "---|"
		}
		fmt.Fprintf(b, "\n### %s\n\n| # | source | destination | service | records | bytes | seen | rejected by |%s why | examples |\n|---:|---|---|---|---:|---:|---|---|%s---|---|\n", title, head, rule)
		for _, g := range gs {
			by := ""
			if len(g.Deciders) > 0 {
				d := g.Deciders[0]
				by = fmt.Sprintf("%s `%s` rule `%s`", d.Layer, d.Resource, d.Rule)
			}
			if tf {
				by += " | "
				if g.TerraformAddress != "" {
					by += "`" + mdEscape(g.TerraformAddress) + "`"
				}
			}
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s – %s | %s | %s | %s |\n", g.ID, mdEscape(g.Source.String()),
				mdEscape(g.Destination.String()), g.Service, count(g.Records)+orphans(Totals{OrphanedReplies: g.OrphanedReplies}),
				bytesText(g.Bytes), g.FirstSeen.Format(time.DateTime), g.LastSeen.Format(time.DateTime), by,
				mdEscape(g.Explanation), "`"+strings.Join(g.Examples, "`<br>`")+"`")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// exposureText renders the exposure before and after, ingress and egress.
func (r *Report) exposureText(arrow string) string {
	e := r.Exposure
	change := func(before, after int64) string {
		if before == 0 {
			return ""
		}
		return " (" + signedPct(float64(after)/float64(before)-1) + ")"
	}
	return fmt.Sprintf("ingress %s%s%s%s, egress %s%s%s%s", count(e.Before.Ingress), arrow, count(e.After.Ingress),
		change(e.Before.Ingress, e.After.Ingress), count(e.Before.Egress), arrow, count(e.After.Egress),
		change(e.Before.Egress, e.After.Egress))
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func orphans(t Totals) string {
	if t.OrphanedReplies == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s orphaned replies)", count(t.OrphanedReplies))
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func signedPct(f float64) string { return fmt.Sprintf("%+.2f%%", 100*f) }

func count(n int64) string { return human.Count(n) }

func bytesText(n int64) string { return human.Bytes(n) }
