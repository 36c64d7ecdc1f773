package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/internal/s2s"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// Underlay addresses of hub-3spokes-nat.
const (
	// echoSize is the ICMP payload of the test's echoes.
	echoSize = 1000

	hubWAN    = "198.18.0.2"
	spoke1WAN = "198.18.1.2"
	natWAN    = "198.18.100.2" // spoke2 and spoke3 as the internet sees them
)

func readS2SExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "spoke-to-spoke", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type tunnelCounters struct {
	Tunnels []struct {
		Config struct {
			ID uint32 `json:"ID"`
		} `json:"Config"`
		RxPackets uint64 `json:"RxPackets"`
		TxPackets uint64 `json:"TxPackets"`
	} `json:"Tunnels"`
}

// hubRx returns how many packets the hub received on a virtual-access.
func (w *world) hubRx(n *node, va string) (uint64, error) {
	id, err := strconv.Atoi(strings.TrimPrefix(va, "Virtual-Access"))
	if err != nil {
		return 0, fmt.Errorf("not a virtual-access: %q", va)
	}
	var tc tunnelCounters
	if err := w.exec(n, &tc, "show", "dataplane"); err != nil {
		return 0, err
	}
	for _, t := range tc.Tunnels {
		if t.Config.ID == uint32(id) {
			return t.RxPackets, nil
		}
	}
	return 0, fmt.Errorf("no dataplane tunnel %d", id)
}

// shortcutTo reports whether a node has an NHRP route for prefix, through
// a virtual-access.
func (w *world) shortcutTo(n *node, prefix string) (bool, string) {
	rows, text := w.routes(n)
	if strings.Contains(prefix, ":") {
		var r6 []routeRow
		if err := w.exec(n, &r6, "show", "ipv6", "route"); err != nil {
			return false, err.Error()
		}
		rows, text = r6, w.text(n, "show", "ipv6", "route")
	}
	r, ok := findRoute(rows, prefix)
	if ok && r.Source == "nhrp" && len(r.NextHops) > 0 && strings.HasPrefix(r.NextHops[0].Interface, "Virtual-Access") {
		return true, ""
	}
	return false, text + "\n" + w.text(n, "show", "ip", "nhrp", "detail") + "\n" + w.text(n, "show", "ip", "nhrp", "traffic")
}

// capture is tcpdump on one node's interface, line-buffered into a file.
type capture struct {
	path string
	stop func()
}

