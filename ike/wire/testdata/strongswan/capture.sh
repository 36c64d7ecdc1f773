#!/bin/sh
# capture.sh SCENARIO: runs two strongSwan charons in fresh network
# namespaces (198.18.0.1 initiator, 198.18.0.2 responder; 2001:db8::1 and
# 2001:db8::2 for v6), brings up an IKE SA
# with a Child SA, rekeys both, deletes, and writes the IKE messages seen on
# the wire to SCENARIO.hex (one "SRCPORT DSTPORT HEX" line per datagram, the
# non-ESP marker removed) and the initiator's charon log to SCENARIO.log
# (ike=4: it contains the SK_* keys of this throwaway lab run, which the Go
# test uses to decrypt the SK payloads). Run as root from anywhere.
#
#   gcm: aes256gcm16-prfsha256-ecp256, ESP aes256gcm16, virtual IP (CP), FLEXVPN VID
#   cbc: aes128-sha256-modp2048, ESP aes128-sha256, fragment_size 300 (SKF)
#   eap: as gcm, but the initiator authenticates with EAP-MD5 and the
#        responder with an ECDSA certificate (CERT, CERTREQ, signature AUTH,
#        EAP rounds); the throwaway CA is made with openssl for each run
#   v6:  IKE over IPv6, aes128gcm16-prfsha384-ecp384, IPv6 virtual address,
#        DNS server and selectors
set -eu
SCEN=$1
OUT=${CAPTURE_OUT:-$(cd "$(dirname "$0")" && pwd)}
P=iwc$$
W=$(mktemp -d "/tmp/$P.XXXXXX")
NA=$P-a
NB=$P-b
cleanup() {
	for s in a b; do
		[ -f "$W/$s/run/charon.pid" ] && kill "$(cat "$W/$s/run/charon.pid")" 2>/dev/null || true
	done
	[ -n "${TCPDUMP:-}" ] && kill "$TCPDUMP" 2>/dev/null || true
	sleep 0.5
	ip netns del "$NA" 2>/dev/null || true
	ip netns del "$NB" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

PSK='auth = psk'
A_LOCAL=$PSK A_REMOTE=$PSK B_LOCAL=$PSK B_REMOTE=$PSK
A_ADDR=198.18.0.1 B_ADDR=198.18.0.2 PLEN=24 NET=198.19.2.0/24 LO=198.19.2.1/32
VIP=0.0.0.0 POOL=198.19.100.0/24 DNS=198.19.2.53
case $SCEN in
gcm) IKEP=aes256gcm16-prfsha256-ecp256 ESPP=aes256gcm16 FRAG=1280 FLEX=yes ;;
cbc) IKEP=aes128-sha256-modp2048 ESPP=aes128-sha256 FRAG=300 FLEX=no ;;
eap)
	IKEP=aes256gcm16-prfsha256-ecp256 ESPP=aes256gcm16 FRAG=1280 FLEX=no
	A_LOCAL='auth = eap-md5
            eap_id = spoke1'
	A_REMOTE='auth = pubkey'
	B_LOCAL='auth = pubkey
            certs = hub.pem'
	B_REMOTE='auth = eap-md5
            eap_id = %any'
	;;
v6)
	IKEP=aes128gcm16-prfsha384-ecp384 ESPP=aes128gcm16 FRAG=1280 FLEX=no
	A_ADDR=2001:db8::1 B_ADDR=2001:db8::2 PLEN=64 NET=2001:db8:2::/64 LO=2001:db8:2::1/128
	VIP=:: POOL=2001:db8:100::/120 DNS=2001:db8:2::53
	;;
*) echo "unknown scenario $SCEN" >&2; exit 2 ;;
esac

ip netns add "$NA"
ip netns add "$NB"
ip link add "$P-x" netns "$NA" type veth peer name "$P-y" netns "$NB"
ip -n "$NA" addr add "$A_ADDR/$PLEN" dev "$P-x" nodad 2>/dev/null || ip -n "$NA" addr add "$A_ADDR/$PLEN" dev "$P-x"
ip -n "$NB" addr add "$B_ADDR/$PLEN" dev "$P-y" nodad 2>/dev/null || ip -n "$NB" addr add "$B_ADDR/$PLEN" dev "$P-y"
ip -n "$NB" addr add "$LO" dev lo
for n in "$NA" "$NB"; do ip -n "$n" link set lo up; done
ip -n "$NA" link set "$P-x" up
ip -n "$NB" link set "$P-y" up

