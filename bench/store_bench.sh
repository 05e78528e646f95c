#!/bin/sh
# Reproducible figures for pkg/store's Arrow -> DuckDB hand-off (1M flow rows per iteration).
# FLOWLENS_BENCH=1 adds BenchmarkWriteTables2M: 2M rows, ingest's 16 columns and analyze's 28, DuckDB choosing
# every codec (ctas) against the compression hints (hints), with CPU seconds per 1M rows.
# FLOWLENS_BENCH_10M=1 adds the product target: 10M rows + 10 verdict string columns into a new file.
# DuckDB uses every core, so other load skews wall time: the load average is printed before and after, and
# cpu-s/1M-rows (user+system of the whole process) is the steadier figure.
set -eu
cd "$(dirname "$0")/.."
echo "load before: $(cat /proc/loadavg)"
go test -run='^$' -bench 'WriteTables' -benchtime="${BENCHTIME:-3x}" -benchmem ./pkg/store
echo "load after: $(cat /proc/loadavg)"
