package dataplane

import (
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane/esp"
	"github.com/esphub/esphub/dataplane/hdr"
)

const batchSize = 64

// batchClock times each batch of a benchmark separately. On a shared,
// overloaded machine the wall-clock ns/op includes time the benchmark spent
// waiting for a CPU; the median batch time mostly does not (a batch takes
// tens of microseconds, far less than a scheduler quantum), so it is the
// figure to compare between the whole path and bare AES-GCM.
type batchClock struct {
	d     []time.Duration
	start time.Time
}

func newBatchClock(n int) *batchClock { return &batchClock{d: make([]time.Duration, 0, min(n, 1<<20))} }

func (c *batchClock) begin() { c.start = time.Now() }

func (c *batchClock) end() {
	if len(c.d) < cap(c.d) {
		c.d = append(c.d, time.Since(c.start))
	}
}

// report adds the median batch time per packet as "med-ns/pkt", and the
// wall-clock figure as "ns/pkt".
func (c *batchClock) report(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/pkt")
	if len(c.d) == 0 {
		return
	}
	b.ReportMetric(c.median(), "med-ns/pkt")
}

// median returns the median batch time per packet in nanoseconds.
func (c *batchClock) median() float64 {
	if len(c.d) == 0 {
		return 0
	}
	slices.Sort(c.d)
	return float64(c.d[len(c.d)/2].Nanoseconds()) / batchSize
}

// imix is a simple IMIX (7:4:1 of 64, 570 and 1500 bytes) laid out over a
// batch.
func imix(i int) int {
	switch i % 12 {
	case 11:
		return 1500
	case 7, 8, 9, 10:
		return 570
	}
	return 64
}

func batchSizes(size int) []int {
	s := make([]int, batchSize)
	for i := range s {
		if size == 0 {
			s[i] = imix(i)
		} else {
			s[i] = size
		}
	}
	return s
}

type benchBatch struct {
	pkts    []*Packet
	headers [][]byte // inner IP header of each packet, restored before each run
	sizes   []int
}

func newBenchBatch(sizes []int, src, dst netip.Addr) *benchBatch {
	bb := &benchBatch{sizes: sizes}
	for i, n := range sizes {
		p := NewPacket(DefaultBufferSize)
		in := icmpPacket(src, dst, n, uint16(i))
		p.SetData(in)
		bb.pkts = append(bb.pkts, p)
		hl := 20
		if src.Is6() {
			hl = 40
		}
		bb.headers = append(bb.headers, in[:hl])
	}
	return bb
}

// reset puts every packet back to its plaintext inner packet: only the IP
// header matters to the engine, the payload bytes may be anything.
func (bb *benchBatch) reset() {
	for i, p := range bb.pkts {
		p.SetLen(bb.sizes[i])
		copy(p.buf[Headroom:], bb.headers[i])
		p.VRF = 0
	}
}

func TestPacketPathNoAllocs(t *testing.T) {
	for _, spec := range []pairSpec{
		{mode: ModeIPsec, suite: suites[0]},
		{mode: ModeGRE, suite: suites[1], outer6: true, encap: true, esn: true, sgt: true, greKey: true},
		{mode: ModeGRE, suite: suites[2]},
	} {
		pr := newPair(t, spec)
		must(t, pr.a.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), 10))
		// Odd batch sizes cross batch edges.
		for _, n := range []int{1, 67} {
			bb := newBenchBatch(batchSizes(0)[:min(n, batchSize)], hostA4, hostB4)
			allocs := testing.AllocsPerRun(50, func() {
				bb.reset()
				pr.wa.ProcessOutbound(bb.pkts)
				for _, p := range bb.pkts {
					if p.Verdict != VerdictUnderlay || !p.StripOuter() {
						t.Fatalf("outbound %v %v", p.Verdict, p.Drop)
					}
				}
				pr.wb.ProcessInbound(bb.pkts)
				for _, p := range bb.pkts {
					if p.Verdict != VerdictHost {
						t.Fatalf("inbound %v %v", p.Verdict, p.Drop)
					}
				}
			})
			if allocs != 0 {
				t.Errorf("%+v batch %d: %v allocs per batch", spec, n, allocs)
			}
			// AllocsPerRun rounds down to whole allocations per run; also
			// count every malloc over 20000 packets, so that an allocation
			// every few batches is caught. The count is process-wide (the
			// runtime and test framework allocate now and then), hence the
			// small allowance: fewer than one per 400 packets (still far
			// below one per batch of 67).
			const packets = 20000
			runs := packets / len(bb.pkts)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := 0; i < runs; i++ {
				bb.reset()
				pr.wa.ProcessOutbound(bb.pkts)
				for _, p := range bb.pkts {
					p.StripOuter()
				}
				pr.wb.ProcessInbound(bb.pkts)
			}
			runtime.ReadMemStats(&after)
			if m := after.Mallocs - before.Mallocs; m >= packets/400 {
				t.Errorf("%+v batch %d: %d mallocs over %d packets", spec, n, m, packets)
			}
		}
	}
}

