package results

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/flowschema"
	"github.com/flowlens/flowlens/pkg/replay"
)

// ExplainFilter selects the analyzed records Explain returns. Zero values select everything, except the
// numeric fields, where -1 means any.
type ExplainFilter struct {
	Interface     string       // interface_id
	Addr          netip.Prefix // source or destination address in this prefix (invalid: any); an address is a /32 or /128
	Src, Dst      netip.Prefix // source / destination address in this prefix (invalid: any)
	Port, DstPort int          // source or destination port / destination port (-1: any)
	Protocol      int          // IANA number (-1: any)
	Action        string       // the logged action, ACCEPT or REJECT ("": any)
	Cause         string       // verdict_cause ("": any)
	Layer         string       // verdict_layer ("": any)
	Disagree      bool         // only records where the model and the log disagree
	Limit         int          // at most this many records (0: all)
}

// Explained is one analyzed record and its packet's walk through the layers, as the replay recorded it
// (flowschema.ColVerdictSteps).
type Explained struct {
	Source    string              `json:"source"` // file:line
	Start     time.Time           `json:"start"`
	Interface string              `json:"interface_id"`
	Direction string              `json:"direction"`
	Protocol  string              `json:"protocol"`
	Src       string              `json:"src"` // address:port
	Dst       string              `json:"dst"`
	Logged    string              `json:"logged_action"`
	Model     string              `json:"model_action"`
	Role      string              `json:"flow_role,omitempty"`
	Initiator string              `json:"initiator,omitempty"`
	Steps     []replay.StepRecord `json:"steps"` // the layers in packet order
	Verdict   string              `json:"verdict"`
}

// ErrNotAnalyzed says that the flows of a database have no verdict columns (written by ingest, not analyze).
var ErrNotAnalyzed = errors.New("table flows has no verdict columns: write it with 'flowlens analyze', not 'ingest'")

// ErrOldVersion says that the flows were analyzed by a flowlens that did not record the packet's walk.
var ErrOldVersion = fmt.Errorf("written by an older flowlens (no %s column): run 'flowlens analyze' again", flowschema.ColVerdictSteps)

// protocolNames are the protocols explain names; others show as their number.
var protocolNames = map[int64]string{6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}

