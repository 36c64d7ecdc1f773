package xdp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
)

// Punting copies without allocating, drops (and counts) when every slot
// waits, and delivers in order with the payload intact.
func TestPunter(t *testing.T) {
	p := newPunter()
	payload := []byte("nhrp")
	remote := netip.MustParseAddrPort("198.18.1.2:4500")
	if n := testing.AllocsPerRun(100, func() {
		p.enqueue(1, 0x2001, payload, remote)
		m := <-p.queue
		p.free <- m
	}); n != 0 {
		t.Errorf("enqueue allocates %.1f times", n)
	}
	big := make([]byte, handoffMTU+1)
	p.enqueue(1, 0x2001, big, remote)
	if p.dropped.Load() != 1 {
		t.Errorf("oversized punt: dropped %d, want 1", p.dropped.Load())
	}
	for i := range puntSlots + 5 {
		p.enqueue(dataplane.TunnelID(i), 0x2001, []byte{byte(i)}, remote)
	}
	if p.dropped.Load() != 6 {
		t.Errorf("full queue: dropped %d, want 6", p.dropped.Load())
	}
	got := make(chan int, puntSlots)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx, func(tunnel dataplane.TunnelID, proto uint16, b []byte, r netip.AddrPort) {
		if proto != 0x2001 || r != remote || len(b) != 1 || b[0] != byte(tunnel) {
			t.Errorf("punt %d: proto %#x remote %v payload %v", tunnel, proto, r, b)
		}
		got <- int(tunnel)
	})
	for i := range puntSlots {
		select {
		case n := <-got:
			if n != i {
				t.Fatalf("punt %d delivered as number %d", n, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d punts delivered", i)
		}
	}
}
