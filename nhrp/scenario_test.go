package nhrp

import (
	"bytes"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

func find(es []Entry, p netip.Prefix) *Entry {
	for i := range es {
		if es[i].Prefix == p {
			return &es[i]
		}
	}
	return nil
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// shortcutUp drives traffic from spoke i to a host behind spoke j until it
// goes direct, and returns how many packets crossed the hub meanwhile.
func shortcutUp(t *testing.T, l *lab, i, j int) int {
	t.Helper()
	before := l.hubFwd
	for k := 0; k < 50; k++ {
		if r, ok := l.spokes[i-1].rib.Lookup(l.host(j)); ok && r.Shortcut {
			return l.hubFwd - before
		}
		if l.send(l.spokes[i-1], l.host(j)) {
			t.Fatal("send went direct without a shortcut route")
		}
		l.advance(10 * time.Millisecond)
	}
	t.Fatalf("spoke%d -> spoke%d never moved to a shortcut; spoke%d routes %v", i, j, i, l.spokes[i-1].rib.log)
	return 0
}

func TestThreeSpokeShortcut(t *testing.T) {
	for _, tc := range []struct {
		name       string
		v6, v6NBMA bool
	}{{"IPv4 over IPv4", false, false}, {"IPv6 over IPv4", true, false}, {"IPv6 over IPv6", true, true}, {"IPv4 over IPv6", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			testThreeSpoke(t, labOpts{v6: tc.v6, v6NBMA: tc.v6NBMA, hold: 600 * time.Second})
		})
	}
}

func testThreeSpoke(t *testing.T, o labOpts) {
	hold := o.hold
	l := newLab(t, 3, o)
	s1, s2, s3 := l.spokes[0], l.spokes[1], l.spokes[2]

	// First packet crosses the hub, which redirects; the shortcut is up by
	// the next packet.
	if n := shortcutUp(t, l, 1, 2); n != 1 {
		t.Errorf("hub forwarded %d packets before the shortcut, want 1", n)
	}
	hs := l.hub.node.Stats()
	if hs.TrafficIndicationsSent != 1 || hs.ResolutionRequestsFwd != 1 {
		t.Errorf("hub stats %+v", hs)
	}
	// The request the hub forwarded: one hop used, the hub recorded in the
	// forward transit NHS record.
	var fwd *wire.Packet
	for _, e := range s1.node.Cache() {
		if e.Type == TypeIncomplete {
			t.Errorf("temporary entry survived the reply: %+v", e)
		}
	}
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && p.from == l.hub && q.Type == wire.TypeResolutionRequest {
			fwd = q
		}
	}
	if fwd == nil || fwd.HopCount != wire.DefaultHopCount-1 {
		t.Fatalf("forwarded request %+v", fwd)
	}
	if x := fwd.Ext(wire.ExtForwardTransitNHS); x == nil || len(x.CIEs) != 1 || x.CIEs[0].NBMA != l.hub.nbma || x.CIEs[0].Proto != l.hub.overlay {
		t.Fatalf("forward transit record %+v", x)
	}
	if len(s2.initiate) != 1 || s2.initiate[0].PeerNBMA != s1.public || s2.initiate[0].PeerProto != s1.overlay || s2.initiate[0].VirtualTemplate != 1 {
		t.Fatalf("exit spoke initiate %+v", s2.initiate)
	}
	if len(s1.initiate) != 0 {
		t.Errorf("requester initiated IKEv2 itself: %+v", s1.initiate)
	}
	// Requester: an H route for spoke2's LAN and spoke2's tunnel address.
	routes := s1.rib.shortcuts()
	if len(routes) != 2 {
		t.Fatalf("spoke1 shortcuts %+v", routes)
	}
	c1 := s1.node.Cache()
	lanE := find(c1, s2.lan)
	if lanE == nil || lanE.NextHop != s2.overlay || lanE.NBMA != s2.public || lanE.ClaimedNBMA.IsValid() ||
		lanE.Flags != FlagRouter|FlagRIB || lanE.Type != TypeDynamic || !strings.HasPrefix(lanE.Tunnel, "Virtual-Access") {
		t.Fatalf("spoke1 LAN entry %+v", lanE)
	}
	if got := lanE.Expire.Sub(lanE.Created); got != hold {
		t.Errorf("expire-created = %v, want %v", got, hold)
	}
	peer := find(c1, hostPrefix(s2.overlay))
	if peer == nil || peer.Flags != FlagRouter|FlagImplicit|FlagRIB {
		t.Fatalf("spoke1 peer entry %+v", peer)
	}
	// Exit spoke: the requester learned implicitly, via the new tunnel.
	c2 := s2.node.Cache()
	req := find(c2, hostPrefix(s1.overlay))
	if req == nil || req.NBMA != s1.public || req.Flags&FlagImplicit == 0 || !strings.HasPrefix(req.Tunnel, "Virtual-Access1") {
		t.Fatalf("spoke2 requester entry %+v in %+v", req, c2)
	}
	// The reply went over the spoke-to-spoke tunnel, not via the hub.
	for _, p := range l.sent {
		if p.from == s2 && p.tunnel == "Tunnel0" {
			t.Errorf("spoke2 sent NHRP toward the hub")
		}
	}

	// Redirects are rate limited per pair; a second pair is independent.
	if l.send(s3, l.host(1)) {
		t.Fatal("spoke3 direct before any redirect")
	}
	before := l.hub.node.Stats().TrafficIndicationsSent
	l.hub.node.Hairpin("Virtual-Access3", "Virtual-Access1", ipPacket(s3.lan.Addr().Next().Next(), l.host(1)))
	if l.hub.node.Stats().TrafficIndicationsSent != before || l.hub.node.Dropped(DropRateLimited) == 0 {
		t.Error("repeat redirect within the timeout was not suppressed")
	}
	l.pump()
	if !l.send(s3, l.host(1)) {
		t.Fatal("spoke3 -> spoke1 not on a shortcut")
	}

	// Active shortcut: refreshed at 2/3 of the hold time, entries extended.
	for k := 0; k < 7; k++ {
		l.advance(hold / 10)
		if !l.send(s1, l.host(2)) {
			t.Fatalf("shortcut lost while in use at step %d", k)
		}
	}
	if s1.node.Stats().ShortcutsRefreshed < 1 {
		t.Fatal("no refresh while in use")
	}
	lanE = find(s1.node.Cache(), s2.lan)
	if lanE == nil || !lanE.Expire.After(l.clock.Now().Add(hold/2)) {
		t.Fatalf("refresh did not extend the entry: %+v", lanE)
	}
	if n := len(s2.initiate); n != 1 {
		t.Errorf("refresh built another tunnel (%d initiates)", n)
	}

	// Idle: the last packet above counts as use at the next refresh point;
	// with none after it the entries expire one holding time later.
	l.advance(2 * hold)
	if r := s1.rib.shortcuts(); len(r) != 0 {
		t.Fatalf("idle shortcut not purged: %+v", r)
	}
	if c := s1.node.Cache(); len(c) != 0 {
		t.Fatalf("idle cache not purged: %+v", c)
	}
	if l.send(s1, l.host(2)) {
		t.Fatal("traffic still direct after expiry")
	}

	// The hub redirects again (timeout passed); then the SA dies and the
	// shortcut goes at once.
	shortcutUp(t, l, 1, 2)
	var va string
	for _, r := range s1.rib.shortcuts() {
		va = r.Tunnel
	}
	s1.node.TunnelDown(va)
	if r := s1.rib.shortcuts(); len(r) != 0 {
		t.Fatalf("routes survive the SA: %+v", r)
	}
	if l.send(s1, l.host(2)) {
		t.Fatal("traffic did not fall back to the hub")
	}
}

