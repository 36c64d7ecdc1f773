package control

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/esphub/esphub/control/rib"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/ike/transport"
)

// fakeKernel's overlay-device addresses (KernelAddresses), kept beside it.
var fakeAddrs = struct {
	sync.Mutex
	m map[*fakeKernel]map[netip.Prefix]bool
}{m: map[*fakeKernel]map[netip.Prefix]bool{}}

func (k *fakeKernel) AddAddress(vrf string, p netip.Prefix) error {
	fakeAddrs.Lock()
	defer fakeAddrs.Unlock()
	if fakeAddrs.m[k] == nil {
		fakeAddrs.m[k] = map[netip.Prefix]bool{}
	}
	fakeAddrs.m[k][p] = true
	return nil
}

func (k *fakeKernel) DeleteAddress(vrf string, p netip.Prefix) error {
	fakeAddrs.Lock()
	defer fakeAddrs.Unlock()
	delete(fakeAddrs.m[k], p)
	return nil
}

func (k *fakeKernel) addrs() []netip.Prefix {
	fakeAddrs.Lock()
	defer fakeAddrs.Unlock()
	var out []netip.Prefix
	for p := range fakeAddrs.m[k] {
		out = append(out, p)
	}
	return out
}

// A spoke whose tunnel says `ip address negotiated` puts the address the
// hub's pool assigned on its overlay device and in its RIB as a local
// route (delivered to the host, not the tunnel), shows it, and removes it
// when the session goes; a reconnect brings the (new) address back.
func TestSpokeNegotiatedAddress(t *testing.T) {
	hubC := strings.Replace(hubCfg, " route set interface\n", " pool spokes\n route set interface\n", 1) +
		"ip local pool spokes 198.19.100.1 198.19.100.20\n"
	spokeC := strings.Replace(spokeCfg, "interface Tunnel0\n ip unnumbered Loopback0\n", "interface Tunnel0\n ip address negotiated\n", 1)
	net := transport.NewMemNetwork(transport.MemOptions{})
	hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubC))
	spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeC))

	var assigned netip.Prefix
	waitFor(t, "the negotiated address on the spoke", func() bool {
		s := spoke.d.Sessions()
		if len(s) != 1 || len(s[0].Addresses) != 1 {
			return false
		}
		assigned = s[0].Addresses[0]
		return true
	})
	// The address the hub's pool handed out is the one the spoke configured.
	hs := hub.d.Sessions()
	if len(hs) != 1 || !containsPrefix(hs[0].Routes, assigned) {
		t.Fatalf("spoke configured %v; hub session routes %v", assigned, hs)
	}
	if assigned.Addr().Compare(netip.MustParseAddr("198.19.100.1")) < 0 || assigned.Addr().Compare(netip.MustParseAddr("198.19.100.20")) > 0 {
		t.Errorf("negotiated %v is outside the hub's pool", assigned)
	}
	if got := spoke.kernel.addrs(); len(got) != 1 || got[0] != assigned {
		t.Errorf("overlay device addresses %v, want %v", got, assigned)
	}
	r, ok := spoke.d.RIB().Best("", assigned)
	if !ok || r.Source != rib.Local || r.NextHops[0].Interface != "Tunnel0" {
		t.Errorf("RIB %v, want a local route on Tunnel0", r)
	}
	waitFor(t, "the negotiated address delivered to the host", func() bool {
		nh, ok := spoke.dp.Lookup(0, assigned.Addr())
		return ok && nh.Kind == dataplane.NextHopHost && !spoke.kernel.has(assigned.String())
	})
	if txt := spoke.run(t, "show", "crypto", "session", "detail").Text; !strings.Contains(txt, "Negotiated address: "+assigned.String()+" on Tunnel0") {
		t.Errorf("show crypto session detail:\n%s", txt)
	}
	if txt := spoke.run(t, "show", "ip", "route").Text; !strings.Contains(txt, "L        "+assigned.String()+" is directly connected, Tunnel0") {
		t.Errorf("show ip route:\n%s", txt)
	}

	// Session cleared: the spoke reconnects and gets an address again.
	old := spoke.d.Sessions()[0].IKESPI
	hub.run(t, "clear", "crypto", "session")
	waitFor(t, "a new session with a negotiated address", func() bool {
		s := spoke.d.Sessions()
		if len(s) != 1 || s[0].IKESPI == old || len(s[0].Addresses) != 1 {
			return false
		}
		got := spoke.kernel.addrs()
		return len(got) == 1 && got[0] == s[0].Addresses[0]
	})
	// The hub goes away (its Deletes end the session): the address goes
	// and stays gone while the spoke retries.
	hub.cancel()
	waitFor(t, "the negotiated address removed with the session", func() bool {
		_, inRIB := spoke.d.RIB().Best("", assigned)
		return len(spoke.d.Sessions()) == 0 && len(spoke.kernel.addrs()) == 0 && !inRIB
	})
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
