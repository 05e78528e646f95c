// Package store keeps flowlens results in a DuckDB file: it opens the file with network access to extension
// repositories turned off, lands Arrow record streams in it as tables, atomically, and reads query results back
// as Arrow (QueryArrow, ReadArrow: see read.go).
//
// # Hand-off
//
// Each Table's array.RecordReader is exported through the Arrow C stream interface and registered on the DuckDB
// connection as a temporary view (go-duckdb Arrow.RegisterView); the table is then built with
// CREATE TABLE t (columns) and INSERT INTO t SELECT * FROM that view, the column types being the view's own
// (DESCRIBE) plus a compression hint per string column (see compress.go: it saves 15-25% of the write's CPU),
// or with plain CREATE TABLE ... AS SELECT * when there is nothing to hint or a column type is nested. DuckDB
// pulls batches from the reader as it goes, so the input is never materialised in Go (only the first batch is
// read ahead, to choose the hints).
//
// One stream already keeps every DuckDB thread busy: DuckDB's Arrow scan hands whole batches to its threads
// under a lock (so Next is never called concurrently) and each thread converts, compresses and writes its own
// row groups. Splitting the reader into several streams (UNION ALL of several views, or concurrent INSERTs on
// several connections) measured no faster and no cheaper. This was the fastest hand-off measured
// (BenchmarkWriteTables, bench/store_bench.sh): about 4x the go-duckdb row Appender. The Arrow scan itself costs
// about as much CPU as an in-memory CTAS; most of the time goes to DuckDB compressing and writing the file, above
// all the string columns, which a table-to-table copy inside DuckDB pays too. A Parquet detour would only add an
// encode and a decode.
//
// Only SELECT * is run over the views. Queries projecting a subset of columns of these views (count(*),
// SELECT * EXCLUDE ...) were seen to crash DuckDB 1.1 during this package's benchmarks; the same queries over
// a view of a plain array.RecordReader do not, so the cause may be this package's stream wrapper. Not
// investigated further: check before adding such a query.
//
// preserve_insertion_order is off while writing: row order within a table is not kept (keeping it halves the
// write's speed: BenchmarkWriteTables, view/new-file/batch64k 1.1M rows/s vs preserve-order 0.57M). Queries that need an order say ORDER BY (for flows: source_file, source_line).
//
// A write may also create views (Table.Query), after its tables, and drop names (Table.Drop); whatever the file
// holds under a written name, table or view, is replaced. ingest and analyze write flows as a view (store.Interned).
//
// Arrow dictionary-encoded string columns are accepted and become plain VARCHAR columns, so
// WHERE action = 'REJECT' works; string_view and large_string become VARCHAR too.
// Text that is not valid UTF-8, which DuckDB would refuse with the whole write, is stored with its invalid
// bytes written as \xNN (utf8.go): a write never fails on encoding.
//
// # Atomicity
//
// A write either lands all its tables or none of them:
//
//   - When path does not exist, the tables are built into path.tmp-<pid>-<random> in the same directory,
//     checkpointed, closed and renamed onto path. On any failure the temporary file (and its .wal) is removed,
//     so a failed or interrupted run leaves no file at path; what a killed run could not remove, the next write
//     of path removes (leftovers.go).
//   - When path exists, the named tables are dropped and re-created inside one DuckDB transaction that commits only
//     after every reader was drained without error. Other tables in the file (made by the user) survive; on
//     failure the previous tables are intact. The old and the new tables share the file until the checkpoint
//     after the commit frees the old blocks, which the next write reuses (DuckDB truncates free blocks at the
//     end of the file), so a file rewritten again and again, killed runs included, stays within about twice
//     the size of one write (TestKilledWrites). A killed run's .wal is replayed by the next open.
//
// Every DuckDB opened here has autoinstall_known_extensions and autoload_known_extensions off: flowlens never
// touches the network. The settings go to an in-memory DuckDB that then ATTACHes the file by a quoted string,
// so no character in the file name ('#', '?', '%', quotes, spaces) can turn them (or read-only mode) off; each
// open checks that they are in force.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	duckdb "github.com/marcboeker/go-duckdb"

	"github.com/flowlens/flowlens/pkg/flowschema"
)

