package dataplane

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/replay"
)

// Direction of an SA.
type Direction uint8

// SA directions.
const (
	Inbound Direction = iota + 1
	Outbound
)

func (d Direction) String() string {
	switch d {
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	}
	return "direction?"
}

// Lifetime holds an SA's byte and packet limits; zero means no limit. At the
// soft limit the engine reports once so the control side rekeys; at the
// hard limit it reports once more and drops the SA's traffic.
type Lifetime struct {
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
}

// SAConfig describes a Child SA half as IKE negotiated it.
type SAConfig struct {
	SPI       uint32
	Direction Direction
	Tunnel    TunnelID
	Algorithm esp.Algorithm
	// EncKey is the encryption key material (for AES-GCM: key || 4-byte
	// salt, RFC 4106); AuthKey the integrity key for the CBC algorithms.
	// The engine copies what it needs; never log either.
	EncKey, AuthKey []byte
	ESN             bool
	// SGT marks that IKEv2 negotiated Cisco inline tagging for this SA:
	// outbound packets carry a CMD header with the source's SGT.
	SGT      bool
	Lifetime Lifetime
	// ReplayWindow disables anti-replay when set to -1 (RFC 4303 allows
	// a receiver to not check); 0 selects the full window.
	ReplayWindow int
	// LocalTS and RemoteTS are the negotiated traffic selectors (address
	// ranges as prefixes). For an inbound tunnel-mode (ModeIPsec) SA the
	// engine drops decrypted packets whose source is outside RemoteTS or
	// whose destination is outside LocalTS (RFC 4301 §5.2); empty means any,
	// as FlexVPN's 0.0.0.0/0 selectors do. GRE-mode SAs protect the GRE
	// endpoints, so their inner packets are not checked.
	LocalTS, RemoteTS []netip.Prefix
}

// SA is an installed SA. Its configuration is immutable; counters are
// atomics; the replay window is guarded by mu (one worker normally owns an
// inbound SA, so the lock is uncontended).
type SA struct {
	spi      uint32
	dir      Direction
	tunnel   TunnelID
	esn, sgt bool
	noReplay bool
	localTS  []netip.Prefix
	remoteTS []netip.Prefix
	lifetime atomic.Pointer[Lifetime]
	cipher   *esp.Cipher
	seq      atomic.Uint64 // outbound: last sequence number used
	mu       sync.Mutex
	// window is the inbound SA's anti-replay window (nil on outbound
	// SAs: at 1 KiB it is most of an SA's size, and a hub holds one
	// outbound SA per idle session).
	window    *replay.Window
	packets   atomic.Uint64
	bytes     atomic.Uint64
	drops     atomic.Uint64
	authFails atomic.Uint64
	replays   atomic.Uint64
	softFired atomic.Bool
	hardFired atomic.Bool
}

func newSA(c SAConfig) (*SA, error) {
	if c.SPI == 0 {
		return nil, fmt.Errorf("spi 0 is reserved")
	}
	if c.Direction != Inbound && c.Direction != Outbound {
		return nil, fmt.Errorf("sa %#x: direction not set", c.SPI)
	}
	ci, err := esp.NewCipher(c.Algorithm, c.EncKey, c.AuthKey)
	if err != nil {
		return nil, fmt.Errorf("sa %#x: %w", c.SPI, err)
	}
	sa := &SA{spi: c.SPI, dir: c.Direction, tunnel: c.Tunnel, esn: c.ESN, sgt: c.SGT, cipher: ci,
		noReplay: c.ReplayWindow < 0, localTS: unmapAll(c.LocalTS), remoteTS: unmapAll(c.RemoteTS)}
	if c.Direction == Inbound {
		sa.window = new(replay.Window)
	}
	lt := c.Lifetime
	sa.lifetime.Store(&lt)
	return sa, nil
}

// SAStats is a snapshot of an SA's counters.
type SAStats struct {
	SPI              uint32
	Direction        Direction
	Tunnel           TunnelID
	Algorithm        esp.Algorithm
	ESN, SGT         bool
	Packets, Bytes   uint64
	Drops            uint64
	AuthFailures     uint64
	ReplayDrops      uint64
	Seq              uint64 // outbound: last sent; inbound: highest accepted
	SoftExpired      bool
	HardExpired      bool
	Lifetime         Lifetime
	ReplayWindowSize int
}

func (sa *SA) stats() SAStats {
	s := SAStats{SPI: sa.spi, Direction: sa.dir, Tunnel: sa.tunnel, Algorithm: sa.cipher.Algorithm(),
		ESN: sa.esn, SGT: sa.sgt, Packets: sa.packets.Load(), Bytes: sa.bytes.Load(), Drops: sa.drops.Load(),
		AuthFailures: sa.authFails.Load(), ReplayDrops: sa.replays.Load(), SoftExpired: sa.softFired.Load(),
		HardExpired: sa.hardFired.Load(), Lifetime: *sa.lifetime.Load()}
	if sa.dir == Outbound {
		s.Seq = sa.seq.Load()
	} else {
		sa.mu.Lock()
		s.Seq = sa.window.Last()
		sa.mu.Unlock()
		if !sa.noReplay {
			s.ReplayWindowSize = replay.WindowSize
		}
	}
	return s
}

