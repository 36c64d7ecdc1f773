package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane/esp"
)

// Control-path scaling: what one session costs the engine's control side
// must not grow with the number of sessions already installed. These tests
// use only the public Control API, so they measure any table layout.

// scaleSession is what esphubd installs for one spoke: a GRE tunnel, an
// inbound and an outbound SA, and host routes for the spoke's overlay
// addresses (IPv4 and IPv6).
type scaleSession struct {
	tun    TunnelConfig
	in     SAConfig
	out    SAConfig
	routes []Route
}

func newScaleSession(i int) scaleSession {
	id := TunnelID(i + 1)
	u := uint32(i)
	var ov6 [16]byte
	copy(ov6[:], netip.MustParseAddr("2001:db8:5ca1::").AsSlice())
	binary.BigEndian.PutUint32(ov6[12:], u)
	nh := NextHop{Kind: NextHopTunnel, Tunnel: id}
	key := testKey(20, byte(i))
	return scaleSession{
		tun: TunnelConfig{ID: id, Mode: ModeGRE, Local: v4A,
			Remote: netip.AddrFrom4([4]byte{198, 18, byte(u>>8) + 1, byte(u)})},
		in:  SAConfig{SPI: 0x10000000 + u, Direction: Inbound, Tunnel: id, Algorithm: esp.AESGCM16, EncKey: key},
		out: SAConfig{SPI: 0x20000000 + u, Direction: Outbound, Tunnel: id, Algorithm: esp.AESGCM16, EncKey: key},
		routes: []Route{
			{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(u >> 8), byte(u)}), 32), NextHop: nh},
			{Prefix: netip.PrefixFrom(netip.AddrFrom16(ov6), 128), NextHop: nh},
		},
	}
}

func (s *scaleSession) install(e *Engine) error {
	if err := e.AddTunnel(s.tun); err != nil {
		return err
	}
	if err := e.AddSA(s.in); err != nil {
		return err
	}
	if err := e.AddSA(s.out); err != nil {
		return err
	}
	return e.AddRoutes(0, s.routes)
}

// remove tears the session down the way esphubd does when it ends.
func (s *scaleSession) remove(e *Engine) error {
	del := make([]Route, len(s.routes))
	for i, r := range s.routes {
		del[i] = Route{Prefix: r.Prefix, Delete: true}
	}
	if err := e.AddRoutes(0, del); err != nil {
		return err
	}
	if err := e.DeleteSA(Inbound, s.in.SPI); err != nil {
		return err
	}
	if err := e.DeleteSA(Outbound, s.out.SPI); err != nil {
		return err
	}
	return e.DeleteTunnel(s.tun.ID)
}

// fillEngine installs sessions 0..n-1.
func fillEngine(tb testing.TB, e *Engine, sessions []scaleSession) {
	tb.Helper()
	for i := range sessions {
		if err := sessions[i].install(e); err != nil {
			tb.Fatalf("session %d: %v", i, err)
		}
	}
}

// bytesPerSession returns the bytes allocated per install and per removal
// of one more session on an engine that already holds `installed`.
func bytesPerSession(t *testing.T, installed int) (add, del float64) {
	const probes = 64
	e := NewEngine(Options{})
	all := make([]scaleSession, installed+probes)
	for i := range all {
		all[i] = newScaleSession(i)
	}
	fillEngine(t, e, all[:installed])
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := installed; i < len(all); i++ {
		must(t, all[i].install(e))
	}
	runtime.ReadMemStats(&m1)
	for i := installed; i < len(all); i++ {
		must(t, all[i].remove(e))
	}
	runtime.ReadMemStats(&m2)
	if got := len(e.Tunnels()); got != installed {
		t.Fatalf("%d tunnels after the probes, want %d", got, installed)
	}
	return float64(m1.TotalAlloc-m0.TotalAlloc) / probes, float64(m2.TotalAlloc-m1.TotalAlloc) / probes
}

