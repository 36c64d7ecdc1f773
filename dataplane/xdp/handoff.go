package xdp

import (
	"net/netip"
	"sync/atomic"
)

// handoffSlot carries one packet between workers: the IP packet (outer
// header first for inbound ESP, inner IP for outbound) and what the
// receiving worker needs to process it.
type handoffSlot struct {
	n       int
	inbound bool
	vrf     uint32
	local   netip.AddrPort
	remote  netip.AddrPort
	encap   bool
	buf     [handoffMTU]byte
}

// handoffMTU is the largest packet a hand-off carries; larger ones are
// dropped (counted) since no underlay frame is bigger than an AF_XDP frame.
const handoffMTU = 2048 - 256

// handoffRing is a bounded single-producer, single-consumer queue of
// packets from one worker to another. The producer owns tail and the slots
// between tail and head+size; the consumer owns head. Slots are preallocated,
// so pushing and popping never allocate.
type handoffRing struct {
	head  atomic.Uint64 // next slot to pop (consumer)
	_     [56]byte      // keep the indices on separate cache lines
	tail  atomic.Uint64 // next slot to fill (producer)
	_     [56]byte
	mask  uint64
	slots []handoffSlot
}

func newHandoffRing(size int) *handoffRing {
	n := 1
	for n < size {
		n <<= 1
	}
	return &handoffRing{mask: uint64(n - 1), slots: make([]handoffSlot, n)}
}

// reserve returns the next free slot for the producer, or nil when the
// ring is full. The slot becomes visible to the consumer on commit.
func (r *handoffRing) reserve() *handoffSlot {
	t := r.tail.Load()
	if t-r.head.Load() > r.mask {
		return nil
	}
	return &r.slots[t&r.mask]
}

// commit publishes the slot returned by the last reserve.
func (r *handoffRing) commit() { r.tail.Add(1) }

// peek returns the oldest published slot, or nil when the ring is empty.
// The consumer calls release when done with it.
func (r *handoffRing) peek() *handoffSlot {
	h := r.head.Load()
	if h == r.tail.Load() {
		return nil
	}
	return &r.slots[h&r.mask]
}

// release frees the slot returned by the last peek.
func (r *handoffRing) release() { r.head.Add(1) }

// len returns how many slots are published; safe from any goroutine.
func (r *handoffRing) len() int { return int(r.tail.Load() - r.head.Load()) }
