#!/bin/sh
# metalform installer /init (POSIX sh, busybox).
#
# Boot of one node, phase 3 and 4: load modules, DHCP, fetch this node's install plan,
# match disks, decide the install mode, partition / assemble / mkfs or fsck, mount,
# rsync the image, write the node's files, install a boot loader, set the BMC, report
# every step, switch root.
#
# Test mode: every path and command can be overridden from the environment, so tests
# run this very script as root against loop devices in a private mount namespace:
#   MF_API                  API base URL of this node (else mf.api= from /proc/cmdline)
#   MF_TOKEN                this attempt's credential (else claimed once from the API:
#                           it is never on the kernel command line or in the iPXE script)
#   MF_ROOT                 where the installed system is mounted (default /newroot)
#   MF_WORK                 scratch directory (default /run/metalform)
#   MF_CANDIDATES           disk devices to match against (default: scan $MF_SYS/block)
#   MF_SYS                  sysfs root (default /sys)
#   MF_NO_SWITCH_ROOT=1     unmount and exit instead of switch_root
#   MF_SKIP_BOOTSTRAP=1     do not mount /proc etc., load modules or run DHCP
#   MF_RSYNC_ARGS           extra rsync arguments
#   MF_ONFAIL               as PID 1 after a failure: shell (default), poweroff, reboot
#                           (kernel argument mf.onfail=)
# Exit status in test mode: 0 done, 2 refused (protected), 1 failed.

set -u
PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH

MF_ROOT=${MF_ROOT:-/newroot}
MF_WORK=${MF_WORK:-/run/metalform}
MF_SYS=${MF_SYS:-/sys}
MF_CANDIDATES=${MF_CANDIDATES:-}
MF_NO_SWITCH_ROOT=${MF_NO_SWITCH_ROOT:-0}
MF_SKIP_BOOTSTRAP=${MF_SKIP_BOOTSTRAP:-0}
MF_RSYNC_ARGS=${MF_RSYNC_ARGS:-}
MF_API=${MF_API:-}
MF_TOKEN=${MF_TOKEN:-}
MF_RSYNC_USER=${MF_RSYNC_USER:-}
MF_RSYNC_PASSWORD=${MF_RSYNC_PASSWORD:-}
MF_MAC=${MF_MAC:-}
MF_INIT=${MF_INIT:-/sbin/init}
MF_ONFAIL=${MF_ONFAIL:-shell}
MF_MOUNTED=""
MF_ASSEMBLED=""
MF_STEP="init"
MF_LOG=""
MF_NET_STACK=""

log() { echo "metalform: $*" >&2; }

# ---- reporting -------------------------------------------------------------------

# JSON string body of stdin: escapes quote, backslash, tab, newline; drops other controls.
json_escape() {
	tr -d '\000-\010\013-\037' | awk 'BEGIN { ORS = "" } {
		gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t")
		if (NR > 1) printf "\\n"
		printf "%s", $0
	}'
}

http_post() { # url body
	if command -v wget >/dev/null 2>&1; then
		timeout 20 wget -q -O /dev/null --header "Authorization: Bearer $MF_TOKEN" \
			--header "Content-Type: application/json" --post-data "$2" "$1"
	else
		curl -fsS -m 10 -o /dev/null -H "Authorization: Bearer $MF_TOKEN" \
			-H "Content-Type: application/json" --data "$2" "$1"
	fi
}

http_get() { # url outfile
	if command -v wget >/dev/null 2>&1; then
		timeout 60 wget -q -O "$2" --header "Authorization: Bearer $MF_TOKEN" "$1"
	else
		curl -fsS -m 20 -o "$2" -H "Authorization: Bearer $MF_TOKEN" "$1"
	fi
}

# report STEP STATUS [MESSAGE] [BYTES] [FILES]
report() {
	_r_body="{\"step\":\"$1\",\"status\":\"$2\""
	if [ -n "${3:-}" ]; then
		_r_body="$_r_body,\"message\":\"$(printf '%s' "$3" | json_escape)\""
	fi
	if [ -n "${4:-}" ]; then _r_body="$_r_body,\"bytes\":$4"; fi
	if [ -n "${5:-}" ]; then _r_body="$_r_body,\"files\":$5"; fi
	_r_body="$_r_body}"
	log "$1 $2${3:+: $3}"
	if [ -n "$MF_API" ]; then
		http_post "$MF_API/report" "$_r_body" >/dev/null 2>&1 || log "could not send the report for $1"
	fi
}

report_progress() { # step bytes percent
	if [ -n "$MF_API" ]; then
		http_post "$MF_API/report" "{\"step\":\"$1\",\"status\":\"progress\",\"bytes\":$2,\"percent\":$3}" >/dev/null 2>&1 || true
	fi
}

# Ends the installer: in test mode exit; as PID 1 keep a shell for the operator.
halt_installer() { # exit-status
	cleanup_mounts
	if [ "$$" = 1 ]; then
		case "$MF_ONFAIL" in
		poweroff) poweroff -f ;;
		reboot) sleep 10 && reboot -f ;;
		esac
		log "installation stopped; dropping to a shell"
		while :; do sh; done
	fi
	exit "$1"
}

fail() { # message
	report "$MF_STEP" failed "$1"
	halt_installer 1
}

step() { MF_STEP=$1; report "$1" started; }
done_step() { report "$MF_STEP" finished "${1:-}" "${2:-}" "${3:-}"; }

# run CMD...: runs a command of the current step; on failure reports the tail of its output.
run() {
	MF_LOG="$MF_WORK/$MF_STEP.log"
	if ! "$@" >>"$MF_LOG" 2>&1; then
		fail "$* failed: $(tail -n 15 "$MF_LOG")"
	fi
}

# ---- plan helpers ------------------------------------------------------------------

get() { eval "printf '%s' \"\${$1:-}\""; }

# Partition device of disk DEV number N: sda -> sda1, nvme0n1 / loop3 -> nvme0n1p1.
partdev() {
	case "$1" in
	*[0-9]) echo "${1}p$2" ;;
	*) echo "$1$2" ;;
	esac
}

# Device path of a plan reference: part:<disk>:<n>, md:<i> or lv:<i>.
refdev() {
	case "$1" in
	part:*)
		_rd_rest=${1#part:}
		_rd_d=$(get "MF_DISK_${_rd_rest%%:*}_DEV")
		partdev "$_rd_d" "${_rd_rest#*:}"
		;;
	md:*) get "MF_RAID_${1#md:}_DEV" ;;
	lv:*) get "MF_LV_${1#lv:}_DEV" ;;
	*) return 1 ;;
	esac
}

# Size of a block device in bytes, from sysfs (512-byte sectors).
disk_bytes() {
	_db_b=$(basename "$1")
	_db_s=$(cat "$MF_SYS/class/block/$_db_b/size" 2>/dev/null || echo 0)
	echo $((_db_s * 512))
}

sysattr() { # device attribute-path...
	_sa_b=$(basename "$1")
	shift
	for _sa_a in "$@"; do
		if [ -r "$MF_SYS/class/block/$_sa_b/$_sa_a" ]; then
			sed 's/^ *//; s/ *$//' "$MF_SYS/class/block/$_sa_b/$_sa_a"
			return 0
		fi
	done
	return 1
}

# Makes sure the kernel knows the partitions of DISK (N of them) and their nodes exist.
ensure_parts() { # disk n
	_ep_last=$(partdev "$1" "$2")
	[ -b "$_ep_last" ] && return 0
	# A blank disk has no table to read: do not wait for partitions that cannot appear.
	[ -n "$(blkid -p -o value -s PTTYPE "$1" 2>/dev/null)" ] || return 1
	blockdev --rereadpt "$1" >/dev/null 2>&1
	_ep_i=0
	while [ ! -b "$_ep_last" ] && [ $_ep_i -lt 5 ]; do
		if command -v partx >/dev/null 2>&1; then
			partx -u "$1" >/dev/null 2>&1
			partx -a "$1" >/dev/null 2>&1
		fi
		[ -b "$_ep_last" ] && break
		sleep 1
		_ep_i=$((_ep_i + 1))
	done
	[ -b "$_ep_last" ]
}

# ---- credentials ---------------------------------------------------------------------

# The scratch directory holds the plan and credentials: root-only, and emptied of
# them before switch_root (/run moves into the installed system).
make_work() {
	(umask 077 && mkdir -p "$MF_WORK")
	chmod 0700 "$MF_WORK"
}

# Claims this install attempt's credentials once, from the address DHCP gave us: the
# head answers only the first claim, only from the node's address, only while apply
# has the node installing. Nothing can be reported before (reports need the credential).
claim_credentials() {
	[ -n "$MF_TOKEN" ] && return 0
	discovery_mode && return 0
	_cc="$MF_WORK/claim"
	if command -v wget >/dev/null 2>&1; then
		(umask 077 && timeout 60 wget -q -O "$_cc" --post-data '' "$MF_API/claim") || { rm -f "$_cc"; log "the head refused or did not answer the claim at $MF_API/claim"; halt_installer 1; }
	else
		(umask 077 && curl -fsS -m 20 -o "$_cc" -X POST "$MF_API/claim") || { rm -f "$_cc"; log "the head refused or did not answer the claim at $MF_API/claim"; halt_installer 1; }
	fi
	# shellcheck disable=SC1090 # generated: single-quoted assignments only
	. "$_cc"
	rm -f "$_cc"
	[ -n "$MF_TOKEN" ] || { log "the claim answer held no credential"; halt_installer 1; }
}

