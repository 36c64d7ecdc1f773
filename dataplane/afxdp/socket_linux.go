package afxdp

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probe checks that the kernel offers AF_XDP sockets (CONFIG_XDP_SOCKETS)
// and that the process may create them. It returns nil, or an error that
// says which.
func Probe() error {
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EAFNOSUPPORT) {
			return fmt.Errorf("af_xdp sockets: not supported by this kernel (CONFIG_XDP_SOCKETS): %w", err)
		}
		return fmt.Errorf("af_xdp sockets: %w (needs CAP_NET_RAW)", err)
	}
	unix.Close(fd)
	return nil
}

// BindMode chooses between zero-copy and copy mode.
type BindMode int

const (
	// BindAuto tries zero-copy and falls back to copy mode when the driver
	// does not support it (veth, most virtual devices).
	BindAuto BindMode = iota
	// BindCopy always uses copy mode.
	BindCopy
	// BindZeroCopy requires zero-copy.
	BindZeroCopy
)

func (m BindMode) String() string {
	switch m {
	case BindAuto:
		return "auto"
	case BindCopy:
		return "copy"
	case BindZeroCopy:
		return "zerocopy"
	}
	return fmt.Sprintf("bindmode(%d)", int(m))
}

// SocketConfig describes one AF_XDP socket. Ring sizes are powers of two;
// zero means DefaultRingSize.
type SocketConfig struct {
	Ifindex int
	Queue   int

	RXSize, TXSize, FillSize, CompletionSize int

	// Mode is ignored for the second and later sockets of a UMEM, which
	// inherit the first socket's mode (the kernel rejects the flags).
	Mode BindMode
	// NoNeedWakeup disables XDP_USE_NEED_WAKEUP: the socket then kicks
	// the kernel after every TX batch and never sleeps on the fill ring.
	NoNeedWakeup bool
	// TXBudget sets XDP_MAX_TX_SKB_BUDGET, how many descriptors one
	// copy-mode kick transmits (the kernel default is 32). Zero means
	// DefaultTXBudget; negative leaves the kernel's default.
	TXBudget int
}

// Socket is one AF_XDP socket bound to an interface queue, with its own
// fill and completion rings. It belongs to its UMEM's goroutine; Stats may
// be called from any goroutine.
type Socket struct {
	u     *UMEM
	fd    int
	owner int
	cfg   SocketConfig

	fill, comp addrRing
	rx, tx     descRing

	zeroCopy   bool
	needWakeup bool
	maxKicks   int

	rxPackets, txPackets, completed atomic.Uint64
	kicks, kickRetries, kickErrors  atomic.Uint64
	wakeups, txRingFull             atomic.Uint64
}

func ringSize(v int) (uint32, error) {
	if v == 0 {
		v = DefaultRingSize
	}
	if v < 1 || v > 1<<20 || v&(v-1) != 0 {
		return 0, fmt.Errorf("ring size %d is not a power of two", v)
	}
	return uint32(v), nil
}

// Open creates a socket on the UMEM bound to cfg.Ifindex and cfg.Queue. The
// first socket of a UMEM registers the memory; later ones share it
// (XDP_SHARED_UMEM) and must be on a different interface or queue. The
// caller registers the socket in the XSKMAP (bpf.Steering.RegisterSocket)
// with FD, and then calls Refill or Receive so that the kernel has frames
// to receive into.
func (u *UMEM) Open(cfg SocketConfig) (*Socket, error) {
	if u.closed {
		return nil, errors.New("open xsk: umem is closed")
	}
	owner := -1
	for i, s := range u.sockets {
		if s == nil {
			if owner < 0 {
				owner = i
			}
			continue
		}
		if s.cfg.Ifindex == cfg.Ifindex && s.cfg.Queue == cfg.Queue {
			return nil, fmt.Errorf("open xsk: ifindex %d queue %d already has a socket on this umem", cfg.Ifindex, cfg.Queue)
		}
	}
	if owner < 0 {
		return nil, fmt.Errorf("open xsk: umem already has %d sockets", maxOwners)
	}
	shared := u.sharedFD()
	var s *Socket
	var err error
	switch {
	case shared >= 0:
		s, err = u.open(cfg, owner, shared, 0)
	case cfg.Mode == BindZeroCopy:
		s, err = u.open(cfg, owner, -1, unix.XDP_ZEROCOPY)
	case cfg.Mode == BindCopy:
		s, err = u.open(cfg, owner, -1, unix.XDP_COPY)
	default:
		s, err = u.open(cfg, owner, -1, unix.XDP_ZEROCOPY)
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			s, err = u.open(cfg, owner, -1, unix.XDP_COPY)
		}
	}
	if err != nil {
		return nil, err
	}
	u.sockets[owner] = s
	return s, nil
}

