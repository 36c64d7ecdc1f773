package nhrp

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock fires timers in deadline order when the test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	when    time.Time
	seq     int
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// next pops the earliest due timer at or before limit.
func (c *fakeClock) next(limit time.Time) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.timers[:0]
	for _, t := range c.timers {
		if !t.stopped {
			live = append(live, t)
		}
	}
	c.timers = live
	sort.SliceStable(c.timers, func(i, j int) bool {
		if !c.timers[i].when.Equal(c.timers[j].when) {
			return c.timers[i].when.Before(c.timers[j].when)
		}
		return c.timers[i].seq < c.timers[j].seq
	})
	if len(c.timers) == 0 || c.timers[0].when.After(limit) {
		return nil
	}
	t := c.timers[0]
	t.stopped = true
	c.timers = c.timers[1:]
	if t.when.After(c.now) {
		c.now = t.when
	}
	return t
}

// rib is a longest-prefix-match table with static routes and the shortcuts
// a Node installs; on equal prefixes the lower distance wins.
type rib struct {
	mu     sync.Mutex
	routes []ribRoute
	log    []string
}

type ribRoute struct {
	Route
	distance int
}

func (r *rib) add(prefix string, tunnel string, local bool) {
	r.routes = append(r.routes, ribRoute{Route: Route{Prefix: netip.MustParsePrefix(prefix), Tunnel: tunnel, Local: local}, distance: 1})
}

func (r *rib) Lookup(dst netip.Addr) (Route, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	best := -1
	for i, rt := range r.routes {
		if !rt.Prefix.Contains(dst) {
			continue
		}
		if best < 0 || rt.Prefix.Bits() > r.routes[best].Prefix.Bits() ||
			(rt.Prefix.Bits() == r.routes[best].Prefix.Bits() && rt.distance < r.routes[best].distance) {
			best = i
		}
	}
	if best < 0 {
		return Route{}, false
	}
	return r.routes[best].Route, true
}

func (r *rib) InstallShortcut(s ShortcutRoute) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := int(s.Distance)
	if s.Kind == RouteNHO {
		d = 1 // overrides the covering route's next hop
	}
	r.routes = append(r.routes, ribRoute{Route: Route{Prefix: s.Prefix, Tunnel: s.Tunnel, NextHop: s.NextHop, Shortcut: true, Label: s.Label}, distance: d})
	r.log = append(r.log, fmt.Sprintf("+%s via %s %s [%d]", s.Prefix, s.NextHop, s.Tunnel, s.Distance))
	return nil
}

func (r *rib) RemoveShortcut(s ShortcutRoute) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, rt := range r.routes {
		if rt.Shortcut && rt.Prefix == s.Prefix && rt.Tunnel == s.Tunnel && rt.NextHop == s.NextHop {
			r.routes = append(r.routes[:i], r.routes[i+1:]...)
			r.log = append(r.log, fmt.Sprintf("-%s via %s %s", s.Prefix, s.NextHop, s.Tunnel))
			return nil
		}
	}
	return fmt.Errorf("remove %v: not installed", s.Prefix)
}

func (r *rib) shortcuts() []Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Route
	for _, rt := range r.routes {
		if rt.Shortcut {
			out = append(out, rt.Route)
		}
	}
	return out
}

// router is one simulated device: a Node with its RIB.
type router struct {
	name     string
	node     *Node
	rib      *rib
	nbma     netip.Addr // own (private if NATed) underlay address
	public   netip.Addr // as others see it
	overlay  netip.Addr
	lan      netip.Prefix
	usage    map[netip.Prefix]uint64
	initiate []InitiateRequest
	lab      *lab
	// noConnect makes this router's own IKEv2 initiations never complete.
	noConnect bool
	released  []string // tunnels the Node released
	// label is the router's VPN label for the (one) VRF, when the lab
	// runs the Nodes as VRF instances of an MPLS overlay.
	label uint32
}

// LocalLabel implements VRFLabels.
func (r *router) LocalLabel() (uint32, bool) { return r.label, r.label != 0 }

// PeerLabel implements VRFLabels: the far end's label.
func (r *router) PeerLabel(tunnel string) (uint32, bool) {
	far, ok := r.lab.links[end{r, tunnel}]
	if !ok {
		return 0, false
	}
	return far.r.label, far.r.label != 0
}

func (r *router) Initiate(req InitiateRequest) error {
	r.initiate = append(r.initiate, req)
	if r.noConnect {
		return nil
	}
	r.lab.events = append(r.lab.events, func() { r.lab.connect(r, req) })
	return nil
}

func (r *router) PacketsVia(s ShortcutRoute) uint64 { return r.usage[s.Prefix] }

// Release simulates the daemon deleting the IKE SA of a spoke-to-spoke
// tunnel: both ends go down.
func (r *router) Release(tunnel string) {
	r.released = append(r.released, tunnel)
	l := r.lab
	l.events = append(l.events, func() {
		far, ok := l.links[end{r, tunnel}]
		if !ok {
			return
		}
		delete(l.links, end{r, tunnel})
		delete(l.links, far)
		r.node.TunnelDown(tunnel)
		far.r.node.TunnelDown(far.tunnel)
	})
}

