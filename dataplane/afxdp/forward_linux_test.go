package afxdp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/bpf"
)

// forwardTopo is gen (A) -- fwd (B, two interfaces, one UMEM) -- sink (C).
// B steers the ESP-in-UDP frames arriving from A to an AF_XDP socket on
// b1, rewrites their MAC addresses and transmits them from a socket on b2
// sharing the same UMEM, so no byte is copied; C counts what arrives.
type forwardTopo struct {
	a, b1, b2, c *link
	gen, sink    *dut
	steerB       *bpf.Steering
	umemB        *UMEM
	in, out      *Socket
	sinkCount    atomic.Int64
	sinkBadSPI   atomic.Int64
}

func newForwardTopo(t testing.TB) *forwardTopo {
	t.Helper()
	f := &forwardTopo{}
	l := upLab(t,
		vethSpec{nodeA: "gen", ifA: "fa", nodeB: "fwd", ifB: "fb1", subnet: 46},
		vethSpec{nodeA: "fwd", ifA: "fb2", nodeB: "sink", ifB: "fc", subnet: 47})
	f.a, f.b1, f.b2, f.c = l[0], l[1], l[2], l[3]
	nsB := f.b1.ns
	f.gen = newDUT(t, f.a, bpf.RoleWAN, UMEMConfig{})
	f.sink = newDUT(t, f.c, bpf.RoleWAN, UMEMConfig{})

	var err error
	if f.steerB, err = bpf.Load(bpf.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.steerB.Close() })
	if f.umemB, err = NewUMEM(UMEMConfig{Frames: 8192, Debug: false}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.umemB.Close() })
	inNetns(t, nsB, func() {
		if _, err = f.steerB.AttachWAN(f.b1.ifindex, bpf.AttachDriver); err != nil {
			return
		}
		if f.in, err = f.umemB.Open(SocketConfig{Ifindex: f.b1.ifindex}); err != nil {
			return
		}
		f.out, err = f.umemB.Open(SocketConfig{Ifindex: f.b2.ifindex})
	})
	if err != nil {
		t.Fatalf("forwarder setup: %v", err)
	}
	if err := f.steerB.RegisterSocket(f.b1.ifindex, 0, f.in.FD()); err != nil {
		t.Fatal(err)
	}
	f.in.Refill()
	return f
}

// frame returns a generator frame from A, through B, to C.
func (f *forwardTopo) frame(size int) []byte {
	fr := espInUDPFrame(f.a, f.b1, size)
	// The IP destination is C; rewrite and fix the header checksum.
	d := f.c.ip4.As4()
	ip := fr[14:34]
	copy(ip[16:], d[:])
	ip[10], ip[11] = 0, 0
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return fr
}

// runForwarder forwards from in to out until stop is set.
func (f *forwardTopo) runForwarder(stop *atomic.Bool) {
	descs := make([]Desc, 64)
	p := NewPoller(f.in, f.out)
	u := f.umemB
	for !stop.Load() {
		n := f.in.Receive(descs)
		if n == 0 {
			f.out.Flush()
			p.Wait(2 * time.Millisecond)
			continue
		}
		for _, d := range descs[:n] {
			b := u.Data(d)
			copy(b[0:6], f.c.mac)
			copy(b[6:12], f.b2.mac)
		}
		for sent := 0; sent < n; {
			m := f.out.Transmit(descs[sent:n])
			sent += m
			if m == 0 {
				f.out.Flush()
				if stop.Load() {
					u.Release(descs[sent:n])
					break
				}
			}
		}
	}
}

// runSink counts what arrives at C until stop is set.
func (f *forwardTopo) runSink(stop *atomic.Bool) {
	descs := make([]Desc, 64)
	s := f.sink.sock
	p := NewPoller(s)
	for !stop.Load() {
		n := s.Receive(descs)
		if n == 0 {
			p.Wait(2 * time.Millisecond)
			continue
		}
		bad := 0
		for _, d := range descs[:n] {
			b := s.UMEM().Data(d)
			if len(b) < 46 || binary.BigEndian.Uint32(b[42:]) != 0x5001 {
				bad++
			}
		}
		s.UMEM().Release(descs[:n])
		f.sinkCount.Add(int64(n))
		f.sinkBadSPI.Add(int64(bad))
	}
}