# Nothing secret stays behind in the scratch directory the installed system inherits.
forget_secrets() {
	rm -f "$MF_WORK/plan.sh" "$MF_WORK/claim" "$MF_WORK/bmc-password"
	MF_TOKEN=""
	MF_RSYNC_PASSWORD=""
}

# ---- bootstrap (only as the real /init) --------------------------------------------

cmdline_arg() { # name
	# shellcheck disable=SC2013 # the command line is a list of words
	for w in $(cat /proc/cmdline 2>/dev/null); do
		case "$w" in "$1"=*) echo "${w#*=}" ;; esac
	done
}

# Drivers by device (NICs, HBAs, NVMe: the shipped driver classes): every modalias the
# kernel reports goes through modprobe and modules.alias, again while loading drivers
# makes new devices appear (virtio_pci's virtio devices, an HBA's disks).
coldplug() {
	[ -r "/lib/modules/$kver/modules.alias" ] || return 0
	_cp_prev=""
	_cp_i=0
	while [ "$_cp_i" -lt 4 ]; do
		_cp_now=$(find /sys/devices -name modalias -type f -exec cat {} + 2>/dev/null | sort -u)
		[ "$_cp_now" = "$_cp_prev" ] && break
		# shellcheck disable=SC2086 # one alias per word
		modprobe -qa $_cp_now >>"$MF_WORK/modules.log" 2>&1
		_cp_prev=$_cp_now
		_cp_i=$((_cp_i + 1))
	done
}

bootstrap() {
	mkdir -p /proc /sys /dev /run /tmp
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
	mount -t tmpfs tmpfs /run
	[ -n "$MF_API" ] || MF_API=$(cmdline_arg mf.api)
	[ -n "$MF_MAC" ] || MF_MAC=$(cmdline_arg mf.mac)
	_bs_onfail=$(cmdline_arg mf.onfail)
	MF_ONFAIL=${_bs_onfail:-$MF_ONFAIL}
	make_work

	MF_STEP=modules
	kver=$(uname -r)
	if [ -r "/lib/modules/$kver/load.order" ]; then
		while read -r m; do
			insmod "/lib/modules/$kver/$m" >>"$MF_WORK/modules.log" 2>&1 || log "insmod $m failed"
		done <"/lib/modules/$kver/load.order"
	fi
	coldplug

	MF_STEP=network
	iface=""
	n=0
	while [ -z "$iface" ] && [ $n -lt 20 ]; do
		for d in /sys/class/net/*; do
			[ "$(cat "$d/address" 2>/dev/null)" = "$MF_MAC" ] && iface=$(basename "$d")
		done
		[ -n "$iface" ] || sleep 0.5
		n=$((n + 1))
	done
	[ -n "$iface" ] || fail "no network interface with MAC $MF_MAC"
	MF_IFACE=$iface
	ip link set lo up
	ip link set "$iface" up
	udhcpc -i "$iface" -n -q -t 10 -T 2 -s /etc/udhcpc.script >>"$MF_WORK/network.log" 2>&1 ||
		fail "DHCP on $iface failed: $(tail -n 5 "$MF_WORK/network.log")"
	claim_credentials
	# Reports can only be sent once the network is up and the credential claimed: both go now.
	report modules finished "$(wc -l </proc/modules 2>/dev/null || echo 0) modules loaded"
	report network finished "$iface"
}

# ---- disks ---------------------------------------------------------------------------

candidates() {
	if [ -n "$MF_CANDIDATES" ]; then
		echo "$MF_CANDIDATES"
		return
	fi
	for _c_b in "$MF_SYS"/block/*; do
		_c_n=$(basename "$_c_b")
		case "$_c_n" in loop* | ram* | md* | sr* | dm-* | zram* | nbd* | fd*) continue ;; esac
		echo "/dev/$_c_n"
	done
}

# match_disks: a device for every disk of the plan, chosen as disk-select.ts chooses:
# disks whose rules name one disk (device, serial, wwn) first, then the others in
# layout order among the disks left; disks with identical rules share their
# candidates. No candidate, or more than such disks, refuses before anything is written.
match_disks() {
	step disks
	MF_USED=" "
	found=""
	for _mds_pass in one rest; do
		i=0
		while [ "$i" -lt "$MF_DISK_COUNT" ]; do
			if { [ "$_mds_pass" = one ] && names_one_disk "$i"; } || { [ "$_mds_pass" = rest ] && ! names_one_disk "$i"; }; then
				match_disk "$i"
				found="$found $(get "MF_DISK_${i}_NAME")=$(get "MF_DISK_${i}_DEV")"
			fi
			i=$((i + 1))
		done
	done
	done_step "${found# }"
}

# ---- inventory (discovery, issue 19) -------------------------------------------------
# Reads the hardware without touching a disk: DMI, CPUs, memory, disks, NICs and the
# BMC's LAN settings over KCS when ipmitool and a BMC device are there. Paths come
# from $MF_SYS and $MF_PROC so tests can run it against a made-up tree.

# Whether this boot is a discovered host's (mf.discovery= names its API base URL).
discovery_mode() {
	[ -n "${MF_DISCOVERY:-}" ] || MF_DISCOVERY=$(cmdline_arg mf.discovery)
	[ -n "$MF_DISCOVERY" ]
}

# ,"NAME":"VALUE" when VALUE is not empty (strings); inv_num the same for numbers.
inv_str() { [ -n "$2" ] && printf ',"%s":"%s"' "$1" "$(printf '%s' "$2" | json_escape)"; return 0; }
inv_num() { case "$2" in '' | *[!0-9]*) ;; *) printf ',"%s":%s' "$1" "$2" ;; esac; }
inv_read() { [ -r "$1" ] && sed -n '1{s/^ *//; s/ *$//; p;}' "$1" 2>/dev/null; }

inventory_dmi() {
	_id="$MF_SYS/class/dmi/id"
	printf '"dmi":{"_":0'
	inv_str vendor "$(inv_read "$_id/sys_vendor")"
	inv_str product "$(inv_read "$_id/product_name")"
	inv_str serial "$(inv_read "$_id/product_serial")"
	inv_str uuid "$(inv_read "$_id/product_uuid")"
	inv_str biosVersion "$(inv_read "$_id/bios_version")"
	printf '}'
}

inventory_cpu_memory() {
	_ci="${MF_PROC:-/proc}/cpuinfo"
	_model=$(sed -n 's/^model name[[:space:]]*: *//p' "$_ci" 2>/dev/null | head -n 1)
	_logical=$(grep -c '^processor' "$_ci" 2>/dev/null)
	_sockets=$(sed -n 's/^physical id[[:space:]]*: *//p' "$_ci" 2>/dev/null | sort -u | wc -l)
	[ "$_sockets" -gt 0 ] 2>/dev/null || _sockets=""
	printf '"cpu":{"logical":%s' "${_logical:-0}"
	inv_str model "$_model"
	inv_num sockets "$_sockets"
	_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' "${MF_PROC:-/proc}/meminfo" 2>/dev/null)
	printf '},"memoryBytes":%s' "$((${_kb:-0} * 1024))"
}

# The /dev/disk/by-path name of a disk, when udev (or anyone) made the links.
inv_by_path() {
	for _l in /dev/disk/by-path/*; do
		[ -L "$_l" ] || continue
		[ "$(basename "$(readlink "$_l")")" = "$1" ] && { basename "$_l"; return 0; }
	done
	return 0
}

inventory_disks() {
	printf '"disks":['
	_sep=""
	for _d in $(candidates); do
		_n=$(basename "$_d")
		printf '%s{"name":"%s","bytes":%s' "$_sep" "$(printf '%s' "$_n" | json_escape)" "$(disk_bytes "$_d")"
		inv_str model "$(sysattr "$_d" device/model 2>/dev/null)"
		# The same facts disk matching uses (serial, vendor, WWN, by-path: "disk facts" below).
		inv_str vendor "$(disk_vendor "$_d")"
		inv_str serial "$(disk_serial "$_d")"
		inv_str wwn "$(disk_wwn "$_d")"
		case "$(sysattr "$_d" queue/rotational 2>/dev/null)" in 1) printf ',"rotational":true' ;; 0) printf ',"rotational":false' ;; esac
		_id_bp=$(disk_paths "$_d" 2>/dev/null | head -n 1)
		inv_str byPath "${_id_bp:-$(inv_by_path "$_n")}"
		printf '}'
		_sep=","
	done
	printf ']'
}

inventory_nics() {
	printf '"nics":['
	_sep=""
	for _c in "$MF_SYS"/class/net/*; do
		[ -r "$_c/address" ] || continue
		_n=$(basename "$_c")
		[ "$_n" = lo ] && continue
		[ -e "$_c/device" ] || continue # virtual interfaces (bridges, bonds) are no hardware
		printf '%s{"name":"%s","mac":"%s"' "$_sep" "$(printf '%s' "$_n" | json_escape)" "$(inv_read "$_c/address" | json_escape)"
		[ -L "$_c/device/driver" ] && inv_str driver "$(basename "$(readlink "$_c/device/driver")")"
		inv_num speedMbps "$(inv_read "$_c/speed" 2>/dev/null)"
		case "$(inv_read "$_c/carrier" 2>/dev/null)" in 1) printf ',"link":true' ;; 0) printf ',"link":false' ;; esac
		printf '}'
		_sep=","
	done
	printf ']'
}

# The BMC's LAN settings, read in-band: `ipmitool lan print` over the KCS device.
inventory_bmc() {
	if ! command -v ipmitool >/dev/null 2>&1; then
		printf '"bmc":null'
		return 0
	fi
	# Only as the real /init: a test run must not load modules into the machine it runs on.
	if [ "$$" = 1 ]; then
		modprobe -q ipmi_si 2>/dev/null
		modprobe -q ipmi_devintf 2>/dev/null
	fi
	if [ ! -e /dev/ipmi0 ] && [ ! -e /dev/ipmi/0 ] && [ ! -e /dev/ipmidev/0 ]; then
		printf '"bmc":null'
		return 0
	fi
	_lan=$(timeout 20 ipmitool lan print 1 2>/dev/null)
	_field() { printf '%s\n' "$_lan" | sed -n "s/^$1 *: *//p" | head -n 1; }
	printf '"bmc":{"source":"ipmitool lan print 1"'
	inv_str ip "$(_field 'IP Address')"
	inv_str netmask "$(_field 'Subnet Mask')"
	inv_str gateway "$(_field 'Default Gateway IP')"
	inv_str mac "$(_field 'MAC Address')"
	printf '}'
}

inventory_json() {
	printf '{'
	inventory_dmi
	printf ','
	inventory_cpu_memory
	printf ','
	inventory_disks
	printf ','
	inventory_nics
	printf ','
	inventory_bmc
	printf '}\n'
}

# A configured node's installer sends its inventory too (the plan's fit warnings use it); never fatal.
post_inventory() {
	inventory_json >"$MF_WORK/inventory.json" 2>>"$MF_WORK/inventory.log" || return 0
	http_post "$MF_API/inventory" "$(cat "$MF_WORK/inventory.json")" >/dev/null 2>&1 || log "could not send the inventory"
}

# A discovered host: read, post (a few tries), then power off or wait; never returns.
discover_host() {
	MF_STEP=inventory
	inventory_json >"$MF_WORK/inventory.json" 2>>"$MF_WORK/inventory.log" || fail "reading the inventory failed"
	log "inventory of $MF_MAC: $(wc -c <"$MF_WORK/inventory.json") bytes; no disk was touched"
	_dh_i=0
	until http_post "$MF_DISCOVERY/inventory" "$(cat "$MF_WORK/inventory.json")" >/dev/null 2>&1; do
		_dh_i=$((_dh_i + 1))
		[ "$_dh_i" -lt 5 ] || fail "the head did not take the inventory at $MF_DISCOVERY/inventory"
		sleep 3
	done
	log "inventory sent to $MF_DISCOVERY"
	[ "$$" = 1 ] || exit 0
	_then=$(cmdline_arg mf.then)
	if [ "${_then:-poweroff}" = poweroff ]; then
		log "powering off"
		sync
		poweroff -f
	fi
	log "waiting: reboot this host to install it once it is in the configuration"
	while :; do sleep 3600; done
}

# match_disk INDEX: sets MF_DISK_<INDEX>_DEV to its candidate, or refuses (missing, ambiguous).
match_disk() {
	_mk_hits=""
	_mk_left=""
	for c in $(candidates); do
		case "$MF_USED" in *" $c "*) continue ;; esac
		[ -b "$c" ] || continue
		_mk_left="$_mk_left $c"
		if disk_matches "$c" "$1"; then _mk_hits="$_mk_hits $c"; fi
	done
	_mk_name=$(get "MF_DISK_${1}_NAME")
	# shellcheck disable=SC2086 # a list of device paths
	set -- "$1" $_mk_hits
	_mk_i=$1
	shift
	if [ "$#" = 0 ]; then
		# shellcheck disable=SC2086 # a list of device paths
		fail "disk $_mk_name not found ($(match_rules "$_mk_i"); candidates:$(describe_disks $_mk_left))"
	fi
	if [ "$#" -gt "$(match_peers "$_mk_i")" ]; then
		fail "disk $_mk_name is ambiguous: $# disks match ($(match_rules "$_mk_i")): candidates:$(describe_disks "$@"); add a rule that tells them apart (serial, wwn, a by-path device)"
	fi
	eval "MF_DISK_${_mk_i}_DEV=\$1"
	MF_USED="$MF_USED$1 "
}

