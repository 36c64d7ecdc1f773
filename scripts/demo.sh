#!/usr/bin/env bash
# The esphub guided tour ('make demo'): builds the hub-3spokes-nat lab in
# network namespaces, runs esphubd on the hub and on three spokes (two of
# them behind a NAT box) with the IOS-style configurations in examples/,
# waits for the IKEv2 sessions, pings host to host through the hub, shows
# what an operator would look at, and removes everything again. It exits 0
# only if every step worked, and cleans up on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${ESPHUB_BIN:-bin}              # tests point this at their own build
LAB=${ESPHUB_LAB:-$BIN/esphub-lab}
D=$BIN/esphubd
CTL=$BIN/esphubctl
SPEC=lab/topologies/hub-3spokes-nat.yaml
EXAMPLES=examples/hub-3spokes-nat
PREFIX=${DEMO_PREFIX:-demo}         # namespaces demo-hub, demo-host2, ...
HUBHOST=198.19.0.10                 # the host on the hub's LAN
TMP=$(mktemp -d /tmp/esphub-demo.XXXXXX)
NODES=(hub spoke1 spoke2 spoke3)
lab_up=0
declare -A pids=()

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; DIM=$'\e[2m'; N=$'\e[0m'; else B= G= R= DIM= N=; fi

say()  { printf '%s\n' "$*"; }
step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
# show runs a command after printing it the way a person would type it.
show() { printf '%s$ %s%s\n' "$DIM" "$*" "$N"; "$@"; }
die()  { printf '\n%sdemo failed: %s%s\n' "$R" "$*" "$N" >&2; exit 1; }
# ctl runs esphubctl against one node's daemon, printed as an operator on
# that router would type it.
ctl()  { local node=$1; shift; printf '%s%s# esphubctl %s%s\n' "$DIM" "$node" "$*" "$N"; "$CTL" "$@" -s "$TMP/$node.sock"; }

# capture pings from host2 to the hub's host and prints what the hub's
# host sees: the source address of the echo requests.
capture() {
  local out=$TMP/capture.$1
  if ! command -v tcpdump >/dev/null; then
    say "(tcpdump is not installed, so the capture is skipped; 'make deps' installs it)"
    return 0
  fi
  ip netns exec "$PREFIX-hubhost" tcpdump -n -l -c 3 -i eth0 'icmp[icmptype] == icmp-echo' >"$out" 2>"$out.err" &
  tcpdump_pid=$!
  for _ in $(seq 100); do grep -q listening "$out.err" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$out.err" || die "tcpdump did not start: $(cat "$out.err")"
  "$LAB" exec --prefix "$PREFIX" "$SPEC" host2 ping -n -c 3 -i 0.2 -W 3 "$HUBHOST" >/dev/null \
    || die "ping from host2 to $HUBHOST failed while capturing"
  for _ in $(seq 100); do kill -0 "$tcpdump_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$tcpdump_pid" 2>/dev/null || true
  wait "$tcpdump_pid" 2>/dev/null || true
  tcpdump_pid=
  printf '%s$ ip netns exec %s-hubhost tcpdump -n -c 3 -i eth0 icmp   (while host2 pings it)%s\n' "$DIM" "$PREFIX" "$N"
  cat "$out"
}