// TestControlCostFlat checks that installing (AddTunnel, two AddSA,
// AddRoutes) and removing one session allocates about the same at 1k and at
// 20k installed sessions: copy-on-write publication copies a bounded part of
// the tables, not all of them.
func TestControlCostFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 20k sessions")
	}
	add1, del1 := bytesPerSession(t, 1000)
	add20, del20 := bytesPerSession(t, 20000)
	t.Logf("bytes per session: install %.0f at 1k, %.0f at 20k; remove %.0f at 1k, %.0f at 20k", add1, add20, del1, del20)
	// A table copy of 20k entries alone is hundreds of KiB; the bounded
	// copy is a few KiB per table touched. Allow 1.5x for leaf growth and
	// measurement noise.
	if add20 > 1.5*add1 {
		t.Errorf("install cost grows with sessions: %.0f B at 1k, %.0f B at 20k", add1, add20)
	}
	if del20 > 1.5*del1 {
		t.Errorf("remove cost grows with sessions: %.0f B at 1k, %.0f B at 20k", del1, del20)
	}
	if add20 > 128<<10 || del20 > 128<<10 {
		t.Errorf("one session costs too much: install %.0f B, remove %.0f B", add20, del20)
	}
}

// TestControlSnapshotsImmutable checks that a snapshot held by a reader is
// unaffected by later changes (the packet path's guarantee), at a size
// where the tables share most of their arrays.
func TestControlSnapshotsImmutable(t *testing.T) {
	e := NewEngine(Options{})
	ss := make([]scaleSession, 3000)
	for i := range ss {
		ss[i] = newScaleSession(i)
	}
	fillEngine(t, e, ss[:2000])
	old := e.tab.Load()
	fillEngine(t, e, ss[2000:])
	for i := 0; i < 1000; i++ {
		must(t, ss[i].remove(e))
	}
	cur := e.tab.Load()
	for i, s := range ss {
		inOld := i < 2000
		inCur := i >= 1000
		if got := old.tunnel(s.tun.ID) != nil; got != inOld {
			t.Fatalf("session %d: old snapshot has tunnel %v, want %v", i, got, inOld)
		}
		if got := old.sa(s.in.SPI) != nil; got != inOld {
			t.Fatalf("session %d: old snapshot has SA %v, want %v", i, got, inOld)
		}
		if got := len(old.inboundSAs(s.tun.ID)) == 1; got != inOld {
			t.Fatalf("session %d: old snapshot inbound set %v", i, old.inboundSAs(s.tun.ID))
		}
		for _, r := range s.routes {
			_, okOld := old.fib[0].lookup(r.Prefix.Addr())
			_, okCur := cur.fib[0].lookup(r.Prefix.Addr())
			if okOld != inOld || okCur != inCur {
				t.Fatalf("session %d route %v: old %v cur %v", i, r.Prefix, okOld, okCur)
			}
		}
		if got := cur.tunnel(s.tun.ID) != nil; got != inCur {
			t.Fatalf("session %d: current snapshot has tunnel %v, want %v", i, got, inCur)
		}
		if got := cur.sa(s.in.SPI) != nil; got != inCur {
			t.Fatalf("session %d: current snapshot has SA %v, want %v", i, got, inCur)
		}
	}
	if n := old.tunnels.Len(); n != 2000 {
		t.Fatalf("old snapshot has %d tunnels", n)
	}
	if n, m := cur.tunnels.Len(), cur.bySPI.Len(); n != 2000 || m != 2000 {
		t.Fatalf("current snapshot has %d tunnels, %d inbound SAs", n, m)
	}
	if n := cur.outSPI.Len(); n != 2000 {
		t.Fatalf("outbound index has %d SPIs", n)
	}
	if n := len(e.Routes(0)); n != 4000 {
		t.Fatalf("%d routes", n)
	}
}

// BenchmarkControlFill installs n sessions into an empty engine and reports
// sessions/s, then removes them all (as a hub that stops does) and reports
// drain-sessions/s, plus the bytes allocated per session.
func BenchmarkControlFill(b *testing.B) {
	for _, n := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			ss := make([]scaleSession, n)
			for i := range ss {
				ss[i] = newScaleSession(i)
			}
			var fill, drain time.Duration
			var bytes uint64
			var m0, m1 runtime.MemStats
			for i := 0; i < b.N; i++ {
				e := NewEngine(Options{})
				runtime.ReadMemStats(&m0)
				start := time.Now()
				fillEngine(b, e, ss)
				fill += time.Since(start)
				runtime.ReadMemStats(&m1)
				bytes += m1.TotalAlloc - m0.TotalAlloc
				start = time.Now()
				for j := range ss {
					if err := ss[j].remove(e); err != nil {
						b.Fatal(err)
					}
				}
				drain += time.Since(start)
			}
			total := float64(n * b.N)
			b.ReportMetric(total/fill.Seconds(), "sessions/s")
			b.ReportMetric(total/drain.Seconds(), "drain-sessions/s")
			b.ReportMetric(float64(bytes)/total, "B/session")
		})
	}
}
