// The scripts of the lab software image. Kept as text here so the image is built
// from one place, byte for byte the same on every run.
//
// Contract with the installer (it writes these into the installed system):
//   /etc/metalform/api           the URL the UP report is POSTed to (the node's UP endpoint)
//   /etc/metalform/token         bearer token for that URL (optional)
//   /etc/metalform/image-digest  digest of the image the node runs (/etc/metalform/image is read too)
//   /etc/metalform/node          the node's name (default: the hostname)
//   /etc/network/interfaces      the node's static address (busybox ifup -a brings it up)
// The installer may also replace /etc/metalform/report-up and /etc/init.d/S99metalform-up
// with its own: rcS runs every /etc/init.d/S??* script with "start", so either works.

export const INITTAB = `# lab image: busybox init
::sysinit:/etc/init.d/rcS
::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/sbin/swapoff -a
::shutdown:/bin/umount -a -r
`;

export const RCS = `#!/bin/sh
# lab image: bring the system up once at boot (run by busybox init).
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH
[ -e /proc/self ] || mount -t proc proc /proc
grep -qs " /sys " /proc/mounts || mount -t sysfs sysfs /sys
grep -qs " /dev " /proc/mounts || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
grep -qs " /dev/pts " /proc/mounts || mount -t devpts devpts /dev/pts
grep -qs " /run " /proc/mounts || mount -t tmpfs -o mode=0755 tmpfs /run
mount -o remount,rw / 2>/dev/null
mount -a 2>/dev/null
swapon -a 2>/dev/null
[ -r /etc/hostname ] && hostname -F /etc/hostname
# Modules the installer has loaded already load again as no-ops.
while read -r m; do
	case "$m" in "" | \\#*) continue ;; esac
	modprobe "$m" 2>/dev/null
done </etc/modules
ip link set lo up
mkdir -p /run/network
[ -r /etc/network/interfaces ] && ifup -a
for s in /etc/init.d/S??*; do
	[ -x "$s" ] && "$s" start
done
echo "metalform lab image: $(hostname) up, kernel $(uname -r)"
`;

export const REPORT_UP = `#!/bin/sh
# lab image: tell the head node that this node is UP and which image it runs.
# Reads the URL, token, digest and node name the installer wrote (see the contract
# in metalform's src/lab/image-scripts.ts); without a URL there is no one to tell.
d=/etc/metalform
[ -r $d/api ] || exit 0
url=$(cat $d/api)
token=$(cat $d/token 2>/dev/null)
digest=$(cat $d/image-digest 2>/dev/null || cat $d/image 2>/dev/null)
node=$(cat $d/node 2>/dev/null || hostname)
# Only characters that need no JSON escaping.
digest=$(printf '%s' "$digest" | tr -cd 'A-Za-z0-9:._-')
node=$(printf '%s' "$node" | tr -cd 'A-Za-z0-9._-')
body="{\\"node\\":\\"$node\\",\\"status\\":\\"up\\",\\"imageDigest\\":\\"$digest\\",\\"image\\":\\"$digest\\"}"
i=0
while [ $i -lt 30 ]; do
	# busybox wget -T crashes in Debian's busybox-static 1.35: bound it with timeout instead.
	if [ -n "$token" ]; then
		timeout 10 wget -q -O /dev/null --header "Authorization: Bearer $token" --header "Content-Type: application/json" --post-data "$body" "$url" && exit 0
	else
		timeout 10 wget -q -O /dev/null --header "Content-Type: application/json" --post-data "$body" "$url" && exit 0
	fi
	i=$((i + 1))
	sleep 2
done
echo "metalform: could not report UP to $url" >&2
exit 1
`;

export const S99_REPORT_UP = `#!/bin/sh
# lab image: report UP in the background so the boot never waits for the head node.
case "\${1:-start}" in
start) /etc/metalform/report-up >/dev/console 2>&1 & ;;
esac
exit 0
`;

/** /init of the image's own initrd: mount the root file system named by root= and switch to it. */
export const LOCAL_BOOT_INIT = `#!/bin/sh
# lab image initrd: load the virtio and ext4 modules, mount root= (LABEL=, UUID= or a
# device; default LABEL=root) and switch to the installed system.
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	case "$m" in "" | \\#*) continue ;; esac
	modprobe "$m" 2>/dev/null
done </etc/modules
root=LABEL=root
rootfstype=ext4
for w in $(cat /proc/cmdline); do
	case "$w" in
	root=*) root=\${w#root=} ;;
	rootfstype=*) rootfstype=\${w#rootfstype=} ;;
	esac
done
dev=""
i=0
while [ $i -lt 100 ]; do
	case "$root" in
	/dev/*) [ -b "$root" ] && dev=$root ;;
	*) dev=$(findfs "$root" 2>/dev/null) ;;
	esac
	[ -n "$dev" ] && [ -b "$dev" ] && break
	dev=""
	sleep 0.1
	i=$((i + 1))
done
if [ -z "$dev" ] || ! mount -t "$rootfstype" "$dev" /newroot; then
	echo "lab initrd: cannot mount the root file system $root" >&2
	exec sh
fi
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot /sbin/init
`;
