#!/usr/bin/env bash
# A throw-away OpenLDAP server for the tests: no service, no Docker.
#
#   scripts/slapd.sh install          install Debian's slapd and ldap-utils when
#                                     missing (non-interactively, without the
#                                     package's own directory or service)
#   scripts/slapd.sh start DIR        make a directory server in DIR (empty or
#                                     missing), start it on 127.0.0.1 and print
#                                     its URL, the one line on stdout
#   scripts/slapd.sh stop DIR         stop that server and remove DIR (idempotent)
#
# The server has one database, suffix dc=example,dc=org (mdb), with the
# core, cosine, inetorgperson and nis schemas; its manager is
# cn=admin,dc=example,dc=org with the password given in SLAPD_ROOTPW
# (default "admin"). The tests load their own entries (LDIF) with ldapadd.
# internal/ldaptest calls this script.
set -euo pipefail
shopt -s inherit_errexit

marker=.apistore-slapd

script_name=slapd.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

installed() { [ -x /usr/sbin/slapd ] && command -v ldapadd >/dev/null; }

install() {
  installed && return 0
  local as_root=()
  is_root || as_root=(sudo)
  log "no slapd: installing Debian's slapd and ldap-utils"
  # No questions, and no directory made from the host's name: the tests
  # make their own.
  printf '%s\n' 'slapd slapd/no_configuration boolean true' | "${as_root[@]}" debconf-set-selections
  # A policy-rc.d that refuses every start keeps the package from starting
  # its service; one already there is kept as it is.
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    added=1
  fi
  local status=0
  { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null >&2 &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils </dev/null >&2; } || status=$?
  [ "$added" -eq 0 ] || "${as_root[@]}" rm -f "$policy"
  [ "$status" -eq 0 ] || die "apt-get install slapd ldap-utils failed"
  installed || die "installed slapd but found no /usr/sbin/slapd or ldapadd"
}

start() {
  local dir port url tries rootpw hash
  dir=$(absolute "$1")
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || die "DIR is not empty: $dir"
  install
  touch "$dir/$marker"
  chmod 700 "$dir"
  mkdir "$dir/data"
  rootpw=${SLAPD_ROOTPW:-admin}
  hash=$(/usr/sbin/slappasswd -s "$rootpw")
  cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 16777216
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw $hash
directory $dir/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
CONF
  # A free port: random ones in 20000-29999, below Linux's ephemeral range,
  # until slapd binds one.
  for ((tries = 0; tries < 50; tries++)); do
    port=$((20000 + RANDOM % 10000))
    url="ldap://127.0.0.1:$port"
    if /usr/sbin/slapd -f "$dir/slapd.conf" -h "$url/" -d 0 >>"$dir/log" 2>&1 & then
      local pid=$!
      local i
      for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
          break
        fi
        if ldapsearch -x -H "$url" -b '' -s base >/dev/null 2>&1; then
          echo "$pid" >"$dir/pid"
          log "server running: $url (pid $pid)"
          echo "$url"
          return 0
        fi
        sleep 0.1
      done
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      if grep -q 'Address already in use' "$dir/log"; then
        : >"$dir/log"
        log "port $port is taken; trying another"
        continue
      fi
      log "the server did not start; its log:"
      tail -n 30 "$dir/log" >&2 || true
      return 1
    fi
  done
  die "found no free port in 50 tries"
}

stop() {
  local dir pid
  dir=$(absolute "$1")
  [ -e "$dir" ] || return 0
  [ -d "$dir" ] || die "not a directory: $dir"
  [ -e "$dir/$marker" ] || die "not made by scripts/slapd.sh start, not removing: $dir"
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    if kill "$pid" 2>/dev/null; then
      for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -rf -- "$dir"
}

usage() {
  echo "usage: $0 install | start DIR | stop DIR" >&2
  exit 2
}

[ $# -gt 0 ] || usage
cmd=$1
shift
case "$cmd" in
  install) [ $# -eq 0 ] || usage; install ;;
  start | stop)
    { [ $# -eq 1 ] && [ -n "$1" ]; } || usage
    "$cmd" "$1"
    ;;
  *) usage ;;
esac
