package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/flowlens/flowlens/internal/human"
)

// WriteDOT writes the page's who-talks-to-whom graph (r.Edges: its top pairs, most bytes first) as a Graphviz
// digraph: a node per identity (a box for security groups, a box with rounded corners for an interface without
// groups, an ellipse for a CIDR), an edge per pair labelled with its services and records, drawn wider for more
// bytes and coloured as on the page (blue: all accepted, orange: partly rejected, red: all rejected). What the
// top left out is said in a comment. Render it with dot -Tsvg.
func WriteDOT(w io.Writer, r *Report) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "// flowlens report: who talks to whom in %s (the group_edges view summed per source and destination)\n", r.File)
	fmt.Fprintf(b, "// top %d of %s pairs by bytes", len(r.Edges.Rows), human.Count(r.Edges.Edges))
	if k, n, by := r.Edges.Folded(); k > 0 {
		fmt.Fprintf(b, "; left out: %s pairs, %s of records, %s of bytes", human.Count(k), pct(ratio(n, r.Edges.Records)),
			pct(ratio(by, r.Edges.Bytes)))
	}
	b.WriteString("\ndigraph flowlens {\n\trankdir=LR;\n\tnode [fontname=\"Helvetica\", fontsize=10];\n" +
		"\tedge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.6];\n")
	g := newEdgeGraph(r.Edges.Rows)
	seen := map[string]bool{}
	for _, n := range append(g.Sources, g.Dests...) {
		if seen[n.ID] {
			continue
		}
		seen[n.ID] = true
		shape := "box"
		switch n.Kind {
		case "cidr":
			shape = "ellipse"
		case "interface":
			shape = "box, style=rounded"
		}
		label := dotEscape(n.ID)
		if n.Names != "" && n.Names != n.ID {
			label = dotEscape(n.Names) + `\n` + label
		}
		fmt.Fprintf(b, "\t\"%s\" [label=\"%s\", shape=%s];\n", dotEscape(n.ID), label, shape)
	}
	for i, c := range g.Curves {
		e := r.Edges.Rows[i]
		services := strings.Join(e.Services, ", ")
		if more := e.ServiceCount - int64(len(e.Services)); more > 0 {
			services += fmt.Sprintf(" +%d", more)
		}
		fmt.Fprintf(b, "\t\"%s\" -> \"%s\" [label=\"%s\\n%s records, %s\", penwidth=%.1f, color=\"%s\"];\n",
			dotEscape(e.Source), dotEscape(e.Destination), dotEscape(services), human.Count(e.Records),
			human.Bytes(e.Bytes), c.Width, c.Color)
	}
	b.WriteString("}\n")
	return b.Flush()
}

// dotEscape makes s safe inside a DOT double-quoted string.
func dotEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