// lifetimeOK checks the totals an SA would have after a packet (its
// committed counters plus what a worker has pending) against its limits,
// reporting each crossing once. It returns false past the hard lifetime
// (the packet is to be dropped). With several workers on one SA the limits
// hold to within one batch per worker.
func (sa *SA) lifetimeOK(pkts, bytes uint64, ev *eventer) bool {
	if sa.hardFired.Load() {
		return false
	}
	lt := sa.lifetime.Load()
	if (lt.HardBytes != 0 && bytes > lt.HardBytes) || (lt.HardPackets != 0 && pkts > lt.HardPackets) {
		if sa.hardFired.CompareAndSwap(false, true) {
			ev.lifetime(sa, true, pkts, bytes)
		}
		return false
	}
	if (lt.SoftBytes != 0 && bytes >= lt.SoftBytes) || (lt.SoftPackets != 0 && pkts >= lt.SoftPackets) {
		if !sa.softFired.Load() && sa.softFired.CompareAndSwap(false, true) {
			ev.lifetime(sa, false, pkts, bytes)
		}
	}
	return true
}

// lifetimeRoom returns how many more packets and bytes the SA can carry,
// over what it has committed now, before lifetimeOK would have anything
// to report or refuse: below the hard limits and, until the soft expiry has
// fired, below the soft ones. Both are 0 once the hard expiry has fired.
func (sa *SA) lifetimeRoom() (pkts, bytes uint64) {
	if sa.hardFired.Load() {
		return 0, 0
	}
	lt := sa.lifetime.Load()
	soft := !sa.softFired.Load()
	cp, cb := sa.packets.Load(), sa.bytes.Load()
	return room(cp, lt.HardPackets, lt.SoftPackets, soft), room(cb, lt.HardBytes, lt.SoftBytes, soft)
}

// room returns how far a total may grow from used while it stays at or
// below hard (0: none) and, when soft applies, below soft (0: none).
func room(used, hard, soft uint64, applySoft bool) uint64 {
	r := ^uint64(0)
	if hard != 0 {
		r = sub0(hard, used)
	}
	if applySoft && soft != 0 {
		r = min(r, sub0(soft, used+1))
	}
	return r
}

// sub0 is a-b, or 0 when b > a.
func sub0(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// nextSeq reserves the next outbound sequence number; ok is false when the
// space is exhausted (2^32-1 without ESN, RFC 4303 §3.3.3), which the
// engine treats as a hard expiry.
func (sa *SA) nextSeq(ev *eventer) (uint64, bool) {
	return sa.seqOK(sa.seq.Add(1), ev)
}

// seqOK checks a reserved sequence number against the sequence space,
// firing the hard expiry the first time it runs out.
func (sa *SA) seqOK(s uint64, ev *eventer) (uint64, bool) {
	if (!sa.esn && s > 0xffffffff) || s == 0 {
		if sa.hardFired.CompareAndSwap(false, true) {
			ev.lifetime(sa, true, sa.packets.Load(), sa.bytes.Load())
		}
		return 0, false
	}
	return s, true
}

// seqBlock is a worker's reservation of consecutive outbound sequence
// numbers on one SA: one atomic add per run of packets on the SA instead
// of one per packet. Numbers left over when the run ends are handed back
// when no other worker has reserved since, so a single worker per SA (the
// usual case) leaves no gaps and the SA's counter always ends at the last
// number used; with several workers a leftover may become a gap, which
// receivers accept (RFC 4303 §3.4.3). No number is ever used twice.
type seqBlock struct {
	sa           *SA
	nextSeq, end uint64 // next to hand out; last reserved
	limit        uint64 // last that next may hand out: end, or the end of the space
}

// next returns the next reserved number of sa when the block has one
// within the sequence space, or 0: the common case, small enough to
// inline; take does the rest.
func (b *seqBlock) next(sa *SA) uint64 {
	if s := b.nextSeq; b.sa == sa && s <= b.limit {
		b.nextSeq++
		return s
	}
	return 0
}

// take returns the next sequence number of sa. The first packet on an SA
// takes a single number; a second one in a row reserves want numbers (the
// packets that may follow), so that interleaved flows cost what they did
// before (one atomic add per packet) and runs cost two adds and a
// compare-and-swap.
func (b *seqBlock) take(sa *SA, want int, ev *eventer) (uint64, bool) {
	switch {
	case b.sa != sa:
		b.release()
		s := sa.seq.Add(1)
		b.sa, b.nextSeq, b.end = sa, s, s
	case b.nextSeq > b.end:
		n := uint64(max(want, 1))
		end := sa.seq.Add(n)
		b.nextSeq, b.end = end-n+1, end
	}
	b.limit = b.end
	if !sa.esn {
		b.limit = min(b.limit, 0xffffffff)
	}
	if b.nextSeq == 0 {
		b.limit = 0 // wrapped: seqOK refuses it
	}
	s := b.nextSeq
	b.nextSeq++
	return sa.seqOK(s, ev)
}

// release hands the unused rest of the block back if it is still the top
// of the SA's sequence space, and forgets the SA.
func (b *seqBlock) release() {
	if b.sa != nil && b.nextSeq <= b.end {
		b.sa.seq.CompareAndSwap(b.end, b.nextSeq-1)
	}
	*b = seqBlock{}
}

func unmapAll(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked())
	}
	return out
}

// selects reports whether an inner packet from src to dst is within the
// SA's traffic selectors. The check of selectors that allow anything (the
// FlexVPN default) is small enough to inline.
func (sa *SA) selects(src, dst netip.Addr) bool {
	return len(sa.remoteTS)+len(sa.localTS) == 0 || sa.selectsSome(src, dst)
}

func (sa *SA) selectsSome(src, dst netip.Addr) bool {
	return inAny(sa.remoteTS, src) && inAny(sa.localTS, dst)
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