func (r *router) SendNHRP(tunnel string, pkt []byte) error {
	l := r.lab
	far, ok := l.links[end{r, tunnel}]
	if !ok {
		return fmt.Errorf("%s: no link on %s", r.name, tunnel)
	}
	l.sent = append(l.sent, sentPkt{from: r, tunnel: tunnel, pkt: append([]byte(nil), pkt...)})
	if l.cut[end{r, tunnel}] {
		return nil
	}
	if l.installing[far] {
		// The far end has not installed its Child SA yet: as on the wire,
		// the packet cannot be decrypted and is lost.
		l.lost++
		return nil
	}
	b := append([]byte(nil), pkt...)
	l.events = append(l.events, func() { far.r.node.Receive(far.tunnel, b) })
	return nil
}

type end struct {
	r      *router
	tunnel string
}

type sentPkt struct {
	from   *router
	tunnel string
	pkt    []byte
}

// lab is a hub with spokes, linked in memory; packets are delivered when the
// test pumps the event queue.
type lab struct {
	t      *testing.T
	clock  *fakeClock
	hub    *router
	spokes []*router
	links  map[end]end
	cut    map[end]bool
	// installing marks tunnel ends whose IKE_AUTH response is still on its
	// way (the initiator's side, while the responder's is already up).
	installing map[end]bool
	lost       int // packets sent to an end still installing
	events     []func()
	sent       []sentPkt
	nextVA     map[*router]int
	hubFwd     int // data packets the hub forwarded spoke to spoke
	// lenient ignores IKEv2 toward unknown peers (fuzzed requests).
	lenient bool
	v6      bool
}

type labOpts struct {
	v6        bool        // IPv6 overlay
	v6NBMA    bool        // IPv6 underlay
	nat       map[int]int // spoke index -> NAT (private 198.18.1xx.1 seen as 198.18.2xx.1)
	hold      time.Duration
	routeKind RouteKind
	auth      string
	labels    bool // Nodes of one VRF of an MPLS overlay (VRFLabels)
}

func newLab(t *testing.T, spokes int, o labOpts) *lab {
	t.Helper()
	l := &lab{t: t, clock: &fakeClock{now: time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)},
		links: map[end]end{}, cut: map[end]bool{}, installing: map[end]bool{}, nextVA: map[*router]int{}, v6: o.v6}
	ov := func(i int) netip.Addr {
		if o.v6 {
			return netip.MustParseAddr(fmt.Sprintf("2001:db8:ff::%d", i))
		}
		return netip.MustParseAddr(fmt.Sprintf("198.19.0.%d", i))
	}
	lan := func(i int) netip.Prefix {
		if o.v6 {
			return netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/64", 0x10+i))
		}
		return netip.MustParsePrefix(fmt.Sprintf("198.19.%d.0/24", 10+i))
	}
	summary := "198.19.0.0/16"
	if o.v6 {
		summary = "2001:db8::/32"
	}
	nextLabel := uint32(100)
	mk := func(name string, nbma, public, overlay netip.Addr, cfg Config) *router {
		r := &router{name: name, rib: &rib{}, nbma: nbma, public: public, overlay: overlay, usage: map[netip.Prefix]uint64{}, lab: l}
		cfg.HoldTime = o.hold
		cfg.RouteKind = o.routeKind
		cfg.AuthPassword = o.auth
		deps := Deps{Sender: r, RIB: r.rib, Routes: r.rib, Protector: r, Usage: r, Clock: l.clock}
		if o.labels {
			r.label = nextLabel
			nextLabel++
			deps.Labels = r
		}
		n, err := New(cfg, deps)
		if err != nil {
			t.Fatal(err)
		}
		r.node = n
		return r
	}
	underlay := func(i int) netip.Addr {
		if o.v6NBMA {
			return netip.MustParseAddr(fmt.Sprintf("2001:db8:a:%d::1", i))
		}
		return netip.MustParseAddr(fmt.Sprintf("198.18.%d.1", i))
	}
	hubNBMA := underlay(0)
	l.hub = mk("hub", hubNBMA, hubNBMA, ov(1), Config{NHS: true, Redirect: true, RedirectTimeout: 8 * time.Second})
	l.hub.rib.add(netip.PrefixFrom(ov(1), ov(1).BitLen()).String(), "", true)
	for i := 1; i <= spokes; i++ {
		nbma := underlay(i)
		public := nbma
		if _, ok := o.nat[i]; ok {
			nbma, public = underlay(100+i), underlay(200+i)
		}
		s := mk(fmt.Sprintf("spoke%d", i), nbma, public, ov(i+1), Config{Shortcut: true, VirtualTemplate: 1, Redirect: true})
		s.lan = lan(i)
		s.rib.add(s.lan.String(), "", false)
		s.rib.add(summary, "Tunnel0", false)
		s.rib.add(netip.PrefixFrom(s.overlay, s.overlay.BitLen()).String(), "", true)
		l.spokes = append(l.spokes, s)
		va := fmt.Sprintf("Virtual-Access%d", i)
		l.links[end{s, "Tunnel0"}] = end{l.hub, va}
		l.links[end{l.hub, va}] = end{s, "Tunnel0"}
		l.hub.rib.add(s.lan.String(), va, false)
		l.hub.rib.add(netip.PrefixFrom(s.overlay, s.overlay.BitLen()).String(), va, false)
		s.node.TunnelUp(Tunnel{Name: "Tunnel0", NetworkID: 1, LocalNBMA: nbma, LocalNBMAMapped: netip.Addr{},
			RemoteNBMA: hubNBMA, LocalProto: []netip.Addr{s.overlay}, RemoteProto: []netip.Addr{ov(1)}, ToNHS: true})
		l.hub.node.TunnelUp(Tunnel{Name: va, NetworkID: 1, LocalNBMA: hubNBMA, RemoteNBMA: public,
			LocalProto: []netip.Addr{ov(1)}, RemoteProto: []netip.Addr{s.overlay}})
	}
	return l
}

