package xdp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
)

// LAN is an overlay-facing interface and the VRF its packets belong to.
type LAN struct {
	Name string
	VRF  uint32
}

// VRF is the host side of a VRF whose LAN interfaces the backend serves.
type VRF struct {
	// Table is the kernel routing table of the VRF: the next hops of its
	// destinations (on its LAN interfaces) are looked up there.
	Table int
	// Kernel, when set, takes whole IP packets of the VRF whose next hop
	// the backend cannot address yet (no neighbour entry): a device whose
	// received packets the kernel routes in the VRF's table (esphubd's VRF
	// TUN). Without it such packets are dropped and counted as kernel path
	// errors: the global table's raw socket would route them in the wrong
	// table.
	Kernel io.Writer
}

// PuntFunc receives control-plane payloads (NHRP from a GRE tunnel, IKE
// that reached the dataplane on UDP 4500). payload is only valid during the
// call. Calls come in order from one goroutine of Run's, not from a
// worker: the function may call Inject, but while it runs, further punted
// packets wait (up to 256, then they are dropped and counted).
type PuntFunc func(tunnel dataplane.TunnelID, proto uint16, payload []byte, remote netip.AddrPort)

// Config configures a Backend.
type Config struct {
	// Engine is the shared packet engine. Create it without
	// dataplane.Options.RouteOutbound: the backend itself acts as the
	// router hop (it decrements the TTL of every packet it takes off a LAN
	// and of every packet it delivers to one), so the option would count
	// the hop twice.
	Engine *dataplane.Engine
	// WAN is the underlay interface; LANs the overlay-facing ones.
	WAN  string
	LANs []LAN
	// WANs are further underlay interfaces (tunnel sources on other
	// interfaces). ESP arriving on any WAN goes to the workers; every
	// packet leaves through the interface of the kernel's route to its
	// destination, with that interface's neighbour.
	WANs []string
	// VRFs are the host sides of the VRFs of LANs (VRF id -> VRF); a LAN
	// in a VRF not listed resolves its next hops in the main table.
	VRFs map[uint32]VRF
	// Queues is the number of receive queues served (queues 0..Queues-1
	// of every interface), one worker each; 1 when zero.
	Queues int
	// CPUs pins worker i to CPUs[i%len(CPUs)]; when empty, worker i runs
	// on CPU i modulo the number of CPUs the process may use.
	CPUs []int
	// AttachMode and BindMode select XDP driver/generic mode and AF_XDP
	// zero-copy/copy mode (auto by default).
	AttachMode bpf.AttachMode
	BindMode   afxdp.BindMode
	// Frames per worker UMEM (afxdp.DefaultFrames when zero); Batch is the
	// RX batch size (64 when zero).
	Frames, Batch int
	// IdleSpin is how many empty polling rounds a worker spins through
	// before it sleeps in poll(2): more spinning lowers latency and costs
	// CPU when idle. 128 when zero; negative sleeps at once.
	IdleSpin int
	// NeighbourRefresh is how often the neighbour cache is rebuilt besides
	// netlink notifications (1 s when zero).
	NeighbourRefresh time.Duration
	Punt             PuntFunc
	Logger           *slog.Logger
	// Debug checks every UMEM frame transition (afxdp.UMEMConfig.Debug).
	Debug bool
}

// Backend is the AF_XDP dataplane backend. It implements dataplane.Control:
// the Engine's methods (AddRoute and DeleteRoute also keep the steering
// programs' protected-prefix maps in step) plus Inject.
//
// New creates every kernel object in the calling thread's network
// namespace; Run then moves packets until its context ends, and Close
// releases everything (programs detach). All methods are safe for
// concurrent use.
type Backend struct {
	*dataplane.Engine
	cfg     Config
	log     *slog.Logger
	steer   *bpf.Steering
	attach  []*bpf.Attachment
	ifaces  []iface
	workers []*worker
	neigh   *neighbours
	kernel  *kernelPath
	punts   *punter
	nlev    chan netlink.NeighUpdate
	nldone  chan struct{}

	routeMu sync.Mutex // serialises route changes with the protected-prefix sync

	running atomic.Bool
	closed  bool

	// ioOnly makes workers forward steered packets by their destination
	// with the Ethernet rewrite, skipping the engine: the measurement of
	// this path's I/O ceiling sets it. Never set in production.
	ioOnly atomic.Bool

	// mu guards ifaces, attach and workers, which SetInterfaces replaces
	// while the workers are stopped; Status, Inject and route changes read
	// them.
	mu sync.RWMutex
	// reconf carries SetInterfaces requests to Run.
	reconf chan reconfReq
	// nsFD is the network namespace New ran in, where SetInterfaces
	// resolves and attaches interfaces; -1 when unknown.
	nsFD int
}

