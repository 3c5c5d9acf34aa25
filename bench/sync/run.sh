#!/bin/bash
# bench/sync: the installer's image sync against plain rsync over the same trees.
# Full install of a ~200 MB image onto a loop device, a sync after a 1 % change, a
# sync with nothing changed: bytes received and wall time, from the installer's own
# reports, beside `rsync` run by hand. Needs root and: rsync fdisk e2fsprogs
# util-linux wget (apt-get install). Usage: bench/sync/run.sh [IMAGE_MB]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/sync needs root (loop devices, mounts)" >&2; exit 1; }
for t in rsync sfdisk mkfs.ext4 partx wget unshare losetup; do
	command -v "$t" >/dev/null || { echo "missing $t: apt-get install rsync fdisk e2fsprogs util-linux wget mount" >&2; exit 1; }
done
out=$(mktemp -d /tmp/mfin-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
# Compile the sources (emits even when other parts of the tree do not typecheck yet).
npx tsc -p tsconfig.json --outDir "$out/dist" --sourceMap false >/dev/null 2>&1 || true
[ -f "$out/dist/boot/install-plan.js" ] || { echo "tsc did not emit dist/boot/install-plan.js" >&2; exit 1; }
MF_DIST="$out/dist" MF_SRC="$PWD/src" node bench/sync/bench.mjs "${1:-200}"
