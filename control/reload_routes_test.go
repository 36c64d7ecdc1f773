package control

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/ike/transport"
)

// A reload that changes route accept re-applies the routes learned from
// established peers with the new tag and distance at once; one that
// changes what we send (route set access-list) leaves the session as it is
// and says it keeps the old routes until it reconnects; static routes
// through a tunnel interface follow the reload; no session is disturbed.
func TestReloadReappliesSessionRoutes(t *testing.T) {
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubCfg))
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeCfg))
	spokeLAN := netip.MustParsePrefix("198.19.1.0/24")
	waitFor(t, "the spoke's LAN on the hub", func() bool {
		_, ok := hub.d.RIB().Best("", spokeLAN)
		return ok && len(spoke.d.Sessions()) == 1
	})
	hubSPI, spokeSPI := hub.d.Sessions()[0].IKESPI, spoke.d.Sessions()[0].IKESPI

	// Nothing that the sessions use changed: nothing re-applied, nothing stale.
	changes := hub.d.Reload(parse(t, "hub.cfg", strings.Replace(hubCfg, "hostname hub", "hostname hub-a", 1)))
	if s := strings.Join(changes, "\n"); strings.Contains(s, "re-applied") || strings.Contains(s, "keep the old") {
		t.Errorf("unrelated reload touched the session routes:\n%s", s)
	}

	// route accept: tag 7 distance 5 from now on, for the established session too.
	cfg2 := strings.Replace(hubCfg, "route accept any tag 1 distance 2", "route accept any tag 7 distance 5", 1)
	changes = hub.d.Reload(parse(t, "hub.cfg", cfg2))
	if r, _ := hub.d.RIB().Best("", spokeLAN); r.Source != rib.IKEv2 || r.Tag != 7 || r.Distance != 5 || r.NextHops[0].Interface != "Virtual-Access1" {
		t.Errorf("after reload %v, want IKEv2 tag 7 distance 5 via Virtual-Access1", r)
	}
	if s := strings.Join(changes, "\n"); !strings.Contains(s, "Virtual-Access1: 2 route(s)") || strings.Contains(s, "keep the old") {
		t.Errorf("summary:\n%s\nwant Virtual-Access1's two learned routes re-applied and nothing stale", s)
	}

	// no route accept any: the learned routes go; putting it back restores them.
	changes = hub.d.Reload(parse(t, "hub.cfg", strings.Replace(hubCfg, "route accept any tag 1 distance 2", "no route accept any", 1)))
	if _, ok := hub.d.RIB().Best("", spokeLAN); ok {
		t.Errorf("a learned route survived no route accept any: %v", changes)
	}
	hub.d.Reload(parse(t, "hub.cfg", cfg2))
	if r, ok := hub.d.RIB().Best("", spokeLAN); !ok || r.Tag != 7 {
		t.Errorf("route accept restored, route %v %v", r, ok)
	}

	// route set access-list: the spoke got the old list in IKE_AUTH and
	// keeps it; the summary names the session.
	cfg3 := strings.Replace(cfg2, " permit 198.19.0.0 0.0.255.255\n", " permit 198.19.0.0 0.0.255.255\n permit 198.19.200.0 0.0.0.255\n", 1)
	changes = hub.d.Reload(parse(t, "hub.cfg", cfg3))
	if s := strings.Join(changes, "\n"); !strings.Contains(s, "1 session(s) keep the old routes/address") || !strings.Contains(s, "Virtual-Access1 (route set)") {
		t.Errorf("summary:\n%s\nwant Virtual-Access1 named as keeping the old route set", s)
	}
	if txt := hub.run(t, "show", "crypto", "session", "detail").Text; !strings.Contains(txt, "Changed by a reload since setup (applies on reconnect): route set") {
		t.Errorf("show crypto session detail does not say the session keeps the old route set:\n%s", txt)
	}
	if _, ok := spoke.d.RIB().Best("", netip.MustParsePrefix("198.19.200.0/24")); ok {
		t.Error("the spoke learned a route set without a new IKE_AUTH")
	}

	// A static route through the spoke's tunnel follows a reload, and goes
	// with the next one.
	static := netip.MustParsePrefix("198.19.50.0/24")
	withStatic := strings.Replace(spokeCfg, "end\n", "ip route 198.19.50.0 255.255.255.0 Tunnel0\nend\n", 1)
	spoke.d.Reload(parse(t, "s1.cfg", withStatic))
	if r, ok := spoke.d.RIB().Best("", static); !ok || r.Source != rib.Static || r.NextHops[0].Interface != "Tunnel0" {
		t.Errorf("static route through Tunnel0 after reload: %v %v", r, ok)
	}
	waitFor(t, "the static route steered into the overlay", func() bool { return spoke.kernel.has(static.String()) })
	spoke.d.Reload(parse(t, "s1.cfg", spokeCfg))
	if _, ok := spoke.d.RIB().Best("", static); ok {
		t.Error("static route through Tunnel0 survived its removal")
	}

	time.Sleep(100 * time.Millisecond)
	if h, s := hub.d.Sessions(), spoke.d.Sessions(); len(h) != 1 || len(s) != 1 || h[0].IKESPI != hubSPI || s[0].IKESPI != spokeSPI {
		t.Errorf("reloads disturbed the sessions")
	}

	// After a reconnect the spoke gets the new route set.
	hub.run(t, "clear", "crypto", "session")
	waitFor(t, "the new route set on the spoke", func() bool {
		_, ok := spoke.d.RIB().Best("", netip.MustParsePrefix("198.19.200.0/24"))
		return ok
	})
	waitFor(t, "the hub's new session", func() bool { h := hub.d.Sessions(); return len(h) == 1 && h[0].IKESPI != hubSPI })
	if h := hub.d.Sessions(); len(h[0].Stale) != 0 {
		t.Errorf("a new session is marked stale: %v", h[0].Stale)
	}
}
