#!/usr/bin/env bash
# TFTP benchmark: metalform vs atftpd vs tftpd-hpa, side by side in one run.
#
#   sudo bash bench/tftp/run.sh            # RUNS=5 SIZE_MIB=64 CONCURRENT=200 CONC_MIB=8 WINDOWS="1 16 64" STORM=1000
#
# Server in one network namespace, client in another, a veth between (as in
# FACTS.md). Each server is started in the foreground from the build (metalform:
# `npm run build`, dist/) or from its Debian package unpacked with `dpkg-deb -x`
# (atftpd and tftpd-hpa conflict as packages, so neither is installed). The client is
# atftp; every download is checked by sha256. Then CONCURRENT transfers of a CONC_MIB
# file run at once against metalform (bench/tftp/concurrent.mjs) and must all be intact.
# A storm of STORM simultaneous RRQs (bench/tftp/storm.mjs) counts the requests that
# needed a client retry, for metalform (4 MiB request socket buffer), metalform with
# the kernel's default buffer, and atftpd.
#
# Needs root and the Debian packages: atftp, iproute2, and apt access for
# `apt-get download atftpd tftpd-hpa` (cached in $BENCH_CACHE).
set -euo pipefail

RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-64}
CONCURRENT=${CONCURRENT:-200}
CONC_MIB=${CONC_MIB:-8}
WINDOWS=${WINDOWS:-"1 16 64"}
STORM=${STORM:-1000}
BLKSIZE=${BLKSIZE:-1468}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/metalform-bench-tftp}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { echo "bench/tftp: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
command -v atftp >/dev/null || die "atftp not found: apt-get install -y atftp"
command -v ip >/dev/null || die "ip not found: apt-get install -y iproute2"

# --- build metalform ------------------------------------------------------------
(cd "$repo" && npm run build >/dev/null 2>&1) || echo "bench/tftp: npm run build reported errors (other modules?); using whatever dist/ holds" >&2
[ -f "$repo/dist/services/tftp/server.js" ] || die "dist/services/tftp/server.js missing after npm run build"

# --- comparators, unpacked, not installed ------------------------------------------
mkdir -p "$BENCH_CACHE"
for pkg in atftpd tftpd-hpa; do
  if [ ! -d "$BENCH_CACHE/$pkg" ]; then
    (cd "$BENCH_CACHE" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
    dpkg-deb -x "$BENCH_CACHE/${pkg}"_*.deb "$BENCH_CACHE/$pkg"
  fi
done
ATFTPD="$BENCH_CACHE/atftpd/usr/sbin/atftpd"
INTFTPD="$BENCH_CACHE/tftpd-hpa/usr/sbin/in.tftpd"

# --- namespaces ---------------------------------------------------------------------
for ns in $(ip netns list | awk '/^mftfb/ {print $1}'); do
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -z "$pids" ] && ip netns del "$ns" 2>/dev/null || true
done
NS_S="mftfbs$$"
NS_C="mftfbc$$"
NET="10.251.$(( $$ % 200 + 20 ))"
SRV="$NET.1"
CLI="$NET.2"
work=$(mktemp -d /tmp/mftf-bench-XXXXXX)
chmod 755 "$work"
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  rm -rf "$work" /dev/shm/mftf-bench-$$
}
trap cleanup EXIT

ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "mftfb$$s" type veth peer name "mftfb$$c"
ip link set "mftfb$$s" netns "$NS_S"
ip link set "mftfb$$c" netns "$NS_C"
ip -n "$NS_S" addr add "$SRV/24" dev "mftfb$$s"
ip -n "$NS_C" addr add "$CLI/24" dev "mftfb$$c"
for ns in "$NS_S" "$NS_C"; do ip -n "$ns" link set lo up; done
ip -n "$NS_S" link set "mftfb$$s" up
ip -n "$NS_C" link set "mftfb$$c" up

