package transport

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/lab/labtest"
)

// nsPair is two network namespaces joined by a veth pair (lab/labtest):
// A has 198.18.0.1/24, 198.18.0.11/24 and 2001:db8::1/64; B has
// 198.18.0.2/24 and 2001:db8::2/64.
type nsPair struct{ A, B string }

const pairSpec = `
description: UDP transport test link
nodes:
  a: {}
  b: {}
links:
  - a: {node: a, iface: veth0, addr: [198.18.0.1/24, 198.18.0.11/24, 2001:db8::1/64]}
    b: {node: b, iface: veth0, addr: [198.18.0.2/24, 2001:db8::2/64]}
`

func newNSPair(t *testing.T) nsPair {
	t.Helper()
	l := labtest.Up(t, pairSpec)
	return nsPair{A: l.Netns("a"), B: l.Netns("b")}
}

func listenT(t *testing.T, cfg UDPConfig) *UDP {
	t.Helper()
	u, err := ListenUDP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// rawSocket opens a plain UDP socket in ns, to send what our transport
// would not (ESP, keepalives, runts) and to see bytes as they are on the wire.
func rawSocket(t *testing.T, ns, laddr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := InNetNS(ns, func() error {
		var err error
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap(laddr)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUDPTransport(t *testing.T) {
	p := newNSPair(t)
	var espMu sync.Mutex
	var esp []Packet
	// A binds the wildcards (pktinfo path), B binds specific addresses.
	a := listenT(t, UDPConfig{NetNS: p.A, ReadBuffer: 1 << 20, WriteBuffer: 1 << 20})
	b := listenT(t, UDPConfig{NetNS: p.B, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:db8::2")},
		OnESP: func(local, remote netip.AddrPort, data []byte) {
			espMu.Lock()
			esp = append(esp, Packet{Local: local, Remote: remote, Data: bytes.Clone(data)})
			espMu.Unlock()
		}})

	t.Run("ipv4-500", func(t *testing.T) {
		// A sends from a chosen secondary address through its wildcard socket.
		if err := a.Send(Packet{Local: ap("198.18.0.11:500"), Remote: ap("198.18.0.2:500"), Data: []byte("init")}); err != nil {
			t.Fatal(err)
		}
		got := recvT(t, b)
		if got.Local != ap("198.18.0.2:500") || got.Remote != ap("198.18.0.11:500") || string(got.Data) != "init" {
			t.Fatalf("B got %+v", got)
		}
		if err := b.Send(Packet{Local: got.Local, Remote: got.Remote, Data: []byte("resp")}); err != nil {
			t.Fatal(err)
		}
		got = recvT(t, a)
		// The wildcard socket learnt which of A's addresses was used.
		if got.Local != ap("198.18.0.11:500") || got.Remote != ap("198.18.0.2:500") || string(got.Data) != "resp" {
			t.Fatalf("A got %+v", got)
		}
	})
	t.Run("ipv6-4500-marker", func(t *testing.T) {
		if err := a.Send(Packet{Local: ap("[2001:db8::1]:4500"), Remote: ap("[2001:db8::2]:4500"), Data: []byte("auth")}); err != nil {
			t.Fatal(err)
		}
		got := recvT(t, b)
		if got.Local != ap("[2001:db8::2]:4500") || got.Remote != ap("[2001:db8::1]:4500") || string(got.Data) != "auth" {
			t.Fatalf("B got %+v", got)
		}
	})
	t.Run("marker-on-wire", func(t *testing.T) {
		raw := rawSocket(t, p.A, "198.18.0.1:14500")
		if err := b.Send(Packet{Local: ap("198.18.0.2:4500"), Remote: ap("198.18.0.1:14500"), Data: []byte("ike")}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := raw.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], []byte("\x00\x00\x00\x00ike")) || from != ap("198.18.0.2:4500") {
			t.Errorf("wire bytes %q from %v, want the non-ESP marker then ike from 198.18.0.2:4500", buf[:n], from)
		}
		// And the transport's ESP path: WriteESP sends verbatim.
		espPkt := []byte{0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xaa}
		if err := b.WriteESP(ap("198.18.0.2:0"), ap("198.18.0.1:14500"), espPkt); err != nil {
			t.Fatal(err)
		}
		n, _, err = raw.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], espPkt) {
			t.Errorf("ESP on wire %x, %v", buf[:n], err)
		}
		if err := b.SendKeepalive(ap("198.18.0.2:0"), ap("198.18.0.1:14500")); err != nil {
			t.Fatal(err)
		}
		n, _, err = raw.ReadFromUDPAddrPort(buf)
		if err != nil || !bytes.Equal(buf[:n], []byte{0xff}) {
			t.Errorf("keepalive on wire %x, %v", buf[:n], err)
		}
	})
	t.Run("demux-4500", func(t *testing.T) {
		raw := rawSocket(t, p.A, "198.18.0.1:24500")
		to := net.UDPAddrFromAddrPort(ap("198.18.0.2:4500"))
		before := b.Stats()
		for _, d := range [][]byte{
			{0xff},                                  // NAT keepalive
			{0, 0},                                  // runt
			{0, 0, 0x10, 0x01, 0, 0},                // ESP too short for SPI + sequence
			{0, 0, 0x10, 0x01, 0, 0, 0, 7, 1, 2, 3}, // ESP
			append([]byte{0, 0, 0, 0}, "ike-after-marker"...),
		} {
			if _, err := raw.WriteToUDP(d, to); err != nil {
				t.Fatal(err)
			}
		}
		got := recvT(t, b)
		if string(got.Data) != "ike-after-marker" || got.Remote != ap("198.18.0.1:24500") {
			t.Errorf("B got %+v", got)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := b.Stats()
			espMu.Lock()
			nESP := len(esp)
			espMu.Unlock()
			if s.RxKeepalive-before.RxKeepalive == 1 && s.DropShort-before.DropShort == 2 && nESP == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stats %+v (before %+v), %d ESP datagrams", s, before, nESP)
			}
			time.Sleep(10 * time.Millisecond)
		}
		espMu.Lock()
		defer espMu.Unlock()
		if e := esp[0]; e.Local != ap("198.18.0.2:4500") || e.Remote != ap("198.18.0.1:24500") || !bytes.Equal(e.Data, []byte{0, 0, 0x10, 0x01, 0, 0, 0, 7, 1, 2, 3}) {
			t.Errorf("OnESP got %+v", e)
		}
	})
	t.Run("shed-init", func(t *testing.T) {
		// A receiver that never calls Recv, queue of 8: new IKE_SA_INIT
		// requests without a COOKIE stop at 6 (three quarters); requests
		// with a COOKIE and messages of existing SAs still fill the rest.
		q := listenT(t, UDPConfig{NetNS: p.B, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, IKEPort: 2501, NATTPort: 24501, QueueLen: 8})
		msg := func(spir byte, next byte, notify uint16) []byte {
			b := make([]byte, 36)
			b[0], b[15], b[16], b[17], b[18], b[19] = 1, spir, next, 0x20, 34, 0x08
			b[25], b[29], b[31] = 36, 0, 8
			b[34], b[35] = byte(notify>>8), byte(notify)
			return b
		}
		send := func(b []byte) {
			if err := a.Send(Packet{Local: ap("198.18.0.1:500"), Remote: ap("198.18.0.2:2501"), Data: b}); err != nil {
				t.Fatal(err)
			}
		}
		for range 10 {
			send(msg(0, 33, 0)) // fresh IKE_SA_INIT, SA first
		}
		send(msg(0, 41, 16390)) // with a COOKIE
		send(msg(7, 46, 0))     // an existing SA's message
		send(msg(0, 41, 16390))
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := q.Stats()
			if s.RxIKE+s.DropShedInit+s.DropQueueFull == 13 {
				if s.RxIKE != 8 || s.DropShedInit != 4 || s.DropQueueFull != 1 {
					t.Errorf("queued %d, shed %d, queue-full %d; want 8, 4, 1", s.RxIKE, s.DropShedInit, s.DropQueueFull)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stats %+v: not all 13 datagrams accounted for", s)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("freshInitWithoutCookie", func(t *testing.T) {
		for _, c := range []struct {
			b    []byte
			want bool
		}{
			{nil, false},
			{make([]byte, 27), false},
		} {
			if got := freshInitWithoutCookie(c.b); got != c.want {
				t.Errorf("%x: %v", c.b, got)
			}
		}
	})
	t.Run("queue-full", func(t *testing.T) {
		// A receiver that never calls Recv: the queue holds 4, the rest
		// are counted, and nothing blocks the reader.
		q := listenT(t, UDPConfig{NetNS: p.B, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.2")}, IKEPort: 2500, NATTPort: 24500, QueueLen: 4})
		for i := range 50 {
			if err := a.Send(Packet{Local: ap("198.18.0.1:500"), Remote: ap("198.18.0.2:2500"), Data: []byte{byte(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := q.Stats()
			if s.RxIKE+s.DropQueueFull == 50 {
				if s.RxIKE != 4 {
					t.Errorf("queued %d, want 4", s.RxIKE)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stats %+v: not all 50 datagrams accounted for", s)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := recvT(t, q); got.Data[0] != 0 {
			t.Errorf("first queued datagram %d, want 0", got.Data[0])
		}
	})
	t.Run("zero-local", func(t *testing.T) {
		// No Local: the IKE-port socket of the remote's family, with the
		// kernel's choice of source address.
		if err := b.Send(Packet{Remote: ap("[2001:db8::1]:500"), Data: []byte("z")}); err != nil {
			t.Fatal(err)
		}
		got := recvT(t, a)
		if got.Remote != ap("[2001:db8::2]:500") || got.Local != ap("[2001:db8::1]:500") || string(got.Data) != "z" {
			t.Errorf("A got %+v", got)
		}
	})
	t.Run("no-socket", func(t *testing.T) {
		if err := b.Send(Packet{Local: ap("198.18.0.99:500"), Remote: ap("198.18.0.1:500"), Data: []byte("x")}); err == nil {
			t.Error("send from an address B has no socket for succeeded")
		}
	})
	t.Run("close", func(t *testing.T) {
		c := listenT(t, UDPConfig{NetNS: p.B, IKEPort: 1500, NATTPort: 14500})
		done := make(chan error, 1)
		go func() {
			_, err := c.Recv(context.Background())
			done <- err
		}()
		c.Close()
		select {
		case err := <-done:
			if err != net.ErrClosed {
				t.Errorf("Recv after Close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not unblock Recv")
		}
	})
	if s := a.Stats(); s.TxIKE < 2 || s.RxIKE < 1 {
		t.Errorf("A stats %+v", s)
	}
}

// FuzzFreshInitWithoutCookie: the reader's peek at untrusted datagrams
// never panics, and never sheds anything but an IKE_SA_INIT request.
func FuzzFreshInitWithoutCookie(f *testing.F) {
	init := make([]byte, 36)
	init[0], init[16], init[17], init[18], init[19] = 1, 33, 0x20, 34, 0x08
	f.Add(init)
	cookie := append([]byte(nil), init...)
	cookie[16], cookie[34], cookie[35] = 41, 0x40, 0x06
	f.Add(cookie)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if freshInitWithoutCookie(b) && (len(b) < 28 || b[18] != 34) {
			t.Fatalf("shed a non-IKE_SA_INIT datagram %x", b)
		}
	})
}