func (u *UMEM) open(cfg SocketConfig, owner, sharedFD int, modeFlag uint16) (_ *Socket, err error) {
	var sizes [4]uint32 // rx, tx, fill, comp
	for i, v := range []int{cfg.RXSize, cfg.TXSize, cfg.FillSize, cfg.CompletionSize} {
		if sizes[i], err = ringSize(v); err != nil {
			return nil, fmt.Errorf("open xsk: %w", err)
		}
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open xsk: socket: %w", err)
	}
	s := &Socket{u: u, fd: fd, owner: owner, cfg: cfg}
	defer func() {
		if err != nil {
			s.unmapRings()
			unix.Close(fd)
		}
	}()
	if sharedFD < 0 {
		if err := u.registerWith(fd); err != nil {
			return nil, fmt.Errorf("open xsk: %w", err)
		}
	}
	for _, o := range []struct {
		opt  int
		size uint32
	}{
		{unix.XDP_UMEM_FILL_RING, sizes[2]},
		{unix.XDP_UMEM_COMPLETION_RING, sizes[3]},
		{unix.XDP_RX_RING, sizes[0]},
		{unix.XDP_TX_RING, sizes[1]},
	} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o.opt, int(o.size)); err != nil {
			return nil, fmt.Errorf("open xsk: set ring size (opt %d): %w", o.opt, err)
		}
	}
	budget := cfg.TXBudget
	if budget == 0 {
		budget = DefaultTXBudget
	}
	if budget > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, unix.XDP_MAX_TX_SKB_BUDGET, budget); err != nil {
			// Older kernels lack the option; they transmit 32 per kick,
			// which the kick loop copes with.
			budget = 32
		}
	} else {
		budget = 32
	}
	// Enough kicks to drain a full TX ring, plus one.
	s.maxKicks = int(sizes[1])/budget + 1

	var off unix.XDPMmapOffsets
	olen := uint32(unsafe.Sizeof(off))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&olen)), 0); errno != 0 {
		return nil, fmt.Errorf("open xsk: get mmap offsets: %w", errno)
	}
	if s.fill, err = mapAddrRing(fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, sizes[2]); err != nil {
		return nil, fmt.Errorf("open xsk: fill ring: %w", err)
	}
	if s.comp, err = mapAddrRing(fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, sizes[3]); err != nil {
		return nil, fmt.Errorf("open xsk: completion ring: %w", err)
	}
	if s.rx, err = mapDescRing(fd, unix.XDP_PGOFF_RX_RING, off.Rx, sizes[0]); err != nil {
		return nil, fmt.Errorf("open xsk: rx ring: %w", err)
	}
	if s.tx, err = mapDescRing(fd, unix.XDP_PGOFF_TX_RING, off.Tx, sizes[1]); err != nil {
		return nil, fmt.Errorf("open xsk: tx ring: %w", err)
	}

	sa := &unix.SockaddrXDP{Ifindex: uint32(cfg.Ifindex), QueueID: uint32(cfg.Queue)}
	if sharedFD >= 0 {
		sa.Flags = unix.XDP_SHARED_UMEM
		sa.SharedUmemFD = uint32(sharedFD)
	} else {
		sa.Flags = modeFlag
		if !cfg.NoNeedWakeup {
			sa.Flags |= unix.XDP_USE_NEED_WAKEUP
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("open xsk: bind ifindex %d queue %d (flags %#x): %w", cfg.Ifindex, cfg.Queue, sa.Flags, err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_XDP, unix.XDP_OPTIONS); err == nil {
		s.zeroCopy = v&unix.XDP_OPTIONS_ZEROCOPY != 0
	}
	if sharedFD >= 0 {
		// Shared sockets inherit need_wakeup from the first socket.
		for _, o := range u.sockets {
			if o != nil {
				s.needWakeup = o.needWakeup
				break
			}
		}
	} else {
		s.needWakeup = !cfg.NoNeedWakeup
	}
	return s, nil
}

func (s *Socket) unmapRings() {
	s.fill.unmap()
	s.comp.unmap()
	s.rx.unmap()
	s.tx.unmap()
}

// FD returns the socket descriptor, for the XSKMAP.
func (s *Socket) FD() int { return s.fd }

// Ifindex returns the interface the socket is bound to.
func (s *Socket) Ifindex() int { return s.cfg.Ifindex }

// Queue returns the queue the socket is bound to.
func (s *Socket) Queue() int { return s.cfg.Queue }

// ZeroCopy reports whether the kernel bound the socket in zero-copy mode.
func (s *Socket) ZeroCopy() bool { return s.zeroCopy }

// UMEM returns the socket's UMEM.
func (s *Socket) UMEM() *UMEM { return s.u }

// Refill gives free frames to the kernel on the fill ring, as many as the
// ring and the pool allow, and returns how many.
func (s *Socket) Refill() int {
	p := s.u.pool
	free := s.fill.prodFree(s.fill.size)
	n := min(int(free), p.Available())
	if n == 0 {
		return 0
	}
	prod := s.fill.cachedProd
	for i := range n {
		addr, _ := p.allocNoCount(StateFill, s.owner) // n <= Available
		s.fill.addrs[(prod+uint32(i))&s.fill.mask] = addr
	}
	s.fill.prodSubmit(uint32(n))
	p.countBatch(StateFree, StateFill, n)
	return n
}

// Receive moves up to len(descs) received packets into descs and returns
// how many. The application then holds those frames until it passes them
// to Transmit (of any socket on the same UMEM) or Release. Receive refills
// the fill ring and never blocks; see Poller to wait.
func (s *Socket) Receive(descs []Desc) int {
	want := uint32(len(descs))
	n := s.rx.consAvail(want)
	if n > want {
		n = want
	}
	if n > 0 {
		p := s.u.pool
		cons := s.rx.cachedCons
		moved := 0
		for i := range n {
			d := s.rx.descs[(cons+i)&s.rx.mask]
			descs[i] = d
			if p.moveNoCount(p.Base(d.Addr), StateFill, StateUser, 0) {
				moved++
			}
		}
		s.rx.consRelease(n)
		p.countBatch(StateFill, StateUser, moved)
		s.rxPackets.Add(uint64(n))
	}
	s.Refill()
	if n == 0 && s.needWakeup && s.fill.needWakeup() {
		// The driver sleeps until told that the fill ring has frames.
		unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		s.wakeups.Add(1)
	}
	return int(n)
}

// Transmit puts up to len(descs) packets on the TX ring, kicks the kernel,
// and returns how many it took. The frames then belong to the kernel until
// they complete; descs[n:] stay with the caller (the ring was full), who
// retries or releases them. A Desc whose frame the application does not
// hold is not sent; it counts as taken and as a pool violation.
func (s *Socket) Transmit(descs []Desc) int {
	s.Complete()
	want := uint32(len(descs))
	free := s.tx.prodFree(want)
	n := min(want, free)
	if n < want {
		s.txRingFull.Add(1)
	}
	if n > 0 {
		p := s.u.pool
		prod := s.tx.cachedProd
		w := uint32(0)
		for i := range n {
			d := descs[i]
			if !p.moveNoCount(p.Base(d.Addr), StateUser, StateTX, s.owner) {
				continue
			}
			s.tx.descs[(prod+w)&s.tx.mask] = d
			w++
		}
		s.tx.prodSubmit(w)
		p.countBatch(StateUser, StateTX, int(w))
		s.txPackets.Add(uint64(w))
	}
	s.kick()
	return int(n)
}

// Flush kicks the kernel if packets wait on the TX ring and reaps
// completions. Workers call it when idle.
func (s *Socket) Flush() {
	s.Complete()
	if s.tx.prodPending() > 0 {
		s.kick()
	}
}

// TXPending returns how many packets wait on the TX ring.
func (s *Socket) TXPending() int { return int(s.tx.prodPending()) }

// kick makes the kernel transmit. In copy mode each sendto transmits at
// most the TX budget of descriptors, synchronously, so the loop repeats
// until the ring is drained, the kernel pushes back, or maxKicks is spent.
func (s *Socket) kick() {
	if s.needWakeup && !s.tx.needWakeup() {
		return
	}
	for range s.maxKicks {
		if s.tx.prodPending() == 0 {
			return
		}
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		s.kicks.Add(1)
		switch errno {
		case 0:
		case unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
			// Completion ring full or device busy: reap and retry later.
			s.kickRetries.Add(1)
			s.Complete()
			return
		default:
			s.kickErrors.Add(1)
			return
		}
		if s.zeroCopy {
			return // the driver's NAPI transmits the rest on its own
		}
		s.Complete()
	}
}

// Complete returns transmitted frames from the completion ring to the pool
// and returns how many.
func (s *Socket) Complete() int {
	n := s.comp.consAvail(s.comp.size)
	if n == 0 {
		return 0
	}
	p := s.u.pool
	cons := s.comp.cachedCons
	moved := 0
	for i := range n {
		if p.moveNoCount(p.Base(s.comp.addrs[(cons+i)&s.comp.mask]), StateTX, StateFree, 0) {
			moved++
		}
	}
	s.comp.consRelease(n)
	p.countBatch(StateTX, StateFree, moved)
	s.completed.Add(uint64(n))
	return int(n)
}

// Stats are a socket's counters: ours, and the kernel's XDP_STATISTICS.
type Stats struct {
	RXPackets   uint64 `json:"rx_packets"`
	TXPackets   uint64 `json:"tx_packets"`
	Completed   uint64 `json:"tx_completed"`
	Kicks       uint64 `json:"tx_kicks"`
	KickRetries uint64 `json:"tx_kick_retries"` // EAGAIN/EBUSY/ENOBUFS: retried later
	KickErrors  uint64 `json:"tx_kick_errors"`  // other errors (e.g. ENETDOWN)
	TXRingFull  uint64 `json:"tx_ring_full"`    // Transmit calls that could not take the whole batch
	Wakeups     uint64 `json:"rx_wakeups"`

	RXDropped       uint64 `json:"rx_dropped"`         // kernel: no room or frame too small
	RXInvalidDescs  uint64 `json:"rx_invalid_descs"`   // kernel: bad fill ring address
	TXInvalidDescs  uint64 `json:"tx_invalid_descs"`   // kernel: bad TX descriptor
	RXRingFull      uint64 `json:"rx_ring_full"`       // kernel: RX ring full
	RXFillRingEmpty uint64 `json:"rx_fill_ring_empty"` // kernel: no frame to receive into
	TXRingEmpty     uint64 `json:"tx_ring_empty"`      // kernel: kicked with nothing to send
}

// Stats returns the socket's counters. Safe for concurrent use.
func (s *Socket) Stats() (Stats, error) {
	st := Stats{
		RXPackets:   s.rxPackets.Load(),
		TXPackets:   s.txPackets.Load(),
		Completed:   s.completed.Load(),
		Kicks:       s.kicks.Load(),
		KickRetries: s.kickRetries.Load(),
		KickErrors:  s.kickErrors.Load(),
		TXRingFull:  s.txRingFull.Load(),
		Wakeups:     s.wakeups.Load(),
	}
	var ks unix.XDPStatistics
	l := uint32(unsafe.Sizeof(ks))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&ks)), uintptr(unsafe.Pointer(&l)), 0); errno != 0 {
		return st, fmt.Errorf("xsk statistics: %w", errno)
	}
	st.RXDropped = ks.Rx_dropped
	st.RXInvalidDescs = ks.Rx_invalid_descs
	st.TXInvalidDescs = ks.Tx_invalid_descs
	st.RXRingFull = ks.Rx_ring_full
	st.RXFillRingEmpty = ks.Rx_fill_ring_empty_descs
	st.TXRingEmpty = ks.Tx_ring_empty_descs
	return st, nil
}

