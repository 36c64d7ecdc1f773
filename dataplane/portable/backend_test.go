package portable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
)

// chanOverlay is an in-memory overlay: tests push packets into in and read
// what the backend delivers from out.
type chanOverlay struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newChanOverlay() *chanOverlay {
	return &chanOverlay{in: make(chan []byte, 16), out: make(chan []byte, 16), closed: make(chan struct{})}
}

func (c *chanOverlay) Read(b []byte) (int, error) {
	select {
	case p := <-c.in:
		return copy(b, p), nil
	case <-c.closed:
		return 0, errors.New("closed")
	}
}

func (c *chanOverlay) Write(b []byte) (int, error) {
	c.out <- append([]byte(nil), b...)
	return len(b), nil
}

func (c *chanOverlay) close() { c.once.Do(func() { close(c.closed) }) }

// loopUnderlay delivers what one backend sends straight into another, as
// the IKE transport would after its socket read.
type loopUnderlay struct {
	peer        **Backend
	local       netip.AddrPort
	encap       bool
	sent, bytes int
	mu          sync.Mutex
}

func (l *loopUnderlay) WriteESP(b []byte, remote netip.AddrPort) error {
	l.mu.Lock()
	l.sent++
	l.bytes += len(b)
	l.mu.Unlock()
	(*l.peer).DeliverESP(b, remote, l.local, l.encap)
	return nil
}

func ping(src, dst netip.Addr, seq uint16) []byte {
	b := make([]byte, 84)
	hdr.EncodeIPv4(b, 0, 84, seq, 64, 1, src, dst)
	b[20] = 8
	binary.BigEndian.PutUint16(b[26:], seq)
	binary.BigEndian.PutUint16(b[22:], ^hdr.Checksum(b[20:], 0))
	return b
}

func TestBackendsOverLoopback(t *testing.T) {
	a4, b4 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	var ba, bb *Backend
	ovA, ovB := newChanOverlay(), newChanOverlay()
	uA := &loopUnderlay{peer: &bb, local: netip.AddrPortFrom(a4, 4500), encap: true}
	uB := &loopUnderlay{peer: &ba, local: netip.AddrPortFrom(b4, 4500), encap: true}
	var punted [][]byte
	var pmu sync.Mutex
	mk := func(ov *chanOverlay, u *loopUnderlay) *Backend {
		b, err := New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), Overlay: ov, UDP: u,
			Punt: func(tun dataplane.TunnelID, proto uint16, payload []byte, _ netip.AddrPort) {
				pmu.Lock()
				punted = append(punted, append([]byte(nil), payload...))
				pmu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ba, bb = mk(ovA, uA), mk(ovB, uB)
	kAB, kBA := bytes.Repeat([]byte{1}, 20), bytes.Repeat([]byte{2}, 20)
	for i, b := range []*Backend{ba, bb} {
		local, remote, out, in := a4, b4, kAB, kBA
		if i == 1 {
			local, remote, out, in = b4, a4, kBA, kAB
		}
		mustOK(t, b.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeGRE, Local: local, Remote: remote, Encap: true}))
		outSPI, inSPI := uint32(0x100), uint32(0x200)
		if i == 1 {
			outSPI, inSPI = inSPI, outSPI
		}
		mustOK(t, b.AddSA(dataplane.SAConfig{SPI: outSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: out}))
		mustOK(t, b.AddSA(dataplane.SAConfig{SPI: inSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: in}))
	}
	mustOK(t, ba.AddRoute(0, netip.MustParsePrefix("198.18.20.0/24"), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}))
	mustOK(t, bb.AddRoute(0, netip.MustParsePrefix("198.18.20.0/24"), dataplane.NextHop{Kind: dataplane.NextHopHost}))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- ba.RunOverlay(ctx) }()
	go func() { done <- bb.RunOverlay(ctx) }()
	t.Cleanup(func() {
		cancel()
		ovA.close()
		ovB.close()
		for i := 0; i < 2; i++ {
			if err := <-done; err != nil {
				t.Errorf("RunOverlay: %v", err)
			}
		}
	})
	for i := 0; i < 5; i++ {
		pkt := ping(netip.MustParseAddr("198.18.10.1"), netip.MustParseAddr("198.18.20.1"), uint16(i))
		ovA.in <- pkt
		select {
		case got := <-ovB.out:
			if !bytes.Equal(got, pkt) {
				t.Fatalf("B's overlay got % x, want % x", got, pkt)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("nothing reached B's overlay")
		}
	}
	// NHRP injected on B reaches A's punt handler.
	mustOK(t, bb.Inject(1, hdr.EtherTypeNHRP, []byte{0, 1, 8, 0, 0, 0, 0, 0, 0, 64}))
	pmu.Lock()
	if len(punted) != 1 || punted[0][9] != 64 {
		t.Fatalf("punted %v", punted)
	}
	pmu.Unlock()
	// A NAT keepalive from A is consumed and counted by B's engine.
	mustOK(t, ba.SendNATKeepalive(1))
	if bb.Keepalives() != 1 {
		t.Fatalf("B counted %d keepalives", bb.Keepalives())
	}
	if ba.SendNATKeepalive(7) == nil {
		t.Fatal("keepalive on a missing tunnel succeeded")
	}
	st := ba.Stats()
	if st.OverlayRx != 5 || st.UnderlayTx != 5 || bb.Stats().OverlayTx != 5 || ba.Stats().Punted != 1 {
		t.Fatalf("stats A %+v B %+v", ba.Stats(), bb.Stats())
	}
	if err := ba.Inject(9, hdr.EtherTypeIPv4, ping(netip.MustParseAddr("198.18.10.1"), netip.MustParseAddr("198.18.20.1"), 1)); err == nil {
		t.Fatal("inject into a missing tunnel succeeded")
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