// reconfReq asks Run to serve another set of interfaces.
type reconfReq struct {
	wans []string
	lans []LAN
	done chan error
}

// iface is one interface the backend owns.
type iface struct {
	name    string
	ifindex int
	mac     [6]byte
	wan     bool
	vrf     uint32
}

type injectReq struct {
	tunnel    dataplane.TunnelID
	etherType uint16
	payload   []byte
	done      chan error
}

var _ dataplane.Control = (*Backend)(nil)

// New loads and attaches the steering programs, opens one AF_XDP socket per
// interface and queue (the sockets of a queue share one UMEM so its worker
// forwards between interfaces without copying) and prepares the workers.
// It must run in the network namespace of the interfaces, on a thread that
// stays there for the duration of the call.
func New(cfg Config) (_ *Backend, err error) {
	if cfg.Engine == nil {
		return nil, errors.New("xdp backend: no engine")
	}
	if cfg.WAN == "" {
		return nil, errors.New("xdp backend: no WAN interface")
	}
	if cfg.Queues <= 0 {
		cfg.Queues = 1
	}
	if cfg.Queues > bpf.MaxQueues {
		return nil, fmt.Errorf("xdp backend: %d queues, at most %d", cfg.Queues, bpf.MaxQueues)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.NeighbourRefresh <= 0 {
		cfg.NeighbourRefresh = time.Second
	}
	b := &Backend{Engine: cfg.Engine, cfg: cfg, log: cfg.Logger, reconf: make(chan reconfReq), nsFD: -1, punts: newPunter()}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.nsFD, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		b.nsFD = -1
		return nil, fmt.Errorf("xdp backend: network namespace: %w", err)
	}
	if b.steer, err = bpf.Load(bpf.Options{Logger: b.log}); err != nil {
		return nil, fmt.Errorf("xdp backend: %w", err)
	}
	tables := map[uint32]int{}
	for id, v := range cfg.VRFs {
		tables[id] = v.Table
	}
	if b.neigh, err = newNeighbours(b.log, tables); err != nil {
		return nil, fmt.Errorf("xdp backend: %w", err)
	}
	if b.kernel, err = openKernelPath(); err != nil {
		return nil, fmt.Errorf("xdp backend: %w", err)
	}
	b.nlev, b.nldone = make(chan netlink.NeighUpdate, 64), make(chan struct{})
	if err := netlink.NeighSubscribe(b.nlev, b.nldone); err != nil {
		b.log.Warn("xdp backend: no neighbour notifications, refreshing periodically only", "err", err)
		b.nlev = nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.setupLocked(append([]string{cfg.WAN}, cfg.WANs...), cfg.LANs); err != nil {
		return nil, err
	}
	return b, nil
}

// setupLocked resolves the interfaces, opens the workers' sockets and
// attaches the steering programs. The backend must have no interfaces
// (new, or after teardownLocked).
func (b *Backend) setupLocked(wans []string, lans []LAN) error {
	cfg := b.cfg
	names := slices.Clone(wans)
	for _, l := range lans {
		names = append(names, l.Name)
	}
	for i, name := range names {
		ni, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Errorf("xdp backend: interface %s: %w", name, err)
		}
		f := iface{name: name, ifindex: ni.Index, wan: i < len(wans)}
		copy(f.mac[:], ni.HardwareAddr)
		if !f.wan {
			f.vrf = lans[i-len(wans)].VRF
		}
		if slices.ContainsFunc(b.ifaces, func(x iface) bool { return x.ifindex == f.ifindex }) {
			return fmt.Errorf("xdp backend: interface %s given twice", name)
		}
		b.ifaces = append(b.ifaces, f)
	}
	if len(b.ifaces) == 0 {
		return nil // nothing to serve: no workers
	}
	cpus := cfg.CPUs
	if len(cpus) == 0 {
		cpus = allowedCPUs()
	}
	for q := range cfg.Queues {
		w, err := b.newWorker(q, q, cpus[q%len(cpus)])
		if err != nil {
			return fmt.Errorf("xdp backend: queue %d: %w", q, err)
		}
		b.workers = append(b.workers, w)
	}
	if len(b.workers) > 1 {
		for _, w := range b.workers {
			w.peers = make([]*handoffRing, len(b.workers))
			for j := range b.workers {
				if j != w.id {
					w.peers[j] = newHandoffRing(1024) // w -> j
				}
			}
		}
	}
	// Attach after the sockets exist so that steered packets find them.
	for _, f := range b.ifaces {
		var a *bpf.Attachment
		var err error
		if f.wan {
			a, err = b.steer.AttachWAN(f.ifindex, cfg.AttachMode)
		} else {
			a, err = b.steer.AttachLAN(f.ifindex, f.vrf, cfg.AttachMode)
		}
		if err != nil {
			return fmt.Errorf("xdp backend: attach %s: %w", f.name, err)
		}
		b.attach = append(b.attach, a)
		for _, w := range b.workers {
			if err := b.steer.RegisterSocket(f.ifindex, w.queue, w.socks[slices.IndexFunc(w.ifs, func(x *iface) bool { return x.ifindex == f.ifindex })].FD()); err != nil {
				return fmt.Errorf("xdp backend: %s queue %d: %w", f.name, w.queue, err)
			}
		}
		b.log.Info("xdp backend: attached", "iface", f.name, "role", a.Role(), "mode", a.Mode(), "queues", cfg.Queues, "vrf", f.vrf)
	}
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	for _, l := range lans {
		if err := b.syncProtected(l.VRF); err != nil {
			return err
		}
	}
	return nil
}

