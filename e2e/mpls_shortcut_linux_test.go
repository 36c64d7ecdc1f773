package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/lab/labtest"
)

const spoke2WAN = "198.18.2.2"

// vrfRoute is a route of `show ip route vrf X -o json` with its NHRP
// next-hop override.
type vrfRoute struct {
	Prefix   string `json:"prefix"`
	Source   string `json:"source"`
	Override *struct {
		Interface string `json:"interface"`
		Label     uint32 `json:"label"`
	} `json:"override"`
}

// vrfShortcut returns the label of a node's NHRP shortcut (a next-hop
// override through a virtual-access) for prefix in vrf, or 0.
func (w *world) vrfShortcut(n *node, vrf, prefix string) (uint32, string) {
	var rows []vrfRoute
	if err := w.exec(n, &rows, "show", "ip", "route", "vrf", vrf); err != nil {
		return 0, err.Error()
	}
	for _, r := range rows {
		if r.Prefix == prefix && r.Override != nil && strings.HasPrefix(r.Override.Interface, "Virtual-Access") {
			return r.Override.Label, ""
		}
	}
	return 0, w.text(n, "show", "ip", "route", "vrf", vrf) + w.text(n, "show", "ip", "nhrp", "detail") + w.text(n, "show", "ip", "nhrp", "traffic")
}

// labelledEcho is one decrypted echo of a capture: outer and inner
// addresses, the inner TTL and the MPLS label between GRE and IP.
type labelledEcho struct {
	at                           float64 // capture time, seconds
	outerSrc, outerDst, src, dst string
	ttl                          int
	label                        string
}