conf() { # side local remote lid rid
	d=$W/$1
	mkdir -p "$d/run"
	cat >"$d/strongswan.conf" <<EOC
charon {
    load_modular = no
    load = random nonce openssl pem pkcs1 x509 pubkey revocation constraints kdf gmp curve25519 aes gcm sha1 sha2 hmac md5 eap-md5 eap-identity kernel-libipsec kernel-netlink socket-default vici updown attr
    install_routes = no
    install_virtual_ip = yes
    retransmit_tries = 3
    cisco_flexvpn = $FLEX
    fragment_size = $FRAG
    filelog {
        peer {
            path = $d/charon.log
            append = no
            flush_line = yes
            default = 1
            ike = 4
            cfg = 1
        }
    }
    plugins {
        vici {
            socket = unix://$d/charon.vici
        }
    }
}
EOC
}
conf a
conf b
if [ "$SCEN" = eap ]; then
	mkdir -p "$W/ca" "$W/a/x509ca" "$W/b/x509ca" "$W/b/x509" "$W/b/ecdsa"
	(
		cd "$W/ca"
		openssl ecparam -name prime256v1 -genkey -noout -out ca.key
		openssl req -x509 -new -key ca.key -subj "/CN=esphub test CA" -days 3650 -sha256 -out ca.pem
		openssl ecparam -name prime256v1 -genkey -noout -out hub.key
		openssl req -new -key hub.key -subj "/CN=$B_ADDR" -out hub.csr
		printf 'subjectAltName=IP:%s\n' "$B_ADDR" >ext
		openssl x509 -req -in hub.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 -extfile ext -out hub.pem
	) >/dev/null 2>&1
	cp "$W/ca/ca.pem" "$W/a/x509ca/"
	cp "$W/ca/ca.pem" "$W/b/x509ca/"
	cp "$W/ca/hub.pem" "$W/b/x509/"
	cp "$W/ca/hub.key" "$W/b/ecdsa/"
fi
SECRETS='secrets {
    ike-ab {
        id-a = spoke1.example
        id-b = $B_ADDR
        secret = "interop-test-psk-0123456789"
    }
    eap-spoke1 {
        id = spoke1
        secret = "interop-test-eap-0123456789"
    }
}'
cat >"$W/a/swanctl.conf" <<EOC
connections {
    a-b {
        version = 2
        local_addrs  = $A_ADDR
        remote_addrs = $B_ADDR
        proposals = $IKEP
        fragmentation = yes
        vips = $VIP
        local {
            $A_LOCAL
            id = spoke1.example
        }
        remote {
            $A_REMOTE
            id = $B_ADDR
        }
        children {
            net {
                remote_ts = $NET
                esp_proposals = $ESPP
                start_action = none
            }
        }
    }
}
$SECRETS
EOC
cat >"$W/b/swanctl.conf" <<EOC
connections {
    b-a {
        version = 2
        local_addrs  = $B_ADDR
        remote_addrs = $A_ADDR
        proposals = $IKEP
        fragmentation = yes
        pools = p1
        local {
            $B_LOCAL
            id = $B_ADDR
        }
        remote {
            $B_REMOTE
            id = spoke1.example
        }
        children {
            net {
                local_ts = $NET
                esp_proposals = $ESPP
            }
        }
    }
}
pools {
    p1 {
        addrs = $POOL
        dns = $DNS
    }
}
$SECRETS
EOC

ip netns exec "$NA" tcpdump -i "$P-x" -U --immediate-mode -w "$W/cap.pcap" udp >/dev/null 2>&1 &
TCPDUMP=$!
for s in a b; do
	n=$NA
	[ $s = b ] && n=$NB
	ip netns exec "$n" sh -c "mount --bind $W/$s/run /run && STRONGSWAN_CONF=$W/$s/strongswan.conf exec /usr/lib/ipsec/charon" >"$W/$s/charon.stderr" 2>&1 &
done
for s in a b; do
	i=0
	while [ ! -S "$W/$s/charon.vici" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "charon $s did not start" >&2; cat "$W/$s/charon.stderr" >&2; exit 1; }
		sleep 0.1
	done
done
sw() { s=$1; shift; STRONGSWAN_CONF=$W/$s/strongswan.conf swanctl "$@" --uri "unix://$W/$s/charon.vici"; }
sw b --load-all --file "$W/b/swanctl.conf" >/dev/null 2>&1
sw a --load-all --file "$W/a/swanctl.conf" >/dev/null 2>&1
sw a --initiate --child net --ike a-b >"$W/initiate.out" 2>&1 || { grep -E "received|sending|failed|error|NO_PROP|TS_UN|narrow" "$W/a/charon.log" "$W/b/charon.log" | tail -30 >&2; exit 1; }
sw a --rekey --child net >/dev/null
sleep 1
sw b --rekey --ike b-a >/dev/null
sleep 1
sw a --terminate --ike a-b >/dev/null
sleep 1
kill "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
TCPDUMP=
tshark -r "$W/cap.pcap" -T fields -e udp.srcport -e udp.dstport -e udp.payload 2>/dev/null |
	awk '{ p = $3; if ($1 == 4500 || $2 == 4500) { if (substr(p, 1, 8) != "00000000") next; p = substr(p, 9) } print $1, $2, p }' >"$OUT/$SCEN.hex"
# One "NAME HEX" line per SK_e*/SK_a* key, in the order charon derived them
# (the initial IKE SA first, then the rekeyed one).
awk '/Sk_(ei|er|ai|ar) secret =>/ { name = $2; want = $5; got = ""; next }
	name != "" && $2 ~ /^[0-9]+:$/ {
		for (i = 3; i <= NF && length(got) < 2 * want; i++) if ($i ~ /^[0-9A-F][0-9A-F]$/) got = got tolower($i)
		if (length(got) == 2 * want) { print name, got; name = "" }
	}' "$W/a/charon.log" >"$OUT/$SCEN.keys"
echo "wrote $OUT/$SCEN.hex ($(wc -l <"$OUT/$SCEN.hex") messages)"
