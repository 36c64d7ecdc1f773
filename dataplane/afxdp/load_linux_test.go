package afxdp

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/bpf"
)

// espInUDPFrame builds an Ethernet/IPv4/UDP(4500)/ESP frame of size bytes
// from src to dst (UDP checksum zero, as IPv4 allows).
func espInUDPFrame(src, dst *link, size int) []byte {
	f := make([]byte, max(size, 14+20+8+16))
	copy(f[0:6], dst.mac)
	copy(f[6:12], src.mac)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	ip[8] = 64
	ip[9] = 17
	s, d := src.ip4.As4(), dst.ip4.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 4500)
	binary.BigEndian.PutUint16(udp[2:], 4500)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	binary.BigEndian.PutUint32(udp[8:], 0x5001) // SPI
	return f
}

// genResult is what a generator run saw.
type genResult struct {
	sent, received, lost int
	elapsed              time.Duration
}

// generate transmits n copies of frame (with the ESP sequence number set
// to the packet number) from s with at most window packets unanswered,
// and counts the replies arriving on s. Packets unanswered for stall are
// written off as lost so that a drop cannot hang the run.
func generate(t testing.TB, s *Socket, frame []byte, n, window int, stall time.Duration) genResult {
	t.Helper()
	u := s.UMEM()
	const batch = 64
	tx := make([]Desc, batch)
	rx := make([]Desc, batch)
	var r genResult
	start := time.Now()
	lastProgress := start
	seqOff := 14 + 20 + 8 + 4
	p := NewPoller(s)
	for r.received+r.lost < n {
		if k := s.Receive(rx); k > 0 {
			r.received += k
			u.Release(rx[:k])
			lastProgress = time.Now()
		}
		outstanding := r.sent - r.received - r.lost
		if want := min(batch, n-r.sent, window-outstanding); want > 0 {
			m := u.Alloc(tx[:want])
			for i := range m {
				d := &tx[i]
				d.Len = uint32(len(frame))
				b := u.Data(*d)
				copy(b, frame)
				binary.BigEndian.PutUint32(b[seqOff:], uint32(r.sent+i+1))
			}
			took := s.Transmit(tx[:m])
			u.Release(tx[took:m])
			r.sent += took
			if took > 0 {
				lastProgress = time.Now()
			}
			continue
		}
		if time.Since(lastProgress) > stall {
			r.lost += outstanding
			lastProgress = time.Now()
			continue
		}
		s.Flush()
		p.Wait(time.Millisecond)
	}
	r.elapsed = time.Since(start)
	return r
}

// packetCount returns ESPHUB_AFXDP_PACKETS or def (def/20 with -short).
func packetCount(t testing.TB, def int) int {
	if v := os.Getenv("ESPHUB_AFXDP_PACKETS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("ESPHUB_AFXDP_PACKETS=%q", v)
		}
		return n
	}
	if testing.Short() {
		return def / 20
	}
	return def
}

