#!/usr/bin/env bash
# `stswatch import` of a generated maildir of report mail: messages/s and peak RSS beside the
# COPY floor of the same rows (bench/README.md says how to read them). Figures, not pass/fail.
#   bench/import.sh BUILD_DIR [--quick] [--rerun] [--summary FILE]
# Environment: STSWATCH_BENCH_MESSAGES (messages in the maildir, default 100000, 5000 with
# --quick), STSWATCH_BENCH_IMPORT_JOBS (stswatch import --jobs; default: its own).
#
# Everything runs in a throwaway directory that is removed on exit: a PostgreSQL cluster with
# fsync ON (exit 0 of an import means durable), the maildir, the outputs.
set -euo pipefail

USAGE="bench/import.sh BUILD_DIR [--quick] [--rerun] [--summary FILE]"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
read_build_dir "$@"; shift
quick=0; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --rerun) extra+=(--rerun) ;;
    --summary) [ $# -ge 2 ] || usage; extra+=(--summary "$2"); shift ;;
    *) usage ;;
  esac
  shift
done
if [ $quick = 1 ]; then MESSAGES=${STSWATCH_BENCH_MESSAGES:-5000}; else MESSAGES=${STSWATCH_BENCH_MESSAGES:-100000}; fi
[ -n "${STSWATCH_BENCH_IMPORT_JOBS:-}" ] && extra+=(--jobs "$STSWATCH_BENCH_IMPORT_JOBS")

STSWATCH="$BUILD/app/stswatch"
IMPORT="$BUILD/bench/import"
for program in "$STSWATCH" "$IMPORT"; do
  [ -x "$program" ] || die "$program: not built (cmake --build $BUILD --target stswatch bench_import)"
done
command -v psql >/dev/null || die "psql not found (postgresql-client)"

enter_scratch stswatch-bench-import
start_database

echo "stswatch import benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
database_line
echo
say "import: $MESSAGES messages"
"$IMPORT" --stswatch "$STSWATCH" --db "$db" --dir "$tmp/work" --messages "$MESSAGES" "${extra[@]}"
