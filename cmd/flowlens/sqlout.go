package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The result writers of flowlens sql. Each statement's result is begin, row for every row, end. csv and json
// write every row as it comes; table and markdown hold the first tableWindow rows to size the columns, then
// write the rest as they come, cut to those widths.

// tableWindow is how many rows table and markdown output read before sizing the columns.
const tableWindow = 1000

// sqlColumn is one column of a result.
type sqlColumn struct {
	name string
	typ  *sqlType
}

type resultWriter interface {
	begin(cols []sqlColumn) error
	row(vals []any) error
	end(rows int64) error
}

func newResultWriter(format string, w *bufio.Writer, width int) resultWriter {
	switch format {
	case "csv":
		return &csvWriter{w: w}
	case "json":
		return &jsonWriter{w: w}
	case "markdown":
		return &tableWriter{w: w, width: width, markdown: true}
	}
	return &tableWriter{w: w, width: width}
}

// outputFormats are the values of sql's -o.
var outputFormats = []string{"table", "csv", "json", "markdown"}

// tableWriter writes aligned columns (numbers to the right), NULL as NULL, control characters escaped, values
// longer than width cut with an ellipsis; markdown writes a GitHub table the same way, | escaped.
type tableWriter struct {
	w        *bufio.Writer
	width    int // at most this many characters per value (0: no limit)
	markdown bool
	results  int // results written so far, to separate them

	cols    []sqlColumn
	widths  []int // nil until the columns are sized
	pending [][]string
	cell    []byte
}

func (t *tableWriter) begin(cols []sqlColumn) error {
	t.cols, t.widths, t.pending = cols, nil, t.pending[:0]
	if t.results > 0 {
		t.w.WriteByte('\n')
	}
	t.results++
	return nil
}

var tableEscapes = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`)
var markdownEscapes = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`, "|", `\|`)

func (t *tableWriter) text(v any, typ *sqlType) string {
	if v == nil {
		return "NULL"
	}
	t.cell = appendText(t.cell[:0], v, typ)
	s := string(t.cell)
	if t.markdown {
		s = markdownEscapes.Replace(s)
	} else {
		s = tableEscapes.Replace(s)
	}
	return cut(s, t.width)
}

// cut shortens s to width characters, the last an ellipsis, when it is longer (width 0: never).
func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	n := 0
	for i := range s {
		if n == width-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

func (t *tableWriter) row(vals []any) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = t.text(v, t.cols[i].typ)
	}
	if t.widths == nil {
		t.pending = append(t.pending, cells)
		if len(t.pending) < tableWindow {
			return nil
		}
		t.flushPending()
		return nil
	}
	for i, c := range cells {
		cells[i] = cut(c, t.widths[i])
	}
	t.line(cells)
	return nil
}

// flushPending sizes the columns from the header and the rows held, and writes them.
func (t *tableWriter) flushPending() {
	t.widths = make([]int, len(t.cols))
	header := make([]string, len(t.cols))
	for i, c := range t.cols {
		header[i] = c.name
		if t.markdown {
			header[i] = markdownEscapes.Replace(header[i])
		}
		t.widths[i] = max(utf8.RuneCountInString(header[i]), 1)
		if t.markdown {
			t.widths[i] = max(t.widths[i], 3) // room for the ---: of the separator
		}
	}
	for _, r := range t.pending {
		for i, c := range r {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c))
		}
	}
	t.line(header)
	rule := make([]string, len(t.cols))
	for i, w := range t.widths {
		rule[i] = strings.Repeat("-", w)
		if t.markdown && t.cols[i].typ.numeric() {
			rule[i] = rule[i][1:] + ":"
		}
	}
	t.line(rule)
	for _, r := range t.pending {
		t.line(r)
	}
	t.pending = t.pending[:0]
}

func (t *tableWriter) line(cells []string) {
	var b strings.Builder
	if t.markdown {
		b.WriteString("|")
	}
	for i, c := range cells {
		pad := strings.Repeat(" ", max(t.widths[i]-utf8.RuneCountInString(c), 0))
		switch {
		case t.markdown:
			b.WriteByte(' ')
		case i > 0:
			b.WriteString("  ")
		}
		if t.cols[i].typ.numeric() {
			b.WriteString(pad + c)
		} else {
			b.WriteString(c + pad)
		}
		if t.markdown {
			b.WriteString(" |")
		}
	}
	t.w.WriteString(strings.TrimRight(b.String(), " "))
	t.w.WriteByte('\n')
}

func (t *tableWriter) end(rows int64) error {
	if t.widths == nil {
		t.flushPending()
	}
	if !t.markdown {
		noun := "rows"
		if rows == 1 {
			noun = "row"
		}
		fmt.Fprintf(t.w, "(%d %s)\n", rows, noun)
	}
	return t.w.Flush()
}

// csvWriter writes RFC 4180 CSV with a header line: NULL is an empty field and the empty string "" (as
// DuckDB's COPY writes them); results of several statements are separated by an empty line.
type csvWriter struct {
	w       *bufio.Writer
	cols    []sqlColumn
	results int
	buf     []byte
}

func (c *csvWriter) begin(cols []sqlColumn) error {
	c.cols = cols
	if c.results > 0 {
		c.w.WriteByte('\n')
	}
	c.results++
	for i, col := range cols {
		if i > 0 {
			c.w.WriteByte(',')
		}
		c.field(col.name)
	}
	c.w.WriteString("\r\n")
	return nil
}

func (c *csvWriter) field(s string) {
	if s == "" || strings.ContainsAny(s, ",\"\r\n") || s[0] == ' ' || s[len(s)-1] == ' ' {
		c.w.WriteByte('"')
		c.w.WriteString(strings.ReplaceAll(s, `"`, `""`))
		c.w.WriteByte('"')
		return
	}
	c.w.WriteString(s)
}

func (c *csvWriter) row(vals []any) error {
	for i, v := range vals {
		if i > 0 {
			c.w.WriteByte(',')
		}
		if v != nil {
			c.buf = appendText(c.buf[:0], v, c.cols[i].typ)
			c.field(string(c.buf))
		}
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

func (c *csvWriter) end(int64) error { return c.w.Flush() }

// jsonWriter writes each result as a JSON array of objects, one row per line, keys in column order (a
// repeated column name gets _2, _3, ...).
type jsonWriter struct {
	w    *bufio.Writer
	cols []sqlColumn
	keys [][]byte
	n    int64
	buf  []byte
}

func (j *jsonWriter) begin(cols []sqlColumn) error {
	j.cols, j.n, j.keys = cols, 0, make([][]byte, len(cols))
	seen := map[string]int{}
	for i, c := range cols {
		name := c.name
		if seen[name]++; seen[name] > 1 {
			name += "_" + strconv.Itoa(seen[name])
		}
		j.keys[i] = appendJSONString(nil, name)
	}
	j.w.WriteString("[")
	return nil
}

func (j *jsonWriter) row(vals []any) error {
	b := j.buf[:0]
	if j.n > 0 {
		b = append(b, ',')
	}
	b = append(b, "\n{"...)
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		b = append(b, ':')
		b = appendJSON(b, v, j.cols[i].typ)
	}
	b = append(b, '}')
	j.buf = b
	j.n++
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) end(int64) error {
	if j.n > 0 {
		j.w.WriteByte('\n')
	}
	j.w.WriteString("]\n")
	return j.w.Flush()
}
