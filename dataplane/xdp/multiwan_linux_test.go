package xdp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// twoWANs is twoSites with a second WAN on s1: IPv4 underlay on wan, IPv6
// underlay on wan2, each through its own link to r.
const twoWANs = `
nodes:
  h1:
    forward: false
    routes:
      - {to: default, via: 198.19.1.1}
      - {to: default, via: 2001:db8:1:1::1}
  s1:
    routes:
      - {to: 198.18.1.0/24, via: 198.18.0.254}
      - {to: 2001:db8:0:1::/64, via: 2001:db8:0:2::fe}
  r: {}
  s2:
    routes:
      - {to: 198.18.0.0/24, via: 198.18.1.254}
      - {to: 2001:db8:0:2::/64, via: 2001:db8:0:1::fe}
  h2:
    forward: false
    routes:
      - {to: default, via: 198.19.2.1}
      - {to: default, via: 2001:db8:1:2::1}
links:
  - a: {node: s1, iface: wan, addr: [198.18.0.1/24]}
    b: {node: r, iface: e1, addr: [198.18.0.254/24]}
  - a: {node: s1, iface: wan2, addr: [2001:db8:0:2::1/64]}
    b: {node: r, iface: e3, addr: [2001:db8:0:2::fe/64]}
  - a: {node: s2, iface: wan, addr: [198.18.1.2/24, 2001:db8:0:1::2/64]}
    b: {node: r, iface: e2, addr: [198.18.1.254/24, 2001:db8:0:1::fe/64]}
  - a: {node: s1, iface: lan, addr: [198.19.1.1/24, 2001:db8:1:1::1/64]}
    b: {node: h1, iface: eth0, addr: [198.19.1.10/24, 2001:db8:1:1::10/64]}
  - a: {node: s2, iface: lan, addr: [198.19.2.1/24, 2001:db8:1:2::1/64]}
    b: {node: h2, iface: eth0, addr: [198.19.2.10/24, 2001:db8:1:2::10/64]}
`

// Several WANs: s1's IPv4 tunnel leaves and arrives on wan, its IPv6
// tunnel on wan2. With both attached, ESP arriving on either goes to the
// workers, and each packet leaves through the interface of the route to
// its peer with that interface's neighbour: nothing is left to the
// kernel once neighbours are resolved (ESP the kernel received on an
// unserved wan2 would find no SA and be dropped).
func TestLabTwoWANs(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "ethtool")
	l := labtest.Up(t, twoWANs)
	noChecksumOffload(t, l)
	type side struct {
		node             string
		local4, local6   netip.Addr
		remote4, remote6 netip.Addr
		lan, remoteLan   []netip.Prefix
		wans             []string
		outSPI, inSPI    [2]uint32
		outKey, inKey    []byte
	}
	a := netip.MustParseAddr
	lan1 := []netip.Prefix{netip.MustParsePrefix("198.19.1.0/24"), netip.MustParsePrefix("2001:db8:1:1::/64")}
	lan2 := []netip.Prefix{netip.MustParsePrefix("198.19.2.0/24"), netip.MustParsePrefix("2001:db8:1:2::/64")}
	s1 := side{node: "s1", lan: lan1, local4: a("198.18.0.1"), local6: a("2001:db8:0:2::1"), remote4: a("198.18.1.2"), remote6: a("2001:db8:0:1::2"),
		remoteLan: lan2,
		wans:      []string{"wan", "wan2"}, outSPI: [2]uint32{0x1001, 0x1002}, inSPI: [2]uint32{0x2001, 0x2002}, outKey: key12, inKey: key21}
	s2 := side{node: "s2", lan: lan2, local4: s1.remote4, local6: s1.remote6, remote4: s1.local4, remote6: s1.local6,
		remoteLan: lan1,
		wans:      []string{"wan"}, outSPI: s1.inSPI, inSPI: s1.outSPI, outKey: key21, inKey: key12}
	backends := map[string]*Backend{}
	for _, s := range []side{s1, s2} {
		var b *Backend
		must(t, l.Do(s.node, func() error {
			var err error
			b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: s.wans[0], WANs: s.wans[1:], LANs: []LAN{{Name: "lan"}},
				Debug: true, NeighbourRefresh: 200 * time.Millisecond})
			return err
		}))
		backends[s.node] = b
		for i, ends := range [][2]netip.Addr{{s.local4, s.remote4}, {s.local6, s.remote6}} {
			id := dataplane.TunnelID(i + 1)
			must(t, b.AddTunnel(dataplane.TunnelConfig{ID: id, Mode: dataplane.ModeIPsec, Local: ends[0], Remote: ends[1]}))
			must(t, b.AddSA(dataplane.SAConfig{SPI: s.outSPI[i], Direction: dataplane.Outbound, Tunnel: id, Algorithm: esp.AESGCM16, EncKey: s.outKey}))
			must(t, b.AddSA(dataplane.SAConfig{SPI: s.inSPI[i], Direction: dataplane.Inbound, Tunnel: id, Algorithm: esp.AESGCM16, EncKey: s.inKey}))
			must(t, b.AddRoute(0, s.remoteLan[i], dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: id}))
		}
		for _, p := range s.lan {
			must(t, b.AddRoute(0, p, dataplane.NextHop{Kind: dataplane.NextHopHost}))
		}
		runBackend(t, s.node, b)
	}
	b := backends["s1"]
	diag := func() string {
		return "s1: " + statusString(backends["s1"]) + "\ns2: " + statusString(backends["s2"])
	}
	pingBoth(t, l, diag)
	st := b.Status()
	var roles []string
	for _, i := range st.Interfaces {
		roles = append(roles, i.Name+"/"+i.Role)
	}
	if !slices.Equal(roles, []string{"wan/wan", "wan2/wan", "lan/lan"}) {
		t.Errorf("s1 interfaces %v", roles)
	}
	// Once neighbours are resolved, every echo in both families goes
	// through the workers: the kernel gets none of a second round.
	_, _, k0 := sumQueues(st)
	rx0, tx0, _ := sumQueues(st)
	pingBoth(t, l, diag)
	rx1, tx1, k1 := sumQueues(b.Status())
	if k1 != k0 || rx1-rx0 < 6 || tx1-tx0 < 6 {
		t.Errorf("s1, second round: WAN rx +%d tx +%d, to kernel +%d; want >= 6, >= 6, 0\n%s", rx1-rx0, tx1-tx0, k1-k0, diag())
	}
}

// sumQueues adds the WAN receive and transmit and the to-kernel counters
// of every queue.
func sumQueues(st Status) (rxWAN, txWAN, toKernel uint64) {
	for _, q := range st.Queues {
		rxWAN, txWAN, toKernel = rxWAN+q.RxWAN, txWAN+q.TxWAN, toKernel+q.ToKernel
	}
	return rxWAN, txWAN, toKernel
}

func statusString(b *Backend) string {
	g := &gateway{xdp: b}
	return g.diag()
}