// Table is one table to (re)place with WriteTables, or a view, or a name to remove. Whatever the file holds
// under Name (a table or a view) is replaced.
type Table struct {
	// Name is the table name; any name works ("end", "my flows"), it is quoted.
	Name string
	// Query, instead of Reader, makes Name a view defined by this SELECT. Views are created after every
	// table of the write, in argument order, so they may read those tables; they are not counted (OnDone is
	// not called, and their flowlens_runs row_count is NULL).
	Query string
	// Drop, instead of Reader or Query, only removes the table or view called Name, if the file has one.
	Drop bool
	// Reader yields the rows. WriteTables drains it but does not release it: the caller keeps ownership and
	// releases it after WriteTables returns. A non-nil Err() after the last batch fails the whole write.
	// Readers are drained one after the other, in argument order, on one DuckDB connection: a reader must not
	// wait for a later table's reader to be drained.
	Reader array.RecordReader
	// OnDone, if not nil, is called with the number of rows stored once the write has committed (never on failure).
	OnDone func(rows int64)
}

// Run describes the command that produced a write; WriteRun records it in the flowlens_runs table.
type Run struct {
	Command string    // e.g. the command line
	Started time.Time // when the run started
	// OnCommit, if not nil, is called once the write has committed (the file at path holds every table of the
	// write), before WriteRun returns and before any Table.OnDone; never on failure. Tests cancel the context
	// there to stand for an interruption that arrives just after the commit.
	OnCommit func()
	// Log, if not nil, is told what the write did besides its tables, such as removing the files a killed
	// run left behind (one line, no newline).
	Log func(msg string)
}

// ErrNotWritten is wrapped by every error of WriteTables and WriteRun that left the file as it was: not
// created, or holding the tables it held before. Any other error of theirs is a *WrittenError.
var ErrNotWritten = errors.New("the database was not changed")

// WrittenError is an error that came after a write had committed: the file at Path holds every table of the
// write (a later step failed, such as the checkpoint that moves the write-ahead log into the file, which
// DuckDB then replays at the next open). Callers use it too for their own errors after a successful write.
type WrittenError struct {
	Path string
	Err  error
}

func (e *WrittenError) Error() string {
	return fmt.Sprintf("%s was written and is complete, but then: %v", e.Path, e.Err)
}

func (e *WrittenError) Unwrap() error { return e.Err }

// notWritten marks err as one that left the file unchanged (errors.Is(err, ErrNotWritten)) without changing
// its message.
type notWritten struct{ err error }

func (e notWritten) Error() string        { return e.err.Error() }
func (e notWritten) Unwrap() error        { return e.err }
func (e notWritten) Is(target error) bool { return target == ErrNotWritten }

// WriteTables replaces the named tables in the DuckDB file at path, creating the file if needed, in one atomic
// step (see the package doc). The context cancels the write; the tables are then left as they were. An error
// says whether the file changed: errors.Is(err, ErrNotWritten), else it is a *WrittenError. A cancellation
// that arrives after the commit does not fail the write.
func WriteTables(ctx context.Context, path string, tables ...Table) error {
	return write(ctx, path, nil, tables)
}

// WriteRun is WriteTables plus one flowschema.RunsTable (flowlens_runs) row per table or view, appended in the
// same transaction, so the file keeps a history of the runs that wrote it. Times are UTC TIMESTAMPs rather
// than TIMESTAMPTZ because time-zone functions need the icu extension, which flowlens does not load.
func WriteRun(ctx context.Context, path string, run Run, tables ...Table) error {
	return write(ctx, path, &run, tables)
}

// writeMemoryLimit is DuckDB's memory_limit while it writes (see writeTx).
const writeMemoryLimit = "256MB"

// writeOpts holds knobs that only the benchmarks turn; the zero value is what flowlens uses.
type writeOpts struct {
	preserveOrder bool // keep rows in reader order (slower: DuckDB then orders its parallel inserts)
	noHints       bool // plain CREATE TABLE AS, DuckDB picks every codec (the hand-off before compression hints)
}

func write(ctx context.Context, path string, run *Run, tables []Table) error {
	return writeWith(ctx, path, run, tables, writeOpts{})
}

func writeWith(ctx context.Context, path string, run *Run, tables []Table, opts writeOpts) error {
	written, err := writeFile(ctx, path, run, tables, opts)
	switch {
	case err == nil:
		return nil
	case written:
		return &WrittenError{Path: path, Err: err}
	default:
		return notWritten{err}
	}
}