var benchSizes = []struct {
	name string
	size int
}{{"64", 64}, {"512", 512}, {"1400", 1400}, {"imix", 0}}

// BenchmarkGCMBare is the yardstick: AES-128-GCM Seal and Open of the same
// payload sizes with an 8-byte AAD, nothing else, with the implementation
// the engine uses (ESPHUB_GCM=stdlib measures crypto/cipher's).
func BenchmarkGCMBare(b *testing.B) {
	g, err := esp.NewAEAD(testKey(16, 1))
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, 12)
	aad := make([]byte, 8)
	for _, bs := range benchSizes {
		sizes := batchSizes(bs.size)
		bufs := make([][]byte, batchSize)
		cts := make([][]byte, batchSize)
		total := 0
		for i, n := range sizes {
			bufs[i] = make([]byte, n, n+16)
			cts[i] = g.Seal(nil, nonce, bufs[i], aad)
			total += n
		}
		b.Run("seal/"+bs.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(total))
			c := newBatchClock(b.N)
			for i := 0; i < b.N; i++ {
				c.begin()
				for j := range bufs {
					g.Seal(bufs[j][:0], nonce, bufs[j], aad)
				}
				c.end()
			}
			c.report(b)
		})
		b.Run("open/"+bs.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(total))
			c := newBatchClock(b.N)
			for i := 0; i < b.N; i++ {
				c.begin()
				for j := range cts {
					if _, err := g.Open(bufs[j][:0], nonce, cts[j], aad); err != nil {
						b.Fatal(err)
					}
				}
				c.end()
			}
			c.report(b)
		})
	}
}

// BenchmarkEncrypt is the whole outbound path for a batch of 64: IP
// validation, FIB lookup, SA lookup, ESP with AES-128-GCM (tunnel mode,
// IPv4 in IPv4), outer header, counters.
func BenchmarkEncrypt(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			pr := newPair(b, pairSpec{mode: ModeIPsec, suite: suites[0]})
			bb := newBenchBatch(batchSizes(bs.size), hostA4, hostB4)
			total := 0
			for _, n := range bb.sizes {
				total += n
			}
			b.ReportAllocs()
			b.SetBytes(int64(total))
			c := newBatchClock(b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bb.reset()
				c.begin()
				pr.wa.ProcessOutbound(bb.pkts)
				c.end()
			}
			c.report(b)
			if bb.pkts[0].Verdict != VerdictUnderlay {
				b.Fatal(bb.pkts[0].Drop)
			}
		})
	}
}

