// Package afxdp is esphub's AF_XDP socket layer: a UMEM (the packet memory
// shared with the kernel), its fill and completion rings, RX and TX rings,
// one socket per (interface, queue), and sockets on several interfaces
// sharing one UMEM so that a worker forwards between them without copying.
//
// Frames move between the application and the kernel in batches of Desc.
// Every frame of a UMEM is at any moment in exactly one place: free in the
// pool, on a fill ring (kernel), held by the application after Receive or
// Alloc, or on a TX ring until the kernel completes it. The FramePool tracks
// this and checks every transition, so that a frame is never leaked or used
// twice: a wrong transition is refused and counted as a violation. Debug mode
// also poisons frames as they return to the pool.
//
// Copy mode (XDP_COPY) is what virtual devices such as veth support; zero-copy
// is tried first where the driver offers it (BindAuto). In copy mode every
// TX batch needs a sendto kick, each kick transmits at most the TX budget
// (XDP_MAX_TX_SKB_BUDGET, raised to 256 here), and the kick loop repeats until
// the ring drains. Workers busy-poll Receive and block in Poller.Wait when
// idle.
//
// Concurrency: a UMEM and its sockets belong to one worker goroutine. Only
// Stats, FramePool.Counts and the Violations accessors may be called from
// other goroutines.
package afxdp

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Desc describes a packet in UMEM: Addr is the offset of its first byte in
// the UMEM, Len its length. It has the layout of struct xdp_desc, so RX and
// TX ring entries are copied as whole values.
type Desc struct {
	Addr    uint64
	Len     uint32
	Options uint32
}

// FrameState is where a frame is.
type FrameState uint8

const (
	StateFree FrameState = iota // in the pool
	StateUser                   // held by the application (after Receive or Alloc)
	StateFill                   // given to the kernel on a fill ring
	StateTX                     // given to the kernel on a TX ring
)