// start runs the forwarder and the sink; the returned function stops them.
func (f *forwardTopo) start(t testing.TB) (stop func()) {
	var stopFlag atomic.Bool
	done := make(chan struct{}, 2)
	go func() { f.runForwarder(&stopFlag); done <- struct{}{} }()
	go func() { f.runSink(&stopFlag); done <- struct{}{} }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			stopFlag.Store(true)
			<-done
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// send transmits n frames from A, keeping at most window of them not yet
// seen by the sink, and returns when the sink has seen all of them or
// nothing moved for stall. It returns how many were sent and the time.
func (f *forwardTopo) send(frame []byte, n, window int, stall time.Duration) (sent int, elapsed time.Duration) {
	s := f.gen.sock
	u := s.UMEM()
	tx := make([]Desc, 64)
	base := f.sinkCount.Load()
	start := time.Now()
	last := start
	lastSeen := int64(0)
	for {
		seen := f.sinkCount.Load() - base
		if seen != lastSeen {
			lastSeen, last = seen, time.Now()
		}
		if int(seen) >= n {
			break
		}
		if want := min(64, n-sent, window-(sent-int(seen))); want > 0 {
			m := u.Alloc(tx[:want])
			for i := range m {
				tx[i].Len = uint32(len(frame))
				copy(u.Data(tx[i]), frame)
			}
			took := s.Transmit(tx[:m])
			u.Release(tx[took:m])
			sent += took
			if took > 0 {
				last = time.Now()
			}
			continue
		}
		if time.Since(last) > stall {
			if sent == n {
				break // the rest was lost
			}
			window = max(window, sent-int(seen)+64) // write off losses
			last = time.Now()
		}
		s.Flush()
		runtimeYield()
	}
	return sent, time.Since(start)
}

func runtimeYield() { time.Sleep(10 * time.Microsecond) }

// TestSharedUMEMForward forwards between two interfaces through one UMEM
// and checks that everything arrives and every frame is accounted for.
func TestSharedUMEMForward(t *testing.T) {
	f := newForwardTopo(t)
	if f.in.ZeroCopy() != f.out.ZeroCopy() {
		t.Error("sockets sharing a UMEM disagree on zero-copy")
	}
	stop := f.start(t)
	n := packetCount(t, 200_000)
	sent, elapsed := f.send(f.frame(64), n, 1024, time.Second)
	stop()
	got := f.sinkCount.Load()
	t.Logf("forwarded %d of %d in %v (%.0f pps)", got, sent, elapsed.Round(time.Millisecond), float64(got)/elapsed.Seconds())
	if got < int64(sent)*9/10 || sent != n {
		t.Errorf("sink saw %d of %d sent (%d requested)", got, sent, n)
	}
	if bad := f.sinkBadSPI.Load(); bad != 0 {
		t.Errorf("%d frames arrived damaged", bad)
	}
	for _, s := range []*Socket{f.in, f.out} {
		st, _ := s.Stats()
		t.Logf("ifindex %d: %+v", s.Ifindex(), st)
	}
	assertLedger(t, f.umemB, 0)
	assertLedger(t, f.gen.umem, 0)
	closeAndCheckAllFree(t, f.umemB)
}

// TestLANSteering routes traffic from A through B's LAN interface and
// checks that only destinations in B's protected prefixes (per VRF) reach
// the AF_XDP socket.
func TestLANSteering(t *testing.T) {
	a, b := vethPair(t, "na", "nb", 48)
	d := newDUT(t, b, bpf.RoleLAN, UMEMConfig{Debug: true})
	for _, p := range []string{"198.19.10.0/24", "2001:db8:1010::/48"} {
		if err := d.steer.AddProtected(0, netip.MustParsePrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.steer.AddProtected(9, netip.MustParsePrefix("198.19.20.0/24")); err != nil {
		t.Fatal(err)
	}
	// A host inside a protected prefix that must stay with the kernel.
	if err := d.steer.AddLocal(0, netip.MustParsePrefix("198.19.10.99/32")); err != nil {
		t.Fatal(err)
	}
	ipCmd(t, "-n", a.ns, "route", "add", "198.19.0.0/16", "via", b.ip4.String())
	ipCmd(t, "-n", a.ns, "route", "add", "2001:db8:1000::/36", "via", b.ip6.String())
	c4 := listenUDP(t, a.ns, netip.AddrPortFrom(a.ip4, 0))
	c6 := listenUDP(t, a.ns, netip.AddrPortFrom(a.ip6, 0))
	dsts := []struct {
		addr      string
		protected bool
	}{
		{"198.19.10.7", true}, {"198.19.10.255", true}, {"198.19.11.1", false},
		{"198.19.10.99", false}, // local
		{"198.19.20.1", false},  // protected only in VRF 9
		{"2001:db8:1010:5::1", true}, {"2001:db8:1011::1", false},
	}
	want := 0
	for _, x := range dsts {
		c := c4
		if netip.MustParseAddr(x.addr).Is6() {
			c = c6
		}
		if _, err := c.WriteToUDPAddrPort([]byte("lan-steering"), netip.AddrPortFrom(netip.MustParseAddr(x.addr), 9)); err != nil {
			t.Fatal(err)
		}
		if x.protected {
			want++
		}
	}
	frames := receiveN(t, d.sock, want, 10*time.Second)
	if len(frames) != want {
		t.Fatalf("AF_XDP socket got %d frames, want %d", len(frames), want)
	}
	for _, fr := range frames {
		if v := bpf.ClassifyLAN(fr, 0, &bpf.LANTables{
			Protected: []bpf.ProtectedPrefix{
				{VRF: 0, Prefix: netip.MustParsePrefix("198.19.10.0/24")},
				{VRF: 0, Prefix: netip.MustParsePrefix("2001:db8:1010::/48")},
			},
			Local: []bpf.ProtectedPrefix{{VRF: 0, Prefix: netip.MustParsePrefix("198.19.10.99/32")}},
		}); v != bpf.Protected {
			t.Errorf("steered a frame the reference classifies %v", v)
		}
	}
	// Nothing unprotected arrives late.
	if extra := receiveN(t, d.sock, 1, 300*time.Millisecond); len(extra) != 0 {
		t.Errorf("an unprotected frame reached the socket")
	}
	cnt, err := d.steer.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if cnt[bpf.Protected].Packets != uint64(want) || cnt[bpf.PassLocal].Packets < 1 ||
		cnt[bpf.PassUnprotected].Packets+cnt[bpf.PassLocal].Packets < uint64(len(dsts)-want) {
		t.Errorf("counters: %+v", cnt)
	}
	assertLedger(t, d.umem, 0)
}

// TestSocketNoAllocs checks that the packet path (Alloc, Transmit,
// Receive, Release, Flush) allocates nothing, with real traffic flowing
// between two sockets.
func TestSocketNoAllocs(t *testing.T) {
	a, b := vethPair(t, "aa", "ab", 49)
	gen := newDUT(t, a, bpf.RoleWAN, UMEMConfig{})
	d := newDUT(t, b, bpf.RoleWAN, UMEMConfig{})
	frame := espInUDPFrame(a, b, 100)
	tx := make([]Desc, 8)
	rx := make([]Desc, 64)
	moved := 0
	step := func() {
		gu := gen.sock.UMEM()
		m := gu.Alloc(tx)
		for i := range m {
			tx[i].Len = uint32(len(frame))
			copy(gu.Data(tx[i]), frame)
		}
		took := gen.sock.Transmit(tx[:m])
		gu.Release(tx[took:m])
		n := d.sock.Receive(rx)
		for _, x := range rx[:n] {
			swapFrame(d.umem.Data(x))
		}
		sent := d.sock.Transmit(rx[:n])
		d.umem.Release(rx[sent:n])
		d.sock.Flush()
		k := gen.sock.Receive(rx)
		gu.Release(rx[:k])
		moved += n + k
	}
	for range 100 { // warm up
		step()
	}
	// AllocsPerRun counts the whole process's allocations; take the best
	// of three runs so that an unrelated goroutine cannot fail the test.
	allocs := testing.AllocsPerRun(500, step)
	for i := 0; i < 2 && allocs != 0; i++ {
		allocs = min(allocs, testing.AllocsPerRun(500, step))
	}
	if allocs != 0 {
		t.Errorf("packet path allocates %v times per step", allocs)
	}
	if moved == 0 {
		t.Fatal("no packet moved; the measurement says nothing")
	}
	assertLedger(t, d.umem, 0)
}

// BenchmarkForward measures AF_XDP forwarding without crypto: an AF_XDP
// generator in one namespace, the forwarder (one goroutine, two sockets on
// one UMEM) in the next, an AF_XDP sink in the third. b.N is the number of
// packets; the pps metric is packets that reached the sink per second.
//
//	CI=true go test -run '^$' -bench Forward -benchtime 2000000x ./dataplane/afxdp/
func BenchmarkForward(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			f := newForwardTopo(b)
			stop := f.start(b)
			frame := f.frame(size)
			b.ReportAllocs()
			b.ResetTimer()
			sent, elapsed := f.send(frame, b.N, 2048, time.Second)
			b.StopTimer()
			stop()
			got := f.sinkCount.Load()
			b.ReportMetric(float64(got)/elapsed.Seconds(), "pps")
			b.ReportMetric(float64(sent-int(got))/float64(max(sent, 1))*100, "%lost")
		})
	}
}