// connect simulates IKEv2 from a (initiator) to the router owning req.PeerNBMA:
// the responder's virtual-access comes up first, then the initiator's; what
// the responder sends in between is lost, as a packet that overtakes the
// IKE_AUTH response would be.
func (l *lab) connect(a *router, req InitiateRequest) {
	var b *router
	for _, s := range l.spokes {
		if s.public == req.PeerNBMA {
			b = s
		}
	}
	if b == nil && l.lenient {
		return
	}
	if b == nil {
		l.t.Errorf("%s initiated IKEv2 to %v, which is nobody's (NAT not honoured?)", a.name, req.PeerNBMA)
		return
	}
	l.nextVA[a]++
	l.nextVA[b]++
	vaA := fmt.Sprintf("Virtual-Access%d", 100+l.nextVA[a])
	vaB := fmt.Sprintf("Virtual-Access%d", 100+l.nextVA[b])
	l.links[end{a, vaA}] = end{b, vaB}
	l.links[end{b, vaB}] = end{a, vaA}
	l.installing[end{a, vaA}] = true
	b.node.TunnelUp(Tunnel{Name: vaB, NetworkID: 1, LocalNBMA: b.nbma, RemoteNBMA: a.public, Shortcut: true, PeerInitiated: true})
	delete(l.installing, end{a, vaA})
	a.node.TunnelUp(Tunnel{Name: vaA, NetworkID: 1, LocalNBMA: a.nbma, RemoteNBMA: b.public,
		RemoteProto: []netip.Addr{req.PeerProto}, Shortcut: true})
}

// pump delivers queued packets and tunnel setups until nothing is left.
func (l *lab) pump() {
	for i := 0; len(l.events) > 0; i++ {
		if i > 10000 {
			l.t.Fatal("event storm: NHRP packets loop")
		}
		ev := l.events[0]
		l.events = l.events[1:]
		ev()
	}
}

// advance moves the clock, firing timers and delivering what they send.
func (l *lab) advance(d time.Duration) {
	limit := l.clock.Now().Add(d)
	for {
		l.pump()
		t := l.clock.next(limit)
		if t == nil {
			break
		}
		t.f()
	}
	l.pump()
	l.clock.mu.Lock()
	l.clock.now = limit
	l.clock.mu.Unlock()
}

// send simulates one data packet from a host behind spoke from to dst and
// reports whether it went direct (true) or through the hub.
func (l *lab) send(from *router, dst netip.Addr) (direct bool) {
	src := from.lan.Addr().Next().Next()
	pkt := ipPacket(src, dst)
	r, ok := from.rib.Lookup(dst)
	if !ok {
		l.t.Fatalf("%s: no route to %v", from.name, dst)
	}
	if r.Shortcut {
		from.usage[r.Prefix]++
		return true
	}
	hr, ok := l.hub.rib.Lookup(dst)
	if !ok || hr.Tunnel == "" {
		l.t.Fatalf("hub: no route to %v", dst)
	}
	l.hubFwd++
	in := l.links[end{from, "Tunnel0"}].tunnel
	l.hub.node.Hairpin(in, hr.Tunnel, pkt)
	l.pump()
	return false
}

func ipPacket(src, dst netip.Addr) []byte {
	if src.Is4() {
		b := make([]byte, 28)
		b[0], b[3], b[8], b[9], b[20] = 0x45, 28, 64, 1, 8 // ICMP echo request
		copy(b[12:], src.AsSlice())
		copy(b[16:], dst.AsSlice())
		return b
	}
	b := make([]byte, 48)
	b[0], b[5], b[7], b[6], b[40] = 0x60, 8, 64, 58, 128 // ICMPv6 echo request
	copy(b[8:], src.AsSlice())
	copy(b[24:], dst.AsSlice())
	return b
}

func (l *lab) host(i int) netip.Addr {
	a := l.spokes[i-1].lan.Addr()
	for k := 0; k < 10; k++ {
		a = a.Next()
	}
	return a
}
