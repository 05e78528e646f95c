package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	duckdb "github.com/marcboeker/go-duckdb"
)

// offlineSettings are set in the DuckDB configuration before the database opens.
var offlineSettings = []string{
	"autoinstall_known_extensions=false",
	"autoload_known_extensions=false",
}

// DB is an open DuckDB database file. It is safe for concurrent use, like *sql.DB.
type DB struct {
	connector *duckdb.Connector
	db        *sql.DB
	path      string
	catalog   string // the attached file's name in DuckDB (its base name, as when DuckDB opens it itself)
}

// Open opens (or creates) the DuckDB file at path for reading and writing, with extension auto-install and
// auto-load off. Only one process can have a file open for writing.
func Open(path string) (*DB, error) { return open(path, false) }

// OpenReadOnly opens the existing DuckDB file at path for queries only. Several processes may read one file.
func OpenReadOnly(path string) (*DB, error) { return open(path, true) }

// open opens an in-memory DuckDB whose DSN holds only the settings, then ATTACHes the file by a quoted SQL
// string. go-duckdb parses a DSN as a URL and cuts the file name at the first '?', so a path in the DSN with
// '#' lost the settings after it (read-only and the offline settings were silently off), one with '?' lost the
// rest of its name, and one with '%' failed; a SQL string literal takes any path. The first connection
// attaches the file and checks that the settings are in force; every connection USEs it, so queries need no
// catalog name, and the catalog is named as when DuckDB opens the file itself (a.duckdb: a).
func open(path string, readOnly bool) (*DB, error) {
	if path == "" || strings.ContainsRune(path, 0) {
		return nil, fmt.Errorf("store: unsupported database path %q", path)
	}
	// DuckDB reads "name:" at the start of an attached path as an extension's storage ("sqlite:x.db"); "./"
	// keeps a colon in a relative name from reading as one.
	file := path
	if !filepath.IsAbs(file) && !strings.HasPrefix(file, "."+string(filepath.Separator)) {
		file = "." + string(filepath.Separator) + file
	}
	d := &DB{path: path}
	var once sync.Once
	var attachErr error
	connector, err := duckdb.NewConnector("?"+strings.Join(offlineSettings, "&"), func(ex driver.ExecerContext) error {
		once.Do(func() { d.catalog, attachErr = attachFile(ex, file, readOnly) })
		if attachErr != nil {
			return attachErr
		}
		_, err := ex.ExecContext(context.Background(), "USE "+QuoteIdent(d.catalog), nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	d.connector, d.db = connector, sql.OpenDB(connector)
	// Attach now, so that a file that cannot be opened fails here, not at the first query.
	if err := d.db.PingContext(context.Background()); err != nil {
		d.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return d, nil
}

// attachFile attaches the file on a new instance's first connection, checks the instance's settings and
// returns the file's catalog name.
func attachFile(ex driver.ExecerContext, file string, readOnly bool) (string, error) {
	exec := func(q string) error {
		_, err := ex.ExecContext(context.Background(), q, nil)
		return err
	}
	// Spill to file.tmp beside the file, as DuckDB does for a file it opens itself (in memory: ./.tmp).
	if err := exec("SET temp_directory = " + QuoteString(file+".tmp")); err != nil {
		return "", err
	}
	attach, opts := "ATTACH "+QuoteString(file), ""
	if readOnly {
		opts = " (READ_ONLY)"
	}
	if err := exec(attach + opts); err != nil {
		// A file whose name DuckDB would take for the in-memory database's ("memory.duckdb").
		if err2 := exec(attach + " AS flowlens" + opts); err2 != nil {
			return "", err
		}
	}
	q, ok := ex.(driver.QueryerContext)
	if !ok {
		return "", errors.New("cannot check the settings: the driver connection has no QueryContext")
	}
	rows, err := q.QueryContext(context.Background(), `SELECT database_name, current_setting('autoinstall_known_extensions')::VARCHAR
		|| ',' || current_setting('autoload_known_extensions')::VARCHAR || ',' || readonly::VARCHAR
		FROM duckdb_databases() WHERE NOT internal AND database_name <> current_database()`, nil)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	vals := make([]driver.Value, 2)
	if err := rows.Next(vals); err != nil {
		return "", fmt.Errorf("cannot check the settings: %w", err)
	}
	name, _ := vals[0].(string)
	got, _ := vals[1].(string)
	if want := fmt.Sprintf("false,false,%t", readOnly); name == "" || got != want {
		return "", fmt.Errorf("settings not in force: autoinstall, autoload, read-only = %s, want %s", got, want)
	}
	return name, nil
}

// SQL returns the database handle for queries. It stays owned by d: do not close it.
func (d *DB) SQL() *sql.DB { return d.db }

// Path returns the file name d was opened with.
func (d *DB) Path() string { return d.path }

// Close closes the database; DuckDB checkpoints the file when the last connection goes.
func (d *DB) Close() error {
	err := d.db.Close()
	if cerr := d.connector.Close(); err == nil {
		err = cerr
	}
	return err
}

// QuoteIdent quotes a DuckDB identifier, so reserved words such as "end" and any other name work as table or
// column names.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString quotes a DuckDB string literal.
func QuoteString(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
