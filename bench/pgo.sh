#!/usr/bin/env bash
# Regenerates cmd/flowlens/default.pgo, the CPU profile that `go build ./cmd/flowlens` (and go run, go install,
# go test of that package) uses for profile-guided optimization.
#
#   bash bench/pgo.sh [DIR]        (DIR: the data set of bench/run.sh; default $FLOWLENS_BENCH_DIR or /tmp/flowlens-bench)
#
# The profile merges the three runs a user does most, on the bench data set (10M version-2 records): `ingest`
# without a sink, `ingest --db` and `analyze`. They run on a binary built without PGO (-pgo=off), so that the
# profile describes the code as the compiler sees it before optimizing. Run bench/run.sh once first (it
# generates the data). Regenerate after large changes to a hot path; a stale profile costs speed, never
# correctness.
set -euo pipefail

cd "$(dirname "$0")/.."
DIR=${1:-${FLOWLENS_BENCH_DIR:-/tmp/flowlens-bench}}
[[ -d $DIR/flowlogs && -d $DIR/topology ]] || { echo "no data set in $DIR: run bench/run.sh first" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -pgo=off -o "$work/flowlens" ./cmd/flowlens

run() {
	local name=$1
	shift
	echo "profiling $name ..." >&2
	FLOWLENS_CPUPROFILE="$work/$name.prof" "$work/flowlens" "$@" >/dev/null
}
run ingest ingest "$DIR/flowlogs"
run ingest-db ingest --db "$work/ingest.duckdb" "$DIR/flowlogs"
run analyze analyze --topology "$DIR/topology" --db "$work/analyze.duckdb" "$DIR/flowlogs"

# -symbolize=none keeps the profiles' function start lines, which the compiler needs (pprof drops them when it
# re-symbolizes).
go tool pprof -proto -symbolize=none "$work"/*.prof >cmd/flowlens/default.pgo
echo "wrote cmd/flowlens/default.pgo ($(stat -c %s cmd/flowlens/default.pgo) bytes)" >&2