func (w *world) startCapture(node, iface, filter string) *capture {
	w.t.Helper()
	path := filepath.Join(w.dir, node+"-"+iface+".txt")
	f, err := os.Create(path)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	var stderr bytes.Buffer
	cmd := w.lab.Command(ctx, node, "tcpdump", "-i", iface, "-n", "-tt", "-l", "-U", filter)
	cmd.Stdout, cmd.Stderr = f, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		w.t.Fatalf("tcpdump on %s: %v", node, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	c := &capture{path: path, stop: func() { cancel(); <-done }}
	w.t.Cleanup(c.stop)
	// tcpdump says "listening on" once the socket is bound.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "listening on") {
		if time.Now().After(deadline) {
			w.t.Fatalf("tcpdump on %s did not start: %s", node, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// espPacket is one ESP packet of a capture: when, between whom, and its
// length as tcpdump prints it.
type espPacket struct {
	at       float64
	src, dst string // addresses without ports
	length   int
}

// espPackets parses tcpdump lines such as
// "1700000000.123456 IP 198.18.1.2.4500 > 198.18.100.2.4500: UDP-encap: ESP(spi=...,seq=0x1), length 120"
// and "1700000000.123456 IP 198.18.1.2 > 198.18.0.2: ESP(spi=...)".
func espPackets(t *testing.T, path string) []espPacket {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []espPacket
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "ESP(") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 5 || fs[1] != "IP" {
			continue
		}
		at, err := strconv.ParseFloat(fs[0], 64)
		if err != nil {
			continue
		}
		n := 0
		if i := strings.LastIndex(line, "length "); i >= 0 {
			n, _ = strconv.Atoi(strings.TrimSpace(line[i+len("length "):]))
		}
		out = append(out, espPacket{at: at, src: hostOf(fs[2]), dst: hostOf(strings.TrimSuffix(fs[4], ":")), length: n})
	}
	return out
}

// hostOf strips tcpdump's ".port" suffix from an IPv4 address.
func hostOf(s string) string {
	if strings.Count(s, ".") == 4 {
		return s[:strings.LastIndex(s, ".")]
	}
	return s
}

// nhrpWorld starts hub, spoke1 and spoke2 with the spoke-to-spoke examples
// (edited by edit, if set) on hub-3spokes-nat and waits until both spokes
// are connected and the LAN neighbours resolved.
func nhrpWorld(t *testing.T, edit func(string) string) (*world, *node, *node, *node) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "nft", "tcpdump")
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("hub-3spokes-nat"))
	w := newWorld(t, l, bin, "hub", "spoke1", "spoke2")
	hub, s1, s2 := w.nodes["hub"], w.nodes["spoke1"], w.nodes["spoke2"]
	for _, n := range []*node{hub, s1, s2} {
		// The shortest liveness check IOS allows (10 s, retry 2 s), so
		// that a dead spoke is noticed within the test's time.
		cfg := strings.ReplaceAll(readS2SExample(t, n.name+".cfg"), "dpd 10 3 periodic", "dpd 10 2 periodic")
		if edit != nil {
			cfg = edit(cfg)
		}
		writeCfg(t, n.cfg, cfg)
		w.start(n)
	}

	w.eventually(45*time.Second, "spoke1 and spoke2 sessions on the hub", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		_, a := s["spoke1.lab.example"]
		_, b := s["spoke2.lab.example"]
		return a && b, text
	})
	for _, n := range []*node{s1, s2} {
		w.eventually(20*time.Second, n.name+" route to the overlay through the hub", func() (bool, string) {
			rows, text := w.routes(n)
			_, ok := findRoute(rows, "198.19.0.0/16")
			return ok, text
		})
	}
	// Neighbour resolution on the LANs, so the first echo is not delayed.
	for _, p := range [][2]string{{"host1", "198.19.1.1"}, {"host2", "198.19.2.1"}} {
		if err := w.ping(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	return w, hub, s1, s2
}

// TestNHRPShortcut is issue 8's acceptance on hub-3spokes-nat: traffic from
// host1 (behind spoke1) to host2 (behind spoke2, behind the NAT) first
// crosses the hub; the hub redirects, spoke1 resolves, spoke2 builds an
// IKEv2 session straight to spoke1 and answers, and the traffic moves to it.
func TestNHRPShortcut(t *testing.T) {
	w, hub, s1, s2 := nhrpWorld(t, nil)
	l, ctx := w.lab, w.ctx
	sess, _ := w.sessionsByID(hub)
	va1 := sess["spoke1.lab.example"].Interface

	capt := w.startCapture("spoke1", "wan", "esp or udp port 4500")
	// A continuous ping, 10 ms apart, of echoes larger than any NHRP or
	// liveness message, so that the capture tells data from control.
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	ping := l.Command(pctx, "host1", "ping", "-n", "-i", "0.01", "-c", "600", "-s", strconv.Itoa(echoSize), "-W", "1", "198.19.2.10")
	var pingOut bytes.Buffer
	ping.Stdout, ping.Stderr = &pingOut, &pingOut
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	w.eventually(20*time.Second, "spoke1 shortcut to 198.19.2.0/24", func() (bool, string) {
		return w.shortcutTo(s1, "198.19.2.0/24")
	})
	t.Logf("spoke1 after the shortcut:\n%s\n%s", w.text(s1, "show", "ip", "nhrp", "detail"), w.text(s1, "show", "dmvpn"))

	// The hub stops forwarding spoke1's traffic: its counter for spoke1's
	// virtual-access holds still while the ping goes on.
	time.Sleep(300 * time.Millisecond) // packets in flight drain
	before, err := w.hubRx(hub, va1)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // 100 echoes
	after, err := w.hubRx(hub, va1)
	if err != nil {
		t.Fatal(err)
	}
	if after-before > 2 {
		t.Errorf("hub still receives spoke1's traffic after the shortcut: %s rx %d -> %d over 1 s", va1, before, after)
	}
	_ = ping.Wait()
	capt.stop()
	if !strings.Contains(pingOut.String(), "600 packets transmitted") {
		t.Logf("ping: %s", pingOut.String())
	}

	// From the capture on spoke1's WAN: the first echo-sized ESP packet
	// to the hub is the first echo; the first echo-sized ESP packet to the
	// NAT's address is the first on the direct path.
	pkts := espPackets(t, capt.path)
	var first, direct float64
	viaHub := 0
	for _, p := range pkts {
		if p.src != spoke1WAN || p.length < echoSize {
			continue
		}
		switch p.dst {
		case hubWAN:
			if first == 0 {
				first = p.at
			}
			if direct == 0 {
				viaHub++
			}
		case natWAN:
			if direct == 0 && first != 0 {
				direct = p.at
			}
		}
	}
	if first == 0 || direct == 0 {
		b, _ := os.ReadFile(capt.path)
		t.Fatalf("capture shows no switch to the direct path (first %v, direct %v):\n%s", first, direct, b)
	}
	switchTime := time.Duration((direct - first) * float64(time.Second))
	t.Logf("shortcut: first echo to first echo on the direct path %v; echoes the hub forwarded meanwhile: %d",
		switchTime.Round(time.Millisecond), viaHub)
	if switchTime > 200*time.Millisecond {
		t.Logf("slower than the 200 ms target; NHRP counters:\nspoke1:\n%s\nspoke2:\n%s",
			w.text(s1, "show", "ip", "nhrp", "traffic"), w.text(s2, "show", "ip", "nhrp", "traffic"))
	}
	if switchTime > 5*time.Second {
		t.Errorf("switch to the direct path took %v", switchTime)
	}
	if t.Failed() {
		return
	}

	// The IPv6 overlay: the same spoke-to-spoke session carries the
	// shortcut for host2's IPv6 LAN.
	pctx6, pcancel6 := context.WithTimeout(ctx, 30*time.Second)
	ping6 := l.Command(pctx6, "host1", "ping", "-6", "-n", "-i", "0.02", "-c", "300", "-W", "1", "2001:db8:1:2::10")
	var ping6Out bytes.Buffer
	ping6.Stdout, ping6.Stderr = &ping6Out, &ping6Out
	if err := ping6.Start(); err != nil {
		t.Fatal(err)
	}
	w.eventually(20*time.Second, "spoke1 IPv6 shortcut to 2001:db8:1:2::/64", func() (bool, string) {
		return w.shortcutTo(s1, "2001:db8:1:2::/64")
	})
	t.Logf("spoke1 IPv6 NHRP cache:\n%s", w.text(s1, "show", "ipv6", "nhrp"))
	pcancel6()
	_ = ping6.Wait()
	if strings.Contains(ping6Out.String(), " 100% packet loss") {
		t.Errorf("no IPv6 echo answered:\n%s", ping6Out.String())
	}

	// The hub's counters tell the story: redirects sent, resolutions
	// forwarded between the spokes.
	var traffic map[string]struct {
		Indications uint64 `json:"traffic_indications_sent"`
		Forwarded   uint64 `json:"resolution_requests_forwarded"`
	}
	if err := w.exec(hub, &traffic, "show", "ip", "nhrp", "traffic"); err != nil {
		t.Fatal(err)
	}
	if st := traffic["default"]; st.Indications < 2 || st.Forwarded < 2 {
		t.Errorf("hub NHRP counters %+v, want traffic indications and forwarded resolutions for both families\n%s",
			st, w.text(hub, "show", "ip", "nhrp", "traffic"))
	}

	// clear ipv6 nhrp flushes the IPv6 shortcut and leaves the IPv4 one.
	if err := w.exec(s1, nil, "clear", "ipv6", "nhrp"); err != nil {
		t.Fatal(err)
	}
	if ok, text := w.shortcutTo(s1, "2001:db8:1:2::/64"); ok {
		t.Errorf("IPv6 shortcut survived clear ipv6 nhrp:\n%s", text)
	}
	if ok, text := w.shortcutTo(s1, "198.19.2.0/24"); !ok {
		t.Errorf("IPv4 shortcut lost by clear ipv6 nhrp:\n%s", text)
	}

	// Killing spoke2's esphubd (no Deletes) leaves spoke1 to find out by
	// liveness checks; then the shortcut goes and spoke1's traffic to
	// 198.19.2.0/24 falls back to the hub.
	pctx2, pcancel2 := context.WithTimeout(ctx, 60*time.Second)
	defer pcancel2()
	ping2 := l.Command(pctx2, "host1", "ping", "-n", "-i", "0.05", "-W", "1", "198.19.2.10")
	if err := ping2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pcancel2(); _ = ping2.Wait() }()
	time.Sleep(200 * time.Millisecond)
	base, err := w.hubRx(hub, va1)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	w.kill(s2)
	// Liveness, from spoke1's configured `dpd INTERVAL RETRY periodic`:
	// the engine checks every interval but only when nothing came from the
	// peer during the last one, so the first check goes out up to two
	// intervals after the kill; then ike.DefaultDPDRetries retransmissions
	// RETRY apart before the peer is declared dead.
	interval, retry := dpdOf(t, s1.cfg)
	liveness := 2*interval + time.Duration(ike.DefaultDPDRetries+1)*retry
	w.eventually(liveness+10*time.Second, "spoke1 shortcut removed", func() (bool, string) {
		ok, text := w.shortcutTo(s1, "198.19.2.0/24")
		return !ok, text
	})
	removed := time.Since(killed)
	w.eventually(10*time.Second, "spoke1 traffic back through the hub", func() (bool, string) {
		n, err := w.hubRx(hub, va1)
		if err != nil {
			return false, err.Error()
		}
		return n > base+10, fmt.Sprintf("hub %s rx %d (was %d when spoke2 was killed)", va1, n, base)
	})
	fallback := time.Since(killed)
	t.Logf("spoke2 killed: shortcut removed on spoke1 after %v, traffic back through the hub after %v (liveness check %v)",
		removed.Round(100*time.Millisecond), fallback.Round(100*time.Millisecond), liveness)
	if removed > liveness+5*time.Second {
		t.Errorf("shortcut outlived the liveness check: removed after %v", removed)
	}
	if n := strings.Count(w.text(s1, "show", "ip", "nhrp"), "198.19.2.0/24"); n != 0 {
		t.Errorf("spoke1 still has an NHRP entry for 198.19.2.0/24:\n%s", w.text(s1, "show", "ip", "nhrp"))
	}
}

