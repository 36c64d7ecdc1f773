package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/esphub/esphub/bpf"
	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
	"github.com/esphub/esphub/dataplane/esp"
)

// The AF_XDP scenarios run on three namespaces:
//
//	gen (g0) ── 198.18.101.0/24 ── (d0) dut (d1) ── 198.18.102.0/24 ── (s0) sink
//
// The generator transmits from an AF_XDP socket on g0 (copy mode, rate
// controlled). The DUT has the esphub XDP steering program on d0 and one
// worker goroutine with two AF_XDP sockets (d0 in, d1 out) on one UMEM.
// The sink has the steering program on s0 and counts, in an AF_XDP socket,
// what arrives. Each of the three runs on its own OS thread.

// xdpKind is what the DUT does with each packet.
type xdpKind int

const (
	kindForward xdpKind = iota // rewrite MACs and send on: the I/O ceiling
	kindEncrypt                // inner IP in, ESP out (LAN→WAN)
	kindDecrypt                // ESP in, inner IP out (WAN→LAN)
)

func (k xdpKind) path(portable bool) string {
	if portable {
		return [...]string{"", PathPortableEnc, PathPortableDec}[k]
	}
	return [...]string{PathXDPForward, PathXDPEncrypt, PathXDPDecrypt}[k]
}

const xdpSPI = 0xbe000101

// xdpNode is one namespace's AF_XDP side.
type xdpNode struct {
	steer *bpf.Steering
	umem  *afxdp.UMEM
	in    *afxdp.Socket // receives (and for the generator, transmits)
	out   *afxdp.Socket // DUT only: transmits toward the sink
}

func (n *xdpNode) close() {
	if n.umem != nil {
		n.umem.Close()
	}
	if n.steer != nil {
		n.steer.Close()
	}
}

// xdpTopo is a built AF_XDP topology of one kind.
type xdpTopo struct {
	kind xdpKind
	// portable replaces the AF_XDP DUT with esphub's portable backend
	// (kernel forwarding into a TUN, ESP in UDP on a socket); the
	// generator and sink stay the same.
	portable       bool
	gw             *portableGateway
	gwCancel       func()
	gwWG           sync.WaitGroup
	lab            *netLab
	g0, d0, d1, s0 *end
	gen, dut, sink xdpNode

	// DUT engine (encrypt/decrypt) and the generator's sealing engine.
	engine *dataplane.Engine
	sealer *EnginePair

	stop     atomic.Bool
	wg       sync.WaitGroup
	sinkGood atomic.Uint64
	sinkBad  atomic.Uint64
	dutCPU   atomic.Int64 // DUT thread CPU, published by the DUT goroutine
	sinkCPU  atomic.Int64 // sink thread CPU, published by the sink goroutine
	// sizes are the inner packet sizes of the frames last built, which
	// Gbit/s counts on every path (so that decrypt compares with encrypt).
	sizes    []int
	dutPkts  atomic.Uint64
	dutDrops atomic.Uint64
}

// newXDPTopo builds the namespaces, links, programs, sockets and (for the
// ESP kinds) the engines, and starts the DUT and sink goroutines.
func newXDPTopo(kind xdpKind, portable bool) (t *xdpTopo, err error) {
	if err := afxdp.Probe(); err != nil {
		return nil, fmt.Errorf("af_xdp: %w", err)
	}
	lab, err := newNetLab("x")
	if err != nil {
		return nil, err
	}
	t = &xdpTopo{kind: kind, lab: lab, portable: portable}
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
	nsS, err := lab.ns("sink")
	if err != nil {
		return nil, err
	}
	if t.g0, t.d0, err = lab.veth(nsG, "g0", nsD, "d0", 101); err != nil {
		return nil, err
	}
	if t.d1, t.s0, err = lab.veth(nsD, "d1", nsS, "s0", 102); err != nil {
		return nil, err
	}

	// Generator: a UMEM and a TX socket; no program (copy-mode TX needs none).
	if t.gen.umem, err = afxdp.NewUMEM(afxdp.UMEMConfig{}); err != nil {
		return nil, fmt.Errorf("generator umem: %w", err)
	}
	if err = inNetns(nsG, func() (err error) {
		t.gen.in, err = t.gen.umem.Open(afxdp.SocketConfig{Ifindex: t.g0.ifindex})
		return err
	}); err != nil {
		return nil, fmt.Errorf("generator socket: %w", err)
	}

	// DUT: steering on d0 (LAN for forward/encrypt, WAN for decrypt).
	dutRole := bpf.RoleLAN
	if kind == kindDecrypt {
		dutRole = bpf.RoleWAN
	}
	if !portable {
		if err = openXDPNode(&t.dut, t.d0, dutRole, t.d1, 8192); err != nil {
			return nil, fmt.Errorf("dut: %w", err)
		}
	}
	// Sink: WAN for ESP (encrypt), LAN for inner packets.
	sinkRole := bpf.RoleLAN
	if kind == kindEncrypt {
		sinkRole = bpf.RoleWAN
	}
	if err = openXDPNode(&t.sink, t.s0, sinkRole, nil, 0); err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}

	if portable {
		if err = t.setupPortable(nsD); err != nil {
			return nil, err
		}
		t.wg.Add(1)
	} else {
		if err = t.setupEngines(); err != nil {
			return nil, err
		}
		t.wg.Add(2)
		go t.runDUT()
	}
	go t.runSink()
	return t, nil
}

