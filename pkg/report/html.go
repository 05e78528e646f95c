package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/flowlens/flowlens/internal/human"
)

// The page: report.html.tmpl, rendered with html/template from a page (the Report plus the charts' geometry,
// computed here in Go). It is one file with its style inline, SVG charts and no script: it loads nothing, so it
// works offline and from a mail attachment. Elements that carry a number the test reads have an id or data-*
// attributes with the exact value (data-records="1066"), beside the text shown for people.

//go:embed report.html.tmpl
var pageText string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"count": human.Count,
	"bytes": human.Bytes,
	"pct":   pct,
	"pct2":  pct2,
	"when":  func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
	"add":   func(a, b int) int { return a + b },
	"dur":   humanDuration,
	"sub64": func(a int64, b int) int64 { return a - int64(b) },
	"bars":  func(kind string, bars []bar) barTable { return barTable{kind, bars} },
}).Parse(pageText))

// barTable is what the "bars" template reads: a ranking's rows and what they are (port, peer).
type barTable struct {
	Kind string
	Bars []bar
}

// WriteHTML renders r as one self-contained HTML page.
func WriteHTML(w io.Writer, r *Report) error {
	return pageTemplate.Execute(w, newPage(r))
}

// page is what the template reads.
type page struct {
	*Report
	Window     time.Duration
	Chart      timelineChart
	PortBars   []bar
	PeerBars   []bar
	PortsFold  string
	PeersFold  string
	Graph      edgeGraph
	GraphNote  string // what the graph leaves out of the table, if anything
	EdgesFold  string
	UnusedFold string
	BroadFold  string
}

func newPage(r *Report) page {
	drawn := r.Edges.Rows[:min(len(r.Edges.Rows), maxGraphEdges)]
	p := page{Report: r, Window: r.Overview.Until.Sub(r.Overview.Since), Chart: newTimelineChart(r.Timeline),
		PortBars: bars(r.Ports), PeerBars: bars(r.Peers), Graph: newEdgeGraph(drawn)}
	if n := len(r.Edges.Rows); n > maxGraphEdges {
		p.GraphNote = fmt.Sprintf("The graph draws the first %d pairs of the table's %d.", maxGraphEdges, n)
	}
	if k, n := r.Ports.Folded(); k > 0 {
		p.PortsFold = fmt.Sprintf("and %s more ports: %s of these records", human.Count(k), pct(ratio(n, r.Ports.Records)))
	}
	if k, n := r.Peers.Folded(); k > 0 {
		p.PeersFold = fmt.Sprintf("and %s more peers: %s of these records", human.Count(k), pct(ratio(n, r.Peers.Records)))
	}
	if k, n, b := r.Edges.Folded(); k > 0 {
		p.EdgesFold = fmt.Sprintf("and %s more pairs: %s of records, %s of bytes", human.Count(k),
			pct(ratio(n, r.Edges.Records)), pct(ratio(b, r.Edges.Bytes)))
	}
	if k := r.Unused.Total - int64(len(r.Unused.Rows)); k > 0 {
		p.UnusedFold = fmt.Sprintf("and %s more unused rules (flowlens sql 'FROM unused_rules' lists them all)", human.Count(k))
	}
	if k := r.Broad.Total - int64(len(r.Broad.Rows)); k > 0 {
		p.BroadFold = fmt.Sprintf("and %s more over-broad rules", human.Count(k))
	}
	return p
}

func ratio(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// pct renders a fraction as a percentage with one decimal: 0.05612 is 5.6%; a fraction that would round to
// 0% or 100% without being either is <0.1% or >99.9%.
func pct(f float64) string { return percent(f, 1) }

// pct2 is pct with two decimals, for the agreement rate (as analyze prints it): 99.97%, >99.99%.
func pct2(f float64) string { return percent(f, 2) }

func percent(f float64, decimals int) string {
	unit := math.Pow(10, -float64(decimals)) / 100 // the smallest fraction shown: 0.001 for one decimal
	switch {
	case f > 0 && f < unit:
		return fmt.Sprintf("<%.*f%%", decimals, 100*unit)
	case f < 1 && f >= 1-unit/2:
		return fmt.Sprintf(">%.*f%%", decimals, 100*(1-unit))
	}
	return fmt.Sprintf("%.*f%%", decimals, 100*f)
}

// humanDuration renders a window: 31m0s is "31 min", 50h is "2.1 days".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int64(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int64(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f hours", d.Hours())
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}