// dpdOf reads the liveness check of the spoke-to-spoke profile ("dpd
// INTERVAL RETRY ...") from a configuration file.
func dpdOf(t *testing.T, path string) (interval, retry time.Duration) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inSpokes := false
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, " ") {
			inSpokes = strings.TrimSpace(l) == "crypto ikev2 profile spokes"
			continue
		}
		f := strings.Fields(l)
		if inSpokes && len(f) >= 3 && f[0] == "dpd" {
			i, err1 := strconv.Atoi(f[1])
			r, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil {
				t.Fatalf("%s: bad dpd line %q", path, l)
			}
			return time.Duration(i) * time.Second, time.Duration(r) * time.Second
		}
	}
	t.Fatalf("%s: profile spokes has no dpd", path)
	return 0, 0
}

// TestNHRPShortcutExpires: `ip nhrp holdtime 6` on every router. Once its
// traffic stops, a shortcut is not refreshed and goes at its hold time,
// even though the spoke-to-spoke tunnel stays busy with other traffic: use
// is counted per shortcut route (per destination prefix), so an IPv6 flow
// over the same session keeps the IPv6 shortcut, and only it, alive.
func TestNHRPShortcutExpires(t *testing.T) {
	const hold = 6 * time.Second
	w, _, s1, _ := nhrpWorld(t, func(cfg string) string {
		cfg = strings.ReplaceAll(cfg, " ip nhrp network-id 1\n", " ip nhrp network-id 1\n ip nhrp holdtime 6\n")
		return strings.ReplaceAll(cfg, " ipv6 nhrp network-id 1\n", " ipv6 nhrp network-id 1\n ipv6 nhrp holdtime 6\n")
	})
	// IPv6 echoes every 200 ms for the whole test, over the same session.
	pctx, pcancel := context.WithCancel(w.ctx)
	ping6 := w.lab.Command(pctx, "host1", "ping", "-6", "-n", "-i", "0.2", "-W", "1", "2001:db8:1:2::10")
	if err := ping6.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pcancel(); _ = ping6.Wait() }()
	w.eventually(20*time.Second, "spoke1 IPv6 shortcut", func() (bool, string) {
		return w.shortcutTo(s1, "2001:db8:1:2::/64")
	})
	// A short IPv4 flow, then silence.
	if err := w.ping("host1", "198.19.2.10"); err != nil {
		t.Fatal(err)
	}
	w.eventually(20*time.Second, "spoke1 IPv4 shortcut", func() (bool, string) {
		return w.shortcutTo(s1, "198.19.2.0/24")
	})
	if err := w.ping("host1", "198.19.2.10"); err != nil { // over the shortcut
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Logf("spoke1 with both shortcuts:\n%s", w.text(s1, "show", "ip", "nhrp"))
	// The last use was at most one refresh check (2/3 of the hold time)
	// before a check, so the shortcut goes between one hold time and 5/3 of
	// it after the traffic stopped; allow for the polling and a loaded
	// machine.
	upper := hold*5/3 + 3*time.Second
	w.eventually(upper, "idle IPv4 shortcut expired", func() (bool, string) {
		ok, text := w.shortcutTo(s1, "198.19.2.0/24")
		return !ok, text
	})
	took := time.Since(stopped)
	t.Logf("IPv4 shortcut expired %v after its traffic stopped (hold time %v)", took.Round(100*time.Millisecond), hold)
	if took < hold-time.Second {
		t.Errorf("shortcut removed after %v, before its hold time %v", took, hold)
	}
	if ok, text := w.shortcutTo(s1, "2001:db8:1:2::/64"); !ok {
		t.Errorf("the IPv6 shortcut in use expired too:\n%s", text)
	}
	for _, e := range strings.Split(w.text(s1, "show", "ip", "nhrp"), "\n") {
		if strings.HasPrefix(e, "198.19.2.") {
			t.Errorf("spoke1 keeps an NHRP entry for spoke2's IPv4 LAN: %s\n%s", e, w.text(s1, "show", "ip", "nhrp"))
		}
	}
	var st map[string]struct {
		Refreshed uint64 `json:"shortcuts_refreshed"`
	}
	if err := w.exec(s1, &st, "show", "ip", "nhrp", "traffic"); err != nil {
		t.Fatal(err)
	}
	// The IPv6 shortcut, in use, was refreshed meanwhile.
	if st["default"].Refreshed == 0 {
		t.Errorf("no shortcut refreshed while the IPv6 flow ran:\n%s", w.text(s1, "show", "ip", "nhrp", "traffic"))
	}

	// Once the IPv6 flow stops too, its shortcut expires and, with no
	// entry left on it, the spoke-to-spoke session is closed, as IOS
	// removes the virtual-access.
	pcancel()
	_ = ping6.Wait()
	stopped = time.Now()
	w.eventually(upper, "idle spoke-to-spoke session closed", func() (bool, string) {
		var rows []sessionRow
		if err := w.exec(s1, &rows, "show", "crypto", "session"); err != nil {
			return false, err.Error()
		}
		for _, r := range rows {
			if strings.HasPrefix(r.Interface, "Virtual-Access") {
				return false, w.text(s1, "show", "crypto", "session") + w.text(s1, "show", "ipv6", "nhrp")
			}
		}
		return true, ""
	})
	t.Logf("spoke-to-spoke session closed %v after the last IPv6 echo", time.Since(stopped).Round(100*time.Millisecond))
	if ok, text := w.shortcutTo(s1, "2001:db8:1:2::/64"); ok {
		t.Errorf("IPv6 shortcut left after its session closed:\n%s", text)
	}
}

