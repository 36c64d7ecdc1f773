package transport

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// MemOptions shape the in-memory network. The zero value is a perfect
// network: no loss, no delay, delivery in order.
type MemOptions struct {
	// Loss is the probability in [0, 1] that a datagram is dropped.
	Loss float64
	// Reorder is the probability that a datagram is held back by
	// ReorderDelay so that later datagrams overtake it.
	Reorder float64
	// ReorderDelay is how long a reordered datagram is held (default 5ms).
	ReorderDelay time.Duration
	// Duplicate is the probability that a datagram is delivered twice.
	Duplicate float64
	// Delay is added to every datagram; Jitter adds a uniform random
	// amount in [0, Jitter) on top, which also reorders.
	Delay, Jitter time.Duration
	// Seed seeds the random decisions, so a failing run can be repeated
	// (the interleaving of goroutines still varies).
	Seed int64
	// QueueLen is each endpoint's receive queue (default 1024); a full
	// queue drops, like a socket buffer.
	QueueLen int
	// Filter, if set, sees each datagram before the random decisions and
	// drops it by returning false: scripted tests use it to lose exactly
	// the message they mean to. It must not retain p.Data.
	Filter func(p Packet) bool
}

// MemStats counts what a MemNetwork did with datagrams.
type MemStats struct {
	Sent, Delivered, Lost, Filtered, Reordered, Duplicated, NoRoute, QueueFull uint64
	// Keepalives counts NAT keepalives sent; they are never delivered to
	// Recv, as the UDP transport drops them on receipt.
	Keepalives uint64
}

// MemNetwork is an in-memory datagram network for engine tests. Endpoints
// own addresses; a datagram to an address nobody owns is dropped (NoRoute).
// It is safe for concurrent use.
type MemNetwork struct {
	mu    sync.Mutex
	opts  MemOptions
	rng   *rand.Rand
	hosts map[netip.AddrPort]*MemEndpoint
	// natOut maps an inside address to the public one its datagrams show;
	// natIn maps the public address back.
	natOut, natIn map[netip.AddrPort]netip.AddrPort

	sent, delivered, lost, filtered, reordered, duplicated, noRoute, queueFull, keepalives atomic.Uint64
}

// NewMemNetwork returns an empty network shaped by opts.
func NewMemNetwork(opts MemOptions) *MemNetwork {
	if opts.ReorderDelay <= 0 {
		opts.ReorderDelay = 5 * time.Millisecond
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 1024
	}
	seed := uint64(opts.Seed)
	return &MemNetwork{
		opts:   opts,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		hosts:  make(map[netip.AddrPort]*MemEndpoint),
		natOut: make(map[netip.AddrPort]netip.AddrPort),
		natIn:  make(map[netip.AddrPort]netip.AddrPort),
	}
}

// NAT puts inside behind a static NAT mapping: datagrams sent from inside
// arrive from outside, and datagrams sent to outside reach inside. Tests of
// NAT detection and the move to port 4500 map both ports of a host.
func (n *MemNetwork) NAT(inside, outside netip.AddrPort) {
	n.mu.Lock()
	n.natOut[inside] = outside
	n.natIn[outside] = inside
	n.mu.Unlock()
}

// SetLoss changes the loss probability, e.g. to 1 to cut a link for a
// liveness test and back to 0 to heal it.
func (n *MemNetwork) SetLoss(loss float64) {
	n.mu.Lock()
	n.opts.Loss = loss
	n.mu.Unlock()
}

// SetFilter replaces the Filter of MemOptions.
func (n *MemNetwork) SetFilter(f func(p Packet) bool) {
	n.mu.Lock()
	n.opts.Filter = f
	n.mu.Unlock()
}

// Stats returns a snapshot of the counters.
func (n *MemNetwork) Stats() MemStats {
	return MemStats{
		Sent: n.sent.Load(), Delivered: n.delivered.Load(), Lost: n.lost.Load(),
		Filtered: n.filtered.Load(), Reordered: n.reordered.Load(), Duplicated: n.duplicated.Load(),
		NoRoute: n.noRoute.Load(), QueueFull: n.queueFull.Load(), Keepalives: n.keepalives.Load(),
	}
}

// Endpoint attaches a host owning addrs (typically ip:500 and ip:4500) and
// returns its Transport. It panics if an address is already owned, which is
// a bug in the test that built the network.
func (n *MemNetwork) Endpoint(addrs ...netip.AddrPort) Transport {
	return n.NewEndpoint(addrs...)
}

