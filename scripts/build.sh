#!/usr/bin/env bash
# Builds metalform: TypeScript to dist/, the installer's /init next to its module,
# and the small native helper the DHCP server (bind to an interface) and the TFTP
# server (large request buffer, one sendmmsg per window) use
# (rebuilt only when its source changed).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
cp src/boot/installer-init.sh dist/boot/installer-init.sh
addon=native/udp-bind-device/build/Release/udp_bind_device.node
if [ ! -f "$addon" ] || [ native/udp-bind-device/udp_bind_device.c -nt "$addon" ]; then
  bash native/udp-bind-device/build.sh >/dev/null
fi
