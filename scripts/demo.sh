#!/usr/bin/env bash
# The esphub guided tour ('make demo'). Until the VPN daemon exists it builds
# the hub-3spokes-nat lab in network namespaces, sends traffic across it,
# shows the NAT box translating, and removes everything again. It exits 0
# only if every step worked, and cleans up on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

LAB=${ESPHUB_LAB:-bin/esphub-lab}   # tests point this at their own build
SPEC=lab/topologies/hub-3spokes-nat.yaml
PREFIX=${DEMO_PREFIX:-demo}         # namespaces demo-hub, demo-host2, ...
HUBHOST=198.19.0.10              # the host on the hub's LAN
HUBHOST6=2001:db8:1::10
NAT_OUTSIDE=198.18.100.2         # what the NAT box turns spoke2's site into
TMP=$(mktemp -d /tmp/esphub-demo.XXXXXX)
lab_up=0

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; D=$'\e[2m'; N=$'\e[0m'; else B= G= R= D= N=; fi

say()  { printf '%s\n' "$*"; }
step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
# show runs a command after printing it the way a person would type it.
show() { printf '%s$ %s%s\n' "$D" "$*" "$N"; "$@"; }
die()  { printf '\n%sdemo failed: %s%s\n' "$R" "$*" "$N" >&2; exit 1; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null
  if [ "$lab_up" = 1 ]; then
    if [ $status -ne 0 ]; then say "cleaning up: removing lab $PREFIX"; fi
    "$LAB" down --prefix "$PREFIX" >/dev/null || say "${R}could not remove lab $PREFIX; run: $LAB down --prefix $PREFIX${N}" >&2
  fi
  rm -rf "$TMP"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
step "esphub demo: a FlexVPN-style network in network namespaces"
say "esphub will be an IKEv2/ESP hub and spoke. Its lab builds the network it"
say "runs on: every router and host below is a Linux network namespace, every"
say "wire a veth pair. Nothing touches this machine's own interfaces."

[ "$(id -u)" -eq 0 ] || die "the demo creates network namespaces and needs root (sudo make demo)"
[ -x "$LAB" ] || die "$LAB is missing; run 'make build' (or just 'make demo')"
for c in ip nft ping; do
  command -v "$c" >/dev/null || die "'$c' is not installed (run 'make deps' as root)"
done
nft_before=$(nft list tables 2>/dev/null || true)
if [ -n "$(ip netns list | grep "^$PREFIX-" || true)" ]; then
  say "removing the leftovers of an earlier demo run"
  "$LAB" down --prefix "$PREFIX" >/dev/null || die "could not remove the earlier demo's namespaces"
fi

cat <<'EOF'

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

  underlay (WAN) 198.18.0.0/16, LANs 198.19.0.0/16, IPv6 alongside in 2001:db8::/32
EOF

# ---------------------------------------------------------------------------
step "1. Check the spec and bring the lab up"
say "The topology is a YAML file; esphub-lab validates it completely before it"
say "creates anything, and names FILE:LINE for any mistake."
show "$LAB" check "$SPEC" || die "the shipped spec $SPEC does not validate"
lab_up=1
show "$LAB" up --prefix "$PREFIX" "$SPEC" || die "esphub-lab up failed (see the message above)"

# ---------------------------------------------------------------------------
step "2. What got built"
say "status reads the state back from the kernel: interfaces, addresses, routes,"
say "rate limits and the NAT box's nftables counters."
show "$LAB" status --prefix "$PREFIX" "$SPEC" || die "esphub-lab status failed"

# ---------------------------------------------------------------------------
step "3. Traffic crosses the lab"
say "host2 sits behind spoke2, which sits behind the NAT box. It pings the host"
say "on the hub's LAN, over IPv4 and IPv6 (no VPN yet: plain routing and NAT)."
show "$LAB" exec --prefix "$PREFIX" "$SPEC" host2 ping -n -c 3 -i 0.2 -W 5 "$HUBHOST" \
  || die "host2 could not reach $HUBHOST through the NAT"
show "$LAB" exec --prefix "$PREFIX" "$SPEC" host2 ping -n -c 3 -i 0.2 -W 5 "$HUBHOST6" \
  || die "host2 could not reach $HUBHOST6 through the NAT"

# ---------------------------------------------------------------------------
step "4. The NAT box translates"
say "Seen from the hub's side, host2's packets come from the NAT box's outside"
say "address $NAT_OUTSIDE, not from 198.19.2.10. This is what IKEv2 NAT"
say "traversal will have to cope with."
if command -v tcpdump >/dev/null; then
  ip netns exec "$PREFIX-hubhost" tcpdump -n -l -c 3 -i eth0 'icmp[icmptype] == icmp-echo' \
    >"$TMP/capture" 2>"$TMP/tcpdump.err" &
  tcpdump_pid=$!
  for _ in $(seq 100); do grep -q listening "$TMP/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$TMP/tcpdump.err" || die "tcpdump did not start: $(cat "$TMP/tcpdump.err")"
  "$LAB" exec --prefix "$PREFIX" "$SPEC" host2 ping -n -c 3 -i 0.2 -W 5 "$HUBHOST" >/dev/null \
    || die "ping from host2 failed while capturing"
  for _ in $(seq 100); do kill -0 "$tcpdump_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$tcpdump_pid" 2>/dev/null || true
  tcpdump_pid=
  printf '%s$ ip netns exec %s-hubhost tcpdump -n -c 3 -i eth0 icmp   (while host2 pings)%s\n' "$D" "$PREFIX" "$N"
  cat "$TMP/capture"
  grep -q "IP $NAT_OUTSIDE > $HUBHOST" "$TMP/capture" \
    || die "the hub's host did not see $NAT_OUTSIDE as the source; NAT is not translating"
else
  say "(tcpdump is not installed, so the capture is skipped; 'make deps' installs it)"
fi
say "The NAT box's nftables rule counts the connections it translated, and its"
say "connection tracking table holds the translations themselves:"
show ip netns exec "$PREFIX-nat" nft list table inet esphub_lab || die "cannot read the NAT box's rules"
counter=$(ip netns exec "$PREFIX-nat" nft list table inet esphub_lab | grep masquerade)
case "$counter" in
  *"packets 0 "*|"") die "the masquerade rule counted nothing" ;;
