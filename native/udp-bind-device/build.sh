#!/usr/bin/env bash
# Builds build/Release/udp_bind_device.node offline with the node-gyp that ships
# inside npm and the headers of the installed node (/usr/include/node).
# Needs: g++/gcc, make, python3 (Debian: build-essential, python3).
set -euo pipefail
cd "$(dirname "$0")"
gyp="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp="$(dirname "$(readlink -f "$(command -v node)")")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
[ -f "$nodedir/include/node/node_api.h" ] || { echo "node headers not found under $nodedir/include/node" >&2; exit 1; }
log="$(mktemp)"
node "$gyp" rebuild --nodedir="$nodedir" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
echo "built $(pwd)/build/Release/udp_bind_device.node"