// teardownLocked detaches every interface and closes the workers' sockets
// and UMEMs; the workers must be stopped.
func (b *Backend) teardownLocked() error {
	var errs []error
	for _, a := range b.attach {
		errs = append(errs, a.Close())
	}
	for _, w := range b.workers {
		errs = append(errs, w.umem.Close())
		// Injections queued for this worker will not be served.
	drain:
		for {
			select {
			case r := <-w.inject:
				r.done <- errors.New("interfaces are being reconfigured")
			default:
				break drain
			}
		}
	}
	b.attach, b.workers, b.ifaces = nil, nil, nil
	return errors.Join(errs...)
}

// sameInterfaces reports whether the backend already serves exactly these
// interfaces, with the same indexes (a re-created interface has a new one).
func (b *Backend) sameInterfacesLocked(wans []string, lans []LAN) bool {
	if len(b.ifaces) != len(wans)+len(lans) {
		return false
	}
	for i, f := range b.ifaces {
		var name string
		var vrf uint32
		if i < len(wans) {
			name = wans[i]
		} else {
			name, vrf = lans[i-len(wans)].Name, lans[i-len(wans)].VRF
		}
		ni, err := net.InterfaceByName(name)
		if err != nil || f.name != name || f.wan != (i < len(wans)) || f.vrf != vrf || f.ifindex != ni.Index {
			return false
		}
	}
	return true
}

