package bpf

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/esphub/esphub/internal/testenv"
)

// loIfindex is the loopback interface index in every network namespace;
// BPF_PROG_TEST_RUN runs XDP programs as if they had received on it.
const loIfindex = 1

func loadForTest(t *testing.T, ports Ports) *Steering {
	t.Helper()
	testenv.NeedRoot(t)
	if err := Probe(); err != nil {
		if errors.Is(err, ErrNotSupported) {
			testenv.Missing(t, "kernel support for the steering programs: %v", err)
		}
		t.Fatalf("Probe: %v", err)
	}
	s, err := Load(Options{Ports: ports})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// registerLo makes the loopback interface known to the programs (a slot and
// a VRF) without attaching anything, as BPF_PROG_TEST_RUN needs.
func registerLo(t *testing.T, s *Steering, role Role, vrf uint32) *Attachment {
	t.Helper()
	s.mu.Lock()
	a, err := s.registerLocked(loIfindex, role, vrf)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runVerdict runs the program on a copy of frame and returns its return
// code and the verdict it counted (the one counter, other than NoSocket,
// that moved) and whether NoSocket moved too.
func runVerdict(t *testing.T, s *Steering, prog *ebpf.Program, frame []byte) (ret uint32, v Verdict, noSocket bool) {
	t.Helper()
	before := loRow(t, s)
	ret, err := prog.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("run on %d-byte frame: %v", len(frame), err)
	}
	after := loRow(t, s)
	v = Verdict(^uint32(0))
	for i := range NumVerdicts {
		d := after[i].Packets - before[i].Packets
		if d == 0 {
			continue
		}
		if d != 1 || after[i].Bytes-before[i].Bytes != uint64(len(frame)) {
			t.Fatalf("counter %v moved by %d packets, %d bytes for one %d-byte frame",
				Verdict(i), d, after[i].Bytes-before[i].Bytes, len(frame))
		}
		if Verdict(i) == NoSocket {
			noSocket = true
			continue
		}
		if v != Verdict(^uint32(0)) {
			t.Fatalf("two verdicts counted: %v and %v", v, Verdict(i))
		}
		v = Verdict(i)
	}
	return ret, v, noSocket
}

// loRow reads the counter row that frames run with BPF_PROG_TEST_RUN land
// in: lo's slot when lo is registered, else the row of unregistered
// interfaces. Reading one row keeps the differential tests fast.
func loRow(t testing.TB, s *Steering) Counters {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	row := MaxInterfaces
	if a, ok := s.ifaces[loIfindex]; ok {
		row = a.slot
	}
	var c Counters
	if err := s.addRowLocked(&c, row); err != nil {
		t.Fatal(err)
	}
	return c
}

// minRunLen is the smallest frame BPF_PROG_TEST_RUN accepts for XDP.
const minRunLen = 14

func TestWANProgramGolden(t *testing.T) {
	s := loadForTest(t, Ports{})
	for _, g := range wanGolden() {
		if len(g.frame) < minRunLen {
			continue
		}
		ret, v, noSock := runVerdict(t, s, s.objs.XdpWan, g.frame)
		if v != g.want {
			t.Errorf("%s: BPF verdict %v, want %v", g.name, v, g.want)
		}
		// lo is not registered: steered frames fall back to the kernel
		// and are counted as NoSocket.
		if ret != 2 /* XDP_PASS */ {
			t.Errorf("%s: returned %d, want XDP_PASS", g.name, ret)
		}
		if noSock != v.Steered() {
			t.Errorf("%s: NoSocket counted=%v for verdict %v", g.name, noSock, v)
		}
	}
	// With lo registered but no socket bound, steered frames still pass.
	registerLo(t, s, RoleWAN, 0)
	infos, err := s.Interfaces()
	if err != nil || len(infos) != 1 || infos[0].Ifindex != loIfindex || infos[0].Role != "wan" || len(infos[0].Sockets) != 0 {
		t.Errorf("Interfaces() = %+v, %v", infos, err)
	}
	if err := s.RegisterSocket(loIfindex, MaxQueues, 3); err == nil {
		t.Error("RegisterSocket accepted a queue out of range")
	}
	if err := s.RegisterSocket(99999, 0, 3); err == nil {
		t.Error("RegisterSocket accepted an interface that is not attached")
	}
	c, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if m := c.ByName(); m["esp"] != c[ESP] || len(m) != NumVerdicts {
		t.Errorf("ByName: %v", m)
	}
	g := wanGolden()[0]
	if ret, v, noSock := runVerdict(t, s, s.objs.XdpWan, g.frame); ret != 2 || v != ESP || !noSock {
		t.Errorf("registered, no socket: ret %d verdict %v noSocket %v", ret, v, noSock)
	}
	// Per-interface counters: lo's row holds only what ran since it was
	// registered (one ESP frame, no socket); the totals hold everything.
	ic, err := s.InterfaceCounters(loIfindex)
	if err != nil {
		t.Fatal(err)
	}
	if ic[ESP].Packets != 1 || ic[NoSocket].Packets != 1 || ic[PassIKE].Packets != 0 || c[PassIKE].Packets == 0 {
		t.Errorf("interface counters %v, totals %v", ic, c)
	}
	if _, err := s.InterfaceCounters(99999); err == nil {
		t.Error("InterfaceCounters of an unattached interface")
	}
	// A re-registered interface starts from zero.
	s.mu.Lock()
	s.unregisterLocked(s.ifaces[loIfindex])
	s.mu.Unlock()
	registerLo(t, s, RoleWAN, 0)
	if ic, _ := s.InterfaceCounters(loIfindex); ic[ESP].Packets != 0 {
		t.Errorf("reused slot kept its counters: %v", ic)
	}
}

func TestWANProgramCustomPorts(t *testing.T) {
	ports := Ports{IKE: 1500, NATT: 14500}
	s := loadForTest(t, ports)
	if s.Ports() != ports {
		t.Fatalf("Ports() = %+v", s.Ports())
	}
	frames := [][]byte{
		eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 14500, esp(9, 9, 16)), v4opts{})),
		eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 1500, make([]byte, 28)), v4opts{})),
		eth(etherTypeIPv4, ipv4(v4A, v4B, protoUDP, udp(1, 4500, esp(9, 9, 16)), v4opts{})),
	}
	for i, f := range frames {
		_, v, _ := runVerdict(t, s, s.objs.XdpWan, f)
		if want := ClassifyWAN(f, ports); v != want {
			t.Errorf("frame %d: BPF %v, Go %v", i, v, want)
		}
	}
	if _, err := Load(Options{Ports: Ports{IKE: 600, NATT: 600}}); err == nil {
		t.Error("Load accepted equal IKE and NAT-T ports")
	}
}

