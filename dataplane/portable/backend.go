// Package portable is the dataplane backend that runs wherever Linux runs,
// without BPF privileges: the overlay side is a TUN device, the underlay is
// ESP in UDP on port 4500 and raw ESP (IP protocol 50) sockets. It shares
// all packet code with the AF_XDP backend through dataplane.Worker.
//
// In esphubd the IKE daemon already owns UDP 4500: it hands ESP-in-UDP
// datagrams to Backend.DeliverESP and sends ours through the Underlay it
// provides (its WriteESP method). UDPUnderlay is the standalone
// implementation for tests and for hosts where IKE runs elsewhere.
package portable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/hdr"
)

// Underlay sends ESP to peers. b is the ESP packet (for ESP in UDP: the UDP
// payload) without outer headers; remote carries the peer's port for UDP.
// b is only valid during the call. Implementations must be safe for
// concurrent use.
type Underlay interface {
	WriteESP(b []byte, remote netip.AddrPort) error
}

// BatchUnderlay is an Underlay that can send many datagrams per system
// call (sendmmsg). It sends bufs[i] to remotes[i] and returns how many went.
type BatchUnderlay interface {
	Underlay
	WriteESPBatch(bufs [][]byte, remotes []netip.AddrPort) (int, error)
}

// Overlay is the host side: a TUN device or anything that reads and writes
// whole IP packets, one per call. Read and Write may be called concurrently.
type Overlay interface {
	io.ReadWriter
}

// BatchOverlay is an Overlay that can read several packets per wakeup into
// packet buffers (setting their lengths); RunOverlay uses it when present.
type BatchOverlay interface {
	Overlay
	ReadBatch(pkts []*dataplane.Packet) (int, error)
}

// PuntFunc receives control-plane packets that arrive through a tunnel
// (NHRP in GRE, proto 0x2001) or IKE messages seen on an underlay socket
// (proto 0). payload is only valid during the call.
type PuntFunc func(tunnel dataplane.TunnelID, proto uint16, payload []byte, remote netip.AddrPort)

// Config configures a Backend.
type Config struct {
	Engine *dataplane.Engine
	// Overlay is the TUN device; OverlayVRF the VRF of what it sends us.
	Overlay    Overlay
	OverlayVRF uint32
	// VRFOverlays are further host-side devices, one per VRF (the key is
	// the dataplane VRF id): packets read from one are routed in its VRF,
	// and packets the engine delivers to the host in a VRF are written to
	// that VRF's device. A VRF with no device of its own (and not
	// OverlayVRF) has its host-bound packets dropped and counted in
	// Stats.NoOverlay, never leaked into another VRF.
	VRFOverlays map[uint32]Overlay
	// UDP sends ESP in UDP (NAT-T); Raw sends plain ESP. Either may be nil
	// when no tunnel uses it (such packets then count as send errors).
	UDP, Raw Underlay
	Punt     PuntFunc
	Logger   *slog.Logger
	// BufferSize is the size of each packet buffer (dataplane.DefaultBufferSize
	// when zero).
	BufferSize int
}

// Stats counts what the backend itself saw (the engine counts drops).
type Stats struct {
	OverlayRx, OverlayTx   uint64
	UnderlayRx, UnderlayTx uint64
	SendErrors             uint64
	Punted                 uint64
	NoOverlay              uint64
}

// Backend moves packets between the overlay, the underlays and the engine.
// It implements dataplane.Control (the Engine's methods plus Inject). All
// methods are safe for concurrent use; each reading goroutine has its own
// dataplane.Worker, and other callers borrow one from a pool.
type Backend struct {
	*dataplane.Engine
	cfg     Config
	log     *slog.Logger
	workers sync.Pool
	packets sync.Pool

	overlayRx, overlayTx   atomic.Uint64
	underlayRx, underlayTx atomic.Uint64
	sendErrors, punted     atomic.Uint64
	noOverlay              atomic.Uint64
}

var _ dataplane.Control = (*Backend)(nil)

