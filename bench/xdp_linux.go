package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/xdp"
)

// The AF_XDP scenarios run on three namespaces:
//
//	gen (g0) ── 198.18.101.0/24 ── (d0) dut (d1) ── 198.18.102.0/24 ── (s0) sink
//
// The generator transmits from AF_XDP sockets on g0 (copy mode, one per
// queue). The device under test (DUT) is esphub's AF_XDP backend
// (dataplane/xdp, its workers rewriting UMEM frames in place), esphub's
// portable backend (TUN + ESP-in-UDP socket, with kernel forwarding), or,
// for the I/O ceiling, a minimal AF_XDP forwarder. The sink has the steering
// program on s0 and counts, in AF_XDP sockets, what arrives, checking every
// frame. Generator and sink each run on their own OS thread.
//
// The hub hairpin has two namespaces: the hub (dut, WAN d0) and the spokes
// (gen), joined by one veth pair with a queue per worker:
//
//	spokes (g0) ── 198.18.101.0/24 ── (d0) hub
//
// Spoke A_k (the generator, 198.18.101.10+k) sends ESP to the hub, which
// decrypts it, routes it into spoke B_k's tunnel, encrypts it again and
// sends it back out of d0 to spoke B_k (198.18.101.20+k), which is the sink
// on g0. Generator and sink share g0's AF_XDP sockets, one per queue (a
// queue takes one UMEM), and take turns on them under a lock. A veth hands
// a frame sent on queue k to its peer's queue k, so flow k stays on worker
// k both ways: no bridge re-hashes it onto another queue.

// xdpKind is what the DUT does with each packet.
type xdpKind int

const (
	kindForward xdpKind = iota // rewrite MACs and send on: the I/O ceiling
	kindEncrypt                // inner IP in, ESP out (LAN→WAN)
	kindDecrypt                // ESP in, inner IP out (WAN→LAN)
	kindHairpin                // ESP in, ESP out into another tunnel (spoke→hub→spoke)
)

// xdpCase is one row family: a kind through one DUT with some workers.
type xdpCase struct {
	kind     xdpKind
	portable bool
	workers  int
}

func (c xdpCase) path() string {
	if c.portable {
		return [...]string{"", PathPortableEnc, PathPortableDec, PathPortableHairpin}[c.kind]
	}
	return [...]string{PathXDPForward, PathXDPEncrypt, PathXDPDecrypt, PathXDPHairpin}[c.kind]
}

// seals reports whether the generator sends ESP (sealed on the fly).
func (c xdpCase) seals() bool { return c.kind == kindDecrypt || c.kind == kindHairpin }

// queues is the number of veth queues and generator/sink sockets: one per
// AF_XDP worker. The portable backend receives through the kernel, which
// needs one.
func (c xdpCase) queues() int {
	if c.portable {
		return 1
	}
	return max(c.workers, 1)
}

// xdpMTU is the MTU of the AF_XDP topology's links.
const xdpMTU = 1600

// xdpSPIBase is the first SPI of the scenarios; flow k uses xdpSPIBase+k,
// and the sink accepts ESP whose SPI shares the upper 24 bits.
const xdpSPIBase = 0xbe000100

// spokeALAN is the hairpin's spoke-A LAN, the inner packets' source
// (innerSrc); with several flows each spoke A_k has a part of it.
var spokeALAN = netip.MustParsePrefix("198.18.10.0/24")

// hairpinSpokeA and hairpinSpokeB return the WAN addresses of flow k's
// spokes: A_k sends (the generator), B_k receives (the sink).
func hairpinSpokeA(k int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 101, byte(10 + k)}) }
func hairpinSpokeB(k int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 101, byte(20 + k)}) }

// splitPrefix returns part k of p cut into n equal parts (n a power of
// two): p itself when n is 1.
func splitPrefix(p netip.Prefix, k, n int) netip.Prefix {
	bits := 0
	for 1<<bits < n {
		bits++
	}
	a := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | uint32(k)<<(32-p.Bits()-bits)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.PrefixFrom(netip.AddrFrom4(a), p.Bits()+bits)
}

// flow is one tunnel's share of the traffic. With two AF_XDP workers the
// DUT runs two tunnels, and the generator sends each one's packets on the
// queue of the worker that owns its SA (the backend gives inbound SPI s to
// worker s mod N and tunnel t to worker t mod N), so that no packet is
// handed between workers.
type flow struct {
	queue  int                // generator TX queue
	tunnel dataplane.TunnelID // DUT tunnel (10+k: owned by worker k)
	spi    uint32             // the flow's SA (xdpSPIBase+k: owned by worker k)
	peer   netip.Addr         // far tunnel end: behind the sink (encrypt) or the generator (decrypt)
	prefix netip.Prefix       // inner destinations routed into the tunnel
	dst    netip.Addr         // inner destination the generator uses
}

