#!/usr/bin/env bash
# stswatch benchmarks: figures and ratios against floors measured in the same run, never
# pass/fail (bench/README.md says how to read them).
#   bench/run.sh BUILD_DIR [--quick]
# Environment: STSWATCH_BENCH_REPORTS (reports per ingest run, default 20000, 2000 with
# --quick), STSWATCH_BENCH_PARSE_MB (parse corpus size, default 100, 10 with --quick),
# STSWATCH_BENCH_DOMAINS (checks bench, default 1000, 200 with --quick; STSWATCH_BENCH_CHECKS=0
# skips it), STSWATCH_BENCH_ANALYZE=0 (skips the analysis bench, bench/analyze.sh),
# STSWATCH_BENCH_INGEST_CLIENTS (the ingest runs' client counts, default "64 8"),
# STSWATCH_BENCH_SMTP=0, STSWATCH_BENCH_PARSE=0 and STSWATCH_BENCH_IMPORT=0 (skip those benches),
# STSWATCH_BENCH_SERVE_ARGS (more arguments for serve, e.g. "--set collector.store.connections=4"),
# STSWATCH_PG_OPTIONS and STSWATCH_BENCH_PG_STATS (profiling: see below).
#
# Everything runs in a throwaway directory that is removed on exit: a PostgreSQL cluster with
# fsync ON (an acknowledged report is a durable commit, the figure that matters), test
# certificates, the collector (`stswatch serve`), the corpus.
set -euo pipefail

USAGE="bench/run.sh BUILD_DIR [--quick]"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
read_build_dir "$@"; shift
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) usage ;;
  esac
done
if [ $quick = 1 ]; then
  REPORTS=${STSWATCH_BENCH_REPORTS:-2000}; PARSE_MB=${STSWATCH_BENCH_PARSE_MB:-10}
else
  REPORTS=${STSWATCH_BENCH_REPORTS:-20000}; PARSE_MB=${STSWATCH_BENCH_PARSE_MB:-100}
fi

STSWATCH="$BUILD/app/stswatch"
INGEST="$BUILD/bench/ingest"
PARSE="$BUILD/bench/parse_bench"
SMTP="$BUILD/bench/smtp"
for program in "$STSWATCH" "$INGEST" "$PARSE" "$SMTP"; do
  [ -x "$program" ] || die "$program: not built (cmake --build $BUILD --target stswatch bench_ingest bench_parse bench_smtp)"
done
command -v psql >/dev/null || die "psql not found (postgresql-client)"
command -v curl >/dev/null || die "curl not found"

enter_scratch stswatch-bench
serve_pid=""
stop_collector() { stop_pid "$serve_pid"; serve_pid=""; }
before_cleanup() { stop_collector; }

start_database
https_port=$(free_port); api_port=$(free_port); smtp_port=$(free_port)
bash "$ROOT/tests/fixtures/make-tls.sh" "$tmp/tls"

say "collector on https://127.0.0.1:$https_port"
mkdir -p "$tmp/spool"
"$STSWATCH" serve --db "$db" \
  --set collector.https.listen="127.0.0.1:$https_port" \
  --set collector.https.cert="$tmp/tls/server.pem" \
  --set collector.https.key="$tmp/tls/server.key" \
  --set collector.smtp.listen="127.0.0.1:$smtp_port" \
  --set collector.smtp.recipients=tlsrpt@bench.example \
  --set collector.https.rate_limit=0 \
  --set collector.https.max_connections_per_address=1024 \
  --set collector.spool_dir="$tmp/spool" \
  --set api.listen="127.0.0.1:$api_port" \
  --set api.token="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  ${STSWATCH_BENCH_SERVE_ARGS:-} >"$tmp/serve.log" 2>&1 &
serve_pid=$!

healthz=000
for _ in $(seq 300); do
  kill -0 "$serve_pid" 2>/dev/null || { tail -20 "$tmp/serve.log" >&2; die "stswatch serve exited at start"; }
  healthz=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$tmp/tls/ca.pem" \
    "https://127.0.0.1:$https_port/healthz" || true)
  [ "$healthz" = 200 ] && break
  sleep 0.1
done
[ "$healthz" = 200 ] || { tail -20 "$tmp/serve.log" >&2; die "no 200 from GET /healthz within 30 s (last: $healthz)"; }

summary="$tmp/summary.tsv"
: >"$summary"
{
  echo "stswatch benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  database_line
  echo "collector and load generator share this machine's cores"
  echo
} 

status=0
run_ingest() { # clients seed
  say "ingest: $REPORTS reports, $1 clients"
  "$INGEST" --url "https://127.0.0.1:$https_port/v1/tlsrpt" --ca-file "$tmp/tls/ca.pem" \
    --reports "$REPORTS" --clients "$1" --seed "$2" --collector-pid "$serve_pid" --db "$db" \
    --label "$1 clients" --summary "$summary" || { status=1; echo "bench: ingest at $1 clients failed" >&2; }
  echo
}
# STSWATCH_BENCH_PG_STATS=FILE (with STSWATCH_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements"):
# the statements PostgreSQL ran during the 64-client ingest, by total time, written to FILE.
if [ -n "${STSWATCH_BENCH_PG_STATS:-}" ]; then
  psql -X -q "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
