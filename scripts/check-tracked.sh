#!/usr/bin/env bash
# Fails when git tracks a build output: an executable or object file (ELF,
# Mach-O, PE, or a file with the executable bit that is not a script) or any
# file over 1 MB. Run by make lint.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=$((1024 * 1024))
bad=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue # deleted in the work tree, not yet committed
  size=$(stat -c %s "$f")
  if [ "$size" -gt "$limit" ]; then
    echo "tracked file over 1 MB: $f ($size bytes)"
    bad=1
    continue
  fi
  magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
  case "$magic" in
    7f454c46 | cffaedfe | feedfacf | cafebabe | 4d5a*)
      echo "tracked binary: $f"
      bad=1
      ;;
  esac
  if [ -x "$f" ] && [ "$(head -c 2 "$f")" != '#!' ]; then
    echo "tracked executable that is not a script: $f"
    bad=1
  fi
done < <(git ls-files -z)
if [ "$bad" -ne 0 ]; then
  echo "remove these from git (git rm --cached FILE) and add them to .gitignore"
  exit 1
fi