func TestNATBothSpokes(t *testing.T) {
	l := newLab(t, 2, labOpts{nat: map[int]int{1: 1, 2: 2}, hold: 600 * time.Second})
	s1, s2 := l.spokes[0], l.spokes[1]
	shortcutUp(t, l, 1, 2)
	// The exit spoke learned the requester's post-NAT address from the NAT
	// extension the hub filled in, and dialled that.
	// The request the hub forwarded: one hop used, the hub recorded in the
	// forward transit NHS record.
	var fwd *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && p.from == l.hub && q.Type == wire.TypeResolutionRequest {
			fwd = q
		}
	}
	if fwd == nil || fwd.HopCount != wire.DefaultHopCount-1 {
		t.Fatalf("forwarded request %+v", fwd)
	}
	if x := fwd.Ext(wire.ExtForwardTransitNHS); x == nil || len(x.CIEs) != 1 || x.CIEs[0].NBMA != l.hub.nbma || x.CIEs[0].Proto != l.hub.overlay {
		t.Fatalf("forward transit record %+v", x)
	}
	if len(s2.initiate) != 1 || s2.initiate[0].PeerNBMA != s1.public {
		t.Fatalf("initiate %+v, want peer %v", s2.initiate, s1.public)
	}
	e := find(s1.node.Cache(), s2.lan)
	if e == nil || e.NBMA != s2.public || e.ClaimedNBMA != s2.nbma {
		t.Fatalf("requester entry %+v; want NBMA %v claimed %v", e, s2.public, s2.nbma)
	}
	e = find(s2.node.Cache(), hostPrefix(s1.overlay))
	if e == nil || e.NBMA != s1.public || e.ClaimedNBMA != s1.nbma {
		t.Fatalf("exit entry %+v", e)
	}
	var out bytes.Buffer
	if err := WriteNHRP(&out, s1.node.Cache(), l.clock.Now(), true, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(Claimed NBMA address: "+s2.nbma.String()+")") {
		t.Fatalf("show ip nhrp lacks the claimed address:\n%s", out.String())
	}
}

