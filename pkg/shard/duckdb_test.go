package shard_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/shard"
	"github.com/flowlens/flowlens/pkg/store"
)

// TestDuckDBMacro checks that the DuckDB expression of docs/sharding.md gives the shard Go gives, for ids of
// every length from 0 to 40 bytes, multi-byte UTF-8 and NULL.
func TestDuckDBMacro(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "crc.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec(shard.DuckDBMacro); err != nil {
		t.Fatal(err)
	}
	ids := []string{"eni-0a1b2c3d4e5f64001", "123456789", "é", "eni-ünïcødé-✓"}
	for n := 0; n <= 40; n++ {
		ids = append(ids, strings.Repeat("x", n), fmt.Sprintf("eni-%0*x", n, n*7919))
	}
	const count = 4294967291 // the largest prime below 2^32: almost the whole CRC is compared
	for _, id := range ids {
		var got int
		if err := db.SQL().QueryRow("SELECT "+shard.SQL(shard.DuckDB, "?", count), id).Scan(&got); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		if want := shard.Of(id, count); got != want {
			t.Errorf("DuckDB shard of %q = %d, Go's = %d", id, got, want)
		}
	}
	var null int
	if err := db.SQL().QueryRow("SELECT " + shard.SQL(shard.DuckDB, "NULL::VARCHAR", 7)).Scan(&null); err != nil || null != 0 {
		t.Errorf("shard of NULL = %d (%v), want 0", null, err)
	}
}
