#!/usr/bin/env bash
# Vendors the web UI's third-party JavaScript into internal/ui/static/vendor,
# where go:embed picks it up: the committed copy is what a fresh clone builds
# with (no npm needed). Run it only to upgrade; then record the new version
# and sha256 in docs/decisions.md ("Web UI").
#   scripts/ui-vendor.sh            # the pinned version below
#   ELKJS_VERSION=0.x.y scripts/ui-vendor.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ELKJS_VERSION=${ELKJS_VERSION:-0.12.1}
dest=internal/ui/static/vendor

command -v npm >/dev/null || { echo "npm is needed to vendor elkjs (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "elkjs@${ELKJS_VERSION}" >/dev/null)
tar -xzf "$work"/elkjs-*.tgz -C "$work"
mkdir -p "$dest"
cp "$work/package/lib/elk.bundled.js" "$dest/elk.bundled.js"
cp "$work/package/LICENSE.md" "$dest/elk.LICENSE.md" 2>/dev/null || cp "$work/package/LICENSE" "$dest/elk.LICENSE.md"
echo "elkjs ${ELKJS_VERSION}"
sha256sum "$dest/elk.bundled.js"