# The plan's normalized rules of disk INDEX (disk-select.ts DiskSelector), in one line.
match_key() {
	for _mkk in KNAME PATH ID SERIAL WWN MODEL VENDOR MINSIZE MAXSIZE ROTATIONAL; do printf '%s|' "$(get "MF_DISK_${1}_MATCH_$_mkk")"; done
}

names_one_disk() {
	for _no in KNAME PATH ID SERIAL WWN; do [ -n "$(get "MF_DISK_${1}_MATCH_$_no")" ] && return 0; done
	return 1
}

# Disks not yet chosen (this one and the later ones) with the same rules as disk INDEX.
match_peers() {
	_mp_key=$(match_key "$1")
	_mp_n=0
	_mp_j=$1
	while [ "$_mp_j" -lt "$MF_DISK_COUNT" ]; do
		[ "$(match_key "$_mp_j")" = "$_mp_key" ] && _mp_n=$((_mp_n + 1))
		_mp_j=$((_mp_j + 1))
	done
	echo "$_mp_n"
}

match_rules() {
	_mr=""
	for _mrf in DEVICE:device MINSIZE:minSize MAXSIZE:maxSize SERIAL:serial WWN:wwn MODEL:model VENDOR:vendor ROTATIONAL:rotational; do
		_mrv=$(get "MF_DISK_${1}_MATCH_${_mrf%%:*}")
		case "$_mrf" in DEVICE* | MINSIZE* | SERIAL* | MODEL*) _mr="$_mr ${_mrf#*:}=${_mrv:-any}" ;; *) [ -z "$_mrv" ] || _mr="$_mr ${_mrf#*:}=$_mrv" ;; esac
	done
	echo "${_mr# }"
}

# describe_disks DEV...: " vda (268435456 bytes, serial X, ...)" for each, what a refusal lists.
describe_disks() {
	[ "$#" -gt 0 ] || { printf ' none'; return; }
	for _dd in "$@"; do
		printf ' %s (%s bytes, serial %s, wwn %s, model %s, vendor %s, rotational %s, path %s)' "$_dd" "$(disk_bytes "$_dd")" "$(disk_serial "$_dd")" \
			"$(disk_wwn "$_dd")" "$(sysattr "$_dd" device/model 2>/dev/null)" "$(disk_vendor "$_dd")" \
			"$(sysattr "$_dd" queue/rotational 2>/dev/null)" "$(disk_paths "$_dd" | head -n 1)"
	done
}

# disk_matches DEV INDEX: every rule of the plan's disk INDEX holds for DEV (disk-select.ts diskMatches).
disk_matches() {
	_dm_v=$(get "MF_DISK_${2}_MATCH_KNAME")
	[ -z "$_dm_v" ] || [ "$(basename "$1")" = "$_dm_v" ] || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_PATH")
	[ -z "$_dm_v" ] || disk_paths "$1" | grep -qxF "$_dm_v" || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_ID")
	[ -z "$_dm_v" ] || by_id_matches "$_dm_v" "$(disk_serial "$1")" || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_SERIAL")
	[ -z "$_dm_v" ] || [ "$(disk_serial "$1")" = "$_dm_v" ] || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_WWN")
	[ -z "$_dm_v" ] || [ "$(disk_wwn "$1")" = "$_dm_v" ] || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_MODEL")
	[ -z "$_dm_v" ] || contains_lower "$(sysattr "$1" device/model 2>/dev/null)" "$_dm_v" || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_VENDOR")
	[ -z "$_dm_v" ] || contains_lower "$(disk_vendor "$1")" "$_dm_v" || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_MINSIZE")
	[ -z "$_dm_v" ] || [ "$(disk_bytes "$1")" -ge "$_dm_v" ] || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_MAXSIZE")
	[ -z "$_dm_v" ] || [ "$(disk_bytes "$1")" -le "$_dm_v" ] || return 1
	_dm_v=$(get "MF_DISK_${2}_MATCH_ROTATIONAL")
	[ -z "$_dm_v" ] || [ "$(sysattr "$1" queue/rotational 2>/dev/null)" = "$_dm_v" ] || return 1
}

contains_lower() { # text lower-case-substring
	case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in *"$2"*) return 0 ;; esac
	return 1
}

# by-id names are <bus>-<serial> or <bus>-<model>_<serial>, blanks as "_".
by_id_matches() { # id serial
	[ -n "$2" ] || return 1
	_bi_s=$(printf '%s' "$2" | tr ' ' '_')
	case "${1#*-}" in "$_bi_s" | *"_$_bi_s") return 0 ;; esac
	return 1
}

