#!/usr/bin/env bash
# The main job, end to end on this machine. Until the virtual lab lands this
# validates and plans the example HPC cluster (258 nodes over several files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent
export METALFORM_BMC_PASSWORD=${METALFORM_BMC_PASSWORD:-demo-only-password}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
echo "\$ metalform validate -c examples/hpc"
./bin/metalform validate -c examples/hpc
echo
echo "\$ metalform plan -c examples/hpc"
./bin/metalform plan -c examples/hpc --state "$state/state.json" || [ $? -eq 2 ]
