#!/usr/bin/env bash
# Runs the dashboard's browser test: installs playwright-core from the committed lock when
# node_modules is missing, then the test program, which seeds a database, starts
# `stswatch serve` and runs dashboard.mjs in headless Chromium.
#   run.sh TEST_PROGRAM OUTPUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
program=$1 out=$2
command -v node >/dev/null || { echo "browser test: node is not installed (./dev setup)"; exit 1; }
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "browser test: $chromium is missing (apt-get install -y chromium)"; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$out"
export STSWATCH_BROWSER_SCRIPT="$here/dashboard.mjs" STSWATCH_BROWSER_OUT="$out" CHROMIUM="$chromium"
exec "$program" --warn NoAssertions