# ---- disk facts (sysfs: the installer has no udev) --------------------------------------

# Serial: virtio's and NVMe's attribute, else SCSI/SATA VPD page 0x80 after its 4-byte header.
disk_serial() {
	_ds=$(sysattr "$1" serial device/serial 2>/dev/null)
	if [ -z "$_ds" ] && [ -r "$MF_SYS/class/block/$(basename "$1")/device/vpd_pg80" ]; then
		_ds=$(tail -c +5 "$MF_SYS/class/block/$(basename "$1")/device/vpd_pg80" | tr -d '\000' | sed 's/^ *//; s/ *$//')
	fi
	printf '%s' "$_ds"
}

# Vendor of SCSI and SATA disks (those with a model too): a virtio disk's device/vendor
# is its PCI vendor number, no name.
disk_vendor() {
	sysattr "$1" device/model >/dev/null 2>&1 && sysattr "$1" device/vendor 2>/dev/null
}

# WWN as udev spells it: lower case, NAA names as 0x… (sysfs says naa.…).
disk_wwn() {
	sysattr "$1" wwid device/wwid 2>/dev/null | tr '[:upper:]' '[:lower:]' | sed 's/^naa\./0x/'
}

# disk_paths DEV: the disk's udev by-path names, derived from its sysfs path: the
# nearest PCI device, then the bus (ATA port, NVMe namespace, SCSI address).
disk_paths() {
	_dp_b=$(basename "$1")
	_dp_sys=$(readlink -f "$MF_SYS/class/block/$_dp_b" 2>/dev/null) || return 0
	_dp_pci=$(printf '%s\n' "$_dp_sys" | tr '/' '\n' | grep -E '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$' | tail -n 1)
	[ -n "$_dp_pci" ] || return 0
	case "$_dp_sys" in
	*/ata[0-9]*/*)
		_dp_ata=$(printf '%s\n' "$_dp_sys" | tr '/' '\n' | grep -E '^ata[0-9]+$' | head -n 1)
		_dp_port=$(cat "$MF_SYS/class/ata_port/$_dp_ata/port_no" 2>/dev/null || echo "${_dp_ata#ata}")
		printf 'pci-%s-ata-%s\npci-%s-ata-%s.0\n' "$_dp_pci" "$_dp_port" "$_dp_pci" "$_dp_port"
		;;
	*/nvme/*) echo "pci-$_dp_pci-nvme-$(cat "$MF_SYS/class/block/$_dp_b/nsid" 2>/dev/null || echo 1)" ;;
	*/host[0-9]*/*)
		_dp_hctl=$(printf '%s\n' "$_dp_sys" | tr '/' '\n' | grep -E '^[0-9]+:[0-9]+:[0-9]+:[0-9]+$' | tail -n 1)
		# udev counts a controller's SCSI hosts from its first one.
		_dp_base=$(find "${_dp_sys%%/"$_dp_pci"/*}/$_dp_pci" -maxdepth 3 -type d -name 'host[0-9]*' 2>/dev/null | sed 's/.*host//' | sort -n | head -n 1)
		echo "pci-$_dp_pci-scsi-$((${_dp_hctl%%:*} - ${_dp_base:-0})):${_dp_hctl#*:}"
		;;
	*) printf 'pci-%s\nvirtio-pci-%s\n' "$_dp_pci" "$_dp_pci" ;;
	esac
}

# ---- mode ----------------------------------------------------------------------------

fs_index_of_root() {
	_fr_i=0
	while [ "$_fr_i" -lt "$MF_FS_COUNT" ]; do
		[ "$(get "MF_FS_${_fr_i}_MOUNT")" = "/" ] && echo "$_fr_i" && return 0
		_fr_i=$((_fr_i + 1))
	done
	return 1
}

# Assembles the plan's arrays from existing members (degraded when some are missing).
assemble_raid() { # extra mdadm options
	_ar_r=0
	while [ "$_ar_r" -lt "$MF_RAID_COUNT" ]; do
		_ar_dev=$(get "MF_RAID_${_ar_r}_DEV")
		if [ ! -b "$_ar_dev" ] || ! mdadm --detail "$_ar_dev" >/dev/null 2>&1; then
			_ar_members=""
			for _ar_m in $(get "MF_RAID_${_ar_r}_MEMBERS"); do
				_ar_md=$(refdev "$_ar_m")
				[ -b "$_ar_md" ] && _ar_members="$_ar_members $_ar_md"
			done
			# shellcheck disable=SC2086 # word lists by design
			mdadm --assemble "$@" --run "$_ar_dev" $_ar_members >>"$MF_WORK/raid.log" 2>&1 || return 1
			MF_ASSEMBLED="$MF_ASSEMBLED $_ar_dev"
		fi
		_ar_r=$((_ar_r + 1))
	done
}

# Prints the layout fingerprint found in the root file system on disk, or "none".
# Reads only: partitions are added to the kernel's view, arrays assembled read-only,
# the root fs mounted read-only without journal replay.
ondisk_fingerprint() {
	probe_fingerprint
	# Groups activated and arrays assembled read-only for the probe are stopped again (this runs in a subshell).
	deactivate_lvm
	for _of_a in $MF_ASSEMBLED; do mdadm --stop "$_of_a" >/dev/null 2>&1; done
}

probe_fingerprint() {
	_of_i=0
	while [ "$_of_i" -lt "$MF_DISK_COUNT" ]; do
		# A disk without partitions (e.g. a replaced RAID member) does not end the probe:
		# the root fs may still be found, degraded, on the others.
		ensure_parts "$(get "MF_DISK_${_of_i}_DEV")" "$(get "MF_DISK_${_of_i}_PARTS")" || true
		_of_i=$((_of_i + 1))
	done
	if [ "$MF_RAID_COUNT" -gt 0 ]; then assemble_raid --readonly || { echo none; return; }; fi
	activate_lvm --readonly || { echo none; return; }
	_of_ri=$(fs_index_of_root) || { echo none; return; }
	_of_dev=$(refdev "$(get "MF_FS_${_of_ri}_REF")")
	_of_type=$(get "MF_FS_${_of_ri}_TYPE")
	[ -b "$_of_dev" ] || { echo none; return; }
	[ "$(blkid -p -o value -s TYPE "$_of_dev" 2>/dev/null)" = "$_of_type" ] || { echo none; return; }
	[ "$(blkid -p -o value -s LABEL "$_of_dev" 2>/dev/null)" = "$(get "MF_FS_${_of_ri}_LABEL")" ] || { echo none; return; }
	case "$_of_type" in ext4) _of_ro=ro,noload ;; xfs) _of_ro=ro,norecovery ;; *) _of_ro=ro ;; esac
	_of_probe="$MF_WORK/probe"
	mkdir -p "$_of_probe"
	if mount -t "$_of_type" -o "$_of_ro" "$_of_dev" "$_of_probe" 2>>"$MF_WORK/mode.log"; then
		_of_fpr=$(cat "$_of_probe$MF_FINGERPRINT_FILE" 2>/dev/null || echo none)
		umount "$_of_probe"
		echo "${_of_fpr:-none}"
	else
		echo none
	fi
}

decide_mode() {
	step mode
	case "$MF_MODE" in
	skip)
		done_step "skip: disks untouched"
		MF_ACTION=skip
		return
		;;
	full)
		MF_ACTION=full
		why="mode full"
		;;
	auto | nosync)
		have=$(ondisk_fingerprint)
		if [ "$have" = "$MF_FINGERPRINT" ]; then
			if [ "$MF_MODE" = auto ]; then MF_ACTION=sync; else MF_ACTION=nosync; fi
			why="layout on disk matches ($have)"
		else
			MF_ACTION=full
			why="layout on disk differs (found $have, want $MF_FINGERPRINT)"
		fi
		;;
	*) fail "unknown install mode $MF_MODE" ;;
	esac
	if [ "$MF_ACTION" = full ] && [ "$MF_PROTECT" = 1 ]; then
		report mode failed "would wipe protected disks: $why"
		halt_installer 2
	fi
	done_step "$MF_ACTION: $why"
}

# ---- full install ------------------------------------------------------------------

partition_disks() {
	step partition
	i=0
	while [ "$i" -lt "$MF_DISK_COUNT" ]; do
		partition_disk "$i"
		i=$((i + 1))
	done
	done_step
}

# partition_disk INDEX: writes the plan's table (percentages resolved against this disk).
partition_disk() {
	_pd_d=$(get "MF_DISK_${1}_DEV")
	_pd_script="$MF_WORK/sfdisk.$1"
	get "MF_DISK_${1}_SFDISK" >"$_pd_script"
	_pd_bytes=$(disk_bytes "$_pd_d")
	# shellcheck disable=SC2013 # placeholders are single words
	for _pd_p in $(grep -o '@PCT:[0-9]*@' "$_pd_script" | sort -u); do
		_pd_pct=${_pd_p#@PCT:}
		_pd_pct=${_pd_pct%@}
		sed -i "s/$_pd_p/$((_pd_bytes * _pd_pct / 100 / 1048576))MiB/" "$_pd_script"
	done
	run sfdisk -q --wipe always --wipe-partitions always "$_pd_d" <"$_pd_script"
	ensure_parts "$_pd_d" "$(get "MF_DISK_${1}_PARTS")" || fail "partitions of $_pd_d did not appear"
}

# A disk is blank when it carries neither a partition table nor a file system signature.
is_blank() {
	[ -z "$(blkid -p -o value -s PTTYPE "$1" 2>/dev/null)" ] && [ -z "$(blkid -p -o value -s TYPE "$1" 2>/dev/null)" ]
}

# True when every partition of disk INDEX is a RAID member (nothing on it but array halves).
raid_only_disk() {
	_ro_n=$(get "MF_DISK_${1}_PARTS")
	_ro_k=1
	while [ "$_ro_k" -le "$_ro_n" ]; do
		_ro_hit=0
		_ro_r=0
		while [ "$_ro_r" -lt "$MF_RAID_COUNT" ]; do
			case " $(get "MF_RAID_${_ro_r}_MEMBERS") " in *" part:$1:$_ro_k "*) _ro_hit=1 ;; esac
			_ro_r=$((_ro_r + 1))
		done
		[ "$_ro_hit" = 1 ] || return 1
		_ro_k=$((_ro_k + 1))
	done
}

# Sync with RAID: assemble the arrays, degraded when members are missing. A blank
# disk whose partitions are all RAID members (a replaced disk) holds nothing to lose:
# it is partitioned and its members are added back, so the arrays rebuild onto it.
assemble_and_rebuild() {
	step assemble
	blank=""
	i=0
	while [ "$i" -lt "$MF_DISK_COUNT" ]; do
		d=$(get "MF_DISK_${i}_DEV")
		if is_blank "$d" && raid_only_disk "$i"; then blank="$blank $i"; fi
		i=$((i + 1))
	done
	assemble_raid || fail "assembling RAID failed: $(tail -n 15 "$MF_WORK/raid.log")"
	added=""
	for i in $blank; do
		partition_disk "$i"
		r=0
		while [ "$r" -lt "$MF_RAID_COUNT" ]; do
			for m in $(get "MF_RAID_${r}_MEMBERS"); do
				case "$m" in "part:$i:"*)
					md=$(refdev "$m")
					run mdadm "$(get "MF_RAID_${r}_DEV")" --add "$md"
					added="$added $md"
					;;
				esac
			done
			r=$((r + 1))
		done
	done
	state=""
	r=0
	while [ "$r" -lt "$MF_RAID_COUNT" ]; do
		dev=$(get "MF_RAID_${r}_DEV")
		state="$state $dev:$(cat "$MF_SYS/block/$(basename "$dev")/md/array_state" 2>/dev/null || echo unknown)"
		state="$state,degraded=$(cat "$MF_SYS/block/$(basename "$dev")/md/degraded" 2>/dev/null || echo ?)"
		r=$((r + 1))
	done
	done_step "assembled${state}${added:+; rebuilding onto$added}"
}

create_raid() {
	[ "$MF_RAID_COUNT" -gt 0 ] || return 0
	step raid
	r=0
	while [ "$r" -lt "$MF_RAID_COUNT" ]; do
		members=""
		for m in $(get "MF_RAID_${r}_MEMBERS"); do
			md=$(refdev "$m")
			mdadm --zero-superblock "$md" >/dev/null 2>&1
			members="$members $md"
		done
		# shellcheck disable=SC2046,SC2086 # command lines from the plan are plain words
		run $(get "MF_RAID_${r}_CREATE") $members
		MF_ASSEMBLED="$MF_ASSEMBLED $(get "MF_RAID_${r}_DEV")"
		r=$((r + 1))
	done
	done_step
}

# ---- LVM -----------------------------------------------------------------------------

# lvm without udev: it makes its own device nodes, waits for no udev, keeps no devices
# file and no metadata backups (the installer's /etc is thrown away).
MF_ACTIVE_VGS=""
lvm_setup() {
	modprobe dm_mod >/dev/null 2>&1
	mkdir -p /run/lock/lvm "$MF_WORK/lvm"
	cat >"$MF_WORK/lvm/lvm.conf" <<-'EOF'
		devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 external_device_info_source = "none" }
		activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
		global { use_lvmpolld = 0 }
		backup { backup = 0 archive = 0 }
	EOF
	LVM_SYSTEM_DIR="$MF_WORK/lvm"
	LVM_SUPPRESS_FD_WARNINGS=1
	export LVM_SYSTEM_DIR LVM_SUPPRESS_FD_WARNINGS
}

vg_names() {
	_vn=0
	while [ "$_vn" -lt "${MF_VG_COUNT:-0}" ]; do
		get "MF_VG_${_vn}_NAME"
		echo
		_vn=$((_vn + 1))
	done
}

# Full install: every device of a group becomes a physical volume, then the groups and
# their logical volumes (a `rest` one last) are made.
create_lvm() {
	[ "${MF_VG_COUNT:-0}" -gt 0 ] || return 0
	step lvm
	lvm_setup
	g=0
	while [ "$g" -lt "$MF_VG_COUNT" ]; do
		_cl_devs=""
		for _cl_r in $(get "MF_VG_${g}_DEVICES"); do
			_cl_devs="$_cl_devs $(refdev "$_cl_r")"
		done
		# shellcheck disable=SC2086 # a list of device paths
		run lvm pvcreate -ff -y $_cl_devs
		# shellcheck disable=SC2086 # a list of device paths
		run lvm vgcreate "$(get "MF_VG_${g}_NAME")" $_cl_devs
		MF_ACTIVE_VGS="$MF_ACTIVE_VGS $(get "MF_VG_${g}_NAME")"
		g=$((g + 1))
	done
	l=0
	while [ "$l" -lt "$MF_LV_COUNT" ]; do
		# shellcheck disable=SC2046 # command lines from the plan are plain words
		run lvm $(get "MF_LV_${l}_CREATE")
		l=$((l + 1))
	done
	run lvm vgmknodes
	done_step "$MF_VG_COUNT volume groups, $MF_LV_COUNT logical volumes"
}

# activate_lvm [--readonly]: activates the plan's groups (read-only for the layout probe,
# which must not write) and makes their /dev/VG/LV nodes.
activate_lvm() {
	[ "${MF_VG_COUNT:-0}" -gt 0 ] || return 0
	lvm_setup
	_al_names=$(vg_names | tr '\n' ' ')
	_al_ro=""
	# shellcheck disable=SC2086 # plain names
	[ "${1:-}" != --readonly ] || _al_ro="activation { read_only_volume_list = [ $(printf '"%s" ' $_al_names) ] }"
	# shellcheck disable=SC2086 # plain names
	lvm vgchange -ay ${_al_ro:+--config "$_al_ro"} $_al_names >>"$MF_WORK/lvm.log" 2>&1 || return 1
	MF_ACTIVE_VGS="$MF_ACTIVE_VGS $_al_names"
	lvm vgmknodes >>"$MF_WORK/lvm.log" 2>&1
}

# Sync, nosync and skip: the groups already on the disks, activated to mount their volumes.
lvm_activate_step() {
	[ "${MF_VG_COUNT:-0}" -gt 0 ] || return 0
	step lvm
	activate_lvm || fail "activating volume groups failed: $(tail -n 15 "$MF_WORK/lvm.log")"
	done_step "activated$(vg_names | tr '\n' ' ' | sed 's/^/ /; s/ $//')"
}

deactivate_lvm() {
	# shellcheck disable=SC2086 # plain names
	[ -z "$MF_ACTIVE_VGS" ] || lvm vgchange -an $MF_ACTIVE_VGS >/dev/null 2>&1
	MF_ACTIVE_VGS=""
}

# Logical volumes mounted at boot need lvm2 in the installed system (its initramfs
# activates them): without it the node only boots through this installer's switch_root.
lvm_boot_check() {
	[ "${MF_LV_COUNT:-0}" -gt 0 ] || return 0
	in_root_program /usr/sbin/lvm /sbin/lvm && return 0
	report lvm finished "warning: the image has no lvm2 (/usr/sbin/lvm): its initramfs cannot activate the logical volumes, so the node boots only through the installer, not from its disk"
}

make_filesystems() {
	step mkfs
	i=0
	while [ "$i" -lt "$MF_FS_COUNT" ]; do
		dev=$(refdev "$(get "MF_FS_${i}_REF")")
		# shellcheck disable=SC2046 # command lines from the plan are plain words
		run $(get "MF_FS_${i}_MKFS") "$dev"
		i=$((i + 1))
	done
	done_step
}

# ---- sync / mount ---------------------------------------------------------------------

check_filesystems() {
	step fsck
	i=0
	while [ "$i" -lt "$MF_FS_COUNT" ]; do
		dev=$(refdev "$(get "MF_FS_${i}_REF")")
		fsck=$(get "MF_FS_${i}_FSCK")
		if [ -n "$fsck" ]; then
			rc=0
			# shellcheck disable=SC2086 # command lines from the plan are plain words
			$fsck "$dev" >>"$MF_WORK/fsck.log" 2>&1 || rc=$?
			# e2fsck / fsck.vfat: 1 = errors corrected; 4 and up = left uncorrected
			[ "$rc" -lt 4 ] || fail "$fsck $dev exited $rc: $(tail -n 15 "$MF_WORK/fsck.log")"
		fi
		i=$((i + 1))
	done
	done_step
}

mount_filesystems() {
	step mount
	mkdir -p "$MF_ROOT"
	i=0
	while [ "$i" -lt "$MF_FS_COUNT" ]; do
		mp=$(get "MF_FS_${i}_MOUNT")
		if [ -n "$mp" ]; then
			dev=$(refdev "$(get "MF_FS_${i}_REF")")
			opts=$(get "MF_FS_${i}_OPTS")
			target="$MF_ROOT${mp%/}"
			mkdir -p "$target"
			run mount -t "$(get "MF_FS_${i}_TYPE")" ${opts:+-o "$opts"} "$dev" "$target"
			MF_MOUNTED="$target $MF_MOUNTED"
		fi
		i=$((i + 1))
	done
	done_step
}

cleanup_mounts() {
	chroot_unmounts
	for m in $MF_MOUNTED; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	MF_MOUNTED=""
	deactivate_lvm
	for a in $MF_ASSEMBLED; do mdadm --stop "$a" >/dev/null 2>&1; done
	MF_ASSEMBLED=""
}

sync_image() { # exclude-list
	step rsync
	# Filter rules: the plan's excludes ("- "), and its mount points protected ("P ")
	# so --delete never tries to remove a mount point the image lacks.
	filter="$MF_WORK/rsync.filter"
	{
		printf '%s\n' "$1" | sed -n 's/^\(..*\)$/- \1/p'
		printf '%s\n' "$MF_MOUNT_POINTS" | sed -n 's/^\(..*\)$/P \1/p'
	} >"$filter"
	out="$MF_WORK/rsync.log"
	err="$MF_WORK/rsync.err"
	rc=0
	# --modify-window=-1: compare modification times to the nanosecond; rsync's default
	# (whole seconds) skips a file rewritten with the same size within the same second.
	# This attempt's image credential: the user in the URL, the password in the
	# environment (rsync reads RSYNC_PASSWORD; never on a command line).
	src=$MF_RSYNC_URL
	[ -z "$MF_RSYNC_USER" ] || src="rsync://$MF_RSYNC_USER@${MF_RSYNC_URL#rsync://}"
	# shellcheck disable=SC2086 # MF_RSYNC_ARGS is a word list by design
	RSYNC_PASSWORD=$MF_RSYNC_PASSWORD rsync -aHAX --numeric-ids --delete --modify-window=-1 --stats --info=progress2 --filter="merge $filter" $MF_RSYNC_ARGS \
		"$src" "$MF_ROOT/" >"$out" 2>"$err" &
	pid=$!
	# Progress while it runs: progress2's last record (bytes so far, percent), every 2 s.
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		last=$(tr '\r' '\n' <"$out" | sed -n 's/^ *\([0-9,]*\) *\([0-9]*\)%.*/\1 \2/p' | tail -n 1 | tr -d ',')
		if [ -n "$last" ]; then
			report_progress rsync "${last% *}" "${last#* }"
		fi
	done
	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		fail "rsync from $MF_RSYNC_URL exited $rc: $(tail -n 15 "$err")"
	fi
	bytes=$(sed -n 's/^Total bytes received: \([0-9,.]*\).*/\1/p' "$out" | tr -d ',.')
	files=$(sed -n 's/^Number of regular files transferred: \([0-9,.]*\).*/\1/p' "$out" | tr -d ',.')
	done_step "image $MF_IMAGE_NAME" "${bytes:-0}" "${files:-0}"
}

