package vpc

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
)

// Summary is what `flowlens topology -o json` prints: every loaded object, sorted by id, and every finding.
type Summary struct {
	VPCs        []VPCSummary        `json:"vpcs"`
	Subnets     []SubnetSummary     `json:"subnets"`
	NACLs       []NACLSummary       `json:"nacls"`
	Groups      []GroupSummary      `json:"security_groups"`
	ENIs        []ENISummary        `json:"enis"`
	PrefixLists []PrefixListSummary `json:"prefix_lists"`
	Findings    []FindingSummary    `json:"findings"`
	Fatal       int                 `json:"fatal"`
	Warnings    int                 `json:"warnings"`
}

type VPCSummary struct {
	ID          string   `json:"id"`
	DefaultNACL string   `json:"default_nacl"` // "" when none is loaded
	Subnets     []string `json:"subnets"`
}

type SubnetSummary struct {
	ID           string   `json:"id"`
	VPC          string   `json:"vpc"`
	AZ           string   `json:"az"`
	CIDRs        []string `json:"cidrs"`
	NACL         string   `json:"nacl"`
	NACLExplicit bool     `json:"nacl_explicit"`
}

type NACLSummary struct {
	ID        string   `json:"id"`
	VPC       string   `json:"vpc"`
	IsDefault bool     `json:"is_default"`
	Inbound   int      `json:"inbound_entries"`  // entries other than the '*' ones
	Outbound  int      `json:"outbound_entries"` // entries other than the '*' ones
	Shadowed  int      `json:"shadowed_entries"` // non-'*' entries that never decide
	Subnets   []string `json:"subnets"`
}

type GroupSummary struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	VPC      string `json:"vpc"`
	Inbound  int    `json:"inbound_rules"`
	Outbound int    `json:"outbound_rules"`
	Members  int    `json:"member_addresses"`
}

type ENISummary struct {
	ID         string   `json:"id"`
	Subnet     string   `json:"subnet"`
	VPC        string   `json:"vpc"`
	Type       string   `json:"type"`
	InstanceID string   `json:"instance_id,omitempty"`
	Addrs      []string `json:"addresses"`
	PublicIPs  []string `json:"public_ips"`
	Groups     []string `json:"groups"`
}

type PrefixListSummary struct {
	ID      string   `json:"id"`
	Name    string   `json:"name,omitempty"`
	Entries []string `json:"entries"`
}

type FindingSummary struct {
	Severity string `json:"severity"`
	File     string `json:"file"`
	Object   string `json:"object"`
	Message  string `json:"message"`
}

// Summary returns the model's contents in a stable, JSON-friendly form.
func (m *Model) Summary() Summary {
	s := Summary{
		VPCs: []VPCSummary{}, Subnets: []SubnetSummary{}, NACLs: []NACLSummary{}, Groups: []GroupSummary{},
		ENIs: []ENISummary{}, PrefixLists: []PrefixListSummary{}, Findings: []FindingSummary{},
	}
	for _, id := range slices.Sorted(maps.Keys(m.VPCs)) {
		v := m.VPCs[id]
		vs := VPCSummary{ID: id, Subnets: nonNil(v.SubnetIDs)}
		if v.DefaultNACL != nil {
			vs.DefaultNACL = v.DefaultNACL.ID
		}
		s.VPCs = append(s.VPCs, vs)
	}
	for _, id := range slices.Sorted(maps.Keys(m.Subnets)) {
		sn := m.Subnets[id]
		ss := SubnetSummary{ID: id, VPC: sn.VpcID, AZ: sn.AZ, CIDRs: prefixStrings(sn.CIDRs), NACLExplicit: sn.NACLExplicit}
		if sn.NACL != nil {
			ss.NACL = sn.NACL.ID
		}
		s.Subnets = append(s.Subnets, ss)
	}
	for _, id := range slices.Sorted(maps.Keys(m.NACLs)) {
		n := m.NACLs[id]
		ns := NACLSummary{ID: id, VPC: n.VpcID, IsDefault: n.IsDefault, Subnets: nonNil(n.SubnetIDs)}
		for _, list := range [][]NACLEntry{n.Inbound, n.Outbound} {
			for _, e := range list {
				if e.Default {
					continue
				}
				if e.Egress {
					ns.Outbound++
				} else {
					ns.Inbound++
				}
				if e.ShadowedBy != 0 {
					ns.Shadowed++
				}
			}
		}
		s.NACLs = append(s.NACLs, ns)
	}
	for _, id := range slices.Sorted(maps.Keys(m.Groups)) {
		g := m.Groups[id]
		s.Groups = append(s.Groups, GroupSummary{ID: id, Name: g.Name, VPC: g.VpcID, Inbound: len(g.Ingress),
			Outbound: len(g.Egress), Members: len(m.members[id])})
	}
	for _, id := range slices.Sorted(maps.Keys(m.ENIs)) {
		e := m.ENIs[id]
		s.ENIs = append(s.ENIs, ENISummary{ID: id, Subnet: e.SubnetID, VPC: e.VpcID, Type: e.Type, InstanceID: e.InstanceID,
			Addrs: addrStrings(e.Addrs), PublicIPs: addrStrings(e.PublicIPs), Groups: nonNil(e.GroupIDs)})
	}
	for _, id := range slices.Sorted(maps.Keys(m.PrefixLists)) {
		s.PrefixLists = append(s.PrefixLists, PrefixListSummary{ID: id, Name: m.prefixListMeta[id].name,
			Entries: prefixStrings(m.PrefixLists[id])})
	}
	for _, f := range m.Findings {
		s.Findings = append(s.Findings, FindingSummary{Severity: f.Severity.String(), File: f.File, Object: f.Object, Message: f.Message})
		if f.Severity == Fatal {
			s.Fatal++
		} else {
			s.Warnings++
		}
	}
	return s
}