func TestNATKnownMapping(t *testing.T) {
	// A spoke that knows its mapped address (IKEv2 NAT detection) puts it
	// in the NAT extension itself.
	l := newLab(t, 2, labOpts{nat: map[int]int{1: 1}, hold: 600 * time.Second})
	s1 := l.spokes[0]
	s1.node.TunnelUp(Tunnel{Name: "Tunnel0", NetworkID: 1, LocalNBMA: s1.nbma, LocalNBMAMapped: s1.public,
		RemoteNBMA: l.hub.nbma, LocalProto: []netip.Addr{s1.overlay}, RemoteProto: []netip.Addr{l.hub.overlay}, ToNHS: true})
	l.send(s1, l.host(2))
	var req *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && q.Type == wire.TypeResolutionRequest && p.from == s1 {
			req = q
		}
	}
	if req == nil {
		t.Fatal("no resolution request")
	}
	nat := req.Ext(wire.ExtNATAddress)
	if nat == nil || len(nat.CIEs) != 1 || nat.CIEs[0].NBMA != s1.public || nat.CIEs[0].Proto != s1.overlay {
		t.Fatalf("NAT ext %+v", nat)
	}
	if !l.send(s1, l.host(2)) {
		t.Fatal("no shortcut")
	}
}

func TestNHORoutes(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second, routeKind: RouteNHO})
	shortcutUp(t, l, 1, 2)
	for _, e := range l.spokes[0].node.Cache() {
		if e.Flags&FlagNHO == 0 || e.Flags&FlagRIB != 0 {
			t.Errorf("entry %v flags %v, want nho", e.Prefix, e.Flags)
		}
	}
	if r := l.spokes[0].rib.shortcuts(); len(r) != 2 || r[0].Tunnel == "" {
		t.Fatalf("NHO routes %+v", r)
	}
}

func TestResolutionRetriesSameID(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1 := l.spokes[0]
	l.cut[end{l.hub, "Virtual-Access2"}] = true // the hub's forwards are lost
	l.send(s1, l.host(2))
	l.advance(60 * time.Second)
	var ids []uint32
	var times []time.Time
	_ = times
	for _, p := range l.sent {
		if p.from == s1 {
			q, err := wire.Decode(p.pkt)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, q.RequestID)
		}
	}
	// 1 + retries at 1, 2, 4, 8, 8, 8 s (cumulative 31 s > 30 s timeout).
	if len(ids) < 5 || len(ids) > 7 {
		t.Fatalf("%d requests sent", len(ids))
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("retry changed the request ID: %v", ids)
		}
	}
	st := s1.node.Stats()
	if st.ResolutionTimeouts != 1 || st.ResolutionRetries != uint64(len(ids)-1) {
		t.Fatalf("stats %+v", st)
	}
	// After giving up, a new redirect starts over.
	delete(l.cut, end{l.hub, "Virtual-Access2"})
	shortcutUp(t, l, 1, 2)
}