# The network stack of the installed system (src/boot/network-stacks.ts): the first of
# netplan, an enabled NetworkManager, an enabled systemd-networkd, ifupdown with udev,
# systemd with networkd (then enabled by the plan's links); else "unknown".
network_stack() {
	_ns_wants="$MF_ROOT/etc/systemd/system/multi-user.target.wants"
	# Enablement links are tested as links: their absolute targets point into the installed system.
	if in_root_program /usr/sbin/netplan /usr/bin/netplan; then
		echo netplan
	elif in_root_program /usr/sbin/NetworkManager && [ -L "$_ns_wants/NetworkManager.service" ]; then
		echo networkmanager
	elif in_root_program /usr/lib/systemd/systemd-networkd /lib/systemd/systemd-networkd && [ -L "$_ns_wants/systemd-networkd.service" ]; then
		echo networkd
	elif in_root_program /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd /sbin/udevd && in_root_program /usr/sbin/ifup /sbin/ifup; then
		echo ifupdown
	elif in_root_program /usr/lib/systemd/systemd /lib/systemd/systemd && in_root_program /usr/lib/systemd/systemd-networkd /lib/systemd/systemd-networkd; then
		echo networkd
	else
		echo unknown
	fi
}

# in_root_program PATH...: one of the installed system's PATHs is a program. A symlink
# with an absolute target (Debian's systemd-udevd -> /bin/udevadm) is followed inside
# the installed system, not in the installer.
in_root_program() {
	for _ip_p in "$@"; do
		_ip_f="$MF_ROOT$_ip_p"
		if [ -L "$_ip_f" ]; then
			_ip_t=$(readlink "$_ip_f")
			case "$_ip_t" in /*) _ip_f="$MF_ROOT$_ip_t" ;; esac
		fi
		[ -f "$_ip_f" ] && [ -x "$_ip_f" ] && return 0
	done
	return 1
}

# for_stack STACKS: true when a file or link tagged STACKS (empty: every stack) applies.
for_stack() {
	[ -z "$1" ] && return 0
	case " $1 " in *" $MF_NET_STACK "*) return 0 ;; esac
	return 1
}

write_files() {
	step configure
	iface=${MF_IFACE:-eth0}
	MF_NET_STACK=$(network_stack)
	written=0
	i=0
	while [ "$i" -lt "$MF_FILE_COUNT" ]; do
		if for_stack "$(get "MF_FILE_${i}_STACKS")"; then
			write_plan_file "$i"
			written=$((written + 1))
		fi
		i=$((i + 1))
	done
	i=0
	while [ "$i" -lt "$MF_LINK_COUNT" ]; do
		path="$MF_ROOT$(get "MF_LINK_${i}_PATH")"
		if for_stack "$(get "MF_LINK_${i}_STACKS")"; then
			mkdir -p "$(dirname "$path")"
			ln -sfn "$(get "MF_LINK_${i}_TARGET")" "$path"
		fi
		i=$((i + 1))
	done
	node_identity
	install_agent_busybox
	sync
	done_step "$written files, hostname $MF_HOSTNAME, network $MF_NET_STACK"
}

write_plan_file() { # index
	path="$MF_ROOT$(get "MF_FILE_${1}_PATH")"
	dirmode=$(get "MF_FILE_${1}_DIRMODE")
	mkdir -p "$(dirname "$path")"
	if [ -n "$dirmode" ]; then chmod "$dirmode" "$(dirname "$path")"; fi
	# Created owner-only, then given its mode: a 0600 file is never readable by others.
	(umask 077 && get "MF_FILE_${1}_CONTENT" | sed "s/@IFACE@/$iface/g" >"$path.mf-new") || fail "cannot write $path"
	chmod "$(get "MF_FILE_${1}_MODE")" "$path.mf-new"
	mv -f "$path.mf-new" "$path"
}

# The node agent (src/boot/node-agent.ts) runs on this static busybox, whatever the
# image holds (Debian minbase has no curl or wget). rsync excludes it, so it stays.
install_agent_busybox() {
	mkdir -p "$MF_ROOT/usr/libexec/metalform"
	cp /bin/busybox "$MF_ROOT/usr/libexec/metalform/busybox.mf-new" || fail "cannot copy busybox for the node agent"
	chmod 0755 "$MF_ROOT/usr/libexec/metalform/busybox.mf-new"
	mv -f "$MF_ROOT/usr/libexec/metalform/busybox.mf-new" "$MF_ROOT/usr/libexec/metalform/busybox"
}

# The node's own identity, made here once and kept by every later sync (the plan
# excludes these paths from rsync): a machine-id, and SSH host keys from the
# installed system's own ssh-keygen (-A makes only the missing ones).
node_identity() {
	mid="$MF_ROOT$MF_MACHINE_ID_FILE"
	if [ -d "$(dirname "$mid")" ] && ! grep -qE '^[0-9a-f]{32}$' "$mid" 2>/dev/null; then
		sed 's/-//g' /proc/sys/kernel/random/uuid >"$mid.mf-new" || fail "cannot write $mid"
		chmod 0444 "$mid.mf-new"
		mv -f "$mid.mf-new" "$mid"
	fi
	if [ -x "$MF_ROOT/usr/bin/ssh-keygen" ] && [ -d "$MF_ROOT/etc/ssh" ]; then
		# ssh-keygen needs /dev/null (and a random source) inside the chroot.
		_ni_made=""
		[ -d "$MF_ROOT/dev" ] || { mkdir "$MF_ROOT/dev" && _ni_made=1; }
		run mount --bind /dev "$MF_ROOT/dev"
		_ni_rc=0
		chroot "$MF_ROOT" /usr/bin/ssh-keygen -A >>"$MF_WORK/configure.log" 2>&1 || _ni_rc=$?
		umount "$MF_ROOT/dev" || umount -l "$MF_ROOT/dev"
		[ -z "$_ni_made" ] || rmdir "$MF_ROOT/dev"
		[ "$_ni_rc" = 0 ] || fail "ssh-keygen -A in the installed system failed: $(tail -n 5 "$MF_WORK/configure.log")"
	fi
}

# ---- the node's scripts ----------------------------------------------------------------

# run_node_script initialize|finalize: the plan's script of that name, if any, with only
# the node's values in its environment (MF_NODE, MF_IP, MF_VAR_…: never the installer's
# credentials); finalize runs chrooted in the installed system. Its output goes to the
# console and, last lines, into the progress; a non-zero exit fails the node with them.
run_node_script() {
	_rs_step=$1
	case "$_rs_step" in initialize) _rs_text=${MF_SCRIPT_INITIALIZE:-} ;; *) _rs_text=${MF_SCRIPT_FINALIZE:-} ;; esac
	[ -n "$_rs_text" ] || return 0
	case "$_rs_step" in
	initialize)
		step initialize
		;;
	*)
		step finalize
		;;
	esac
	_rs_log="$MF_WORK/$_rs_step.log"
	[ "$_rs_step" != finalize ] || chroot_mounts
	_rs_rc=0
	script_env_exec "$_rs_step" "$_rs_text" >"$_rs_log" 2>&1 </dev/null || _rs_rc=$?
	[ "$_rs_step" != finalize ] || chroot_unmounts
	# What finalize wrote must survive a power cut right after switch root, as the installer's own files do.
	[ "$_rs_step" != finalize ] || sync
	sed "s/^/metalform: $_rs_step: /" "$_rs_log" >&2
	[ "$_rs_rc" = 0 ] || fail "the $_rs_step script exited $_rs_rc: $(tail -n 15 "$_rs_log")"
	done_step "$(tail -n 5 "$_rs_log")"
}

# script_env_exec STEP TEXT: runs TEXT with env -i and the plan's MF_SCRIPT_ENV_* (a subshell: set -- is local).
script_env_exec() (
	_se_step=$1
	_se_text=$2
	set --
	i=0
	while [ "$i" -lt "${MF_SCRIPT_ENV_COUNT:-0}" ]; do
		set -- "$@" "$(get "MF_SCRIPT_ENV_${i}_NAME")=$(get "MF_SCRIPT_ENV_${i}_VALUE")"
		i=$((i + 1))
	done
	if [ "$_se_step" = finalize ]; then
		exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@" chroot "$MF_ROOT" /bin/sh -c "$_se_text"
	fi
	exec env -i PATH="$PATH" HOME=/ "$@" sh -c "$_se_text"
)

# ---- boot loader --------------------------------------------------------------------

# GRUB from the installed system onto its disk (src/boot/bootloader.ts), chrooted with
# /dev, /proc, /sys (and efivarfs for the NVRAM entry) bound in, so the node boots from
# its disk without the head node. An image without GRUB, or a layout without the
# partition GRUB needs, is a warning: the node still boots from the network.
install_boot_loader() {
	if [ -z "$MF_BOOT_PLATFORM" ]; then
		if [ -n "$MF_BOOT_WARNING" ]; then report bootloader finished "warning: $MF_BOOT_WARNING"; fi
		return 0
	fi
	step bootloader
	case "$MF_BOOT_PLATFORM" in bios) _bl_dir=i386-pc ;; *) _bl_dir=x86_64-efi ;; esac
	if ! in_root_program /usr/sbin/grub-install /sbin/grub-install /usr/bin/grub-install || [ ! -d "$MF_ROOT/usr/lib/grub/$_bl_dir" ]; then
		done_step "warning: the image has no GRUB for $_bl_dir (grub2-common and grub-pc-bin or grub-efi-amd64-bin): no boot loader on the disk; the node boots from the network only"
		return 0
	fi
	_bl_missing=$(signed_chain_missing)
	if [ -n "$_bl_missing" ]; then
		done_step "warning: Secure Boot needs the signed chain (packages shim-signed and grub-efi-amd64-signed) and the image lacks$_bl_missing: no boot loader on the disk; the node boots from the network only"
		return 0
	fi
	chroot_mounts
	_bl_where=""
	if [ "$MF_BOOT_PLATFORM" = bios ]; then
		for _bl_d in $MF_BOOT_DISKS; do
			_bl_dev=$(get "MF_DISK_${_bl_d}_DEV")
			# shellcheck disable=SC2046 # command lines from the plan are plain words
			run chroot "$MF_ROOT" $(get MF_BOOT_INSTALL_0) "$_bl_dev"
			_bl_where="$_bl_where $_bl_dev"
		done
	else
		i=0
		while [ "$i" -lt "$MF_BOOT_INSTALL_COUNT" ]; do
			_bl_cmd=$(get "MF_BOOT_INSTALL_$i")
			# Without EFI variables (efivarfs) only the removable path can be written.
			if [ -z "$MF_EFIVARS" ]; then case "$_bl_cmd" in *--no-nvram*) ;; *) _bl_cmd="$_bl_cmd --no-nvram" ;; esac; fi
			# shellcheck disable=SC2086 # command lines from the plan are plain words
			run chroot "$MF_ROOT" $_bl_cmd
			i=$((i + 1))
		done
		_bl_where=" $MF_BOOT_ESP$(esp_shims)$(efi_boot_order)"
	fi
	# shellcheck disable=SC2086 # command lines from the plan are plain words
	run chroot "$MF_ROOT" $MF_BOOT_MKCONFIG
	chroot_unmounts
	settle_boot_files
	done_step "${MF_BOOT_SIGNED:+shim and signed }GRUB $_bl_dir on$_bl_where"
}

# Secure Boot: the signed files grub-install --uefi-secure-boot copies from the image
# (MF_BOOT_SIGNED) that it lacks, each after a space; nothing when all are there.
signed_chain_missing() {
	for _sc_f in $MF_BOOT_SIGNED; do
		[ -f "$MF_ROOT$_sc_f" ] || [ -L "$MF_ROOT$_sc_f" ] || printf ' %s' "$_sc_f"
	done
}

# Secure Boot: where shim landed on the ESP and the NVRAM entry that starts it, for the
# step's message: (\EFI\debian\shimx64.efi, \EFI\BOOT\BOOTX64.EFI; NVRAM Boot0004).
esp_shims() {
	[ -n "$MF_BOOT_SIGNED" ] || return 0
	_es_list=""
	for _es_f in "$MF_ROOT$MF_BOOT_ESP"/EFI/*/shimx64.efi "$MF_ROOT$MF_BOOT_ESP"/EFI/BOOT/BOOTX64.EFI; do
		[ -f "$_es_f" ] && _es_list="$_es_list, $(printf '%s' "${_es_f#"$MF_ROOT$MF_BOOT_ESP"}" | sed 's|/|\\|g')"
	done
	_es_entry=""
	if [ -n "$MF_EFIVARS" ] && in_root_program /usr/bin/efibootmgr /bin/efibootmgr /usr/sbin/efibootmgr; then
		_es_entry=$(chroot "$MF_ROOT" efibootmgr -v 2>/dev/null | grep -i 'shimx64\.efi' | sed -n '1s/^\(Boot[0-9A-Fa-f]*\).*/; NVRAM \1/p')
	fi
	printf ' (%s%s)' "${_es_list#, }" "$_es_entry"
}

# GRUB reads file systems without replaying their journals: what it needs (grub.cfg, the
# kernel and initrd just synced) must be at its home location before the node can lose
# power, not only in the journal (a lab node powered off a minute after its install
# found an empty grub.cfg). Freezing a file system checkpoints its journal.
settle_boot_files() {
	sync
	for _sb_m in $MF_MOUNTED; do
		if fsfreeze -f "$_sb_m" 2>/dev/null; then fsfreeze -u "$_sb_m"; fi
	done
}

MF_CHROOT_MOUNTS=""
MF_EFIVARS=""
chroot_mounts() {
	uuid_links
	for _cm in dev proc sys; do
		mkdir -p "$MF_ROOT/$_cm"
		run mount --bind "/$_cm" "$MF_ROOT/$_cm"
		MF_CHROOT_MOUNTS="$MF_ROOT/$_cm $MF_CHROOT_MOUNTS"
	done
	if [ -d /sys/firmware/efi ]; then
		modprobe efivarfs >/dev/null 2>&1
		if mount -t efivarfs efivarfs "$MF_ROOT/sys/firmware/efi/efivars" 2>/dev/null; then
			MF_CHROOT_MOUNTS="$MF_ROOT/sys/firmware/efi/efivars $MF_CHROOT_MOUNTS"
			MF_EFIVARS=1
		fi
	fi
}

chroot_unmounts() {
	for _cm in $MF_CHROOT_MOUNTS; do umount "$_cm" 2>/dev/null || umount -l "$_cm"; done
	MF_CHROOT_MOUNTS=""
	# shellcheck disable=SC2086 # a list of paths without spaces
	[ -z "$MF_UUID_LINKS" ] || rm -f $MF_UUID_LINKS
	MF_UUID_LINKS=""
}

# grub-mkconfig names the root file system by UUID only when /dev/disk/by-uuid has it
# (udev's links; the installer has no udev): made for the plan's file systems, removed after.
MF_UUID_LINKS=""
uuid_links() {
	i=0
	while [ "$i" -lt "$MF_FS_COUNT" ]; do
		_ul_dev=$(refdev "$(get "MF_FS_${i}_REF")")
		_ul_uuid=$(blkid -p -o value -s UUID "$_ul_dev" 2>/dev/null)
		if [ -n "$_ul_uuid" ] && [ ! -e "/dev/disk/by-uuid/$_ul_uuid" ]; then
			mkdir -p /dev/disk/by-uuid
			ln -s "$_ul_dev" "/dev/disk/by-uuid/$_ul_uuid" && MF_UUID_LINKS="$MF_UUID_LINKS /dev/disk/by-uuid/$_ul_uuid"
		fi
		i=$((i + 1))
	done
}

# The EFI boot order: network entries (PXE, HTTP) first for boot: pxe nodes, the disk's
# entries first for boot: local. Prints what it did, for the step's message.
efi_boot_order() {
	if [ -z "$MF_EFIVARS" ] || ! in_root_program /usr/bin/efibootmgr /bin/efibootmgr /usr/sbin/efibootmgr; then
		printf '; EFI boot order unchanged (no EFI variables or no efibootmgr in the image)'
		return 0
	fi
	_eo_out=$(chroot "$MF_ROOT" efibootmgr 2>/dev/null)
	_eo_net=""
	_eo_disk=""
	for _eo_n in $(printf '%s\n' "$_eo_out" | sed -n 's/^BootOrder: *//p' | tr ',' ' '); do
		if printf '%s\n' "$_eo_out" | grep "^Boot$_eo_n" | grep -qiE 'PXE|HTTP|network|MAC\('; then
			_eo_net="$_eo_net $_eo_n"
		else
			_eo_disk="$_eo_disk $_eo_n"
		fi
	done
	case "$MF_BOOT_ORDER" in
	disk-first) _eo_new="$_eo_disk $_eo_net" ;;
	*) _eo_new="$_eo_net $_eo_disk" ;;
	esac
	# shellcheck disable=SC2086 # a list of boot numbers
	_eo_new=$(echo $_eo_new | tr ' ' ',')
	[ -n "$_eo_new" ] || return 0
	run chroot "$MF_ROOT" efibootmgr -o "$_eo_new"
	printf '; EFI boot order %s (%s)' "$_eo_new" "$MF_BOOT_ORDER"
}