// writeFile does writeWith's work and reports whether the write committed.
func writeFile(ctx context.Context, path string, run *Run, tables []Table, opts writeOpts) (written bool, err error) {
	if len(tables) == 0 {
		return false, errors.New("store: no tables to write")
	}
	seen := make(map[string]bool, len(tables))
	for _, t := range tables {
		key := strings.ToLower(t.Name) // DuckDB identifiers are case-insensitive
		kinds := 0
		for _, set := range []bool{t.Reader != nil, t.Query != "", t.Drop} {
			if set {
				kinds++
			}
		}
		if t.Name == "" || kinds != 1 {
			return false, fmt.Errorf("store: table %q: want a name and exactly one of a reader, a query or drop", t.Name)
		}
		if seen[key] {
			return false, fmt.Errorf("store: table %q given twice", t.Name)
		}
		if run != nil && key == flowschema.RunsTable {
			return false, fmt.Errorf("store: table %q is reserved for run history", t.Name)
		}
		seen[key] = true
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	for _, msg := range removeLeftovers(path) {
		if run != nil && run.Log != nil {
			run.Log(msg)
		}
	}
	_, err = os.Stat(path)
	switch {
	case err == nil:
		return writeExisting(ctx, path, run, tables, opts)
	case errors.Is(err, fs.ErrNotExist):
		return writeNew(ctx, path, run, tables, opts)
	default:
		return false, fmt.Errorf("store: %w", err)
	}
}

// writeNew builds a fresh file next to path and renames it into place.
func writeNew(ctx context.Context, path string, run *Run, tables []Table, opts writeOpts) (written bool, err error) {
	tmp, err := tempName(path)
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	defer func() {
		if !written {
			os.Remove(tmp)
			os.Remove(tmp + ".wal")
		}
	}()
	counts, _, err := writeTx(ctx, tmp, run, tables, opts)
	if err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	committed(run, tables, counts)
	return true, nil
}

func writeExisting(ctx context.Context, path string, run *Run, tables []Table, opts writeOpts) (written bool, err error) {
	counts, written, err := writeTx(ctx, path, run, tables, opts)
	if written {
		committed(run, tables, counts)
	}
	return written, err
}

// committed tells the caller that the write is in the file: Run.OnCommit, then each Table.OnDone.
func committed(run *Run, tables []Table, counts []int64) {
	if run != nil && run.OnCommit != nil {
		run.OnCommit()
	}
	notify(tables, counts)
}

func notify(tables []Table, counts []int64) {
	for i, t := range tables {
		if t.OnDone != nil && t.Reader != nil {
			t.OnDone(counts[i])
		}
	}
}

// writeTx opens path, replaces the tables in one transaction, checkpoints and closes the file.
// It returns the row count of each table and whether the transaction committed (an error may follow).
func writeTx(ctx context.Context, path string, run *Run, tables []Table, opts writeOpts) (counts []int64, committed bool, err error) {
	d, err := Open(path)
	if err != nil {
		return nil, false, err
	}
	// The Arrow C streams must outlive every DuckDB object that may still point at them: free them after Close.
	var releases []func()
	defer func() {
		if cerr := d.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("store: close %s: %w", path, cerr)
		}
		for _, r := range releases {
			r()
		}
	}()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}
	defer conn.Close()

	// Rows may be stored in any order within a table: DuckDB then inserts from all threads without re-ordering.
	// DuckDB keeps the blocks it writes cached up to its memory_limit (by default 80% of the machine's memory),
	// so without a limit a write's memory grows with its rows (ingest --db of 30M records: 711 MB peak RSS,
	// 486 MB with this limit; bench/RESULTS.md); it spills to path.tmp when it needs more.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET preserve_insertion_order = %t; SET memory_limit = %s",
		opts.preserveOrder, QuoteString(writeMemoryLimit))); err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}

	streams := make([]*streamReader, len(tables))
	views := make([]string, len(tables))
	for i, t := range tables {
		if t.Reader != nil {
			streams[i] = &streamReader{ctx: ctx, src: t.Reader}
			views[i] = fmt.Sprintf("flowlens_arrow_stream_%d", i)
		}
	}
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.detach()
			}
		}
	}()
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		for i, s := range streams {
			if s == nil {
				continue
			}
			rel, err := a.RegisterView(s, views[i])
			if err != nil {
				return fmt.Errorf("table %q: %w", tables[i].Name, err)
			}
			releases = append(releases, rel)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: register arrow streams: %w", err)
	}

	// The transaction does not watch ctx: database/sql would then roll it back (and discard the connection) on
	// its own goroutine when ctx is cancelled, and the deferred Rollback and Close below could return while
	// DuckDB is still shutting the file down, leaving a .wal behind. Statements still stop on ctx (ExecContext
	// interrupts DuckDB, the stream reader checks it), and the rollback happens here, before Close.
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback() // no-op after Commit
	counts = make([]int64, len(tables))
	for i, t := range tables {
		if err := dropObject(ctx, tx, t.Name); err != nil {
			return nil, false, fmt.Errorf("store: table %q: %w", t.Name, err)
		}
		if t.Reader == nil {
			continue
		}
		name := QuoteIdent(t.Name)
		res, err := createTable(ctx, tx, name, views[i], streams[i], !opts.noHints)
		if serr := streams[i].Err(); serr != nil {
			// The reader's (or the context's) own error says more than DuckDB's rendering of it.
			return nil, false, fmt.Errorf("store: table %q: %w", t.Name, serr)
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, fmt.Errorf("store: table %q: %w", t.Name, cerr)
		}
		if err != nil {
			return nil, false, fmt.Errorf("store: table %q: %w", t.Name, err)
		}
		if counts[i], err = res.RowsAffected(); err != nil {
			return nil, false, fmt.Errorf("store: table %q: %w", t.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "DROP VIEW "+QuoteIdent(views[i])); err != nil {
			return nil, false, fmt.Errorf("store: %w", err)
		}
	}
	for _, t := range tables {
		if t.Query == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, "CREATE VIEW "+QuoteIdent(t.Name)+" AS "+t.Query); err != nil {
			return nil, false, fmt.Errorf("store: view %q: %w", t.Name, err)
		}
	}
	if run != nil {
		if err := insertRun(ctx, tx, run, tables, counts); err != nil {
			return nil, false, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("store: commit: %w", err)
	}
	// Write the data into the main file now rather than leaving a large WAL to replay at the next open.
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), "CHECKPOINT "+QuoteIdent(d.catalog)); err != nil {
		return counts, true, fmt.Errorf("store: checkpoint: %w", err)
	}
	return counts, true, nil
}

