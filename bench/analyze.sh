#!/usr/bin/env bash
# The analysis over a year of reports of 1,000 domains: trends, explain, domains and the
# daily incident refresh beside the floors of the bare SQL that reads the same rows
# (bench/README.md says how to read them). Figures, not pass/fail.
#   bench/analyze.sh BUILD_DIR [--quick] [--rebuild] [--summary FILE]
# Environment: STSWATCH_BENCH_ANALYZE_DOMAINS (default 1000, 100 with --quick),
# STSWATCH_BENCH_ANALYZE_ITERATIONS (per figure, default 100), STSWATCH_BENCH_ANALYZE_PG
# (the cluster's directory, default BUILD_DIR/bench/analyze-pg), STSWATCH_BENCH_PG_PORT
# (its port, default a free one).
#
# Unlike the other benches, the PostgreSQL cluster (fsync on) is kept between runs, stopped:
# building the database takes minutes, and a run reuses it when it holds exactly the rows
# it would build (--rebuild builds it again). `pg.sh destroy DIR` removes it.
set -euo pipefail

USAGE="bench/analyze.sh BUILD_DIR [--quick] [--rebuild] [--summary FILE]"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
read_build_dir "$@"; shift
quick=0; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --rebuild) extra+=(--rebuild) ;;
    --summary) [ $# -ge 2 ] || usage; extra+=(--summary "$2"); shift ;;
    *) usage ;;
  esac
  shift
done
if [ $quick = 1 ]; then DOMAINS=${STSWATCH_BENCH_ANALYZE_DOMAINS:-100}; else DOMAINS=${STSWATCH_BENCH_ANALYZE_DOMAINS:-1000}; fi
ITERATIONS=${STSWATCH_BENCH_ANALYZE_ITERATIONS:-100}

ANALYZE="$BUILD/bench/analyze"
[ -x "$ANALYZE" ] || die "$ANALYZE: not built (cmake --build $BUILD --target bench_analyze)"
command -v psql >/dev/null || die "psql not found (postgresql-client)"

cluster=${STSWATCH_BENCH_ANALYZE_PG:-$BUILD/bench/analyze-pg}
pg_port=${STSWATCH_BENCH_PG_PORT:-$(free_port)}
stop_cluster() { bash "$ROOT/tests/fixtures/pg.sh" stop "$cluster" >/dev/null 2>&1 || true; }
trap stop_cluster EXIT
trap 'exit 130' INT TERM
# A working directory of no checkout: no config/stswatch.properties changes what is measured.
cd /

say "PostgreSQL (fsync on) on 127.0.0.1:$pg_port, kept in $cluster"
stop_cluster   # left running by a run that was killed: start it again on this port
bash "$ROOT/tests/fixtures/pg.sh" start "$cluster" "$pg_port"
admin="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
name="stswatch_analyze_$DOMAINS"
db="host=127.0.0.1 port=$pg_port user=postgres dbname=$name"
if [ "$(psql -X -At "$admin" -c "SELECT count(*) FROM pg_database WHERE datname = '$name'")" = 0 ]; then
  psql -X -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE $name" >/dev/null || die "could not create the database"
fi

echo "stswatch analysis benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
database_line
echo
say "analyze: $DOMAINS domains, $ITERATIONS iterations per figure"
"$ANALYZE" --db "$db" --domains "$DOMAINS" --iterations "$ITERATIONS" "${extra[@]}"
