package main

import (
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/esphub/esphub/config"
)

func parseCfg(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, diags := config.Parse("test.cfg", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags.Errors())
	}
	return cfg
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// The lab's hosts: GigabitEthernet1/2 of the examples are "wan" and "lan",
// found by address.
func TestMapInterfacesExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "hub-2spokes", "hub.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	host := []hostIface{
		{Name: "lo", Addrs: addrs("127.0.0.1", "198.19.255.254", "2001:db8:1:ff::fe")},
		{Name: "wan", Addrs: addrs("198.18.0.2", "2001:db8::2", "fe80::1")},
		{Name: "lan", Addrs: addrs("198.19.0.1", "2001:db8:1::1")},
		{Name: "esphub0"},
	}
	m, err := mapInterfaces(parseCfg(t, string(b)), host)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.WANs, []string{"wan"}) || !slices.Equal(m.LANs, []string{"lan"}) || len(m.Notes) != 0 {
		t.Errorf("got %+v, want WAN wan, LANs [lan], no notes", m)
	}
	if m.Pairs["GigabitEthernet1"] != "wan" || m.Pairs["GigabitEthernet2"] != "lan" {
		t.Errorf("pairs %v", m.Pairs)
	}
}

const mapBase = `hostname r
interface GigabitEthernet1
 ip address 198.18.0.2 255.255.255.0
interface GigabitEthernet2
 ip address 198.19.0.1 255.255.255.0
interface GigabitEthernet3
 ip address 198.19.3.1 255.255.255.0
interface Tunnel0
 ip unnumbered GigabitEthernet2
 tunnel source GigabitEthernet1
 tunnel destination 198.18.1.2
`

func TestMapInterfaces(t *testing.T) {
	host := []hostIface{
		{Name: "eth0", Addrs: addrs("198.18.0.2")},
		{Name: "eth1", Addrs: addrs("198.19.0.1")},
		{Name: "GigabitEthernet3"}, // renamed to the IOS name, no address yet
		{Name: "eth9", Addrs: addrs("198.18.9.2")},
	}
	for _, tc := range []struct {
		name     string
		cfg      string
		wans     []string
		lans     []string
		vrfs     map[string]string
		note     string
		errWant  string
		hostOver []hostIface
	}{
		{name: "by name and address", cfg: mapBase, wans: []string{"eth0"}, lans: []string{"eth1", "GigabitEthernet3"}},
		{name: "shutdown LAN", cfg: mapBase + "interface GigabitEthernet3\n shutdown\n", wans: []string{"eth0"}, lans: []string{"eth1"}, note: "GigabitEthernet3 is shut down"},
		{name: "LAN in a VRF", cfg: strings.Replace(mapBase, "interface GigabitEthernet2\n", "vrf definition red\n address-family ipv4\ninterface GigabitEthernet2\n vrf forwarding red\n", 1),
			wans: []string{"eth0"}, lans: []string{"eth1", "GigabitEthernet3"}, vrfs: map[string]string{"eth1": "red"}},
		{name: "unmapped LAN", cfg: mapBase + "interface GigabitEthernet4\n ip address 198.19.4.1 255.255.255.0\n", wans: []string{"eth0"}, lans: []string{"eth1", "GigabitEthernet3"}, note: "GigabitEthernet4: no Linux interface"},
		{name: "source by address", cfg: strings.Replace(mapBase, "tunnel source GigabitEthernet1", "tunnel source 198.18.9.2", 1),
			wans: []string{"eth9"}, lans: []string{"eth0", "eth1", "GigabitEthernet3"}},
		{name: "second WAN", cfg: mapBase + "interface GigabitEthernet5\n ip address 198.18.9.2 255.255.255.0\ninterface Tunnel1\n ip unnumbered GigabitEthernet2\n tunnel source GigabitEthernet5\n tunnel destination 198.18.2.2\n",
			wans: []string{"eth0", "eth9"}, lans: []string{"eth1", "GigabitEthernet3"}},
		{name: "second WAN by address", cfg: mapBase + "interface Tunnel1\n ip unnumbered GigabitEthernet2\n tunnel source 198.18.9.2\n tunnel destination 198.18.2.2\n",
			wans: []string{"eth0", "eth9"}, lans: []string{"eth1", "GigabitEthernet3"}},
		{name: "WAN not up yet", cfg: mapBase, hostOver: []hostIface{{Name: "eth1", Addrs: addrs("198.19.0.1")}}, errWant: "no WAN interface"},
		{name: "no WAN", cfg: strings.Replace(mapBase, "ip address 198.18.0.2", "ip address 198.18.7.2", 1), errWant: "no WAN interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := host
			if tc.hostOver != nil {
				h = tc.hostOver
			}
			m, err := mapInterfaces(parseCfg(t, tc.cfg), h)
			if tc.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errWant) {
					t.Fatalf("err %v, want %q", err, tc.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.WANs, tc.wans) || !slices.Equal(m.LANs, tc.lans) {
				t.Errorf("WANs %q LANs %q, want %q %q", m.WANs, m.LANs, tc.wans, tc.lans)
			}
			if tc.vrfs == nil {
				tc.vrfs = map[string]string{}
			}
			if !maps.Equal(m.LANVRF, tc.vrfs) {
				t.Errorf("LAN VRFs %v, want %v", m.LANVRF, tc.vrfs)
			}
			notes := strings.Join(m.Notes, "\n")
			if (tc.note == "") != (notes == "") || !strings.Contains(notes, tc.note) {
				t.Errorf("notes %q, want %q", notes, tc.note)
			}
		})
	}
}