func TestAuthentication(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second, auth: "s3cr3t"})
	shortcutUp(t, l, 1, 2)
	// A packet without the right password is refused and answered.
	s2 := l.spokes[1]
	p, _ := wire.Decode(l.sent[0].pkt)
	p.Extensions = withAuth(p.Extensions, "wrong")
	b, _ := p.Encode()
	s2.node.Receive("Tunnel0", b)
	if s2.node.Dropped(DropAuth) != 1 {
		t.Fatal("wrong password accepted")
	}
}

func TestShowOutput(t *testing.T) {
	l := newLab(t, 3, labOpts{hold: 7200 * time.Second})
	shortcutUp(t, l, 1, 2)
	l.advance(56 * time.Second)
	s1 := l.spokes[0]
	var b bytes.Buffer
	if err := WriteNHRP(&b, s1.node.Cache(), l.clock.Now(), true, false); err != nil {
		t.Fatal(err)
	}
	want := "198.19.0.3/32 via 198.19.0.3\n" +
		"  Virtual-Access101 created 00:00:56, expire 01:59:03\n" +
		"  Type: dynamic, Flags: router implicit rib\n" +
		"  NBMA address: 198.18.2.1\n" +
		"198.19.12.0/24 via 198.19.0.3\n" +
		"  Virtual-Access101 created 00:00:56, expire 01:59:03\n" +
		"  Type: dynamic, Flags: router rib\n" +
		"  NBMA address: 198.18.2.1\n"
	if b.String() != want {
		t.Fatalf("show ip nhrp:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	WriteNHRP(&b, s1.node.Cache(), l.clock.Now(), false, false)
	if b.Len() != 0 {
		t.Fatalf("show ipv6 nhrp shows IPv4 entries: %s", b.String())
	}
	b.Reset()
	WriteNHRP(&b, s1.node.Cache(), l.clock.Now(), true, true)
	if !strings.Contains(b.String(), "Route: NHRP (H) [250/1] via 198.19.0.3, Virtual-Access101") {
		t.Fatalf("detail:\n%s", b.String())
	}
	b.Reset()
	WriteDMVPN(&b, s1.node.DMVPN(), l.clock.Now())
	out := b.String()
	if !strings.Contains(out, "Tunnel0") || !regexpLine(out, `Virtual-Access101\s+2\s+198\.18\.2\.1\s+198\.19\.0\.3\s+UP\s+00:00:56\s+DT1`) {
		t.Fatalf("show dmvpn:\n%s", out)
	}
	b.Reset()
	WriteTraffic(&b, l.hub.node.Stats())
	if !strings.Contains(b.String(), "1 Traffic Indication (redirect)") || !strings.Contains(b.String(), "Forwarded: 1 Resolution Request") {
		t.Fatalf("traffic:\n%s", b.String())
	}
	v := find(s1.node.Cache(), l.spokes[1].lan).View(l.clock.Now())
	if v.Prefix != "198.19.12.0/24" || v.Via != "198.19.0.3" || v.ExpireSec != 7143 || v.UptimeSec != 56 || strings.Join(v.Flags, ",") != "router,rib" {
		t.Fatalf("view %+v", v)
	}
	if n := s1.node.Clear(true); n != 2 || len(s1.rib.shortcuts()) != 0 {
		t.Fatalf("clear ip nhrp removed %d entries, routes left %v", n, s1.rib.shortcuts())
	}
}

func TestIOSDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "00:00:00", 59 * time.Second: "00:00:59", 7079 * time.Second: "01:57:59",
		26 * time.Hour: "1d02h", 16 * 24 * time.Hour: "2w2d", -time.Second: "00:00:00",
	} {
		if got := iosDuration(d); got != want {
			t.Errorf("iosDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func regexpLine(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }

func TestIncompleteEntryWhileResolving(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	l.cut[end{l.hub, "Virtual-Access2"}] = true
	l.send(l.spokes[0], l.host(2))
	c := l.spokes[0].node.Cache()
	if len(c) != 1 || c[0].Type != TypeIncomplete || c[0].Prefix != hostPrefix(l.host(2)) || c[0].Tunnel != "Tunnel0" {
		t.Fatalf("cache while resolving %+v", c)
	}
	var b bytes.Buffer
	WriteNHRP(&b, c, l.clock.Now(), true, false)
	if want := "198.19.12.10/32\n  Tunnel0 created 00:00:00, expire 00:00:30\n  Type: incomplete, Flags: none\n"; b.String() != want {
		t.Fatalf("show:\n%q\nwant\n%q", b.String(), want)
	}
	l.advance(31 * time.Second)
	if c := l.spokes[0].node.Cache(); len(c) != 0 {
		t.Fatalf("incomplete entry outlived the resolution timeout: %+v", c)
	}
}

func TestHairpinFlow(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1 := l.spokes[0]
	src := s1.lan.Addr().Next().Next()
	l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, l.host(2))
	l.pump()
	var ti *wire.Packet
	for _, p := range l.sent {
		if q, err := wire.Decode(p.pkt); err == nil && q.Type == wire.TypeTrafficIndication {
			ti = q
		}
	}
	if ti == nil {
		t.Fatal("no traffic indication")
	}
	if s, d, ok := wire.InnerAddrs(ti.Payload); !ok || s != src || d != l.host(2) || wire.Checksum(ti.Payload[:20]) != 0 {
		t.Fatalf("quoted header % x", ti.Payload)
	}
	if r, ok := s1.rib.Lookup(l.host(2)); !ok || !r.Shortcut {
		t.Fatal("no shortcut after a flow-only hairpin event")
	}
	l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, netip.MustParseAddr("2001:db8::1"))
	if l.hub.node.Dropped(DropBadIndication) != 1 {
		t.Fatal("mixed-family flow accepted")
	}
}

func TestBidirectionalOneTunnel(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	shortcutUp(t, l, 1, 2)
	if n := shortcutUp(t, l, 2, 1); n != 1 {
		t.Errorf("reverse direction: hub forwarded %d", n)
	}
	if got := len(l.spokes[0].initiate) + len(l.spokes[1].initiate); got != 1 {
		t.Fatalf("%d IKEv2 initiations for one spoke pair", got)
	}
	r1, _ := l.spokes[0].rib.Lookup(l.host(2))
	r2, _ := l.spokes[1].rib.Lookup(l.host(1))
	if l.links[end{l.spokes[0], r1.Tunnel}] != (end{l.spokes[1], r2.Tunnel}) {
		t.Fatalf("directions use different tunnels: %v / %v", r1, r2)
	}
}

func TestRedirectTableBounded(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	l.hub.node.cfg.RedirectTableMax = 4
	src := l.spokes[0].lan.Addr().Next()
	for i := 0; i < 6; i++ {
		l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, netip.AddrFrom4([4]byte{198, 19, 12, byte(10 + i)}))
	}
	if got := l.hub.node.Stats().TrafficIndicationsSent; got != 4 {
		t.Fatalf("sent %d redirects with a table of 4", got)
	}
	l.advance(9 * time.Second) // past the redirect timeout: entries can be swept
	l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, netip.MustParseAddr("198.19.12.99"))
	if got := l.hub.node.Stats().TrafficIndicationsSent; got != 5 {
		t.Fatalf("table not swept after the timeout (%d sent)", got)
	}
}

