package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
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
				"decided, and which rule decided: a traceroute of the firewall.")
			fs.StringVar(&cfg.db, "db", DefaultDB, "DuckDB file written by flowlens analyze")
			fs.StringVar(&cfg.iface, "interface", "", "only this interface (eni-...)")
			fs.StringVar(&cfg.addr, "addr", "", "only records with this address as source or destination")
			fs.StringVar(&cfg.src, "src", "", "only records from this source address")
			fs.StringVar(&cfg.dst, "dst", "", "only records to this destination address")
			fs.IntVar(&cfg.port, "port", -1, "only records with this source or destination port")
			fs.IntVar(&cfg.dstPort, "dst-port", -1, "only records to this destination port")
			fs.StringVar(&cfg.protocol, "protocol", "", "only this protocol: tcp, udp, icmp, icmpv6 or a number")
			fs.StringVar(&cfg.action, "action", "", "only records the log shows as ACCEPT or REJECT")
			fs.StringVar(&cfg.cause, "cause", "", "only this verdict cause (e.g. nacl-missing-return, unexplained)")
			fs.BoolVar(&cfg.disagree, "disagree", false, "only records where the model and the log disagree")
			fs.IntVar(&cfg.limit, "limit", 20, "at most this many records")
			fs.StringVarP(&cfg.output, "output", "o", "table", "output format: table or json")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return usageErrorf("unexpected arguments %q (filters are flags; see --help)", fs.Args())
			}
			if cfg.output != "table" && cfg.output != "json" {
				return usageErrorf("-o %q: want table or json", cfg.output)
			}
			return runExplain(ctx, env, cfg)
		},
	}
}

func runExplain(ctx context.Context, env *cmdEnv, cfg explainConfig) error {
	f := results.ExplainFilter{Interface: cfg.iface, Port: cfg.port, DstPort: cfg.dstPort, Protocol: -1,
		Cause: cfg.cause, Disagree: cfg.disagree, Limit: cfg.limit}
	for _, a := range []struct {
		flag, v string
		to      *netip.Addr
	}{{"--addr", cfg.addr, &f.Addr}, {"--src", cfg.src, &f.Src}, {"--dst", cfg.dst, &f.Dst}} {
		if a.v == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.v)
		if err != nil {
			return usageErrorf("%s %q: not an IP address", a.flag, a.v)
		}
		*a.to = ip
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
	db, err := store.OpenReadOnly(cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	out, err := results.Explain(ctx, db.SQL(), f)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.db, err)
	}
	if cfg.output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	writeExplained(env.stdout, out)
	if len(out) == 0 {
		fmt.Fprintln(env.stderr, "no record matches the filters")
	}
	return nil
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
