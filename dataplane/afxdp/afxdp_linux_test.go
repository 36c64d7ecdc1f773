package afxdp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/internal/testenv"
)

// dut is a device under test: an interface with a steering program
// attached and one AF_XDP socket on queue 0.
type dut struct {
	link  *link
	steer *bpf.Steering
	umem  *UMEM
	sock  *Socket
}

func newDUT(t testing.TB, l *link, role bpf.Role, ucfg UMEMConfig) *dut {
	t.Helper()
	return newDUTWith(t, l, role, ucfg, SocketConfig{})
}

// newDUTWith is newDUT with socket options; Ifindex and Queue are set here.
func newDUTWith(t testing.TB, l *link, role bpf.Role, ucfg UMEMConfig, scfg SocketConfig) *dut {
	t.Helper()
	d := &dut{link: l}
	var err error
	d.steer, err = bpf.Load(bpf.Options{})
	if err != nil {
		t.Fatalf("load steering: %v", err)
	}
	t.Cleanup(func() {
		if err := d.steer.Close(); err != nil {
			t.Errorf("close steering: %v", err)
		}
	})
	d.umem, err = NewUMEM(ucfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.umem.Close(); err != nil {
			t.Errorf("close umem: %v", err)
		}
	})
	inNetns(t, l.ns, func() {
		if role == bpf.RoleWAN {
			_, err = d.steer.AttachWAN(l.ifindex, bpf.AttachDriver)
		} else {
			_, err = d.steer.AttachLAN(l.ifindex, 0, bpf.AttachDriver)
		}
		if err != nil {
			return
		}
		scfg.Ifindex, scfg.Queue = l.ifindex, 0
		d.sock, err = d.umem.Open(scfg)
	})
	if err != nil {
		t.Fatalf("set up %s in %s: %v", l.name, l.ns, err)
	}
	if err := d.steer.RegisterSocket(l.ifindex, 0, d.sock.FD()); err != nil {
		t.Fatal(err)
	}
	if d.sock.ZeroCopy() {
		t.Logf("%s: zero-copy", l.name)
	}
	d.sock.Refill()
	return d
}

// listenUDP opens a UDP socket in namespace ns.
func listenUDP(t testing.TB, ns string, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	var err error
	inNetns(t, ns, func() { c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr)) })
	if err != nil {
		t.Fatalf("listen %v in %s: %v", addr, ns, err)
	}
	// Bursts from an AF_XDP sender outrun the default receive buffer.
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	})
	if err != nil {
		t.Fatalf("SO_RCVBUFFORCE: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawESP opens a raw IP socket for protocol 50 in namespace ns.
func rawESP(t testing.TB, ns string, v6 bool) int {
	t.Helper()
	var fd int
	var err error
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	inNetns(t, ns, func() { fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 50) })
	if err != nil {
		t.Fatalf("raw esp socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func espPayload(spi, seq uint32, n int) []byte {
	b := make([]byte, 8+n)
	binary.BigEndian.PutUint32(b, spi)
	binary.BigEndian.PutUint32(b[4:], seq)
	for i := 8; i < len(b); i++ {
		b[i] = byte(seq + uint32(i))
	}
	return b
}

// receiveN collects n frames from the socket (copies) within timeout,
// releasing the frames.
func receiveN(t testing.TB, s *Socket, n int, timeout time.Duration) [][]byte {
	t.Helper()
	var out [][]byte
	descs := make([]Desc, 64)
	p := NewPoller(s)
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		k := s.Receive(descs)
		if k == 0 {
			if _, err := p.Wait(20 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			continue
		}
		for _, d := range descs[:k] {
			out = append(out, append([]byte(nil), s.UMEM().Data(d)...))
		}
		s.UMEM().Release(descs[:k])
	}
	return out
}

// readN reads up to n datagrams from c, waiting at most timeout in all.
func readN(c *net.UDPConn, n int, timeout time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(timeout))
	for len(out) < n {
		k, err := c.Read(buf)
		if err != nil {
			break
		}
		out = append(out, append([]byte(nil), buf[:k]...))
	}
	return out
}

// readAll reads datagrams from c until none arrives for quiet.
func readAll(c *net.UDPConn, quiet time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 2048)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, append([]byte(nil), buf[:n]...))
	}
}