// openXDPNode loads the steering program on e (and protects lanB for the
// LAN role), opens a UMEM with a receive socket on e and, if out is set, a
// second socket on out sharing the UMEM.
func openXDPNode(n *xdpNode, e *end, role bpf.Role, out *end, frames int) error {
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
		if n.in, err = n.umem.Open(afxdp.SocketConfig{Ifindex: e.ifindex}); err != nil {
			return fmt.Errorf("socket on %s: %w", e.name, err)
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
	if err := n.steer.RegisterSocket(e.ifindex, 0, n.in.FD()); err != nil {
		return fmt.Errorf("register socket: %w", err)
	}
	n.in.Refill()
	return nil
}

// setupEngines installs the DUT's tunnel (d1 → s0 for encrypt; g0 → d0
// for decrypt) and, for decrypt, the generator's sealing engine with the
// same keys.
func (t *xdpTopo) setupEngines() error {
	if t.kind == kindForward {
		return nil
	}
	key := make([]byte, 20)
	for i := range key {
		key[i] = byte(0x40 + i)
	}
	t.engine = dataplane.NewEngine(dataplane.Options{})
	var tun dataplane.TunnelConfig
	var sa dataplane.SAConfig
	var route dataplane.NextHop
	if t.kind == kindEncrypt {
		tun = dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: t.d1.ip4, Remote: t.s0.ip4}
		sa = dataplane.SAConfig{SPI: xdpSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: key}
		route = dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}
	} else {
		tun = dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: t.d0.ip4, Remote: t.g0.ip4}
		// The generator replays a pool of sealed packets, so the DUT
		// does not check replay (RFC 4303 §3.4.3 lets a receiver skip it).
		sa = dataplane.SAConfig{SPI: xdpSPI, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: key, ReplayWindow: -1}
		route = dataplane.NextHop{Kind: dataplane.NextHopHost}
	}
	for _, f := range []func() error{
		func() error { return t.engine.AddTunnel(tun) },
		func() error { return t.engine.AddSA(sa) },
		func() error { return t.engine.AddRoute(0, lanB, route) },
	} {
		if err := f(); err != nil {
			return fmt.Errorf("dut engine: %w", err)
		}
	}
	if t.kind == kindDecrypt {
		s := dataplane.NewEngine(dataplane.Options{})
		for _, f := range []func() error{
			func() error {
				return s.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: t.g0.ip4, Remote: t.d0.ip4, Encap: t.portable})
			},
			func() error {
				return s.AddSA(dataplane.SAConfig{SPI: xdpSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: key})
			},
			func() error { return s.AddRoute(0, lanB, route4Tunnel) },
		} {
			if err := f(); err != nil {
				return fmt.Errorf("generator engine: %w", err)
			}
		}
		t.sealer = &EnginePair{A: s, WA: s.NewWorker()}
	}
	return nil
}

var route4Tunnel = dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1}

// Close stops the goroutines and removes everything.
func (t *xdpTopo) Close() error {
	t.stop.Store(true)
	t.wg.Wait()
	if t.gw != nil {
		t.gwCancel()
		t.gw.close()
		t.gwWG.Wait()
	}
	t.gen.close()
	t.dut.close()
	t.sink.close()
	return t.lab.Close()
}

