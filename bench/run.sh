#!/usr/bin/env bash
# Reproducible ingest benchmark: flowlens versus DuckDB's own CSV reader on the same flow-log file.
#
#   bash bench/run.sh [DIR]        (DIR default: $FLOWLENS_BENCH_DIR or /tmp/flowlens-bench)
#
# Environment: RECORDS (default 10000000), ENIS (default 200), SEED (default 1).
# Needs only Go (and a C compiler for go-duckdb's cgo, as flowlens itself does). Generates the data set once
# with samples/gen (v2 default format, one uncompressed file in the S3 layout, topology JSON beside it) and
# reuses it while RECORDS/ENIS/SEED are unchanged.
set -euo pipefail

cd "$(dirname "$0")/.."
DIR=${1:-${FLOWLENS_BENCH_DIR:-/tmp/flowlens-bench}}
RECORDS=${RECORDS:-10000000}
ENIS=${ENIS:-200}
SEED=${SEED:-1}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

stamp="$DIR/.generated-records=$RECORDS-enis=$ENIS-seed=$SEED"
if [[ ! -f $stamp ]]; then
	echo "generating $RECORDS records over $ENIS ENIs into $DIR ..." >&2
	rm -rf "$DIR/flowlogs" "$DIR/topology" "$DIR"/.generated-*
	start=$(date +%s.%N)
	go run ./samples/gen -o "$DIR" -records "$RECORDS" -enis "$ENIS" -seed "$SEED" -format v2 -files 1
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" -v n="$RECORDS" 'BEGIN { printf "generated in %.1f s (%.0f records/s, go run build included)\n", e-s, n/(e-s) }' >&2
	touch "$stamp"
fi
FILE=$(find "$DIR/flowlogs" -type f -name '*.log' | head -n 1)
[[ -n $FILE ]] || { echo "no .log file under $DIR/flowlogs" >&2; exit 1; }
BYTES=$(stat -c %s "$FILE")

echo "building ..." >&2
go build -o "$DIR/flowlens" ./cmd/flowlens
go build -o "$DIR/duckload" ./bench/duckload
TIMER=()
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
	GNU_TIME=1
else
	GNU_TIME=0
	go build -o "$DIR/timeit" ./bench/timeit
	TIMER=("$DIR/timeit")
fi

ROWS=()
# measure NAME CMD...: runs CMD, keeps its output in $DIR/NAME.log, appends "NAME seconds rss_mib status" to ROWS.
measure() {
	local name=$1
	shift
	local log="$DIR/$name.log" secs rss status
	echo "running $name: $*" >&2
	if [[ $GNU_TIME == 1 ]]; then
		set +e
		/usr/bin/time -v -o "$DIR/$name.time" "$@" >"$log" 2>&1
		status=$?
		set -e
		secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$DIR/$name.time")
		rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$DIR/$name.time")
	else
		set +e
		"${TIMER[@]}" "$@" >"$log" 2>&1
		status=$?
		set -e
		read -r secs rss status < <(tail -n 1 "$log")
	fi
	ROWS+=("$name $secs $rss $status")
	if [[ $status != 0 ]]; then
		echo "  $name exited $status; last lines of $log:" >&2
		tail -n 5 "$log" | sed 's/^/    /' >&2
	fi
}

rm -f "$DIR/flowlens.duckdb" "$DIR/flowlens.duckdb.wal" "$DIR/analyze.duckdb" "$DIR/analyze.duckdb.wal"
measure "flowlens-ingest" "$DIR/flowlens" ingest "$FILE"
measure "flowlens-ingest-db" "$DIR/flowlens" ingest --db "$DIR/flowlens.duckdb" "$FILE"
measure "duckdb-read_csv-memory" "$DIR/duckload" "$FILE"
measure "duckdb-read_csv-file" "$DIR/duckload" -db "$DIR/duckdb.duckdb" "$FILE"
if "$DIR/flowlens" analyze --help >/dev/null 2>&1; then
	measure "flowlens-analyze-db" "$DIR/flowlens" analyze --topology "$DIR/topology" --db "$DIR/analyze.duckdb" "$FILE"
else
	echo "flowlens analyze not available yet (analyze --help did not exit 0): skipped" >&2
fi

echo
echo "input: $FILE"
awk -v n="$RECORDS" -v b="$BYTES" -v c="$(nproc)" 'BEGIN { printf "       %d records, %.2f GB, %d cores\n\n", n, b/1e9, c }'
printf '%-24s %9s %14s %10s %12s %s\n' step seconds records/s MB/s peak-RSS-MiB status
for row in "${ROWS[@]}"; do
	read -r name secs rss status <<<"$row"
	awk -v name="$name" -v s="$secs" -v r="$rss" -v st="$status" -v n="$RECORDS" -v b="$BYTES" 'BEGIN {
		res = (st == 0) ? "ok" : "exit " st
		printf "%-24s %9.2f %14.0f %10.0f %12.0f %s\n", name, s, n/s, b/1e6/s, r/1024, res }'
done
