package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// bgpRoute is a VPNv4 route as `show ip bgp vpnv4 all -o json` prints it.
type bgpRoute struct {
	RD      string `json:"rd"`
	Prefix  string `json:"prefix"`
	Label   uint32 `json:"label"`
	NextHop string `json:"next_hop"`
}

type bgpTable struct {
	Local   []bgpRoute `json:"originated"`
	Learned []bgpRoute `json:"learned"`
}

func findBGP(rs []bgpRoute, rd, prefix string) (bgpRoute, bool) {
	for _, r := range rs {
		if r.RD == rd && r.Prefix == prefix {
			return r, true
		}
	}
	return bgpRoute{}, false
}

func readMPLSExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "mpls", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mplsWorld starts esphubd on the hub and both spokes of mpls-2spokes with
// examples/mpls (edited by edit, if set), each writing its ESP keys for
// tshark, and waits until the spokes named in wait hold the other spoke's
// VRF routes (both spokes when wait is nil). Every node runs the portable
// backend.
func mplsWorld(t *testing.T, edit func(node, cfg string) string, wait ...string) (*world, *node, *node, *node) {
	t.Helper()
	return mplsWorldOn(t, nil, edit, wait...)
}

// mplsWorldOn is mplsWorld with a -backend per node name (portable for the
// nodes backends does not name).
func mplsWorldOn(t *testing.T, backends map[string]string, edit func(node, cfg string) string, wait ...string) (*world, *node, *node, *node) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "tcpdump", "tshark")
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("mpls-2spokes"))
	w := newWorld(t, l, bin, "hub", "spoke1", "spoke2")
	dir := w.dir
	for name, n := range w.nodes {
		n.extra, n.backend = []string{"-esp-keylog", filepath.Join(dir, name+".keys")}, backends[name]
	}
	for _, name := range []string{"hub", "spoke1", "spoke2"} {
		n := w.nodes[name]
		cfg := readMPLSExample(t, name+".cfg")
		if edit != nil {
			cfg = edit(name, cfg)
		}
		writeCfg(t, n.cfg, cfg)
		w.start(n)
	}
	s1, s2 := w.nodes["spoke1"], w.nodes["spoke2"]
	if wait == nil {
		wait = []string{"spoke1", "spoke2"}
	}
	for _, c := range []struct {
		n      *node
		prefix string
	}{{s1, "198.19.2.0/24"}, {s2, "198.19.1.0/24"}} {
		if !slices.Contains(wait, c.n.name) {
			continue
		}
		for _, vrf := range []string{"red", "blue"} {
			w.eventually(60*time.Second, c.n.name+" BGP route to "+c.prefix+" in vrf "+vrf, func() (bool, string) {
				var rows []routeRow
				if err := w.exec(c.n, &rows, "show", "ip", "route", "vrf", vrf); err != nil {
					return false, err.Error()
				}
				r, ok := findRoute(rows, c.prefix)
				return ok && r.Source == "bgp", w.text(c.n, "show", "ip", "route", "vrf", vrf) + w.text(c.n, "show", "ip", "bgp", "vpnv4", "all", "summary")
			})
		}
	}
	return w, w.nodes["hub"], s1, s2
}

// mplsState is what a failing test shows: the spokes' steering, and every
// daemon's VRF routes, labels and drops.
func (w *world) mplsState() string {
	var b strings.Builder
	for _, name := range []string{"spoke1", "hub", "spoke2"} {
		n := w.nodes[name]
		fmt.Fprintf(&b, "=== %s\n", name)
		for _, argv := range [][]string{{"ip", "rule"}, {"ip", "route", "show", "table", "all"}} {
			ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
			out, _ := w.lab.Exec(ctx, name, argv...)
			cancel()
			fmt.Fprintf(&b, "$ %s\n%s", strings.Join(argv, " "), out)
		}
		for _, words := range [][]string{{"show", "ip", "route", "vrf", "red"}, {"show", "ip", "bgp", "vpnv4", "all", "label"},
			{"show", "mpls", "forwarding-table"}, {"show", "dataplane"}} {
			fmt.Fprintf(&b, "# %s\n%s", strings.Join(words, " "), w.text(n, words...))
		}
	}
	return b.String()
}

var ttlRE = regexp.MustCompile(`ttl=(\d+)`)

// pingTTL pings dst from a host and returns the TTL of the replies.
func (w *world) pingTTL(from, dst string) (int, error) {
	if err := w.ping(from, dst); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	out, err := w.lab.Exec(ctx, from, "ping", "-n", "-c", "1", "-W", "3", dst)
	if err != nil {
		return 0, fmt.Errorf("ping %s -> %s: %v\n%s", from, dst, err, out)
	}
	m := ttlRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no ttl in %s", out)
	}
	return strconv.Atoi(string(m[1]))
}

// espKeys reads a node's -esp-keylog file as tshark options.
func espKeys(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var opts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			opts = append(opts, "-o", "uat:esp_sa:"+l)
		}
	}
	if len(opts) == 0 {
		t.Fatalf("no keys in %s", path)
	}
	return opts
}