stop_daemons() {
  local n
  for n in "${!pids[@]}"; do kill -TERM "${pids[$n]}" 2>/dev/null || true; done
  for n in "${!pids[@]}"; do
    for _ in $(seq 50); do kill -0 "${pids[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[$n]}" 2>/dev/null || true
    wait "${pids[$n]}" 2>/dev/null || true
    unset "pids[$n]"
  done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null
  stop_daemons
  if [ $status -ne 0 ]; then
    for n in "${NODES[@]}"; do
      [ -s "$TMP/$n.log" ] && { say "--- last lines of esphubd on $n:"; tail -n 8 "$TMP/$n.log"; }
    done
  fi
  if [ "$lab_up" = 1 ]; then
    if [ $status -ne 0 ]; then say "cleaning up: removing lab $PREFIX"; fi
    "$LAB" down --prefix "$PREFIX" >/dev/null || say "${R}could not remove lab $PREFIX; run: $LAB down --prefix $PREFIX${N}" >&2
  fi
  rm -rf "$TMP"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
# ---------------------------------------------------------------------------
step "esphub demo: a FlexVPN hub and three spokes, in network namespaces"
say "esphubd is an IKEv2/ESP hub and spoke configured the way a Cisco FlexVPN"
say "router is. This tour builds a small network out of Linux namespaces, runs"
say "esphubd on four routers and sends traffic through the tunnels. Nothing"
say "touches this machine's own interfaces, routes or firewall."

[ "$(id -u)" -eq 0 ] || die "the demo creates network namespaces and needs root (sudo make demo)"
if { [ ! -x "$D" ] || [ ! -x "$CTL" ]; } && command -v go >/dev/null; then
  say "building esphubd and esphubctl into $BIN/"
  go build -o "$BIN/" ./cmd/esphubd ./cmd/esphubctl || die "go build failed"
fi
for b in "$LAB" "$D" "$CTL"; do [ -x "$b" ] || die "$b is missing; run 'make build' (or just 'make demo')"; done
for c in ip nft ping; do
  command -v "$c" >/dev/null || die "'$c' is not installed (run 'make deps' as root)"
done
nft_before=$(nft list tables 2>/dev/null || true)
if [ -n "$(ip netns list | grep "^$PREFIX-" || true)" ]; then
  say "removing the leftovers of an earlier demo run"
  "$LAB" down --prefix "$PREFIX" >/dev/null || die "could not remove the earlier demo's namespaces"
fi

cat <<'EOF2'

            hubhost 198.19.0.10                        host1 198.19.1.10
               |                                          |
              hub ---------------- inet ---------------- spoke1
         198.18.0.2            ("the internet")         198.18.1.2
                                    |
                                   nat  198.18.100.2 (masquerades for the inside)
                                  /   \
                            spoke2     spoke3
                               |          |
                    host2 198.19.2.10   host3 198.19.3.10
EOF2

# ---------------------------------------------------------------------------
step "1. Bring the lab up"
"$LAB" check "$SPEC" >/dev/null || die "the shipped spec $SPEC does not validate"
lab_up=1
show "$LAB" up --prefix "$PREFIX" "$SPEC" || die "esphub-lab up failed (see the message above)"
say "Without a VPN, host2 (behind the NAT box) reaches the hub's host only as"
say "the NAT box's address 198.18.100.2:"
capture before
if command -v tcpdump >/dev/null; then
  grep -q "IP 198.18.100.2 > $HUBHOST" "$TMP/capture.before" || die "the hub's host did not see the NAT address; NAT is not translating"
fi
say "and the other way round fails: nothing routes to host2's LAN."
show "$LAB" exec --prefix "$PREFIX" "$SPEC" hubhost ping -n -c 1 -W 1 198.19.2.10 \
  && die "hubhost reached host2 before any tunnel existed; the NAT box is not isolating its inside"
say "${G}(failed as expected)${N}"

# ---------------------------------------------------------------------------
step "2. The configurations"
say "Each router gets an IOS-style configuration from $EXAMPLES/. The hub"
say "clones Virtual-Template1 for every spoke that authenticates, and its"
say "authorization policy exchanges routes in the IKEv2 configuration payload:"
printf '%s' "$DIM"
sed -n '/^crypto ikev2 authorization policy/,/^!/p;/^crypto ikev2 profile/,/^!/p;/^interface Virtual-Template1/,/^!/p' "$EXAMPLES/hub.cfg"
printf '%s' "$N"
say "A spoke has a static tunnel interface pointing at the hub:"
printf '%s' "$DIM"; sed -n '/^interface Tunnel0/,/^!/p' "$EXAMPLES/spoke2.cfg"; printf '%s' "$N"
show "$CTL" config check "$EXAMPLES/hub.cfg" "$EXAMPLES/spoke1.cfg" "$EXAMPLES/spoke2.cfg" "$EXAMPLES/spoke3.cfg" \
  || die "the example configurations do not validate"

# ---------------------------------------------------------------------------
step "3. Start esphubd on the hub and the spokes"
for n in "${NODES[@]}"; do
  printf '%s$ ip netns exec %s-%s esphubd -config %s/%s.cfg -backend portable &%s\n' "$DIM" "$PREFIX" "$n" "$EXAMPLES" "$n" "$N"
  ip netns exec "$PREFIX-$n" "$D" -config "$EXAMPLES/$n.cfg" -backend portable -api "$TMP/$n.sock" >"$TMP/$n.log" 2>&1 &
  pids[$n]=$!
done
say "Waiting for the three spoke sessions on the hub..."
up=0
for _ in $(seq 150); do
  up=$("$CTL" show crypto session -s "$TMP/hub.sock" 2>/dev/null | grep -c "UP-ACTIVE" || true)
  [ "$up" -ge 3 ] && break
  for n in "${NODES[@]}"; do kill -0 "${pids[$n]}" 2>/dev/null || die "esphubd on $n exited"; done
  sleep 0.2
done
[ "$up" -ge 3 ] || die "only $up of 3 spoke sessions came up within 30 s"
say "${G}All three spokes are connected.${N} The hub logged them as IOS does:"
grep -h "SA_UP" "$TMP/hub.log" | sed 's/.*msg="\([^"]*\)".*/  \1/'

# ---------------------------------------------------------------------------
step "4. Traffic through the tunnels"
say "host1 (spoke1, on the internet) pings the hub's host; host2 (behind the NAT)"
say "pings host3 (behind the same NAT): spoke to spoke, through the hub."
ping_ok() { "$LAB" exec --prefix "$PREFIX" "$SPEC" "$1" ping -n -c 3 -i 0.2 -W 3 "$2"; }
show "$LAB" exec --prefix "$PREFIX" "$SPEC" host1 ping -n -c 3 -i 0.2 -W 3 "$HUBHOST" \
  || ping_ok host1 "$HUBHOST" || die "host1 could not reach $HUBHOST through the tunnel"
show "$LAB" exec --prefix "$PREFIX" "$SPEC" host2 ping -n -c 3 -i 0.2 -W 3 198.19.3.10 \
  || ping_ok host2 198.19.3.10 || die "host2 could not reach host3 through the hub"
show "$LAB" exec --prefix "$PREFIX" "$SPEC" hubhost ping -n -c 3 -i 0.2 -W 3 198.19.2.10 \
  || ping_ok hubhost 198.19.2.10 || die "the hub's host could not reach host2 behind the NAT"

say "Through the tunnel the hub's host now sees host2's own address, not the NAT's:"
capture after
if command -v tcpdump >/dev/null; then
  grep -q "IP 198.19.2.10 > $HUBHOST" "$TMP/capture.after" || die "the hub's host did not see host2's own address through the tunnel"
fi

# ---------------------------------------------------------------------------
step "5. What the operator sees"
say "Sessions on the hub: one Virtual-Access per spoke; spoke2 and spoke3 share"
say "the NAT box's address and differ by UDP port."
ctl hub show crypto session || die "show crypto session failed on the hub"
say "Routes on the hub: the spokes' LANs and loopbacks arrived in the IKEv2"
say "configuration exchange (route accept any tag 1 distance 2):"
ctl hub show ip route || die "show ip route failed on the hub"
say "And on spoke2: the overlay summary the hub pushed, through Tunnel0."
ctl spoke2 show ip route || die "show ip route failed on spoke2"
ctl spoke2 show crypto ikev2 sa || die "show crypto ikev2 sa failed on spoke2"
say "Every show command has a JSON form for automation, for example:"
printf '%s%s# esphubctl -o json show crypto session | head%s\n' "$DIM" spoke2 "$N"
"$CTL" -o json show crypto session -s "$TMP/spoke2.sock" | head -n 12

# ---------------------------------------------------------------------------
step "6. Shut down and tear down"
say "Stopping esphubd sends IKEv2 Deletes, so peers learn at once:"
kill -TERM "${pids[hub]}"
wait "${pids[hub]}" 2>/dev/null || true
unset "pids[hub]"
for _ in $(seq 50); do grep -q "SA_DOWN" "$TMP/spoke1.log" && break; sleep 0.1; done
grep -h "SA_DOWN" "$TMP/spoke1.log" | head -n 1 | sed 's/.*msg="\([^"]*\)".*/  spoke1: \1/'
grep -q "SA_DOWN" "$TMP/spoke1.log" || die "spoke1 did not hear the hub's Delete"
stop_daemons
show "$LAB" down --prefix "$PREFIX" "$SPEC" || die "esphub-lab down failed"
lab_up=0
left=$(ip netns list | grep "^$PREFIX-" || true)
[ -z "$left" ] || die "namespaces left behind: $left"
[ "$(nft list tables 2>/dev/null || true)" = "$nft_before" ] || die "the root namespace's nftables tables changed"
say "No namespace named $PREFIX-* is left, and this machine's own nftables tables"
say "are as they were."

step "Done in $(( $(date +%s) - start )) s"
say "${G}The lab works. So does the VPN across it: a hub and three spokes, two behind${N}"
say "${G}NAT, built from IOS configurations.${N}"
say "Try it by hand:"
say "  $LAB up $SPEC"
say "  ip netns exec h3n-hub $D -config $EXAMPLES/hub.cfg -api /tmp/hub.sock &"
say "  $CTL show crypto ikev2 sa detailed -s /tmp/hub.sock"
say "esphubd -h and esphubctl -h explain the rest."