// Close closes the socket. Frames the kernel held for it (on its fill, RX
// and TX rings) return to the pool; frames the application holds stay
// with the application.
func (s *Socket) Close() error {
	if s.fd < 0 {
		return nil
	}
	s.unmapRings()
	err := unix.Close(s.fd)
	s.fd = -1
	s.u.pool.reclaimOwner(s.owner)
	s.u.sockets[s.owner] = nil
	if err != nil {
		return fmt.Errorf("close xsk: %w", err)
	}
	return nil
}

// Poller waits until any of a worker's sockets has packets to receive or
// TX room, for use when a busy-polling worker finds nothing to do.
type Poller struct {
	socks []*Socket
	fds   []unix.PollFd
}

// NewPoller returns a Poller over the sockets.
func NewPoller(socks ...*Socket) *Poller {
	p := &Poller{socks: socks, fds: make([]unix.PollFd, len(socks))}
	for i, s := range socks {
		p.fds[i].Fd = int32(s.fd)
	}
	return p
}

// Wait blocks until a socket is readable, or writable when it has TX
// pending, or timeout passes (negative: no limit). In copy mode poll also
// drives pending transmission. It returns how many sockets are ready.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	for i, s := range p.socks {
		p.fds[i].Events = unix.POLLIN
		p.fds[i].Revents = 0
		if s.tx.prodPending() > 0 {
			p.fds[i].Events |= unix.POLLOUT
		}
	}
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		ms := -1
		if timeout >= 0 {
			left := time.Until(deadline)
			if left < 0 {
				left = 0
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.Poll(p.fds, ms)
		if err == nil {
			return n, nil
		}
		// The Go runtime preempts goroutines with signals (SIGURG), which
		// interrupt poll; that is not an event, so wait out the rest of the
		// timeout instead of reporting an early, empty wake-up.
		if !errors.Is(err, unix.EINTR) {
			return 0, fmt.Errorf("poll xsk: %w", err)
		}
		if timeout >= 0 && !time.Now().Before(deadline) {
			return 0, nil
		}
	}
}
