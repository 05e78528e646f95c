package audit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Locate sets each group's Line: the first line of its File that names its Resource ("sg-..."), in the
// policy's files by name (as read). Groups whose resource the policy did not give point at the first policy
// file, line 1.
func (r *Report) Locate(policy map[string][]byte) {
	var first string
	for name := range policy {
		if first == "" || name < first {
			first = name
		}
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		if g.File == "" {
			g.File, g.Line = first, 1
			continue
		}
		g.Line = 1
		if at := bytes.Index(policy[g.File], []byte(`"`+g.Resource+`"`)); at >= 0 {
			g.Line = 1 + bytes.Count(policy[g.File][:at], []byte("\n"))
		}
	}
}

// SARIF 2.1.0, the subset code-scanning tools read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
	// ColumnKind says how Region.StartColumn counts: Unicode code points (Group.Column counts runes).
	ColumnKind string `json:"columnKind"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifMessage `json:"shortDescription"`
	FullDescription      sarifMessage `json:"fullDescription"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine   int `json:"startLine"`
			StartColumn int `json:"startColumn,omitempty"`
		} `json:"region"`
	} `json:"physicalLocation"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// WriteSARIF renders the report as SARIF 2.1.0: one result per group, ruleId "would-break" (level error) or
// "newly-allowed" (level warning), located at the policy file and line of the group or NACL that decides (Locate)
// with that id as a logical location; a group with a TerraformAddress has that address as its first logical
// location (name and fullyQualifiedName) and as property terraform_address.
func (r *Report) WriteSARIF(w io.Writer) error {
	rule := func(id, short, full, level string) sarifRule {
		s := sarifRule{ID: id, ShortDescription: sarifMessage{short}, FullDescription: sarifMessage{full}}
		s.DefaultConfiguration.Level = level
		return s
	}
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "flowlens", InformationURI: "https://github.com/flowlens/flowlens",
		Rules: []sarifRule{
			rule(WouldBreak.String(), "Recorded traffic the candidate policy would reject",
				"Flow-log records accepted by the current security groups and network ACLs that the candidate policy rejects.", "error"),
			rule(NewlyAllowed.String(), "Recorded traffic the candidate policy would newly admit",
				"Flow-log records rejected by the current security groups and network ACLs that the candidate policy admits.", "warning"),
		}}}, Results: []sarifResult{}, ColumnKind: "unicodeCodePoints"}
	for _, g := range r.Groups {
		res := sarifResult{RuleID: g.Class, Level: "error",
			Message: sarifMessage{fmt.Sprintf("%s -> %s : %s, %s records: %s (e.g. %s)", g.Source, g.Destination, g.Service,
				count(g.Records), g.Explanation, strings.Join(g.Examples, ", "))},
			PartialFingerprints: map[string]string{"flowlensGroup/v1": g.Class + "|" + g.Source.ID + "|" + g.Destination.ID + "|" + g.Service},
			Properties: map[string]any{"records": g.Records, "packets": g.Packets, "bytes": g.Bytes,
				"first_seen": g.FirstSeen, "last_seen": g.LastSeen, "examples": g.Examples, "deciders": g.Deciders}}
		if g.Class == NewlyAllowed.String() {
			res.RuleIndex, res.Level = 1, "warning"
		}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = sarifURI(g.File)
		loc.PhysicalLocation.Region.StartLine = max(g.Line, 1)
		loc.PhysicalLocation.Region.StartColumn = g.Column
		kind := "resource"
		if strings.HasPrefix(g.Resource, "acl-") {
			kind = "network-acl"
		} else if strings.HasPrefix(g.Resource, "sg-") {
			kind = "security-group"
		}
		loc.LogicalLocations = []sarifLogical{{Name: g.Resource, FullyQualifiedName: g.Resource, Kind: kind}}
		if g.TerraformAddress != "" {
			// A Terraform plan's finding is located at the resource that causes it, first; the group or
			// NACL it is about follows. The message names it too: code scanning shows the message even when
			// the plan file is not in the repository.
			res.Message.Text += "; caused by " + g.TerraformAddress
			loc.LogicalLocations = append([]sarifLogical{{Name: g.TerraformAddress, FullyQualifiedName: g.TerraformAddress,
				Kind: "resource"}}, loc.LogicalLocations...)
			res.Properties["terraform_address"] = g.TerraformAddress
		}
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifURI is a file name as a relative URI reference (forward slashes, no leading ./).
func sarifURI(name string) string {
	return strings.TrimPrefix(strings.ReplaceAll(name, `\`, "/"), "./")
}

// JUnit XML, as CI systems read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit renders the report as JUnit XML: suite "would-break" has one failing test case per would-break
// group (or one passing case when there is none); suite "newly-allowed" one passing case per newly-allowed
// group, its detail in system-out.
func (r *Report) WriteJUnit(w io.Writer) error {
	detail := func(g Group) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s records%s, %s packets, %s, first seen %s, last seen %s\n", count(g.Records),
			orphans(Totals{OrphanedReplies: g.OrphanedReplies}), count(g.Packets), bytesText(g.Bytes), g.FirstSeen.Format("2006-01-02T15:04:05Z"),
			g.LastSeen.Format("2006-01-02T15:04:05Z"))
		for _, d := range g.Deciders {
			fmt.Fprintf(&b, "%s %s rule %s (%s, %s): %s records\n", d.Layer, d.Resource, d.Rule, d.Cause, d.Role, count(d.Records))
		}
		fmt.Fprintf(&b, "examples: %s\n", strings.Join(g.Examples, ", "))
		if g.File != "" {
			fmt.Fprintf(&b, "policy: %s:%d (%s)\n", g.File, g.Line, g.Resource)
		}
		if g.TerraformAddress != "" {
			fmt.Fprintf(&b, "terraform resource: %s\n", g.TerraformAddress)
		}
		return b.String()
	}
	name := func(g Group) string { return fmt.Sprintf("%s -> %s : %s", g.Source, g.Destination, g.Service) }
	wb := junitSuite{Name: WouldBreak.String()}
	for _, g := range r.groupsOf(WouldBreak) {
		wb.Cases = append(wb.Cases, junitCase{Name: name(g), Classname: "flowlens.audit.would-break",
			Failure: &junitFailure{Message: g.Explanation, Type: WouldBreak.String(), Text: detail(g)}})
		wb.Failures++
	}
	if len(wb.Cases) == 0 {
		wb.Cases = append(wb.Cases, junitCase{Name: "no recorded traffic would break", Classname: "flowlens.audit.would-break",
			SystemOut: fmt.Sprintf("coverage: %s of %s accepted records, %s of their bytes", pct(r.Coverage.Records),
				count(r.Coverage.Accepted), pct(r.Coverage.Bytes))})
	}
	wb.Tests = len(wb.Cases)
	na := junitSuite{Name: NewlyAllowed.String()}
	for _, g := range r.groupsOf(NewlyAllowed) {
		na.Cases = append(na.Cases, junitCase{Name: name(g), Classname: "flowlens.audit.newly-allowed",
			SystemOut: g.Explanation + "\n" + detail(g)})
	}
	na.Tests = len(na.Cases)
	suites := junitSuites{Name: "flowlens audit", Suites: slices.DeleteFunc([]junitSuite{wb, na}, func(s junitSuite) bool { return s.Tests == 0 })}
	for _, s := range suites.Suites {
		suites.Tests += s.Tests
		suites.Failures += s.Failures
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suites); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