// WriteJSON writes the Summary as indented JSON.
func (m *Model) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m.Summary())
}

// WriteTable writes the Summary as aligned text sections, findings last.
func (m *Model) WriteTable(w io.Writer) error {
	s := m.Summary()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title, header string, n int, row func(i int) string) {
		fmt.Fprintf(tw, "%s (%d)\n", title, n)
		if n == 0 {
			fmt.Fprintln(tw)
			return
		}
		fmt.Fprintln(tw, header)
		for i := 0; i < n; i++ {
			fmt.Fprintln(tw, row(i))
		}
		fmt.Fprintln(tw)
	}
	section("VPCS", "VPC\tDEFAULT NACL\tSUBNETS", len(s.VPCs), func(i int) string {
		v := s.VPCs[i]
		return cols(v.ID, dash(v.DefaultNACL), fmt.Sprint(len(v.Subnets)))
	})
	section("SUBNETS", "SUBNET\tVPC\tAZ\tCIDRS\tNACL", len(s.Subnets), func(i int) string {
		v := s.Subnets[i]
		nacl := dash(v.NACL)
		if v.NACL != "" && !v.NACLExplicit {
			nacl += " (VPC default)"
		}
		return cols(v.ID, dash(v.VPC), dash(v.AZ), list(v.CIDRs), nacl)
	})
	section("NACLS", "NACL\tVPC\tDEFAULT\tINBOUND\tOUTBOUND\tSHADOWED\tSUBNETS", len(s.NACLs), func(i int) string {
		v := s.NACLs[i]
		return cols(v.ID, dash(v.VPC), yesNo(v.IsDefault), fmt.Sprint(v.Inbound), fmt.Sprint(v.Outbound),
			fmt.Sprint(v.Shadowed), list(v.Subnets))
	})
	section("SECURITY GROUPS", "GROUP\tNAME\tVPC\tINBOUND\tOUTBOUND\tMEMBER ADDRS", len(s.Groups), func(i int) string {
		v := s.Groups[i]
		return cols(v.ID, dash(v.Name), dash(v.VPC), fmt.Sprint(v.Inbound), fmt.Sprint(v.Outbound), fmt.Sprint(v.Members))
	})
	section("ENIS", "ENI\tSUBNET\tTYPE\tINSTANCE\tADDRESSES\tPUBLIC\tGROUPS", len(s.ENIs), func(i int) string {
		v := s.ENIs[i]
		return cols(v.ID, dash(v.Subnet), dash(v.Type), dash(v.InstanceID), list(v.Addrs), list(v.PublicIPs), list(v.Groups))
	})
	section("PREFIX LISTS", "PREFIX LIST\tNAME\tENTRIES", len(s.PrefixLists), func(i int) string {
		v := s.PrefixLists[i]
		return cols(v.ID, dash(v.Name), list(v.Entries))
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	// Findings are not tab-aligned: messages are long and one wide row would stretch every column.
	fmt.Fprintf(w, "FINDINGS (%d fatal, %d warning)\n", s.Fatal, s.Warnings)
	for _, f := range m.Findings {
		if _, err := fmt.Fprintln(w, f.Error()); err != nil {
			return err
		}
	}
	return nil
}

func cols(s ...string) string { return strings.Join(s, "\t") }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func list(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

// nonNil copies s so that JSON shows [] rather than null.
func nonNil(s []string) []string { return append([]string{}, s...) }

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}
