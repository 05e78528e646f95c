// Command duckload times DuckDB's own CSV load of a flow-log file, for comparison with flowlens ingest.
//
// It runs CREATE TABLE t AS SELECT * FROM read_csv(FILE, delim=' ', header=true, nullstr='-') into an
// in-memory database (-db "") or a database file, with extension autoloading off (the machine has no
// network; read_csv and gzip are built in), and prints one tab-separated line:
// "label seconds rows rows_per_second peak_rss_mib".
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/marcboeker/go-duckdb"
)

// noAutoload keeps DuckDB from trying to download extensions.
const noAutoload = "?autoinstall_known_extensions=false&autoload_known_extensions=false"

func main() {
	dbPath := flag.String("db", "", "database file to create (replaced); empty: in-memory")
	label := flag.String("label", "", "label printed in front of the result (default: duckdb-memory or duckdb-file)")
	threads := flag.Int("threads", 0, "DuckDB threads (0: DuckDB's default, one per core)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: duckload [-db FILE] [-label L] FLOWLOG-FILE\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(context.Background(), flag.Arg(0), *dbPath, *label, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "duckload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, file, dbPath, label string, threads int) error {
	if _, err := os.Stat(file); err != nil {
		return err
	}
	if label == "" {
		label = "duckdb-memory"
		if dbPath != "" {
			label = "duckdb-file"
		}
	}
	if dbPath != "" {
		for _, p := range []string{dbPath, dbPath + ".wal"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	db, err := sql.Open("duckdb", dbPath+noAutoload)
	if err != nil {
		return fmt.Errorf("open %q: %w", dbPath, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if threads > 0 {
		if _, err := db.ExecContext(ctx, "SET threads = "+strconv.Itoa(threads)); err != nil {
			return err
		}
	}
	q := "CREATE TABLE t AS SELECT * FROM read_csv(" + quote(file) + ", delim=' ', header=true, nullstr='-')"
	start := time.Now()
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	if dbPath != "" {
		if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	secs := time.Since(start).Seconds()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		return err
	}
	fmt.Printf("%s\t%.2f\t%d\t%.0f\t%.0f\n", label, secs, n, float64(n)/secs, peakRSSMiB())
	return nil
}

// quote renders s as a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// peakRSSMiB reads VmHWM (the process's peak resident set) from /proc; 0 when unavailable.
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
