#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests: no Docker, no service.
#
#   scripts/postgres.sh start DIR     make a cluster in DIR (an empty or missing
#                                     directory), start it on 127.0.0.1 and print
#                                     its admin URL, the one line on stdout
#   scripts/postgres.sh stop DIR      stop that server and remove DIR (idempotent)
#   scripts/postgres.sh run CMD ARGS  start one in a temporary directory, run CMD
#                                     with APISTORE_TEST_POSTGRES set to the URL,
#                                     then stop it and remove the directory, even
#                                     when CMD fails or is interrupted; exits with
#                                     CMD's status
#
# The admin URL is postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
# (trust authentication, loopback only). DIR holds the data directory (data/),
# the server log (log) and the server's unix socket.
#
# When no server is installed (/usr/lib/postgresql/VERSION/bin), Debian's
# postgresql package is installed with apt-get, without the "main" cluster and
# service that the package would otherwise create and start. As root, the
# server runs as the postgres user; otherwise as the current user.
set -euo pipefail
# Command substitutions ($(start ...)) stop at the first failure too.
shopt -s inherit_errexit

# The marker that lets stop remove DIR: it never removes a directory that
# start did not make a cluster in.
marker=.apistore-postgres

script_name=postgres.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# newest_bindir prints the bin directory of the newest installed server, or
# nothing.
newest_bindir() {
  local found=() f
  for f in /usr/lib/postgresql/*/bin/initdb; do
    [ -x "$f" ] && found+=("${f%/initdb}")
  done
  [ ${#found[@]} -gt 0 ] || return 0
  printf '%s\n' "${found[@]}" | sort -V | tail -n 1
}

install_server() {
  local as_root=()
  is_root || as_root=(sudo)
  log "no PostgreSQL server in /usr/lib/postgresql: installing Debian's postgresql package"
  # postgresql-common reads createcluster.d when the package is configured:
  # without this it would create a "main" cluster and start it as a service
  # on port 5432, which the tests do not use and which would outlive them.
  "${as_root[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' |
    "${as_root[@]}" tee /etc/postgresql-common/createcluster.d/apistore-no-main-cluster.conf >/dev/null
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null >&2
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql </dev/null >&2
}

# as_owner runs a command as the user that owns directory $1 (shifted off):
# pg_ctl refuses to run as root, and the server must run as its files' owner.
as_owner() {
  local owner
  owner=$(stat -c %U "$1")
  shift
  if is_root; then
    [ "$owner" != root ] || die "the cluster's files belong to root; PostgreSQL does not run as root"
    # From /, since the caller's directory may be closed to that user.
    (cd / && runuser -u "$owner" -- "$@")
  else
    [ "$owner" = "$(id -un)" ] || die "the cluster's files belong to $owner, not $(id -un)"
    "$@"
  fi
}

start() {
  local dir bindir data port url tries offset
  dir=$(absolute "$1")
  case "$dir" in
    *"'"* | *'"'*) die "DIR may not contain quotes: $dir" ;;
  esac
  # The socket's path (DIR/.s.PGSQL.PORT) must fit in sun_path's 108 bytes.
  [ ${#dir} -le 90 ] || die "DIR is too long for a unix socket path (${#dir} bytes, 90 at most): $dir"
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || die "DIR is not empty: $dir"
  data=$dir/data

  bindir=$(newest_bindir)
  if [ -z "$bindir" ]; then
    install_server
    bindir=$(newest_bindir)
    [ -n "$bindir" ] || die "installed postgresql but found no /usr/lib/postgresql/*/bin/initdb"
  fi

  touch "$dir/$marker"
  chmod 700 "$dir"
  if is_root; then
    getent passwd postgres >/dev/null || die "no postgres user to run the server as"
    chown postgres:postgres "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "the postgres user cannot reach $dir: every parent directory must let it through (x)"
  fi

  log "initdb ($bindir) in $data"
  # --no-sync skips only initdb's final flush of the new files: a cluster
  # that is thrown away after the tests has nothing to keep across an OS
  # crash. The server itself keeps fsync on.
  as_owner "$dir" "$bindir/initdb" -D "$data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync --no-instructions >/dev/null
  # Trust, but only on the loopback address and on the socket in DIR (mode
  # 0700, so only its owner and root reach it).
  printf '%s\n' '# TYPE  DATABASE  USER  ADDRESS       METHOD' \
    'local   all       all                 trust' \
    'host    all       all   127.0.0.1/32  trust' >"$data/pg_hba.conf"
  cat >>"$data/postgresql.conf" <<EOF

# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 128MB
EOF

  # A free port: try ports from a random one in 20000-29999, below Linux's
  # ephemeral range (32768-60999) where outgoing connections could take one
  # first, and move on when the server cannot bind. No other tool is needed
  # (a clean Debian has no python3), and no other process can take the port
  # between the check and the bind.
  for ((tries = 0; tries < 50; tries++)); do
    port=$((20000 + RANDOM % 10000))
    offset=0
    [ -f "$dir/log" ] && offset=$(stat -c %s "$dir/log")
    if as_owner "$dir" "$bindir/pg_ctl" -D "$data" -l "$dir/log" -o "-p $port" -w start >&2; then
      url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
      log "server running: $url"
      echo "$url"
      return 0
    fi
    if tail -c +$((offset + 1)) "$dir/log" | grep -q 'could not create any TCP/IP sockets'; then
      log "port $port is taken; trying another"
      continue
    fi
    log "the server did not start; its log ($dir/log):"
    tail -n 30 "$dir/log" >&2 || true
    return 1
  done
  die "found no free port in 50 tries"
}

stop() {
  local dir data version bindir
  dir=$(absolute "$1")
  [ -e "$dir" ] || return 0
  [ -d "$dir" ] || die "not a directory: $dir"
  if [ ! -e "$dir/$marker" ]; then
    # Only a directory that start never reached may be removed as is.
    [ -z "$(ls -A "$dir")" ] || die "not made by scripts/postgres.sh start, not removing: $dir"
    rmdir "$dir"
    return 0
  fi
  data=$dir/data
  if [ -f "$data/postmaster.pid" ]; then
    version=$(cat "$data/PG_VERSION")
    bindir=/usr/lib/postgresql/$version/bin
    [ -x "$bindir/pg_ctl" ] || die "PostgreSQL $version's pg_ctl is gone; stop the server of $data by hand"
    # pg_ctl status: 0 when the server runs, 3 when not (a stale pid file
    # left by a crash).
    if as_owner "$data" "$bindir/pg_ctl" -D "$data" status >/dev/null; then
      as_owner "$data" "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2
    fi
  fi
  rm -rf -- "$dir"
}

run() {
  [ $# -gt 0 ] || die "run needs a command"
  local dir url status=0
  # Under /tmp, not $TMPDIR: the postgres user must reach it, and the socket
  # path must stay short.
  dir=$(mktemp -d /tmp/apistore-pg.XXXXXXXXXX)
  # shellcheck disable=SC2064 # dir is fixed now
  trap "stop '$dir' || log 'could not stop the server in $dir'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  url=$(start "$dir")
  export APISTORE_TEST_POSTGRES=$url
  "$@" || status=$?
  exit "$status"
}

usage() {
  echo "usage: $0 start DIR | stop DIR | run CMD [ARGS...]" >&2
  exit 2
}

[ $# -gt 0 ] || usage
cmd=$1
shift
case "$cmd" in
  start | stop)
    { [ $# -eq 1 ] && [ -n "$1" ]; } || usage
    "$cmd" "$1"
    ;;
  run) run "$@" ;;
  *) usage ;;
esac
