package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
)

// frrBGPConf is FRR bgpd's configuration for spoke2 of mpls-2spokes: the
// same VRF prefixes esphub's spoke2 would export, as static VPNv4 routes
// with labels of FRR's choosing, over eBGP multihop to the hub's loopback
// through the tunnel esphubd keeps up.
const frrBGPConf = `frr defaults traditional
hostname spoke2-frr
log stdout informational
!
route-map RT-RED permit 10
 set extcommunity rt 65010:1
exit
route-map RT-BLUE permit 10
 set extcommunity rt 65010:2
exit
!
router bgp 65100
 bgp router-id 198.19.255.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 198.19.255.254 remote-as 65010
 neighbor 198.19.255.254 ebgp-multihop 255
 neighbor 198.19.255.254 update-source 198.19.255.2
 neighbor 198.19.255.254 timers connect 2
 !
 address-family ipv4 unicast
  no neighbor 198.19.255.254 activate
 exit-address-family
 !
 address-family ipv4 vpn
  neighbor 198.19.255.254 activate
  neighbor 198.19.255.254 send-community extended
  network 198.19.2.0/24 rd 65010:1 label 1001 route-map RT-RED
  network 198.19.2.0/24 rd 65010:2 label 1002 route-map RT-BLUE
 exit-address-family
exit
`

// frrLabels parses `show bgp ipv4 vpn` into "RD prefix" -> the labels of
// the paths listed for it, in order.
func frrLabels(out string) map[string][]int {
	got := map[string][]int{}
	rd, prefix := "", ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "Route Distinguisher: "):
			rd = strings.TrimSpace(strings.TrimPrefix(l, "Route Distinguisher: "))
		case len(f) >= 2 && strings.Contains(f[1], "/") && strings.HasPrefix(f[0], "*"):
			prefix = f[1]
		case strings.Contains(l, "label="):
			i := strings.Index(l, "label=")
			n, _ := strconv.Atoi(strings.Fields(l[i+len("label="):])[0])
			got[rd+" "+prefix] = append(got[rd+" "+prefix], n)
		}
	}
	return got
}

// TestMPLSFRRSpoke is the interop half of issue 11's MPLS part: spoke2's
// IKE and ESP are esphubd, but its BGP speaker is FRR's bgpd, in spoke2's
// namespace, peering with esphub's hub over the tunnel. FRR must show the
// hub's VPNv4 routes with the labels the hub advertised, and the hub must
// learn FRR's routes with FRR's labels and import them into its VRFs.
func TestMPLSFRRSpoke(t *testing.T) {
	testenv.NeedCommands(t, "/usr/lib/frr/bgpd", "vtysh")
	w, hub, _, _ := mplsWorld(t, func(node, cfg string) string {
		if node == "spoke2" {
			return cfg[:strings.Index(cfg, "router bgp")] + "end\n" // BGP is FRR's
		}
		return cfg
	}, "none") // FRR is not up yet: wait for nothing here
	dir := filepath.Join(w.dir, "frr")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(conf, []byte(frrBGPConf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "bgpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx, cancel := context.WithCancel(w.ctx)
	// -Z: no zebra (no kernel routes, nexthops taken as they come); -S:
	// stay root; the vty socket in the test's directory, so that parallel
	// labs never share one.
	bgpd := w.lab.Command(ctx, "spoke2", "/usr/lib/frr/bgpd", "-f", conf, "-i", filepath.Join(dir, "bgpd.pid"), "-Z", "-S", "-n",
		"--vty_socket", dir, "-l", "198.19.255.2", "--log", "stdout")
	bgpd.Stdout, bgpd.Stderr = logf, logf
	if err := bgpd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = bgpd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- FRR bgpd:\n%s", b)
		}
	})
	vtysh := func(cmd string) string {
		c, cc := context.WithTimeout(w.ctx, 10*time.Second)
		defer cc()
		out, _ := w.lab.Exec(c, "spoke2", "vtysh", "--vty_socket", dir, "-c", cmd)
		return string(out)
	}

	// The hub learns FRR's routes with FRR's labels...
	w.eventually(60*time.Second, "the hub learning FRR's VPNv4 routes", func() (bool, string) {
		var tab bgpTable
		if err := w.exec(hub, &tab, "show", "ip", "bgp", "vpnv4", "all"); err != nil {
			return false, err.Error()
		}
		red, a := findBGP(tab.Learned, "65010:1", "198.19.2.0/24")
		blue, b := findBGP(tab.Learned, "65010:2", "198.19.2.0/24")
		return a && b && red.Label == 1001 && blue.Label == 1002 && red.NextHop == "198.19.255.2",
			w.text(hub, "show", "ip", "bgp", "vpnv4", "all", "label") + vtysh("show bgp summary")
	})
	// ... and imports them into its VRFs, pushing FRR's label.
	for _, vrf := range []string{"red", "blue"} {
		w.eventually(20*time.Second, "hub vrf "+vrf+" route to FRR's prefix", func() (bool, string) {
			var rows []routeRow
			if err := w.exec(hub, &rows, "show", "ip", "route", "vrf", vrf); err != nil {
				return false, err.Error()
			}
			r, ok := findRoute(rows, "198.19.2.0/24")
			return ok && r.Source == "bgp", w.text(hub, "show", "ip", "route", "vrf", vrf)
		})
	}
	// FRR shows the hub's routes (spoke1's prefixes, re-originated) with
	// the labels the hub advertised.
	want := map[string]int{}
	w.eventually(60*time.Second, "the hub advertising spoke1's prefixes", func() (bool, string) {
		var tab bgpTable
		if err := w.exec(hub, &tab, "show", "ip", "bgp", "vpnv4", "all"); err != nil {
			return false, err.Error()
		}
		for _, rd := range []string{"65010:1", "65010:2"} {
			r, ok := findBGP(tab.Local, rd, "198.19.1.0/24")
			if !ok {
				return false, w.text(hub, "show", "ip", "bgp", "vpnv4", "all", "label")
			}
			want[rd+" 198.19.1.0/24"] = int(r.Label)
		}
		return true, ""
	})
	w.eventually(30*time.Second, "FRR showing the hub's routes with the hub's labels", func() (bool, string) {
		out := vtysh("show bgp ipv4 vpn")
		got := frrLabels(out)
		for k, l := range want {
			if len(got[k]) == 0 || got[k][0] != l {
				return false, fmt.Sprintf("want %v, parsed %v from:\n%s", want, got, out)
			}
		}
		return true, ""
	})
	t.Logf("FRR:\n%s\nhub:\n%s", vtysh("show bgp ipv4 vpn"), w.text(hub, "show", "ip", "bgp", "vpnv4", "all", "label"))
}
