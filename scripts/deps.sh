#!/usr/bin/env bash
# Installs what the tests need: Debian's Chromium (browser tests) and wrk
# (the load tool's wrk mode), and the npm packages. PostgreSQL is not among
# them: scripts/postgres.sh installs it when a test run first needs it.
# Idempotent; safe to run non-interactively (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" </dev/null
fi

# npm rewrites node_modules/.package-lock.json on every install, so it marks
# when node_modules was last brought in line with package-lock.json.
if [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi
