package xdp

import (
	"context"
	"net/netip"
	"sync/atomic"

	"github.com/esphub/esphub/dataplane"
)

// puntSlots is how many punted packets may wait for the control plane;
// more are dropped (counted). Punted traffic is control traffic (NHRP,
// IKE on UDP 4500): a few packets per second per peer.
const puntSlots = 256

// puntMsg is one punted packet waiting for delivery.
type puntMsg struct {
	tunnel dataplane.TunnelID
	proto  uint16
	remote netip.AddrPort
	n      int
	buf    [handoffMTU]byte
}

// punter moves punted packets off the workers: the control plane's
// handler may take its time and may call Inject, which waits for a
// worker, possibly the very worker that punted. Workers copy each packet
// into a preallocated slot (no allocation, never blocking) and one
// goroutine delivers them in order.
type punter struct {
	free    chan *puntMsg
	queue   chan *puntMsg
	dropped atomic.Uint64 // no free slot, or larger than a slot
}

func newPunter() *punter {
	p := &punter{free: make(chan *puntMsg, puntSlots), queue: make(chan *puntMsg, puntSlots)}
	for range puntSlots {
		p.free <- new(puntMsg)
	}
	return p
}

// enqueue copies a punted packet for delivery, or counts it as dropped.
// Safe for concurrent use by the workers.
func (p *punter) enqueue(tunnel dataplane.TunnelID, proto uint16, payload []byte, remote netip.AddrPort) {
	var m *puntMsg
	select {
	case m = <-p.free:
	default:
		p.dropped.Add(1)
		return
	}
	if len(payload) > len(m.buf) {
		p.free <- m
		p.dropped.Add(1)
		return
	}
	m.tunnel, m.proto, m.remote, m.n = tunnel, proto, remote, copy(m.buf[:], payload)
	p.queue <- m // never blocks: at most puntSlots messages exist
}

// run delivers queued packets to fn until ctx ends.
func (p *punter) run(ctx context.Context, fn PuntFunc) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-p.queue:
			fn(m.tunnel, m.proto, m.buf[:m.n], m.remote)
			p.free <- m
		}
	}
}
