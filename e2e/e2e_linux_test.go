// Package e2e holds esphub's end-to-end tests: the real esphubd binary on a
// hub and three spokes (two behind NAT) in lab namespaces, driven and
// inspected through the same API esphubctl uses.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esphub/esphub/control/api"
	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab"
	"github.com/esphub/esphub/lab/labtest"
)

// repoRoot is the module root, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// buildDaemon compiles esphubd once per test binary.
func buildDaemon(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "esphub-e2e-bin")
		if buildErr != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = "/usr/local/go/bin/go"
		}
		cmd := exec.Command(goBin, "build", "-o", binDir+"/", "./cmd/esphubd")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build esphubd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "esphubd")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// node is one router running esphubd.
type node struct {
	name, cfg, sock, log string
	backend              string   // -backend; portable when empty
	extra                []string // more esphubd flags
	cmd                  *exec.Cmd
	done                 chan struct{}
}

type world struct {
	t     *testing.T
	lab   *lab.Lab
	bin   string
	dir   string
	nodes map[string]*node
	ctx   context.Context
}

// newWorld sets up esphubd nodes of these names on l, each with its
// config, control socket and log in one fresh directory, and stops every
// node of w.nodes (also those added later) at cleanup, printing their
// logs' tails when the test failed.
func newWorld(t *testing.T, l *lab.Lab, bin string, names ...string) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	w := &world{t: t, lab: l, bin: bin, dir: dir, nodes: map[string]*node{}, ctx: ctx}
	for _, n := range names {
		w.nodes[n] = &node{name: n, cfg: filepath.Join(dir, n+".cfg"), sock: filepath.Join(dir, n+".sock"), log: filepath.Join(dir, n+".log")}
	}
	t.Cleanup(func() {
		for _, n := range w.nodes {
			w.stop(n)
		}
		cancel()
		if t.Failed() {
			for name, n := range w.nodes {
				t.Logf("--- esphubd on %s:\n%s", name, w.logTail(n))
			}
		}
	})
	return w
}

// start runs esphubd on n (again, if it was stopped).
func (w *world) start(n *node) {
	w.t.Helper()
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	backend := n.backend
	if backend == "" {
		backend = "portable"
	}
	args := []string{"-config", n.cfg, "-api", n.sock, "-backend", backend, "-log-level", "debug"}
	if n.name == "hub" {
		args = append(args, "-metrics", "127.0.0.1:9410")
	}
	args = append(args, n.extra...)
	n.cmd = w.lab.Command(w.ctx, n.name, append([]string{w.bin}, args...)...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		w.t.Fatalf("start esphubd on %s: %v", n.name, err)
	}
	n.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}(n.cmd, n.done)
}

// kill ends esphubd on n abruptly (SIGKILL: no Deletes), as a crash would.
func (w *world) kill(n *node) {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
}

// stop ends esphubd on n gracefully (SIGTERM).
func (w *world) stop(n *node) {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// exec runs an esphubctl command on a node's daemon and decodes its JSON.
func (w *world) exec(n *node, out any, words ...string) error {
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	s, err := api.NewClient(n.sock).Exec(ctx, words, "json")
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(s), out)
}

func (w *world) text(n *node, words ...string) string {
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	s, err := api.NewClient(n.sock).Exec(ctx, words, "text")
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// eventually polls cond until it holds or timeout passes.
func (w *world) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: not within %v; last state:\n%s", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type sessionRow struct {
	Interface string         `json:"interface"`
	Status    string         `json:"status"`
	Peer      netip.AddrPort `json:"peer"`
	RemoteID  string         `json:"remote_id"`
	Routes    []netip.Prefix `json:"accepted_routes"`
}

type ikeRow struct {
	Interface string `json:"interface"`
	Status    string `json:"status"`
	RemoteID  string `json:"remote_id"`
	LocalSPI  string `json:"local_spi"`
	Attempts  int    `json:"failed_attempts"`
	LastError string `json:"last_error"`
	Desc      string `json:"status_description"`
}