// closeAndCheckAllFree closes the UMEM's sockets and checks that every
// frame is back in the pool: the kernel-held ones are reclaimed and none
// was leaked.
func closeAndCheckAllFree(t testing.TB, u *UMEM) {
	t.Helper()
	for _, s := range u.sockets {
		if s != nil {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	c := u.Pool().Counts()
	if c.Free != u.Pool().Len() || u.Pool().Available() != u.Pool().Len() {
		t.Errorf("after closing all sockets: %+v, available %d of %d", c, u.Pool().Available(), u.Pool().Len())
	}
}

// TestFrameAccountingUnderLoad echoes many packets between two AF_XDP
// sockets (an AF_XDP generator in one namespace, an echo worker in the
// other) and then checks that no frame leaked on either side.
// ESPHUB_AFXDP_PACKETS=10000000 gives the 10-million-packet run.
func TestFrameAccountingUnderLoad(t *testing.T) {
	n := packetCount(t, 1_000_000)
	a, b := vethPair(t, "la", "lb", 43)
	gen := newDUT(t, a, bpf.RoleWAN, UMEMConfig{})
	d := newDUT(t, b, bpf.RoleWAN, UMEMConfig{})

	var stop atomic.Bool
	done := make(chan struct{})
	go func() { defer close(done); echo(d.sock, 64, &stop, nil) }()
	t.Cleanup(func() { stop.Store(true); <-done })

	r := generate(t, gen.sock, espInUDPFrame(a, b, 64), n, 1024, 500*time.Millisecond)
	stop.Store(true)
	<-done
	pps := float64(r.received) / r.elapsed.Seconds()
	t.Logf("%d sent, %d echoed, %d lost in %v: %.0f echoes/s", r.sent, r.received, r.lost, r.elapsed.Round(time.Millisecond), pps)
	if r.received < r.sent*9/10 {
		t.Errorf("only %d of %d packets echoed", r.received, r.sent)
	}
	for _, x := range []*dut{gen, d} {
		assertLedger(t, x.umem, 0)
		st, _ := x.sock.Stats()
		t.Logf("%s: %+v", x.link.name, st)
		closeAndCheckAllFree(t, x.umem)
	}
}

// TestWorkerStoppedMidBatch stops an echo worker after it has transmitted
// half of a received batch, checks that the ledger shows exactly the frames
// it still holds and nothing else astray, and that a new worker on the same
// socket carries on once those frames are released.
func TestWorkerStoppedMidBatch(t *testing.T) {
	a, b := vethPair(t, "ma", "mb", 44)
	gen := newDUT(t, a, bpf.RoleWAN, UMEMConfig{})
	d := newDUT(t, b, bpf.RoleWAN, UMEMConfig{Debug: true})
	frame := espInUDPFrame(a, b, 128)

	var stop, stopMid atomic.Bool
	heldCh := make(chan []Desc, 1)
	stopMid.Store(true) // the first batch that arrives is cut in half
	go func() { heldCh <- echo(d.sock, 64, &stop, &stopMid) }()

	// Offer a burst so that the worker's first batch has several packets.
	r := generate(t, gen.sock, frame, 200, 200, 300*time.Millisecond)
	var held []Desc
	select {
	case held = <-heldCh:
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop")
	}
	t.Logf("first run: %+v; worker stopped holding %d frames", r, len(held))
	if len(held) == 0 {
		t.Fatal("the worker's first batch had a single packet; nothing held")
	}
	assertLedger(t, d.umem, len(held))
	for _, h := range held {
		if st, _ := d.umem.Pool().State(h.Addr); st != StateUser {
			t.Fatalf("held frame %#x is %v", h.Addr, st)
		}
	}
	d.umem.Release(held)
	assertLedger(t, d.umem, 0)

	// The rings are consistent: a new worker on the same socket echoes.
	stop.Store(false)
	done := make(chan struct{})
	go func() { defer close(done); echo(d.sock, 64, &stop, nil) }()
	t.Cleanup(func() { stop.Store(true); <-done })
	r2 := generate(t, gen.sock, frame, 5000, 256, 500*time.Millisecond)
	stop.Store(true)
	<-done
	t.Logf("second run: %+v", r2)
	if r2.received < r2.sent*9/10 {
		t.Errorf("after restart only %d of %d echoed", r2.received, r2.sent)
	}
	assertLedger(t, d.umem, 0)
	assertLedger(t, gen.umem, 0)
	closeAndCheckAllFree(t, d.umem)
}

// BenchmarkEcho measures an AF_XDP echo worker (receive, swap addresses,
// transmit on the same socket) driven by an AF_XDP generator that counts the
// replies, the setup of xdp-notes.md §3. b.N is the number of packets.
//
//	CI=true go test -run '^$' -bench Echo -benchtime 2000000x ./dataplane/afxdp/
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ga, db := vethPair(b, "ba", "bb", 63)
			gen := newDUT(b, ga, bpf.RoleWAN, UMEMConfig{})
			d := newDUT(b, db, bpf.RoleWAN, UMEMConfig{})
			var stop atomic.Bool
			done := make(chan struct{})
			go func() { defer close(done); echo(d.sock, 64, &stop, nil) }()
			b.Cleanup(func() { stop.Store(true); <-done })
			frame := espInUDPFrame(ga, db, size)
			b.ReportAllocs()
			b.ResetTimer()
			r := generate(b, gen.sock, frame, b.N, 1024, time.Second)
			b.StopTimer()
			b.ReportMetric(float64(r.received)/r.elapsed.Seconds(), "pps")
			b.ReportMetric(float64(r.lost)/float64(max(r.sent, 1))*100, "%lost")
		})
	}
}
