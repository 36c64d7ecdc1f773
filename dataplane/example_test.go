package dataplane_test

import (
	"fmt"
	"net/netip"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
)

// Example shows the life of a tunnel as esphubd drives it: the control side
// installs a tunnel, its Child SA halves and routes; a backend's worker
// encapsulates what the host sends and decapsulates what the peer sends.
func Example() {
	key := make([]byte, 20) // AES-128 key || salt, from IKE's KEYMAT
	hub := dataplane.NewEngine(dataplane.Options{})
	spoke := dataplane.NewEngine(dataplane.Options{})
	for _, e := range []struct {
		eng           *dataplane.Engine
		local, remote string
		out, in       uint32
	}{{hub, "198.18.0.1", "198.18.0.2", 0x1001, 0x2002}, {spoke, "198.18.0.2", "198.18.0.1", 0x2002, 0x1001}} {
		must(e.eng.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeGRE,
			Local: netip.MustParseAddr(e.local), Remote: netip.MustParseAddr(e.remote), Encap: true}))
		must(e.eng.AddSA(dataplane.SAConfig{SPI: e.in, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: key}))
		must(e.eng.AddSA(dataplane.SAConfig{SPI: e.out, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: key}))
	}
	must(hub.AddRoute(0, netip.MustParsePrefix("198.19.1.0/24"), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	must(spoke.AddRoute(0, netip.MustParsePrefix("198.19.1.0/24"), dataplane.NextHop{Kind: dataplane.NextHopHost}))

	// A packet from the hub's LAN (20-byte IPv4 header, no payload).
	ip := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 198, 19, 0, 10, 198, 19, 1, 10}
	p := dataplane.NewPacket(dataplane.DefaultBufferSize)
	p.SetData(ip)
	batch := []*dataplane.Packet{p}
	hub.NewWorker().ProcessOutbound(batch)
	fmt.Println(p.Verdict, p.Remote, p.Encap, len(p.Data()))

	// The spoke's backend received it from its socket: strip the outer
	// headers (a socket backend gets them stripped by the kernel already).
	p.StripOuter()
	spoke.NewWorker().ProcessInbound(batch)
	fmt.Println(p.Verdict, p.Tunnel, len(p.Data()))
	// Output:
	// underlay 198.18.0.2:4500 true 88
	// host 1 20
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
