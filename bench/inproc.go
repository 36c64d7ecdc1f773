package bench

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
)

// batchSize is the batch the in-process scenarios hand to the engine, as
// the backends do.
const batchSize = 64

// Sizes are the packet size labels of the scenarios: bytes of the inner IP
// packet, or "imix".
var Sizes = []string{"64", "512", "1400", "imix"}

// imixSizes is a simple IMIX (7:4:1 of 64, 570 and 1500 bytes) over one
// 12-packet period.
var imixSizes = [12]int{64, 64, 64, 64, 64, 64, 64, 570, 570, 570, 570, 1500}

// batchSizes returns the packet sizes of one batch for a size label.
func batchSizes(label string, n int) ([]int, error) {
	s := make([]int, n)
	if label == "imix" {
		for i := range s {
			s[i] = imixSizes[i%len(imixSizes)]
		}
		return s, nil
	}
	var v int
	if _, err := fmt.Sscanf(label, "%d", &v); err != nil || v < 28 || v > 1500 {
		return nil, fmt.Errorf("packet size %q: want 28..1500 or imix", label)
	}
	for i := range s {
		s[i] = v
	}
	return s, nil
}

// RunConfig says how long and how often each measurement runs.
type RunConfig struct {
	Runs     int           // repetitions per row (median, min, max)
	Duration time.Duration // length of one run
	Sizes    []string
}

// timedLoop runs step (which processes one batch and returns packets and
// bytes) on a locked thread for d, and returns the sample. When the thread's
// CPU time is available, Elapsed is that CPU time, not the wall clock: the
// rates are then per CPU-second of one core, which is what these scenarios
// claim, and other load on a shared machine (which stretches the wall clock
// while the thread waits to run) does not distort them.
func timedLoop(d time.Duration, step func() (int, int)) Sample {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var s Sample
	cpu0 := ThreadCPU()
	start := time.Now()
	deadline := start.Add(d)
	for i := 0; ; i++ {
		p, b := step()
		s.Packets += uint64(p)
		s.Bytes += uint64(b)
		if i%16 == 15 && time.Now().After(deadline) {
			break
		}
	}
	s.Elapsed = time.Since(start)
	s.CPU = ThreadCPU() - cpu0
	if s.CPU > 0 {
		s.Elapsed = s.CPU
	}
	return s
}

// CryptoCeiling measures bare AES-128-GCM Seal and Open (8-byte AAD, as
// ESP's SPI and sequence number) of each size on one core: the yardstick
// no ESP path can beat. The ceiling is the AES-GCM the dataplane uses
// (esp.NewAEAD: our VAES implementation where the CPU has it); Go's
// crypto/cipher is measured beside it as a reference when they differ.
func CryptoCeiling(rc RunConfig) ([]Result, error) {
	key := make([]byte, 16)
	for i := range key {
		key[i] = byte(i + 1)
	}
	ours, err := esp.NewAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("dataplane gcm: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	std, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	type impl struct {
		aead       cipher.AEAD
		seal, open string
		harness    string
	}
	impls := []impl{{ours, PathGCMSeal, PathGCMOpen, "the dataplane's AES-GCM (" + esp.GCMImplementation() + "), batches of 64"}}
	if esp.GCMImplementation() != esp.ImplStdlib {
		impls = append(impls, impl{std, PathGCMSealStdlib, PathGCMOpenStdlib, "Go crypto/cipher GCM, batches of 64"})
	}
	var out []Result
	for _, label := range rc.Sizes {
		for _, im := range impls {
			seal, open, err := gcmSamples(rc, im.aead, label)
			if err != nil {
				return nil, err
			}
			out = append(out, withHarness(PacketResult(ScenarioCrypto, im.seal, label, seal), cpuHarness(im.harness)),
				withHarness(PacketResult(ScenarioCrypto, im.open, label, open), cpuHarness(im.harness)))
		}
	}
	return out, nil
}

// gcmSamples times g's Seal and Open over batches of one size label.
func gcmSamples(rc RunConfig, g cipher.AEAD, label string) (seal, open []Sample, err error) {
	sizes, err := batchSizes(label, batchSize)
	if err != nil {
		return nil, nil, err
	}
	nonce, aad := make([]byte, 12), make([]byte, 8)
	bufs, cts := make([][]byte, batchSize), make([][]byte, batchSize)
	total := 0
	for i, n := range sizes {
		bufs[i] = make([]byte, n, n+16)
		cts[i] = g.Seal(nil, nonce, bufs[i], aad)
		total += n
	}
	for range rc.Runs {
		seal = append(seal, timedLoop(rc.Duration, func() (int, int) {
			for j := range bufs {
				g.Seal(bufs[j][:0], nonce, bufs[j], aad)
			}
			return batchSize, total
		}))
		var openErr error
		open = append(open, timedLoop(rc.Duration, func() (int, int) {
			for j := range cts {
				if _, err := g.Open(bufs[j][:0], nonce, cts[j], aad); err != nil {
					openErr = err
				}
			}
			return batchSize, total
		}))
		if openErr != nil {
			return nil, nil, fmt.Errorf("gcm open: %w", openErr)
		}
	}
	return seal, open, nil
}

