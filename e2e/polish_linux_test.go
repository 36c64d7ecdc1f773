package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// A spoke whose Tunnel0 says `ip address negotiated` configures the
// address the hub's `ip local pool` assigned on its overlay device: the
// spoke's own traffic into the overlay leaves from it and is answered. A
// hub reload that changes the route set names the session that keeps the
// old one and leaves its SAs alone; a reload reports the hash of the file
// it applied.
func TestSpokeNegotiatedAddressAndReloadHash(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommands(t, "ip", "ping")
	bin := buildDaemon(t)
	l := labtest.Up(t, labtest.Topology("hub-2spokes"))
	w := newWorld(t, l, bin, "hub", "spoke1")
	ctx := w.ctx
	cfgs := map[string]string{}
	for _, name := range []string{"hub", "spoke1"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "hub-2spokes", name+".cfg"))
		if err != nil {
			t.Fatal(err)
		}
		cfgs[name] = string(b)
	}
	replace := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("example changed: %q not found", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	cfgs["hub"] = replace(cfgs["hub"], "crypto ikev2 authorization policy default\n", "crypto ikev2 authorization policy default\n pool spokes\n")
	cfgs["hub"] = replace(cfgs["hub"], "\nend", "\nip local pool spokes 198.19.100.1 198.19.100.20\nend")
	cfgs["spoke1"] = replace(cfgs["spoke1"], "interface Tunnel0\n description to the hub\n ip unnumbered Loopback0\n", "interface Tunnel0\n description to the hub\n ip address negotiated\n")
	for name, text := range cfgs {
		writeCfg(t, w.nodes[name].cfg, text)
	}
	hub, spoke := w.nodes["hub"], w.nodes["spoke1"]
	w.start(hub)
	w.start(spoke)

	type row struct {
		Interface string         `json:"interface"`
		Status    string         `json:"status"`
		Routes    []netip.Prefix `json:"accepted_routes"`
		Addresses []netip.Prefix `json:"negotiated_addresses"`
	}
	var vip netip.Prefix
	w.eventually(45*time.Second, "spoke1's negotiated address", func() (bool, string) {
		var rows []row
		if err := w.exec(spoke, &rows, "show", "crypto", "session", "detail"); err != nil {
			return false, err.Error()
		}
		if len(rows) != 1 || rows[0].Status != "UP-ACTIVE" || len(rows[0].Addresses) != 1 {
			return false, w.text(spoke, "show", "crypto", "session", "detail")
		}
		vip = rows[0].Addresses[0]
		return true, ""
	})
	// The hub assigned it from its pool and routes it to spoke1's session.
	var hubRows []row
	if err := w.exec(hub, &hubRows, "show", "crypto", "session"); err != nil {
		t.Fatal(err)
	}
	if len(hubRows) != 1 || !containsPrefix(hubRows[0].Routes, vip) {
		t.Fatalf("spoke1 configured %v; hub sessions %+v", vip, hubRows)
	}
	if !netip.MustParsePrefix("198.19.100.0/27").Contains(vip.Addr()) {
		t.Errorf("negotiated %v is outside the hub's pool", vip)
	}
	out, err := l.Exec(ctx, "spoke1", "ip", "-o", "addr", "show", "dev", "esphub0")
	if err != nil || !strings.Contains(string(out), " "+vip.String()) {
		t.Fatalf("esphub0 on spoke1 (%v):\n%s\nwant %v", err, out, vip)
	}
	// The spoke's own packets to the hub's LAN leave from the negotiated
	// address, and the answers come back through the tunnel.
	out, err = l.Exec(ctx, "spoke1", "ip", "route", "get", "198.19.0.10")
	if err != nil || !strings.Contains(string(out), "dev esphub0") || !strings.Contains(string(out), "src "+vip.Addr().String()) {
		t.Fatalf("ip route get 198.19.0.10 on spoke1 (%v): %s; want dev esphub0 src %v", err, out, vip.Addr())
	}
	for _, to := range []string{"198.19.0.10", "198.19.255.254"} {
		if err := w.ping("spoke1", to); err != nil {
			t.Error(err)
		}
	}

	// A hub reload that changes the route set: spoke1 keeps what it got in
	// IKE_AUTH (IKEv2 cannot resend it), the reload says so, and the
	// session and its SPIs stay.
	before := w.spis(hub)
	cfgs["hub"] = replace(cfgs["hub"], "ip access-list standard overlay\n permit 198.19.0.0 0.0.255.255\n",
		"ip access-list standard overlay\n permit 198.19.0.0 0.0.255.255\n permit 198.19.200.0 0.0.0.255\n")
	writeCfg(t, hub.cfg, cfgs["hub"])
	var hubRes struct {
		Changes []string `json:"changes"`
	}
	if err := w.exec(hub, &hubRes, "reload"); err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(hubRes.Changes, "\n"); !strings.Contains(s, "1 session(s) keep the old routes/address") || !strings.Contains(s, "(route set)") {
		t.Errorf("hub reload summary:\n%s\nwant spoke1's session named as keeping the old route set", s)
	}
	if after := w.spis(hub); !maps.Equal(before, after) {
		t.Errorf("the route-set reload disturbed the session: %v -> %v", before, after)
	}
	if txt := w.text(hub, "show", "crypto", "session", "detail"); !strings.Contains(txt, "applies on reconnect): route set") {
		t.Errorf("show crypto session detail:\n%s", txt)
	}

	// esphubctl reload names the file it applied by line count and hash.
	var res struct {
		File    string   `json:"file"`
		SHA256  string   `json:"sha256"`
		Lines   int      `json:"lines"`
		Changes []string `json:"changes"`
	}
	if err := w.exec(spoke, &res, "reload"); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(cfgs["spoke1"]))
	if res.File != spoke.cfg || res.SHA256 != hex.EncodeToString(sum[:]) || res.Lines != strings.Count(cfgs["spoke1"], "\n") {
		t.Errorf("reload reported %+v; want %s, sha256 %x, %d lines", res, spoke.cfg, sum, strings.Count(cfgs["spoke1"], "\n"))
	}
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