// labelledEchoes decodes a capture of ESP with the keys, failing on any
// ICMP packet whose stack is not ESP / GRE / one MPLS label / IPv4 or whose
// ICV does not verify.
func labelledEchoes(t *testing.T, pcap string, keys []string) []labelledEcho {
	t.Helper()
	args := append([]string{"-r", pcap, "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}, keys...)
	args = append(args, "-Y", "icmp", "-T", "fields", "-E", "separator=|", "-e", "frame.protocols", "-e", "mpls.label",
		"-e", "mpls.bottom", "-e", "esp.icv_good", "-e", "ip.src", "-e", "ip.dst", "-e", "ip.ttl", "-e", "frame.time_epoch")
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var got []labelledEcho
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 8 {
			t.Fatalf("tshark line %q", line)
		}
		if !strings.Contains(f[0], ":esp:gre:mpls:ip:icmp") {
			t.Errorf("not ESP/GRE/MPLS/IP: %q", line)
		}
		if len(strings.Split(f[1], ",")) != 1 || f[2] != "1" {
			t.Errorf("want exactly one label, bottom of stack: %q", line)
		}
		if !strings.Contains(f[3], "1") {
			t.Errorf("ICV not [correct]: %q", line)
		}
		srcs, dsts, ttls := strings.Split(f[4], ","), strings.Split(f[5], ","), strings.Split(f[6], ",")
		ttl, _ := strconv.Atoi(ttls[len(ttls)-1])
		at, _ := strconv.ParseFloat(f[7], 64)
		got = append(got, labelledEcho{at: at, outerSrc: srcs[0], outerDst: dsts[0], src: srcs[len(srcs)-1], dst: dsts[len(dsts)-1],
			ttl: ttl, label: f[1]})
	}
	return got
}

// originated returns the label a node advertises in BGP for prefix in rd.
func (w *world) originated(n *node, rd, prefix string) uint32 {
	w.t.Helper()
	var tab bgpTable
	if err := w.exec(n, &tab, "show", "ip", "bgp", "vpnv4", "all"); err != nil {
		w.t.Fatal(err)
	}
	r, ok := findBGP(tab.Local, rd, prefix)
	if !ok {
		w.t.Fatalf("%s does not advertise %s %s: %+v", n.name, rd, prefix, tab)
	}
	return r.Label
}

// TestMPLSVRFShortcuts is issue 11's acceptance over a spoke-to-spoke
// shortcut: VRFs red and blue use the same addresses behind both spokes;
// traffic of each VRF first crosses the hub, whose redirect is per VRF
// (the label names it), and then moves to a direct spoke-to-spoke session
// in both directions (the hub's counters for both spokes stop). Each
// spoke's shortcut pushes the label the other spoke put in its NHRP
// resolution reply, which equals the label that spoke advertises in BGP
// for the VRF; decrypted on spoke1's WAN, every echo on the direct path is
// ESP / GRE / exactly that one label / IPv4, and the hosts answering are
// the VRF's own (red TTL 64, blue 128).
func TestMPLSVRFShortcuts(t *testing.T) { mplsShortcuts(t, nil) }

// TestMPLSVRFShortcutsXDP is TestMPLSVRFShortcuts with every node on the
// AF_XDP backend: the hub's workers forward the spoke-to-spoke traffic and
// report the hairpins, with the VRF the label named, that make the hub
// redirect each VRF's traffic; the spokes' workers serve the VRF LAN
// interfaces red and blue (overlapping addresses), steering each by its
// VRF's protected prefixes and delivering to each VRF's own hosts.
func TestMPLSVRFShortcutsXDP(t *testing.T) {
	mplsShortcuts(t, map[string]string{"hub": "afxdp", "spoke1": "afxdp", "spoke2": "afxdp"})
}

func mplsShortcuts(t *testing.T, backends map[string]string) {
	// spoke2 defines blue before red, so its per-VRF labels are the other
	// way round from spoke1's: a shortcut pushing the requester's own
	// label instead of the exit spoke's would show.
	w, hub, s1, s2 := mplsWorldOn(t, backends, func(node, cfg string) string {
		if node != "spoke2" {
			return cfg
		}
		i, j := strings.Index(cfg, "vrf definition red\n"), strings.Index(cfg, "vrf definition blue\n")
		k := j + strings.Index(cfg[j:], "!\n") + 2
		if i < 0 || j < i || k < j {
			t.Fatal("examples/mpls/spoke2.cfg: vrf definitions not found")
		}
		return cfg[:i] + cfg[j:k] + cfg[i:j] + cfg[k:]
	})
	sess, _ := w.sessionsByID(hub)
	va1, va2 := sess["spoke1.lab.example"].Interface, sess["spoke2.lab.example"].Interface
	if va1 == "" || va2 == "" {
		t.Fatalf("hub sessions: %s", w.text(hub, "show", "crypto", "session"))
	}
	rds := map[string]string{"red": "65010:1", "blue": "65010:2"}
	for vrf, rd := range rds {
		if l1, l2 := w.originated(s1, rd, "198.19.1.0/24"), w.originated(s2, rd, "198.19.2.0/24"); l1 == l2 {
			t.Fatalf("vrf %s: both spokes advertise label %d; the test needs them different", vrf, l1)
		}
	}
	// Capture on the router's side of spoke1's WAN link: packets an AF_XDP
	// socket transmits bypass the taps of the sending interface.
	capt := labtest.StartCapture(t, w.lab, "inet", "spoke1", "esp or udp port 4500")
	for _, vrf := range []string{"red", "blue"} {
		// The exit spokes' BGP labels for the VRF.
		want2 := w.originated(s2, rds[vrf], "198.19.2.0/24")
		want1 := w.originated(s1, rds[vrf], "198.19.1.0/24")
		pctx, pcancel := context.WithTimeout(w.ctx, 60*time.Second)
		ping := w.lab.Command(pctx, vrf+"1", "ping", "-n", "-i", "0.02", "-c", "2000", "-W", "1", "198.19.2.10")
		var pingOut bytes.Buffer
		ping.Stdout, ping.Stderr = &pingOut, &pingOut
		if err := ping.Start(); err != nil {
			pcancel()
			t.Fatal(err)
		}
		var got1, got2 uint32
		w.eventually(30*time.Second, "spoke1's shortcut to 198.19.2.0/24 in vrf "+vrf, func() (bool, string) {
			l, diag := w.vrfShortcut(s1, vrf, "198.19.2.0/24")
			got1 = l
			return l != 0, diag + w.text(hub, "show", "ip", "nhrp", "traffic")
		})
		w.eventually(30*time.Second, "spoke2's shortcut to 198.19.1.0/24 in vrf "+vrf, func() (bool, string) {
			l, diag := w.vrfShortcut(s2, vrf, "198.19.1.0/24")
			got2 = l
			return l != 0, diag
		})
		if got1 != want2 || got2 != want1 {
			t.Errorf("vrf %s: spoke1's shortcut pushes %d (spoke2 advertises %d), spoke2's %d (spoke1 advertises %d)", vrf, got1, want2, got2, want1)
		}
		// The hub no longer forwards the VRF's traffic: its counters for
		// both spokes hold still while the ping (50 echoes a second) goes on.
		w.eventually(10*time.Second, "the hub's counters for both spokes stop in vrf "+vrf, func() (bool, string) {
			a1, err1 := w.hubRx(hub, va1)
			a2, err2 := w.hubRx(hub, va2)
			time.Sleep(time.Second)
			b1, err3 := w.hubRx(hub, va1)
			b2, err4 := w.hubRx(hub, va2)
			if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
				return false, fmt.Sprint(err1, err2, err3, err4)
			}
			return b1-a1 <= 3 && b2-a2 <= 3, fmt.Sprintf("over 1 s: %s rx +%d, %s rx +%d", va1, b1-a1, va2, b2-a2)
		})
		pcancel()
		_ = ping.Wait()
		ttl, err := w.pingTTL(vrf+"1", "198.19.2.10")
		if err != nil {
			t.Fatalf("vrf %s over the shortcut: %v\n%s", vrf, err, w.mplsState())
		}
		if (vrf == "red" && (ttl > 64 || ttl < 56)) || (vrf == "blue" && ttl <= 64) {
			t.Errorf("vrf %s: the echo reply over the shortcut came from the wrong VRF (ttl %d)", vrf, ttl)
		}
		t.Logf("vrf %s: shortcut labels spoke1->spoke2 %d, spoke2->spoke1 %d; reply ttl %d", vrf, got1, got2, ttl)
	}
	capt.Stop()
	t.Logf("spoke1:\n%s\n%s", w.text(s1, "show", "ip", "nhrp", "detail"), w.text(s1, "show", "ip", "route", "vrf", "red"))
	if backends["hub"] == "afxdp" {
		// The hub's workers, not its kernel path, forwarded the traffic
		// that crossed it (and so reported the hairpins).
		if txWAN, _, toKernel := w.queueTotals(hub); txWAN == 0 {
			t.Errorf("hub: AF_XDP workers sent nothing on the WAN (to kernel %d)\n%s", toKernel, w.text(hub, "show", "dataplane"))
		}
	}
	for _, s := range []*node{s1, s2} {
		if backends[s.name] != "afxdp" {
			continue
		}
		// The spoke's workers served both VRF LANs: attached with their
		// VRF ids, they delivered the echoes to the VRF's hosts.
		var dp struct {
			Status struct {
				Interfaces []struct {
					Name string `json:"name"`
					Role string `json:"role"`
					VRF  uint32 `json:"vrf"`
				} `json:"interfaces"`
			} `json:"backend_status"`
		}
		if err := w.exec(s, &dp, "show", "dataplane"); err != nil {
			t.Fatal(err)
		}
		vrfs := map[string]uint32{}
		for _, i := range dp.Status.Interfaces {
			if i.Role == "lan" {
				vrfs[i.Name] = i.VRF
			}
		}
		if vrfs["red"] == 0 || vrfs["blue"] == 0 || vrfs["red"] == vrfs["blue"] {
			t.Errorf("%s: AF_XDP LAN interfaces and VRFs %v, want red and blue in VRFs of their own\n%s", s.name, vrfs, w.text(s, "show", "dataplane"))
		}
		if _, txLAN, toKernel := w.queueTotals(s); txLAN == 0 {
			t.Errorf("%s: AF_XDP workers delivered nothing on the VRF LANs (to kernel %d)\n%s", s.name, toKernel, w.text(s, "show", "dataplane"))
		}
	}

	// On spoke1's WAN: every echo to or from spoke2 directly carries the
	// exit spoke's BGP label of the echo's VRF (told by the inner TTL:
	// red hosts send 64, blue 128).
	keys := espKeys(t, filepath.Join(w.dir, "spoke1.keys"))
	direct := map[string]int{}
	firstHub, firstDirect := map[string]float64{}, map[string]float64{}
	for _, e := range labelledEchoes(t, capt.Path, keys) {
		vrf := "red"
		if e.ttl > 64 {
			vrf = "blue"
		}
		if e.outerSrc == spoke1WAN && e.dst == "198.19.2.10" {
			if e.outerDst == hubWAN && firstHub[vrf] == 0 {
				firstHub[vrf] = e.at
			}
			if e.outerDst == spoke2WAN && firstDirect[vrf] == 0 {
				firstDirect[vrf] = e.at
			}
		}
		var want uint32
		switch {
		case e.outerSrc == spoke1WAN && e.outerDst == spoke2WAN && e.dst == "198.19.2.10":
			want = w.originated(s2, rds[vrf], "198.19.2.0/24")
		case e.outerSrc == spoke2WAN && e.outerDst == spoke1WAN && e.src == "198.19.2.10":
			want = w.originated(s1, rds[vrf], "198.19.1.0/24")
		default:
			continue
		}
		direct[vrf+" "+e.outerDst]++
		if e.label != fmt.Sprint(want) {
			t.Errorf("vrf %s echo %s>%s on the shortcut carries label %s, want %d", vrf, e.src, e.dst, e.label, want)
		}
	}
	for _, k := range []string{"red " + spoke2WAN, "red " + spoke1WAN, "blue " + spoke2WAN, "blue " + spoke1WAN} {
		if direct[k] == 0 {
			t.Errorf("no decrypted echo on the direct path for %q: %v", k, direct)
		}
	}
	t.Logf("decrypted echoes on the direct path: %v", direct)
	// Each VRF's traffic started through the hub and moved to the direct
	// path: the hub's redirect and the shortcut are per VRF.
	for _, vrf := range []string{"red", "blue"} {
		if firstHub[vrf] == 0 || firstDirect[vrf] < firstHub[vrf] {
			t.Errorf("vrf %s: first echo via the hub at %v, first direct at %v", vrf, firstHub[vrf], firstDirect[vrf])
			continue
		}
		took := time.Duration((firstDirect[vrf] - firstHub[vrf]) * float64(time.Second)).Round(time.Millisecond)
		t.Logf("vrf %s: first echo (via the hub) to first echo on the direct path: %v", vrf, took)
		if backends["hub"] == "afxdp" && took > 5*time.Second {
			// An NHRP answer lost in a stalled worker costs a retransmission
			// (seconds); a healthy exchange takes well under a second.
			t.Errorf("vrf %s: the shortcut took %v, want a few hundred milliseconds", vrf, took)
		}
	}

	// spoke1's red LAN goes down and up: the kernel drops the VRF table's
	// connected route with the device, and esphubd puts it back (and, on
	// AF_XDP, attaches the interface again), so red still answers.
	for _, argv := range [][]string{{"ip", "link", "set", "red", "down"}, {"ip", "link", "set", "red", "up"}} {
		ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
		out, err := w.lab.Exec(ctx, "spoke1", argv...)
		cancel()
		if err != nil {
			t.Fatalf("spoke1: %v: %v %s", argv, err, out)
		}
	}
	w.eventually(30*time.Second, "red1 reaches red2 after spoke1's red link flapped", func() (bool, string) {
		ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
		defer cancel()
		out, err := w.lab.Exec(ctx, "red1", "ping", "-n", "-c", "1", "-W", "1", "198.19.2.10")
		if err != nil {
			ctx2, cancel2 := context.WithTimeout(w.ctx, 10*time.Second)
			defer cancel2()
			rt, _ := w.lab.Exec(ctx2, "spoke1", "ip", "route", "show", "table", "all")
			return false, string(out) + "\n" + string(rt)
		}
		m := ttlRE.FindSubmatch(out)
		if m == nil {
			return false, string(out)
		}
		ttl, _ := strconv.Atoi(string(m[1]))
		return ttl <= 64 && ttl >= 56, "a reply from the wrong VRF: " + string(out)
	})
	if backends["spoke1"] == "afxdp" {
		w.eventually(10*time.Second, "spoke1 serves red on AF_XDP again", func() (bool, string) {
			got, diag := w.xdpInterfaces(s1)
			return slices.Contains(got, "red/lan"), diag
		})
	}
}