// TestWANSteering sends ESP, ESP-in-UDP, IKE and keepalives over a veth
// pair and checks that ESP arrives on the AF_XDP socket and the rest on
// ordinary UDP sockets, over IPv4 and IPv6.
func TestWANSteering(t *testing.T) {
	a, b := vethPair(t, "pa", "pb", 41)
	d := newDUT(t, b, bpf.RoleWAN, UMEMConfig{Debug: true})
	if !xdpAttached(t, b) {
		t.Fatal("ip link shows no XDP program on the DUT")
	}
	if infos, err := d.steer.Interfaces(); err != nil || len(infos) != 1 || infos[0].Ifindex != b.ifindex ||
		infos[0].Mode != "driver" || len(infos[0].Sockets) != 1 || infos[0].Sockets[0] != 0 {
		t.Errorf("Interfaces() = %+v, %v", infos, err)
	}

	ike500 := listenUDP(t, b.ns, netip.AddrPortFrom(b.ip4, 500))
	natt4 := listenUDP(t, b.ns, netip.AddrPortFrom(b.ip4, 4500))
	natt6 := listenUDP(t, b.ns, netip.AddrPortFrom(b.ip6, 4500))
	src4 := listenUDP(t, a.ns, netip.AddrPortFrom(a.ip4, 4500))
	src6 := listenUDP(t, a.ns, netip.AddrPortFrom(a.ip6, 4500))
	raw4, raw6 := rawESP(t, a.ns, false), rawESP(t, a.ns, true)

	to4 := net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.ip4, 4500))
	to6 := net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.ip6, 4500))
	to500 := net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.ip4, 500))
	ikeMsg := append([]byte{0, 0, 0, 0}, bytes.Repeat([]byte{0x21}, 28)...)
	send := func(c *net.UDPConn, p []byte, to *net.UDPAddr) {
		if _, err := c.WriteToUDP(p, to); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		send(src4, espPayload(0x1001, uint32(i+1), 100), to4)
	}
	for i := range 3 {
		send(src6, espPayload(0x1006, uint32(i+1), 100), to6)
	}
	for i := range 4 {
		if err := unix.Sendto(raw4, espPayload(0x2001, uint32(i+1), 60), 0, &unix.SockaddrInet4{Addr: b.ip4.As4()}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if err := unix.Sendto(raw6, espPayload(0x2006, uint32(i+1), 60), 0, &unix.SockaddrInet6{Addr: b.ip6.As16()}); err != nil {
			t.Fatal(err)
		}
	}
	send(src4, ikeMsg, to4)
	send(src4, ikeMsg, to4)
	send(src6, ikeMsg, to6)
	send(src4, ikeMsg[4:], to500)
	send(src4, ikeMsg[4:], to500)
	send(src4, []byte{0xff}, to4)
	send(src4, []byte{0xff}, to4)

	frames := receiveN(t, d.sock, 14, 15*time.Second)
	if len(frames) != 14 {
		t.Fatalf("AF_XDP socket received %d frames, want 14", len(frames))
	}
	kinds := map[bpf.Verdict]int{}
	spis := map[uint32]int{}
	for _, f := range frames {
		v := bpf.ClassifyWAN(f, bpf.DefaultPorts)
		kinds[v]++
		// The SPI sits right after the IP (and UDP) header.
		off := 14 + 20
		if f[12] == 0x86 {
			off = 14 + 40
		}
		if v == bpf.ESPInUDP {
			off += 8
		}
		spis[binary.BigEndian.Uint32(f[off:])]++
	}
	if kinds[bpf.ESP] != 6 || kinds[bpf.ESPInUDP] != 8 {
		t.Errorf("steered frames by kind: %v", kinds)
	}
	if spis[0x1001] != 5 || spis[0x1006] != 3 || spis[0x2001] != 4 || spis[0x2006] != 2 {
		t.Errorf("steered frames by SPI: %v", spis)
	}

	// Wait for what should arrive (a loaded machine may take a while),
	// then make sure nothing more does.
	got4 := append(readN(natt4, 4, 10*time.Second), readAll(natt4, 300*time.Millisecond)...)
	got6 := append(readN(natt6, 1, 10*time.Second), readAll(natt6, 100*time.Millisecond)...)
	got500 := append(readN(ike500, 2, 10*time.Second), readAll(ike500, 100*time.Millisecond)...)
	var nIKE, nKeepalive int
	for _, p := range got4 {
		switch {
		case len(p) == 1 && p[0] == 0xff:
			nKeepalive++
		case bytes.Equal(p, ikeMsg):
			nIKE++
		default:
			t.Errorf("UDP 4500 socket got a non-IKE datagram % x", p[:min(len(p), 16)])
		}
	}
	if nIKE != 2 || nKeepalive != 2 || len(got6) != 1 || len(got500) != 2 {
		t.Errorf("kernel sockets: 4500/v4 %d IKE + %d keepalives, 4500/v6 %d, 500 %d; want 2+2, 1, 2",
			nIKE, nKeepalive, len(got6), len(got500))
		// The kernel's own counters say where a datagram was lost.
		for _, l := range []*link{a, b} {
			out, _ := exec.Command("ip", "netns", "exec", l.ns, "nstat", "-a").CombinedOutput()
			t.Logf("nstat in %s:\n%s", l.ns, out)
		}
	}

	c, err := d.steer.InterfaceCounters(b.ifindex)
	if err != nil {
		t.Fatal(err)
	}
	if c[bpf.ESP].Packets != 6 || c[bpf.ESPInUDP].Packets != 8 || c[bpf.PassIKE].Packets != 5 ||
		c[bpf.PassKeepalive].Packets != 2 || c[bpf.NoSocket].Packets != 0 {
		t.Errorf("steering counters: %+v", c)
	}
	st, err := d.sock.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.RXPackets != 14 || st.RXDropped != 0 {
		t.Errorf("socket stats: %+v", st)
	}
	assertLedger(t, d.umem, 0)
}

// assertLedger checks that no frame is held by the application or on a TX
// ring (waiting up to a few seconds for completions), that every frame is
// accounted for, and that the ledger saw no violation. held is the number
// of frames the test knowingly still holds.
func assertLedger(t testing.TB, u *UMEM, held int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for u.Pool().Counts().TX > 0 && time.Now().Before(deadline) {
		for _, s := range u.sockets {
			if s != nil {
				s.Flush()
			}
		}
		time.Sleep(time.Millisecond)
	}
	c := u.Pool().Counts()
	if c.TX != 0 || c.User != held || c.Total() != u.Pool().Len() || c.Free != u.Pool().Available() {
		t.Errorf("frame ledger: %+v (available %d, frames %d, want %d held)", c, u.Pool().Available(), u.Pool().Len(), held)
	}
	if v, msg := u.Pool().Violations(); v != 0 {
		t.Errorf("frame ledger: %d violations, last: %s", v, msg)
	}
}

// swapFrame turns a received Ethernet/IP/UDP frame into its reply in place:
// MAC, IP addresses and UDP ports swapped. Swapping keeps the IPv4 and UDP
// checksums valid, so nothing is recomputed.
func swapFrame(f []byte) {
	if len(f) < 14 {
		return
	}
	var tmp [16]byte
	swap := func(x, y []byte) {
		n := copy(tmp[:], x)
		copy(x, y)
		copy(y, tmp[:n])
	}
	swap(f[0:6], f[6:12])
	var l4 []byte
	var proto byte
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0800:
		if len(f) < 34 {
			return
		}
		swap(f[26:30], f[30:34])
		proto = f[23]
		l4 = f[14+int(f[14]&0x0f)*4:]
	case 0x86dd:
		if len(f) < 54 {
			return
		}
		swap(f[22:38], f[38:54])
		proto = f[20]
		l4 = f[54:]
	}
	if proto == 17 && len(l4) >= 4 {
		swap(l4[0:2], l4[2:4])
	}
}