# --- files ----------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$root/big.bin"
head -c $((CONC_MIB << 20)) /dev/urandom >"$root/conc.bin"
head -c 100 /dev/urandom >"$root/tiny.bin"
chmod 755 "$root"
chmod 644 "$root"/*
want=$(sha256sum "$root/big.bin" | cut -d' ' -f1)
want_conc=$(sha256sum "$root/conc.bin" | cut -d' ' -f1)
out=/dev/shm/mftf-bench-$$
mkdir -p "$out"

# --- servers --------------------------------------------------------------------------
P_MF=6969; P_AT=6970; P_HPA=6971; P_MF0=6972
ip netns exec "$NS_S" node "$here/server.mjs" "$root" "$SRV" "$P_MF" >"$work/mf.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_S" "$ATFTPD" --daemon --no-fork --user nobody --group nogroup \
  --bind-address "$SRV" --port "$P_AT" --logfile /dev/null --verbose=1 "$root" >"$work/atftpd.log" 2>&1 &
pids+=($!)
ip netns exec "$NS_S" "$INTFTPD" -L -u nobody -a "$SRV:$P_HPA" -s "$root" >"$work/hpa.log" 2>&1 &
pids+=($!)
TFTP_REQUEST_BUFFER=0 ip netns exec "$NS_S" node "$here/server.mjs" "$root" "$SRV" "$P_MF0" >"$work/mf0.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/mf.log" && grep -q ready "$work/mf0.log" && break; sleep 0.1; done
grep -q ready "$work/mf.log" || { cat "$work/mf.log"; die "metalform server did not start"; }
sleep 0.3

now() { date +%s.%N; }

# CPU time (user+system, children included) a server process has used, in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($14+$15+$16+$17) * 1000 / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# fetch SERVER_PORT WINDOW SERVER_PID -> prints "seconds server-cpu-ms", or FAIL
fetch() {
  local port=$1 win=$2 pid=$3 opts=(--option "blksize $BLKSIZE") t0 t1 c0 c1
  [ "$win" -gt 1 ] && opts+=(--option "windowsize $win")
  rm -f "$out/f"
  c0=$(cpu_ms "$pid")
  t0=$(now)
  if ! ip netns exec "$NS_C" timeout 120 atftp "${opts[@]}" -g -r big.bin -l "$out/f" "$SRV" "$port" >/dev/null 2>&1; then
    echo FAIL; return
  fi
  t1=$(now)
  c1=$(cpu_ms "$pid")
  if [ "$(sha256sum "$out/f" | cut -d' ' -f1)" != "$want" ]; then echo CORRUPT; return; fi
  echo "$t0 $t1 $c0 $c1" | awk '{printf "%.3f %d", $2 - $1, $4 - $3}'
}

# Runs alternate between the servers (metalform, atftpd, tftpd-hpa, metalform, ...) so
# load from other work on a shared machine hits all three alike; the table shows the
# median of RUNS, the best in parentheses.
median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
minimum() { sort -n | head -1; }

echo "metalform $(grep -m1 'send path' "$work/mf.log" || echo 'send path: unknown')"
echo "TFTP: ${SIZE_MIB} MiB file, blksize $BLKSIZE, atftp client, median (best) of $RUNS interleaved runs, server and client in separate netns"
printf '%-11s %-18s %-18s %-18s %-17s %-14s\n' windowsize metalform atftpd tftpd-hpa "metalform/atftpd" "server CPU mf/atftpd"
for w in $WINDOWS; do
  : >"$work/t.mf"; : >"$work/t.at"; : >"$work/t.hpa"; : >"$work/c.mf"; : >"$work/c.at"; bad=""
  for _ in $(seq "$RUNS"); do
    for s in mf:$P_MF:0 at:$P_AT:1 hpa:$P_HPA:2; do
      name=${s%%:*}; rest=${s#*:}
      r=$(fetch "${rest%%:*}" "$w" "${pids[${rest#*:}]}")
      case $r in
        FAIL|CORRUPT) bad="$bad $name=$r";;
        *) echo "${r% *}" >>"$work/t.$name"; echo "${r#* }" >>"$work/c.$name";;
      esac
    done
  done
  cell() { echo "$(median <"$work/t.$1")s ($(minimum <"$work/t.$1")s)"; }
  mf=$(median <"$work/t.mf"); at=$(median <"$work/t.at")
  ratio=$(awk -v m="$mf" -v a="$at" 'BEGIN{ if (m+0>0 && a+0>0) printf "%.2fx", a/m; else print "-" }')
  printf '%-11s %-18s %-18s %-18s %-17s %-14s\n' "$w" "$(cell mf)" "$(cell at)" "$(cell hpa)" "$ratio" "$(median <"$work/c.mf")/$(median <"$work/c.at") ms"
  [ -z "$bad" ] || echo "  failures:$bad"
done
echo "(tftpd-hpa has no RFC 7440 windowsize: atftp falls back to lock-step; server CPU: median"
echo " user+system ms of the server process per transfer, from /proc/PID/stat)"
echo
if [ "$STORM" -gt 0 ]; then
  echo "Boot storm: $STORM clients send one RRQ each at once (100-byte file); retried = RRQ lost, answered only after the client's 3 s retry"
  for s in "metalform (request buffer 4 MiB):$P_MF" "metalform (kernel default buffer):$P_MF0" "atftpd:$P_AT"; do
    printf '  %-36s %s\n' "${s%%:*}" "$(ip netns exec "$NS_C" node "$here/storm.mjs" "$SRV" "${s##*:}" tiny.bin "$STORM" 3000 4 || true)"
  done
  echo
fi
if [ "$CONCURRENT" -gt 0 ]; then
  echo "metalform: $CONCURRENT concurrent transfers of a ${CONC_MIB} MiB file (blksize $BLKSIZE, windowsize 16)"
  conc=$(ip netns exec "$NS_C" node "$here/concurrent.mjs" "$SRV" "$P_MF" conc.bin "$CONCURRENT" "$want_conc" "$BLKSIZE" 16) || true
  echo "$conc"
  # Stop metalform's server to read its peak memory and failure count.
  kill "${pids[0]}" 2>/dev/null || true
  wait "${pids[0]}" 2>/dev/null || true
  grep "metalform tftp stopped" "$work/mf.log" || true
  if [ "$STORM" -gt 0 ]; then echo "(peak concurrent transfers counts the RRQ storm above too)"; fi
  echo "$conc" | grep -q "\"intact\":$CONCURRENT," || { echo "NOT ALL INTACT"; tail -20 "$work/mf.log"; exit 1; }
fi