type ipsecRow struct {
	Interface string `json:"interface"`
	Children  []struct {
		InboundSPI  string `json:"inbound_spi"`
		OutboundSPI string `json:"outbound_spi"`
	} `json:"child_sas"`
}

type routeRow struct {
	Prefix   netip.Prefix `json:"prefix"`
	Source   string       `json:"source"`
	Distance int          `json:"distance"`
	Tag      int          `json:"tag"`
	NextHops []struct {
		Interface string `json:"interface"`
	} `json:"next_hops"`
}

// sessionsByID returns the hub's UP-ACTIVE sessions by peer identity.
func (w *world) sessionsByID(n *node) (map[string]sessionRow, string) {
	var rows []sessionRow
	if err := w.exec(n, &rows, "show", "crypto", "session"); err != nil {
		return nil, err.Error()
	}
	out := map[string]sessionRow{}
	for _, r := range rows {
		if r.Status == "UP-ACTIVE" {
			out[r.RemoteID] = r
		}
	}
	return out, w.text(n, "show", "crypto", "session")
}

func (w *world) routes(n *node) ([]routeRow, string) {
	var rows []routeRow
	if err := w.exec(n, &rows, "show", "ip", "route"); err != nil {
		return nil, err.Error()
	}
	return rows, w.text(n, "show", "ip", "route")
}

func findRoute(rows []routeRow, p string) (routeRow, bool) {
	for _, r := range rows {
		if r.Prefix.String() == p {
			return r, true
		}
	}
	return routeRow{}, false
}

