package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
)

type explainConfig struct {
	db            string
	iface, addr   string
	src, dst      string
	port, dstPort int
	protocol      string
	action, cause string
	layer         string
	disagree      bool
	limit         int
	output        string
}

func explainCommand() *command {
	return &command{
		name:    "explain",
		summary: "show, record by record, the path through each firewall layer and the deciding rule",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg explainConfig
			fs := newFlagSet(env, "explain", "explain [--db FILE] [filters]\n\n"+
				"Reads the flows that 'flowlens analyze' wrote and prints, for each matching record, the layers the\n"+
				"packet met at its interface in order (NACL and security groups, or connection tracking), what each\n"+
				"decided, and which rule decided: a traceroute of the firewall.",
				"# why were requests to port 443 rejected?",
				"flowlens explain --action REJECT --dst-port 443 --protocol tcp",
				"# replies the NACLs dropped, from one subnet, as JSON",
				"flowlens explain --cause nacl-missing-return --addr 10.20.3.0/24 -o json",
				"# every record of one interface (a unique prefix of its id is enough) where model and log disagree",
				"flowlens explain --interface eni-0b48 --disagree --limit 0")
			fs.StringVar(&cfg.db, "db", DefaultDB, "DuckDB `FILE` written by flowlens analyze")
			fs.StringVar(&cfg.iface, "interface", "", "only this interface: its `ID` (eni-...) or a prefix of it that only one interface has")
			fs.StringVar(&cfg.addr, "addr", "", "only records with a source or destination `ADDRESS` (or CIDR) in it")
			fs.StringVar(&cfg.src, "src", "", "only records whose source is this `ADDRESS` (or in this CIDR)")
			fs.StringVar(&cfg.dst, "dst", "", "only records whose destination is this `ADDRESS` (or in this CIDR)")
			fs.IntVar(&cfg.port, "port", -1, "only records with this source or destination `PORT`")
			fs.IntVar(&cfg.dstPort, "dst-port", -1, "only records to this destination `PORT`")
			fs.StringVar(&cfg.protocol, "protocol", "", "only this `PROTOCOL`: tcp, udp, icmp, icmpv6 or a number 0-255")
			fs.StringVar(&cfg.action, "action", "", "only records the log shows with this `ACTION`: ACCEPT or REJECT")
			fs.StringVar(&cfg.cause, "cause", "", "only this verdict `CAUSE`: "+strings.Join(replay.CauseNames(), ", "))
			fs.StringVar(&cfg.layer, "layer", "", "only REJECTs decided by this `LAYER`: "+strings.Join(replay.LayerNames(), ", "))
			fs.BoolVar(&cfg.disagree, "disagree", false, "only records where the model and the log disagree")
			fs.IntVar(&cfg.limit, "limit", 20, "at most `N` records (0: all)")
			fs.StringVarP(&cfg.output, "output", "o", "table", "output `FORMAT`: table or json")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return usageErrorf("unexpected arguments %q (filters are flags; see --help)", fs.Args())
			}
			if cfg.output != "table" && cfg.output != "json" {
				return usageErrorf("-o %q: want table or json", cfg.output)
			}
			if cfg.limit < 0 {
				return usageErrorf("--limit %d: want 0 (all) or more", cfg.limit)
			}
			return runExplain(ctx, env, cfg)
		},
	}
}

// explainOutput is what explain -o json prints.
type explainOutput struct {
	Matched int64               `json:"matched"` // records matching the filters
	Shown   int                 `json:"shown"`   // records below (fewer than matched when --limit cuts)
	Records []results.Explained `json:"records"`
}