// loadTables installs a LANTables into the maps.
func loadTables(t testing.TB, s *Steering, tb *LANTables) {
	t.Helper()
	for _, p := range tb.Protected {
		if err := s.AddProtected(p.VRF, p.Prefix); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range tb.Local {
		if err := s.AddLocal(p.VRF, p.Prefix); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLANProgramGolden(t *testing.T) {
	s := loadForTest(t, Ports{})
	loadTables(t, s, lanTables())
	for _, vrf := range []uint32{0, 3, 7} {
		a := registerLo(t, s, RoleLAN, vrf)
		for _, g := range lanGolden() {
			if g.vrf != vrf {
				continue
			}
			_, v, noSock := runVerdict(t, s, s.objs.XdpLan, g.frame)
			if v != g.want {
				t.Errorf("%s (vrf %d): BPF %v, want %v", g.name, vrf, v, g.want)
			}
			if noSock != v.Steered() {
				t.Errorf("%s: NoSocket counted=%v for %v", g.name, noSock, v)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Deleting a prefix takes effect; deleting it again is not an error.
	registerLo(t, s, RoleLAN, 0)
	f := lanGolden()[0].frame
	p := netip.MustParsePrefix("198.19.99.99/16") // masked to 198.19.0.0/16
	for range 2 {
		if err := s.DeleteProtected(0, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, v, _ := runVerdict(t, s, s.objs.XdpLan, f); v != PassUnprotected {
		t.Errorf("after delete: %v", v)
	}
	// Deleting a local prefix exposes the protected prefix under it.
	local := lanGolden()
	for _, g := range local {
		if g.name != "v4 router itself inside protected" {
			continue
		}
		if err := s.AddProtected(0, p); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteLocal(0, netip.MustParsePrefix("198.19.0.1/32")); err != nil {
			t.Fatal(err)
		}
		if _, v, _ := runVerdict(t, s, s.objs.XdpLan, g.frame); v != Protected {
			t.Errorf("after deleting the local prefix: %v", v)
		}
	}
	if err := s.AddProtected(0, netip.Prefix{}); err == nil {
		t.Error("AddProtected accepted an invalid prefix")
	}
}

// mutate returns a damaged or varied copy of a frame: truncated, with bytes
// flipped in the header area, or with ports and protocol fields rewritten.
func mutate(r *rand.Rand, f []byte) []byte {
	g := append([]byte(nil), f...)
	switch r.IntN(6) {
	case 0: // truncate
		if len(g) > minRunLen {
			g = g[:minRunLen+r.IntN(len(g)-minRunLen+1)]
		}
	case 1, 2: // flip header bytes
		for range 1 + r.IntN(3) {
			i := r.IntN(min(len(g), 100))
			g[i] ^= byte(1 << r.IntN(8))
		}
	case 3: // random byte in the header area
		i := r.IntN(min(len(g), 90))
		g[i] = byte(r.Uint32())
	case 4: // rewrite a likely L4 port (IPv4 no options / IPv6 no ext)
		ports := []uint16{500, 4500, 4501, 53, 0}
		for _, off := range []int{14 + 20 + 2, 14 + 40 + 2} {
			if off+2 <= len(g) && r.IntN(2) == 0 {
				binary.BigEndian.PutUint16(g[off:], ports[r.IntN(len(ports))])
			}
		}
	case 5: // rewrite the marker / keepalive area
		for _, off := range []int{14 + 28, 14 + 48} {
			if off+4 <= len(g) && r.IntN(2) == 0 {
				copy(g[off:], [][]byte{{0, 0, 0, 0}, {0xff, 0, 0, 0}, {0, 0, 0, 1}}[r.IntN(3)])
			}
		}
	}
	return g
}

// TestDifferentialWAN checks the BPF program against ClassifyWAN over
// golden frames and thousands of mutations of them.
func TestDifferentialWAN(t *testing.T) {
	s := loadForTest(t, Ports{})
	r := rand.New(rand.NewPCG(7, 11))
	base := wanGolden()
	n := 4000
	if testing.Short() {
		n = 500
	}
	seen := map[Verdict]int{}
	for i := range n {
		f := base[i%len(base)].frame
		if i >= len(base) {
			f = mutate(r, f)
			if r.IntN(4) == 0 {
				f = mutate(r, f)
			}
		}
		if len(f) < minRunLen {
			continue
		}
		_, got, _ := runVerdict(t, s, s.objs.XdpWan, f)
		want := ClassifyWAN(f, DefaultPorts)
		seen[want]++
		if got != want {
			t.Fatalf("frame %d (%x): BPF %v, Go %v", i, f, got, want)
		}
	}
	for _, v := range []Verdict{PassOther, PassIKE, PassKeepalive, PassFragment, PassMalformed, ESP, ESPInUDP} {
		if seen[v] == 0 {
			t.Errorf("the generated frames never produced %v", v)
		}
	}
	t.Logf("verdicts: %v", seen)
}

// TestDifferentialLAN checks the LAN program against ClassifyLAN with
// random prefixes and destinations near them.
func TestDifferentialLAN(t *testing.T) {
	s := loadForTest(t, Ports{})
	r := rand.New(rand.NewPCG(3, 5))
	var prefixes []ProtectedPrefix
	for range 60 {
		vrf := uint32(r.IntN(3))
		if r.IntN(2) == 0 {
			a := [4]byte{198, 18 + byte(r.IntN(2)), byte(r.Uint32()), byte(r.Uint32())}
			prefixes = append(prefixes, ProtectedPrefix{vrf, netip.PrefixFrom(netip.AddrFrom4(a), 8+r.IntN(25)).Masked()})
		} else {
			a := [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(r.Uint32()), byte(r.Uint32())}
			for i := 6; i < 16; i++ {
				a[i] = byte(r.Uint32())
			}
			prefixes = append(prefixes, ProtectedPrefix{vrf, netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(97)).Masked()})
		}
	}
	// Some hosts inside protected prefixes are local, and VRF 2 has
	// default routes, so that the local and multicast checks matter.
	tables := &LANTables{Protected: append(prefixes,
		ProtectedPrefix{2, netip.MustParsePrefix("0.0.0.0/0")},
		ProtectedPrefix{2, netip.MustParsePrefix("::/0")})}
	for _, p := range prefixes[:20] {
		host := netip.PrefixFrom(p.Prefix.Addr(), p.Prefix.Addr().BitLen())
		tables.Local = append(tables.Local, ProtectedPrefix{p.VRF, host}, ProtectedPrefix{2, host})
	}
	loadTables(t, s, tables)
	n := 1500
	if testing.Short() {
		n = 300
	}
	seen := map[Verdict]int{}
	for vrf := range uint32(3) {
		a := registerLo(t, s, RoleLAN, vrf)
		for range n / 3 {
			p := prefixes[r.IntN(len(prefixes))]
			addr := p.Prefix.Addr()
			switch r.IntN(8) {
			case 0:
				addr = netip.MustParseAddr("224.0.0.0")
			case 1:
				addr = netip.MustParseAddr("ff02::")
			case 2:
				addr = netip.MustParseAddr("fe80::")
			}
			// Flip a random bit: inside the prefix if it is a host
			// bit, outside otherwise.
			b := addr.AsSlice()
			bit := r.IntN(len(b) * 8)
			b[bit/8] ^= 0x80 >> (bit % 8)
			dst, _ := netip.AddrFromSlice(b)
			var f []byte
			if dst.Is4() {
				f = eth(etherTypeIPv4, ipv4(v4A, dst, 17, udp(1, 2, make([]byte, 8)), v4opts{}))
			} else {
				f = eth(etherTypeIPv6, ipv6(v6A, dst, 17, nil, udp(1, 2, make([]byte, 8))))
			}
			if r.IntN(5) == 0 {
				f = mutate(r, f)
			}
			_, got, _ := runVerdict(t, s, s.objs.XdpLan, f)
			want := ClassifyLAN(f, vrf, tables)
			seen[want]++
			if got != want {
				t.Fatalf("vrf %d frame %x: BPF %v, Go %v", vrf, f, got, want)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []Verdict{Protected, PassUnprotected, PassLocal} {
		if seen[v] == 0 {
			t.Errorf("never produced %v", v)
		}
	}
	t.Logf("verdicts: %v", seen)
}

var (
	fuzzOnce  sync.Once
	fuzzSteer *Steering
	fuzzErr   error
)

// FuzzWANProgram runs fuzzed frames through both the BPF program (with
// BPF_PROG_TEST_RUN) and ClassifyWAN and requires the same verdict. It
// needs root; the steering objects are loaded once per fuzzing process.
func FuzzWANProgram(f *testing.F) {
	for _, g := range wanGolden() {
		f.Add(g.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < minRunLen || len(frame) > 3000 {
			return
		}
		testenv.NeedRoot(t)
		fuzzOnce.Do(func() { fuzzSteer, fuzzErr = Load(Options{}) })
		if fuzzErr != nil {
			t.Fatalf("Load: %v", fuzzErr)
		}
		_, got, _ := runVerdict(t, fuzzSteer, fuzzSteer.objs.XdpWan, frame)
		if want := ClassifyWAN(frame, DefaultPorts); got != want {
			t.Fatalf("frame %x: BPF %v, Go %v", frame, got, want)
		}
	})
}

var (
	fuzzLANOnce  sync.Once
	fuzzLANSteer *Steering
	fuzzLANErr   error
)

// FuzzLANProgram compares the LAN program with ClassifyLAN on fuzzed frames
// against the lanTables sets, as seen from VRF 3 (default routes, local
// hosts). It needs root.
func FuzzLANProgram(f *testing.F) {
	for _, g := range lanGolden() {
		f.Add(g.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < minRunLen || len(frame) > 3000 {
			return
		}
		testenv.NeedRoot(t)
		fuzzLANOnce.Do(func() {
			fuzzLANSteer, fuzzLANErr = Load(Options{})
			if fuzzLANErr != nil {
				return
			}
			tb := lanTables()
			for _, p := range tb.Protected {
				if fuzzLANErr = fuzzLANSteer.AddProtected(p.VRF, p.Prefix); fuzzLANErr != nil {
					return
				}
			}
			for _, p := range tb.Local {
				if fuzzLANErr = fuzzLANSteer.AddLocal(p.VRF, p.Prefix); fuzzLANErr != nil {
					return
				}
			}
			fuzzLANSteer.mu.Lock()
			_, fuzzLANErr = fuzzLANSteer.registerLocked(loIfindex, RoleLAN, 3)
			fuzzLANSteer.mu.Unlock()
		})
		if fuzzLANErr != nil {
			t.Fatalf("setup: %v", fuzzLANErr)
		}
		_, got, _ := runVerdict(t, fuzzLANSteer, fuzzLANSteer.objs.XdpLan, frame)
		if want := ClassifyLAN(frame, 3, lanTables()); got != want {
			t.Fatalf("frame %x: BPF %v, Go %v", frame, got, want)
		}
	})
}

func TestSetProtected(t *testing.T) {
	s := loadForTest(t, Ports{})
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range ss {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	if err := s.SetProtected(1, pp("198.19.0.0/16", "2001:db8:1::/48", "198.18.5.5/32")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProtected(2, pp("198.19.0.0/16")); err != nil {
		t.Fatal(err)
	}
	// Replace VRF 1's set: one kept, one removed, one added; host bits masked.
	if err := s.SetProtected(1, pp("198.19.7.7/16", "2001:db8:2::/48")); err != nil {
		t.Fatal(err)
	}
	got, err := s.ProtectedPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []ProtectedPrefix{
		{1, netip.MustParsePrefix("198.19.0.0/16")},
		{1, netip.MustParsePrefix("2001:db8:2::/48")},
		{2, netip.MustParsePrefix("198.19.0.0/16")},
	}
	if len(got) != len(want) {
		t.Fatalf("ProtectedPrefixes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ProtectedPrefixes = %v, want %v", got, want)
		}
	}
	// The program sees the result.
	registerLo(t, s, RoleLAN, 1)
	f := eth(etherTypeIPv6, ipv6(v6A, netip.MustParseAddr("2001:db8:2::9"), 58, nil, make([]byte, 8)))
	if _, v, _ := runVerdict(t, s, s.objs.XdpLan, f); v != Protected {
		t.Errorf("added prefix: %v", v)
	}
	f = eth(etherTypeIPv6, ipv6(v6A, netip.MustParseAddr("2001:db8:1::9"), 58, nil, make([]byte, 8)))
	if _, v, _ := runVerdict(t, s, s.objs.XdpLan, f); v != PassUnprotected {
		t.Errorf("removed prefix: %v", v)
	}
	if err := s.SetProtected(1, []netip.Prefix{{}}); err == nil {
		t.Error("SetProtected accepted an invalid prefix")
	}
	// Local prefixes are a separate set with the same semantics.
	if err := s.SetLocal(1, pp("2001:db8:2::1/128", "198.19.0.1/32")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLocal(1, pp("2001:db8:2::1/128")); err != nil {
		t.Fatal(err)
	}
	loc, err := s.LocalPrefixes()
	if err != nil || len(loc) != 1 || loc[0] != (ProtectedPrefix{1, netip.MustParsePrefix("2001:db8:2::1/128")}) {
		t.Fatalf("LocalPrefixes = %v, %v", loc, err)
	}
	f = eth(etherTypeIPv6, ipv6(v6A, netip.MustParseAddr("2001:db8:2::1"), 58, nil, make([]byte, 8)))
	if _, v, _ := runVerdict(t, s, s.objs.XdpLan, f); v != PassLocal {
		t.Errorf("local host inside a protected prefix: %v", v)
	}
	if got, _ := s.ProtectedPrefixes(); len(got) != 3 {
		t.Errorf("SetLocal changed the protected set: %v", got)
	}
}
