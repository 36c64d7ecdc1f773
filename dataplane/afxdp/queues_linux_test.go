package afxdp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/esphub/esphub/bpf"
)

// TestTwoQueues runs one socket per receive queue on two-queue veths: the
// generator transmits from queue q of one end, which veth delivers on
// receive queue q of the other, where the steering program must pick the
// socket of that queue. Both sockets of a side share one UMEM.
func TestTwoQueues(t *testing.T) {
	l := upLab(t, vethSpec{nodeA: "gen", ifA: "qa", nodeB: "dut", ifB: "qb", subnet: 61, queues: 2},
		vethSpec{nodeA: "gen", ifA: "qc", nodeB: "dut", ifB: "qd", subnet: 62})
	a, b := l[0], l[1]
	for _, c := range []struct {
		l    *link
		want int
	}{{a, 2}, {b, 2}, {l[2], 1}} {
		var n int
		var err error
		inNetns(t, c.l.ns, func() { n, err = RXQueues(c.l.name) })
		if err != nil || n != c.want {
			t.Errorf("RXQueues(%s) = %d, %v; want %d", c.l.name, n, err, c.want)
		}
	}
	if _, err := RXQueues("no-such-if0"); err == nil {
		t.Error("RXQueues of a missing interface succeeded")
	}
	type side struct {
		steer *bpf.Steering
		umem  *UMEM
		socks [2]*Socket
	}
	setup := func(l *link) *side {
		s := &side{}
		var err error
		if s.steer, err = bpf.Load(bpf.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.steer.Close() })
		if s.umem, err = NewUMEM(UMEMConfig{Frames: 8192, Debug: true}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.umem.Close() })
		inNetns(t, l.ns, func() {
			if _, err = s.steer.AttachWAN(l.ifindex, bpf.AttachDriver); err != nil {
				return
			}
			for q := range 2 {
				if s.socks[q], err = s.umem.Open(SocketConfig{Ifindex: l.ifindex, Queue: q}); err != nil {
					return
				}
				if err = s.steer.RegisterSocket(l.ifindex, q, s.socks[q].FD()); err != nil {
					return
				}
				s.socks[q].Refill()
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", l.name, err)
		}
		return s
	}
	ga, db := setup(a), setup(b)

	const perQueue = 3000
	var got [2][2]int // frames by [receiving queue][sending queue]
	frame := espInUDPFrame(a, b, 80)
	tx := make([]Desc, 64)
	for q := range 2 {
		s := ga.socks[q]
		for sent := 0; sent < perQueue; {
			m := ga.umem.Alloc(tx[:min(64, perQueue-sent)])
			for i := range m {
				tx[i].Len = uint32(len(frame))
				f := ga.umem.Data(tx[i])
				copy(f, frame)
				binary.BigEndian.PutUint32(f[14+20+8+4:], uint32(q)) // queue in the ESP sequence field
			}
			took := s.Transmit(tx[:m])
			ga.umem.Release(tx[took:m])
			sent += took
			// Let the receiver keep up, as a worker would.
			drainQueues(t, db.socks[:], &got, 0)
		}
		s.Flush()
	}
	drainQueues(t, db.socks[:], &got, 2*perQueue)
	if got[0][0] != perQueue || got[1][1] != perQueue || got[0][1] != 0 || got[1][0] != 0 {
		t.Errorf("frames by (receiving queue, sending queue): %v, want %d on the diagonal", got, perQueue)
	}
	assertLedger(t, ga.umem, 0)
	assertLedger(t, db.umem, 0)
}

// drainQueues receives from both sockets, counting frames into got by the
// queue the sender wrote into them, until want frames were counted in
// total (want 0: one pass).
func drainQueues(t *testing.T, socks []*Socket, got *[2][2]int, want int) {
	t.Helper()
	descs := make([]Desc, 64)
	deadline := time.Now().Add(15 * time.Second)
	for {
		for q, s := range socks {
			n := s.Receive(descs)
			for _, d := range descs[:n] {
				src := binary.BigEndian.Uint32(s.UMEM().Data(d)[14+20+8+4:])
				if src < 2 {
					got[q][src]++
				}
			}
			s.UMEM().Release(descs[:n])
		}
		total := got[0][0] + got[0][1] + got[1][0] + got[1][1]
		if want == 0 || total >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
}
