package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
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

// explained is one record and its path through the layers.
type explained struct {
	Source    string              `json:"source"` // file:line
	Start     time.Time           `json:"start"`
	Interface string              `json:"interface_id"`
	Direction string              `json:"direction"`
	Protocol  string              `json:"protocol"`
	Src       string              `json:"src"`
	Dst       string              `json:"dst"`
	Logged    string              `json:"logged_action"`
	Model     string              `json:"model_action"`
	Role      string              `json:"flow_role,omitempty"`
	Initiator string              `json:"initiator,omitempty"`
	Steps     []replay.StepRecord `json:"steps"` // the packet's walk, as replay recorded it`
	Verdict   string              `json:"verdict"`
}

var protoNames = map[string]int{"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}

func protoName(p sql.NullInt64) string {
	if !p.Valid {
		return "-"
	}
	for n, v := range protoNames {
		if int64(v) == p.Int64 {
			return n
		}
	}
	return strconv.FormatInt(p.Int64, 10)
}

func runExplain(ctx context.Context, env *cmdEnv, cfg explainConfig) error {
	db, err := store.OpenReadOnly(cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	have, err := tableColumns(ctx, db.SQL(), "flows")
	if err != nil {
		return err
	}
	if !have["model_action"] {
		return fmt.Errorf("%s: table flows has no verdict columns: write it with 'flowlens analyze', not 'ingest'", cfg.db)
	}
	if !have[flowschema.ColVerdictSteps] {
		return fmt.Errorf("%s: written by an older flowlens (no %s column): run 'flowlens analyze' again", cfg.db, flowschema.ColVerdictSteps)
	}
	col := func(name string) string {
		if have[name] {
			return "f." + store.QuoteIdent(name)
		}
		return "NULL"
	}
	var where []string
	var args []any
	add := func(cond string, vals ...any) {
		where = append(where, cond)
		args = append(args, vals...)
	}
	if cfg.iface != "" {
		add(col("interface_id")+" = ?", cfg.iface)
	}
	for _, a := range []struct{ flag, v, cond string }{
		{"--addr", cfg.addr, "(" + col("srcaddr") + " = ? OR " + col("dstaddr") + " = ?)"},
		{"--src", cfg.src, col("srcaddr") + " = ?"},
		{"--dst", cfg.dst, col("dstaddr") + " = ?"},
	} {
		if a.v == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.v)
		if err != nil {
			return usageErrorf("%s %q: not an IP address", a.flag, a.v)
		}
		vals := []any{ip.String()}
		if strings.Count(a.cond, "?") == 2 {
			vals = append(vals, ip.String())
		}
		add(a.cond, vals...)
	}
	if cfg.port >= 0 {
		add("("+col("srcport")+" = ? OR "+col("dstport")+" = ?)", cfg.port, cfg.port)
	}
	if cfg.dstPort >= 0 {
		add(col("dstport")+" = ?", cfg.dstPort)
	}
	if cfg.protocol != "" {
		p, ok := protoNames[strings.ToLower(cfg.protocol)]
		if !ok {
			n, err := strconv.Atoi(cfg.protocol)
			if err != nil || n < 0 || n > 255 {
				return usageErrorf("--protocol %q: want tcp, udp, icmp, icmpv6 or a number 0-255", cfg.protocol)
			}
			p = n
		}
		add(col("protocol")+" = ?", p)
	}
	if cfg.action != "" {
		a := strings.ToUpper(cfg.action)
		if a != "ACCEPT" && a != "REJECT" {
			return usageErrorf("--action %q: want ACCEPT or REJECT", cfg.action)
		}
		add(col("action")+" = ?", a)
	}
	if cfg.cause != "" {
		add(col("verdict_cause")+" = ?", cfg.cause)
	}
	if cfg.disagree {
		add(col("model_agrees") + " = false")
	}
	query := `SELECT f.source_file, f.source_line, ` + col("start") + `, ` + col("interface_id") + `, f.direction, ` +
		col("protocol") + `, ` + col("srcaddr") + `, ` + col("srcport") + `, ` + col("dstaddr") + `, ` + col("dstport") + `, ` +
		col("action") + `, f.model_action, f.verdict_layer, f.verdict_rule, f.verdict_resource, f.verdict_also, f.verdict_cause,
		f.verdict_steps, f.flow_role, f.initiator
	FROM flows f`
	if len(where) > 0 {
		query += "\n\tWHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf("\n\tORDER BY %s, f.source_file, f.source_line LIMIT %d", col("start"), max(cfg.limit, 0))
	rows, err := db.SQL().QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.db, err)
	}
	defer rows.Close()
	var out []explained
	for rows.Next() {
		var (
			file                                string
			line                                int64
			start, proto, sport, dport          sql.NullInt64
			iface, dir, src, dst, logged, model sql.NullString
			vLayer, vRule, vRes, vAlso, vCause  sql.NullString
			steps, role, initiator              sql.NullString
		)
		if err := rows.Scan(&file, &line, &start, &iface, &dir, &proto, &src, &sport, &dst, &dport, &logged, &model,
			&vLayer, &vRule, &vRes, &vAlso, &vCause, &steps, &role, &initiator); err != nil {
			return err
		}
		e := explained{Source: fmt.Sprintf("%s:%d", file, line), Interface: iface.String, Direction: dir.String,
			Protocol: protoName(proto), Src: hostPort(src, sport), Dst: hostPort(dst, dport), Logged: orDash(logged),
			Model: orDash(model), Role: role.String, Initiator: initiator.String}
		if start.Valid {
			e.Start = time.Unix(start.Int64, 0).UTC()
		}
		if steps.Valid {
			if err := json.Unmarshal([]byte(steps.String), &e.Steps); err != nil {
				return fmt.Errorf("%s: %s of %s: %w", cfg.db, flowschema.ColVerdictSteps, e.Source, err)
			}
		}
		switch {
		case !model.Valid:
			e.Verdict = "not judged: " + vCause.String
		case vLayer.Valid:
			e.Verdict = fmt.Sprintf("%s %s rule %s (%s)", vLayer.String, vRes.String, vRule.String, vCause.String)
			if vAlso.Valid {
				e.Verdict += "; also blocked by " + vAlso.String
			}
		case vCause.Valid:
			e.Verdict = "allowed by the model: " + vCause.String
		default:
			e.Verdict = "allowed"
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return err
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

func writeExplained(w io.Writer, recs []explained) {
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
		}
		fmt.Fprintf(w, "  => %s\n\n", e.Verdict)
	}
}

func hostPort(a sql.NullString, p sql.NullInt64) string {
	if !a.Valid {
		return "-"
	}
	h := a.String
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if p.Valid {
		return h + ":" + strconv.FormatInt(p.Int64, 10)
	}
	return h
}

func orDash(s sql.NullString) string {
	if !s.Valid {
		return "-"
	}
	return s.String
}

// tableColumns lists the columns of a table, or says which file lacks it.
func tableColumns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_name = ?`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols[c] = true
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %q: run 'flowlens analyze' first", table)
	}
	return cols, rows.Err()
}