// NewEndpoint is Endpoint returning the concrete type.
func (n *MemNetwork) NewEndpoint(addrs ...netip.AddrPort) *MemEndpoint {
	if len(addrs) == 0 {
		panic("transport: MemNetwork endpoint without addresses")
	}
	e := &MemEndpoint{net: n, addrs: addrs, queue: make(chan Packet, n.opts.QueueLen), done: make(chan struct{})}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addrs {
		if _, dup := n.hosts[a]; dup {
			panic(fmt.Sprintf("transport: address %v already attached", a))
		}
		n.hosts[a] = e
	}
	return e
}

// MemEndpoint is a host on a MemNetwork.
type MemEndpoint struct {
	net   *MemNetwork
	addrs []netip.AddrPort
	queue chan Packet
	once  sync.Once
	done  chan struct{}
}

// Addrs returns the addresses the endpoint owns; the slice must not be modified.
func (e *MemEndpoint) Addrs() []netip.AddrPort { return e.addrs }

// Send implements Transport. A zero p.Local sends from the endpoint's first
// address whose family matches p.Remote.
func (e *MemEndpoint) Send(p Packet) error {
	select {
	case <-e.done:
		return net.ErrClosed
	default:
	}
	if !p.Local.IsValid() {
		p.Local = e.addrs[0]
		for _, a := range e.addrs {
			if a.Addr().Is4() == p.Remote.Addr().Is4() {
				p.Local = a
				break
			}
		}
	}
	n := e.net
	n.sent.Add(1)
	n.mu.Lock()
	o := n.opts
	if o.Filter != nil && !o.Filter(p) {
		n.mu.Unlock()
		n.filtered.Add(1)
		return nil
	}
	if o.Loss > 0 && n.rng.Float64() < o.Loss {
		n.mu.Unlock()
		n.lost.Add(1)
		return nil
	}
	copies := 1
	if o.Duplicate > 0 && n.rng.Float64() < o.Duplicate {
		copies = 2
		n.duplicated.Add(1)
	}
	var delays [2]time.Duration
	for i := range copies {
		d := o.Delay
		if o.Jitter > 0 {
			d += time.Duration(n.rng.Int64N(int64(o.Jitter)))
		}
		if o.Reorder > 0 && n.rng.Float64() < o.Reorder {
			d += o.ReorderDelay
			n.reordered.Add(1)
		}
		delays[i] = d
	}
	// The receiver sees the datagram addressed to it: Local and Remote
	// swap, after the NAT rewrites the source and destination.
	in := Packet{Local: p.Remote, Remote: p.Local}
	if pub, ok := n.natOut[p.Local]; ok {
		in.Remote = pub
	}
	if priv, ok := n.natIn[p.Remote]; ok {
		in.Local = priv
	}
	dst := n.hosts[in.Local]
	n.mu.Unlock()
	if dst == nil {
		n.noRoute.Add(1)
		return nil
	}
	for i := range copies {
		in.Data = append([]byte(nil), p.Data...)
		if delays[i] <= 0 {
			dst.deliver(in)
			continue
		}
		pkt := in
		time.AfterFunc(delays[i], func() { dst.deliver(pkt) })
	}
	return nil
}

// SendKeepalive implements KeepaliveSender: it only counts, since a
// receiving transport would drop the keepalive anyway.
func (e *MemEndpoint) SendKeepalive(local, remote netip.AddrPort) error {
	select {
	case <-e.done:
		return net.ErrClosed
	default:
	}
	e.net.keepalives.Add(1)
	return nil
}

func (e *MemEndpoint) deliver(p Packet) {
	select {
	case <-e.done:
		return
	default:
	}
	select {
	case e.queue <- p:
		e.net.delivered.Add(1)
	default:
		e.net.queueFull.Add(1)
	}
}

// Recv implements Transport.
func (e *MemEndpoint) Recv(ctx context.Context) (Packet, error) {
	select {
	case p := <-e.queue:
		return p, nil
	case <-e.done:
		return Packet{}, net.ErrClosed
	case <-ctx.Done():
		return Packet{}, ctx.Err()
	}
}

// Close implements Transport: it detaches the endpoint's addresses, so they
// can be attached again (a restarted peer).
func (e *MemEndpoint) Close() error {
	e.once.Do(func() {
		close(e.done)
		e.net.mu.Lock()
		for _, a := range e.addrs {
			if e.net.hosts[a] == e {
				delete(e.net.hosts, a)
			}
		}
		e.net.mu.Unlock()
	})
	return nil
}