func TestSuppressedHairpinDoesNotAllocate(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	src, dst := l.spokes[0].lan.Addr().Next(), l.host(2)
	pkt := ipPacket(src, dst)
	l.hub.node.Hairpin("Virtual-Access1", "Virtual-Access2", pkt)
	l.events = nil
	n := testing.AllocsPerRun(200, func() {
		l.hub.node.Hairpin("Virtual-Access1", "Virtual-Access2", pkt)
		l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, dst)
	})
	if n != 0 {
		t.Fatalf("suppressed redirect allocates %v times", n)
	}
	if got := l.hub.node.Dropped(DropRateLimited); got < 400 {
		t.Fatalf("rate-limited count %d", got)
	}
}

func BenchmarkHairpinSuppressed(b *testing.B) {
	l := newLab(&testing.T{}, 2, labOpts{hold: 600 * time.Second})
	src, dst := l.spokes[0].lan.Addr().Next(), l.host(2)
	l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, dst)
	b.ReportAllocs()
	for b.Loop() {
		l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, dst)
	}
}

func TestMetrics(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	shortcutUp(t, l, 1, 2)
	ms := l.hub.node.Stats().Metrics()
	seen := map[string]uint64{}
	for _, m := range ms {
		seen[m.Name+"{"+m.LabelValue+"}"] = m.Value
	}
	if seen["esphub_nhrp_packets_sent_total{traffic_indication}"] != 1 ||
		seen["esphub_nhrp_packets_forwarded_total{resolution_request}"] != 1 {
		t.Fatalf("metrics %v", seen)
	}
	if _, ok := seen["esphub_nhrp_drops_total{loop_detected}"]; !ok || len(ms) != 19+int(numDropReasons) {
		t.Fatalf("%d metrics; drop reasons missing", len(ms))
	}
}