# The local BMC's device node: ipmi_si finds the KCS/SMIC/BT interface from ACPI or
# SMBIOS a moment after it loads, and ipmi_devintf makes /dev/ipmi0 for it.
bmc_device() {
	_bd_i=0
	while [ "$_bd_i" -lt 20 ]; do
		for _bd_d in /dev/ipmi0 /dev/ipmi/0 /dev/ipmidev/0; do
			[ -e "$_bd_d" ] && echo "$_bd_d" && return 0
		done
		# Modules already in the kernel (or built in) make these no-ops; test mode loads none.
		[ "$_bd_i" = 0 ] && [ "$MF_SKIP_BOOTSTRAP" != 1 ] && modprobe -qa ipmi_si ipmi_devintf >>"$MF_WORK/bmc.log" 2>&1
		sleep 0.5
		_bd_i=$((_bd_i + 1))
	done
	return 1
}

# bmc_run ARGS...: one ipmitool command; on failure the step fails with ipmitool's
# message: its first lines (after an error it prints its whole usage text), without
# the complaint about the IANA enterprise registry (4.7 MB the installer does not ship).
bmc_run() {
	ipmitool "$@" >"$MF_WORK/bmc.out" 2>&1 ||
		fail "ipmitool $* failed: $(grep -v '^IANA PEN registry open failed' "$MF_WORK/bmc.out" | sed '/^$/q' | head -n 5)"
	cat "$MF_WORK/bmc.out" >>"$MF_WORK/bmc.log"
}

