package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/flowlens/flowlens/pkg/results"
	"github.com/flowlens/flowlens/pkg/store"
)

type sqlConfig struct {
	db     string
	output string
	width  int
	query  string // "" : read the statements from stdin
}

func sqlCommand() *command {
	return &command{
		name:    "sql",
		summary: "run SQL on the results (read-only): the tables, and views such as rejects_by_rule and unused_rules",
		run: func(ctx context.Context, env *cmdEnv, args []string) error {
			var cfg sqlConfig
			fs := newFlagSet(env, "sql", "sql [--db FILE] [-o FORMAT] [QUERY]\n\n"+
				"Runs QUERY, or the ;-separated statements read from stdin when there is no QUERY, on the DuckDB file\n"+
				"that analyze or ingest wrote, opened read-only (extensions are neither installed nor loaded), and\n"+
				"prints each statement's rows. Stops at the first statement that fails, with DuckDB's message (naming the\n"+
				"statement's number and line when there are several), exit status 1.\n\n"+
				"Tables: flows, rule_hits, ingest_errors, topology_*, flowlens_runs, and audit_* and recommend_* once those ran.\n"+
				"Views that answer the usual questions (the audit_ and recommend_ ones once those ran)\n"+
				"(README, 'Query the results'):\n  "+strings.Join(results.ViewNames(), ", ")+".\n\n"+
				"Values: NULL shows as NULL (table, markdown), an empty field (csv) or null (json); timestamps as\n"+
				"RFC 3339 (UTC); numbers in full; lists as [a, b], structs as {'field': value}. table and markdown cut\n"+
				"values longer than --width with an ellipsis and size their columns on the first 1,000 rows; csv and\n"+
				"json write every value whole, row by row.",
				"# rules that allowed nothing (NACL * entries left out)",
				"flowlens sql 'SELECT * FROM unused_rules'",
				"# who talks to whom, by security group and external network, as CSV",
				"flowlens sql -o csv 'SELECT * FROM group_edges ORDER BY bytes DESC' > edges.csv",
				"# several statements from a file or a here-document; errors name the statement",
				"flowlens sql --db day.duckdb < queries.sql",
				"# the REJECTs by layer, as a Markdown table for a ticket",
				"flowlens sql -o markdown 'FROM rejects_by_layer'")
			fs.StringVar(&cfg.db, "db", DefaultDB, "DuckDB `FILE` written by flowlens analyze or ingest --db")
			fs.StringVarP(&cfg.output, "output", "o", "table", "output `FORMAT`: "+strings.Join(outputFormats, ", "))
			fs.IntVar(&cfg.width, "width", 40, "table and markdown: cut values longer than `N` characters (0: never)")
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			switch {
			case fs.NArg() > 1:
				return usageErrorf("%d arguments: give the query as one argument (quote it), or on stdin", fs.NArg())
			case !slices.Contains(outputFormats, cfg.output):
				return usageErrorf("-o %q: want one of %s", cfg.output, strings.Join(outputFormats, ", "))
			case cfg.width < 0:
				return usageErrorf("--width %d: want 0 (no limit) or more", cfg.width)
			case cfg.db == "":
				return usageErrorf("--db must name a file")
			}
			if fs.NArg() == 1 {
				cfg.query = fs.Arg(0)
				if strings.TrimSpace(cfg.query) == "" {
					return usageErrorf("the query is empty")
				}
			}
			return runSQL(ctx, env, cfg)
		},
	}
}

func runSQL(ctx context.Context, env *cmdEnv, cfg sqlConfig) error {
	script, fromStdin := cfg.query, cfg.query == ""
	if fromStdin {
		b, err := io.ReadAll(env.stdin)
		if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		script = string(b)
	}
	stmts := results.SplitStatements(script)
	if len(stmts) == 0 {
		if fromStdin {
			return usageErrorf("no statement on stdin: give a QUERY argument or pipe statements in (see --help)")
		}
		return usageErrorf("the query holds no statement, only comments")
	}
	if _, err := os.Stat(cfg.db); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: write it with 'flowlens analyze' (or give --db)", cfg.db)
	}
	db, err := store.OpenReadOnly(cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	// One connection for every statement, so that a SET holds for the statements after it.
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.db, err)
	}
	defer conn.Close()
	// flowlens never reaches the network: a statement may not install or load an extension, nor turn the
	// offline settings back on (external access also covers other files: query the results, not the disk).
	if _, err := conn.ExecContext(ctx, "SET enable_external_access = false; SET lock_configuration = true"); err != nil {
		return fmt.Errorf("%s: %w", cfg.db, err)
	}
	out := bufio.NewWriter(env.stdout)
	defer out.Flush()
	w := newResultWriter(cfg.output, out, cfg.width)
	for i, st := range stmts {
		if err := runStatement(ctx, conn, st.SQL, w); err != nil {
			if len(stmts) > 1 || fromStdin {
				return fmt.Errorf("statement %d (line %d): %w", i+1, st.Line, err)
			}
			return err
		}
	}
	return nil
}

// runStatement runs one statement and writes its rows, if it has columns.
func runStatement(ctx context.Context, conn *sql.Conn, query string, w resultWriter) error {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	if len(types) == 0 {
		return rows.Err()
	}
	cols := make([]sqlColumn, len(types))
	for i, ct := range types {
		cols[i] = sqlColumn{name: ct.Name(), typ: parseSQLType(ct.DatabaseTypeName())}
	}
	if err := w.begin(cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := w.row(vals); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		w.end(n) // what was read so far is shown
		return err
	}
	return w.end(n)
}
