package nhrp_test

import (
	"fmt"
	"net/netip"

	"github.com/esphub/esphub/nhrp"
)

// The daemon adapts its RIB, dataplane and IKEv2 to these interfaces.
type rib struct{}

func (rib) Lookup(dst netip.Addr) (nhrp.Route, bool) {
	if netip.MustParsePrefix("198.19.11.0/24").Contains(dst) {
		return nhrp.Route{Prefix: netip.MustParsePrefix("198.19.11.0/24")}, true // our LAN
	}
	return nhrp.Route{Prefix: netip.MustParsePrefix("198.19.0.0/16"), Tunnel: "Tunnel0"}, true
}

type out struct{}

func (out) SendNHRP(tunnel string, pkt []byte) error   { return nil }
func (out) InstallShortcut(r nhrp.ShortcutRoute) error { return nil }
func (out) RemoveShortcut(r nhrp.ShortcutRoute) error  { return nil }
func (out) Initiate(req nhrp.InitiateRequest) error    { return nil }
func (out) PacketsVia(r nhrp.ShortcutRoute) uint64     { return 0 }

// Example wires a spoke: `ip nhrp shortcut virtual-template 1` on Tunnel0.
func Example() {
	n, err := nhrp.New(
		nhrp.Config{Shortcut: true, VirtualTemplate: 1, Redirect: true},
		nhrp.Deps{Sender: out{}, RIB: rib{}, Routes: out{}, Protector: out{}, Usage: out{}, Clock: nhrp.SystemClock{}},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	n.TunnelUp(nhrp.Tunnel{
		Name: "Tunnel0", NetworkID: 1, ToNHS: true,
		LocalNBMA: netip.MustParseAddr("198.18.1.1"), RemoteNBMA: netip.MustParseAddr("198.18.0.1"),
		LocalProto: []netip.Addr{netip.MustParseAddr("198.19.0.2")}, RemoteProto: []netip.Addr{netip.MustParseAddr("198.19.0.1")},
	})
	// The daemon then calls n.Receive for every NHRP packet that arrives in
	// GRE (protocol 0x2001), n.TunnelUp / n.TunnelDown as SAs come and go,
	// and (on a hub) n.HairpinFlow for the dataplane's hairpin events.
	for _, p := range n.DMVPN() {
		fmt.Println(p.Interface, p.PeerNBMA, p.Attributes)
	}
	// Output: Tunnel0 198.18.0.1 S
}