// bar is a ranked row with its bar's width (percent of the longest).
type bar struct {
	Key     string
	Records int64
	Width   float64
	Share   string
}

func bars(r Ranking) []bar {
	var top int64 = 1
	for _, c := range r.Rows {
		top = max(top, c.Count)
	}
	out := make([]bar, len(r.Rows))
	for i, c := range r.Rows {
		out[i] = bar{Key: c.Key, Records: c.Count, Width: round1(100 * float64(c.Count) / float64(top)),
			Share: pct(ratio(c.Count, r.Records))}
	}
	return out
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// The timeline chart's frame (px).
const (
	chartW, chartH        = 960, 300
	chartLeft, chartRight = 64, 12
	chartTop, chartBottom = 14, 44
	plotW                 = chartW - chartLeft - chartRight
	plotH                 = chartH - chartTop - chartBottom
	maxLabels             = 10
	seriesColorsPerLayer  = 3
)

// layerColors: a hue per layer (shades for its causes), in the order of pkg/replay's layers; the last is for
// REJECTs the model did not make.
var layerColors = map[string][seriesColorsPerLayer]string{
	"nacl-inbound":  {"#2f6db5", "#6d9fd8", "#a9c7ec"},
	"nacl-outbound": {"#16857a", "#4cb5a8", "#93d8cf"},
	"sg-inbound":    {"#d9711c", "#f0a15c", "#f7c99b"},
	"sg-outbound":   {"#c0392b", "#e07064", "#f0aaa2"},
	"bpa":           {"#7d4fb0", "#a983d3", "#d0bcea"},
	"":              {"#6b6b6b", "#9a9a9a", "#c4c4c4"},
}

type timelineChart struct {
	W, H, PlotW, PlotH, Left, Top int
	Legend                        []legendItem
	Bars                          []chartBar
	YTicks                        []tick
	XLabels                       []tick
	Bucket                        string
}

type legendItem struct {
	Label, Color string
	Records      int64
}

type chartBar struct {
	Start, Label string // RFC 3339, and as shown
	Total        int64
	X, W         float64
	Rects        []chartRect
}

type chartRect struct {
	Series, Color string
	Records       int64
	Y, H          float64
}

type tick struct {
	Label string
	X, Y  float64
}

func newTimelineChart(t Timeline) timelineChart {
	c := timelineChart{W: chartW, H: chartH, PlotW: plotW, PlotH: plotH, Left: chartLeft, Top: chartTop,
		Bucket: humanDuration(t.Bucket)}
	colors := make([]string, len(t.Series))
	used := map[string]int{}
	for i, s := range t.Series {
		shades, ok := layerColors[s.Layer]
		if !ok {
			shades = layerColors[""]
		}
		colors[i] = shades[min(used[s.Layer], seriesColorsPerLayer-1)]
		used[s.Layer]++
		c.Legend = append(c.Legend, legendItem{Label: s.Label(), Color: colors[i], Records: s.Records})
	}
	if len(t.Buckets) == 0 {
		return c
	}
	top := niceCeil(t.Max)
	for i := int64(0); i <= 4; i++ {
		v := top * i / 4
		c.YTicks = append(c.YTicks, tick{Label: human.Count(v), Y: round1(chartTop + plotH - plotH*float64(v)/float64(top))})
	}
	step := float64(plotW) / float64(len(t.Buckets))
	every := (len(t.Buckets) + maxLabels - 1) / maxLabels
	format := "15:04"
	if t.Bucket >= 24*time.Hour {
		format = "Jan 2"
	}
	for i, b := range t.Buckets {
		x := chartLeft + step*float64(i)
		cb := chartBar{Start: b.Start.Format(time.RFC3339), Label: b.Start.Format("2006-01-02 15:04"), Total: b.Total,
			X: round1(x + step*0.1), W: round1(math.Max(step*0.8, 1))}
		y := float64(chartTop + plotH)
		for j, n := range b.Counts {
			if n == 0 {
				continue
			}
			h := plotH * float64(n) / float64(top)
			y -= h
			cb.Rects = append(cb.Rects, chartRect{Series: t.Series[j].Label(), Color: colors[j], Records: n,
				Y: round1(y), H: round1(h)})
		}
		c.Bars = append(c.Bars, cb)
		if i%every == 0 {
			label := b.Start.Format(format)
			if i == 0 || (format == "15:04" && b.Start.YearDay() != t.Buckets[i-every].Start.YearDay()) {
				label = b.Start.Format("Jan 2 " + format)
				if format != "15:04" {
					label = b.Start.Format("2006-01-02")
				}
			}
			c.XLabels = append(c.XLabels, tick{Label: label, X: round1(x + step/2), Y: chartTop + plotH + 18})
		}
	}
	return c
}

// niceCeil returns the chart's top: the smallest of 1, 2, 4 and 8 times a power of ten that is at least n and
// divisible by 4, so that the four tick steps are whole numbers (4, 8, 20, 40, 80, 100, 200, ...).
func niceCeil(n int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 4, 8} {
			if v := m * p; v >= n && v%4 == 0 {
				return v
			}
		}
	}
}