# Sets the password of the plan's user: fetched from the API once, during this step,
# into a root-only file removed right after. ipmitool takes it only as an argument.
set_bmc_password() {
	pw="$MF_WORK/bmc-password"
	(umask 077 && http_get "$MF_API/bmc-password" "$pw") || fail "could not fetch the BMC password"
	_sp_pw=$(cat "$pw")
	# IPMI 1.5 passwords hold 16 bytes, IPMI 2.0 ones 20.
	_sp_size=16
	[ "${#_sp_pw}" -gt 16 ] && _sp_size=20
	ipmitool user set password "$MF_BMC_PASSWORD_USER" "$_sp_pw" "$_sp_size" >>"$MF_WORK/bmc.log" 2>&1 ||
		{ rm -f "$pw"; fail "ipmitool user set password $MF_BMC_PASSWORD_USER failed: $(tail -n 5 "$MF_WORK/bmc.log")"; }
	rm -f "$pw"
	_sp_pw=""
}

# What the BMC says its LAN channel now is, in one line (read back in-band).
bmc_summary() {
	ipmitool lan print "$MF_BMC_CHANNEL" 2>/dev/null | awk -F' *: *' '
		$1 == "IP Address" { a = $2 } $1 == "Subnet Mask" { m = $2 }
		$1 == "Default Gateway IP" { g = $2 } $1 == "802.1q VLAN ID" { v = $2 }
		END { printf "channel %s: %s netmask %s gateway %s vlan %s", ch, a, m, g, v }' ch="$MF_BMC_CHANNEL"
}