func runExplain(ctx context.Context, env *cmdEnv, cfg explainConfig) error {
	f := results.ExplainFilter{Port: cfg.port, DstPort: cfg.dstPort, Protocol: -1, Disagree: cfg.disagree, Limit: cfg.limit}
	for _, a := range []struct {
		flag, v string
		to      *netip.Prefix
	}{{"--addr", cfg.addr, &f.Addr}, {"--src", cfg.src, &f.Src}, {"--dst", cfg.dst, &f.Dst}} {
		if a.v == "" {
			continue
		}
		p, err := addrOrPrefix(a.v)
		if err != nil {
			return usageErrorf("%s %q: not an IP address or CIDR", a.flag, a.v)
		}
		*a.to = p
	}
	if cfg.protocol != "" {
		p, ok := results.ProtocolNumber(cfg.protocol)
		if !ok {
			return usageErrorf("--protocol %q: want tcp, udp, icmp, icmpv6 or a number 0-255", cfg.protocol)
		}
		f.Protocol = p
	}
	if cfg.action != "" {
		f.Action = strings.ToUpper(cfg.action)
		if f.Action != flowschema.ActionAccept && f.Action != flowschema.ActionReject {
			return usageErrorf("--action %q: want ACCEPT or REJECT", cfg.action)
		}
	}
	var err error
	if f.Cause, err = oneOf("--cause", cfg.cause, replay.CauseNames()); err != nil {
		return err
	}
	if f.Layer, err = oneOf("--layer", cfg.layer, replay.LayerNames()); err != nil {
		return err
	}
	db, err := store.OpenReadOnly(cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.iface != "" {
		ids, err := results.MatchInterfaces(ctx, db.SQL(), cfg.iface, 6)
		if err != nil {
			return fmt.Errorf("%s: %w", cfg.db, err)
		}
		switch {
		case slices.Contains(ids, cfg.iface) || len(ids) == 0:
			f.Interface = cfg.iface // exact, or nothing matches (reported as no record)
		case len(ids) == 1:
			f.Interface = ids[0]
		default:
			return usageErrorf("--interface %q: more than one interface starts with it (%s...): give more of the id",
				cfg.iface, strings.Join(ids[:min(len(ids), 5)], ", "))
		}
	}
	recs, matched, err := results.Explain(ctx, db.SQL(), f)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.db, err)
	}
	if cfg.output == "json" {
		if recs == nil {
			recs = []results.Explained{}
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(explainOutput{Matched: matched, Shown: len(recs), Records: recs})
	}
	writeExplained(env.stdout, recs)
	switch {
	case len(recs) == 0:
		fmt.Fprintln(env.stderr, "no record matches the filters")
	case int64(len(recs)) < matched:
		fmt.Fprintf(env.stderr, "showing %d of %s matching records (--limit %d; --limit 0 shows all)\n",
			len(recs), humanCount(matched), cfg.limit)
	}
	return nil
}

// addrOrPrefix parses an address (as a one-address prefix) or a CIDR.
func addrOrPrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

// oneOf checks that a flag's value, when given, is one of valid.
func oneOf(flag, v string, valid []string) (string, error) {
	if v == "" || slices.Contains(valid, v) {
		return v, nil
	}
	return "", usageErrorf("%s %q: want one of %s", flag, v, strings.Join(valid, ", "))
}

func writeExplained(w io.Writer, recs []results.Explained) {
	for _, e := range recs {
		fmt.Fprintf(w, "%s  %s  %s %s  %s %s -> %s  logged %s, model %s", e.Source, e.Start.Format(time.RFC3339),
			e.Interface, e.Direction, e.Protocol, e.Src, e.Dst, e.Logged, e.Model)
		if e.Role != "" {
			fmt.Fprintf(w, "  (%s, by %s)", e.Role, e.Initiator)
		}
		fmt.Fprintln(w)
		for i, s := range e.Steps {
			mark := ""
			if s.Decides {
				mark = "  <- decides"
			}
			res := s.Resource
			if res != "" {
				res = " " + res
			}
			fmt.Fprintf(w, "  %d. %s%s: %s, %s%s\n", i+1, s.Layer, res, s.Outcome, s.Rule, mark)
			if s.Assumes != "" {
				fmt.Fprintf(w, "     assumes %s\n", s.Assumes)
			}
		}
		fmt.Fprintf(w, "  => %s\n\n", e.Verdict)
	}
}