// cpuHarness describes an in-process measurement.
func cpuHarness(what string) string {
	return what + "; one goroutine locked to a thread; rates are per CPU-second of that thread (getrusage), so other load on the machine does not distort them"
}

func withHarness(r Result, h string) Result {
	r.Harness = h
	return r
}

// Addresses of the in-process engine pair: LAN A 198.18.10.0/24 behind
// underlay 198.18.0.1, LAN B 198.18.20.0/24 behind 198.18.0.2.
var (
	enginePairLocal  = netip.MustParseAddr("198.18.0.1")
	enginePairRemote = netip.MustParseAddr("198.18.0.2")
	innerSrc         = netip.MustParseAddr("198.18.10.1")
	innerDst         = netip.MustParseAddr("198.18.20.1")
	lanB             = netip.MustParsePrefix("198.18.20.0/24")
)

// EnginePair is two dataplane engines joined by one tunnel-mode ESP tunnel
// with AES-128-GCM SAs in both directions: A encrypts what B decrypts.
// It is for measurements and tests; it is not safe for concurrent use.
type EnginePair struct {
	A, B   *dataplane.Engine
	WA, WB *dataplane.Worker
	SPIAB  uint32
	keyAB  []byte
}

// NewEnginePair builds the pair. Keys are fixed test keys.
func NewEnginePair() (*EnginePair, error) {
	p := &EnginePair{A: dataplane.NewEngine(dataplane.Options{}), B: dataplane.NewEngine(dataplane.Options{}), SPIAB: 0xbe000001}
	p.WA, p.WB = p.A.NewWorker(), p.B.NewWorker()
	key := func(seed byte) []byte {
		k := make([]byte, 20) // AES-128 key || salt (RFC 4106)
		for i := range k {
			k[i] = seed + byte(i)
		}
		return k
	}
	p.keyAB = key(1)
	steps := []func() error{
		func() error {
			return p.A.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: enginePairLocal, Remote: enginePairRemote})
		},
		func() error {
			return p.B.AddTunnel(dataplane.TunnelConfig{ID: 1, Mode: dataplane.ModeIPsec, Local: enginePairRemote, Remote: enginePairLocal})
		},
		func() error {
			return p.A.AddSA(dataplane.SAConfig{SPI: p.SPIAB, Direction: dataplane.Outbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: p.keyAB})
		},
		p.addInbound,
		func() error {
			return p.A.AddRoute(0, lanB, dataplane.NextHop{Kind: dataplane.NextHopTunnel, Tunnel: 1})
		},
		func() error { return p.B.AddRoute(0, lanB, dataplane.NextHop{Kind: dataplane.NextHopHost}) },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return nil, fmt.Errorf("engine pair: %w", err)
		}
	}
	return p, nil
}

func (p *EnginePair) addInbound() error {
	return p.B.AddSA(dataplane.SAConfig{SPI: p.SPIAB, Direction: dataplane.Inbound, Tunnel: 1, Algorithm: esp.AESGCM16, EncKey: p.keyAB})
}

// ResetInbound reinstalls B's inbound SA, which starts a fresh replay
// window, so that pre-sealed packets can be replayed.
func (p *EnginePair) ResetInbound() error {
	if err := p.B.DeleteSA(dataplane.Inbound, p.SPIAB); err != nil {
		return fmt.Errorf("reset inbound sa: %w", err)
	}
	return p.addInbound()
}

// innerPacket writes an IPv4 UDP packet of n bytes from innerSrc to
// innerDst into b[:n].
func innerPacket(b []byte, n int, id uint16) { innerPacketTo(b, n, id, innerDst) }

// innerPacketTo writes an IPv4 UDP packet of n bytes from innerSrc to dst
// into b[:n].
func innerPacketTo(b []byte, n int, id uint16, dst netip.Addr) {
	hdr.EncodeIPv4(b, 0, uint16(n), id, 64, 17, innerSrc, dst)
	for i := 20; i < n; i++ {
		b[i] = byte(i)
	}
	if n >= 28 {
		b[20], b[21], b[22], b[23] = 0x9c, 0x40, 0x9c, 0x41 // ports 40000 → 40001
		b[24], b[25] = byte((n-20)>>8), byte(n-20)
		b[26], b[27] = 0, 0 // no UDP checksum
	}
}

