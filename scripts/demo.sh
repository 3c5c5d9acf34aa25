#!/usr/bin/env bash
# The main job, end to end on this machine: a virtual lab of three QEMU nodes with
# IPMI BMCs, then `metalform plan` and `metalform apply` — the nodes PXE-boot from
# metalform, partition, sync the image, switch root and report UP — then the lab is
# removed. Needs root (network namespaces, QEMU taps); installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent >/dev/null
NS=${METALFORM_DEMO_NAMESPACE:-mfdemo}
mf() { ./bin/metalform "$@"; }
cleanup() { mf lab down --namespace "$NS" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
start=$(date +%s)
echo "\$ metalform lab up --nodes 3"
mf lab up --namespace "$NS" --nodes 3 | tee /tmp/metalform-demo-lab.txt
config=$(sed -n 's/^Cluster configuration: //p' /tmp/metalform-demo-lab.txt)
rm -f /tmp/metalform-demo-lab.txt
echo
echo "\$ metalform lab exec -- metalform plan"
mf lab exec --namespace "$NS" -- metalform plan -c "$config"
echo
echo "\$ metalform lab exec -- metalform apply --auto-approve"
mf lab exec --namespace "$NS" -- metalform apply -c "$config" --auto-approve
echo
echo "\$ metalform lab exec -- metalform plan   # again: nothing left to do"
mf lab exec --namespace "$NS" -- metalform plan -c "$config"
echo
echo "Demo finished in $(( $(date +%s) - start )) s; removing the lab."
