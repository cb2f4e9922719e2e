# shellcheck shell=bash
# Set-up shared by the benchmark scripts (sourced by run.sh, import.sh and checks.sh): their
# messages, the build directory argument, the scratch directory (removed on exit), free ports,
# stopping a process, and a private PostgreSQL with a migrated stswatch database. The
# sourcing script sets USAGE first.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { echo "usage: $USAGE" >&2; exit 2; }
die() { echo "bench: $*" >&2; exit 1; }
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# read_build_dir "$@": BUILD, the absolute path of the build directory named first (the
# caller shifts it off).
read_build_dir() {
  [ $# -ge 1 ] || usage
  [ -d "$1" ] || die "$1: no such build directory"
  BUILD=$(cd "$1" && pwd)
}

# enter_scratch NAME: tmp, a directory under /tmp, made the working directory (so that no
# config/stswatch.properties of the checkout changes what is measured) and removed on exit,
# after the sourcing script's before_cleanup (if it defines one) and stop_database. Others
# may enter it: the PostgreSQL cluster below it runs as "postgres" when we are root, nginx's
# workers as their own user.
enter_scratch() {
  tmp=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$tmp"
  trap cleanup_scratch EXIT
  trap 'exit 130' INT TERM
  cd "$tmp"
}
cleanup_scratch() {
  if declare -F before_cleanup >/dev/null; then before_cleanup; fi
  stop_database
  cd /
  rm -rf "$tmp"
}

# stop_pid PID [SIGNAL]: sends SIGNAL (TERM), and KILL when PID is still there 10 s later.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -"${2:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null || true
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# start_database: a PostgreSQL cluster in $tmp/pg with fsync ON (an acknowledged report is a
# durable commit, the figure that matters) on a free port, and the stswatch database migrated
# by $STSWATCH. Sets pg_port, admin and db (connection strings).
start_database() {
  pg_port=$(free_port)
  say "PostgreSQL (fsync on) on 127.0.0.1:$pg_port"
  bash "$ROOT/tests/fixtures/pg.sh" start "$tmp/pg" "$pg_port"
  admin="host=127.0.0.1 port=$pg_port user=postgres dbname=postgres"
  db="host=127.0.0.1 port=$pg_port user=postgres dbname=stswatch"
  psql -X -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE stswatch" >/dev/null \
    || die "could not create the database"
  "$STSWATCH" --db "$db" db migrate >"$tmp/migrate.log" 2>&1 \
    || { cat "$tmp/migrate.log" >&2; die "stswatch db migrate failed"; }
}

stop_database() {
  [ -e "$tmp/pg" ] || return 0
  bash "$ROOT/tests/fixtures/pg.sh" destroy "$tmp/pg" >/dev/null 2>&1 || true
}

# The header line that says which PostgreSQL the figures were taken on.
database_line() {
  echo "PostgreSQL: $(psql -X -At "$db" -c "SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')")"
}
