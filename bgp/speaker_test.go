package bgp

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// routeLog collects OnRoutes snapshots.
type routeLog struct {
	mu   sync.Mutex
	last []Route
}

func (l *routeLog) set(rs []Route) { l.mu.Lock(); l.last = rs; l.mu.Unlock() }
func (l *routeLog) get() []Route   { l.mu.Lock(); defer l.mu.Unlock(); return l.last }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func find(rs []Route, rd, prefix string) (Route, bool) {
	for _, r := range rs {
		if r.RD == rd && r.Prefix.String() == prefix {
			return r, true
		}
	}
	return Route{}, false
}

// TestVPNv4BetweenSpeakers runs a "hub" (AS 65010, listening, dynamic
// neighbors from 127.0.0.0/24) and two "spokes" (AS 65100) that connect
// to it on loopback addresses. Each side's originated VPNv4 route arrives
// at the other with its label, RD, route target and next hop; a spoke's
// route is not passed on by the hub to the other spoke (export is local
// only), and a withdrawal removes it.
func TestVPNv4BetweenSpeakers(t *testing.T) {
	const port = 17917
	hubAddr := netip.MustParseAddr("127.0.0.1")
	var hubLog, s1Log, s2Log routeLog
	hub, err := Start(Config{ASN: 65010, RouterID: netip.MustParseAddr("198.19.255.254"), ListenAddrs: []netip.Addr{hubAddr},
		ListenPort: port, HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, ConnectRetry: time.Second,
		Dynamic:  []DynamicRange{{Prefix: netip.MustParsePrefix("127.0.0.0/24"), PeerASN: 65100, Multihop: 255}},
		OnRoutes: hubLog.set})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Stop()
	spoke := func(id string, log *routeLog) *Speaker {
		local := netip.MustParseAddr("127.0.0." + id)
		s, err := Start(Config{ASN: 65100, RouterID: netip.MustParseAddr("198.19.255." + id), ListenPort: -1,
			HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, ConnectRetry: time.Second,
			Neighbors: []Neighbor{{Addr: hubAddr, Port: port, PeerASN: 65010, LocalAddr: local, Multihop: 255}},
			OnRoutes:  log.set})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		return s
	}
	s1 := spoke("2", &s1Log)
	spoke("3", &s2Log)

	if err := hub.Originate(Route{RD: "65010:1", Prefix: netip.MustParsePrefix("198.19.0.0/24"), Label: 16,
		NextHop: hubAddr, RouteTargets: []string{"65010:1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s1.Originate(Route{RD: "65010:1", Prefix: netip.MustParsePrefix("198.19.1.0/24"), Label: 17,
		NextHop: netip.MustParseAddr("127.0.0.2"), RouteTargets: []string{"65010:1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s1.Originate(Route{RD: "65010:2", Prefix: netip.MustParsePrefix("198.19.1.0/24"), Label: 18,
		NextHop: netip.MustParseAddr("127.0.0.2"), RouteTargets: []string{"65010:2"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the spokes to learn the hub's route", func() bool {
		_, a := find(s1Log.get(), "65010:1", "198.19.0.0/24")
		_, b := find(s2Log.get(), "65010:1", "198.19.0.0/24")
		return a && b
	})
	r, _ := find(s2Log.get(), "65010:1", "198.19.0.0/24")
	if r.Label != 16 || r.NextHop != hubAddr || len(r.RouteTargets) != 1 || r.RouteTargets[0] != "65010:1" ||
		r.Peer != hubAddr || len(r.ASPath) != 1 || r.ASPath[0] != 65010 {
		t.Fatalf("spoke2 learned %+v", r)
	}
	waitFor(t, "the hub to learn both of spoke1's routes", func() bool { return len(hubLog.get()) == 2 })
	red, _ := find(hubLog.get(), "65010:1", "198.19.1.0/24")
	blue, _ := find(hubLog.get(), "65010:2", "198.19.1.0/24")
	if red.Label != 17 || blue.Label != 18 || red.NextHop != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("hub learned %+v", hubLog.get())
	}
	// Export is local only: spoke2 never hears spoke1's routes from the hub.
	time.Sleep(500 * time.Millisecond)
	if _, ok := find(s2Log.get(), "65010:1", "198.19.1.0/24"); ok {
		t.Fatalf("the hub passed spoke1's route on: %+v", s2Log.get())
	}
	peers := hub.Peers()
	if len(peers) != 2 || peers[0].State != "Established" || !peers[0].Dynamic || peers[0].ASN != 65100 {
		t.Fatalf("hub peers = %+v", peers)
	}
	if err := s1.Withdraw("65010:2", netip.MustParsePrefix("198.19.1.0/24")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the withdrawal", func() bool { return len(hubLog.get()) == 1 })
	if got := s1.Originated(); len(got) != 1 || got[0].Label != 17 {
		t.Fatalf("originated = %+v", got)
	}
}

func TestOriginateRejectsBadRoutes(t *testing.T) {
	s, err := Start(Config{ASN: 65010, RouterID: netip.MustParseAddr("198.19.255.254"), ListenPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for _, r := range []Route{
		{RD: "nonsense", Prefix: netip.MustParsePrefix("198.19.0.0/24"), Label: 16},
		{RD: "1:1", Prefix: netip.MustParsePrefix("2001:db8::/64"), Label: 16},
		{RD: "1:1", Prefix: netip.MustParsePrefix("198.19.0.0/24"), Label: 1 << 20},
		{RD: "1:1", Prefix: netip.MustParsePrefix("198.19.0.0/24"), Label: 16, RouteTargets: []string{"x"}},
	} {
		if err := s.Originate(r); err == nil {
			t.Errorf("Originate(%+v) accepted", r)
		}
	}
	if _, err := Start(Config{ASN: 0, RouterID: netip.MustParseAddr("198.19.255.254")}); err == nil {
		t.Error("AS 0 accepted")
	}
}
