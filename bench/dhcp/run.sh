#!/usr/bin/env bash
# DHCP benchmark: perfdhcp (Debian kea-admin) against metalform, kea-dhcp4 (memfile,
# persisted) and dnsmasq (lease file), one after the other with the same clients, in
# a server namespace and a client namespace joined by a veth pair. Nothing binds
# outside the namespaces. Prints one table.
#
#   bench/dhcp/run.sh [RATE] [SECONDS] [CLIENTS] [BURST]
#     RATE     4-way exchanges/s offered in the sustained run (default 6000)
#     SECONDS  length of the sustained run (default 10)
#     CLIENTS  distinct clients (MACs) in the sustained run (default 200000)
#     BURST    clients in the burst run: all at once, each must be answered
#              within PXE's first retry interval (4 s) (default 10000)
#   SERVERS="metalform kea dnsmasq" selects servers.
#
# perfdhcp runs with rcvbuf-shim.c preloaded (a large socket receive buffer): otherwise
# in a burst the load generator, not the server, drops replies (UdpRcvbufErrors in the
# client namespace; DEBUG_COUNTERS=1 prints them). The same for every server.
#
# Needs (Debian): kea-admin (perfdhcp), kea-dhcp4-server, dnsmasq, iproute2, gcc; and
# `npm run build` (dist/) plus native/udp-bind-device/build.sh.
set -euo pipefail
RATE=${1:-6000}
SECONDS_=${2:-10}
CLIENTS=${3:-200000}
BURST=${4:-10000}
SERVERS=${SERVERS:-"metalform kea dnsmasq"}

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
for t in perfdhcp:kea-admin kea-dhcp4:kea-dhcp4-server dnsmasq:dnsmasq; do
  command -v "${t%%:*}" >/dev/null || { echo "missing ${t%%:*}: apt-get install ${t##*:}" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }

(cd "$repo" && npx tsc -p tsconfig.json >/dev/null 2>&1) || true
[ -f "$repo/dist/services/dhcp/server.js" ] || { echo "dist/services/dhcp/server.js missing: npm run build" >&2; exit 1; }
[ -f "$repo/native/udp-bind-device/build/Release/udp_bind_device.node" ] || bash "$repo/native/udp-bind-device/build.sh" >/dev/null

tag=$(printf '%04x' $$)
shim_dir=$(mktemp -d /tmp/mfdh-shim.XXXXXX)
gcc -O2 -shared -fPIC -o "$shim_dir/rcvbuf-shim.so" "$here/rcvbuf-shim.c" -ldl
perf() { ip netns exec "$C" env LD_PRELOAD="$shim_dir/rcvbuf-shim.so" perfdhcp "$@"; }
S=mfdhbs$tag
C=mfdhbc$tag
work=$(mktemp -d /tmp/mfdh-bench.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  rm -rf "$work" "$shim_dir"
}
trap cleanup EXIT

ip netns add "$S"
ip netns add "$C"
ip link add "mfdh${tag}a" type veth peer name "mfdh${tag}b"
ip link set "mfdh${tag}a" netns "$S"
ip link set "mfdh${tag}b" netns "$C"
for ns in "$S" "$C"; do
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec "$S" ip link set "mfdh${tag}a" name srv0
ip netns exec "$C" ip link set "mfdh${tag}b" name cli0
ip netns exec "$S" ip addr add 10.90.0.1/12 dev srv0
ip netns exec "$C" ip addr add 10.90.0.2/12 dev cli0
ip netns exec "$S" ip link set srv0 up
ip netns exec "$C" ip link set cli0 up
# perfdhcp plays a relay agent (giaddr 10.90.0.2). Pool 10.91.0.0-10.95.255.255 (327,680 addresses).
POOL_START=10.91.0.0
POOL_END=10.95.255.255

start_metalform() {
  local cfg
  cfg=$(cat <<JSON
{"serverAddress":"10.90.0.1","interface":"srv0","subnetMask":"255.240.0.0","leaseTime":3600,
 "dynamicRange":{"start":"$POOL_START","end":"$POOL_END"},"leaseFile":"$work/metalform-leases.json",
 "routers":["10.90.0.254"],"dnsServers":["10.90.0.1"]}
JSON
)
  # shellcheck disable=SC2086
  ip netns exec "$S" node ${MF_NODE_ARGS:-} "$here/metalform-server.mjs" "$cfg" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  wait_ready() { grep -q ready "$work/server.out"; }
}

