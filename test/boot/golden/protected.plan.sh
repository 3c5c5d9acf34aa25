# metalform install plan (shell form); generated, do not edit
MF_PLAN_VERSION='1'
MF_NODE='store01'
MF_HOSTNAME='store01.cluster.local'
MF_PLAN_MAC='52:54:00:12:34:01'
MF_MODE='auto'
MF_PROTECT='1'
MF_FINGERPRINT='42df9943509eda8321fcc887d0081524b3943cce987b33ac9b57b86188578a42'
MF_FINGERPRINT_FILE='/etc/metalform/layout'
MF_IMAGE_NAME='compute'
MF_IMAGE_DIGEST='sha256:abababababababababababababababababababababababababababababababab'
MF_RSYNC_URL='rsync://10.141.0.1:873/img-compute/'
MF_DISK_COUNT='2'
MF_DISK_0_NAME='sda'
MF_DISK_0_MATCH_DEVICE=''
MF_DISK_0_MATCH_KNAME=''
MF_DISK_0_MATCH_PATH=''
MF_DISK_0_MATCH_ID=''
MF_DISK_0_MATCH_SERIAL='SYS-0001'
MF_DISK_0_MATCH_WWN=''
MF_DISK_0_MATCH_MODEL=''
MF_DISK_0_MATCH_VENDOR=''
MF_DISK_0_MATCH_MINSIZE=''
MF_DISK_0_MATCH_MAXSIZE=''
MF_DISK_0_MATCH_ROTATIONAL=''
MF_DISK_0_PARTS='2'
MF_DISK_0_SFDISK='label: gpt
size=20480MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=scratch
'
MF_DISK_1_NAME='sdb'
MF_DISK_1_MATCH_DEVICE=''
MF_DISK_1_MATCH_KNAME=''
MF_DISK_1_MATCH_PATH=''
MF_DISK_1_MATCH_ID=''
MF_DISK_1_MATCH_SERIAL='DATA-0001'
MF_DISK_1_MATCH_WWN=''
MF_DISK_1_MATCH_MODEL='bigdisk 8t'
MF_DISK_1_MATCH_VENDOR=''
MF_DISK_1_MATCH_MINSIZE=''
MF_DISK_1_MATCH_MAXSIZE=''
MF_DISK_1_MATCH_ROTATIONAL=''
MF_DISK_1_PARTS='1'
MF_DISK_1_SFDISK='label: gpt
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=data
'
MF_RAID_COUNT='0'
MF_VG_COUNT='0'
MF_LV_COUNT='0'
MF_FS_COUNT='3'
MF_FS_0_REF='part:0:1'
MF_FS_0_TYPE='ext4'
MF_FS_0_LABEL='root'
MF_FS_0_MKFS='mkfs.ext4 -F -q -L root'
MF_FS_0_FSCK='e2fsck -p'
MF_FS_0_MOUNT='/'
MF_FS_0_OPTS=''
MF_FS_1_REF='part:1:1'
MF_FS_1_TYPE='xfs'
MF_FS_1_LABEL='data'
MF_FS_1_MKFS='mkfs.xfs -f -q -L data'
MF_FS_1_FSCK=''
MF_FS_1_MOUNT='/data'
MF_FS_1_OPTS=''
MF_FS_2_REF='part:0:2'
MF_FS_2_TYPE='ext4'
MF_FS_2_LABEL='scratch'
MF_FS_2_MKFS='mkfs.ext4 -F -q -L scratch'
MF_FS_2_FSCK='e2fsck -p'
MF_FS_2_MOUNT='/scratch'
MF_FS_2_OPTS=''
MF_EXCLUDE_SYNC='/var/log/*
/tmp/*
/lost+found
/scratch/lost+found
/etc/hostname
/etc/hosts
/etc/network/interfaces
/etc/systemd/network/10-metalform.link
/etc/systemd/network/10-metalform.network
/etc/NetworkManager/system-connections/metalform.nmconnection
/etc/netplan/90-metalform.yaml
/etc/resolv.conf
/etc/fstab
/etc/metalform/layout
/etc/metalform/image
/etc/metalform/node-credential
/etc/metalform/report-up
/etc/init.d/S99metalform-up
/etc/systemd/system/metalform-up.service
/etc/metalform/agent.conf
/usr/libexec/metalform/agent
/etc/metalform/managed-files
/etc/init.d/S99metalform-agent
/etc/systemd/system/metalform-agent.service
/etc/systemd/system/multi-user.target.wants/metalform-up.service
/etc/systemd/system/multi-user.target.wants/metalform-agent.service
/etc/systemd/system/multi-user.target.wants/systemd-networkd.service
/etc/systemd/system/sockets.target.wants/systemd-networkd.socket
/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service
/usr/libexec/metalform/busybox
/etc/machine-id
/etc/ssh/ssh_host_*'
MF_EXCLUDE_FULL='/tmp/*
/lost+found
/scratch/lost+found
/etc/hostname
/etc/hosts
/etc/network/interfaces
/etc/systemd/network/10-metalform.link
/etc/systemd/network/10-metalform.network
/etc/NetworkManager/system-connections/metalform.nmconnection
/etc/netplan/90-metalform.yaml
/etc/resolv.conf
/etc/fstab
/etc/metalform/layout
/etc/metalform/image
/etc/metalform/node-credential
/etc/metalform/report-up
/etc/init.d/S99metalform-up
/etc/systemd/system/metalform-up.service
/etc/metalform/agent.conf
/usr/libexec/metalform/agent
/etc/metalform/managed-files
/etc/init.d/S99metalform-agent
/etc/systemd/system/metalform-agent.service
/etc/systemd/system/multi-user.target.wants/metalform-up.service
/etc/systemd/system/multi-user.target.wants/metalform-agent.service
/etc/systemd/system/multi-user.target.wants/systemd-networkd.service
/etc/systemd/system/sockets.target.wants/systemd-networkd.socket
/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service
/usr/libexec/metalform/busybox
/etc/machine-id
/etc/ssh/ssh_host_*'
MF_MOUNT_POINTS='/data
/scratch'
MF_FILE_COUNT='21'
MF_FILE_0_PATH='/etc/hostname'
MF_FILE_0_MODE='0644'
MF_FILE_0_CONTENT='store01.cluster.local
'
MF_FILE_0_STACKS=''
MF_FILE_0_DIRMODE=''
MF_FILE_1_PATH='/etc/hosts'
MF_FILE_1_MODE='0644'
MF_FILE_1_CONTENT='127.0.0.1	localhost
10.141.0.11	store01.cluster.local store01
'
MF_FILE_1_STACKS=''
MF_FILE_1_DIRMODE=''
MF_FILE_2_PATH='/etc/network/interfaces'
MF_FILE_2_MODE='0644'
MF_FILE_2_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
auto lo
iface lo inet loopback

auto prov0
iface prov0 inet static
	address 10.141.0.11
	netmask 255.255.0.0
	gateway 10.141.0.1
'
MF_FILE_2_STACKS='ifupdown'
MF_FILE_2_DIRMODE=''
MF_FILE_3_PATH='/etc/systemd/network/10-metalform.link'
MF_FILE_3_MODE='0644'
MF_FILE_3_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
# ifupdown names interfaces; this gives the provisioning NIC a name that does not depend on its slot.
[Match]
MACAddress=52:54:00:12:34:01

[Link]
Name=prov0
'
MF_FILE_3_STACKS='ifupdown'
MF_FILE_3_DIRMODE=''
MF_FILE_4_PATH='/etc/network/interfaces'
MF_FILE_4_MODE='0644'
MF_FILE_4_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
auto lo
iface lo inet loopback

auto @IFACE@
iface @IFACE@ inet static
	address 10.141.0.11
	netmask 255.255.0.0
	gateway 10.141.0.1
'
MF_FILE_4_STACKS='unknown'
MF_FILE_4_DIRMODE=''
MF_FILE_5_PATH='/etc/systemd/network/10-metalform.network'
MF_FILE_5_MODE='0644'
MF_FILE_5_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
[Match]
MACAddress=52:54:00:12:34:01

[Network]
Address=10.141.0.11/16
Gateway=10.141.0.1
DNS=10.141.0.1
Domains=cluster.local
'
MF_FILE_5_STACKS='networkd unknown'
MF_FILE_5_DIRMODE=''
MF_FILE_6_PATH='/etc/NetworkManager/system-connections/metalform.nmconnection'
MF_FILE_6_MODE='0600'
MF_FILE_6_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
[connection]
id=metalform-provisioning
uuid=1690e727-4e68-56b6-98d9-39fa75a08f09
type=ethernet
autoconnect=true
autoconnect-priority=100

[ethernet]
mac-address=52:54:00:12:34:01

[ipv4]
method=manual
address1=10.141.0.11/16,10.141.0.1
dns=10.141.0.1;
dns-search=cluster.local;

[ipv6]
method=ignore
'
MF_FILE_6_STACKS='networkmanager'
MF_FILE_6_DIRMODE=''
MF_FILE_7_PATH='/etc/netplan/90-metalform.yaml'
MF_FILE_7_MODE='0600'
MF_FILE_7_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
network:
  version: 2
  ethernets:
    prov0:
      match:
        macaddress: "52:54:00:12:34:01"
      set-name: prov0
      dhcp4: false
      addresses: ["10.141.0.11/16"]
      routes:
        - to: default
          via: 10.141.0.1
      nameservers:
        addresses: [10.141.0.1]
        search: [cluster.local]
'
MF_FILE_7_STACKS='netplan'
MF_FILE_7_DIRMODE=''
MF_FILE_8_PATH='/etc/resolv.conf'
MF_FILE_8_MODE='0644'
MF_FILE_8_CONTENT='search cluster.local
nameserver 10.141.0.1
'
MF_FILE_8_STACKS=''
MF_FILE_8_DIRMODE=''
MF_FILE_9_PATH='/etc/fstab'
MF_FILE_9_MODE='0644'
MF_FILE_9_CONTENT='# Written by metalform'\''s installer; rewritten on every install and sync.
LABEL=root	/	ext4	defaults	0	1
LABEL=data	/data	xfs	defaults	0	0
LABEL=scratch	/scratch	ext4	defaults	0	2
'
MF_FILE_9_STACKS=''
MF_FILE_9_DIRMODE=''
MF_FILE_10_PATH='/etc/metalform/layout'
MF_FILE_10_MODE='0644'
MF_FILE_10_CONTENT='42df9943509eda8321fcc887d0081524b3943cce987b33ac9b57b86188578a42
'
MF_FILE_10_STACKS=''
MF_FILE_10_DIRMODE=''
MF_FILE_11_PATH='/etc/metalform/image'
MF_FILE_11_MODE='0644'
MF_FILE_11_CONTENT='sha256:abababababababababababababababababababababababababababababababab
'
MF_FILE_11_STACKS=''
MF_FILE_11_DIRMODE=''
MF_FILE_12_PATH='/etc/metalform/node-credential'
MF_FILE_12_MODE='0600'
MF_FILE_12_CONTENT='node-credential-fixture
'
MF_FILE_12_STACKS=''
MF_FILE_12_DIRMODE=''
MF_FILE_13_PATH='/etc/metalform/report-up'
MF_FILE_13_MODE='0700'
MF_FILE_13_CONTENT='#!/bin/sh
# metalform: report UP and the image digest to the head node (runs on every boot).
api='\''http://10.141.0.1:8080/api/v1/installer/nodes/store01'\''
token=$(cat /etc/metalform/node-credential 2>/dev/null)
image=$(cat /etc/metalform/image 2>/dev/null)
body="{\"image\":\"$image\"}"
# The credential never goes on a command line (every user can read /proc/*/cmdline):
# curl reads it from its config on stdin; without curl, busybox nc gets the request on stdin.
post_curl() {
	printf '\''header = "Authorization: Bearer %s"\n'\'' "$token" |
		curl -fsS -m 10 -o /dev/null -K - -H "Content-Type: application/json" --data "$body" "$api/up"
}
post_nc() {
	rest=${api#http://}
	hostport=${rest%%/*}
	host=${hostport%:*}
	port=${hostport##*:}
	[ "$port" = "$hostport" ] && port=80
	printf '\''POST /%s/up HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s'\'' \
		"${rest#*/}" "$hostport" "$token" "${#body}" "$body" | timeout 10 nc "$host" "$port" 2>/dev/null | head -n 1 | grep -q '\'' 204 '\''
}
i=0
while [ "$i" -lt 10 ]; do
	if command -v curl >/dev/null 2>&1; then
		post_curl && exit 0
	elif command -v nc >/dev/null 2>&1; then
		post_nc && exit 0
	else
		exit 1
	fi
	i=$((i + 1))
	sleep 3
done
exit 1
'
MF_FILE_13_STACKS=''
MF_FILE_13_DIRMODE=''
MF_FILE_14_PATH='/etc/init.d/S99metalform-up'
MF_FILE_14_MODE='0755'
MF_FILE_14_CONTENT='#!/bin/sh
# metalform: report UP in the background so boot never waits for the head node.
case "${1:-start}" in start) /etc/metalform/report-up >/dev/null 2>&1 & ;; esac
exit 0
'
MF_FILE_14_STACKS=''
MF_FILE_14_DIRMODE=''
MF_FILE_15_PATH='/etc/systemd/system/metalform-up.service'
MF_FILE_15_MODE='0644'
MF_FILE_15_CONTENT='[Unit]
Description=metalform: report UP to the head node
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/etc/metalform/report-up

[Install]
WantedBy=multi-user.target
'
MF_FILE_15_STACKS=''
MF_FILE_15_DIRMODE=''
MF_FILE_16_PATH='/etc/metalform/agent.conf'
MF_FILE_16_MODE='0600'
MF_FILE_16_CONTENT='# metalform node agent settings (written by the installer)
api='\''http://10.141.0.1:8080/api/v1/installer/nodes/store01'\''
interval=30
max_backoff=60
'
MF_FILE_16_STACKS=''
MF_FILE_16_DIRMODE=''
MF_FILE_17_PATH='/usr/libexec/metalform/agent'
MF_FILE_17_MODE='0755'
MF_FILE_17_CONTENT='#!/bin/sh
# metalform node agent: reports what this node runs, then polls the head for work.
BB=/usr/libexec/metalform/busybox
[ -x "$BB" ] || BB=busybox
conf=${MF_AGENT_CONF:-/etc/metalform/agent.conf}
cred=${MF_AGENT_CREDENTIAL:-/etc/metalform/node-credential}
image_file=${MF_AGENT_IMAGE:-/etc/metalform/image}
managed=${MF_AGENT_MANAGED:-/etc/metalform/managed-files}
api=""
interval=30
max_backoff=60
# shellcheck disable=SC1090 # generated: quoted assignments only
. "$conf"

# METHOD ENDPOINT BODY: the response (status line, headers, body) on stdout.
request() {
	token=$($BB cat "$cred" 2>/dev/null)
	rest=${api#http://}
	hostport=${rest%%/*}
	host=${hostport%:*}
	port=${hostport##*:}
	[ "$port" = "$hostport" ] && port=80
	printf '\''%s /%s/%s HTTP/1.0\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s'\'' \
		"$1" "${rest#*/}" "$2" "$hostport" "$token" "${#3}" "$3" | $BB timeout 20 $BB nc "$host" "$port" 2>/dev/null | $BB tr -d '\''\r'\''
}

status_of() { printf '\''%s\n'\'' "$1" | $BB head -n 1 | $BB cut -d '\'' '\'' -f 2; }
body_of() { printf '\''%s\n'\'' "$1" | $BB sed '\''1,/^$/d'\''; }

# {"path":"sha256",...} of the files metalform wrote ("missing" for one that is gone).
file_digests() {
	out=""
	[ -r "$managed" ] || return 0
	while read -r path; do
		[ -n "$path" ] || continue
		d=$($BB sha256sum "$path" 2>/dev/null | $BB cut -d '\'' '\'' -f 1)
		out="$out${out:+,}\"$path\":\"${d:-missing}\""
	done <"$managed"
	printf '\''%s'\'' "$out"
}

# What the node runs (all of the report but its uptime): reported again when it changes.
what_runs() {
	printf '\''"image":"%s","bootId":"%s","kernel":"%s","files":{%s}'\'' \
		"$($BB cat "$image_file" 2>/dev/null)" "$($BB cat /proc/sys/kernel/random/boot_id)" "$($BB uname -r)" "$(file_digests)"
}

report() {
	runs=$(what_runs)
	uptime=$($BB cut -d '\'' '\'' -f 1 /proc/uptime | $BB cut -d . -f 1)
	[ "$(status_of "$(request POST agent "{$runs,\"uptime\":$uptime}")")" = 204 ] && sent=$runs
}

# ID STATUS MESSAGE: tells the head how a work item ended.
work_done() { request POST "done" "{\"id\":$1,\"status\":\"$2\",\"message\":\"$3\"}" >/dev/null; }

# One work item (id=, kind= lines). Kinds this agent does not know are answered failed,
# so a newer head can queue them without harm.
run_work() {
	id=""
	kind=""
	while IFS='\''='\'' read -r k v; do
		case "$k" in id) id=$v ;; kind) kind=$v ;; esac
	done <<EOF
$1
EOF
	case "$id" in '\'''\'' | *[!0-9]*) return 1 ;; esac
	case "$kind" in
	report) if report; then work_done "$id" ok ""; else work_done "$id" failed "report refused"; fi ;;
	*) work_done "$id" failed "unknown kind" ;;
	esac
}