// engineBatch is a batch of packets with their inner headers kept aside,
// so a batch can be reset to plaintext cheaply between runs.
type engineBatch struct {
	pkts    []*dataplane.Packet
	headers [][20]byte
	sizes   []int
	total   int
}

func newEngineBatch(sizes []int) *engineBatch {
	eb := &engineBatch{sizes: sizes}
	buf := make([]byte, 1500)
	for i, n := range sizes {
		p := dataplane.NewPacket(dataplane.DefaultBufferSize)
		innerPacket(buf, n, uint16(i))
		p.SetData(buf[:n])
		eb.pkts = append(eb.pkts, p)
		var h [20]byte
		copy(h[:], buf)
		eb.headers = append(eb.headers, h)
		eb.total += n
	}
	return eb
}

// reset restores plaintext inner packets: only the IP header matters to the
// engine; payload bytes may be anything.
func (eb *engineBatch) reset() {
	for i, p := range eb.pkts {
		p.Reset()
		p.SetLen(eb.sizes[i])
		copy(p.Data(), eb.headers[i][:])
	}
}

// EnginePath measures the dataplane Engine's whole outbound (route, SA,
// ESP seal, outer header) and inbound (SPI, replay, ESP open, FIB) paths in
// process, with no I/O, one worker on one core.
func EnginePath(rc RunConfig) ([]Result, error) {
	harness := cpuHarness("dataplane.Engine + Worker in process, no I/O, batches of 64, AES-128-GCM tunnel mode")
	var out []Result
	for _, label := range rc.Sizes {
		sizes, err := batchSizes(label, batchSize)
		if err != nil {
			return nil, err
		}
		p, err := NewEnginePair()
		if err != nil {
			return nil, err
		}
		eb := newEngineBatch(sizes)
		var encErr error
		encStep := func() (int, int) {
			eb.reset()
			p.WA.ProcessOutbound(eb.pkts)
			if eb.pkts[0].Verdict != dataplane.VerdictUnderlay {
				encErr = fmt.Errorf("engine encrypt: verdict %v (%v)", eb.pkts[0].Verdict, eb.pkts[0].Drop)
			}
			return batchSize, eb.total
		}
		// Pre-seal rounds of batches for the decrypt side.
		const rounds = 64
		sealed := make([][][]byte, rounds)
		var remote, local netip.AddrPort
		for r := range sealed {
			encStep()
			for _, pk := range eb.pkts {
				if !pk.StripOuter() {
					return nil, fmt.Errorf("engine encrypt produced an unparseable packet")
				}
				remote, local = pk.Remote, pk.Local
				sealed[r] = append(sealed[r], append([]byte(nil), pk.Data()...))
			}
		}
		if encErr != nil {
			return nil, encErr
		}
		round := 0
		var decErr error
		decStep := func() (int, int) {
			if round == rounds {
				round = 0
				if err := p.ResetInbound(); err != nil {
					decErr = err
				}
			}
			for j, pk := range eb.pkts {
				pk.Reset()
				pk.SetLen(copy(pk.ReadBuffer(), sealed[round][j]))
				pk.Remote, pk.Local = remote, local
			}
			round++
			p.WB.ProcessInbound(eb.pkts)
			if eb.pkts[0].Verdict != dataplane.VerdictHost {
				decErr = fmt.Errorf("engine decrypt: verdict %v (%v)", eb.pkts[0].Verdict, eb.pkts[0].Drop)
			}
			return batchSize, eb.total
		}
		var enc, dec []Sample
		for range rc.Runs {
			enc = append(enc, timedLoop(rc.Duration, encStep))
			if encErr != nil {
				return nil, encErr
			}
			round = rounds // start each run on a fresh window
			dec = append(dec, timedLoop(rc.Duration, decStep))
			if decErr != nil {
				return nil, decErr
			}
		}
		e := withHarness(PacketResult(ScenarioESP, PathEngineEncrypt, label, enc), harness)
		d := withHarness(PacketResult(ScenarioESP, PathEngineDecrypt, label, dec), harness)
		e.Workers, d.Workers = 1, 1
		d.Note = "Decrypt includes copying each sealed packet into its receive buffer (as a backend's receive does) and, every 4,096 packets, reinstalling the inbound SA to reset its replay window."
		out = append(out, e, d)
	}
	return out, nil
}