func TestLANInterfaceRouteIsOffOverlay(t *testing.T) {
	// The daemon's RIB names real interfaces; only attached tunnels count as
	// the overlay, so a LAN route out of "GigabitEthernet2" makes the spoke
	// the exit for that prefix.
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s2 := l.spokes[1]
	s2.rib.routes = nil
	s2.rib.add(s2.lan.String(), "GigabitEthernet2", false)
	s2.rib.add("198.19.0.0/16", "Tunnel0", false)
	s2.rib.add(netip.PrefixFrom(s2.overlay, 32).String(), "", true)
	if n := shortcutUp(t, l, 1, 2); n != 1 {
		t.Fatalf("hub forwarded %d", n)
	}
}

func TestClose(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1 := l.spokes[0]
	shortcutUp(t, l, 1, 2)
	s1.node.Close()
	if len(s1.rib.shortcuts()) != 0 || len(s1.node.Cache()) != 0 {
		t.Fatal("Close left routes or entries")
	}
	sent := len(l.sent)
	l.send(s1, l.host(2)) // the hub redirects (rate limit permitting); nothing happens
	l.advance(time.Hour)
	for _, p := range l.sent[sent:] {
		if p.from == s1 {
			t.Fatal("a closed Node sent a packet")
		}
	}
}

func TestHairpinFlowIPv6(t *testing.T) {
	l := newLab(t, 2, labOpts{v6: true, hold: 600 * time.Second})
	src := l.spokes[0].lan.Addr().Next()
	l.hub.node.HairpinFlow("Virtual-Access1", "Virtual-Access2", src, l.host(2))
	l.pump()
	if r, ok := l.spokes[0].rib.Lookup(l.host(2)); !ok || !r.Shortcut {
		t.Fatal("no IPv6 shortcut from a flow-only hairpin event")
	}
}

// hairpinOnly makes the hub see one packet from a host behind spoke i to a
// host behind spoke j, without delivering anything yet.
func hairpinOnly(l *lab, i, j int) {
	from := l.spokes[i-1]
	dst := l.host(j)
	hr, _ := l.hub.rib.Lookup(dst)
	l.hub.node.Hairpin(l.links[end{from, "Tunnel0"}].tunnel, hr.Tunnel, ipPacket(from.lan.Addr().Next().Next(), dst))
}

