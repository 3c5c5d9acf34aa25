#!/usr/bin/env bash
# bench/debian: a real Debian 12 image on one lab node — install, then a sync after one
# package was added to the recipe — beside plain `rsync -aHAX` of the same two trees
# from a local rsync daemon, printed side by side; plus the installer's size and build
# time for that image's kernel. Run as root (network namespaces, QEMU):
#
#   bash bench/debian/run.sh
#
# The two Debian recipes are built with mmdebstrap once per machine (minutes) into the
# shared recipe cache ($METALFORM_RECIPE_CACHE or ~/.cache/metalform/recipes).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/debian: needs root (network namespaces, QEMU)" >&2; exit 1; }
npm run build >/dev/null 2>&1 || { echo "bench/debian: npm run build failed" >&2; exit 1; }
exec npx vitest run --config bench/debian/vitest.config.ts --reporter=dot --silent=false