// spis returns, per interface, the IKE SPI and Child SA SPIs of a node.
func (w *world) spis(n *node) map[string]string {
	var ikes []ikeRow
	var ips []ipsecRow
	if err := w.exec(n, &ikes, "show", "crypto", "ikev2", "sa"); err != nil {
		w.t.Fatal(err)
	}
	if err := w.exec(n, &ips, "show", "crypto", "ipsec", "sa"); err != nil {
		w.t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range ikes {
		if r.Status == "READY" {
			out[r.RemoteID+" ike"] = r.LocalSPI
		}
	}
	for _, r := range ips {
		for _, c := range r.Children {
			out[r.Interface] += c.InboundSPI + "/" + c.OutboundSPI + " "
		}
	}
	return out
}

func (w *world) ping(from, to string) error {
	var out []byte
	var err error
	for range 3 { // the first echo may wait for neighbour resolution
		ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
		out, err = w.lab.Exec(ctx, from, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "3", to)
		cancel()
		if err == nil && strings.Contains(string(out), " 0% packet loss") {
			return nil
		}
	}
	return fmt.Errorf("ping %s -> %s: %v\n%s", from, to, err, out)
}

func (w *world) logTail(n *node) string {
	b, _ := os.ReadFile(n.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}

// writeCfg replaces a node's configuration atomically, as an editor or a
// configuration manager does.
func writeCfg(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "hub-3spokes-nat", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withoutPeer removes a keyring peer block from a configuration.
func withoutPeer(cfg, peer string) string {
	var out []string
	skip := false
	for _, l := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(l, " peer ") {
			skip = strings.TrimSpace(l) == "peer "+peer
		} else if !strings.HasPrefix(l, "  ") {
			skip = false
		}
		if !skip {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHubAndSpokes is the acceptance suite of issue 6, on one shared
// hub-3spokes-nat topology; the subtests run in order and build on each
// other.
func TestHubAndSpokes(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "nft")
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("hub-3spokes-nat"))
	w := newWorld(t, l, bin, "hub", "spoke1", "spoke2", "spoke3")
	hub, s1, s2, s3 := w.nodes["hub"], w.nodes["spoke1"], w.nodes["spoke2"], w.nodes["spoke3"]
	fullHub := readExample(t, "hub.cfg")
	// The hub starts without spoke3's key; a reload adds it later.
	writeCfg(t, hub.cfg, withoutPeer(fullHub, "spoke3"))
	for _, n := range []*node{s1, s2, s3} {
		writeCfg(t, n.cfg, readExample(t, n.name+".cfg"))
	}
	for _, n := range []*node{hub, s1, s2, s3} {
		w.start(n)
	}

	ok := t.Run("spokes connect, two through NAT", func(t *testing.T) {
		w.t = t
		w.eventually(45*time.Second, "spoke1 and spoke2 sessions on the hub", func() (bool, string) {
			s, text := w.sessionsByID(hub)
			_, a := s["spoke1.lab.example"]
			_, b := s["spoke2.lab.example"]
			return a && b, text
		})
		// spoke3 is refused (no key on the hub yet) and keeps retrying.
		w.eventually(30*time.Second, "spoke3 retrying", func() (bool, string) {
			var rows []ikeRow
			if err := w.exec(s3, &rows, "show", "crypto", "ikev2", "sa"); err != nil {
				return false, err.Error()
			}
			for _, r := range rows {
				if r.Interface == "Tunnel0" && r.Status == "RETRY" && r.Attempts >= 1 {
					return true, ""
				}
			}
			return false, w.text(s3, "show", "crypto", "ikev2", "sa", "detailed")
		})
	})
	if !ok {
		t.FailNow()
	}

	t.Run("hosts reach each other through the hub", func(t *testing.T) {
		w.t = t
		for _, p := range [][2]string{{"host1", "198.19.0.10"}, {"host2", "198.19.0.10"}, {"host1", "198.19.2.10"}, {"hubhost", "198.19.2.10"}} {
			if err := w.ping(p[0], p[1]); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("config exchange routes with tag 1 distance 2", func(t *testing.T) {
		w.t = t
		sess, _ := w.sessionsByID(hub)
		va1 := sess["spoke1.lab.example"].Interface
		rows, text := w.routes(hub)
		for _, p := range []string{"198.19.1.0/24", "198.19.255.1/32"} {
			r, ok := findRoute(rows, p)
			if !ok || r.Tag != 1 || r.Distance != 2 || len(r.NextHops) != 1 || r.NextHops[0].Interface != va1 {
				t.Errorf("hub route %s: got %+v (found %v), want tag 1 distance 2 via %s\n%s", p, r, ok, va1, text)
			}
		}
		if !strings.Contains(text, "198.19.1.0/24 is directly connected, "+va1) {
			t.Errorf("hub show ip route lacks 198.19.1.0/24 via %s:\n%s", va1, text)
		}
		rows, text = w.routes(s2)
		r, ok := findRoute(rows, "198.19.0.0/16")
		if !ok || r.Tag != 1 || r.Distance != 2 || r.NextHops[0].Interface != "Tunnel0" {
			t.Errorf("spoke2 route 198.19.0.0/16: got %+v (found %v), want tag 1 distance 2 via Tunnel0\n%s", r, ok, text)
		}
	})

	t.Run("reload adding a spoke keeps other SPIs", func(t *testing.T) {
		w.t = t
		before := w.spis(hub)
		writeCfg(t, hub.cfg, fullHub)
		if err := w.exec(hub, nil, "reload"); err != nil {
			t.Fatalf("reload: %v", err)
		}
		w.eventually(60*time.Second, "spoke3 session after reload", func() (bool, string) {
			s, text := w.sessionsByID(hub)
			_, ok := s["spoke3.lab.example"]
			return ok, text
		})
		after := w.spis(hub)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s changed across reload: %q -> %q", k, v, after[k])
			}
		}
		if err := w.ping("host3", "198.19.1.10"); err != nil {
			t.Error(err)
		}
		// A bad configuration is refused with FILE:LINE:COL and the running
		// one kept, whether the reload comes from esphubctl or SIGHUP.
		writeCfg(t, hub.cfg, fullHub+"\ninterface Tunnel7\n tunnel mode bogus\n")
		err := w.exec(hub, nil, "reload")
		if err == nil || !strings.Contains(err.Error(), hub.cfg+":") {
			t.Errorf("reload of a bad configuration: err = %v, want FILE:LINE:COL", err)
		}
		if err := hub.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		w.eventually(10*time.Second, "SIGHUP reload refused in the log", func() (bool, string) {
			b, _ := os.ReadFile(hub.log)
			// Count the event's message only: each refusal's log line also
			// carries event=CONFIG-RELOAD_FAILED, and counting both would let
			// the test rewrite the file while the SIGHUP reload still reads it.
			return strings.Count(string(b), "%CONFIG-3-RELOAD_FAILED") >= 2 && strings.Contains(string(b), hub.cfg+":"), w.logTail(hub)
		})
		writeCfg(t, hub.cfg, fullHub)
		if s, text := w.sessionsByID(hub); len(s) != 3 {
			t.Errorf("sessions after a refused reload: %d, want 3\n%s", len(s), text)
		}
	})

	t.Run("prometheus metrics", func(t *testing.T) {
		w.t = t
		body := scrapeMetrics(t, l, "hub")
		for _, want := range []string{"esphub_sessions 3", `esphub_tunnel_packets_total{direction="rx",interface="Virtual-Access`, `esphub_dataplane_drops_total{reason="replay"}`, `esphub_ike_failures_total{notify=`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		if t.Failed() {
			t.Log(body)
		}
	})

	t.Run("liveness notices a dead spoke and restart restores it", func(t *testing.T) {
		w.t = t
		w.kill(s1)
		w.eventually(60*time.Second, "hub removes spoke1's session and routes", func() (bool, string) {
			s, text := w.sessionsByID(hub)
			rows, rtext := w.routes(hub)
			_, up := s["spoke1.lab.example"]
			_, rt := findRoute(rows, "198.19.1.0/24")
			return !up && !rt && rows != nil, text + rtext
		})
		w.start(s1)
		w.eventually(45*time.Second, "spoke1 back", func() (bool, string) {
			s, text := w.sessionsByID(hub)
			rows, _ := w.routes(hub)
			_, up := s["spoke1.lab.example"]
			_, rt := findRoute(rows, "198.19.1.0/24")
			return up && rt, text
		})
		if err := w.ping("host1", "198.19.3.10"); err != nil {
			t.Error(err)
		}
	})

	t.Run("unreachable peer backs off and retries", func(t *testing.T) {
		w.t = t
		before := w.spis(s2)
		cfg := strings.Replace(readExample(t, "spoke2.cfg"), " peer hub\n", " peer nobody\n  address 198.18.0.99\n  pre-shared-key 0 nobody-key\n peer hub\n", 1)
		cfg = strings.Replace(cfg, "\nend", `
interface Tunnel1
 description to a hub that does not answer
 ip unnumbered Loopback0
 tunnel source GigabitEthernet1
 tunnel mode ipsec ipv4
 tunnel destination 198.18.0.99
 tunnel protection ipsec profile hub
!
end`, 1)
		writeCfg(t, s2.cfg, cfg)
		if err := w.exec(s2, nil, "reload"); err != nil {
			t.Fatalf("reload: %v", err)
		}
		w.eventually(60*time.Second, "Tunnel1 in RETRY with failed attempts", func() (bool, string) {
			var rows []ikeRow
			if err := w.exec(s2, &rows, "show", "crypto", "ikev2", "sa"); err != nil {
				return false, err.Error()
			}
			for _, r := range rows {
				if r.Interface == "Tunnel1" && r.Status == "RETRY" && r.Attempts >= 1 && strings.Contains(r.Desc, "next attempt") {
					return true, ""
				}
			}
			return false, w.text(s2, "show", "crypto", "ikev2", "sa")
		})
		text := w.text(s2, "show", "crypto", "ikev2", "sa")
		if !strings.Contains(text, "198.18.0.99/500") || !strings.Contains(text, "RETRY") {
			t.Errorf("show crypto ikev2 sa does not show the retrying peer:\n%s", text)
		}
		after := w.spis(s2)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("spoke2 %s changed when Tunnel1 was added: %q -> %q", k, v, after[k])
			}
		}
	})
}

// TestStrongSwanAlongsideSpokes brings a strongSwan site-to-site peer up on
// the same hub as esphub spokes: the hub clones a Virtual-Access for it,
// installs a reverse route for the subnet it narrowed the selectors to, and
// traffic flows both ways while the spokes stay up.
func TestStrongSwanAlongsideSpokes(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "nft", swan.Charon, swan.Swanctl)
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("hub-3spokes-nat"))
	w := newWorld(t, l, bin, "hub", "spoke1", "spoke2")
	ctx := w.ctx
	hub, s1, s2 := w.nodes["hub"], w.nodes["spoke1"], w.nodes["spoke2"]
	hubCfg := strings.Replace(readExample(t, "hub.cfg"), " peer spoke1\n",
		" peer swan\n  identity fqdn swan.lab.example\n  pre-shared-key 0 lab-swan-key-0123456789\n peer spoke1\n", 1)
	writeCfg(t, hub.cfg, hubCfg)
	writeCfg(t, s1.cfg, readExample(t, "spoke1.cfg"))
	writeCfg(t, s2.cfg, readExample(t, "spoke2.cfg"))
	for _, n := range []*node{hub, s1, s2} {
		w.start(n)
	}
	w.eventually(45*time.Second, "spoke sessions", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		return len(s) == 2, text
	})

	sw := startSwanSite(t, ctx, l)
	var va string
	w.eventually(30*time.Second, "strongSwan session and reverse route on the hub", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		row, ok := s["swan.lab.example"]
		if !ok {
			return false, text
		}
		va = row.Interface
		rows, rtext := w.routes(hub)
		r, ok := findRoute(rows, "198.19.250.0/24")
		return ok && r.NextHops[0].Interface == va && len(s) == 3, text + rtext
	})
	text := w.text(hub, "show", "crypto", "session")
	if !strings.Contains(text, "permit ip 198.19.0.0/255.255.255.0 198.19.250.0/255.255.255.0") {
		t.Errorf("the strongSwan session's flow is missing from show crypto session:\n%s", text)
	}
	ctxp, cancelp := context.WithTimeout(ctx, 30*time.Second)
	defer cancelp()
	var out []byte
	var err error
	for range 3 {
		out, err = l.Exec(ctxp, "inet", "ping", "-n", "-c", "2", "-i", "0.2", "-W", "3", "-I", "198.19.250.1", "198.19.0.10")
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("strongSwan site -> hub LAN through the tunnel: %v\n%s\n%s", err, out, w.text(hub, "show", "dataplane"))
	}
	sas, err := sw.ListSAs(ctxp)
	if err != nil || len(sas) != 1 {
		t.Fatalf("strongSwan SAs: %v %+v", err, sas)
	}
	if c, ok := sas[0].Child("net", "INSTALLED"); !ok || c.PacketsIn == 0 {
		t.Errorf("strongSwan child SA received nothing: %+v", sas[0].Children)
	}
	// The spokes are unaffected.
	if err := w.ping("host1", "198.19.2.10"); err != nil {
		t.Error(err)
	}
}