// TestNHRPShortcutTimes measures shortcut formation from cold, ten times
// in one lab (internal/s2s, the procedure of bench scenario 7): each run
// pings a fresh address behind spoke2, and before each the spoke-to-spoke
// sessions are torn down and NHRP flushed. Both directions of the ping are
// redirected, so every run is a simultaneous setup: both spokes are exit
// spokes for the other's resolution and both start IKEv2. Targets: under
// 200 ms and 20 echoes through the hub. ESPHUB_S2S_RUNS sets the number of
// runs (for the distribution reported on issue 8); ESPHUB_S2S_DIR keeps the
// daemons' logs and the captures there.
func TestNHRPShortcutTimes(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "nft", "tcpdump")
	runs := 10
	if v, err := strconv.Atoi(os.Getenv("ESPHUB_S2S_RUNS")); err == nil && v > 0 {
		runs = v
	}
	o := s2s.Options{Root: repoRoot(), Esphubd: buildDaemon(t), Dir: t.TempDir(), Logf: t.Logf}
	if d := os.Getenv("ESPHUB_S2S_DIR"); d != "" {
		o.Dir = d // keep the daemons' logs and the captures
	}
	w, err := s2s.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, n := range []string{"hub", "spoke1", "spoke2"} {
				t.Logf("--- esphubd on %s:\n%s", n, w.LogTail(n, 40))
			}
		}
		w.Close()
	}()
	res, err := w.Measure(t.Context(), runs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("time to shortcut: %v", res)
	med, medHub := res.Median()
	if med > 200*time.Millisecond || medHub >= 20 {
		t.Errorf("median %v with %d echoes via the hub; target under 200 ms and 20 echoes", med, medHub)
	}
	// A run that waited for NHRP's one-second retransmission (a lost
	// resolution reply) is a failure, however loaded the machine.
	for i, r := range res.Runs {
		if r.Switch > 900*time.Millisecond {
			t.Errorf("run %d took %v (%d echoes via the hub): a resolution was lost and retried", i+1, r.Switch, r.ViaHub)
		}
	}

	// The tie-break: of the two sessions a simultaneous setup builds, one
	// is closed and both spokes keep the same one, with the shortcuts on it
	// and the traffic still direct.
	ctx := t.Context()
	if err := w.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := w.Shortcut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lan2 := netip.MustParsePrefix("198.19.2.0/24")
	peerOf := map[string]string{"spoke1": "spoke2.lab.example", "spoke2": "spoke1.lab.example"}
	var kept [2]s2s.SessionRow
	deadline := time.Now().Add(20 * time.Second)
	for i, n := range []string{"spoke1", "spoke2"} {
		for {
			rows, err := w.Sessions(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			var vas []s2s.SessionRow
			for _, row := range rows {
				if strings.HasPrefix(row.Interface, "Virtual-Access") && row.RemoteID == peerOf[n] {
					vas = append(vas, row)
				}
			}
			if len(vas) == 1 {
				kept[i] = vas[0]
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s keeps %d spoke-to-spoke sessions with its peer:\n%s", n, len(vas), w.Text(ctx, n, "show", "crypto", "session"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if ok, err := w.HasShortcut(ctx, "spoke1", lan2); err != nil || !ok {
		t.Errorf("spoke1 lost its shortcut when the redundant session closed (%v):\n%s", err, w.Text(ctx, "spoke1", "show", "ip", "nhrp"))
	}
	// And the kept session carries traffic both ways.
	if out, err := w.Lab().Exec(ctx, "host1", "ping", "-n", "-c", "3", "-i", "0.1", "-W", "2", r.Target.String()); err != nil {
		t.Errorf("ping over the kept session: %v\n%s", err, out)
	}
	t.Logf("simultaneous setup (%v): spoke1 kept %s, spoke2 kept %s\n%s", r.Switch.Round(time.Millisecond),
		kept[0].Interface, kept[1].Interface, w.Text(ctx, "spoke1", "show", "ip", "nhrp", "traffic"))
}

// TestNHRPShortcutBothNATed is the shortcut with both spokes behind NATs
// (lab/topologies/hub-spokes-2nat.yaml: spoke2 behind NAT A, spoke3 behind
// NAT B, each NAT forwarding IKE to its spoke). Each spoke claims its
// private address; the hub fills the NAT extension with the address it
// sees, so each spoke opens IKEv2 to the other's NAT, which floats to UDP
// 4500. The test measures three cold setups, then proves the steady state
// from the hub's counter for spoke2 (flat while the ping goes on), from a
// capture on spoke2's underlay (echoes UDP-encapsulated to NAT B's
// address) and from spoke2's NHRP cache (NBMA = NAT B, claimed = spoke3's
// private address). ESPHUB_S2S_RUNS sets the number of measured runs.
func TestNHRPShortcutBothNATed(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "nft", "tcpdump")
	const (
		natB       = "198.18.101.2"
		spoke2Priv = "198.18.102.2"
		spoke3Priv = "198.18.103.2"
	)
	o := s2s.Options{
		Root: repoRoot(), Esphubd: buildDaemon(t), Dir: t.TempDir(), Logf: t.Logf,
		Topology: "hub-spokes-2nat", From: "spoke2", To: "spoke3", FromHost: "host2", ToHost: "host3",
		ToLAN: netip.MustParsePrefix("198.19.3.0/24"), Prefix: fmt.Sprintf("n%d", os.Getpid()%100000),
	}
	ctx := t.Context()
	sw, err := s2s.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, n := range []string{"hub", "spoke2", "spoke3"} {
				t.Logf("--- esphubd on %s:\n%s", n, sw.LogTail(n, 40))
			}
		}
		sw.Close()
	}()
	runs := 3
	if v, err := strconv.Atoi(os.Getenv("ESPHUB_S2S_RUNS")); err == nil && v > 0 {
		runs = v
	}
	res, err := sw.Measure(ctx, runs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("both spokes NATed, time to shortcut: %v", res)
	for i, r := range res.Runs {
		if r.Switch > 900*time.Millisecond || r.ViaHub >= 20 {
			t.Errorf("run %d took %v with %d echoes via the hub", i+1, r.Switch, r.ViaHub)
		}
	}

	// Steady state: the shortcut of the last run carries a continuous ping.
	w := &world{t: t, lab: sw.Lab(), dir: t.TempDir(), ctx: ctx}
	hub := &node{name: "hub", sock: filepath.Join(sw.Dir(), "hub.sock")}
	spoke2 := &node{name: "spoke2", sock: filepath.Join(sw.Dir(), "spoke2.sock")}
	sess, text := w.sessionsByID(hub)
	va2, ok := sess["spoke2.lab.example"]
	if !ok {
		t.Fatalf("no hub session for spoke2:\n%s", text)
	}
	capt := w.startCapture("spoke2", "wan", "udp port 4500")
	pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
	defer pcancel()
	dst := res.Runs[len(res.Runs)-1].Target.String()
	ping := w.lab.Command(pctx, "host2", "ping", "-n", "-i", "0.01", "-c", "150", "-s", strconv.Itoa(echoSize), "-W", "1", dst)
	var pingOut bytes.Buffer
	ping.Stdout, ping.Stderr = &pingOut, &pingOut
	if err := ping.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the ping under way
	before, err := w.hubRx(hub, va2.Interface)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // 100 echoes
	after, err := w.hubRx(hub, va2.Interface)
	if err != nil {
		t.Fatal(err)
	}
	_ = ping.Wait()
	capt.stop()
	if after-before > 2 {
		t.Errorf("the hub still receives spoke2's traffic: %s rx %d -> %d over 1 s", va2.Interface, before, after)
	}
	if !strings.Contains(pingOut.String(), " 0% packet loss") {
		t.Errorf("echoes lost over the shortcut:\n%s", pingOut.String())
	}
	direct, viaHub := 0, 0
	for _, p := range espPackets(t, capt.path) {
		if p.src != spoke2Priv || p.length < echoSize {
			continue
		}
		switch p.dst {
		case natB:
			direct++
		case hubWAN:
			viaHub++
		}
	}
	capture, _ := os.ReadFile(capt.path)
	if direct < 100 || viaHub > 2 || !strings.Contains(string(capture), spoke2Priv+".4500 > "+natB+".4500: UDP-encap: ESP") {
		t.Errorf("underlay capture on spoke2: %d echoes to NAT B, %d to the hub; want them all UDP-encapsulated to %s:4500\n%.3000s",
			direct, viaHub, natB, capture)
	}
	t.Logf("steady state: hub %s rx +%d over 1 s; spoke2 sent %d echoes to NAT B (%s:4500), %d to the hub",
		va2.Interface, after-before, direct, natB, viaHub)

	// The NAT extension at work: spoke2 reaches spoke3 at NAT B and shows
	// spoke3's own (claimed) address beside it.
	cache := w.text(spoke2, "show", "ip", "nhrp", "detail")
	if !strings.Contains(cache, "NBMA address: "+natB) || !strings.Contains(cache, "(Claimed NBMA address: "+spoke3Priv+")") {
		t.Errorf("spoke2's NHRP cache lacks NBMA %s claimed %s:\n%s", natB, spoke3Priv, cache)
	}
	t.Logf("spoke2:\n%s", cache)

	// The IPv6 overlay between the two NATed spokes takes the same path.
	pctx6, pcancel6 := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel6()
	ping6 := w.lab.Command(pctx6, "host2", "ping", "-6", "-n", "-i", "0.02", "-W", "1", "2001:db8:1:3::10")
	if err := ping6.Start(); err != nil {
		t.Fatal(err)
	}
	w.eventually(20*time.Second, "spoke2 IPv6 shortcut to 2001:db8:1:3::/64", func() (bool, string) {
		return w.shortcutTo(spoke2, "2001:db8:1:3::/64")
	})
	pcancel6()
	_ = ping6.Wait()
	if c6 := w.text(spoke2, "show", "ipv6", "nhrp"); !strings.Contains(c6, "NBMA address: "+natB) {
		t.Errorf("spoke2's IPv6 shortcut does not go to NAT B:\n%s", c6)
	}
}
