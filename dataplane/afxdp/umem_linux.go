package afxdp

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Defaults for UMEMConfig and SocketConfig.
const (
	DefaultFrames    = 4096
	DefaultFrameSize = 2048
	DefaultRingSize  = 2048
	DefaultTXBudget  = 256
)

// UMEMConfig sizes a UMEM. The zero value gives DefaultFrames frames of
// DefaultFrameSize bytes.
type UMEMConfig struct {
	Frames    int // number of frames
	FrameSize int // power of two >= 2048
	// Headroom is reserved in front of every received packet in addition
	// to the kernel's XDP_PACKET_HEADROOM (256 bytes), for encapsulation
	// headers written in front of the payload.
	Headroom int
	// Debug poisons frames returned to the pool (see FramePool).
	Debug bool
}

// UMEM is a region of packet memory registered with the kernel and shared
// by one or more sockets (XDP_SHARED_UMEM), with the FramePool that tracks
// its frames. A UMEM and its sockets belong to one goroutine.
type UMEM struct {
	mem      []byte
	pool     *FramePool
	headroom int // offset of packet data in a frame: XDP_PACKET_HEADROOM + Headroom
	cfg      UMEMConfig
	sockets  [maxOwners]*Socket
	closed   bool
}

// NewUMEM allocates (mmap) the packet memory. Sockets are added with Open;
// the first one registers the memory with the kernel.
func NewUMEM(cfg UMEMConfig) (*UMEM, error) {
	if cfg.Frames == 0 {
		cfg.Frames = DefaultFrames
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = DefaultFrameSize
	}
	if cfg.Headroom < 0 || cfg.Headroom+unix.XDP_PACKET_HEADROOM+128 > cfg.FrameSize {
		return nil, fmt.Errorf("umem: headroom %d does not fit a %d-byte frame", cfg.Headroom, cfg.FrameSize)
	}
	pool, err := NewFramePool(cfg.Frames, cfg.FrameSize, cfg.Debug)
	if err != nil {
		return nil, fmt.Errorf("umem: %w", err)
	}
	mem, err := unix.Mmap(-1, 0, cfg.Frames*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("umem: mmap %d bytes: %w", cfg.Frames*cfg.FrameSize, err)
	}
	pool.mem = mem
	return &UMEM{mem: mem, pool: pool, headroom: unix.XDP_PACKET_HEADROOM + cfg.Headroom, cfg: cfg}, nil
}

// Pool returns the frame ledger.
func (u *UMEM) Pool() *FramePool { return u.pool }

// DataOffset is where in a frame received packets start, and where Alloc
// places new ones: XDP_PACKET_HEADROOM plus the configured Headroom.
func (u *UMEM) DataOffset() int { return u.headroom }

// Data returns the packet bytes of d as a view into UMEM. The view is valid
// while the application holds the frame (between Receive or Alloc and
// Transmit or Release) and must not be used after.
func (u *UMEM) Data(d Desc) []byte {
	return u.mem[d.Addr : d.Addr+uint64(d.Len) : u.pool.Base(d.Addr)+u.pool.frameSize]
}

// Frame returns d's whole frame (a view into UMEM, with the same validity
// as Data) and the offset of d's packet in it. Backends hand the frame to
// packet code that keeps its own offset and length, and rebuild the Desc
// with SetFrameData afterwards.
func (u *UMEM) Frame(d Desc) (frame []byte, off int) {
	base := u.pool.Base(d.Addr)
	return u.mem[base : base+u.pool.frameSize : base+u.pool.frameSize], int(d.Addr - base)
}

// SetFrameData points d at bytes [off, off+n) of its frame, for a packet
// rewritten in place by code working on the frame from Frame. It returns
// false, leaving d unchanged, when the range leaves the frame.
func (u *UMEM) SetFrameData(d *Desc, off, n int) bool {
	if off < 0 || n < 0 || uint64(off)+uint64(n) > u.pool.frameSize {
		return false
	}
	d.Addr = u.pool.Base(d.Addr) + uint64(off)
	d.Len = uint32(n)
	return true
}

// Headroom returns how many bytes of d's frame lie in front of its packet.
func (u *UMEM) Headroom(d Desc) int { return int(d.Addr - u.pool.Base(d.Addr)) }

// Tailroom returns how many bytes of d's frame lie after its packet.
func (u *UMEM) Tailroom(d Desc) int {
	return int(u.pool.Base(d.Addr) + u.pool.frameSize - d.Addr - uint64(d.Len))
}

// Adjust grows (positive) or shrinks (negative) the packet at its front by
// head bytes and at its back by tail bytes, as encapsulation and
// decapsulation do. It returns false, leaving d unchanged, when the result
// would leave the frame or have a negative length.
func (u *UMEM) Adjust(d *Desc, head, tail int) bool {
	if head > u.Headroom(*d) || tail > u.Tailroom(*d) {
		return false
	}
	n := int(d.Len) + head + tail
	if n < 0 || -head > int(d.Len) {
		return false
	}
	d.Addr = uint64(int64(d.Addr) - int64(head))
	d.Len = uint32(n)
	return true
}

// Alloc gives the application free frames to build packets in: each Desc
// starts DataOffset bytes into its frame with Len 0. It returns how many
// were allocated.
func (u *UMEM) Alloc(descs []Desc) int { return u.pool.Alloc(descs, u.headroom) }

// Release returns held frames (e.g. dropped packets) to the pool.
func (u *UMEM) Release(descs []Desc) { u.pool.Release(descs) }

// Close closes every socket of the UMEM and unmaps its memory. No view
// returned by Data may be used afterwards.
func (u *UMEM) Close() error {
	if u.closed {
		return nil
	}
	var errs []error
	for i := len(u.sockets) - 1; i >= 0; i-- {
		if s := u.sockets[i]; s != nil {
			errs = append(errs, s.Close())
		}
	}
	u.closed = true
	errs = append(errs, unix.Munmap(u.mem))
	u.mem = nil
	u.pool.mem = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close umem: %w", err)
	}
	return nil
}

// registerWith registers the UMEM with the kernel on socket fd.
func (u *UMEM) registerWith(fd int) error {
	reg := unix.XDPUmemReg{
		Addr:     uint64(uintptr(unsafe.Pointer(&u.mem[0]))),
		Len:      uint64(len(u.mem)),
		Size:     uint32(u.cfg.FrameSize),
		Headroom: uint32(u.cfg.Headroom),
	}
	if _, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
		uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0); errno != 0 {
		return fmt.Errorf("register umem: %w", errno)
	}
	return nil
}

// sharedFD returns the descriptor of an open socket holding the UMEM
// registration, or -1 if none is open.
func (u *UMEM) sharedFD() int {
	for _, s := range u.sockets {
		if s != nil {
			return s.fd
		}
	}
	return -1
}