esac
printf '%s$ %s status --prefix %s %s   (the nat node)%s\n' "$D" "$LAB" "$PREFIX" "$SPEC" "$N"
"$LAB" status --prefix "$PREFIX" "$SPEC" >"$TMP/status" || die "esphub-lab status failed"
awk '/^nat:/{f=1} f&&/^$/{exit} f' "$TMP/status"
grep -q "nat   icmp 198.19.2.10 -> $HUBHOST as $NAT_OUTSIDE" "$TMP/status" \
  || die "the NAT box's conntrack table shows no translation for host2"

# ---------------------------------------------------------------------------
step "5. ...and hides the inside"
say "The other way round fails: the internet has no route to host2's LAN. A"
say "tunnel from spoke2 to the hub is what will make 198.19.2.0/24 reachable."
show "$LAB" exec --prefix "$PREFIX" "$SPEC" hubhost ping -n -c 1 -W 1 198.19.2.10 \
  && die "hubhost reached host2 behind the NAT; the NAT box is not isolating its inside"
say "${G}(failed as expected)${N}"

# ---------------------------------------------------------------------------
step "6. Tear down"
show "$LAB" down --prefix "$PREFIX" "$SPEC" || die "esphub-lab down failed"
lab_up=0
left=$(ip netns list | grep "^$PREFIX-" || true)
[ -z "$left" ] || die "namespaces left behind: $left"
[ "$(nft list tables 2>/dev/null || true)" = "$nft_before" ] || die "the root namespace's nftables tables changed"
say "No namespace named $PREFIX-* is left, and this machine's own nftables tables"
say "are as they were."

step "Done"
say "${G}The lab works.${N} Try it yourself:"
say "  $LAB up $SPEC"
say "  $LAB exec $SPEC host2 ping -c3 $HUBHOST"
say "  $LAB status $SPEC"
say "  $LAB down $SPEC"
say "Topologies live in lab/topologies/; 'esphub-lab --help' explains the rest."