# One poll: true when the head answered (work or none).
poll() {
	resp=$(request GET work "")
	case "$(status_of "$resp")" in
	204) return 0 ;;
	200) run_work "$(body_of "$resp")" ;;
	*) return 1 ;;
	esac
}

delay=1
sent=""
while :; do
	# At start, and whenever what the node runs changed (a file edited by hand, a live update).
	if [ "$sent" != "$(what_runs)" ]; then report || sent=""; fi
	if [ -n "$sent" ] && poll; then
		delay=1
		$BB sleep "$interval"
	else
		# The head is down, restarting or refusing: back off, doubling up to max_backoff.
		$BB sleep "$delay"
		delay=$((delay * 2))
		[ "$delay" -le "$max_backoff" ] || delay=$max_backoff
	fi
done
'
MF_FILE_17_STACKS=''
MF_FILE_17_DIRMODE=''
MF_FILE_18_PATH='/etc/metalform/managed-files'
MF_FILE_18_MODE='0644'
MF_FILE_18_CONTENT='/etc/hostname
/etc/hosts
/etc/resolv.conf
/etc/fstab
/etc/metalform/layout
/etc/metalform/image
/etc/metalform/report-up
/etc/init.d/S99metalform-up
/etc/systemd/system/metalform-up.service
/etc/metalform/managed-files
'
MF_FILE_18_STACKS=''
MF_FILE_18_DIRMODE=''
MF_FILE_19_PATH='/etc/init.d/S99metalform-agent'
MF_FILE_19_MODE='0755'
MF_FILE_19_CONTENT='#!/bin/sh
# metalform: the node agent, in the background so boot never waits for the head node.
case "${1:-start}" in start) /usr/libexec/metalform/busybox sh /usr/libexec/metalform/agent >/dev/null 2>&1 </dev/null & ;; esac
exit 0
'
MF_FILE_19_STACKS=''
MF_FILE_19_DIRMODE=''
MF_FILE_20_PATH='/etc/systemd/system/metalform-agent.service'
MF_FILE_20_MODE='0644'
MF_FILE_20_CONTENT='[Unit]
Description=metalform node agent
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=/usr/libexec/metalform/busybox sh /usr/libexec/metalform/agent
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
'
MF_FILE_20_STACKS=''
MF_FILE_20_DIRMODE=''
MF_LINK_COUNT='5'
MF_LINK_0_PATH='/etc/systemd/system/multi-user.target.wants/metalform-up.service'
MF_LINK_0_TARGET='/etc/systemd/system/metalform-up.service'
MF_LINK_0_STACKS=''
MF_LINK_1_PATH='/etc/systemd/system/multi-user.target.wants/metalform-agent.service'
MF_LINK_1_TARGET='/etc/systemd/system/metalform-agent.service'
MF_LINK_1_STACKS=''
MF_LINK_2_PATH='/etc/systemd/system/multi-user.target.wants/systemd-networkd.service'
MF_LINK_2_TARGET='/usr/lib/systemd/system/systemd-networkd.service'
MF_LINK_2_STACKS='networkd'
MF_LINK_3_PATH='/etc/systemd/system/sockets.target.wants/systemd-networkd.socket'
MF_LINK_3_TARGET='/usr/lib/systemd/system/systemd-networkd.socket'
MF_LINK_3_STACKS='networkd'
MF_LINK_4_PATH='/etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service'
MF_LINK_4_TARGET='/usr/lib/systemd/system/systemd-networkd-wait-online.service'
MF_LINK_4_STACKS='networkd'
MF_MACHINE_ID_FILE='/etc/machine-id'
MF_BOOT_PLATFORM=''
MF_BOOT_INSTALL_COUNT='0'
MF_BOOT_MKCONFIG=''
MF_BOOT_DISKS=''
MF_BOOT_ESP=''
MF_BOOT_ORDER=''
MF_BOOT_SIGNED=''
MF_BOOT_WARNING='no boot loader on store01'\''s disk: disk sda has a GPT table but no BIOS boot partition (type: bios, 1MiB) for GRUB; it boots from the network only'
MF_BMC_COUNT='8'
MF_BMC_0='lan set 1 ipsrc static'
MF_BMC_1='lan set 1 ipaddr 10.148.0.21'
MF_BMC_2='lan set 1 netmask 255.255.0.0'
MF_BMC_3='lan set 1 defgw ipaddr 10.148.0.1'
MF_BMC_4='lan set 1 access on'
MF_BMC_5='user set name 2 admin'
MF_BMC_6='channel setaccess 1 2 link=on ipmi=on callin=on privilege=4'
MF_BMC_7='user enable 2'
MF_BMC_CHANNEL='1'
MF_BMC_PASSWORD_USER='2'
MF_SCRIPT_INITIALIZE=''
MF_SCRIPT_FINALIZE=''
MF_SCRIPT_ENV_COUNT='0'