// TestGREModeDualStack runs the hub-2spokes examples: GRE over
// transport-mode ESP (raw ESP, no NAT), IPv4 and IPv6 LANs exchanged in
// the configuration payload, traffic of both families through the hub.
func TestGREModeDualStack(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping")
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("hub-2spokes"))
	w := newWorld(t, l, bin, "hub", "spoke1", "spoke2")
	for name, n := range w.nodes {
		b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "hub-2spokes", name+".cfg"))
		if err != nil {
			t.Fatal(err)
		}
		writeCfg(t, n.cfg, string(b))
	}
	hub := w.nodes["hub"]
	for _, n := range w.nodes {
		w.start(n)
	}
	w.eventually(45*time.Second, "two GRE sessions with their IPv6 routes", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		var rows []routeRow
		if err := w.exec(hub, &rows, "show", "ipv6", "route"); err != nil {
			return false, err.Error()
		}
		_, v6 := findRoute(rows, "2001:db8:1:2::/64")
		return len(s) == 2 && v6, text
	})
	for _, p := range [][2]string{{"host1", "198.19.0.10"}, {"host1", "2001:db8:1::10"}, {"host1", "198.19.2.10"}, {"host2", "2001:db8:1:1::10"}} {
		if err := w.ping(p[0], p[1]); err != nil {
			t.Error(err)
		}
	}
	var dp struct {
		Tunnels []struct {
			Config struct {
				Mode  int  `json:"Mode"`
				Encap bool `json:"Encap"`
			}
			RxPackets, TxPackets uint64
		} `json:"tunnels"`
	}
	if err := w.exec(hub, &dp, "show", "dataplane"); err != nil {
		t.Fatal(err)
	}
	if len(dp.Tunnels) != 2 {
		t.Fatalf("hub tunnels: %+v", dp.Tunnels)
	}
	for _, tu := range dp.Tunnels {
		// The lab routes the LANs in the clear too: counters prove the
		// traffic took the tunnels.
		if tu.Config.Mode != 1 || tu.Config.Encap || tu.RxPackets == 0 || tu.TxPackets == 0 {
			t.Errorf("tunnel %+v: want GRE mode, raw ESP, traffic both ways\n%s", tu, w.text(hub, "show", "dataplane"))
		}
	}
	text := w.text(hub, "show", "crypto", "session")
	if !strings.Contains(text, "IPSEC FLOW: permit 47 host 198.18.0.2 host 198.18.1.2") {
		t.Errorf("GRE flow missing:\n%s", text)
	}
}