// hairpinOut returns the hub's side of flow f toward spoke B in a hairpin
// of n flows: tunnel and outbound SPI are f's plus n, so that the worker
// owning f's inbound SA (SPI mod n) owns the outbound tunnel too.
func (f flow) hairpinOut(n int) flow {
	f.tunnel += dataplane.TunnelID(n)
	f.spi += uint32(n)
	return f
}

func flowsFor(c xdpCase, peerNet byte) []flow {
	n := max(c.workers, 1)
	out := make([]flow, n)
	for k := range out {
		f := flow{tunnel: dataplane.TunnelID(10 + k), spi: xdpSPIBase + uint32(k),
			peer: netip.AddrFrom4([4]byte{198, 18, peerNet, byte(10 + k)}), prefix: lanB, dst: innerDst}
		if n == 2 {
			f.prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 20, byte(128 * k)}), 25)
			f.dst = netip.AddrFrom4([4]byte{198, 18, 20, byte(128*k + 1)})
		}
		f.queue = k % c.queues()
		out[k] = f
	}
	return out
}

// xdpNode is one namespace's AF_XDP side: one socket per queue on one UMEM
// (and, for the minimal forwarder, a second interface's socket).
type xdpNode struct {
	steer *bpf.Steering
	umem  *afxdp.UMEM
	socks []*afxdp.Socket // receive (the generator: transmit) sockets by queue
	out   *afxdp.Socket   // minimal forwarder only: transmits toward the sink
}

func (n *xdpNode) close() {
	if n.umem != nil {
		n.umem.Close()
	}
	if n.steer != nil {
		n.steer.Close()
	}
}

// xdpTopo is a built topology of one case.
type xdpTopo struct {
	c              xdpCase
	lab            *netLab
	g0, d0, d1, s0 *end
	flows          []flow
	gen, fwd, sink xdpNode

	// The DUT: the AF_XDP backend, the portable backend, or (forward) the
	// minimal forwarder goroutine.
	xb       *xdp.Backend
	gw       *portableGateway
	engine   *dataplane.Engine
	dutStop  func()
	dutWG    sync.WaitGroup
	dutDone  chan error
	fwdCPU   atomic.Int64 // the forwarder thread's CPU, published by it
	fwdPkts  atomic.Uint64
	fwdDrops atomic.Uint64

	// sealer plays the spokes for decrypt and hairpin: an engine with one
	// outbound SA per flow that the generator seals each packet with, in
	// its own UMEM frame, just before sending it, so every packet carries a
	// fresh sequence number and the DUT runs with anti-replay on.
	sealer *EnginePair

	// shared is set when generator and sink use the same sockets (the
	// hairpin's g0); ioMu then serializes their use of sockets and UMEM.
	shared bool
	ioMu   sync.Mutex

	stop     atomic.Bool
	wg       sync.WaitGroup
	sinkGood atomic.Uint64
	sinkBad  atomic.Uint64
	sinkCPU  atomic.Int64 // sink thread CPU, published by the sink goroutine
	genBad   uint64       // packets the sealer refused (must stay 0)
	// inner holds, per flow, the inner packets of the size label last set
	// (forward/encrypt: whole Ethernet frames); sizes their inner lengths,
	// which Gbit/s counts on every path (so that decrypt compares with
	// encrypt).
	inner [][][]byte
	sizes []int
}

