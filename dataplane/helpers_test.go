package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
)

var (
	v4A = netip.MustParseAddr("198.18.0.1")
	v4B = netip.MustParseAddr("198.18.0.2")
	v6A = netip.MustParseAddr("2001:db8::1")
	v6B = netip.MustParseAddr("2001:db8::2")

	hostA4 = netip.MustParseAddr("198.18.10.1")
	hostB4 = netip.MustParseAddr("198.18.20.1")
	hostA6 = netip.MustParseAddr("2001:db8:10::1")
	hostB6 = netip.MustParseAddr("2001:db8:20::1")
)

func testKey(n int, seed byte) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = seed ^ byte(i*7+1)
	}
	return k
}

type suite struct {
	name     string
	alg      esp.Algorithm
	enc, mac int
}

var suites = []suite{
	{"gcm128", esp.AESGCM16, 20, 0},
	{"gcm256", esp.AESGCM16, 36, 0},
	{"cbc-sha1", esp.AESCBCSHA1, 16, 20},
	{"cbc-sha256", esp.AESCBCSHA256, 32, 32},
}

// pairSpec describes a tunnel between two engines, A and B.
type pairSpec struct {
	mode      Mode
	outer6    bool
	encap     bool
	suite     suite
	esn, sgt  bool
	greKey    bool
	networkID uint32
	spi       uint32 // A->B SPI (B->A is spi+1); defaults when 0
}

type pair struct {
	a, b       *Engine
	wa, wb     *Worker
	ta, tb     TunnelConfig
	spiAB      uint32 // A -> B
	spiBA      uint32
	evA, evB   *ChanEvents
	spec       pairSpec
	encAB, mAB []byte
}

func newPair(t testing.TB, s pairSpec, opts ...func(*Options)) *pair {
	t.Helper()
	p := &pair{spec: s, spiAB: 0xa0b00001, spiBA: 0xb0a00001, evA: NewChanEvents(64), evB: NewChanEvents(64)}
	if s.spi != 0 {
		p.spiAB, p.spiBA = s.spi, s.spi+1
	}
	oa, ob := Options{Events: p.evA}, Options{Events: p.evB}
	for _, o := range opts {
		o(&oa)
		o(&ob)
	}
	p.a, p.b = NewEngine(oa), NewEngine(ob)
	p.wa, p.wb = p.a.NewWorker(), p.b.NewWorker()
	la, lb := v4A, v4B
	if s.outer6 {
		la, lb = v6A, v6B
	}
	p.ta = TunnelConfig{ID: 1, Mode: s.mode, Local: la, Remote: lb, Encap: s.encap, GREKey: 77, HasGREKey: s.greKey, NetworkID: s.networkID}
	p.tb = TunnelConfig{ID: 1, Mode: s.mode, Local: lb, Remote: la, Encap: s.encap, GREKey: 77, HasGREKey: s.greKey, NetworkID: s.networkID}
	must(t, p.a.AddTunnel(p.ta))
	must(t, p.b.AddTunnel(p.tb))
	p.encAB, p.mAB = testKey(s.suite.enc, 1), testKey(s.suite.mac, 2)
	encBA, mBA := testKey(s.suite.enc, 3), testKey(s.suite.mac, 4)
	sa := func(spi uint32, dir Direction, enc, mac []byte) SAConfig {
		return SAConfig{SPI: spi, Direction: dir, Tunnel: 1, Algorithm: s.suite.alg, EncKey: enc, AuthKey: mac, ESN: s.esn, SGT: s.sgt}
	}
	must(t, p.a.AddSA(sa(p.spiAB, Outbound, p.encAB, p.mAB)))
	must(t, p.b.AddSA(sa(p.spiAB, Inbound, p.encAB, p.mAB)))
	must(t, p.b.AddSA(sa(p.spiBA, Outbound, encBA, mBA)))
	must(t, p.a.AddSA(sa(p.spiBA, Inbound, encBA, mBA)))
	for _, e := range []*Engine{p.a, p.b} {
		must(t, e.AddRoute(0, netip.MustParsePrefix("198.18.20.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 1}))
		must(t, e.AddRoute(0, netip.MustParsePrefix("2001:db8:20::/48"), NextHop{Kind: NextHopTunnel, Tunnel: 1}))
	}
	// B delivers its own LAN to the host; A routes B's LAN into the tunnel.
	must(t, p.b.DeleteRoute(0, netip.MustParsePrefix("198.18.20.0/24")))
	must(t, p.b.DeleteRoute(0, netip.MustParsePrefix("2001:db8:20::/48")))
	must(t, p.b.AddRoute(0, netip.MustParsePrefix("198.18.20.0/24"), NextHop{Kind: NextHopHost}))
	must(t, p.b.AddRoute(0, netip.MustParsePrefix("2001:db8:20::/48"), NextHop{Kind: NextHopHost}))
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// icmpPacket builds an IPv4 or IPv6 ICMP echo request of total size n.
func icmpPacket(src, dst netip.Addr, n int, seq uint16) []byte {
	if src.Is4() {
		if n < 28 {
			n = 28
		}
		b := make([]byte, n)
		hdr.EncodeIPv4(b, 0, uint16(n), seq, 64, 1, src, dst)
		b[20] = 8
		binary.BigEndian.PutUint16(b[26:], seq)
		for i := 28; i < n; i++ {
			b[i] = byte(i)
		}
		binary.BigEndian.PutUint16(b[22:], ^hdr.Checksum(b[20:], 0))
		return b
	}
	if n < 48 {
		n = 48
	}
	b := make([]byte, n)
	hdr.EncodeIPv6(b, 0, uint16(n-40), hdr.ProtoICMPv6, 64, src, dst)
	b[40] = 128
	binary.BigEndian.PutUint16(b[46:], seq)
	for i := 48; i < n; i++ {
		b[i] = byte(i)
	}
	binary.BigEndian.PutUint16(b[42:], ^hdr.Checksum(b[40:], hdr.PseudoHeaderSum(src, dst, hdr.ProtoICMPv6, n-40)))
	return b
}

// wire moves an underlay packet to the receiver as a socket backend would:
// it strips the outer headers with StripOuter.
func wire(t testing.TB, p *Packet) {
	t.Helper()
	if p.Verdict != VerdictUnderlay {
		t.Fatalf("verdict %v (drop %v), want underlay", p.Verdict, p.Drop)
	}
	if !p.StripOuter() {
		t.Fatalf("StripOuter rejected the engine's own output % x", p.Data())
	}
}
