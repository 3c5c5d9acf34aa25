#!/usr/bin/env bash
# bench/scale: time to provision N simulated nodes with 1, 2 and 3 provisioners,
# each provisioner's outgoing bandwidth capped with tc (tbf), printed side by side
# with the ideal 1/k. Run as root:
#
#   bash bench/scale/run.sh            # NODES=12 IMAGE_MIB=24 RATE=80mbit KS="1 2 3"
#
# Needs the Debian packages the tests need (postgresql, udhcpc, curl, rsync, ipxe,
# iproute2); `bash scripts/test.sh` once installs them, or scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench/scale: needs root (network namespaces, tc)" >&2; exit 1; }
npm run build >/dev/null 2>&1 || { echo "bench/scale: npm run build failed" >&2; exit 1; }
exec npx vitest run --config bench/scale/vitest.config.ts --reporter=dot --silent=false
