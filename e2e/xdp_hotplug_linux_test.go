package e2e

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// xdpInterfaces returns the interfaces a node's AF_XDP backend serves, as
// "name/role" in show dataplane's order.
func (w *world) xdpInterfaces(n *node) ([]string, string) {
	var dp struct {
		Status struct {
			Interfaces []struct {
				Name string `json:"name"`
				Role string `json:"role"`
			} `json:"interfaces"`
		} `json:"backend_status"`
	}
	if err := w.exec(n, &dp, "show", "dataplane"); err != nil {
		return nil, err.Error()
	}
	var out []string
	for _, i := range dp.Status.Interfaces {
		out = append(out, i.Name+"/"+i.Role)
	}
	return out, w.text(n, "show", "dataplane")
}

// TestXDPInterfaceHotplug starts spoke1 of hub-2spokes on the AF_XDP
// backend with its LAN interface down: the LAN is not attached. Brought
// up, it is attached and the workers carry the LAN's traffic through the
// tunnel. An interface the configuration names (GigabitEthernet3, by
// address) that is created later is attached, and detached when deleted,
// without the daemon logging an error for each notification after.
func TestXDPInterfaceHotplug(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip")
	bin := buildDaemon(t)
	l := labtest.Up(t, hostsOffloadOff(t, "hub-2spokes"))
	w := newWorld(t, l, bin, "hub", "spoke1")
	ctx := w.ctx
	for _, n := range w.nodes {
		n.backend = "afxdp"
	}
	hub, s1 := w.nodes["hub"], w.nodes["spoke1"]
	for _, n := range []*node{hub, s1} {
		b, err := readFile(filepath.Join(repoRoot(), "examples", "hub-2spokes", n.name+".cfg"))
		if err != nil {
			t.Fatal(err)
		}
		if n == s1 {
			i := strings.Index(b, "interface Tunnel0\n")
			if i < 0 {
				t.Fatal("examples/hub-2spokes/spoke1.cfg: no interface Tunnel0")
			}
			b = b[:i] + "interface GigabitEthernet3\n ip address 198.19.3.1 255.255.255.0\n!\n" + b[i:]
		}
		writeCfg(t, n.cfg, b)
	}
	exec := func(argv ...string) {
		t.Helper()
		ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
		defer ecancel()
		if out, err := l.Exec(ectx, "spoke1", argv...); err != nil {
			t.Fatalf("spoke1: %v: %v %s", argv, err, out)
		}
	}
	exec("ip", "link", "set", "lan", "down")
	w.start(hub)
	w.start(s1)
	served := func(want ...string) {
		t.Helper()
		w.eventually(30*time.Second, "spoke1's AF_XDP interfaces "+strings.Join(want, " "), func() (bool, string) {
			got, diag := w.xdpInterfaces(s1)
			return slices.Equal(got, want), strings.Join(got, " ") + "\n" + diag
		})
	}
	served("wan/wan")

	exec("ip", "link", "set", "lan", "up")
	served("wan/wan", "lan/lan")
	w.waitOverlay(hub, s1, true, false)
	spokeSite := xdpSite{router: "spoke1", host: "host1", addr4: netip.MustParseAddr("198.19.1.10")}
	hubSite := xdpSite{router: "hub", host: "hubhost", addr4: netip.MustParseAddr("198.19.0.10")}
	if got := w.xdpExchange(s1, hub, spokeSite, hubSite, true, false); len(got) == 0 {
		t.Error("nothing crossed from spoke1's LAN")
	}
	if got := w.xdpExchange(hub, s1, hubSite, spokeSite, true, false); len(got) == 0 {
		t.Error("nothing crossed to spoke1's LAN")
	}
	w.checkXDPCarried(s1)

	exec("ip", "link", "add", "lan3", "type", "veth", "peer", "name", "lan3p")
	exec("ip", "addr", "add", "198.19.3.1/24", "dev", "lan3")
	exec("ip", "link", "set", "lan3p", "up")
	exec("ip", "link", "set", "lan3", "up")
	served("wan/wan", "lan/lan", "lan3/lan")
	if a := xdpAttached(t, l, "spoke1"); !strings.Contains(a, "lan3") {
		t.Errorf("spoke1: XDP attached to %q, want lan3 among them", a)
	}
	exec("ip", "link", "del", "lan3")
	served("wan/wan", "lan/lan")
	if a := xdpAttached(t, l, "spoke1"); a != "wan lan" {
		t.Errorf("spoke1: XDP attached to %q after lan3 went, want wan lan", a)
	}
	// The daemon settles: no warning loop, still serving.
	time.Sleep(time.Second)
	logBytes, err := os.ReadFile(s1.log)
	if err != nil {
		t.Fatal(err)
	}
	logText := string(logBytes)
	if n := strings.Count(logText, "not all could be attached"); n > 2 {
		t.Errorf("spoke1 logged %d attach failures:\n%s", n, logText)
	}
	select {
	case <-s1.done:
		t.Fatalf("esphubd on spoke1 exited:\n%s", w.logTail(s1))
	default:
	}
	if got := w.xdpExchange(s1, hub, spokeSite, hubSite, true, false); len(got) == 0 {
		t.Error("nothing crossed from spoke1's LAN after lan3 went")
	}

	// An interface the configuration does not name is not attached until
	// a reload names it.
	exec("ip", "link", "add", "lan4", "type", "veth", "peer", "name", "lan4p")
	exec("ip", "addr", "add", "198.19.4.1/24", "dev", "lan4")
	exec("ip", "link", "set", "lan4p", "up")
	exec("ip", "link", "set", "lan4", "up")
	t.Cleanup(func() { _, _ = l.Exec(context.Background(), "spoke1", "ip", "link", "del", "lan4") })
	time.Sleep(500 * time.Millisecond) // past the settling time: a wrong attach would show
	served("wan/wan", "lan/lan")
	b, err := readFile(s1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(b, "interface Tunnel0\n")
	writeCfg(t, s1.cfg, b[:i]+"interface GigabitEthernet4\n ip address 198.19.4.1 255.255.255.0\n!\n"+b[i:])
	if err := w.exec(s1, nil, "reload"); err != nil {
		t.Fatal(err)
	}
	served("wan/wan", "lan/lan", "lan4/lan")
}
