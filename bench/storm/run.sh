#!/usr/bin/env bash
# Boot storm against metalform's DHCP, TFTP and HTTP servers, in a server namespace
# and a client namespace joined by a veth pair (nothing leaves them):
#  1. DHCP: perfdhcp (Debian kea-admin) as a relay agent, CLIENTS exchanges within one
#     second from CLIENTS reserved MACs (10,000 reservations); a reply later than 4 s
#     (PXE's first retransmission) counts as unanswered (-d 4).
#  2. TFTP: FETCHES concurrent downloads of the real iPXE loader (undionly.kpxe),
#     lock-step blksize 1432 as PXE ROMs do, each checked against its sha256.
#  3. HTTP: FETCHES concurrent downloads of a 4 MiB kernel-sized file, sha256 checked.
# Prints one table. Exit 1 when any client went unanswered or any file was not intact.
#
#   bench/storm/run.sh [CLIENTS] [FETCHES]     (defaults 10000 1000)
#
# Needs (Debian): kea-admin (perfdhcp), ipxe, iproute2, gcc; `npm run build` and the
# native helper (native/udp-bind-device/build.sh; the DHCP server binds to its interface).
set -euo pipefail
CLIENTS=${1:-10000}
FETCHES=${2:-1000}
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
command -v perfdhcp >/dev/null || { echo "missing perfdhcp: apt-get install kea-admin" >&2; exit 1; }
[ -f /usr/lib/ipxe/undionly.kpxe ] || { echo "missing /usr/lib/ipxe/undionly.kpxe: apt-get install ipxe" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
[ -f "$repo/dist/services/dhcp/server.js" ] || { echo "dist/ missing: npm run build" >&2; exit 1; }
[ -f "$repo/native/udp-bind-device/build/Release/udp_bind_device.node" ] || bash "$repo/native/udp-bind-device/build.sh" >/dev/null

tag=$$
S=mfrb-ss-$tag
C=mfrb-sc-$tag
work=$(mktemp -d /tmp/mfrb-storm.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Namespaces of earlier runs that were killed.
for ns in $(ip netns list | awk '{print $1}' | grep -E '^mfrb-s[sc]-[0-9]+$' || true); do
  [ -d "/proc/${ns##*-}" ] || ip netns del "$ns" 2>/dev/null || true
done

ip netns add "$S"
ip netns add "$C"
ip link add "mfrbs$tag" type veth peer name "mfrbc$tag"
ip link set "mfrbs$tag" netns "$S"
ip link set "mfrbc$tag" netns "$C"
ip netns exec "$S" ip link set "mfrbs$tag" name srv0
ip netns exec "$C" ip link set "mfrbc$tag" name cli0
for ns in "$S" "$C"; do
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec "$S" ip addr add 10.88.0.1/15 dev srv0
ip netns exec "$C" ip addr add 10.88.0.2/15 dev cli0
ip netns exec "$S" ip link set srv0 up
ip netns exec "$C" ip link set cli0 up

# perfdhcp's client MACs: its template 00:0c:01:02:03:04 plus r in [0, CLIENTS), added
# byte-wise from the last byte (kea's TestControl::generateMacAddress). Reserve them all.
mkdir -p "$work/tftp" "$work/http"
cp /usr/lib/ipxe/undionly.kpxe "$work/tftp/"
head -c $((4 << 20)) /dev/urandom >"$work/http/vmlinuz"
node -e '
const n = Number(process.argv[1]);
const res = [];
for (let r = 0; r < n; r++) {
  const mac = [0x00, 0x0c, 0x01, 0x02, 0x03, 0x04];
  let v = r;
  for (let i = 5; i >= 0; i--) { mac[i] = (mac[i] + v) & 0xff; if (v < 256) break; v >>>= 8; }
  const ip = 0x0a590000 + 1 + r; // 10.89.0.1 ...
  res.push({ mac: mac.map((b) => b.toString(16).padStart(2, "0")).join(":"), ip: [ip >>> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255].join(".") });
}
if (new Set(res.map((x) => x.mac)).size !== n) throw new Error("MACs not distinct");
process.stdout.write(JSON.stringify({ interface: "srv0", address: "10.88.0.1", mask: "255.254.0.0", reservations: res,
  tftpRoot: process.argv[2], httpRoot: process.argv[3], httpPort: 8080 }));
' "$CLIENTS" "$work/tftp" "$work/http" >"$work/servers.json"

ip netns exec "$S" node "$here/servers.mjs" "$work/servers.json" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/server.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/server.out" || { echo "servers did not start:"; cat "$work/server.err"; exit 1; }

# perfdhcp with a large receive buffer, as bench/dhcp does (else the load generator drops replies).
gcc -O2 -shared -fPIC -o "$work/rcvbuf-shim.so" "$repo/bench/dhcp/rcvbuf-shim.c" -ldl
ip netns exec "$C" env LD_PRELOAD="$work/rcvbuf-shim.so" perfdhcp -4 -l cli0 -r "$CLIENTS" -R "$CLIENTS" -n "$CLIENTS" \
  -d 4 -W 4000000 -s 2 10.88.0.1 >"$work/perfdhcp.out" 2>&1 || true
read -r do_sent do_recv ra_sent ra_recv avg < <(awk '
  /Statistics for: DISCOVER-OFFER/ { sec="do" }
  /Statistics for: REQUEST-ACK/ { sec="ra" }
  /^sent packets:/ { sent[sec]=$3 }
  /^received packets:/ { recv[sec]=$3 }
  /^avg delay:/ { avg[sec]=$3 }
  END { printf "%d %d %d %d %.3f\n", sent["do"], recv["do"], sent["ra"], recv["ra"], avg["do"] + avg["ra"] }' "$work/perfdhcp.out")
max_do=$(awk '/Statistics for: DISCOVER-OFFER/{s=1} /Statistics for: REQUEST-ACK/{s=2} /^max delay:/{m[s]=$3} END{print m[1]"/"m[2]}' "$work/perfdhcp.out")

phase_rss() { kill -USR2 "$server_pid"; sleep 0.3; grep phase-peak-rss "$work/server.out" | tail -1 | cut -d' ' -f2; }
rss_dhcp=$(phase_rss)
sha() { sha256sum "$1" | cut -d' ' -f1; }
ip netns exec "$C" node "$here/fetch.mjs" tftp 10.88.0.1 69 undionly.kpxe "$FETCHES" "$(sha "$work/tftp/undionly.kpxe")" >"$work/tftp.json" || true
sleep 0.5
rss_tftp=$(phase_rss)
ip netns exec "$C" node "$here/fetch.mjs" http 10.88.0.1 8080 /files/boot/vmlinuz "$FETCHES" "$(sha "$work/http/vmlinuz")" >"$work/http.json" || true
rss_http=$(phase_rss)

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
stats=$(grep '^{' "$work/server.out" | tail -1)

fail=0
printf '\n%-22s %10s %10s %12s %14s %22s %s\n' test clients answered unanswered "intact files" "first reply p50/p99/max" "total p50/p99/max ms"
unanswered=$((do_sent - ra_recv))
[ "$unanswered" -eq 0 ] && [ "$do_sent" -ge "$CLIENTS" ] || fail=1
printf '%-22s %10s %10s %12s %14s %22s %s\n' "dhcp 4-way (perfdhcp)" "$do_sent" "$ra_recv" "$unanswered" "-" "max $max_do ms" "avg rtt ${avg} ms"
for p in tftp http; do
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (o) => `${o.p50}/${o.p99}/${o.max}`;
    console.log([(process.argv[2] === "tftp" ? "tftp undionly.kpxe" : "http 4 MiB kernel").padEnd(22), String(r.count).padStart(10),
      String(r.count - r.unanswered).padStart(10), String(r.unanswered).padStart(12), `${r.intact}/${r.count}`.padStart(14),
      f(r.firstReplyMs).padStart(22), f(r.totalMs), `(${r.seconds} s, ${r.mbytes} MB)`, Object.keys(r.reasons).length ? JSON.stringify(r.reasons) : ""].join(" "));
    process.exit(r.intact === r.count && r.unanswered === 0 ? 0 : 1);
  ' "$work/$p.json" "$p" || fail=1
done
echo
echo "server: $stats"
echo "server peak RSS by phase (MiB): dhcp $rss_dhcp, tftp $rss_tftp, http $rss_http"
distinct=$(node -e 'console.log(JSON.parse(process.argv[1]).distinctAcked)' "$stats")
echo "distinct clients (MACs) acknowledged: $distinct of $CLIENTS reserved"
[ "$distinct" -eq "$CLIENTS" ] || fail=1
exit $fail
