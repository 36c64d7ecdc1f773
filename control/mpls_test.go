package control

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike/transport"
)

// The MPLS halves of a hub and a spoke: two VRFs with overlapping LANs on
// the spoke, VPNv4 over eBGP between the loopbacks. The loopbacks are
// 127.0.0.x so that the BGP sessions (real TCP in this process) reach
// each other without namespaces; IKE runs over the in-memory network and
// installs the loopback /32s through the tunnels, as in the lab.
const mplsVRFs = `vrf definition red
 rd 65010:1
 route-target export 65010:1
 route-target import 65010:1
 address-family ipv4
vrf definition blue
 rd 65010:2
 route-target both 65010:2
 address-family ipv4
`

func mplsHubCfg() string {
	c := strings.Replace(hubCfg, "interface Loopback0\n ip address 198.19.255.254 255.255.255.255\n",
		mplsVRFs+"interface Loopback0\n ip address 127.0.0.1 255.255.255.255\ninterface red-lan\n vrf forwarding red\n ip address 198.19.0.1 255.255.255.0\ninterface blue-lan\n vrf forwarding blue\n ip address 198.19.0.1 255.255.255.0\n", 1)
	c = strings.Replace(c, " tunnel mode ipsec ipv4\n", " mpls nhrp\n", 1)
	return strings.Replace(c, "end\n", `router bgp 65010
 timers bgp 3 9
 bgp listen range 127.0.0.0/24 peer-group spokes
 neighbor spokes peer-group
 neighbor spokes remote-as 65100
 neighbor spokes ebgp-multihop 255
 neighbor spokes update-source Loopback0
 neighbor spokes transport connection-mode passive
 address-family vpnv4
  neighbor spokes activate
  neighbor spokes send-community extended
  neighbor spokes next-hop-self
 exit-address-family
 address-family ipv4 vrf red
  redistribute connected
 exit-address-family
 address-family ipv4 vrf blue
  redistribute connected
 exit-address-family
end
`, 1)
}

func mplsSpokeCfg() string {
	c := strings.Replace(spokeCfg, "interface Loopback0\n ip address 198.19.255.1 255.255.255.255\n",
		mplsVRFs+"interface Loopback0\n ip address 127.0.0.2 255.255.255.255\ninterface red\n vrf forwarding red\n ip address 198.19.1.1 255.255.255.0\ninterface blue\n vrf forwarding blue\n ip address 198.19.1.1 255.255.255.0\n", 1)
	c = strings.Replace(c, " tunnel mode ipsec ipv4\n", " mpls nhrp\n", 1)
	return strings.Replace(c, "end\n", `router bgp 65100
 timers bgp 3 9
 neighbor 127.0.0.1 remote-as 65010
 neighbor 127.0.0.1 ebgp-multihop 255
 neighbor 127.0.0.1 update-source Loopback0
 address-family vpnv4
  neighbor 127.0.0.1 activate
  neighbor 127.0.0.1 send-community extended
 exit-address-family
 address-family ipv4 vrf red
  redistribute connected
 exit-address-family
 address-family ipv4 vrf blue
  redistribute connected
 exit-address-family
end
`, 1)
}

