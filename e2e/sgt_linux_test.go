package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/swan"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// The hub's TrustSec configuration: its LAN is SGT 100 and its loopback
// SGT 200; it maps spoke1's LAN to 10 and spoke2's to 20 for untagged
// traffic. spoke1 tags its LAN 11 (not 10), so a decision on 11 proves the
// hub used the tag from the wire. The matrix: tag 11 may only ping the
// loopback and reach nothing on the LAN; 20 may ping the LAN.
const sgtHubCTS = `crypto ikev2 cts sgt
cts role-based sgt-map 198.19.0.0/24 sgt 100
cts role-based sgt-map 198.19.255.254 sgt 200
cts role-based sgt-map 198.19.1.0/24 sgt 10
cts role-based sgt-map 198.19.2.0/24 sgt 20
ip access-list role-based DENY_IP
 deny ip
ip access-list role-based PING
 permit icmp
 deny ip
cts role-based enforcement
cts role-based permissions from 11 to 100 DENY_IP
cts role-based permissions from 11 to 200 PING
cts role-based permissions from 20 to 100 PING
end
`

// cmdLua registers Wireshark's Cisco MetaData dissector for ESP next
// header 99: Wireshark decodes CMD after EtherType 0x8909 and in GRE, but
// nothing registers it as an IP protocol (wire-formats.md §1.3).
const cmdLua = `DissectorTable.get("ip.proto"):add(99, DissectorTable.get("ethertype"):get_dissector(0x8909))
`

// TestSGTInlineTagging is issue 11's SGT acceptance on hub-3spokes-nat:
// the hub and spoke1 both send CISCO-CTS-SGT, spoke2 does not, and a
// strongSwan peer never does. A capture on the internet side of the hub's
// link, decrypted by tshark with the keys esphubd logs, shows CMD (SGT 11)
// inside ESP with spoke1 only; the hub's permissions matrix drops and
// counts what it should.
func TestSGTInlineTagging(t *testing.T) { sgtScenario(t, "portable") }

// TestSGTInlineTaggingXDP is the same with the hub on the AF_XDP backend,
// whose workers then tag, strip and enforce.
func TestSGTInlineTaggingXDP(t *testing.T) { sgtScenario(t, "afxdp") }