// frames returns the generator's frames for a size label: Ethernet frames
// to d0 carrying the inner packet (forward, encrypt) or its ESP (decrypt).
// IMIX rotates through its sizes; decrypt uses 1,024 sealed packets.
func (t *xdpTopo) frames(label string) ([][]byte, error) {
	n := 12
	if t.kind == kindDecrypt {
		n = 1024
	}
	sizes, err := batchSizes(label, n)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, n)
	t.sizes = sizes
	buf := make([]byte, 1500)
	pkts := make([]*dataplane.Packet, 1)
	pkts[0] = dataplane.NewPacket(dataplane.DefaultBufferSize)
	for i, size := range sizes {
		innerPacket(buf, size, uint16(i))
		ip := buf[:size]
		if t.kind == kindDecrypt {
			p := pkts[0]
			p.Reset()
			p.SetData(ip)
			t.sealer.WA.ProcessOutbound(pkts)
			if p.Verdict != dataplane.VerdictUnderlay {
				return nil, fmt.Errorf("seal generator packet: %v (%v)", p.Verdict, p.Drop)
			}
			ip = p.Data()
		}
		out = append(out, ethFrame(t.d0.mac, t.g0.mac, ip))
	}
	return out, nil
}

func ethFrame(dst, src net.HardwareAddr, ip []byte) []byte {
	f := make([]byte, 14+len(ip))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	copy(f[14:], ip)
	return f
}

// publishCPU stores the calling (locked) thread's CPU time for readers.
func (t *xdpTopo) publishCPU() { t.dutCPU.Store(int64(ThreadCPU())) }

// runDUT is the device under test: one worker on a locked thread.
func (t *xdpTopo) runDUT() {
	defer t.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	u, in, out := t.dut.umem, t.dut.in, t.dut.out
	descs := make([]afxdp.Desc, batchSize)
	send := make([]afxdp.Desc, 0, batchSize)
	drop := make([]afxdp.Desc, 0, batchSize)
	pkts := make([]*dataplane.Packet, batchSize)
	for i := range pkts {
		pkts[i] = dataplane.NewPacket(dataplane.DefaultBufferSize)
	}
	var w *dataplane.Worker
	if t.engine != nil {
		w = t.engine.NewWorker()
	}
	poll := afxdp.NewPoller(in, out)
	dstMAC, srcMAC := t.s0.mac, t.d1.mac
	batches := 0
	t.publishCPU()
	for !t.stop.Load() {
		n := in.Receive(descs)
		if n == 0 {
			out.Flush()
			t.publishCPU()
			poll.Wait(time.Millisecond)
			continue
		}
		send, drop = send[:0], drop[:0]
		switch t.kind {
		case kindForward:
			for _, d := range descs[:n] {
				b := u.Data(d)
				copy(b[0:6], dstMAC)
				copy(b[6:12], srcMAC)
			}
			send = append(send, descs[:n]...)
		case kindEncrypt, kindDecrypt:
			// The engine works on its own packet buffers here: the
			// zero-copy attach of UMEM frames to Packets is not on main
			// yet, so each packet is copied in and out once.
			for i, d := range descs[:n] {
				p := pkts[i]
				p.Reset()
				b := u.Data(d)
				if len(b) < 14 {
					continue
				}
				p.SetLen(copy(p.ReadBuffer(), b[14:]))
				if t.kind == kindDecrypt && !p.StripOuter() {
					p.Verdict = dataplane.VerdictDrop
				}
			}
			if t.kind == kindEncrypt {
				w.ProcessOutbound(pkts[:n])
			} else {
				w.ProcessInbound(pkts[:n])
			}
			want := dataplane.VerdictUnderlay
			if t.kind == kindDecrypt {
				want = dataplane.VerdictHost
			}
			for i, d := range descs[:n] {
				p := pkts[i]
				if p.Verdict != want || !u.Adjust(&d, 0, 14+p.Len()-int(d.Len)) {
					drop = append(drop, d)
					continue
				}
				b := u.Data(d)
				copy(b[0:6], dstMAC)
				copy(b[6:12], srcMAC)
				copy(b[14:], p.Data())
				send = append(send, d)
			}
		}
		if len(drop) > 0 {
			u.Release(drop)
			t.dutDrops.Add(uint64(len(drop)))
		}
		for sent := 0; sent < len(send); {
			m := out.Transmit(send[sent:])
			sent += m
			if m == 0 {
				out.Flush()
				if t.stop.Load() {
					u.Release(send[sent:])
					break
				}
			}
		}
		t.dutPkts.Add(uint64(n))
		if batches++; batches%16 == 0 {
			t.publishCPU()
		}
	}
}

