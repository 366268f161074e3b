#!/usr/bin/env bash
# Installs what the e2e tests need: Debian's Chromium and the npm packages.
# Idempotent; safe to run non-interactively (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium </dev/null
fi

# npm rewrites node_modules/.package-lock.json on every install, so it marks
# when node_modules was last brought in line with package-lock.json.
if [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi
