package dataplane

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sync"
	"testing"

	"github.com/esphub/esphub/dataplane/hdr"
)

// TestInboundBatchOracle checks that the phased inbound path (replay check
// for the whole batch, then decryption, then window updates) gives every
// packet the verdict that one-packet batches give it, and leaves the same
// counters. The traffic mixes two SAs of one tunnel (a rekey), reordering,
// duplicates, forgeries, unknown SPIs and truncated packets, in batches of
// odd sizes. A forgery is never placed after a genuine packet with its
// sequence number in the same batch: there the batch path counts it as an
// authentication failure where the one-at-a-time path calls it a replay
// (either way it is dropped, and the window is untouched).
func TestInboundBatchOracle(t *testing.T) {
	newKey := testKey(20, 9)
	const newSPI = 0xa0b00002
	mk := func() *pair {
		pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0]})
		must(t, pr.b.AddSA(SAConfig{SPI: newSPI, Direction: Inbound, Tunnel: 1, Algorithm: suites[0].alg, EncKey: newKey}))
		return pr
	}
	batched, single := mk(), mk()

	type pkt struct {
		b    []byte
		seq  uint32
		spi  uint32
		good bool
	}
	var genuine []pkt
	sealN := func(n int) {
		for i := 0; i < n; i++ {
			p := seal(t, batched, hostA4, hostB4, 40+i%200)
			d := p.Data()
			genuine = append(genuine, pkt{b: bytes.Clone(d), spi: uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3]),
				seq: uint32(d[4])<<24 | uint32(d[5])<<16 | uint32(d[6])<<8 | uint32(d[7]), good: true})
		}
	}
	sealN(150)
	must(t, batched.a.AddSA(SAConfig{SPI: newSPI, Direction: Outbound, Tunnel: 1, Algorithm: suites[0].alg, EncKey: newKey}))
	sealN(150)

	r := rand.New(rand.NewPCG(7, 9))
	var stream []pkt
	for _, g := range genuine {
		stream = append(stream, g)
		switch r.IntN(8) {
		case 0: // a copy, now or a little later
			stream = append(stream, g)
		case 1:
			f := pkt{b: bytes.Clone(g.b), seq: g.seq, spi: g.spi}
			f.b[len(f.b)-1] ^= 0x80
			stream = append(stream, f)
		case 2:
			f := pkt{b: bytes.Clone(g.b), seq: g.seq}
			f.b[0] ^= 0x40 // unknown SPI
			stream = append(stream, f)
		case 3:
			stream = append(stream, pkt{b: g.b[:5]})
		}
	}
	// Local reordering: swap neighbours now and then.
	for i := 1; i < len(stream); i++ {
		if r.IntN(4) == 0 {
			stream[i-1], stream[i] = stream[i], stream[i-1]
		}
	}

	sizes := []int{1, 67, 3, 257, 64, 5}
	for pos, bi := 0, 0; pos < len(stream); bi++ {
		n := min(sizes[bi%len(sizes)], len(stream)-pos)
		chunk := stream[pos : pos+n]
		pos += n
		// Move forgeries that follow their genuine packet in this batch
		// to its front.
		type key struct{ spi, seq uint32 }
		seen := map[key]bool{}
		var front, rest []pkt
		for _, p := range chunk {
			k := key{p.spi, p.seq}
			if !p.good && p.spi != 0 && seen[k] {
				front = append(front, p)
				continue
			}
			if p.good {
				seen[k] = true
			}
			rest = append(rest, p)
		}
		chunk = append(front, rest...)

		bp := make([]*Packet, len(chunk))
		for i, c := range chunk {
			bp[i] = NewPacket(DefaultBufferSize)
			bp[i].SetData(c.b)
		}
		batched.wb.ProcessInbound(bp)
		for i, c := range chunk {
			sp := NewPacket(DefaultBufferSize)
			sp.SetData(c.b)
			single.wb.ProcessInbound([]*Packet{sp})
			if got, want := fmt.Sprint(bp[i].Verdict, bp[i].Drop), fmt.Sprint(sp.Verdict, sp.Drop); got != want {
				t.Fatalf("batch %d packet %d (spi %#x seq %d good %v): batch %s, alone %s", bi, i, c.spi, c.seq, c.good, got, want)
			}
			if bp[i].Verdict == VerdictHost && !bytes.Equal(bp[i].Data(), sp.Data()) {
				t.Fatalf("batch %d packet %d: payloads differ", bi, i)
			}
		}
	}
	if got, want := batched.b.Drops(), single.b.Drops(); !reflect.DeepEqual(got, want) {
		t.Errorf("drops: batch %v, alone %v", got, want)
	}
	if got, want := batched.b.SAs(), single.b.SAs(); !reflect.DeepEqual(got, want) {
		t.Errorf("SAs: batch %+v\nalone %+v", got, want)
	}
	if d := batched.b.Drops(); d[DropReplay] == 0 || d[DropAuth] == 0 || d[DropNoSA] == 0 || d[DropMalformed] == 0 {
		t.Errorf("the stream did not exercise every drop: %v", d)
	}
}

// TestBatchMemo checks the per-batch FIB and tunnel memo: interleaved VRFs
// and tunnels in one batch each reach their own tunnel, and a change to the
// tables between batches is seen by the next batch.
func TestBatchMemo(t *testing.T) {
	e := NewEngine(Options{})
	w := e.NewWorker()
	for i := 1; i <= 3; i++ {
		id := TunnelID(i)
		must(t, e.AddTunnel(TunnelConfig{ID: id, Mode: ModeIPsec, Local: v4A, Remote: netip.AddrFrom4([4]byte{198, 18, 0, byte(10 + i)})}))
		must(t, e.AddSA(SAConfig{SPI: 0x1000 + uint32(i), Direction: Outbound, Tunnel: id, Algorithm: suites[0].alg, EncKey: testKey(20, byte(i))}))
	}
	// VRF 0: 198.18.20.0/24 -> 1, 198.18.21.0/24 -> 2; VRF 5: 198.18.20.0/24 -> 3.
	must(t, e.AddRoute(0, netip.MustParsePrefix("198.18.20.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 1}))
	must(t, e.AddRoute(0, netip.MustParsePrefix("198.18.21.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 2}))
	must(t, e.AddRoute(5, netip.MustParsePrefix("198.18.20.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 3}))
	type flow struct {
		vrf  uint32
		dst  string
		want TunnelID
	}
	// The batch starts and ends with tunnel 2 in VRF 0, so that a memo
	// surviving the batch would be caught.
	flows := []flow{{0, "198.18.21.1", 2}, {0, "198.18.20.2", 1}, {5, "198.18.20.1", 3}, {7, "198.18.20.1", 0},
		{0, "198.18.21.1", 2}, {5, "198.18.20.9", 3}, {0, "198.18.20.1", 1}, {0, "198.18.21.1", 2}}
	run := func() []*Packet {
		var pkts []*Packet
		for i, f := range flows {
			p := NewPacket(DefaultBufferSize)
			p.SetData(icmpPacket(hostA4, netip.MustParseAddr(f.dst), 64, uint16(i)))
			p.VRF = f.vrf
			pkts = append(pkts, p)
		}
		w.ProcessOutbound(pkts)
		return pkts
	}
	for i, p := range run() {
		if f := flows[i]; f.want == 0 {
			if p.Verdict != VerdictDrop || p.Drop != DropNoRoute {
				t.Errorf("packet %d (vrf %d): %v %v, want no route", i, f.vrf, p.Verdict, p.Drop)
			}
		} else if p.Verdict != VerdictUnderlay || p.Tunnel != f.want {
			t.Errorf("packet %d (vrf %d to %s): %v %v tunnel %d, want tunnel %d", i, f.vrf, f.dst, p.Verdict, p.Drop, p.Tunnel, f.want)
		}
	}
	// Tunnel 2 goes away: the next batch must not reach it through a
	// remembered pointer.
	must(t, e.DeleteTunnel(2))
	must(t, e.AddRoute(5, netip.MustParsePrefix("198.18.20.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 1}))
	flows[2].want, flows[5].want = 1, 1
	for i, p := range run() {
		f := flows[i]
		switch {
		case f.want == 2:
			if p.Verdict != VerdictDrop {
				t.Errorf("packet %d to deleted tunnel 2: %v tunnel %d", i, p.Verdict, p.Tunnel)
			}
		case f.want == 0:
			if p.Drop != DropNoRoute {
				t.Errorf("packet %d: %v %v", i, p.Verdict, p.Drop)
			}
		case p.Verdict != VerdictUnderlay || p.Tunnel != f.want:
			t.Errorf("packet %d after the change: %v %v tunnel %d, want %d", i, p.Verdict, p.Drop, p.Tunnel, f.want)
		}
	}
}

// TestSequenceNumbers checks outbound sequence numbers over batches: every
// packet gets the next number of its SA with no gaps, whatever the mix of
// SAs in a batch, the SA's counter ends at the last number sent, and
// without ESN the space runs out at 2^32-1 (RFC 4303 §3.3.3) as a hard
// expiry reported once, while with ESN it carries on past 2^32.
func TestSequenceNumbers(t *testing.T) {
	for _, esn := range []bool{false, true} {
		pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0], esn: esn})
		// A second tunnel on A with its own SA, for interleaving.
		must(t, pr.a.AddTunnel(TunnelConfig{ID: 2, Mode: ModeIPsec, Local: v4A, Remote: netip.MustParseAddr("198.18.0.3")}))
		must(t, pr.a.AddSA(SAConfig{SPI: 0x2222, Direction: Outbound, Tunnel: 2, Algorithm: suites[0].alg, EncKey: testKey(20, 5), ESN: esn}))
		must(t, pr.a.AddRoute(0, netip.MustParsePrefix("198.18.21.0/24"), NextHop{Kind: NextHopTunnel, Tunnel: 2}))
		sa1 := pr.a.tab.Load().tunnel(1).out.Load()
		sa2 := pr.a.tab.Load().tunnel(2).out.Load()
		const start = 0xffffff00
		sa1.seq.Store(start)
		want := map[uint32]uint64{sa1.spi: start, sa2.spi: 0}
		r := rand.New(rand.NewPCG(3, 4))
		expired := 0
		for bi, n := range []int{1, 67, 3, 257, 64, 5, 64} {
			var pkts []*Packet
			var to2 []bool
			for i := 0; i < n; i++ {
				dst := hostB4
				// Runs of one tunnel and interleaving, at random.
				to2 = append(to2, r.IntN(3) == 0)
				if to2[i] {
					dst = netip.MustParseAddr("198.18.21.1")
				}
				p := NewPacket(DefaultBufferSize)
				p.SetData(icmpPacket(hostA4, dst, 64, uint16(i)))
				pkts = append(pkts, p)
			}
			pr.wa.ProcessOutbound(pkts)
			for i, p := range pkts {
				spi := sa1.spi
				if to2[i] {
					spi = sa2.spi
				}
				if p.Verdict == VerdictDrop {
					if esn || spi != sa1.spi || p.Drop != DropSAExpired || want[spi] < 0xffffffff {
						t.Fatalf("esn %v batch %d packet %d: dropped %v (spi %#x, last %#x)", esn, bi, i, p.Drop, spi, want[spi])
					}
					expired++
					continue
				}
				if !p.StripOuter() {
					t.Fatal("not ESP")
				}
				e := hdr.ESP(p.Data())
				if e.SPI() != spi {
					t.Fatalf("batch %d packet %d: spi %#x, want %#x", bi, i, e.SPI(), spi)
				}
				want[spi]++
				if e.Seq() != uint32(want[spi]) {
					t.Fatalf("esn %v batch %d packet %d spi %#x: seq %#x, want %#x", esn, bi, i, spi, e.Seq(), uint32(want[spi]))
				}
			}
			if s := sa2.seq.Load(); s != want[sa2.spi] {
				t.Fatalf("batch %d: sa2 counter %d, sent %d", bi, s, want[sa2.spi])
			}
			if s := sa1.seq.Load(); s != want[sa1.spi]+uint64(expired) {
				t.Fatalf("batch %d: sa1 counter %#x, sent up to %#x and %d refused", bi, s, want[sa1.spi], expired)
			}
		}
		hard := 0
		for len(pr.evA.Lifetimes) > 0 {
			if ev := <-pr.evA.Lifetimes; ev.Hard && ev.SPI == sa1.spi {
				hard++
			}
		}
		switch {
		case esn && (expired != 0 || hard != 0 || want[sa1.spi] <= 0xffffffff):
			t.Errorf("esn: %d expired, %d hard events, last seq %#x", expired, hard, want[sa1.spi])
		case !esn && (expired == 0 || hard != 1 || want[sa1.spi] != 0xffffffff):
			t.Errorf("no esn: %d expired, %d hard events, last seq %#x", expired, hard, want[sa1.spi])
		}
	}
}

// TestSequenceNumbersConcurrent runs workers on one outbound SA at once:
// whatever their batches interleave, no sequence number is sent twice.
func TestSequenceNumbersConcurrent(t *testing.T) {
	pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0]})
	const workers, batches = 3, 40
	seqs := make([][]uint32, workers)
	var wg sync.WaitGroup
	for k := range workers {
		w := pr.a.NewWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				pkts := make([]*Packet, 1+(b*7+k)%67)
				for i := range pkts {
					pkts[i] = NewPacket(DefaultBufferSize)
					pkts[i].SetData(icmpPacket(hostA4, hostB4, 64, uint16(i)))
				}
				w.ProcessOutbound(pkts)
				for _, p := range pkts {
					if p.Verdict == VerdictUnderlay && p.StripOuter() {
						seqs[k] = append(seqs[k], hdr.ESP(p.Data()).Seq())
					}
				}
			}
		}()
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for _, s := range seqs {
		for _, q := range s {
			if seen[q] {
				t.Fatalf("sequence number %d sent twice", q)
			}
			seen[q] = true
		}
	}
	if last := pr.a.tab.Load().tunnel(1).out.Load().seq.Load(); last < uint64(len(seen)) {
		t.Fatalf("counter %d below the %d numbers sent", last, len(seen))
	}
}

// TestLifetimesBatched checks soft and hard lifetimes, in packets and in
// bytes, outbound and inbound, when packets come in batches: every packet
// gets the verdict and every event the figures that one-packet batches
// give them.
func TestLifetimesBatched(t *testing.T) {
	for _, lt := range []Lifetime{
		{SoftPackets: 100, HardPackets: 150},
		{SoftPackets: 1, HardPackets: 1},
		{SoftBytes: 5000, HardBytes: 9000},
		{SoftPackets: 70, HardBytes: 12000},
		{HardPackets: 67},
	} {
		for _, dir := range []Direction{Outbound, Inbound} {
			type result struct {
				verdicts []string
				events   []LifetimeEvent
			}
			runAll := func(sizes []int) result {
				pr := newPair(t, pairSpec{mode: ModeIPsec, suite: suites[0]})
				if dir == Outbound {
					must(t, pr.a.UpdateSA(Outbound, pr.spiAB, lt))
				} else {
					must(t, pr.b.UpdateSA(Inbound, pr.spiAB, lt))
				}
				var res result
				n := 0
				for _, size := range sizes {
					var pkts []*Packet
					for i := 0; i < size; i++ {
						p := NewPacket(DefaultBufferSize)
						p.SetData(icmpPacket(hostA4, hostB4, 40+n%100, uint16(n)))
						n++
						pkts = append(pkts, p)
					}
					pr.wa.ProcessOutbound(pkts)
					if dir == Inbound {
						for _, p := range pkts {
							wire(t, p)
						}
						pr.wb.ProcessInbound(pkts)
					}
					for _, p := range pkts {
						res.verdicts = append(res.verdicts, fmt.Sprint(p.Verdict, p.Drop))
					}
				}
				ev := pr.evA
				if dir == Inbound {
					ev = pr.evB
				}
				for len(ev.Lifetimes) > 0 {
					res.events = append(res.events, <-ev.Lifetimes)
				}
				return res
			}
			batched := runAll([]int{1, 67, 3, 64, 5, 60})
			var ones []int
			for range 200 {
				ones = append(ones, 1)
			}
			single := runAll(ones)
			if !reflect.DeepEqual(batched, single) {
				t.Errorf("%v %+v:\nbatched %v\nsingle  %v", dir, lt, batched, single)
			}
			if len(single.events) == 0 {
				t.Errorf("%v %+v: no lifetime event", dir, lt)
			}
		}
	}
}
