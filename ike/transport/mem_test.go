package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

var (
	addrA  = netip.MustParseAddrPort("198.18.0.1:500")
	addrA2 = netip.MustParseAddrPort("198.18.0.1:4500")
	addrB  = netip.MustParseAddrPort("198.18.0.2:500")
	addrB6 = netip.MustParseAddrPort("[2001:db8::2]:500")
)

func recvT(t *testing.T, tr Transport) Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := tr.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return p
}

func TestMemDelivery(t *testing.T) {
	n := NewMemNetwork(MemOptions{})
	a := n.Endpoint(addrA, addrA2)
	b := n.Endpoint(addrB, addrB6)
	buf := []byte("hello")
	if err := a.Send(Packet{Local: addrA2, Remote: addrB, Data: buf}); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // the network must have copied
	p := recvT(t, b)
	if p.Local != addrB || p.Remote != addrA2 || string(p.Data) != "hello" {
		t.Errorf("got %+v", p)
	}
	// Zero Local: the first address of the destination's family.
	if err := b.Send(Packet{Remote: addrA, Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if p := recvT(t, a); p.Remote != addrB || p.Local != addrA {
		t.Errorf("reply %+v", p)
	}
	_ = a.Send(Packet{Local: addrA, Remote: netip.MustParseAddrPort("198.18.9.9:500"), Data: []byte("x")})
	if s := n.Stats(); s.Sent != 3 || s.Delivered != 2 || s.NoRoute != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestMemLossIsSeededAndProportional(t *testing.T) {
	run := func() uint64 {
		n := NewMemNetwork(MemOptions{Loss: 0.3, Seed: 7})
		a := n.Endpoint(addrA)
		n.Endpoint(addrB)
		for range 2000 {
			_ = a.Send(Packet{Local: addrA, Remote: addrB, Data: []byte{1}})
		}
		return n.Stats().Lost
	}
	l1, l2 := run(), run()
	if l1 != l2 {
		t.Errorf("same seed lost %d then %d", l1, l2)
	}
	if l1 < 500 || l1 > 700 {
		t.Errorf("lost %d of 2000 at 30%%", l1)
	}
}

func TestMemReorderDuplicateDelay(t *testing.T) {
	n := NewMemNetwork(MemOptions{Reorder: 0.3, ReorderDelay: 20 * time.Millisecond, Duplicate: 0.1, Delay: time.Millisecond, Seed: 3})
	a := n.Endpoint(addrA)
	b := n.Endpoint(addrB)
	const count = 200
	for i := range count {
		_ = a.Send(Packet{Local: addrA, Remote: addrB, Data: []byte{byte(i)}})
	}
	s := n.Stats()
	want := count + int(s.Duplicated)
	seen := make(map[byte]int)
	inversions := 0
	last := -1
	for range want {
		p := recvT(t, b)
		seen[p.Data[0]]++
		if int(p.Data[0]) < last {
			inversions++
		}
		last = int(p.Data[0])
	}
	if len(seen) != count {
		t.Errorf("%d distinct datagrams, want %d", len(seen), count)
	}
	if s.Reordered == 0 || inversions == 0 || s.Duplicated == 0 {
		t.Errorf("reordered %d, inversions %d, duplicated %d: expected some of each", s.Reordered, inversions, s.Duplicated)
	}
}

func TestMemFilterAndSetLoss(t *testing.T) {
	n := NewMemNetwork(MemOptions{})
	a := n.Endpoint(addrA)
	b := n.Endpoint(addrB)
	n.SetFilter(func(p Packet) bool { return p.Data[0] != 2 })
	for i := range 3 {
		_ = a.Send(Packet{Local: addrA, Remote: addrB, Data: []byte{byte(i)}})
	}
	if p := recvT(t, b); p.Data[0] != 0 {
		t.Errorf("got %d", p.Data[0])
	}
	if p := recvT(t, b); p.Data[0] != 1 {
		t.Errorf("got %d", p.Data[0])
	}
	n.SetFilter(nil)
	n.SetLoss(1)
	_ = a.Send(Packet{Local: addrA, Remote: addrB, Data: []byte{9}})
	n.SetLoss(0)
	_ = a.Send(Packet{Local: addrA, Remote: addrB, Data: []byte{10}})
	if p := recvT(t, b); p.Data[0] != 10 {
		t.Errorf("got %d after a cut link healed, want 10", p.Data[0])
	}
	if s := n.Stats(); s.Filtered != 1 || s.Lost != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestMemNAT(t *testing.T) {
	n := NewMemNetwork(MemOptions{})
	inside := netip.MustParseAddrPort("198.18.10.5:500")
	public := netip.MustParseAddrPort("198.18.0.100:31000")
	n.NAT(inside, public)
	a := n.Endpoint(inside)
	b := n.Endpoint(addrB)
	_ = a.Send(Packet{Local: inside, Remote: addrB, Data: []byte("init")})
	p := recvT(t, b)
	if p.Remote != public {
		t.Fatalf("responder saw %v, want the NAT's %v", p.Remote, public)
	}
	_ = b.Send(Packet{Local: addrB, Remote: public, Data: []byte("resp")})
	if p := recvT(t, a); p.Local != inside || p.Remote != addrB {
		t.Errorf("initiator got %+v", p)
	}
}

func TestMemKeepalive(t *testing.T) {
	n := NewMemNetwork(MemOptions{})
	a := n.Endpoint(addrA)
	ks, ok := a.(KeepaliveSender)
	if !ok {
		t.Fatal("MemEndpoint is not a KeepaliveSender")
	}
	if err := ks.SendKeepalive(addrA2, addrB); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.Keepalives != 1 || s.Delivered != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestMemCloseAndCancel(t *testing.T) {
	n := NewMemNetwork(MemOptions{})
	a := n.Endpoint(addrA)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Recv: %v", err)
	}
	done := make(chan error)
	go func() {
		_, err := a.Recv(context.Background())
		done <- err
	}()
	_ = a.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Recv after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
	if err := a.Send(Packet{Remote: addrB}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	n.Endpoint(addrA) // the address is free again
}

func BenchmarkMemSendRecv(b *testing.B) {
	n := NewMemNetwork(MemOptions{})
	a := n.Endpoint(addrA)
	c := n.Endpoint(addrB)
	msg := make([]byte, 300)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Send(Packet{Local: addrA, Remote: addrB, Data: msg})
		if _, err := c.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