start_kea() {
  mkdir -p "$work/kea"
  cat >"$work/kea.conf" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": ["srv0"], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$work/kea/leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600,
  "subnet4": [ { "id": 1, "subnet": "10.80.0.0/12", "pools": [ { "pool": "$POOL_START - $POOL_END" } ],
    "option-data": [ { "name": "routers", "data": "10.90.0.254" }, { "name": "domain-name-servers", "data": "10.90.0.1" } ] } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$work/kea/kea.log" } ], "severity": "WARN" } ]
} }
JSON
  KEA_PIDFILE_DIR="$work/kea" KEA_LOCKFILE_DIR="$work/kea" ip netns exec "$S" kea-dhcp4 -c "$work/kea.conf" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  wait_ready() { ip netns exec "$S" ss -lun 2>/dev/null | grep -q ':67 '; }
}

start_dnsmasq() {
  ip netns exec "$S" dnsmasq -d -k --conf-file=/dev/null --port=0 --no-resolv --no-hosts \
    --interface=srv0 --bind-interfaces --dhcp-authoritative --no-ping \
    --dhcp-range="$POOL_START,$POOL_END,255.240.0.0,1h" --dhcp-lease-max=400000 \
    --dhcp-leasefile="$work/dnsmasq.leases" --pid-file="$work/dnsmasq.pid" --log-facility=- --quiet-dhcp \
    >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  wait_ready() { ip netns exec "$S" ss -lun 2>/dev/null | grep -q ':67 '; }
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  rm -rf "$work/kea" "$work"/*.leases "$work"/metalform-leases.json
}

# perfdhcp report → "rate failed% rtt_ms sent acks": failed = DISCOVERs sent without an
# ACK at the end; rtt = average DISCOVER→OFFER plus REQUEST→ACK delay. perfdhcp's own
# "Rate" divides by the run plus its exit wait, so the table shows acks / duration.
summarize() {
  awk '
    /^Rate:/ { rate=$2 }
    /Statistics for: DISCOVER-OFFER/ { sec="do" }
    /Statistics for: REQUEST-ACK/ { sec="ra" }
    /^sent packets:/ { sent[sec]=$3 }
    /^received packets:/ { recv[sec]=$3 }
    /^avg delay:/ { avg[sec]=$3 }
    END {
      lost = (sent["do"] - recv["ra"]);
      pct = sent["do"] > 0 ? 100 * lost / sent["do"] : 100;
      printf "%s %.3f %s %s %s\n", rate, pct, avg["do"] + avg["ra"], sent["do"], recv["ra"]
    }' "$1"
}

rows=()
for s in $SERVERS; do
  "start_$s"
  for _ in $(seq 1 100); do wait_ready && break; sleep 0.1; done
  wait_ready || { echo "$s did not start:"; cat "$work/server.err"; exit 1; }
  sleep 0.3
  perf -4 -l cli0 -r "$RATE" -R "$CLIENTS" -p "$SECONDS_" -W 2000000 -s 1 10.90.0.1 >"$work/$s.sustained" 2>&1 || true
  read -r rate pct avg sent acks < <(summarize "$work/$s.sustained")
  rows+=("$(printf '%-10s %-10s %9s %10s %9s %9s %10s %9s' "$s" "sustained" "$RATE/s" "$(( acks / SECONDS_ ))/s" "$sent" "$acks" "$pct %" "$avg")")
  stop_server
  "start_$s"
  for _ in $(seq 1 100); do wait_ready && break; sleep 0.1; done
  sleep 0.3
  # The burst: every client starts within one second, a reply later than 4 s (PXE's
  # first retransmission) counts as a failed client.
  perf -4 -l cli0 -r "$BURST" -R "$BURST" -n "$BURST" -d 4 -W 4000000 -s 2 10.90.0.1 >"$work/$s.burst" 2>&1 || true
  read -r rate pct avg sent acks < <(summarize "$work/$s.burst")
  rows+=("$(printf '%-10s %-10s %9s %10s %9s %9s %10s %9s' "$s" "burst" "$BURST" "-" "$sent" "$acks" "$pct %" "$avg")")
  if [ -n "${DEBUG_COUNTERS:-}" ]; then
    echo "== $s server ns"; ip netns exec "$S" nstat -az 2>/dev/null | grep -E "Udp(InDatagrams|InErrors|RcvbufErrors|SndbufErrors|OutDatagrams)" || true
    echo "== $s client ns"; ip netns exec "$C" nstat -az 2>/dev/null | grep -E "Udp(InDatagrams|InErrors|RcvbufErrors|SndbufErrors|OutDatagrams)" || true
    awk '{print "softnet", NR-1, $1, $2}' /proc/net/softnet_stat
  fi
  [ -n "${KEEP_OUTPUT:-}" ] && cp "$work/$s.sustained" "$work/$s.burst" "$KEEP_OUTPUT/" 2>/dev/null || true
  stop_server
done

printf '\n%-10s %-10s %9s %10s %9s %9s %10s %9s\n' server run offered answered clients acked failed "rtt ms"
printf '%s\n' "${rows[@]}"