func insertRun(ctx context.Context, tx *sql.Tx, run *Run, tables []Table, counts []int64) error {
	const ddl = `CREATE TABLE IF NOT EXISTS ` + flowschema.RunsTable + ` (
		run_id BIGINT, started TIMESTAMP, finished TIMESTAMP, command VARCHAR, table_name VARCHAR, row_count BIGINT)`
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("store: %s: %w", flowschema.RunsTable, err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(run_id), 0) + 1 FROM `+flowschema.RunsTable).Scan(&id); err != nil {
		return fmt.Errorf("store: %s: %w", flowschema.RunsTable, err)
	}
	finished := time.Now().UTC()
	started := run.Started.UTC()
	if run.Started.IsZero() {
		started = finished
	}
	for i, t := range tables {
		var count any // NULL for a view
		switch {
		case t.Drop:
			continue
		case t.Reader != nil:
			count = counts[i]
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO `+flowschema.RunsTable+` VALUES (?, ?, ?, ?, ?, ?)`,
			id, started, finished, EscapeUTF8(run.Command), t.Name, count)
		if err != nil {
			return fmt.Errorf("store: %s: %w", flowschema.RunsTable, err)
		}
	}
	return nil
}

// dropObject drops the table or view called name in the main schema, if there is one (DROP TABLE IF EXISTS
// fails on a view and DROP VIEW IF EXISTS on a table).
func dropObject(ctx context.Context, tx *sql.Tx, name string) error {
	var kind string
	err := tx.QueryRowContext(ctx, `SELECT 'TABLE' FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND lower(table_name) = lower(?)
		UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main' AND lower(view_name) = lower(?) AND NOT internal`,
		name, name).Scan(&kind)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	_, err = tx.ExecContext(ctx, "DROP "+kind+" "+QuoteIdent(name))
	return err
}

// ExportParquet writes table to a Parquet file (zstd) with DuckDB's built-in parquet writer. The file appears
// complete or not at all: it is written next to file and renamed.
func (d *DB) ExportParquet(ctx context.Context, table, file string) (err error) {
	tmp, err := tempName(file)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	q := "COPY (SELECT * FROM " + QuoteIdent(table) + ") TO " + QuoteString(tmp) + " (FORMAT parquet, COMPRESSION zstd)"
	if _, err := d.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("store: export %q to %s: %w", table, file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