// runSink counts what arrives at s0 and checks one field of each frame:
// the SPI of ESP, the inner destination otherwise.
func (t *xdpTopo) runSink() {
	defer t.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s, u := t.sink.in, t.sink.umem
	descs := make([]afxdp.Desc, batchSize)
	poll := afxdp.NewPoller(s)
	dst := lanB.Addr().Next().As4() // innerDst
	t.sinkCPU.Store(int64(ThreadCPU()))
	for batches := 0; !t.stop.Load(); batches++ {
		if batches%16 == 0 {
			t.sinkCPU.Store(int64(ThreadCPU()))
		}
		n := s.Receive(descs)
		if n == 0 {
			t.sinkCPU.Store(int64(ThreadCPU()))
			poll.Wait(time.Millisecond)
			continue
		}
		bad := 0
		for _, d := range descs[:n] {
			b := u.Data(d)
			switch {
			case t.kind == kindEncrypt:
				switch {
				case len(b) >= 38 && b[23] == 50 && binary.BigEndian.Uint32(b[34:]) == xdpSPI:
				case len(b) >= 46 && b[23] == 17 && binary.BigEndian.Uint32(b[42:]) == xdpSPI:
				default:
					bad++
				}
			default:
				if len(b) < 34 || [4]byte(b[30:34]) != dst {
					bad++
				}
			}
		}
		u.Release(descs[:n])
		t.sinkGood.Add(uint64(n - bad))
		t.sinkBad.Add(uint64(bad))
	}
}