// BenchmarkDecrypt is the whole inbound path for a batch of 64: SPI lookup,
// replay check, ESP open with AES-128-GCM, replay update, inner header
// validation, FIB lookup, counters. Packets are sealed ahead of time
// (4096 of them, sequence numbers 1..4096); copying them into the receive
// buffers and resetting the window when they run out happen with the timer
// stopped.
func BenchmarkDecrypt(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			pr := newPair(b, pairSpec{mode: ModeIPsec, suite: suites[0]})
			const rounds = 64
			var sealed [rounds][][]byte
			bb := newBenchBatch(batchSizes(bs.size), hostA4, hostB4)
			total := 0
			for _, n := range bb.sizes {
				total += n
			}
			for r := 0; r < rounds; r++ {
				bb.reset()
				pr.wa.ProcessOutbound(bb.pkts)
				for _, p := range bb.pkts {
					p.StripOuter()
					sealed[r] = append(sealed[r], append([]byte(nil), p.Data()...))
				}
			}
			in := pr.b.tab.Load().sa(pr.spiAB)
			remote := bb.pkts[0].Remote
			b.ReportAllocs()
			b.SetBytes(int64(total))
			c := newBatchClock(b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := i % rounds
				if r == 0 {
					in.window.Reset()
				}
				for j, p := range bb.pkts {
					p.SetLen(copy(p.buf[Headroom:], sealed[r][j]))
					p.Remote = remote
				}
				b.StartTimer()
				c.begin()
				pr.wb.ProcessInbound(bb.pkts)
				c.end()
			}
			c.report(b)
			for _, p := range bb.pkts {
				if p.Verdict != VerdictHost {
					b.Fatal(p.Verdict, p.Drop)
				}
			}
		})
	}
}

// BenchmarkFIBLookup measures longest-prefix match with a table of
// realistic shape: 10k /24s, 1k /16s, 50k host routes and a default, IPv4
// and IPv6.
func BenchmarkFIBLookup(b *testing.B) {
	var t4, t6 *lpm[NextHop]
	nh := NextHop{Kind: NextHopTunnel, Tunnel: 1}
	addrs4 := make([]netip.Addr, 0, 1024)
	addrs6 := make([]netip.Addr, 0, 1024)
	t4 = t4.with(netip.MustParsePrefix("0.0.0.0/0"), nh, false)
	t6 = t6.with(netip.MustParsePrefix("::/0"), nh, false)
	var routes4 []netip.Prefix
	var routes6 []netip.Prefix
	for i := 0; i < 10000; i++ {
		routes4 = append(routes4, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24))
		routes6 = append(routes6, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, byte(i >> 8), byte(i)}), 48))
	}
	for i := 0; i < 1000; i++ {
		routes4 = append(routes4, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
		routes6 = append(routes6, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb9, byte(i >> 8), byte(i)}), 32))
	}
	for i := 0; i < 50000; i++ {
		routes4 = append(routes4, netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
		routes6 = append(routes6, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xba, 15: byte(i), 14: byte(i >> 8)}), 128))
	}
	// Build as one batch (each array copied once) rather than through with().
	var ch4, ch6 []lpmEntry[NextHop]
	for _, p := range routes4 {
		ch4 = append(ch4, lpmEntry[NextHop]{p: p, v: nh})
	}
	for _, p := range routes6 {
		ch6 = append(ch6, lpmEntry[NextHop]{p: p, v: nh})
	}
	build4, build6 := t4.withMany(ch4), t6.withMany(ch6)
	for i := 0; i < 1024; i++ {
		r4, r6 := routes4[(i*7919)%len(routes4)], routes6[(i*7919)%len(routes6)]
		a4, a6 := r4.Addr().As4(), r6.Addr().As16()
		a4[3] |= byte(i) & 0x7f
		a6[15] |= byte(i)
		addrs4 = append(addrs4, netip.AddrFrom4(a4))
		addrs6 = append(addrs6, netip.AddrFrom16(a6))
	}
	for _, tc := range []struct {
		name  string
		t     *lpm[NextHop]
		addrs []netip.Addr
	}{{"ipv4", build4, addrs4}, {"ipv6", build6, addrs6}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			hits := 0
			for i := 0; i < b.N; i++ {
				if _, ok := tc.t.lookup(tc.addrs[i&1023]); ok {
					hits++
				}
			}
			if hits != b.N {
				b.Fatalf("%d of %d hit", hits, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mlookups/s")
		})
	}
}

func TestLPM(t *testing.T) {
	var tb *lpm[int]
	for i, p := range []string{"0.0.0.0/0", "198.18.0.0/15", "198.18.1.0/24", "198.18.1.128/25", "198.18.1.200/32",
		"::/0", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2:3::/80", "2001:db8:1:2:3::9/128"} {
		tb = tb.with(netip.MustParsePrefix(p), i, false)
	}
	for _, tc := range []struct {
		addr string
		want int
	}{
		{"198.19.0.1", 1}, {"198.18.1.1", 2}, {"198.18.1.129", 3}, {"198.18.1.200", 4}, {"203.0.113.1", 0},
		{"2001:db8:5::1", 6}, {"2001:db8:1:ffff::1", 7}, {"2001:db8:1:2:3::8", 8}, {"2001:db8:1:2:3::9", 9}, {"2001:db9::1", 5},
	} {
		got, ok := tb.lookup(netip.MustParseAddr(tc.addr))
		if !ok || got != tc.want {
			t.Errorf("lookup %s = %d %v, want %d", tc.addr, got, ok, tc.want)
		}
	}
	tb2 := tb.with(netip.MustParsePrefix("198.18.1.128/25"), 0, true)
	if v, _ := tb2.lookup(netip.MustParseAddr("198.18.1.129")); v != 2 {
		t.Errorf("after delete: %d", v)
	}
	if v, _ := tb.lookup(netip.MustParseAddr("198.18.1.129")); v != 3 {
		t.Errorf("old snapshot changed: %d", v)
	}
	if tb2.n != tb.n-1 {
		t.Errorf("count %d -> %d", tb.n, tb2.n)
	}
	n := 0
	tb2.walk(func(netip.Prefix, int) { n++ })
	if n != tb2.n {
		t.Errorf("walk saw %d of %d", n, tb2.n)
	}
}

func TestAddRoutesBulk(t *testing.T) {
	e := NewEngine(Options{})
	var rs []Route
	for i := 0; i < 100000; i++ {
		rs = append(rs, Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(i >> 16), byte(i >> 8), byte(i)}), 32),
			NextHop: NextHop{Kind: NextHopTunnel, Tunnel: TunnelID(i%7 + 1)}})
	}
	rs = append(rs, Route{Prefix: netip.MustParsePrefix("2001:db8::/32"), NextHop: NextHop{Kind: NextHopDrop}})
	start := time.Now()
	must(t, e.AddRoutes(0, rs))
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("loading 100k routes took %v", d)
	}
	if nh, ok := e.Lookup(0, netip.MustParseAddr("100.1.2.3")); !ok || nh.Tunnel != TunnelID((1<<16+2<<8+3)%7+1) {
		t.Fatalf("lookup %v %v", nh, ok)
	}
	must(t, e.AddRoutes(0, []Route{{Prefix: netip.MustParsePrefix("100.1.2.3/32"), Delete: true}, {Prefix: netip.MustParsePrefix("198.18.0.0/15"), Delete: true}}))
	if _, ok := e.Lookup(0, netip.MustParseAddr("100.1.2.3")); ok {
		t.Fatal("deleted route still there")
	}
	if got := len(e.Routes(0)); got != 100000 {
		t.Fatalf("%d routes", got)
	}
	if e.AddRoutes(0, []Route{{Prefix: netip.MustParsePrefix("198.18.0.0/15")}}) == nil {
		t.Fatal("route without next hop accepted")
	}
}