func (s FrameState) String() string {
	switch s {
	case StateFree:
		return "free"
	case StateUser:
		return "user"
	case StateFill:
		return "fill"
	case StateTX:
		return "tx"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// FrameCounts is how many frames are in each state.
type FrameCounts struct {
	Free, User, Fill, TX int
}

// Total is the number of frames accounted for.
func (c FrameCounts) Total() int { return c.Free + c.User + c.Fill + c.TX }

// PoisonByte fills frames returned to a debug-mode pool.
const PoisonByte = 0xdb

const (
	stateMask  = 0x3
	ownerShift = 2
	// maxOwners is how many sockets one pool can track (6 bits).
	maxOwners = 64
)

// FramePool is the allocator and ownership ledger of a UMEM's frames. It is
// not safe for concurrent use, except Counts and Violations.
//
// Every frame has a one-byte state (where it is, and for kernel-held frames
// which socket holds it); a transition costs a compare and a store. A wrong
// transition (a double release, a completion of a frame never sent, an
// address that is not a frame) is counted as a violation and ignored instead
// of corrupting the ledger. Debug mode also fills every frame that returns to
// the pool with PoisonByte, so that a use after release shows up in the data.
type FramePool struct {
	frameSize uint64
	shift     uint // log2(frameSize)
	nFrames   uint32
	free      []uint32 // stack of free frame indices
	state     []uint8
	debug     bool
	mem       []byte // the UMEM, for poisoning in debug mode; may be nil

	counts [4]atomic.Int64

	violations    atomic.Uint64
	violationMu   sync.Mutex
	lastViolation string
}

// NewFramePool returns a pool of n frames of frameSize bytes (a power of two
// of at least 2048), all free.
func NewFramePool(n int, frameSize int, debug bool) (*FramePool, error) {
	if n <= 0 || n > 1<<24 {
		return nil, fmt.Errorf("frame pool: %d frames out of range", n)
	}
	if frameSize < 2048 || frameSize&(frameSize-1) != 0 {
		return nil, fmt.Errorf("frame pool: frame size %d is not a power of two >= 2048", frameSize)
	}
	p := &FramePool{
		frameSize: uint64(frameSize),
		nFrames:   uint32(n),
		free:      make([]uint32, n),
		state:     make([]uint8, n),
		debug:     debug,
	}
	for p.shift = 0; 1<<p.shift < frameSize; p.shift++ {
	}
	// Hand out low addresses first: pop from the end.
	for i := range n {
		p.free[i] = uint32(n - 1 - i)
	}
	p.counts[StateFree].Store(int64(n))
	return p, nil
}

// FrameSize returns the frame (chunk) size.
func (p *FramePool) FrameSize() int { return int(p.frameSize) }

// Len returns the number of frames.
func (p *FramePool) Len() int { return int(p.nFrames) }

// Debug reports whether released frames are poisoned.
func (p *FramePool) Debug() bool { return p.debug }

// Available returns the number of free frames.
func (p *FramePool) Available() int { return len(p.free) }

// Counts returns how many frames are in each state. Safe for concurrent
// use; the four numbers are read one after another, so under concurrent
// change they may not add up exactly.
func (p *FramePool) Counts() FrameCounts {
	return FrameCounts{
		Free: int(p.counts[StateFree].Load()),
		User: int(p.counts[StateUser].Load()),
		Fill: int(p.counts[StateFill].Load()),
		TX:   int(p.counts[StateTX].Load()),
	}
}

// Violations returns the number of refused (invalid) transitions and a
// description of the latest. Safe for concurrent use.
func (p *FramePool) Violations() (uint64, string) {
	p.violationMu.Lock()
	defer p.violationMu.Unlock()
	return p.violations.Load(), p.lastViolation
}

func (p *FramePool) violate(addr uint64, from FrameState, want FrameState, to FrameState) {
	p.violations.Add(1)
	p.violationMu.Lock()
	p.lastViolation = fmt.Sprintf("frame at %#x: %v -> %v while %v", addr, want, to, from)
	p.violationMu.Unlock()
}

// index returns the frame index of a UMEM address (any address within the
// frame) and whether it is inside the UMEM.
func (p *FramePool) index(addr uint64) (uint32, bool) {
	i := addr >> p.shift
	return uint32(i), i < uint64(p.nFrames)
}

// Base returns the address of the first byte of the frame containing addr.
func (p *FramePool) Base(addr uint64) uint64 { return addr &^ (p.frameSize - 1) }

// State returns the state of the frame containing addr and the owner
// (socket index) recorded for kernel-held frames.
func (p *FramePool) State(addr uint64) (FrameState, int) {
	i, ok := p.index(addr)
	if !ok {
		return StateFree, -1
	}
	s := p.state[i]
	return FrameState(s & stateMask), int(s >> ownerShift)
}

// alloc pops a free frame and puts it in state to, owned by owner. It
// returns the frame's base address and false when the pool is empty.
func (p *FramePool) alloc(to FrameState, owner int) (uint64, bool) {
	addr, ok := p.allocNoCount(to, owner)
	if ok {
		p.countBatch(StateFree, to, 1)
	}
	return addr, ok
}

// allocNoCount is alloc without the shared counters (see countBatch).
func (p *FramePool) allocNoCount(to FrameState, owner int) (uint64, bool) {
	n := len(p.free)
	if n == 0 {
		return 0, false
	}
	i := p.free[n-1]
	p.free = p.free[:n-1]
	if cur := FrameState(p.state[i] & stateMask); cur != StateFree {
		// The free stack and the states disagree: a bug in this file.
		p.violate(uint64(i)<<p.shift, cur, StateFree, to)
	}
	p.state[i] = uint8(to) | uint8(owner)<<ownerShift
	return uint64(i) << p.shift, true
}

// move records that the frame at addr went from state from to state to. It
// returns false, and counts a violation, when addr is not a frame or the
// frame was not in state from.
func (p *FramePool) move(addr uint64, from, to FrameState, owner int) bool {
	if !p.moveNoCount(addr, from, to, owner) {
		return false
	}
	p.countBatch(from, to, 1)
	return true
}

// moveNoCount is move without the shared counters, which hot paths update
// once per batch with countBatch (one atomic add per batch, not per frame).
func (p *FramePool) moveNoCount(addr uint64, from, to FrameState, owner int) bool {
	i, ok := p.index(addr)
	if !ok {
		p.violate(addr, StateFree, from, to)
		return false
	}
	// Frames leave the free state only through alloc, which takes them
	// off the free stack.
	if cur := FrameState(p.state[i] & stateMask); cur != from || from == StateFree {
		p.violate(addr, cur, from, to)
		return false
	}
	p.state[i] = uint8(to) | uint8(owner)<<ownerShift
	if to == StateFree {
		p.free = append(p.free, i)
		if p.debug && p.mem != nil {
			f := p.mem[uint64(i)<<p.shift : uint64(i+1)<<p.shift]
			for j := range f {
				f[j] = PoisonByte
			}
		}
	}
	return true
}

// countBatch moves n frames from one state's count to another's.
func (p *FramePool) countBatch(from, to FrameState, n int) {
	if n == 0 {
		return
	}
	p.counts[from].Add(int64(-n))
	p.counts[to].Add(int64(n))
}

// Alloc fills descs with free frames for the application to write packets
// into (state user). Each Desc points headroom bytes into its frame with
// Len 0. It returns how many it allocated (fewer when the pool runs low).
func (p *FramePool) Alloc(descs []Desc, headroom int) int {
	n := 0
	for n < len(descs) {
		addr, ok := p.allocNoCount(StateUser, 0)
		if !ok {
			break
		}
		descs[n] = Desc{Addr: addr + uint64(headroom)}
		n++
	}
	p.countBatch(StateFree, StateUser, n)
	return n
}

// Release returns frames the application holds (after Receive or Alloc) to
// the pool, e.g. dropped packets. Each frame may be released once.
func (p *FramePool) Release(descs []Desc) {
	n := 0
	for i := range descs {
		if p.moveNoCount(p.Base(descs[i].Addr), StateUser, StateFree, 0) {
			n++
		}
	}
	p.countBatch(StateUser, StateFree, n)
}

// reclaimOwner returns to the pool every frame the kernel held for the
// socket owner (its fill and TX rings and whatever the kernel was working
// on); it is called after that socket closed, when the kernel has let go.
func (p *FramePool) reclaimOwner(owner int) int {
	n := 0
	for i, s := range p.state {
		st := FrameState(s & stateMask)
		if (st == StateFill || st == StateTX) && int(s>>ownerShift) == owner {
			p.move(uint64(i)<<p.shift, st, StateFree, 0)
			n++
		}
	}
	return n
}
