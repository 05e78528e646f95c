package store

import (
	"context"
	"database/sql"
	"regexp"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/flowlens/flowlens/pkg/arrowutil"
)

// Compression hints.
//
// DuckDB 1.1 spends most of a file write on VARCHAR columns: when it checkpoints a row group it analyses every
// string column with both of its string codecs (dictionary and FSST) and keeps the smaller, which costs about as
// much again as compressing with the winner. Naming the codec per column (CREATE TABLE t (c VARCHAR USING
// COMPRESSION dictionary)) skips the losing analysis: 15% less write CPU on a real flow-log table, 20-25% on one with
// random addresses, and the file is as small as with DuckDB's own choice (bench/store_bench.sh).
//
// The codec is picked from the distinct-value ratio of a sample of the reader's first batch: few distinct values
// (flow logs' account, interface, action, status, file and verdict columns, and addresses too, which repeat
// within a log) get dictionary, nearly all distinct get FSST, anything in between and small batches keep
// DuckDB's per-segment choice. A wrong guess only costs file size (a later batch unlike the first one is still
// stored correctly), never correctness. The hint stays in the table's definition, so rows the user appends later
// use the same codec.
const (
	hintSample       = 8192 // values sampled (evenly spread) from the first batch of each string column
	hintMinSample    = 1024 // fewer non-null values than this: no hint
	hintDictMaxRatio = 0.25 // distinct/sampled at most this: dictionary
	hintFSSTMinRatio = 0.75 // distinct/sampled at least this: fsst
)

// simpleType matches DuckDB type names that read back as the same type in a column definition: no nesting,
// no quoting (INTEGER, TIMESTAMP WITH TIME ZONE, DECIMAL(18,3), VARCHAR). Anything else keeps the CTAS path.
var simpleType = regexp.MustCompile(`^[A-Z][A-Z0-9_ ]*(\(\d+(, ?\d+)?\))?$`)

// createTable creates table name (already quoted) from the rows of view, which reads s. It peeks at the first
// batch to choose per-column string compression (see above) and then runs CREATE TABLE name (columns) and
// INSERT INTO name SELECT * FROM view; without hints it runs CREATE TABLE name AS SELECT * FROM view, as before.
// Both are one parallel insert; the result's RowsAffected is the row count.
func createTable(ctx context.Context, tx *sql.Tx, name, view string, s *streamReader, hints bool) (sql.Result, error) {
	src := QuoteIdent(view)
	var first arrow.Record
	if hints {
		first = s.peek()
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if first != nil {
		defs, err := columnDefs(ctx, tx, src, first)
		if err != nil {
			return nil, err
		}
		if defs != nil {
			if _, err := tx.ExecContext(ctx, "CREATE TABLE "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
				return nil, err
			}
			return tx.ExecContext(ctx, "INSERT INTO "+name+" SELECT * FROM "+src)
		}
	}
	return tx.ExecContext(ctx, "CREATE TABLE "+name+" AS SELECT * FROM "+src)
}

// columnDefs returns the column definitions of the table for view (quoted) with compression hints taken from
// sample, or nil when no column gets a hint or the view's columns cannot be spelled out safely.
func columnDefs(ctx context.Context, tx *sql.Tx, view string, sample arrow.Record) ([]string, error) {
	// DESCRIBE only binds the query: it reads the stream's schema, not its batches.
	rows, err := tx.QueryContext(ctx, "DESCRIBE SELECT * FROM "+view)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var names, types []string
	for rows.Next() {
		dest := make([]any, len(cols))
		var name, typ string
		dest[0], dest[1] = &name, &typ
		for i := 2; i < len(dest); i++ {
			dest[i] = new(any)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		names, types = append(names, name), append(types, typ)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sc := sample.Schema()
	if len(names) != sc.NumFields() {
		return nil, nil
	}
	seen := make(map[string]bool, len(names))
	defs := make([]string, len(names))
	hinted := false
	for i, n := range names {
		key := strings.ToLower(n)
		if n != sc.Field(i).Name || seen[key] || !simpleType.MatchString(types[i]) {
			return nil, nil // columns not as expected: let CTAS handle it
		}
		seen[key] = true
		defs[i] = QuoteIdent(n) + " " + types[i]
		if vals := arrowutil.EnumValues(sc.Field(i)); types[i] == "VARCHAR" && len(vals) > 0 {
			// A column that declares all its values is stored as an ENUM: compared like VARCHAR, far
			// cheaper to write; a value outside the list fails the write (and so the atomic replace).
			quoted := make([]string, len(vals))
			for j, v := range vals {
				quoted[j] = QuoteString(v)
			}
			defs[i] = QuoteIdent(n) + " ENUM(" + strings.Join(quoted, ", ") + ")"
			hinted = true
		} else if types[i] == "VARCHAR" {
			if h := compressionHint(sample.Column(i)); h != "" {
				defs[i] += " USING COMPRESSION " + h
				hinted = true
			}
		}
	}
	if !hinted {
		return nil, nil
	}
	return defs, nil
}

// stringValues is implemented by the Arrow string arrays (utf8, large_utf8, string_view).
type stringValues interface {
	arrow.Array
	Value(i int) string
}

// compressionHint returns "dictionary", "fsst" or "" (let DuckDB choose) for a string column, from the ratio of
// distinct values in an evenly spread sample of col.
func compressionHint(col arrow.Array) string {
	value, ok := stringGetter(col)
	if !ok {
		return ""
	}
	distinct, sampled := sampleDistinct(col, value)
	if sampled < hintMinSample {
		return ""
	}
	switch ratio := float64(distinct) / float64(sampled); {
	case ratio <= hintDictMaxRatio:
		return "dictionary"
	case ratio >= hintFSSTMinRatio:
		return "fsst"
	}
	return ""
}

// sampleDistinct counts the non-NULL values of an evenly spread sample of about hintSample rows of col, and how
// many of them are distinct; value reads a row.
func sampleDistinct(col arrow.Array, value func(i int) string) (distinct, sampled int) {
	n := col.Len()
	step := max(1, n/hintSample)
	seen := make(map[string]struct{}, min(n, hintSample)/4)
	for i := 0; i < n; i += step {
		if col.IsValid(i) {
			sampled++
			seen[value(i)] = struct{}{}
		}
	}
	return len(seen), sampled
}

// stringGetter returns the i-th value of a string or dictionary-of-string array.
func stringGetter(col arrow.Array) (func(i int) string, bool) {
	switch c := col.(type) {
	case *array.Dictionary:
		dict, ok := c.Dictionary().(stringValues)
		if !ok {
			return nil, false
		}
		return func(i int) string { return dict.Value(c.GetValueIndex(i)) }, true
	case stringValues:
		return c.Value, true
	}
	return nil, false
}