// newXDPTopo builds the namespaces, links, programs, sockets and the DUT,
// and starts the DUT and the sink.
func newXDPTopo(c xdpCase) (t *xdpTopo, err error) {
	if err := afxdp.Probe(); err != nil {
		return nil, fmt.Errorf("af_xdp: %w", err)
	}
	lab, err := newNetLab("x")
	if err != nil {
		return nil, err
	}
	t = &xdpTopo{c: c, lab: lab}
	built := t
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	nsG, err := lab.ns("gen")
	if err != nil {
		return nil, err
	}
	nsD, err := lab.ns("dut")
	if err != nil {
		return nil, err
	}
	var nsS string
	if c.kind != kindHairpin {
		if nsS, err = lab.ns("sink"); err != nil {
			return nil, err
		}
	}
	q := c.queues()
	if c.kind == kindHairpin {
		// Spokes A and B both live on g0, the hub WAN's veth peer.
		if t.g0, t.d0, err = lab.vethQueues(nsG, "g0", nsD, "d0", 101, q); err != nil {
			return nil, err
		}
		t.s0, t.shared = t.g0, true
		for k := range c.workers {
			for _, a := range []netip.Addr{hairpinSpokeA(k), hairpinSpokeB(k)} {
				if err := t.d0.neigh(a, t.g0.mac); err != nil {
					return nil, err
				}
			}
		}
	} else {
		if t.g0, t.d0, err = lab.vethQueues(nsG, "g0", nsD, "d0", 101, q); err != nil {
			return nil, err
		}
		if t.d1, t.s0, err = lab.vethQueues(nsD, "d1", nsS, "s0", 102, q); err != nil {
			return nil, err
		}
	}
	// MTU 1600 on every link: IMIX's 1500-byte packets become about 1560
	// bytes of ESP, which a 1500-byte link would drop (the lab stands for
	// an underlay that carries full-size tunnelled packets).
	links := []*end{t.g0, t.d0}
	if t.d1 != nil {
		links = append(links, t.d1, t.s0)
	}
	for _, e := range links {
		if err := ipRun("-n", e.ns, "link", "set", "dev", e.name, "mtu", strconv.Itoa(xdpMTU)); err != nil {
			return nil, err
		}
	}
	t.flows = flowsFor(c, map[bool]byte{true: 101, false: 102}[c.seals()])
	if c.kind == kindEncrypt {
		// The tunnels' far ends are behind the sink.
		for _, f := range t.flows {
			if err := t.d1.neigh(f.peer, t.s0.mac); err != nil {
				return nil, err
			}
		}
	}

	// Generator: a UMEM and one TX socket per queue; no program (copy-mode
	// TX needs none). Shared with the sink, the UMEM also feeds the
	// sockets' fill rings.
	genFrames := 8192
	if t.shared {
		genFrames = 16384
	}
	if t.gen.umem, err = afxdp.NewUMEM(afxdp.UMEMConfig{Frames: genFrames}); err != nil {
		return nil, fmt.Errorf("generator umem: %w", err)
	}
	if err = inNetns(nsG, func() error {
		for i := range q {
			s, err := t.gen.umem.Open(afxdp.SocketConfig{Ifindex: t.g0.ifindex, Queue: i})
			if err != nil {
				return err
			}
			t.gen.socks = append(t.gen.socks, s)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("generator socket: %w", err)
	}

	// Sink: WAN role for ESP (encrypt, hairpin), LAN for inner packets.
	sinkRole := bpf.RoleLAN
	if c.kind == kindEncrypt || c.kind == kindHairpin {
		sinkRole = bpf.RoleWAN
	}
	if t.shared {
		err = shareXDPNode(&t.sink, t.s0, sinkRole, t.gen.socks)
	} else {
		err = openXDPNode(&t.sink, t.s0, sinkRole, q, nil, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	if c.seals() {
		if err := t.setupSealer(); err != nil {
			return nil, err
		}
	}
	switch {
	case c.kind == kindForward:
		if err = openXDPNode(&t.fwd, t.d0, bpf.RoleLAN, 1, t.d1, 8192); err != nil {
			return nil, fmt.Errorf("forwarder: %w", err)
		}
		t.wg.Add(1)
		go t.runForwarder()
	case c.portable:
		if err := t.startPortable(nsD); err != nil {
			return nil, err
		}
	default:
		if err := t.startXDP(nsD); err != nil {
			return nil, err
		}
	}
	t.wg.Add(1)
	go t.runSink()
	return t, nil
}

// openXDPNode loads the steering program on e (and protects lanB for the
// LAN role), opens a UMEM with a receive socket on each of e's first queues
// and, if out is set, a socket on out sharing the UMEM.
func openXDPNode(n *xdpNode, e *end, role bpf.Role, queues int, out *end, frames int) error {
	var err error
	if n.steer, err = bpf.Load(bpf.Options{}); err != nil {
		return fmt.Errorf("load steering: %w", err)
	}
	if role == bpf.RoleLAN {
		if err := n.steer.AddProtected(0, lanB); err != nil {
			return err
		}
	}
	if n.umem, err = afxdp.NewUMEM(afxdp.UMEMConfig{Frames: frames}); err != nil {
		return fmt.Errorf("umem: %w", err)
	}
	err = inNetns(e.ns, func() error {
		var err error
		if role == bpf.RoleWAN {
			_, err = n.steer.AttachWAN(e.ifindex, bpf.AttachDriver)
		} else {
			_, err = n.steer.AttachLAN(e.ifindex, 0, bpf.AttachDriver)
		}
		if err != nil {
			return fmt.Errorf("attach %s: %w", e.name, err)
		}
		for i := range queues {
			s, err := n.umem.Open(afxdp.SocketConfig{Ifindex: e.ifindex, Queue: i})
			if err != nil {
				return fmt.Errorf("socket on %s queue %d: %w", e.name, i, err)
			}
			n.socks = append(n.socks, s)
		}
		if out != nil {
			if n.out, err = n.umem.Open(afxdp.SocketConfig{Ifindex: out.ifindex}); err != nil {
				return fmt.Errorf("socket on %s: %w", out.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, s := range n.socks {
		if err := n.steer.RegisterSocket(e.ifindex, i, s.FD()); err != nil {
			return fmt.Errorf("register socket: %w", err)
		}
		s.Refill()
	}
	return nil
}

// shareXDPNode makes n receive on sockets another node opened (and owns) on
// e: it loads the steering program, attaches it to e and registers the
// sockets by queue. n.umem stays nil, so closing n leaves the sockets to
// their owner.
func shareXDPNode(n *xdpNode, e *end, role bpf.Role, socks []*afxdp.Socket) error {
	var err error
	if n.steer, err = bpf.Load(bpf.Options{}); err != nil {
		return fmt.Errorf("load steering: %w", err)
	}
	err = inNetns(e.ns, func() error {
		var err error
		if role == bpf.RoleWAN {
			_, err = n.steer.AttachWAN(e.ifindex, bpf.AttachDriver)
		} else {
			_, err = n.steer.AttachLAN(e.ifindex, 0, bpf.AttachDriver)
		}
		if err != nil {
			return fmt.Errorf("attach %s: %w", e.name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	n.socks = socks
	for i, s := range socks {
		if err := n.steer.RegisterSocket(e.ifindex, i, s.FD()); err != nil {
			return fmt.Errorf("register socket: %w", err)
		}
		s.Refill()
	}
	return nil
}

// benchKey is the AES-128-GCM key and salt of every scenario SA.
func benchKey() []byte {
	key := make([]byte, 20)
	for i := range key {
		key[i] = byte(0x40 + i)
	}
	return key
}

// setupSealer builds the spokes' engine: per flow a tunnel from the flow's
// spoke address to the DUT's d0, its outbound SA and a route for the
// flow's inner prefix. ESP is in UDP for the portable backend (whose
// socket listens on 4500), plain for the AF_XDP backend.
func (t *xdpTopo) setupSealer() error {
	s := dataplane.NewEngine(dataplane.Options{})
	for k, f := range t.flows {
		peer := f.peer // spoke A_k for the hairpin (flowsFor's 198.18.101.10+k)
		for _, step := range []func() error{
			func() error {
				tc := dataplane.TunnelConfig{ID: f.tunnel, Mode: dataplane.ModeIPsec, Local: peer, Remote: t.d0.ip4, Encap: t.c.portable}
				if tc.Encap {
					// Flow k goes to the portable DUT's socket k.
					tc.LocalPort, tc.RemotePort = 4500, uint16(4500+k)
				}
				return s.AddTunnel(tc)
			},
			func() error {
				return s.AddSA(dataplane.SAConfig{SPI: f.spi, Direction: dataplane.Outbound, Tunnel: f.tunnel, Algorithm: esp.AESGCM16, EncKey: benchKey()})
			},
			func() error {
				return s.AddRoute(0, f.prefix, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: f.tunnel})
			},
		} {
			if err := step(); err != nil {
				return fmt.Errorf("generator engine: %w", err)
			}
		}
	}
	t.sealer = &EnginePair{A: s, WA: s.NewWorker()}
	return nil
}

// program installs the DUT's tunnels, SAs and routes on c. Inbound SAs
// keep anti-replay on (the generator never repeats a sequence number).
func (t *xdpTopo) program(c dataplane.Control) error {
	key := benchKey()
	var steps []func() error
	add := func(f func() error) { steps = append(steps, f) }
	encap := t.c.portable
	switch t.c.kind {
	case kindEncrypt:
		for _, f := range t.flows {
			add(func() error {
				return c.AddTunnel(dataplane.TunnelConfig{ID: f.tunnel, Mode: dataplane.ModeIPsec, Local: t.d1.ip4, Remote: f.peer, Encap: encap})
			})
			add(func() error {
				return c.AddSA(dataplane.SAConfig{SPI: f.spi, Direction: dataplane.Outbound, Tunnel: f.tunnel, Algorithm: esp.AESGCM16, EncKey: key})
			})
			add(func() error {
				return c.AddRoute(0, f.prefix, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: f.tunnel})
			})
		}
	case kindDecrypt:
		for _, f := range t.flows {
			add(func() error {
				return c.AddTunnel(dataplane.TunnelConfig{ID: f.tunnel, Mode: dataplane.ModeIPsec, Local: t.d0.ip4, Remote: f.peer, Encap: encap})
			})
			add(func() error {
				return c.AddSA(dataplane.SAConfig{SPI: f.spi, Direction: dataplane.Inbound, Tunnel: f.tunnel, Algorithm: esp.AESGCM16, EncKey: key})
			})
		}
		add(func() error { return c.AddRoute(0, lanB, dataplane.NextHop{Kind: dataplane.NextHopHost}) })
	case kindHairpin:
		// Per flow, spoke A_k's tunnel (inbound SA) and spoke B_k's
		// (outbound SA): what arrives from A_k for B_k's LAN is routed into
		// B_k's tunnel. B_k's tunnel ID and SPI are A_k's plus the flow
		// count, so both are k modulo the worker count: one worker owns
		// the flow's inbound SA and outbound tunnel, and no packet is
		// handed between workers.
		n := len(t.flows)
		for k, in := range t.flows {
			out := in.hairpinOut(n)
			add(func() error {
				return c.AddTunnel(dataplane.TunnelConfig{ID: in.tunnel, Mode: dataplane.ModeIPsec, Local: t.d0.ip4, Remote: hairpinSpokeA(k), Encap: encap})
			})
			add(func() error {
				return c.AddTunnel(dataplane.TunnelConfig{ID: out.tunnel, Mode: dataplane.ModeIPsec, Local: t.d0.ip4, Remote: hairpinSpokeB(k), Encap: encap})
			})
			add(func() error {
				return c.AddSA(dataplane.SAConfig{SPI: in.spi, Direction: dataplane.Inbound, Tunnel: in.tunnel, Algorithm: esp.AESGCM16, EncKey: key})
			})
			add(func() error {
				return c.AddSA(dataplane.SAConfig{SPI: out.spi, Direction: dataplane.Outbound, Tunnel: out.tunnel, Algorithm: esp.AESGCM16, EncKey: key})
			})
			add(func() error {
				return c.AddRoute(0, splitPrefix(spokeALAN, k, n), dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: in.tunnel})
			})
			add(func() error {
				return c.AddRoute(0, in.prefix, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: out.tunnel})
			})
		}
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return fmt.Errorf("dut: %w", err)
		}
	}
	return nil
}

// startXDP runs esphub's AF_XDP backend in the DUT namespace with one
// worker per queue. Workers sleep in poll(2) as soon as they are idle, so
// their CPU time is their work.
func (t *xdpTopo) startXDP(ns string) error {
	if t.c.kind == kindDecrypt {
		// The backend resolves the LAN next hop from the kernel's tables.
		if err := ipRun("-n", ns, "route", "add", lanB.String(), "via", t.s0.ip4.String(), "dev", "d1"); err != nil {
			return err
		}
	}
	cfg := xdp.Config{Engine: dataplane.NewEngine(dataplane.Options{}), Queues: t.c.queues(), IdleSpin: -1}
	switch t.c.kind {
	case kindEncrypt:
		cfg.WAN, cfg.LANs = "d1", []xdp.LAN{{Name: "d0"}}
	case kindDecrypt:
		cfg.WAN, cfg.LANs = "d0", []xdp.LAN{{Name: "d1"}}
	case kindHairpin:
		cfg.WAN = "d0"
	}
	err := inNetns(ns, func() error {
		var err error
		t.xb, err = xdp.New(cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("af_xdp backend: %w", err)
	}
	t.engine = t.xb.Engine
	if err := t.program(t.xb); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.dutStop = cancel
	t.dutDone = make(chan error, 1)
	go func() { t.dutDone <- t.xb.Run(ctx) }()
	return nil
}

// startPortable runs esphub's portable backend in the DUT namespace with
// workers reader goroutines on each of its inputs (the TUN device and the
// ESP-in-UDP socket), as esphubd does with one. Encrypt: the kernel
// forwards the generator's packets for lanB into esp0. Decrypt: the
// backend's socket on d0 takes the ESP and the kernel forwards the
// decrypted packets out of d1. Hairpin: ESP in on d0 and out again.
func (t *xdpTopo) startPortable(ns string) error {
	// No IPv6 in the DUT namespace: esp0 would otherwise send router and
	// multicast listener solicitations into the tunnel (no-route drops).
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"} {
		if _, err := nsExecContext(context.Background(), ns, "sysctl", "-qw", kv); err != nil {
			return err
		}
	}
	local := t.d0.ip4
	if t.c.kind == kindEncrypt {
		local = t.d1.ip4
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.dutStop = cancel
	var err error
	t.gw, err = startPortableDUT(ctx, &t.dutWG, ns, local, t.c.kind != kindHairpin, max(t.c.workers, 1), t.program)
	if err != nil {
		return err
	}
	t.engine = t.gw.backend.Engine
	switch t.c.kind {
	case kindEncrypt:
		for _, f := range t.flows {
			if err := ipRun("-n", ns, "route", "add", f.prefix.String(), "dev", "esp0"); err != nil {
				return err
			}
		}
	case kindDecrypt:
		if err := ipRun("-n", ns, "route", "add", lanB.String(), "via", t.s0.ip4.String(), "dev", "d1"); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the goroutines and removes everything.
func (t *xdpTopo) Close() error {
	t.stop.Store(true)
	t.wg.Wait()
	if t.dutStop != nil {
		t.dutStop()
	}
	if t.gw != nil {
		t.gw.close()
	}
	t.dutWG.Wait()
	if t.xb != nil {
		if t.dutDone != nil {
			<-t.dutDone
		}
		t.xb.Close()
	}
	t.gen.close()
	t.fwd.close()
	t.sink.close()
	return t.lab.Close()
}

// setSize prepares the generator's packets for a size label: per flow, the
// inner packets (IMIX rotates through its sizes), as Ethernet frames to d0
// for forward and encrypt.
func (t *xdpTopo) setSize(label string) error {
	sizes, err := batchSizes(label, len(imixSizes))
	if err != nil {
		return err
	}
	t.sizes = sizes
	t.inner = make([][][]byte, len(t.flows))
	buf := make([]byte, 1500)
	for k, f := range t.flows {
		for i, size := range sizes {
			innerPacketTo(buf, size, uint16(i), f.dst)
			ip := append([]byte(nil), buf[:size]...)
			if !t.c.seals() {
				ip = ethFrame(t.d0.mac, t.g0.mac, ip)
			}
			t.inner[k] = append(t.inner[k], ip)
		}
	}
	return nil
}

func ethFrame(dst, src net.HardwareAddr, ip []byte) []byte {
	f := make([]byte, 14+len(ip))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	copy(f[14:], ip)
	return f
}

// runForwarder is the I/O ceiling's DUT: one thread receiving on d0 and
// transmitting on d1 with the MACs rewritten, nothing else.
func (t *xdpTopo) runForwarder() {
	defer t.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u, in, out := t.fwd.umem, t.fwd.socks[0], t.fwd.out
	descs := make([]afxdp.Desc, batchSize)
	poll := afxdp.NewPoller(in, out)
	dstMAC, srcMAC := t.s0.mac, t.d1.mac
	batches := 0
	t.fwdCPU.Store(int64(ThreadCPU()))
	for !t.stop.Load() {
		n := in.Receive(descs)
		if n == 0 {
			out.Flush()
			t.fwdCPU.Store(int64(ThreadCPU()))
			poll.Wait(time.Millisecond)
			continue
		}
		for _, d := range descs[:n] {
			b := u.Data(d)
			copy(b[0:6], dstMAC)
			copy(b[6:12], srcMAC)
		}
		send := descs[:n]
		for sent := 0; sent < len(send); {
			m := out.Transmit(send[sent:])
			sent += m
			if m == 0 {
				out.Flush()
				if t.stop.Load() {
					u.Release(send[sent:])
					t.fwdDrops.Add(uint64(len(send) - sent))
					break
				}
			}
		}
		t.fwdPkts.Add(uint64(n))
		if batches++; batches%16 == 0 {
			t.fwdCPU.Store(int64(ThreadCPU()))
		}
	}
}

// runSink counts what arrives at s0 and checks one field of each frame:
// that ESP carries one of the scenario's SPIs, that inner packets go to
// lanB.
func (t *xdpTopo) runSink() {
	defer t.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u := t.sink.umem
	if t.shared {
		u = t.gen.umem
	}
	descs := make([]afxdp.Desc, batchSize)
	poll := afxdp.NewPoller(t.sink.socks...)
	esp := t.c.kind == kindEncrypt || t.c.kind == kindHairpin
	lan := lanB.Addr().As4()
	t.sinkCPU.Store(int64(ThreadCPU()))
	for batches := 0; !t.stop.Load(); batches++ {
		if batches%16 == 0 {
			t.sinkCPU.Store(int64(ThreadCPU()))
		}
		got := 0
		t.lockIO()
		for _, s := range t.sink.socks {
			n := s.Receive(descs)
			if n == 0 {
				continue
			}
			got += n
			bad := 0
			for _, d := range descs[:n] {
				b := u.Data(d)
				if esp {
					switch {
					case len(b) >= 38 && b[23] == 50 && binary.BigEndian.Uint32(b[34:])>>8 == xdpSPIBase>>8:
					case len(b) >= 46 && b[23] == 17 && binary.BigEndian.Uint32(b[42:])>>8 == xdpSPIBase>>8:
					default:
						bad++
					}
				} else if len(b) < 34 || [3]byte(b[30:33]) != [3]byte(lan[:3]) {
					bad++
				}
			}
			u.Release(descs[:n])
			t.sinkGood.Add(uint64(n - bad))
			t.sinkBad.Add(uint64(bad))
		}
		t.unlockIO()
		if got == 0 {
			t.sinkCPU.Store(int64(ThreadCPU()))
			poll.Wait(time.Millisecond)
		}
	}
}

// genHeadroom is where in a generator frame the inner packet goes when it
// is sealed in place: room in front for the Ethernet, outer IP, UDP and
// ESP headers the sealer prepends (the engine needs dataplane.Headroom).
const genHeadroom = 256 + 14 + dataplane.Headroom

// generate transmits the flows' packets (round robin over flows, each on
// its queue's socket, batches of 64) for d as fast as the generator goes
// and returns how many it sent. For decrypt and hairpin it seals every
// packet just before sending it: the inner packet is copied into the
// frame and the sealing engine encrypts it in place (Packet.Wrap), so each
// carries the SA's next sequence number. It runs on the calling goroutine,
// locked to its thread.
func (t *xdpTopo) generate(d time.Duration) (sent uint64, elapsed, cpu time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := ThreadCPU()
	u := t.gen.umem
	tx := make([]afxdp.Desc, batchSize)
	ok := make([]afxdp.Desc, 0, batchSize)
	pkts := make([]*dataplane.Packet, batchSize)
	frames := make([][]byte, batchSize)
	for i := range pkts {
		pkts[i] = new(dataplane.Packet)
	}
	next := make([]int, len(t.flows))
	start := time.Now()
	deadline := start.Add(d)
	for round := 0; ; round++ {
		if round%8 == 0 && time.Now().After(deadline) {
			break
		}
		fi := round % len(t.flows)
		s, inner := t.gen.socks[t.flows[fi].queue], t.inner[fi]
		t.lockIO()
		s.Complete()
		m := u.Alloc(tx)
		t.unlockIO()
		k := next[fi]
		ok = ok[:0]
		if t.sealer == nil {
			for i := range m {
				f := inner[k]
				if k++; k == len(inner) {
					k = 0
				}
				tx[i].Len = uint32(len(f))
				copy(u.Data(tx[i]), f)
			}
			ok = append(ok, tx[:m]...)
		} else {
			for i := range m {
				f := inner[k]
				if k++; k == len(inner) {
					k = 0
				}
				frame, _ := u.Frame(tx[i])
				frames[i] = frame
				pkts[i].Wrap(frame, genHeadroom, copy(frame[genHeadroom:], f))
			}
			t.sealer.WA.ProcessOutbound(pkts[:m])
			for i := range m {
				p := pkts[i]
				off := p.Offset() - 14
				if p.Verdict != dataplane.VerdictUnderlay || off < 0 || !u.SetFrameData(&tx[i], off, 14+p.Len()) {
					t.genBad++
					t.lockIO()
					u.Release(tx[i : i+1])
					t.unlockIO()
					continue
				}
				e := frames[i][off:]
				copy(e[0:6], t.d0.mac)
				copy(e[6:12], t.g0.mac)
				e[12], e[13] = 0x08, 0x00
				ok = append(ok, tx[i])
			}
		}
		next[fi] = k
		t.lockIO()
		took := s.Transmit(ok)
		u.Release(ok[took:])
		if took < len(ok) || m == 0 {
			s.Flush()
			t.unlockIO()
			runtime.Gosched()
		} else {
			t.unlockIO()
		}
		sent += uint64(took)
	}
	elapsed = time.Since(start)
	// Let the TX rings drain so their packets count as offered in this run.
	for i := 0; i < 200; i++ {
		pending := 0
		t.lockIO()
		for _, s := range t.gen.socks {
			s.Flush()
			s.Complete()
			pending += s.TXPending()
		}
		t.unlockIO()
		if pending == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return sent, elapsed, ThreadCPU() - cpu0
}

// lockIO and unlockIO serialize generator and sink on shared sockets; they
// do nothing when each has its own.
func (t *xdpTopo) lockIO() {
	if t.shared {
		t.ioMu.Lock()
	}
}

func (t *xdpTopo) unlockIO() {
	if t.shared {
		t.ioMu.Unlock()
	}
}

// waitQuiet waits until the sink count stops moving (100 ms without change,
// at most 3 s) and returns it.
func (t *xdpTopo) waitQuiet() uint64 {
	last := t.sinkGood.Load()
	quietSince := time.Now()
	for start := time.Now(); time.Since(start) < 3*time.Second; {
		time.Sleep(10 * time.Millisecond)
		if c := t.sinkGood.Load(); c != last {
			last, quietSince = c, time.Now()
		} else if time.Since(quietSince) > 100*time.Millisecond {
			break
		}
	}
	return last
}

// measure runs the generator once and returns the sample: sink packets,
// offered packets, generator time and the DUT's CPU.
func (t *xdpTopo) measure(d time.Duration) Sample {
	base := t.sinkGood.Load()
	fwd0, sink0, self0 := t.fwdCPU.Load(), t.sinkCPU.Load(), processCPU()
	sent, elapsed, genCPU := t.generate(d)
	got := t.waitQuiet() - base
	cpu := time.Duration(t.fwdCPU.Load() - fwd0)
	if t.c.kind != kindForward {
		// The backends' workers are not this goroutine's: take the
		// process's CPU minus the generator's and the sink's threads.
		cpu = processCPU() - self0 - genCPU - time.Duration(t.sinkCPU.Load()-sink0)
	}
	var bytes uint64
	for i := uint64(0); i < got; i++ {
		bytes += uint64(t.sizes[i%uint64(len(t.sizes))])
	}
	return Sample{Packets: got, Offered: sent, Bytes: bytes, Elapsed: elapsed, CPU: cpu,
		GenCPU: genCPU, SinkCPU: time.Duration(t.sinkCPU.Load() - sink0)}
}

// warmUp sends until the sink sees traffic (the AF_XDP backend learns its
// next hops from the first packets, which it hands to the kernel), at
// most 10 s.
func (t *xdpTopo) warmUp() {
	base := t.sinkGood.Load()
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		t.generate(100 * time.Millisecond)
		if t.waitQuiet() > base+1000 {
			break
		}
	}
	if t.xb != nil {
		// One more round with the next hops resolved.
		t.generate(100 * time.Millisecond)
		t.waitQuiet()
	}
}

// harness describes the measurement of c for the report.
func (c xdpCase) harness() string {
	gen := "own AF_XDP generator (copy mode, one thread"
	if c.queues() > 1 {
		gen += fmt.Sprintf(", one socket per queue on %d-queue veths", c.queues())
	}
	gen += ")"
	if c.seals() {
		gen += " sealing each packet in its UMEM frame just before sending it (fresh sequence numbers: the DUT runs with anti-replay on)"
	}
	sink := "AF_XDP sink counting and checking every frame"
	switch {
	case c.kind == kindForward:
		return gen + " → DUT: minimal AF_XDP forwarder (one thread, two sockets on one UMEM, MAC rewrite only), XDP steering on the ingress veth → " + sink + "; gen, DUT and sink in three namespaces; CPU is the DUT thread's only"
	case c.kind == kindHairpin:
		spokes := " as spoke A"
		if c.workers > 1 {
			spokes = fmt.Sprintf(" as spokes A1..A%d, one flow each", c.workers)
		}
		var hub string
		switch {
		case c.portable && c.workers > 1:
			hub = fmt.Sprintf("esphub's portable backend (%d ESP-in-UDP sockets, ports 4500 upwards, one reader goroutine each, flow k sent to socket k; no daemon)", c.workers)
		case c.portable:
			hub = "esphub's portable backend (ESP-in-UDP socket, one reader goroutine, no daemon)"
		case c.workers > 1:
			hub = fmt.Sprintf("esphub's AF_XDP backend (%d workers, one per queue; flow k's inbound SA and spoke B_k's tunnel both owned by worker k, sent on queue k, so no hand-offs; in place in UMEM, no daemon)", c.workers)
		default:
			hub = "esphub's AF_XDP backend (one worker, in place in UMEM, no daemon)"
		}
		return gen + spokes + " → veth → hub: " + hub + " decrypts and re-encrypts into spoke B's tunnel → the same veth → " + sink +
			" as spoke B, sharing the generator's sockets on the hub WAN's veth peer (no bridge, so each flow keeps its queue both ways); CPU is the process's minus the generator's and sink's threads"
	case c.portable:
		if c.workers > 1 {
			return gen + fmt.Sprintf(" → DUT namespace with kernel forwarding and esphub's portable backend (TUN esp0 with %d reader goroutines; %d ESP-in-UDP sockets, ports 4500 upwards, one reader each, flow k sent to socket k; no daemon) → ", c.workers, c.workers) + sink + "; CPU is the process's minus the generator's and sink's threads"
		}
		return gen + " → DUT namespace with kernel forwarding and esphub's portable backend (TUN esp0 + ESP-in-UDP socket, one reader goroutine each, no daemon) → " + sink + "; CPU is the process's minus the generator's and sink's threads"
	default:
		w := "one worker"
		if c.workers > 1 {
			w = fmt.Sprintf("%d workers, one per queue, each flow's SA on the queue of the worker that owns it (no hand-offs)", c.workers)
		}
		return gen + " → DUT: esphub's AF_XDP backend (dataplane/xdp, " + w + ", frames processed in place in UMEM, no copies; no daemon) → " + sink + "; CPU is the process's minus the generator's and sink's threads"
	}
}

// xdpPath measures one case over every size.
func xdpPath(c xdpCase, rc RunConfig) ([]Result, error) {
	t, err := newXDPTopo(c)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	scenario := ScenarioESP
	if c.kind == kindForward {
		scenario = ScenarioIO
	}
	var out []Result
	drops0 := map[string]uint64{}
	for _, label := range rc.Sizes {
		if err := t.setSize(label); err != nil {
			return out, err
		}
		t.warmUp()
		if t.engine != nil {
			drops0 = nonZero(t.engine.Drops())
		}
		var k0 uint64
		if t.xb != nil {
			k0 = xdpToKernel(t.xb)
		}
		var samples []Sample
		for range rc.Runs {
			samples = append(samples, t.measure(rc.Duration))
		}
		r := PacketResult(scenario, c.path(), label, samples)
		r.Workers = max(c.workers, 1)
		r.Harness = c.harness()
		if t.engine != nil {
			if d := dropsSince(drops0, nonZero(t.engine.Drops())); len(d) > 0 {
				r.Note += fmt.Sprintf(" DUT engine drops while measuring: %v.", d)
			}
		}
		if t.xb != nil {
			if k := xdpToKernel(t.xb) - k0; k > 0 {
				r.Note += fmt.Sprintf(" %d packets went through the kernel path (unresolved next hop).", k)
			}
		}
		if bad := t.sinkBad.Load(); bad > 0 {
			r.Note += fmt.Sprintf(" The sink saw %d damaged frames.", bad)
		}
		if !r.LossPct.IsZero() && r.LossPct.Median < 1 {
			r.GeneratorBound = true
		}
		out = append(out, r)
	}
	if t.genBad > 0 {
		return out, fmt.Errorf("%s: the generator could not seal %d packets", c.path(), t.genBad)
	}
	if len(out) > 0 && out[0].PPS.Median == 0 {
		return out, errors.New(c.path() + ": nothing reached the sink")
	}
	return out, nil
}

// xdpToKernel sums the AF_XDP backend's kernel-path hand-offs.
func xdpToKernel(b *xdp.Backend) uint64 {
	var n uint64
	for _, q := range b.Status().Queues {
		n += q.ToKernel
	}
	return n
}

// dropsSince returns the counters of now that grew since before.
func dropsSince(before, now map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range now {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}