// generate transmits frames (round robin) for d at rate packets per second
// (0: as fast as the generator goes) and returns how many it sent. It
// runs on the calling goroutine, locked to its thread.
func (t *xdpTopo) generate(frames [][]byte, d time.Duration, rate float64) (sent uint64, elapsed, cpu time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := ThreadCPU()
	s, u := t.gen.in, t.gen.umem
	tx := make([]afxdp.Desc, batchSize)
	k := 0
	start := time.Now()
	deadline := start.Add(d)
	for {
		now := time.Now()
		if now.After(deadline) {
			break
		}
		if rate > 0 {
			// Pace per batch: never ahead of rate × elapsed.
			if due := uint64(now.Sub(start).Seconds() * rate); sent+batchSize > due+batchSize {
				time.Sleep(50 * time.Microsecond)
				continue
			}
		}
		m := u.Alloc(tx)
		for i := range m {
			f := frames[k]
			if k++; k == len(frames) {
				k = 0
			}
			tx[i].Len = uint32(len(f))
			copy(u.Data(tx[i]), f)
		}
		took := s.Transmit(tx[:m])
		u.Release(tx[took:m])
		sent += uint64(took)
		if took < m || m == 0 {
			s.Flush()
			runtime.Gosched()
		}
	}
	elapsed = time.Since(start)
	// Let the TX ring drain so its packets count as offered in this run.
	for i := 0; i < 200 && s.TXPending() > 0; i++ {
		s.Flush()
		time.Sleep(time.Millisecond)
	}
	return sent, elapsed, ThreadCPU() - cpu0
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
// offered packets, generator time and the DUT thread's CPU.
func (t *xdpTopo) measure(frames [][]byte, d time.Duration, rate float64) Sample {
	base := t.sinkGood.Load()
	cpu0, sink0, self0 := t.dutCPU.Load(), t.sinkCPU.Load(), processCPU()
	sent, elapsed, genCPU := t.generate(frames, d, rate)
	got := t.waitQuiet() - base
	cpu := time.Duration(t.dutCPU.Load() - cpu0)
	if t.portable {
		// The backend's goroutines are not on one thread: take the
		// process's CPU minus the generator's and the sink's threads.
		cpu = processCPU() - self0 - genCPU - time.Duration(t.sinkCPU.Load()-sink0)
	}
	var bytes uint64
	for i := uint64(0); i < got; i++ {
		bytes += uint64(t.sizes[i%uint64(len(t.sizes))])
	}
	return Sample{Packets: got, Offered: sent, Bytes: bytes, Elapsed: elapsed, CPU: cpu}
}

// XDPPath runs one AF_XDP scenario kind over every size: scenario 2
// (forward) or 3 (encrypt, decrypt).
func xdpPath(kind xdpKind, portable bool, rc RunConfig) ([]Result, error) {
	t, err := newXDPTopo(kind, portable)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	scenario := ScenarioESP
	if kind == kindForward {
		scenario = ScenarioIO
	}
	var out []Result
	for _, label := range rc.Sizes {
		frames, err := t.frames(label)
		if err != nil {
			return out, err
		}
		// Warm up: page in the rings, settle the XDP programs.
		t.measure(frames, 100*time.Millisecond, 0)
		var samples []Sample
		for range rc.Runs {
			samples = append(samples, t.measure(frames, rc.Duration, 0))
		}
		r := PacketResult(scenario, kind.path(portable), label, samples)
		r.Workers = 1
		if portable {
			r.Harness = "own AF_XDP generator → DUT namespace with kernel forwarding into esphub's portable backend (TUN esp0 + ESP-in-UDP socket, one reader goroutine each way, no daemon) → AF_XDP sink; CPU is the process's minus the generator's and sink's threads"
		} else {
			r.Harness = "own AF_XDP generator (copy mode, one thread) → DUT: one worker thread with two AF_XDP sockets on one UMEM, XDP steering on the ingress veth → AF_XDP sink counting and checking every frame; gen, DUT and sink in three namespaces; CPU is the DUT thread's only"
			if kind != kindForward {
				r.Harness += "; DUT runs dataplane.Engine directly (no daemon), copying each packet between the UMEM frame and an engine buffer"
			}
		}
		if kind == kindDecrypt {
			r.Note = "Decrypt: the generator replays 1,024 packets sealed in advance, so the DUT's inbound SA runs without anti-replay."
		}
		if portable {
			if d := nonZero(t.engine.Drops()); len(d) > 0 {
				r.Note += fmt.Sprintf(" Engine drops: %v.", d)
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
	if d := t.dutDrops.Load(); d > 0 && kind != kindForward {
		return out, fmt.Errorf("%s: the engine dropped %d packets (%v)", kind.path(portable), d, nonZero(t.engine.Drops()))
	}
	if len(out) > 0 && out[0].PPS.Median == 0 {
		return out, errors.New(kind.path(portable) + ": nothing reached the sink")
	}
	return out, nil
}

// setupPortable runs the portable backend in the DUT namespace: the kernel
// forwards the generator's packets for lanB into esp0 (encrypt), or the
// backend's UDP socket on d0 takes the ESP and the kernel forwards the
// decrypted packets out of d1 to the sink (decrypt).
func (t *xdpTopo) setupPortable(ns string) error {
	key := make([]byte, 20)
	for i := range key {
		key[i] = byte(0x40 + i)
	}
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"} {
		if _, err := nsExecContext(context.Background(), ns, "sysctl", "-qw", kv); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.gwCancel = cancel
	var err error
	if t.kind == kindEncrypt {
		t.gw, err = startPortableGW(ctx, &t.gwWG, ns, t.d1.ip4, t.s0.ip4, xdpSPI, 0, key, nil, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1})
		if err != nil {
			return err
		}
		if err := ipRun("-n", ns, "link", "set", "esp0", "up"); err != nil {
			return err
		}
		if err := ipRun("-n", ns, "route", "add", lanB.String(), "dev", "esp0"); err != nil {
			return err
		}
	} else {
		t.gw, err = startPortableGW(ctx, &t.gwWG, ns, t.d0.ip4, t.g0.ip4, 0, xdpSPI, nil, key, dataplane.NextHop{Kind: dataplane.NextHopHost})
		if err != nil {
			return err
		}
		if err := ipRun("-n", ns, "route", "add", lanB.String(), "via", t.s0.ip4.String(), "dev", "d1"); err != nil {
			return err
		}
		s := dataplane.NewEngine(dataplane.Options{})
		for _, f := range []func() error{
			func() error {
				return s.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: t.g0.ip4, Remote: t.d0.ip4, Encap: true})
			},
			func() error {
				return s.AddSA(dataplane.SAConfig{SPI: xdpSPI, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: key})
			},
			func() error { return s.AddRoute(0, lanB, route4Tunnel) },
		} {
			if err := f(); err != nil {
				return fmt.Errorf("generator engine: %w", err)
			}
		}
		t.sealer = &EnginePair{A: s, WA: s.NewWorker()}
	}
	if err := ipRun("-n", ns, "link", "set", "esp0", "up"); err != nil {
		return err
	}
	t.engine = t.gw.backend.Engine
	return nil
}
