package dataplane

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// LifetimeEvent reports that an SA crossed its soft (rekey now) or hard
// (traffic stopped) lifetime, or ran out of sequence numbers.
type LifetimeEvent struct {
	SPI       uint32
	Direction Direction
	Tunnel    TunnelID
	Hard      bool
	Packets   uint64
	Bytes     uint64
}

// HairpinEvent reports traffic that entered on one tunnel and left on
// another of the same NHRP network-id: the trigger for an NHRP traffic
// indication (redirect) to the source spoke.
type HairpinEvent struct {
	NetworkID uint32
	In, Out   TunnelID
	Src, Dst  netip.Addr // inner packet addresses
	// VRF is the VRF the packet was forwarded in: the one its MPLS label
	// named (MPLS over FlexVPN), else the ingress tunnel's. The redirect is
	// that VRF's (seed-features.md §21 step 5).
	VRF uint32
}

// EventSink receives the engine's reports. The engine calls it on the
// packet path, so implementations must return quickly and never block
// (ChanEvents is one that drops when its consumer lags). Calls may come from
// several workers at once.
type EventSink interface {
	SALifetime(LifetimeEvent)
	Hairpin(HairpinEvent)
}

// ChanEvents is an EventSink that forwards to buffered channels without
// blocking, counting what it had to drop.
type ChanEvents struct {
	Lifetimes chan LifetimeEvent
	Hairpins  chan HairpinEvent
	Dropped   atomic.Uint64
}

// NewChanEvents returns a ChanEvents with channels of the given capacity.
func NewChanEvents(capacity int) *ChanEvents {
	return &ChanEvents{Lifetimes: make(chan LifetimeEvent, capacity), Hairpins: make(chan HairpinEvent, capacity)}
}

// SALifetime implements EventSink.
func (c *ChanEvents) SALifetime(e LifetimeEvent) {
	select {
	case c.Lifetimes <- e:
	default:
		c.Dropped.Add(1)
	}
}

// Hairpin implements EventSink.
func (c *ChanEvents) Hairpin(e HairpinEvent) {
	select {
	case c.Hairpins <- e:
	default:
		c.Dropped.Add(1)
	}
}

type nopSink struct{}

func (nopSink) SALifetime(LifetimeEvent) {}
func (nopSink) Hairpin(HairpinEvent)     {}

// hairpinSlots is the size of the rate limiter's table; pairs that collide
// in it may be reported a little more often than the interval.
const hairpinSlots = 1024

type hairpinSlot struct {
	src, dst netip.Addr
	vrf      uint32
	last     time.Time
}

// eventer delivers events, rate-limiting hairpins per (VRF, source,
// destination): VRFs may use the same addresses.
type eventer struct {
	sink     EventSink
	now      func() time.Time
	interval time.Duration
	mu       sync.Mutex
	slots    [hairpinSlots]hairpinSlot
	limited  atomic.Uint64
}

func (e *eventer) lifetime(sa *SA, hard bool, pkts, bytes uint64) {
	e.sink.SALifetime(LifetimeEvent{SPI: sa.spi, Direction: sa.dir, Tunnel: sa.tunnel, Hard: hard,
		Packets: pkts, Bytes: bytes})
}

func pairHash(vrf uint32, src, dst netip.Addr) uint32 {
	a, b := src.As16(), dst.As16()
	h := (uint32(2166136261) ^ vrf) * 16777619
	for i := 0; i < 16; i++ {
		h = (h ^ uint32(a[i])) * 16777619
		h = (h ^ uint32(b[i])) * 16777619
	}
	return h
}

func (e *eventer) hairpin(ev HairpinEvent) {
	now := e.now()
	s := &e.slots[pairHash(ev.VRF, ev.Src, ev.Dst)%hairpinSlots]
	e.mu.Lock()
	if s.src == ev.Src && s.dst == ev.Dst && s.vrf == ev.VRF && now.Sub(s.last) < e.interval {
		e.mu.Unlock()
		e.limited.Add(1)
		return
	}
	s.src, s.dst, s.vrf, s.last = ev.Src, ev.Dst, ev.VRF, now
	e.mu.Unlock()
	e.sink.Hairpin(ev)
}
