#!/usr/bin/env bash
# Installs what metalform's tests and demo need on a fresh Debian machine:
# Debian packages (real peers: DHCP/TFTP clients, rsync, ipmi_sim, QEMU ...) and
# the npm packages. Idempotent and quiet when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages the tests use. udhcpc is installed on its own: together with others it
# once failed to resolve (FACTS.md).
DEBS=(
  iproute2 iputils-ping procps psmisc util-linux
  isc-dhcp-client kea-admin
  curl atftp tftp-hpa
  rsync
  openipmi ipmitool redfishtool openssl
  busybox-static e2fsprogs xfsprogs dosfstools mdadm lvm2 fdisk cpio kmod shellcheck wget
  qemu-system-x86 ipxe-qemu ipxe ovmf radvd tcpdump nftables dnsmasq-base
  shim-signed grub-efi-amd64-signed
  g++ make python3
  postgresql
  netplan.io
  mmdebstrap skopeo umoci tar zstd xz-utils openssh-client
  systemd
)
SOLO_DEBS=(udhcpc)

missing=()
for p in "${DEBS[@]}" "${SOLO_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "metalform: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  normal=()
  for p in "${missing[@]}"; do [[ " ${SOLO_DEBS[*]} " == *" $p "* ]] || normal+=("$p"); done
  ((${#normal[@]})) && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${normal[@]}" >/dev/null
  for p in "${SOLO_DEBS[@]}"; do
    [[ " ${missing[*]} " == *" $p "* ]] && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$p" >/dev/null
  done
fi

# The virtual lab fetches its kernel with `apt-get download`: it needs package lists.
if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
