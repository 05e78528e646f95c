package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestObjects: the file's tables and views, whether asked through the DB or one connection.
func TestObjects(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "objects.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.SQL().Exec(`CREATE TABLE t (a INTEGER); CREATE VIEW v AS SELECT a FROM t`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, q := range map[string]Querier{"db": d.SQL(), "conn": conn} {
		got, err := Objects(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]bool{"t": true, "v": true}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}
