#!/usr/bin/env bash
# The main job, end to end on this machine: a virtual lab of three QEMU nodes with
# IPMI BMCs, then `metalform plan` and `metalform apply` — the nodes PXE-boot from
# metalform, partition, sync the image, switch root and report UP — then the lab is
# removed. Needs root (network namespaces, QEMU taps); installs what it needs.
# `--image debian`: the nodes install Debian 12 built from a recipe with mmdebstrap
# (built once and cached; the first run adds 2–3 minutes) instead of the small
# busybox image.
set -euo pipefail
IMAGE=busybox
NODES=3
while (($#)); do
  case "$1" in
    --image) IMAGE=${2:?--image needs busybox or debian}; shift 2 ;;
    --image=*) IMAGE=${1#--image=}; shift ;;
    *) echo "usage: $0 [--image busybox|debian]" >&2; exit 2 ;;
  esac
done
# Debian nodes want 1 GiB each under TCG: two of them.
[ "$IMAGE" = debian ] && NODES=2
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent >/dev/null
NS=${METALFORM_DEMO_NAMESPACE:-mfdemo}
mf() { ./bin/metalform "$@"; }
cleanup() { mf lab down --namespace "$NS" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
start=$(date +%s)
echo "\$ metalform lab up --nodes $NODES --image $IMAGE"
mf lab up --namespace "$NS" --nodes "$NODES" --image "$IMAGE" | tee /tmp/metalform-demo-lab.txt
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