// echo runs an echo worker on s until stop is set: every received frame
// is swapped and transmitted back. If stopMid is set when a batch has been
// received, the worker transmits only the first half of the batch and
// returns the rest, which it still holds, as a worker stopped in the middle
// of a batch would.
func echo(s *Socket, batch int, stop, stopMid *atomic.Bool) (held []Desc) {
	descs := make([]Desc, batch)
	p := NewPoller(s)
	u := s.UMEM()
	for !stop.Load() {
		n := s.Receive(descs)
		if n == 0 {
			s.Flush()
			p.Wait(5 * time.Millisecond)
			continue
		}
		for _, d := range descs[:n] {
			swapFrame(u.Data(d))
		}
		if stopMid != nil && stopMid.Load() {
			half := n / 2
			for sent := 0; sent < half; {
				sent += s.Transmit(descs[sent:half])
			}
			return append([]Desc(nil), descs[half:n]...)
		}
		for sent := 0; sent < n; {
			m := s.Transmit(descs[sent:n])
			sent += m
			if m == 0 {
				s.Flush()
				if stop.Load() {
					u.Release(descs[sent:n])
					return nil
				}
			}
		}
	}
	return nil
}

// TestEcho runs an AF_XDP echo worker and checks that every ESP-in-UDP
// datagram sent from the peer's kernel stack comes back intact, in batches
// of odd sizes.
//
// The variants cover the kick paths: the kernel's default copy-mode TX
// budget of 32 descriptors per kick with batches far larger (the kick loop
// must drain the ring), and sockets without need_wakeup.
func TestEcho(t *testing.T) {
	for i, v := range []struct {
		name   string
		cfg    SocketConfig
		window int // datagrams in flight; below the fill ring size, or the kernel drops
	}{
		{"default", SocketConfig{}, 257},
		{"kernel-tx-budget", SocketConfig{TXBudget: -1}, 257},
		{"no-need-wakeup", SocketConfig{NoNeedWakeup: true}, 257},
		{"small-rings", SocketConfig{RXSize: 64, TXSize: 64, FillSize: 64, CompletionSize: 64}, 31},
	} {
		t.Run(v.name, func(t *testing.T) { testEcho(t, 50+i, v.cfg, v.window) })
	}
}

func testEcho(t *testing.T, subnet int, scfg SocketConfig, maxWindow int) {
	a, b := vethPair(t, "ea", "eb", subnet)
	d := newDUTWith(t, b, bpf.RoleWAN, UMEMConfig{Debug: true}, scfg)

	var stop atomic.Bool
	done := make(chan struct{})
	go func() { defer close(done); echo(d.sock, 67, &stop, nil) }()
	t.Cleanup(func() { stop.Store(true); <-done }) // before the UMEM closes
	t.Cleanup(func() {
		if t.Failed() {
			st, _ := d.sock.Stats()
			t.Logf("echo socket stats: %+v, ledger %+v", st, d.umem.Pool().Counts())
		}
	})

	for _, fam := range []struct {
		src, dst netip.Addr
	}{{a.ip4, b.ip4}, {a.ip6, b.ip6}} {
		c := listenUDP(t, a.ns, netip.AddrPortFrom(fam.src, 4500))
		to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(fam.dst, 4500))
		buf := make([]byte, 2048)
		const total = 1000
		received := 0
		for seq := 1; seq <= total; {
			// A window of odd size, then read the replies.
			window := min(maxWindow, total-seq+1)
			for i := range window {
				if _, err := c.WriteToUDP(espPayload(0x3001, uint32(seq+i), 1+(seq+i)%1300), to); err != nil {
					t.Fatal(err)
				}
			}
			for i := range window {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("%v: reply %d of window at %d: %v", fam.dst, i, seq, err)
				}
				p := buf[:n]
				s := binary.BigEndian.Uint32(p[4:])
				if want := espPayload(0x3001, s, 1+int(s)%1300); !bytes.Equal(p, want) {
					t.Fatalf("%v: reply seq %d differs from what was sent", fam.dst, s)
				}
				received++
			}
			seq += window
		}
		if received != total {
			t.Errorf("%v: %d of %d replies", fam.dst, received, total)
		}
	}
	stop.Store(true)
	<-done
	assertLedger(t, d.umem, 0)
}

