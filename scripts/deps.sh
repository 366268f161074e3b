#!/usr/bin/env bash
# Installs what the tests need: Debian's Chromium (browser tests), wrk (the
# load tool's wrk mode), nginx (the cluster test's load balancer and the
# benchmarks' reference proxy), slapd and ldap-utils (scripts/slapd.sh, for
# the LDAP user-store tests), and the npm packages. PostgreSQL is not
# among them: scripts/postgres.sh installs it when a test run first needs it.
# Idempotent; safe to run non-interactively (CI=true, no stdin).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  # Packages with a service (nginx) must not start it: the tests run their
  # own nginx on free ports, and nothing may be left running. Debian's
  # invoke-rc.d asks policy-rc.d, and 101 means "not allowed".
  policy=/usr/sbin/policy-rc.d
  made_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    made_policy=true
  fi
  trap '[ "$made_policy" = true ] && "${as_root[@]}" rm -f "$policy"' EXIT
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" </dev/null
fi

# slapd needs its debconf answers first; scripts/slapd.sh gives them.
scripts/slapd.sh install

# npm rewrites node_modules/.package-lock.json on every install, so it marks
# when node_modules was last brought in line with package-lock.json.
if [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci
fi