fi
seed=0
for clients in ${STSWATCH_BENCH_INGEST_CLIENTS:-64 8}; do
  seed=$((seed + 1))
  run_ingest "$clients" "$seed"
  if [ -n "${STSWATCH_BENCH_PG_STATS:-}" ] && [ $seed = 1 ]; then
  psql -X "$db" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
      round((total_exec_time / greatest(calls, 1))::numeric, 3) AS mean_ms, rows, wal_bytes,
      left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25" >"$STSWATCH_BENCH_PG_STATS" 2>&1
  fi
done

if [ "${STSWATCH_BENCH_SMTP:-1}" = 1 ]; then
  say "smtp: $REPORTS report mails, 16 sessions"
  "$SMTP" --host 127.0.0.1 --port "$smtp_port" --to tlsrpt@bench.example --reports "$REPORTS" --sessions 16 \
    --seed 101 --collector-pid "$serve_pid" --label "16 sessions" --summary "$summary" \
    || { status=1; echo "bench: smtp at 16 sessions failed" >&2; }
  echo
fi
if ! kill -0 "$serve_pid" 2>/dev/null; then
  status=1
  echo "bench: the collector exited during the run; its last lines:" >&2
  tail -20 "$tmp/serve.log" >&2
fi
stop_collector

if [ "${STSWATCH_BENCH_PARSE:-1}" = 1 ]; then
  say "parse: ~$PARSE_MB MB corpus"
  "$PARSE" --stswatch "$STSWATCH" --dir "$tmp/corpus" --mb "$PARSE_MB" --summary "$summary" \
    || { status=1; echo "bench: parse bench failed" >&2; }
  echo
fi

# The checks bench brings its own DNS server, policy host and MX (port 443 and 25: root).
if [ "${STSWATCH_BENCH_CHECKS:-1}" = 1 ]; then
  if [ -x "$BUILD/bench/checks" ] && [ "$(id -u)" = 0 ] && command -v nginx >/dev/null; then
    say "checks: run_check over fixture domains"
    bash "$ROOT/bench/checks.sh" "$BUILD" $([ "$quick" = 1 ] && echo --quick) --summary "$summary" \
      || { status=1; echo "bench: checks bench failed" >&2; }
    echo
  else
    echo "bench: checks bench skipped (needs $BUILD/bench/checks, root for ports 443/25, and nginx)" >&2
  fi
fi

# The analysis bench keeps its own PostgreSQL and database between runs (building it takes
# minutes).
if [ "${STSWATCH_BENCH_ANALYZE:-1}" = 1 ]; then
  if [ -x "$BUILD/bench/analyze" ]; then
    say "analyze: trends, explain, domains and the incident refresh over a year of reports"
    bash "$ROOT/bench/analyze.sh" "$BUILD" $([ "$quick" = 1 ] && echo --quick) --summary "$summary" \
      || { status=1; echo "bench: analysis bench failed" >&2; }
    echo
  else
    echo "bench: analysis bench skipped (needs $BUILD/bench/analyze)" >&2
  fi
fi

# The import bench brings its own database and maildir.
if [ -x "$BUILD/bench/import" ] && [ "${STSWATCH_BENCH_IMPORT:-1}" = 1 ]; then
  say "import bench"
  bash "$ROOT/bench/import.sh" "$BUILD" $([ "$quick" = 1 ] && echo --quick) --summary "$summary" \
    || { status=1; echo "bench: import failed" >&2; }
  echo
fi

# The summary: one table of every figure, from the lines the programs appended: the value,
# the floor (or peer) measured in this run, their ratio, and the target where there is one.
echo "== summary =="
awk -F '\t' '
  function n(x) { return x == "nan" || x == "n/a" || x == "" ? "-" : x }
  function row(figure, value, floor, ratio, target) {
    printf "  %-52s %12s %12s %7s  %s\n", figure, n(value), n(floor), n(ratio), target
  }
  BEGIN {
    printf "  %-52s %12s %12s %7s  %s\n", "figure", "value", "floor/peer", "ratio", "target"
  }
  $1 == "ingest" {
    hi = ($3 + 0 >= 64)
    row("HTTPS ingest, " $2 ": reports/s (durable)", $5, $12, $13, hi ? ">= 5,000" : "")
    row("HTTPS ingest, " $2 ": p50 / p99 ms", $6 " / " $8, "", "", hi ? "p99 <= 50" : "")
    row("HTTPS ingest, " $2 ": collector peak RSS MB", $10, "", "", "< 100")
    other = 0
    k = split($14, codes, ", ")
    for (i = 1; i <= k; i++) if (substr(codes[i], 1, 2) != "20") other = 1
    if ($15 > 0 || other) row("HTTPS ingest, " $2 ": answers (no answer: " $15 ")", $14, "", "", "every one 2xx")
  }
  $1 == "smtp" {
    row("SMTP ingest, " $2 ": reports/s", $5, "", "", "")
    row("SMTP ingest, " $2 ": p50 / p99 ms, peak RSS MB", $6 " / " $8 ", " $10, "", "", "")
  }
  $1 == "parse" { row("stswatch parse, " $3 " MB: reports/s", $4, $6, $8, "") }
  $1 == "checks" { row("checks, " $2 ", " $3 " threads: domains/s", $5, $9, $10, ">= 100") }
  $1 == "analyze" { row("analysis " $2 ": p95 ms", $4, $6, $7, $8 ": " $9) }
  $1 == "import" {
    row("import, " $2 " messages: messages/s", $3, $5, $6, ">= 8,000")
    row("import: peak RSS MB", $4, "", "", "< 200")
  }' "$summary"
echo
echo "floor/peer = the same work done the simplest way, measured in this run; ratio = value / floor (1.0: as fast as the floor); see bench/README.md"

exit $status