// testLogger logs to the test's output, at warning level and above.
func testLogger(t *testing.T, name string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("side", name)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startMPLSSide(t *testing.T, mem *transport.MemNetwork, addr, name, src string, port int) *side {
	t.Helper()
	return launchSide(t, mem, addr, parse(t, name, src), Options{BGPPort: port, Logger: testLogger(t, name),
		RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond}, 15*time.Second)
}

// TestVPNv4BetweenDaemons: each side allocates one label per VRF and
// binds it in its dataplane; the VRFs' connected routes cross as VPNv4
// with those labels; each side imports them by route target into the
// right VRF, resolved through the tunnel to the peer's loopback, and its
// FIB pushes the peer's label. The spoke's two VRFs use the same prefix
// and stay apart.
func TestVPNv4BetweenDaemons(t *testing.T) {
	port := freeTCPPort(t)
	mem := transport.NewMemNetwork(transport.MemOptions{})
	hub := startMPLSSide(t, mem, "198.18.0.2", "hub.cfg", mplsHubCfg(), port)
	spoke := startMPLSSide(t, mem, "198.18.1.2", "s1.cfg", mplsSpokeCfg(), port)
	lan := netip.MustParsePrefix("198.19.1.0/24")
	waitFor30 := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nhub:\n%s\n%s\nspoke:\n%s\n%s", what,
					hub.run(t, "show", "ip", "bgp", "vpnv4", "all", "summary").Text, hub.run(t, "show", "ip", "bgp", "vpnv4", "all", "label").Text,
					spoke.run(t, "show", "ip", "bgp", "vpnv4", "all", "summary").Text, spoke.run(t, "show", "ip", "bgp", "vpnv4", "all", "label").Text)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor30("the spoke's VRF routes in the hub's VRFs", func() bool {
		r, a := hub.d.RIB().Best("red", lan)
		b, c := hub.d.RIB().Best("blue", lan)
		return a && c && r.Source == rib.BGP && b.Source == rib.BGP
	})
	labels := func(s *side) map[string]uint32 {
		out := map[string]uint32{}
		for _, b := range s.d.mpls.lfib.Bindings() {
			for n, id := range VRFIDs(s.d.Config()) {
				if id == b.VRF {
					out[n] = uint32(b.Local)
				}
			}
		}
		return out
	}
	sl, hl := labels(spoke), labels(hub)
	if len(sl) != 2 || sl["red"] == sl["blue"] || len(hl) != 2 || hl["red"] == hl["blue"] {
		t.Fatalf("per-VRF labels: spoke %v hub %v", sl, hl)
	}
	for _, vrf := range []string{"red", "blue"} {
		r, _ := hub.d.RIB().Best(vrf, lan)
		nh := r.NextHops[0]
		if nh.Addr != netip.MustParseAddr("127.0.0.2") || nh.Interface != "Virtual-Access1" || nh.Label != sl[vrf] || r.Distance != 20 {
			t.Errorf("hub vrf %s: %+v, want via 127.0.0.2 Virtual-Access1 label %d", vrf, r, sl[vrf])
		}
		waitFor(t, "the hub's FIB to push the spoke's label", func() bool {
			f, ok := hub.dp.Lookup(VRFIDs(hub.d.Config())[vrf], lan.Addr())
			return ok && f.Kind == dataplane.NextHopTunnel && f.PushLabel && f.Label == sl[vrf]
		})
	}
	waitFor30("the hub's VRF routes on the spoke", func() bool {
		r, a := spoke.d.RIB().Best("red", netip.MustParsePrefix("198.19.0.0/24"))
		return a && r.Source == rib.BGP && r.NextHops[0].Label == hl["red"] && r.NextHops[0].Interface == "Tunnel0"
	})
	// The global table learned nothing from BGP; the spoke's own LAN stays connected.
	if r, ok := spoke.d.RIB().Best("red", lan); !ok || r.Source != rib.Connected {
		t.Errorf("spoke red LAN: %+v", r)
	}
	for _, r := range append(spoke.d.RIB().Routes("", 4), hub.d.RIB().Routes("", 4)...) {
		if r.Source == rib.BGP {
			t.Errorf("a VPN route leaked into the global table: %+v", r)
		}
	}
	out := hub.run(t, "show", "ip", "bgp", "vpnv4", "all", "label")
	for _, w := range []string{"Route Distinguisher: 65010:1 (red)", "Route Distinguisher: 65010:2 (blue)", "198.19.1.0/24", "127.0.0.2",
		"/nolabel(red)"} {
		if !strings.Contains(out.Text, w) {
			t.Errorf("show ip bgp vpnv4 all label: missing %q in\n%s", w, out.Text)
		}
	}
	if b, err := json.Marshal(out.Data); err != nil || !strings.Contains(string(b), `"label"`) {
		t.Errorf("JSON %s %v", b, err)
	}
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"show", "mpls", "forwarding-table"}, []string{"Local", "No Label", "aggregate/red", "aggregate/blue"}},
		{[]string{"show", "ip", "bgp", "vpnv4", "all", "summary"}, []string{"local AS number 65010", "*127.0.0.2", "65100"}},
		{[]string{"show", "ip", "route", "vrf", "red"}, []string{"B     198.19.1.0/24 [20/0] via 127.0.0.2", "Virtual-Access1"}},
	} {
		txt := hub.run(t, c.words...).Text
		for _, w := range c.want {
			if !strings.Contains(txt, w) {
				t.Errorf("%s: missing %q in\n%s", strings.Join(c.words, " "), w, txt)
			}
		}
	}
	// A reload that stops redistributing the hub's blue LAN withdraws it
	// from the spoke's blue VRF and leaves red alone.
	hubLAN := netip.MustParsePrefix("198.19.0.0/24")
	hub.d.Reload(parse(t, "hub.cfg", strings.Replace(mplsHubCfg(), " address-family ipv4 vrf blue\n  redistribute connected\n", " address-family ipv4 vrf blue\n", 1)))
	waitFor30("the hub's blue LAN withdrawn after the reload", func() bool {
		_, blue := spoke.d.RIB().Best("blue", hubLAN)
		r, red := spoke.d.RIB().Best("red", hubLAN)
		return !blue && red && r.Source == rib.BGP
	})
	// The session going away withdraws the imported routes (next hop
	// unresolvable), and they come back with it.
	hub.run(t, "clear", "crypto", "session")
	waitFor30("the spoke's routes back after reconnect", func() bool {
		r, ok := hub.d.RIB().Best("blue", lan)
		return ok && r.NextHops[0].Label == sl["blue"]
	})
}
