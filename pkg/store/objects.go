package store

import (
	"context"
	"database/sql"
)

// Querier is what Objects queries: a *sql.DB (DB.SQL) or one of its *sql.Conn.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Objects returns the names of the tables and views in the main schema of the file q reads (the catalog its
// connections USE), so that a reader can tell which results a file holds before it queries them.
func Objects(ctx context.Context, q Querier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'
		AND database_name = current_database()
		UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal
		AND database_name = current_database()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names[n] = true
	}
	return names, rows.Err()
}
