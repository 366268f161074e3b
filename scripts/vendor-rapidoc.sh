#!/usr/bin/env bash
# Vendors RapiDoc, the renderer of the store's API reference pages, from
# the npm registry into static/ (embedded in the binary: no CDN, and the
# store's Content Security Policy stays 'self'). Its minified bundle is
# the one renderer of those considered (Swagger UI, Redoc, Scalar) whose
# single file is under the 1 MB a tracked file may weigh. Run it to move to
# another version, then commit static/rapidoc-min.js and its licence.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:-9.3.8}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "rapidoc@$VERSION" >/dev/null)
tar -xzf "$tmp/rapidoc-$VERSION.tgz" -C "$tmp" package/dist/rapidoc-min.js package/dist/rapidoc-min.js.LICENSE.txt package/LICENSE.txt
cp "$tmp/package/dist/rapidoc-min.js" static/rapidoc-min.js
{
  echo "RapiDoc $VERSION (npm package rapidoc), static/rapidoc-min.js:"
  echo
  cat "$tmp/package/LICENSE.txt"
  echo
  echo "Bundled third-party code:"
  echo
  cat "$tmp/package/dist/rapidoc-min.js.LICENSE.txt"
} > static/rapidoc.LICENSE.txt
echo "static/rapidoc-min.js: RapiDoc $VERSION, $(wc -c < static/rapidoc-min.js) bytes"