func sgtScenario(t *testing.T, hubBackend string) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping", "nft", "tcpdump", "tshark", "ethtool", swan.Charon, swan.Swanctl)
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("hub-3spokes-nat"))
	w := newWorld(t, l, bin, "hub", "spoke1", "spoke2")
	ctx, dir := w.ctx, w.dir
	keylog := filepath.Join(dir, "esp_sa")
	w.nodes["hub"].extra = []string{"-esp-keylog", keylog}
	w.nodes["hub"].backend = hubBackend
	if hubBackend == "afxdp" {
		// The hub LAN's veth would hand XDP unfinished checksums
		// (dataplane/xdp explains why); real NICs do not.
		if out, err := l.Exec(ctx, "hubhost", "ethtool", "-K", "eth0", "tx", "off"); err != nil {
			t.Fatalf("hubhost: ethtool: %v %s", err, out)
		}
	}
	hub, s1, s2 := w.nodes["hub"], w.nodes["spoke1"], w.nodes["spoke2"]
	hubCfg := strings.Replace(readExample(t, "hub.cfg"), " peer spoke1\n",
		" peer swan\n  identity fqdn swan.lab.example\n  pre-shared-key 0 lab-swan-key-0123456789\n peer spoke1\n", 1)
	writeCfg(t, hub.cfg, strings.Replace(hubCfg, "\nend", "\n"+sgtHubCTS, 1))
	writeCfg(t, s1.cfg, strings.Replace(readExample(t, "spoke1.cfg"), "\nend", "\ncrypto ikev2 cts sgt\ncts role-based sgt-map 198.19.1.0/24 sgt 11\nend", 1))
	writeCfg(t, s2.cfg, strings.Replace(readExample(t, "spoke2.cfg"), "\nend", "\ncts role-based sgt-map 198.19.2.0/24 sgt 22\nend", 1))
	// Captured at the internet's end of the hub's link: the AF_XDP
	// backend's packets bypass the hub's own taps.
	cap := labtest.StartCapture(t, l, "inet", "hub", "esp or udp port 4500")
	for _, n := range []*node{hub, s1, s2} {
		w.start(n)
	}
	w.eventually(45*time.Second, "spoke1 and spoke2 sessions on the hub", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		_, a := s["spoke1.lab.example"]
		_, b := s["spoke2.lab.example"]
		return a && b, text
	})

	// The strongSwan site is the inet router (198.18.0.1) with a loopback subnet.
	startSwanSite(t, ctx, l)
	w.eventually(30*time.Second, "strongSwan session and route on the hub", func() (bool, string) {
		s, text := w.sessionsByID(hub)
		rows, rtext := w.routes(hub)
		_, ok := s["swan.lab.example"]
		_, rt := findRoute(rows, "198.19.250.0/24")
		return ok && rt, text + rtext
	})

	t.Run("negotiated only when both sides send the vendor ID", func(t *testing.T) {
		w.t = t
		var rows []struct {
			RemoteID string `json:"remote_id"`
			CTSSGT   bool   `json:"cts_sgt"`
		}
		if err := w.exec(hub, &rows, "show", "crypto", "ikev2", "sa"); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"spoke1.lab.example": true, "spoke2.lab.example": false, "swan.lab.example": false}
		for _, r := range rows {
			if v, ok := want[r.RemoteID]; ok && r.CTSSGT != v {
				t.Errorf("hub IKE SA with %s: cts_sgt %v, want %v", r.RemoteID, r.CTSSGT, v)
			}
		}
		text := w.text(hub, "show", "crypto", "ikev2", "sa", "detailed")
		if !strings.Contains(text, "Cisco Trust Security SGT is enabled") || !strings.Contains(text, "Cisco Trust Security SGT is disabled") {
			t.Errorf("show crypto ikev2 sa detailed should show one SA enabled and others disabled:\n%s", text)
		}
		if !strings.Contains(w.text(s1, "show", "crypto", "ikev2", "sa", "detailed"), "Cisco Trust Security SGT is enabled") {
			t.Error("spoke1 does not show SGT enabled")
		}
	})

	t.Run("matrix drops what it should and counts it", func(t *testing.T) {
		w.t = t
		// Allowed: 11 -> 200 (ping the hub's loopback), 20 -> 100 (spoke2's
		// untagged LAN, classified by the hub's own mapping), and the
		// strongSwan site (unknown -> 100, the default).
		for _, p := range [][2]string{{"host1", "198.19.255.254"}, {"host2", "198.19.0.10"}} {
			if err := w.ping(p[0], p[1]); err != nil {
				t.Error(err)
			}
		}
		if err := pingFrom(ctx, w, "inet", "198.19.250.1", "198.19.0.10"); err != nil {
			t.Errorf("strongSwan site -> hub LAN: %v", err)
		}
		// Denied: 11 -> 100.
		pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := l.Exec(pctx, "host1", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", "198.19.0.10")
		pcancel()
		if err == nil || !strings.Contains(string(out), "100% packet loss") {
			t.Errorf("host1 (SGT 11) -> hubhost (SGT 100) should be denied: %v\n%s", err, out)
		}
		var rows []struct {
			From        string `json:"from"`
			To          string `json:"to"`
			SWDenied    uint64 `json:"sw_denied"`
			SWPermitted uint64 `json:"sw_permitted"`
			HWDenied    uint64 `json:"hw_denied"`
			HWPermitted uint64 `json:"hw_permitted"`
		}
		if err := w.exec(hub, &rows, "show", "cts", "role-based", "counters"); err != nil {
			t.Fatal(err)
		}
		got := map[string][2]uint64{}
		for _, r := range rows {
			// The portable backend counts in the SW columns, AF_XDP in HW.
			hw := r.HWPermitted + r.HWDenied
			if sw := r.SWPermitted + r.SWDenied; (hubBackend == "afxdp" && sw != 0) || (hubBackend != "afxdp" && hw != 0) {
				t.Errorf("cell %s -> %s counted in the wrong columns: %+v", r.From, r.To, r)
			}
			got[r.From+">"+r.To] = [2]uint64{r.SWPermitted + r.HWPermitted, r.SWDenied + r.HWDenied}
		}
		text := w.text(hub, "show", "cts", "role-based", "counters")
		if c := got["11>100"]; c[0] != 0 || c[1] < 3 {
			t.Errorf("cell 11 -> 100 permitted/denied %v, want 0 / >= 3\n%s", c, text)
		}
		if c := got["11>200"]; c[0] < 2 || c[1] != 0 {
			t.Errorf("cell 11 -> 200 permitted/denied %v, want >= 2 / 0\n%s", c, text)
		}
		if c := got["20>100"]; c[0] < 2 || c[1] != 0 {
			t.Errorf("cell 20 -> 100 permitted/denied %v, want >= 2 / 0\n%s", c, text)
		}
		if c := got["*>*"]; c[0] == 0 {
			t.Errorf("default row permitted nothing (replies and the strongSwan site use it)\n%s", text)
		}
		var sgt []struct {
			SGT uint16 `json:"sgt"`
			Rx  uint64 `json:"rx_packets"`
			Tx  uint64 `json:"tx_packets"`
		}
		if err := w.exec(hub, &sgt, "show", "cts", "sgt", "counters"); err != nil {
			t.Fatal(err)
		}
		rx := map[uint16]uint64{}
		for _, r := range sgt {
			rx[r.SGT] = r.Rx
		}
		if rx[11] < 5 || rx[22] != 0 || rx[20] != 0 {
			t.Errorf("tags received by the hub: %v, want >= 5 of 11 and none from spoke2\n%s", rx, w.text(hub, "show", "cts", "sgt", "counters"))
		}
		if hubBackend == "afxdp" {
			w.checkXDPCarried(hub)
		}
		body := scrapeMetrics(t, l, "hub")
		for _, want := range []string{`esphub_sgacl_packets_total{action="deny",from="11",to="100"} 3`,
			`esphub_sgt_packets_total{direction="rx",sgt="11"}`, `esphub_dataplane_drops_total{reason="sgacl"} 3`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})

	t.Run("tshark sees CMD only inside spoke1's SAs", func(t *testing.T) {
		w.t = t
		cap.Stop()
		keys, err := os.ReadFile(keylog)
		if err != nil {
			t.Fatal(err)
		}
		lua := filepath.Join(dir, "cmd.lua")
		if err := os.WriteFile(lua, []byte(cmdLua), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-r", cap.Path, "-X", "lua_script:" + lua,
			"-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"}
		for _, line := range strings.Split(strings.TrimSpace(string(keys)), "\n") {
			args = append(args, "-o", "uat:esp_sa:"+line)
		}
		args = append(args, "-T", "fields", "-E", "separator=|", "-e", "ip.src", "-e", "ip.dst", "-e", "frame.protocols", "-e", "cmd.sgt", "-e", "esp.icv_good")
		cmd := exec.Command("tshark", args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark: %v: %s", err, stderr.String())
		}
		type tally struct{ icmp, cmd, sgt11, badICV int }
		by := map[string]*tally{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "|")
			if len(f) < 5 {
				continue
			}
			srcs, dsts := strings.Split(f[0], ","), strings.Split(f[1], ",")
			peer := srcs[0]
			if peer == "198.18.0.2" {
				peer = dsts[0]
			}
			tl := by[peer]
			if tl == nil {
				tl = &tally{}
				by[peer] = tl
			}
			protos := ":" + f[2] + ":"
			if strings.Contains(protos, ":icmp:") {
				tl.icmp++
			}
			if strings.Contains(protos, ":cmd:") {
				tl.cmd++
			}
			if f[3] == "11" {
				tl.sgt11++
			}
			if f[4] == "0" {
				tl.badICV++
			}
		}
		s1t, s2t, swt := by["198.18.1.2"], by["198.18.100.2"], by["198.18.0.1"]
		if s1t == nil || s2t == nil || swt == nil {
			t.Fatalf("capture lacks a peer's ESP: %v\n%s", by, out)
		}
		// spoke1: every decrypted ICMP packet is inside CMD; from spoke1 the tag is 11.
		if s1t.icmp == 0 || s1t.cmd != s1t.icmp || s1t.sgt11 == 0 || s1t.badICV != 0 {
			t.Errorf("spoke1 ESP: %+v, want every ICMP packet tagged, some with SGT 11, ICVs good", *s1t)
		}
		for name, tl := range map[string]*tally{"spoke2": s2t, "strongSwan": swt} {
			if tl.icmp == 0 || tl.cmd != 0 || tl.badICV != 0 {
				t.Errorf("%s ESP: %+v, want decrypted ICMP and no CMD", name, *tl)
			}
		}
		if t.Failed() {
			t.Logf("tshark:\n%s", out)
		}
	})
}

// pingFrom pings dst from node with a source address, allowing a retry
// for the first echo's neighbour resolution.
func pingFrom(ctx context.Context, w *world, node, src, dst string) error {
	var out []byte
	var err error
	for range 3 {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err = w.lab.Exec(pctx, node, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "3", "-I", src, dst)
		cancel()
		if err == nil && strings.Contains(string(out), " 0% packet loss") {
			return nil
		}
	}
	if err == nil {
		err = context.DeadlineExceeded
	}
	return &pingError{err: err, out: string(out)}
}

type pingError struct {
	err error
	out string
}

func (e *pingError) Error() string { return e.err.Error() + "\n" + e.out }