// SetInterfaces makes the backend serve these WAN and LAN interfaces
// instead of the ones it has (interfaces that appeared, disappeared or
// were re-created). It does nothing when the set is unchanged; otherwise
// the workers stop between batches, every interface is detached and the
// new set attached with fresh sockets, and the workers start again: a
// pause of milliseconds, in which steered packets are lost. Engine state
// (SAs, routes), the neighbour cache and the protected-prefix maps are
// kept. An interface that no longer exists is left out with an error; the
// others are served. It waits for Run to apply the change (or applies it
// at once when Run is not running).
func (b *Backend) SetInterfaces(wans []string, lans []LAN) error {
	req := reconfReq{wans: slices.Clone(wans), lans: slices.Clone(lans), done: make(chan error, 1)}
	// Most notifications change nothing the backend serves: answer those
	// without stopping the workers.
	b.mu.RLock()
	var same bool
	err := b.inNamespace(func() error {
		same = !b.closed && b.sameInterfacesLocked(wans, lans)
		return nil
	})
	b.mu.RUnlock()
	if err == nil && same {
		return nil
	}
	if b.running.Load() {
		select {
		case b.reconf <- req:
			return <-req.done
		case <-time.After(10 * time.Second):
			return errors.New("xdp backend: set interfaces: backend did not answer")
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reconfigureLocked(req.wans, req.lans)
}

// reconfigureLocked applies SetInterfaces with the workers stopped. When
// the new set cannot be attached as a whole, it retries with the
// interfaces that still exist, one at a time, so that one interface
// vanishing in the middle does not leave the others unserved.
func (b *Backend) reconfigureLocked(wans []string, lans []LAN) error {
	if b.closed {
		return errors.New("xdp backend: closed")
	}
	return b.inNamespace(func() error { return b.replaceLocked(wans, lans) })
}

// inNamespace runs fn on a thread in the backend's network namespace.
func (b *Backend) inNamespace(fn func() error) error {
	runtime.LockOSThread()
	cur, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("xdp backend: network namespace: %w", err)
	}
	defer unix.Close(cur)
	if err := unix.Setns(b.nsFD, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("xdp backend: enter network namespace: %w", err)
	}
	ferr := fn()
	if err := unix.Setns(cur, unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so no other goroutine runs in the
		// wrong namespace; it ends with its goroutine.
		return errors.Join(ferr, fmt.Errorf("xdp backend: restore network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// replaceLocked is reconfigureLocked in the backend's namespace.
func (b *Backend) replaceLocked(wans []string, lans []LAN) error {
	if b.sameInterfacesLocked(wans, lans) {
		return nil
	}
	var errs []error
	errs = append(errs, b.teardownLocked())
	err := b.setupLocked(wans, lans)
	if err == nil {
		b.log.Info("xdp backend: interfaces changed", "wan", wans, "lan", lans)
		return errors.Join(errs...)
	}
	errs = append(errs, err, b.teardownLocked())
	var okW []string
	var okL []LAN
	for _, n := range wans {
		if _, err := net.InterfaceByName(n); err == nil {
			okW = append(okW, n)
		}
	}
	for _, l := range lans {
		if _, err := net.InterfaceByName(l.Name); err == nil {
			okL = append(okL, l)
		}
	}
	if err := b.setupLocked(okW, okL); err != nil {
		errs = append(errs, err, b.teardownLocked())
	}
	return fmt.Errorf("xdp backend: set interfaces: %w", errors.Join(errs...))
}

// allowedCPUs returns the CPUs the process may run on.
func allowedCPUs() []int {
	var set unix.CPUSet
	var out []int
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		for c := range 1024 {
			if set.IsSet(c) {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		for c := range runtime.NumCPU() {
			out = append(out, c)
		}
	}
	return out
}

// Run starts the workers and the neighbour resolver and blocks until ctx
// ends and every worker has stopped; workers stop between batches, so every
// frame is back on a ring or in its pool. It applies SetInterfaces
// requests between two runs of the workers.
func (b *Backend) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("xdp backend: already running")
	}
	defer b.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var nwg sync.WaitGroup
	nwg.Add(1)
	go func() {
		defer nwg.Done()
		b.neigh.run(ctx, b.cfg.NeighbourRefresh, b.nlev)
	}()
	if b.cfg.Punt != nil {
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			b.punts.run(ctx, b.cfg.Punt)
		}()
	}
	defer nwg.Wait()
	for {
		b.mu.RLock()
		workers := b.workers
		b.mu.RUnlock()
		var stop atomic.Bool
		var wg sync.WaitGroup
		errs := make([]error, len(workers))
		for i, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = w.run(&stop)
				if errs[i] != nil {
					cancel()
				}
			}()
		}
		var req reconfReq
		var again bool
		select {
		case <-ctx.Done():
		case req = <-b.reconf:
			again = true
		}
		stop.Store(true)
		wg.Wait()
		if err := errors.Join(errs...); err != nil || !again {
			if again {
				req.done <- errors.New("xdp backend: stopped")
			}
			return err
		}
		b.mu.Lock()
		err := b.reconfigureLocked(req.wans, req.lans)
		b.mu.Unlock()
		req.done <- err
	}
}

// Close detaches the programs and releases sockets, UMEMs and maps. Call it
// after Run has returned.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.mu.Lock()
	errs := []error{b.teardownLocked()}
	b.mu.Unlock()
	if b.steer != nil {
		errs = append(errs, b.steer.Close())
	}
	if b.nldone != nil {
		close(b.nldone)
	}
	if b.neigh != nil {
		b.neigh.close()
	}
	if b.kernel != nil {
		b.kernel.close()
	}
	if b.nsFD >= 0 {
		unix.Close(b.nsFD)
		b.nsFD = -1
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xdp backend: close: %w", err)
	}
	return nil
}

// AddRoute implements dataplane.Control; a route into a tunnel also makes
// its prefix protected on the VRF's LAN interfaces.
func (b *Backend) AddRoute(vrf uint32, p netip.Prefix, nh dataplane.NextHop) error {
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	if err := b.Engine.AddRoute(vrf, p, nh); err != nil {
		return err
	}
	return b.syncProtected(vrf)
}

// AddRoutes implements dataplane.Control: the batch is applied to the
// engine as one update and the VRF's protected prefixes follow it.
func (b *Backend) AddRoutes(vrf uint32, routes []dataplane.Route) error {
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	if err := b.Engine.AddRoutes(vrf, routes); err != nil {
		return err
	}
	return b.syncProtected(vrf)
}

