// Package shard splits flow records between machines by network interface, with a function that query engines
// compute in SQL too.
//
// Replay state (connection tracking, reordering) is per interface, so the records of one interface must all be
// judged by one process, and the records of different interfaces may be judged anywhere. The shard of a record
// is CRC-32 (IEEE, the polynomial of zlib, gzip and PNG) of its interface_id's UTF-8 bytes, modulo the number of
// shards; a record without an interface_id is in shard 0 (CRC-32 of the empty string is 0, so coalescing NULL
// to the empty string in SQL gives the same answer). The expressions that compute it in Athena/Trino, Spark and
// DuckDB are below (SQL) and in docs/sharding.md. This package is a leaf: no Arrow, no DuckDB.
package shard

import (
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// Spec is one shard of a sharded run: the records whose shard is Index of Count. The zero Spec means "not
// sharded" (every record).
type Spec struct {
	Index, Count int
}

// Parse reads "i/N" (0 <= i < N), as the --shard flag takes it.
func Parse(s string) (Spec, error) {
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Spec{}, fmt.Errorf("shard %q: want INDEX/COUNT, e.g. 3/16", s)
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	switch {
	case err1 != nil || err2 != nil:
		return Spec{}, fmt.Errorf("shard %q: want INDEX/COUNT, two decimal numbers, e.g. 3/16", s)
	case n < 1:
		return Spec{}, fmt.Errorf("shard %q: the count must be at least 1", s)
	case i < 0 || i >= n:
		return Spec{}, fmt.Errorf("shard %q: the index must be 0 to %d (shards are numbered from 0)", s, n-1)
	}
	return Spec{Index: i, Count: n}, nil
}

// Sharded reports whether s selects one shard (s is not the zero Spec).
func (s Spec) Sharded() bool { return s.Count > 0 }

// String is "i/N", or "" for the zero Spec.
func (s Spec) String() string {
	if !s.Sharded() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Has reports whether the records of interfaceID ("" for a record without one) belong to s. Every record
// belongs to the zero Spec.
func (s Spec) Has(interfaceID string) bool {
	return !s.Sharded() || Of(interfaceID, s.Count) == s.Index
}

// Of returns the shard, 0 to count-1, of the records of interfaceID ("" for records without one: shard 0).
// count must be at least 1.
func Of(interfaceID string, count int) int {
	return int(crc32.ChecksumIEEE([]byte(interfaceID)) % uint32(count))
}

// Engines whose SQL computes Of (SQL).
const (
	Athena = "athena" // Athena engine v3 and Trino
	Spark  = "spark"  // Spark SQL and Hive
	DuckDB = "duckdb" // DuckDB 1.1 and later, after DuckDBMacro
)

// SQL returns the expression that computes Of(col, count) in engine's SQL, col being an interface_id column
// (any SQL expression of a string). It panics on an unknown engine.
func SQL(engine, col string, count int) string {
	switch engine {
	case Athena:
		return fmt.Sprintf("crc32(to_utf8(coalesce(%s, ''))) %% %d", col, count)
	case Spark:
		return fmt.Sprintf("crc32(coalesce(%s, '')) %% %d", col, count)
	case DuckDB:
		return fmt.Sprintf("flowlens_crc32(%s) %% %d", col, count)
	}
	panic("shard: unknown engine " + engine)
}

// DuckDBMacro defines flowlens_crc32(s) for DuckDB, which has no crc32 function (1.1): CRC-32 IEEE of s's
// UTF-8 bytes (0 for NULL), bit by bit. The list holds the initial value, then for each byte 256+byte followed
// by seven zeros: the lambda XORs a byte in and shifts once per element, eight shifts per byte. It costs about
// 170 lambda steps for an interface id: in a large query, compute it once per distinct interface_id (see
// docs/sharding.md).
const DuckDBMacro = `CREATE OR REPLACE MACRO flowlens_crc32(s) AS xor(list_reduce(
  list_prepend(4294967295::BIGINT, flatten(list_transform(range(strlen(coalesce(s, ''))),
    i -> [256 + ('0x' || substr(hex(coalesce(s, '')), 2 * i + 1, 2))::BIGINT, 0, 0, 0, 0, 0, 0, 0]))),
  (c, e) -> xor((CASE WHEN e >= 256 THEN xor(c, e - 256) ELSE c END) >> 1,
                ((CASE WHEN e >= 256 THEN xor(c, e - 256) ELSE c END) & 1) * 3988292384)),
  4294967295)`