configure_bmc() {
	[ "$MF_BMC_COUNT" -gt 0 ] || return 0
	step bmc
	command -v ipmitool >/dev/null 2>&1 || { done_step "no ipmitool in the installer; skipped"; return 0; }
	dev=$(bmc_device) || { done_step "no local BMC interface (no /dev/ipmi0 after loading ipmi_si); skipped"; return 0; }
	i=0
	while [ "$i" -lt "$MF_BMC_COUNT" ]; do
		# shellcheck disable=SC2046 # command lines from the plan are plain words
		bmc_run $(get "MF_BMC_$i")
		i=$((i + 1))
	done
	if [ -n "$MF_BMC_PASSWORD_USER" ]; then set_bmc_password; fi
	done_step "$(bmc_summary) (over $dev${MF_BMC_PASSWORD_USER:+; password of user $MF_BMC_PASSWORD_USER set})"
}

# An installed system with a network stack of its own configures the boot NIC itself,
# under its own name for it (prov0, ens3): the installer's address would make its ifup
# fail ("address already assigned") and an interface that is up cannot be renamed.
release_network() {
	# nosync and skip wrote no files: the stack is looked up now.
	[ -n "${MF_NET_STACK:-}" ] || MF_NET_STACK=$(network_stack)
	case "$MF_NET_STACK" in unknown) return 0 ;; esac
	[ -n "${MF_IFACE:-}" ] || return 0
	ip addr flush dev "$MF_IFACE" 2>/dev/null
	ip link set "$MF_IFACE" down 2>/dev/null
	return 0
}

switch_to_root() {
	if [ "$MF_NO_SWITCH_ROOT" = 1 ]; then
		report switch-root finished "test mode: no switch_root"
		forget_secrets
		cleanup_mounts
		exit 0
	fi
	report switch-root started "$MF_INIT"
	forget_secrets
	release_network
	for m in dev proc sys run; do
		if [ -d "$MF_ROOT/$m" ]; then mount --move "/$m" "$MF_ROOT/$m" 2>/dev/null; fi
	done
	exec switch_root "$MF_ROOT" "$MF_INIT"
}

# ---- main ----------------------------------------------------------------------------

main() {
	if [ "$MF_SKIP_BOOTSTRAP" != 1 ]; then bootstrap; fi
	make_work
	if discovery_mode; then discover_host; fi
	[ -n "$MF_API" ] || fail "no mf.api= on the kernel command line"
	claim_credentials

	step plan
	http_get "$MF_API/plan.sh" "$MF_WORK/plan.sh" || fail "could not fetch the install plan from $MF_API"
	# shellcheck disable=SC1091 # the plan is generated: single-quoted assignments only
	. "$MF_WORK/plan.sh"
	[ "${MF_PLAN_VERSION:-}" = 1 ] || fail "install plan version ${MF_PLAN_VERSION:-none} is not supported"
	done_step "node $MF_NODE mode $MF_MODE"
	post_inventory

	run_node_script initialize
	match_disks
	decide_mode
	case "$MF_ACTION" in
	full)
		partition_disks
		create_raid
		create_lvm
		make_filesystems
		mount_filesystems
		sync_image "$MF_EXCLUDE_FULL"
		write_files
		lvm_boot_check
		install_boot_loader
		configure_bmc
		;;
	sync)
		if [ "$MF_RAID_COUNT" -gt 0 ]; then assemble_and_rebuild; fi
		lvm_activate_step
		check_filesystems
		mount_filesystems
		sync_image "$MF_EXCLUDE_SYNC"
		write_files
		lvm_boot_check
		install_boot_loader
		configure_bmc
		;;
	nosync | skip)
		if [ "$MF_RAID_COUNT" -gt 0 ]; then
			assemble_raid || fail "assembling RAID failed: $(tail -n 15 "$MF_WORK/raid.log")"
		fi
		lvm_activate_step
		mount_filesystems
		;;
	esac
	run_node_script finalize
	switch_to_root
}

main "$@"
