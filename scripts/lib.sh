# Helpers shared by the throw-away servers' scripts (scripts/postgres.sh,
# scripts/slapd.sh), sourced after the script sets script_name.

log() { echo "$script_name: $*" >&2; }
die() {
  log "$*"
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# absolute prints $1 as an absolute path without resolving symbolic links.
absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}
