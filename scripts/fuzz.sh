#!/usr/bin/env bash
# Runs fuzz targets for a while each, in a scratch directory:
#
#   scripts/fuzz.sh 3s oauth:FuzzPKCE handlers:FuzzSafeReturn ...
#
# `go test -fuzz` writes a failing input into the package's testdata/fuzz,
# where every later `go test` runs it as a seed (and git sees it), and keeps
# what it learnt in the shared fuzz cache ($GOCACHE/fuzz). Here each target's
# test binary runs in a scratch copy of its package's testdata with its own
# cache directory (-test.fuzzcachedir), so a finding stays out of the tree
# and out of later runs until someone decides to keep it as a seed.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=$1
shift
GO=${GO:-go}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/apistore-fuzz.XXXXXX")

for target in "$@"; do
  pkg=${target%%:*}
  name=${target#*:}
  dir="$scratch/$pkg/$name"
  mkdir -p "$dir"
  # -fuzz builds the binary with the coverage instrumentation fuzzing needs.
  # The pattern plays no part in the build (the binary is the same for every
  # target of a package), so each package is built once; which target runs
  # is chosen by -test.fuzz below.
  bin="$scratch/$pkg/fuzz.test"
  if [ ! -x "$bin" ]; then
    "$GO" test -c -fuzz "^${name}\$" -o "$bin" "./$pkg"
  fi
  if [ -d "$pkg/testdata" ]; then
    cp -R "$pkg/testdata" "$dir/testdata"
  fi
  if ! (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$fuzztime" \
    -test.fuzzcachedir "$dir/cache"); then
    echo
    echo "$target failed. The failing input is in $dir/testdata/fuzz/$name/ (not in the tree)."
    echo "To keep it as a regression seed, copy it to $pkg/testdata/fuzz/$name/ and run"
    echo "  go test -run '^$name\$' ./$pkg"
    exit 1
  fi
  echo "ok  $target"
done
rm -rf "$scratch"
