#!/usr/bin/env bash
# `./dev run` as a new user meets it: a fresh clone of this checkout (HEAD plus the
# uncommitted changes of tracked files) in a folder only its owner may enter (mode 700, as
# /root is), on free ports so that a `./dev run` of the user's own is left alone. It waits
# for the HTTPS port, posts a gzipped report (201), stops the service (SIGTERM to its process
# group), runs it again (the cluster and the report are still there: 200, already
# stored), stops it and removes the clone and its cluster. Run by `./dev test` (step dev/run).
# It builds stswatch from scratch in the clone: minutes on a small machine.
# Environment: STSWATCH_DEV_RUN_TIMEOUT (seconds for the first start, build included;
# default 1800), TMPDIR (where the clone goes, default /tmp).
set -euo pipefail
set +m # the service is started with setsid below: it leads its own process group
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SAMPLE="$ROOT/tests/data/reports/google.json"
TIMEOUT=${STSWATCH_DEV_RUN_TIMEOUT:-1800}

say() { echo "dev/run: $*"; }
fail() { echo "dev/run: FAILED: $*" >&2; [ -f "${log:-}" ] && tail -30 "$log" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stswatch-dev-run.XXXXXX")
chmod 700 "$tmp"
clone="$tmp/stswatch"
pid=""; log=""

stop_service() {
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}
cleanup() {
  stop_service
  if [ -f "$clone/tests/fixtures/pg.sh" ]; then
    bash "$clone/tests/fixtures/pg.sh" destroy "$clone/var/pg" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s; }
t0=$(now)
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  git clone -q --no-hardlinks --no-checkout "$ROOT" "$clone"
  git -C "$clone" checkout -q --detach "$(git -C "$ROOT" rev-parse HEAD)"
  git -C "$ROOT" diff --binary HEAD >"$tmp/changes.patch"
  if [ -s "$tmp/changes.patch" ]; then
    git -C "$clone" apply "$tmp/changes.patch" || fail "could not apply the uncommitted changes"
    say "clone of $(git -C "$ROOT" rev-parse --short HEAD) with the uncommitted changes in $clone"
  else
    say "clone of $(git -C "$ROOT" rev-parse --short HEAD) in $clone"
  fi
else # not a git checkout: the tree as it is, without build output
  mkdir -p "$clone"
  tar -C "$ROOT" --exclude='./build*' --exclude=./var -cf - . | tar -C "$clone" -xf -
  say "copy of $ROOT in $clone"
fi

read -r pg_port https_port smtp_port api_port < <(python3 - <<'PY'
import socket
s = [socket.socket() for _ in range(4)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))
PY
)

# start N: ./dev run in the clone, as its own process group; the output goes to run-N.log.
start() {
  log="$tmp/run-$1.log"
  (cd "$clone" && exec env -u STSWATCH_BUILD_DIR -u STSWATCH_FUZZ_BUILD_DIR -u STSWATCH_DB \
     -u STSWATCH_RECIPIENTS STSWATCH_PG_PORT="$pg_port" setsid ./dev run \
     --set collector.https.listen="127.0.0.1:$https_port" \
     --set collector.smtp.listen="127.0.0.1:$smtp_port" \
     --set api.listen="127.0.0.1:$api_port") >"$log" 2>&1 </dev/null &
  pid=$!
}
# wait_ready SECONDS: until /healthz answers 200 over HTTPS with the certificate made.
wait_ready() {
  local deadline=$(($(now) + $1))
  while [ "$(now)" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || fail "./dev run exited"
    if [ -f "$clone/var/tls/cert.pem" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        --cacert "$clone/var/tls/cert.pem" "https://localhost:$https_port/healthz")" = 200 ]; then
      return 0
    fi
    sleep 2
  done
  fail "no answer on https://localhost:$https_port/healthz after $1 s"
}
# post WANTED: posts the gzipped sample report and checks the status.
post() {
  local code
  code=$(curl -s -o "$tmp/answer" -w '%{http_code}' --max-time 30 --cacert "$clone/var/tls/cert.pem" \
    -H 'Content-Type: application/tlsrpt+gzip' --data-binary @"$tmp/report.json.gz" \
    "https://localhost:$https_port/v1/tlsrpt")
  [ "$code" = "$1" ] || fail "POST /v1/tlsrpt answered $code ($(head -c 300 "$tmp/answer")), wanted $1"
}
gzip -c "$SAMPLE" >"$tmp/report.json.gz"

say "first ./dev run (builds stswatch; PostgreSQL on $pg_port, HTTPS on $https_port, SMTP on $smtp_port)"
start 1
wait_ready "$TIMEOUT"
t1=$(now)
grep -qF "https://localhost:$https_port/v1/tlsrpt" "$log" || fail "the message does not name HTTPS port $https_port"
grep -qF "127.0.0.1:$smtp_port" "$log" || fail "the message does not name SMTP port $smtp_port"
where=$(bash "$clone/tests/fixtures/pg.sh" where "$clone/var/pg")
if [ "$(id -u)" = 0 ]; then
  # User postgres cannot enter $tmp: the cluster is elsewhere, ./var/pg points to it.
  [ -L "$clone/var/pg" ] || fail "as root in a mode-700 folder, var/pg is not a link to the cluster"
  grep -qF "$where" "$log" || fail "the message does not say where the cluster is ($where)"
fi
[ -f "$where/data/PG_VERSION" ] || fail "no cluster in $where"
post 201
# The dashboard and the API answer on the address the message names, with the token of var/api-token.
grep -qF "http://localhost:$api_port/" "$log" || fail "the message does not name the dashboard on port $api_port"
token=$(cat "$clone/var/api-token")
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://localhost:$api_port/api/v1/domains")
[ "$code" = 401 ] || fail "GET /api/v1/domains without the token answered $code, wanted 401"
curl -sf --max-time 30 -H "Authorization: Bearer $token" "http://localhost:$api_port/api/v1/domains" >"$tmp/domains" \
  || fail "GET /api/v1/domains with the token failed"
grep -q '"domains"' "$tmp/domains" || fail "GET /api/v1/domains: $(head -c 300 "$tmp/domains")"
code=$(curl -s -o "$tmp/signin" -w '%{http_code}' --max-time 10 "http://localhost:$api_port/signin")
[ "$code" = 200 ] && grep -qi "<form" "$tmp/signin" || fail "GET /signin answered $code without a form"
STSWATCH_DB="host=127.0.0.1 port=$pg_port user=postgres dbname=stswatch" \
  "$clone/build/app/stswatch" reports list >"$tmp/list" 2>&1 || fail "reports list: $(cat "$tmp/list")"
grep -q "Google" "$tmp/list" || fail "the report is not listed: $(cat "$tmp/list")"
stop_service

say "second ./dev run (the same cluster)"
start 2
wait_ready 300
t2=$(now)
[ "$(bash "$clone/tests/fixtures/pg.sh" where "$clone/var/pg")" = "$where" ] || fail "the cluster moved"
post 200
stop_service
grep -q "ninja: no work to do" "$log" || say "note: the second run rebuilt something"
say "ok: first start $((t1 - t0)) s (clone and build included), second $((t2 - t1)) s"
