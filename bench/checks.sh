#!/usr/bin/env bash
# The checks benchmark: run_check over N fixture domains (d0000.bench.test …) served by a real
# Knot DNS server and one real nginx policy host, from K threads, beside the floor of the same
# DNS queries, TLS handshakes and GETs done directly (bench/README.md says how to read it).
# Figures, not pass/fail.
#   bench/checks.sh BUILD_DIR [--quick] [--summary FILE]
# Environment: STSWATCH_BENCH_DOMAINS (default 1000, 200 with --quick),
# STSWATCH_BENCH_CHECK_THREADS (default 16,32).
#
# Everything lives in a throwaway directory removed on exit: the zone, a CA and ONE policy-host
# certificate whose subjectAltName lists every mta-sts.<domain> (made here, never kept), the
# nginx configuration. nginx listens on a random 127.0.x.y:443 (root needed for port 443).
set -euo pipefail

USAGE="bench/checks.sh BUILD_DIR [--quick] [--summary FILE]"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
read_build_dir "$@"; shift
quick=0; summary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --summary) [ $# -ge 2 ] || usage; summary=$2; shift ;;
    *) usage ;;
  esac
  shift
done
if [ $quick = 1 ]; then DOMAINS=${STSWATCH_BENCH_DOMAINS:-200}; else DOMAINS=${STSWATCH_BENCH_DOMAINS:-1000}; fi
THREADS=${STSWATCH_BENCH_CHECK_THREADS:-16,32}
ZONE=bench.test

CHECKS="$BUILD/bench/checks"
[ -x "$CHECKS" ] || die "$CHECKS: not built (cmake --build $BUILD --target bench_checks)"
command -v nginx >/dev/null || die "nginx not found (apt-get install nginx-light or nginx)"
command -v openssl >/dev/null || die "openssl not found"
[ "$(id -u)" = 0 ] || die "the policy host listens on port 443: run as root"

enter_scratch stswatch-bench-checks
nginx_pid=""
before_cleanup() {
  stop_pid "$nginx_pid" QUIT
  bash "$ROOT/tests/fixtures/dns.sh" destroy "$tmp/dns" >/dev/null 2>&1 || true
}
name() { printf 'd%04d.%s' "$1" "$ZONE"; }

say "checks: a CA and one certificate for $DOMAINS policy hosts"
q() { "$@" >/dev/null 2>&1 || die "failed: $*"; }
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
  -days 90 -subj "/CN=stswatch bench CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
{
  printf 'subjectAltName='
  for ((i = 0; i < DOMAINS; i++)); do
    [ $i -gt 0 ] && printf ','
    printf 'DNS:mta-sts.%s' "$(name $i)"
  done
  printf '\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
} > policy.ext
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout policy.key -out policy.csr \
  -subj "/CN=mta-sts.$(name 0)"
q openssl x509 -req -in policy.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out policy.pem -days 90 \
  -extfile policy.ext
# The MX (served inside the bench program, for the STARTTLS probe runs).
printf 'subjectAltName=DNS:mx.%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$ZONE" > mx.ext
q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout mx.key -out mx.csr -subj "/CN=mx.$ZONE"
q openssl x509 -req -in mx.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out mx.pem -days 90 -extfile mx.ext
rm -f policy.csr mx.csr ca.key

# A loopback address of its own on port 443 (tests use 127.64+.x.y: no clash with them).
address=""
mkdir -p www logs
printf 'version: STSv1\nmode: enforce\nmx: mx.%s\nmax_age: 604800\n' "$ZONE" > www/mta-sts.txt
for attempt in $(seq 10); do
  candidate="127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))"
  cat > nginx.conf <<CONF
daemon off;
master_process on;
worker_processes auto;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/logs; proxy_temp_path $tmp/logs; fastcgi_temp_path $tmp/logs;
    uwsgi_temp_path $tmp/logs; scgi_temp_path $tmp/logs;
    server {
        listen $candidate:443 ssl default_server;
        server_name _;
        ssl_certificate $tmp/policy.pem;
        ssl_certificate_key $tmp/policy.key;
        location = /.well-known/mta-sts.txt { default_type text/plain; alias $tmp/www/mta-sts.txt; }
        location / { return 404; }
    }
}
CONF
  nginx -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/logs/nginx.out" 2>&1 &
  nginx_pid=$!
  for _ in $(seq 50); do
    if curl -s -o /dev/null --max-time 1 --cacert ca.pem --resolve "mta-sts.$(name 0):443:$candidate" \
        "https://mta-sts.$(name 0)/.well-known/mta-sts.txt"; then address=$candidate; break; fi
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$address" ] && break
  kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=""
done
[ -n "$address" ] || { cat "$tmp/logs/nginx.out" "$tmp/logs/error.log" >&2 2>/dev/null; die "nginx did not start on 127.0.x.y:443"; }
say "checks: policy host (nginx) on $address:443"

# Another address for the MX, port 25 (bound by the bench program itself).
while :; do
  mx_address="127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))"
  [ "$mx_address" != "$address" ] && break
done
{
  printf '$ORIGIN %s.\n$TTL 3600\n' "$ZONE"
  printf '@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 3600\n@ NS ns\nns A 127.0.0.1\n' "$ZONE" "$ZONE"
  printf 'mx A %s\n' "$mx_address"
  for ((i = 0; i < DOMAINS; i++)); do
    d=$(printf 'd%04d' $i)
    printf '%s MX 10 mx.%s.\n' "$d" "$ZONE"
    printf '_mta-sts.%s TXT "v=STSv1; id=2026112601"\n' "$d"
    printf '_smtp._tls.%s TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"\n' "$d" "$ZONE"
    printf 'mta-sts.%s A %s\n' "$d" "$address"
  done
} > zone
dns_port=""
for _ in 1 2 3; do
  port=$(free_port)
  if bash "$ROOT/tests/fixtures/dns.sh" start "$tmp/dns" "$port" "$ZONE=$tmp/zone" >/dev/null 2>"$tmp/logs/dns.err"; then
    dns_port=$port; break
  fi
done
[ -n "$dns_port" ] || { cat "$tmp/logs/dns.err" >&2; die "knot did not start"; }
say "checks: Knot on 127.0.0.1:$dns_port, $DOMAINS domains"

args=(--resolver "127.0.0.1:$dns_port" --ca-file "$tmp/ca.pem" --zone "$ZONE" --domains "$DOMAINS"
      --threads "$THREADS")
[ -n "$summary" ] && args+=(--summary "$summary")
status=0
say "checks: records and policy (no MX probes)"
"$CHECKS" "${args[@]}" --label "no probes" || status=1
echo
say "checks: with STARTTLS probes of the MX (in-process responder on $mx_address:25)"
"$CHECKS" "${args[@]}" --label "MX probes" --probe --smtp-port 25 \
  --mx-listen "$mx_address:25" --mx-cert "$tmp/mx.pem" --mx-key "$tmp/mx.key" || status=1
exit $status