// startSwanSite makes the hub-3spokes-nat lab's inet router (198.18.0.1, on
// the hub's link) a strongSwan site protecting a loopback subnet of its own,
// 198.19.250.0/24, with a PSK session to the hub that it initiates before
// returning. strongSwan stops in t.Cleanup.
func startSwanSite(t *testing.T, ctx context.Context, l *lab.Lab) *swan.Instance {
	t.Helper()
	if _, err := l.Exec(ctx, "inet", "ip", "addr", "add", "198.19.250.1/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	sw := swan.StartT(t, l.Netns("inet"), swan.Config{
		Name: "swan",
		Conns: []swan.Conn{{
			Name: "hub", LocalAddrs: []string{"198.18.0.1"}, RemoteAddrs: []string{"198.18.0.2"},
			Proposals: []string{"aes256gcm16-prfsha256-ecp256"}, LocalID: "swan.lab.example", RemoteID: "hub.lab.example",
			Children: []swan.Child{{Name: "net", LocalTS: []string{"198.19.250.0/24"}, RemoteTS: []string{"198.19.0.0/24"},
				ESPProposals: []string{"aes256gcm16"}}},
		}},
		Secrets: []swan.Secret{{Name: "hub", IDs: []string{"swan.lab.example", "hub.lab.example"}, PSK: "lab-swan-key-0123456789"}},
	})
	ictx, icancel := context.WithTimeout(ctx, time.Minute)
	defer icancel()
	if err := sw.Initiate(ictx, "hub", "net"); err != nil {
		t.Fatalf("strongSwan initiate: %v\n%s", err, sw.LogTail(30))
	}
	return sw
}

// scrapeMetrics fetches esphubd's Prometheus page (-metrics 127.0.0.1:9410)
// from inside the lab node's namespace; any error fails the test.
func scrapeMetrics(t *testing.T, l *lab.Lab, node string) string {
	t.Helper()
	var body string
	err := l.Do(node, func() error {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:9410", 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte("GET /metrics HTTP/1.0\r\nHost: " + node + "\r\n\r\n")); err != nil {
			return err
		}
		b, err := io.ReadAll(conn)
		body = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return body
}