// The who-talks-to-whom graph: sources (clients) in a column on the left, destinations (servers) on the
// right, one curve per edge, its width by bytes and its colour by how much of it was rejected.
const (
	maxGraphEdges   = 40 // more curves would not be told apart: the table below lists the rest of the top
	graphW          = 960
	graphRow        = 28
	nodeW           = 250
	graphPad        = 10
	maxStroke       = 12.0
	nodeLabelLength = 34
)

type edgeGraph struct {
	W, H           int
	Sources, Dests []graphNode
	Curves         []graphCurve
}

type graphNode struct {
	ID, Names, Label, Title, Kind string
	X, Y                          float64 // the box's top left
	W, H                          float64
}

type graphCurve struct {
	Path, Color, Title string
	Width              float64
	Records, Bytes     int64
	Rejected           int64
	Source, Dest       string
}

func newEdgeGraph(edges []Edge) edgeGraph {
	g := edgeGraph{W: graphW}
	src, dst := map[string]int{}, map[string]int{}
	node := func(id, kind, names string, x float64, n int) graphNode {
		label := id
		if names != "" {
			label = names
		}
		title := label
		if names != "" && names != id {
			title = names + " (" + id + ")"
		}
		if r := []rune(label); len(r) > nodeLabelLength {
			label = string(r[:nodeLabelLength-1]) + "…"
		}
		return graphNode{ID: id, Names: names, Label: label, Title: title, Kind: kind, X: x, Y: float64(graphPad + n*graphRow),
			W: nodeW, H: graphRow - 6}
	}
	var top int64 = 1
	for _, e := range edges {
		top = max(top, e.Bytes)
		if _, ok := src[e.Source]; !ok {
			src[e.Source] = len(g.Sources)
			g.Sources = append(g.Sources, node(e.Source, e.SourceKind, e.SourceNames, graphPad, len(g.Sources)))
		}
		if _, ok := dst[e.Destination]; !ok {
			dst[e.Destination] = len(g.Dests)
			g.Dests = append(g.Dests, node(e.Destination, e.DestinationKind, e.DestinationNames, graphW-graphPad-nodeW,
				len(g.Dests)))
		}
	}
	g.H = 2*graphPad + max(len(g.Sources), len(g.Dests))*graphRow
	x1, x2 := float64(graphPad+nodeW), float64(graphW-graphPad-nodeW)
	mid := (x1 + x2) / 2
	for _, e := range edges {
		s, d := g.Sources[src[e.Source]], g.Dests[dst[e.Destination]]
		y1, y2 := s.Y+s.H/2, d.Y+d.H/2
		color := "#4c78a8" // all accepted
		switch {
		case e.Rejected == e.Records && e.Records > 0:
			color = "#c0392b"
		case e.Rejected > 0:
			color = "#e8891d"
		}
		g.Curves = append(g.Curves, graphCurve{
			Path:  fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, mid, y1, mid, y2, x2, y2),
			Color: color, Width: round1(1 + (maxStroke-1)*math.Sqrt(float64(e.Bytes)/float64(top))),
			Title: fmt.Sprintf("%s → %s: %s; %s records, %s, %s rejected", s.Title, d.Title,
				strings.Join(e.Services, ", "), human.Count(e.Records), human.Bytes(e.Bytes), human.Count(e.Rejected)),
			Records: e.Records, Bytes: e.Bytes, Rejected: e.Rejected, Source: e.Source, Dest: e.Destination,
		})
	}
	return g
}