// ProtocolNumber is the IANA number of a protocol name explain knows (tcp, udp, icmp, icmpv6), or of a number
// 0-255 as text.
func ProtocolNumber(s string) (int, bool) {
	for n, name := range protocolNames {
		if strings.EqualFold(s, name) {
			return int(n), true
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= 255
}

// Explain returns the analyzed records of the flows view (flowschema.FlowsView) of db that f selects, in start
// then file and line order, each with its steps and a one-line verdict, and how many records match in all
// (more than returned when f.Limit cuts).
func Explain(ctx context.Context, db *sql.DB, f ExplainFilter) ([]Explained, int64, error) {
	have, err := tableColumns(ctx, db, flowschema.FlowsView)
	if err != nil {
		return nil, 0, err
	}
	if !have[flowschema.ColModelAction] {
		return nil, 0, ErrNotAnalyzed
	}
	if !have[flowschema.ColVerdictSteps] {
		return nil, 0, ErrOldVersion
	}
	// Columns a flow log's format may lack read as NULL.
	col := func(name string) string {
		if have[name] {
			return "f." + quoteIdent(name)
		}
		return "NULL"
	}
	var where []string
	var args []any
	add := func(cond string, vals ...any) {
		where = append(where, cond)
		args = append(args, vals...)
	}
	if f.Interface != "" {
		add(col(flowschema.ColInterfaceID)+" = ?", f.Interface)
	}
	// Addresses are matched in Go against the distinct addresses of the file, so that a prefix and every
	// spelling of an IPv6 address select the same records.
	for _, a := range []struct {
		p    netip.Prefix
		cols []string
	}{
		{f.Addr, []string{flowschema.ColSrcAddr, flowschema.ColDstAddr}},
		{f.Src, []string{flowschema.ColSrcAddr}},
		{f.Dst, []string{flowschema.ColDstAddr}},
	} {
		if !a.p.IsValid() {
			continue
		}
		in, err := addressesIn(ctx, db, col, a.p)
		if err != nil {
			return nil, 0, err
		}
		if len(in) == 0 {
			where = append(where, "false")
			continue
		}
		list := "(?" + strings.Repeat(", ?", len(in)-1) + ")"
		var conds []string
		for _, c := range a.cols {
			conds = append(conds, col(c)+" IN "+list)
			for _, s := range in {
				args = append(args, s)
			}
		}
		where = append(where, "("+strings.Join(conds, " OR ")+")")
	}
	if f.Port >= 0 {
		add("("+col(flowschema.ColSrcPort)+" = ? OR "+col(flowschema.ColDstPort)+" = ?)", f.Port, f.Port)
	}
	if f.DstPort >= 0 {
		add(col(flowschema.ColDstPort)+" = ?", f.DstPort)
	}
	if f.Protocol >= 0 {
		add(col(flowschema.ColProtocol)+" = ?", f.Protocol)
	}
	if f.Action != "" {
		add(col(flowschema.ColAction)+" = ?", f.Action)
	}
	if f.Cause != "" {
		add(col(flowschema.ColVerdictCause)+" = ?", f.Cause)
	}
	if f.Layer != "" {
		add(col(flowschema.ColVerdictLayer)+" = ?", f.Layer)
	}
	if f.Disagree {
		add(col(flowschema.ColModelAgrees) + " = false")
	}
	cond := ""
	if len(where) > 0 {
		cond = "\n\tWHERE " + strings.Join(where, " AND ")
	}
	var total int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM flows f"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	query := `SELECT f.source_file, f.source_line, ` + col(flowschema.ColStart) + `, ` + col(flowschema.ColInterfaceID) + `, f.direction, ` +
		col(flowschema.ColProtocol) + `, ` + col(flowschema.ColSrcAddr) + `, ` + col(flowschema.ColSrcPort) + `, ` +
		col(flowschema.ColDstAddr) + `, ` + col(flowschema.ColDstPort) + `, ` + col(flowschema.ColAction) + `,
		f.model_action, f.verdict_layer, f.verdict_rule, f.verdict_resource, f.verdict_also, f.verdict_cause,
		f.verdict_steps, f.flow_role, f.initiator
	FROM flows f`
	query += cond + fmt.Sprintf("\n\tORDER BY %s, f.source_file, f.source_line", col(flowschema.ColStart))
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Explained
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
			return nil, 0, err
		}
		e := Explained{Source: fmt.Sprintf("%s:%d", file, line), Interface: iface.String, Direction: dir.String,
			Protocol: protoName(proto), Src: hostPort(src, sport), Dst: hostPort(dst, dport), Logged: orDash(logged),
			Model: orDash(model), Role: role.String, Initiator: initiator.String}
		if start.Valid {
			e.Start = time.Unix(start.Int64, 0).UTC()
		}
		if steps.Valid {
			if err := json.Unmarshal([]byte(steps.String), &e.Steps); err != nil {
				return nil, 0, fmt.Errorf("%s of %s: %w", flowschema.ColVerdictSteps, e.Source, err)
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
	return out, total, rows.Err()
}

// addressesIn returns the distinct source and destination address texts of the flows whose address is in p.
func addressesIn(ctx context.Context, db *sql.DB, col func(string) string, p netip.Prefix) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT a FROM (SELECT `+col(flowschema.ColSrcAddr)+` AS a FROM flows f
		UNION ALL SELECT `+col(flowschema.ColDstAddr)+` FROM flows f) WHERE a IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var in []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		if a, err := netip.ParseAddr(s); err == nil && p.Contains(a.Unmap()) {
			in = append(in, s)
		}
	}
	return in, rows.Err()
}

// MatchInterfaces returns the interface ids of the flows in db that start with prefix, sorted (at most limit).
func MatchInterfaces(ctx context.Context, db *sql.DB, prefix string, limit int) ([]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT DISTINCT interface_id FROM flows WHERE starts_with(interface_id, ?)
		ORDER BY 1 LIMIT %d`, limit), prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		ids = append(ids, s)
	}
	return ids, rows.Err()
}

func protoName(p sql.NullInt64) string {
	if !p.Valid {
		return "-"
	}
	if n, ok := protocolNames[p.Int64]; ok {
		return n
	}
	return strconv.FormatInt(p.Int64, 10)
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

// quoteIdent quotes a column name for DuckDB SQL.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// tableColumns lists the columns of a table or view, or says that the database has none of that name.
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
	if len(cols) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("no table %q: run 'flowlens analyze' first", table)
	}
	return cols, rows.Err()
}
