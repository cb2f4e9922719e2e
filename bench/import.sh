#!/usr/bin/env bash
# `stswatch import` of a generated maildir of report mail: messages/s and peak RSS beside the
# COPY floor of the same rows (bench/README.md says how to read them). Figures, not pass/fail.
#   bench/import.sh BUILD_DIR [--quick] [--rerun]
# Environment: STSWATCH_BENCH_MESSAGES (messages in the maildir, default 100000, 5000 with
# --quick), STSWATCH_BENCH_IMPORT_JOBS (stswatch import --jobs; default: its own).
#
# Everything runs in a throwaway directory that is removed on exit: a PostgreSQL cluster with
# fsync ON (exit 0 of an import means durable), the maildir, the outputs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: bench/import.sh BUILD_DIR [--quick] [--rerun]" >&2; exit 2; }
die() { echo "bench: $*" >&2; exit 1; }
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

[ $# -ge 1 ] || usage
[ -d "$1" ] || die "$1: no such build directory"
BUILD=$(cd "$1" && pwd); shift
quick=0; extra=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --rerun) extra+=(--rerun) ;;
    *) usage ;;
  esac
done
if [ $quick = 1 ]; then MESSAGES=${STSWATCH_BENCH_MESSAGES:-5000}; else MESSAGES=${STSWATCH_BENCH_MESSAGES:-100000}; fi
[ -n "${STSWATCH_BENCH_IMPORT_JOBS:-}" ] && extra+=(--jobs "$STSWATCH_BENCH_IMPORT_JOBS")

STSWATCH="$BUILD/app/stswatch"
IMPORT="$BUILD/bench/import"
for program in "$STSWATCH" "$IMPORT"; do
  [ -x "$program" ] || die "$program: not built (cmake --build $BUILD --target stswatch bench_import)"
done
command -v psql >/dev/null || die "psql not found (postgresql-client)"

tmp=$(mktemp -d /tmp/stswatch-bench-import.XXXXXX)
chmod 755 "$tmp"   # the PostgreSQL cluster below it runs as "postgres" when we are root
cleanup() {
  bash "$ROOT/tests/fixtures/pg.sh" destroy "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# No config/stswatch.properties of the checkout changes what is measured.
cd "$tmp"
pg_port=$(free_port)
say "PostgreSQL (fsync on) on 127.0.0.1:$pg_port"
bash "$ROOT/tests/fixtures/pg.sh" start "$tmp/pg" "$pg_port"
admin="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
db="host=127.0.0.1 port=$pg_port user=postgres dbname=stswatch"
psql -X -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE stswatch" >/dev/null || die "could not create the database"
"$STSWATCH" --db "$db" db migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; die "stswatch db migrate failed"; }

echo "stswatch import benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
echo "PostgreSQL: $(psql -X -At "$db" -c "SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")"
echo
say "import: $MESSAGES messages"
"$IMPORT" --stswatch "$STSWATCH" --db "$db" --dir "$tmp/work" --messages "$MESSAGES" "${extra[@]}"