// BenchmarkPathCost separates the engine's own per-packet work from the
// cipher's. Each iteration runs one batch of 64 through the engine
// (tunnel-mode IPv4 in IPv4, AES-128-GCM) and one batch of bare ESP Seal
// or Open with the SA's own esp.Cipher over the same packets (ESP header,
// IV, padding, trailer and AES-GCM: the esp package's work), alternating
// so both see the same machine. It reports the median batch time per
// packet of each, "path-ns/pkt" and "esp-ns/pkt", and their difference,
// "ours-ns/pkt": the cost of everything the engine adds to the cipher
// (lookups, sequence numbers, the replay window, outer headers, counters).
// Inbound packets are copied into the receive buffers, and the replay
// window reset, outside the clocked parts. In the "flows" cases every
// packet of a batch has its own destination (one flow each), so nothing
// remembered from the previous packet helps.
func BenchmarkPathCost(b *testing.B) {
	for _, dir := range []string{"encrypt", "decrypt"} {
		for _, size := range []int{64, 512, 1400} {
			b.Run(fmt.Sprintf("%s/%d", dir, size), func(b *testing.B) {
				benchPathCost(b, dir == "encrypt", size, false)
			})
		}
		b.Run(dir+"-flows/64", func(b *testing.B) { benchPathCost(b, dir == "encrypt", 64, true) })
	}
}

func benchPathCost(b *testing.B, encrypt bool, size int, flows bool) {
	pr := newPair(b, pairSpec{mode: ModeIPsec, suite: suites[0]})
	bb := newBenchBatch(batchSizes(size), hostA4, hostB4)
	if flows {
		for i, h := range bb.headers {
			h[19] = byte(i + 1) // 198.18.20.1 to .64
			hdr.IPv4(h).UpdateChecksum()
		}
	}
	// The SA's cipher, sealing what the engine seals: the inner packet as
	// tunnel-mode payload.
	ci := pr.a.tab.Load().tunnel(1).out.Load().cipher
	var scratch esp.Scratch
	bare := make([][]byte, batchSize)
	for i, n := range bb.sizes {
		bare[i] = make([]byte, ci.PayloadOffset()+n+ci.TrailerLen(n))
	}
	var sealed [][]byte
	var in *SA
	if !encrypt {
		bb.reset()
		pr.wa.ProcessOutbound(bb.pkts)
		for _, p := range bb.pkts {
			if !p.StripOuter() {
				b.Fatal("outbound packet not ESP")
			}
			sealed = append(sealed, append([]byte(nil), p.Data()...))
		}
		in = pr.b.tab.Load().sa(pr.spiAB)
		ci = in.cipher
		for i := range bare {
			bare[i] = make([]byte, len(sealed[i]))
		}
	}
	remote := netip.AddrPortFrom(v4A, 0)
	b.ReportAllocs()
	b.SetBytes(int64(size * batchSize))
	path, gcm := newBatchClock(b.N), newBatchClock(b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if encrypt {
			bb.reset()
			path.begin()
			pr.wa.ProcessOutbound(bb.pkts)
			path.end()
			gcm.begin()
			for j := range bare {
				ci.Seal(bare[j], pr.spiAB, uint64(i*batchSize+j+1), false, bb.sizes[j], hdr.ProtoIPv4IP, &scratch)
			}
			gcm.end()
			continue
		}
		in.window.Reset()
		for j, p := range bb.pkts {
			p.SetLen(copy(p.buf[Headroom:], sealed[j]))
			p.Remote = remote
		}
		path.begin()
		pr.wb.ProcessInbound(bb.pkts)
		path.end()
		for j := range bare {
			copy(bare[j], sealed[j])
		}
		gcm.begin()
		for j := range bare {
			if _, _, r := ci.Open(bare[j], uint64(j+1), false, &scratch); r != esp.OK {
				b.Fatal(r)
			}
		}
		gcm.end()
	}
	b.StopTimer()
	want := VerdictUnderlay
	if !encrypt {
		want = VerdictHost
	}
	for _, p := range bb.pkts {
		if p.Verdict != want {
			b.Fatal(p.Verdict, p.Drop)
		}
	}
	pm, gm := path.median(), gcm.median()
	b.ReportMetric(pm, "path-ns/pkt")
	b.ReportMetric(gm, "esp-ns/pkt")
	b.ReportMetric(pm-gm, "ours-ns/pkt")
}