// DeleteRoute implements dataplane.Control.
func (b *Backend) DeleteRoute(vrf uint32, p netip.Prefix) error {
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	if err := b.Engine.DeleteRoute(vrf, p); err != nil {
		return err
	}
	return b.syncProtected(vrf)
}

// syncProtected makes the VRF's protected prefixes exactly its tunnel
// routes.
func (b *Backend) syncProtected(vrf uint32) error {
	var want []netip.Prefix
	for p, nh := range b.Engine.Routes(vrf) {
		if nh.Kind == dataplane.NextHopTunnel {
			want = append(want, p)
		}
	}
	if err := b.steer.SetProtected(vrf, want); err != nil {
		return fmt.Errorf("protected prefixes of vrf %d: %w", vrf, err)
	}
	return nil
}

// Inject implements dataplane.Control: the packet is encapsulated and sent
// by the worker that owns the tunnel, so the SA keeps one writer. It waits
// until the worker has handled it (or 5 s when the backend is not running).
func (b *Backend) Inject(t dataplane.TunnelID, etherType uint16, payload []byte) error {
	if len(payload) > handoffMTU-dataplane.Headroom-dataplane.Tailroom {
		return fmt.Errorf("inject into tunnel %d: %d bytes do not fit a frame", t, len(payload))
	}
	req := injectReq{tunnel: t, etherType: etherType, payload: slices.Clone(payload), done: make(chan error, 1)}
	b.mu.RLock()
	if len(b.workers) == 0 {
		b.mu.RUnlock()
		return fmt.Errorf("inject into tunnel %d: no interface served", t)
	}
	w := b.workers[int(uint32(t)%uint32(len(b.workers)))]
	select {
	case w.inject <- req:
	default:
		b.mu.RUnlock()
		return fmt.Errorf("inject into tunnel %d: worker queue full", t)
	}
	b.mu.RUnlock()
	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("inject into tunnel %d: %w", t, err)
		}
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("inject into tunnel %d: dataplane not running", t)
	}
}

// Status returns the backend's state and counters. Safe for concurrent use
// with Run.
func (b *Backend) Status() Status {
	st := Status{Backend: "af_xdp", Drops: map[string]uint64{}, Features: ProbeFeatures()}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for i, f := range b.ifaces {
		is := InterfaceStatus{Name: f.name, Ifindex: f.ifindex, Role: "lan", VRF: f.vrf}
		if f.wan {
			is.Role = "wan"
		}
		if i < len(b.attach) {
			is.XDPMode = b.attach[i].Mode().String()
		}
		st.Interfaces = append(st.Interfaces, is)
	}
	for _, w := range b.workers {
		c := &w.c
		qs := QueueStatus{Queue: w.queue, CPU: w.cpu, ZeroCopy: w.socks[0].ZeroCopy(),
			RxWAN: c.rx[0].Load(), RxLAN: c.rx[1].Load(), TxWAN: c.tx[0].Load(), TxLAN: c.tx[1].Load(),
			ToKernel: c.toKernel.Load(), Punted: c.punted.Load(), Consumed: c.consumed.Load(),
			Dropped: c.engineDrops.Load(), HandedOff: c.handedOff.Load(), HandoffRx: c.handoffRx.Load(),
			NotIP: c.notIP.Load(), TXRingFull: c.txFull.Load(), HandoffFull: c.handoffDrops.Load(),
			NoFrame: c.frameless.Load(), TTLExpired: c.ttlExpired.Load()}
		for _, s := range w.socks {
			if ss, err := s.Stats(); err == nil {
				qs.KernelRxDrop += ss.RXDropped
			}
		}
		fc := w.umem.Pool().Counts()
		qs.FramesFree, qs.FramesInUse = fc.Free, fc.Total()-fc.Free
		st.Queues = append(st.Queues, qs)
	}
	if b.steer != nil {
		if vc, err := b.steer.Counters(); err == nil {
			st.Verdicts = map[string]Counter{}
			for name, c := range vc.ByName() {
				st.Verdicts[name] = Counter{Packets: c.Packets, Bytes: c.Bytes}
			}
		}
	}
	for r, n := range b.Engine.Drops() {
		if n != 0 {
			st.Drops[r.String()] = n
		}
	}
	st.KernelPath, st.KernelPathError = b.kernel.sent.Load(), b.kernel.errors.Load()
	st.PuntDropped = b.punts.dropped.Load()
	st.Neighbours = b.neigh.snap.Load().Len()
	st.NeighbourRefreshes = b.neigh.refreshes.Load()
	return st
}