// TestBindAndAttachModes checks mode selection on veth, which supports
// native XDP but not AF_XDP zero-copy: auto falls back to copy mode, a
// zero-copy request fails, a second program on the same interface is
// refused, and closing an attachment detaches it.
func TestBindAndAttachModes(t *testing.T) {
	testenv.NeedRoot(t)
	if err := Probe(); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	_, b := vethPair(t, "oa", "ob", 60)
	st, err := bpf.Load(bpf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := NewUMEM(UMEMConfig{Frames: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	inNetns(t, b.ns, func() {
		var att *bpf.Attachment
		att, err = st.AttachWAN(b.ifindex, bpf.AttachAuto)
		if err != nil {
			t.Errorf("AttachAuto: %v", err)
			return
		}
		if att.Mode() != bpf.AttachDriver {
			t.Errorf("veth attached in %v mode, want driver", att.Mode())
		}
		if _, err := st.AttachLAN(b.ifindex, 0, bpf.AttachGeneric); err == nil {
			t.Error("a second attachment to the same interface was accepted")
		}
		if _, err := u.Open(SocketConfig{Ifindex: b.ifindex, Mode: BindZeroCopy, RXSize: 64, TXSize: 64, FillSize: 64, CompletionSize: 64}); err == nil {
			t.Error("zero-copy bind on veth succeeded; the kernel is expected to refuse it")
		}
		s, err := u.Open(SocketConfig{Ifindex: b.ifindex, Mode: BindAuto, RXSize: 64, TXSize: 64, FillSize: 64, CompletionSize: 64})
		if err != nil {
			t.Errorf("auto bind: %v", err)
			return
		}
		if s.ZeroCopy() {
			t.Error("auto bind on veth reports zero-copy")
		}
		if _, err := u.Open(SocketConfig{Ifindex: b.ifindex}); err == nil {
			t.Error("second socket on the same queue of one UMEM accepted")
		}
		if err := att.Close(); err != nil {
			t.Errorf("detach: %v", err)
		}
		if xdpAttached(t, b) {
			t.Error("program still attached after Attachment.Close")
		}
		att, err = st.AttachLAN(b.ifindex, 3, bpf.AttachGeneric)
		if err != nil {
			t.Errorf("AttachGeneric after detach: %v", err)
			return
		}
		if att.Mode() != bpf.AttachGeneric || att.VRF() != 3 || att.Role() != bpf.RoleLAN {
			t.Errorf("attachment %v %v vrf %d", att.Mode(), att.Role(), att.VRF())
		}
		if !xdpAttached(t, b) {
			t.Error("generic-mode program not shown by ip link")
		}
	})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if xdpAttached(t, b) {
		t.Error("program still attached after Steering.Close")
	}
}

// TestPollerWakes checks that an idle worker sleeps in poll and wakes when
// a steered packet arrives.
func TestPollerWakes(t *testing.T) {
	a, b := vethPair(t, "wa", "wb", 62)
	d := newDUT(t, b, bpf.RoleWAN, UMEMConfig{})
	p := NewPoller(d.sock)
	start := time.Now()
	if n, err := p.Wait(100 * time.Millisecond); err != nil || n != 0 {
		t.Fatalf("idle Wait = %d, %v", n, err)
	}
	if el := time.Since(start); el < 90*time.Millisecond {
		t.Errorf("idle Wait returned after %v", el)
	}
	c := listenUDP(t, a.ns, netip.AddrPortFrom(a.ip4, 4500))
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.WriteToUDPAddrPort(espPayload(0x7001, 1, 32), netip.AddrPortFrom(b.ip4, 4500))
	}()
	start = time.Now()
	n, err := p.Wait(20 * time.Second)
	if err != nil || n != 1 {
		t.Fatalf("Wait = %d, %v", n, err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("woke after %v", el)
	}
	descs := make([]Desc, 4)
	if k := d.sock.Receive(descs); k != 1 {
		t.Fatalf("Receive after wake-up got %d", k)
	}
	d.umem.Release(descs[:1])
}
