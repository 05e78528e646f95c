#!/bin/sh
# Reproducible figures for pkg/store's Arrow -> DuckDB hand-off (1M flow rows per iteration).
# FLOWLENS_BENCH_10M=1 adds the product target: 10M rows + 10 verdict string columns into a new file.
# Run on an otherwise idle machine: DuckDB uses every core, so other load skews the numbers.
set -eu
cd "$(dirname "$0")/.."
go test -run='^$' -bench 'WriteTables' -benchtime="${BENCHTIME:-3x}" -benchmem ./pkg/store