// labelsOnWire decodes a capture of ESP with the keys and returns, per
// decrypted ICMP packet, its source and destination and the MPLS labels
// between GRE and IP, failing on any packet whose stack is not
// ESP / GRE / one MPLS label / IPv4.
func labelsOnWire(t *testing.T, pcap string, keys []string) map[string][]string {
	t.Helper()
	args := append([]string{"-r", pcap, "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}, keys...)
	args = append(args, "-Y", "icmp", "-T", "fields", "-E", "separator=|", "-e", "frame.protocols", "-e", "mpls.label",
		"-e", "mpls.bottom", "-e", "esp.icv_good", "-e", "ip.src", "-e", "ip.dst")
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 6 {
			t.Fatalf("tshark line %q", line)
		}
		if !strings.Contains(f[0], ":esp:gre:mpls:ip:icmp") {
			t.Errorf("not ESP/GRE/MPLS/IP: %q", line)
		}
		labels := strings.Split(f[1], ",")
		if len(labels) != 1 || f[2] != "1" {
			t.Errorf("want exactly one label, bottom of stack: %q", line)
		}
		if !strings.Contains(f[3], "1") {
			t.Errorf("ICV not [correct]: %q", line)
		}
		// inner src/dst are the last ip.src/ip.dst values
		srcs, dsts := strings.Split(f[4], ","), strings.Split(f[5], ",")
		key := srcs[len(srcs)-1] + ">" + dsts[len(dsts)-1]
		got[key] = append(got[key], f[1])
	}
	return got
}

// TestMPLSVRFsThroughHub is issue 11's MPLS acceptance through the hub: VRFs
// red and blue use the same addresses behind both spokes; an echo from
// red1 reaches red2 and one from blue1 reaches blue2 (the hosts answer
// with TTLs of their own), and on spoke1's WAN, decrypted with the
// daemons' keys, every echo is ESP / GRE / exactly one MPLS label / IPv4,
// the label being the one BGP advertised: the hub's VRF label toward the
// hub, spoke1's own VRF label on the way back.
func TestMPLSVRFsThroughHub(t *testing.T) {
	w, _, s1, _ := mplsWorld(t, nil)
	capt := labtest.StartCapture(t, w.lab, "spoke1", "wan", "esp or udp port 4500")
	ttls := map[string]int{}
	for _, vrf := range []string{"red", "blue"} {
		ttl, err := w.pingTTL(vrf+"1", "198.19.2.10")
		if err != nil {
			t.Fatalf("vrf %s: %v\n%s", vrf, err, w.mplsState())
		}
		ttls[vrf] = ttl
	}
	// red hosts answer with TTL 64, blue ones with 128, minus the hops.
	if ttls["red"] > 64 || ttls["red"] < 56 || ttls["blue"] <= 64 {
		t.Fatalf("echo replies came from the wrong VRF: red ttl %d (want <= 64), blue ttl %d (want > 64)", ttls["red"], ttls["blue"])
	}
	t.Logf("reply TTLs: red %d, blue %d", ttls["red"], ttls["blue"])
	capt.Stop()

	var tab bgpTable
	if err := w.exec(s1, &tab, "show", "ip", "bgp", "vpnv4", "all"); err != nil {
		t.Fatal(err)
	}
	t.Logf("spoke1:\n%s", w.text(s1, "show", "ip", "bgp", "vpnv4", "all", "label"))
	want := map[string]string{} // "vrf direction" -> label
	for vrf, rd := range map[string]string{"red": "65010:1", "blue": "65010:2"} {
		out, ok1 := findBGP(tab.Learned, rd, "198.19.2.0/24")
		back, ok2 := findBGP(tab.Local, rd, "198.19.1.0/24")
		if !ok1 || !ok2 {
			t.Fatalf("spoke1's VPNv4 table lacks %s routes: %+v", vrf, tab)
		}
		want[vrf+" out"], want[vrf+" back"] = fmt.Sprint(out.Label), fmt.Sprint(back.Label)
	}
	if want["red out"] == want["blue out"] || want["red back"] == want["blue back"] {
		t.Fatalf("VRFs share a label: %v", want)
	}
	got := labelsOnWire(t, capt.Path, espKeys(t, filepath.Join(w.dir, "spoke1.keys")))
	out, back := got["198.19.1.10>198.19.2.10"], got["198.19.2.10>198.19.1.10"]
	if len(out) < 2 || len(back) < 2 {
		t.Fatalf("decrypted echoes: %v", got)
	}
	// The capture holds red's echoes, then blue's.
	count := func(ls []string, l string) int {
		n := 0
		for _, x := range ls {
			if x == l {
				n++
			}
		}
		return n
	}
	for _, vrf := range []string{"red", "blue"} {
		if count(out, want[vrf+" out"]) == 0 || count(back, want[vrf+" back"]) == 0 {
			t.Errorf("vrf %s: labels on the wire out %v back %v, BGP advertised %s out and %s back", vrf, out, back, want[vrf+" out"], want[vrf+" back"])
		}
	}
	if count(out, want["red out"])+count(out, want["blue out"]) != len(out) || count(back, want["red back"])+count(back, want["blue back"]) != len(back) {
		t.Errorf("labels BGP never advertised on the wire: out %v back %v (want %v)", out, back, want)
	}
	t.Logf("labels on spoke1's WAN: toward the hub %v, back %v", out, back)
}