// New returns a backend; call RunOverlay and the underlays' Serve methods
// (or feed DeliverESP) to move traffic.
func New(cfg Config) (*Backend, error) {
	if cfg.Engine == nil {
		return nil, errors.New("portable: no engine")
	}
	if cfg.BufferSize == 0 {
		cfg.BufferSize = dataplane.DefaultBufferSize
	}
	b := &Backend{Engine: cfg.Engine, cfg: cfg, log: cfg.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.workers.New = func() any { return cfg.Engine.NewWorker() }
	b.packets.New = func() any { return dataplane.NewPacket(cfg.BufferSize) }
	return b, nil
}

// Stats returns the backend's counters.
func (b *Backend) Stats() Stats {
	return Stats{OverlayRx: b.overlayRx.Load(), OverlayTx: b.overlayTx.Load(), UnderlayRx: b.underlayRx.Load(),
		UnderlayTx: b.underlayTx.Load(), SendErrors: b.sendErrors.Load(), Punted: b.punted.Load(), NoOverlay: b.noOverlay.Load()}
}

// overlayBatch is how many packets RunOverlay reads per wakeup when the
// overlay supports batches.
const overlayBatch = 32

// RunOverlay reads packets from the overlay, encapsulates and sends them,
// until ctx ends or the overlay returns an error (closing the overlay ends
// it). It returns nil on ctx's end.
func (b *Backend) RunOverlay(ctx context.Context) error {
	if b.cfg.Overlay == nil {
		return errors.New("portable: no overlay")
	}
	if len(b.cfg.VRFOverlays) == 0 {
		return b.runOverlay(ctx, b.cfg.Overlay, b.cfg.OverlayVRF)
	}
	errs := make(chan error, len(b.cfg.VRFOverlays)+1)
	go func() { errs <- b.runOverlay(ctx, b.cfg.Overlay, b.cfg.OverlayVRF) }()
	for vrf, o := range b.cfg.VRFOverlays {
		go func() { errs <- b.runOverlay(ctx, o, vrf) }()
	}
	// The first device to fail (or ctx's end) ends the call; the others
	// end when their devices are closed.
	return <-errs
}

// overlayFor returns the host-side device of vrf.
func (b *Backend) overlayFor(vrf uint32) Overlay {
	if vrf == b.cfg.OverlayVRF {
		return b.cfg.Overlay
	}
	return b.cfg.VRFOverlays[vrf]
}

func (b *Backend) runOverlay(ctx context.Context, overlay Overlay, vrf uint32) error {
	w := b.cfg.Engine.NewWorker()
	s := newSender(b)
	pkts := make([]*dataplane.Packet, overlayBatch)
	for i := range pkts {
		pkts[i] = dataplane.NewPacket(b.cfg.BufferSize)
	}
	bo, batched := overlay.(BatchOverlay)
	for {
		for _, p := range pkts {
			p.Reset()
		}
		var n int
		var err error
		if batched {
			n, err = bo.ReadBatch(pkts)
		} else {
			var m int
			m, err = overlay.Read(pkts[0].ReadBuffer())
			if err == nil && m > 0 {
				pkts[0].SetLen(m)
				n = 1
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("overlay read: %w", err)
		}
		if n == 0 {
			continue
		}
		for _, p := range pkts[:n] {
			p.VRF = vrf
		}
		b.overlayRx.Add(uint64(n))
		w.ProcessOutbound(pkts[:n])
		s.dispatch(pkts[:n])
	}
}

// DeliverESP processes one datagram from an underlay socket someone else
// owns: payload is the UDP payload (encap) or the ESP packet (raw), local
// and remote the socket addresses. It copies payload, so the caller may
// reuse it on return. This is the callback the IKE transport calls for
// non-IKE traffic on port 4500.
func (b *Backend) DeliverESP(payload []byte, local, remote netip.AddrPort, encap bool) {
	p := b.packets.Get().(*dataplane.Packet)
	p.Reset()
	if !p.SetData(payload) {
		b.packets.Put(p)
		return
	}
	p.Local, p.Remote, p.Encap = local, remote, encap
	w := b.workers.Get().(*dataplane.Worker)
	b.processInbound(w, p)
	b.workers.Put(w)
	b.packets.Put(p)
}

func (b *Backend) processInbound(w *dataplane.Worker, p *dataplane.Packet) {
	b.underlayRx.Add(1)
	batch := [1]*dataplane.Packet{p}
	w.ProcessInbound(batch[:])
	b.dispatch(batch[:])
}

// Inject implements dataplane.Control: it encapsulates payload (an IPv4,
// IPv6 or NHRP packet) into tunnel t and sends it.
func (b *Backend) Inject(t dataplane.TunnelID, etherType uint16, payload []byte) error {
	p := b.packets.Get().(*dataplane.Packet)
	defer b.packets.Put(p)
	p.Reset()
	if !p.SetData(payload) {
		return fmt.Errorf("inject into tunnel %d: %d bytes do not fit a buffer", t, len(payload))
	}
	w := b.workers.Get().(*dataplane.Worker)
	w.EncapsulateTo(p, t, etherType)
	b.workers.Put(w)
	if p.Verdict != dataplane.VerdictUnderlay {
		return fmt.Errorf("inject into tunnel %d: dropped (%v)", t, p.Drop)
	}
	if err := b.send(p); err != nil {
		return fmt.Errorf("inject into tunnel %d: %w", t, err)
	}
	return nil
}

// natKeepalive is the RFC 3948 §2.3 NAT-keepalive payload.
var natKeepalive = []byte{0xff}

// SendNATKeepalive sends one NAT keepalive (a single 0xFF byte in UDP, RFC
// 3948 §2.3) to tunnel t's peer, so that a NAT in front of this host keeps
// its mapping. The control side calls it on a timer (strongSwan's default
// is every 20 s) for tunnels that detected a NAT.
func (b *Backend) SendNATKeepalive(t dataplane.TunnelID) error {
	_, remote, encap, ok := b.TunnelEndpoints(t)
	switch {
	case !ok:
		return fmt.Errorf("nat keepalive on tunnel %d: %w", t, dataplane.ErrNotFound)
	case !encap:
		return fmt.Errorf("nat keepalive on tunnel %d: tunnel does not use UDP encapsulation", t)
	case b.cfg.UDP == nil:
		return fmt.Errorf("nat keepalive on tunnel %d: %w", t, errNoUnderlay)
	}
	if err := b.cfg.UDP.WriteESP(natKeepalive, remote); err != nil {
		return fmt.Errorf("nat keepalive on tunnel %d: %w", t, err)
	}
	return nil
}

// dispatch acts on each packet's verdict, sending one datagram per call.
func (b *Backend) dispatch(pkts []*dataplane.Packet) {
	for _, p := range pkts {
		b.dispatchOne(p)
	}
}

func (b *Backend) dispatchOne(p *dataplane.Packet) {
	switch p.Verdict {
	case dataplane.VerdictUnderlay:
		if err := b.send(p); err != nil {
			b.sendErrors.Add(1)
		}
	case dataplane.VerdictHost:
		o := b.overlayFor(p.VRF)
		if o == nil {
			b.noOverlay.Add(1)
			return
		}
		if _, err := o.Write(p.Data()); err != nil {
			b.sendErrors.Add(1)
			return
		}
		b.overlayTx.Add(1)
	case dataplane.VerdictPunt:
		b.punted.Add(1)
		if b.cfg.Punt != nil {
			b.cfg.Punt(p.Tunnel, p.PuntProto, p.Data(), p.Remote)
		}
	}
}

var errNoUnderlay = errors.New("no underlay for this encapsulation")

// socketPayload returns what a socket sends for an underlay packet: the
// engine built the outer IP (and UDP) header, the kernel builds its own.
func socketPayload(p *dataplane.Packet) []byte {
	d := p.Data()
	off := hdr.IPv4MinLen
	if hdr.IPVersion(d) == 6 {
		off = hdr.IPv6Len
	}
	if p.Encap {
		off += hdr.UDPLen
	}
	return d[off:]
}

// send writes one underlay packet to the right underlay.
func (b *Backend) send(p *dataplane.Packet) error {
	u := b.cfg.Raw
	if p.Encap {
		u = b.cfg.UDP
	}
	if u == nil {
		return errNoUnderlay
	}
	if err := u.WriteESP(socketPayload(p), p.Remote); err != nil {
		return err
	}
	b.underlayTx.Add(1)
	return nil
}

// sender dispatches verdicts for one goroutine, collecting underlay
// packets into one sendmmsg per underlay when the underlays support
// batches. It is not safe for concurrent use.
type sender struct {
	b        *Backend
	udp, raw sendBatch
}

type sendBatch struct {
	u       BatchUnderlay
	bufs    [][]byte
	remotes []netip.AddrPort
}

func newSender(b *Backend) *sender {
	s := &sender{b: b}
	s.udp.u, _ = b.cfg.UDP.(BatchUnderlay)
	s.raw.u, _ = b.cfg.Raw.(BatchUnderlay)
	return s
}

func (s *sender) dispatch(pkts []*dataplane.Packet) {
	for _, p := range pkts {
		if p.Verdict == dataplane.VerdictUnderlay {
			q := &s.raw
			if p.Encap {
				q = &s.udp
			}
			if q.u != nil {
				q.bufs = append(q.bufs, socketPayload(p))
				q.remotes = append(q.remotes, p.Remote)
				continue
			}
		}
		s.b.dispatchOne(p)
	}
	s.flush(&s.udp)
	s.flush(&s.raw)
}

func (s *sender) flush(q *sendBatch) {
	if len(q.bufs) == 0 {
		return
	}
	n, _ := q.u.WriteESPBatch(q.bufs, q.remotes)
	s.b.underlayTx.Add(uint64(n))
	if n < len(q.bufs) {
		s.b.sendErrors.Add(uint64(len(q.bufs) - n))
	}
	clear(q.bufs) // do not keep packet buffers reachable
	q.bufs, q.remotes = q.bufs[:0], q.remotes[:0]
}