// TestSimultaneousSetup: traffic both ways makes both spokes exit spokes
// for each other's resolution, and both start IKEv2 at once. Neither
// sends its reply over the tunnel the other initiated before the other has
// installed it, so nothing is lost and no resolution waits for a retry;
// when the redundant tunnel pair goes, the shortcuts move to the survivor.
func TestSimultaneousSetup(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1, s2 := l.spokes[0], l.spokes[1]
	hairpinOnly(l, 1, 2)
	hairpinOnly(l, 2, 1)
	l.pump()
	if len(s1.initiate) != 1 || len(s2.initiate) != 1 {
		t.Fatalf("initiations: spoke1 %d, spoke2 %d; want one each (a simultaneous setup)", len(s1.initiate), len(s2.initiate))
	}
	r1, ok1 := s1.rib.Lookup(l.host(2))
	r2, ok2 := s2.rib.Lookup(l.host(1))
	if !ok1 || !r1.Shortcut || !ok2 || !r2.Shortcut {
		t.Fatalf("no shortcuts without waiting: spoke1 %+v, spoke2 %+v", r1, r2)
	}
	if l.lost != 0 {
		t.Errorf("%d NHRP packets sent over a tunnel the peer had not installed", l.lost)
	}
	for i, s := range l.spokes {
		if n := s.node.Stats().ResolutionRetries; n != 0 {
			t.Errorf("spoke%d retried %d resolutions", i+1, n)
		}
	}

	// Close one of the two tunnel pairs, on both sides, the way the daemon
	// closes the redundant IKE SA: everything moves to the other pair.
	var pair []end
	for a, b := range l.links {
		if a.r == s1 && strings.HasPrefix(a.tunnel, "Virtual-Access") && a.tunnel != r1.Tunnel {
			pair = []end{a, b}
		}
	}
	if pair == nil {
		t.Fatalf("only one tunnel pair: %v", l.links)
	}
	for _, e := range pair {
		e.r.node.TunnelDown(e.tunnel)
	}
	survivor1 := pair[0].tunnel
	r1, _ = s1.rib.Lookup(l.host(2))
	r2, _ = s2.rib.Lookup(l.host(1))
	if !r1.Shortcut || !r2.Shortcut || r1.Tunnel == survivor1 {
		t.Fatalf("after closing the redundant pair %v: spoke1 %+v, spoke2 %+v", pair, r1, r2)
	}
	var moved uint64
	for _, s := range l.spokes {
		moved += s.node.Stats().ShortcutsMoved
		for _, e := range s.node.Cache() {
			if e.Tunnel == pair[0].tunnel && s == pair[0].r || e.Tunnel == pair[1].tunnel && s == pair[1].r {
				t.Errorf("%s: entry %v still on the closed tunnel", s.name, e.Prefix)
			}
		}
	}
	if moved == 0 {
		t.Error("no entries counted as moved")
	}
	// Traffic in both directions stays direct.
	if !l.send(s1, l.host(2)) || !l.send(s2, l.host(1)) {
		t.Error("traffic went back through the hub")
	}
}

// TestPeerInitiatedGrace: an exit spoke whose own IKEv2 never completes
// answers over the tunnel the requester built once the grace period for
// the requester's install has passed, not before.
func TestPeerInitiatedGrace(t *testing.T) {
	l := newLab(t, 2, labOpts{hold: 600 * time.Second})
	s1, s2 := l.spokes[0], l.spokes[1]
	s2.noConnect = true
	l.send(s1, l.host(2)) // redirect, resolution; spoke2 asks for a tunnel in vain
	if len(s2.initiate) != 1 {
		t.Fatalf("spoke2 initiations %d", len(s2.initiate))
	}
	// spoke1 builds one itself (as it would on a reply through the hub).
	l.connect(s1, InitiateRequest{PeerNBMA: s2.public, PeerProto: s2.overlay})
	l.pump()
	if r, _ := s1.rib.Lookup(l.host(2)); r.Shortcut {
		t.Fatal("spoke2 answered over spoke1's tunnel before the grace period")
	}
	l.advance(250 * time.Millisecond)
	if r, _ := s1.rib.Lookup(l.host(2)); !r.Shortcut {
		t.Fatalf("no shortcut after the grace period: %+v", r)
	}
	if l.lost != 0 {
		t.Errorf("%d packets lost", l.lost)
	}
}
