package control

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/hdr"
	"github.com/esphub/esphub/ike"
	"github.com/esphub/esphub/ike/transport"
)

// espPump carries overlay traffic both ways between two sides' packet
// engines without I/O. Each round seals one packet on each side; a packet
// is delivered lag after it was sealed, in order (a receive ring's backlog
// delays ESP behind IKE messages on a busy gateway).
type espPump struct {
	a, b       *side
	srcA, srcB netip.Addr // LAN hosts behind a and behind b
	lag        time.Duration
	sent       atomic.Uint64
	lost       atomic.Uint64 // sealed or delivered packets dropped, any reason
	stop       chan struct{}
	done       sync.WaitGroup
}

func startPump(t *testing.T, a, b *side, srcA, srcB netip.Addr, lag time.Duration) *espPump {
	p := &espPump{a: a, b: b, srcA: srcA, srcB: srcB, lag: lag, stop: make(chan struct{})}
	p.done.Add(1)
	go p.run()
	t.Cleanup(p.halt)
	return p
}

func (p *espPump) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}

// lane is one direction: sealed packets waiting to be delivered.
type lane struct {
	from, to *dataplane.Worker
	src, dst netip.Addr
	queue    []*dataplane.Packet
	sealed   []time.Time // when each queued packet was sealed
	free     []*dataplane.Packet
}

func (p *espPump) run() {
	defer p.done.Done()
	lanes := []*lane{
		{from: p.a.dp.NewWorker(), to: p.b.dp.NewWorker(), src: p.srcA, dst: p.srcB},
		{from: p.b.dp.NewWorker(), to: p.a.dp.NewWorker(), src: p.srcB, dst: p.srcA},
	}
	for seq := uint16(1); ; seq++ {
		select {
		case <-p.stop:
			for _, l := range lanes { // what is in flight still arrives
				for len(l.queue) > 0 {
					p.deliver(l)
				}
			}
			return
		default:
		}
		for _, l := range lanes {
			now := time.Now()
			p.seal(l, seq, now)
			for len(l.queue) > 0 && now.Sub(l.sealed[0]) >= p.lag {
				p.deliver(l)
			}
		}
		if seq%64 == 0 {
			time.Sleep(100 * time.Microsecond) // leave the CPU to the daemons too
		}
	}
}

// seal seals an ICMP echo on l's sending side and queues it.
func (p *espPump) seal(l *lane, seq uint16, now time.Time) {
	var pkt *dataplane.Packet
	if n := len(l.free); n > 0 {
		pkt, l.free = l.free[n-1], l.free[:n-1]
	} else {
		pkt = dataplane.NewPacket(dataplane.DefaultBufferSize)
	}
	b := make([]byte, 64)
	hdr.EncodeIPv4(b, 0, uint16(len(b)), seq, 64, 1, l.src, l.dst)
	b[20] = 8
	binary.BigEndian.PutUint16(b[26:], seq)
	binary.BigEndian.PutUint16(b[22:], ^hdr.Checksum(b[20:], 0))
	pkt.SetData(b)
	p.sent.Add(1)
	l.from.ProcessOutbound([]*dataplane.Packet{pkt})
	if pkt.Verdict != dataplane.VerdictUnderlay || !pkt.StripOuter() {
		p.lost.Add(1)
		l.free = append(l.free, pkt)
		return
	}
	l.queue = append(l.queue, pkt)
	l.sealed = append(l.sealed, now)
}

// deliver hands l's oldest queued packet to the receiving side.
func (p *espPump) deliver(l *lane) {
	pkt := l.queue[0]
	l.queue = append(l.queue[:0], l.queue[1:]...)
	l.sealed = append(l.sealed[:0], l.sealed[1:]...)
	l.to.ProcessInbound([]*dataplane.Packet{pkt})
	if pkt.Verdict != dataplane.VerdictHost {
		p.lost.Add(1)
	}
	l.free = append(l.free, pkt)
}

// TestRekeyLosesNoPackets sends traffic both ways continuously through
// Child SA rekeys started by the IKE initiator, by the responder, and by
// both at once (an RFC 7296 §2.8.1 collision), over an underlay with some
// delay and a backlog of ESP in each direction: no packet may be dropped,
// no-sa or otherwise, and each tunnel must end on the surviving Child SA's
// outbound SA. Before the responder held its new outbound SA back until
// the initiator's DELETE, every rekey dropped the packets sent during the
// response's flight; before a deleted Child SA's inbound SA lingered, the
// backlog sealed on the old SA was dropped when the Delete overtook it.
func TestRekeyLosesNoPackets(t *testing.T) {
	grace := inboundGrace
	inboundGrace = 300 * time.Millisecond // far beyond the 10 ms backlog
	t.Cleanup(func() { inboundGrace = grace })
	for _, tc := range []struct {
		who        string
		delay, lag time.Duration // of IKE messages, of ESP
	}{
		{"spoke", 20 * time.Millisecond, 0},
		{"hub", 20 * time.Millisecond, 0},
		{"both", 20 * time.Millisecond, 0},
		{"spoke", time.Millisecond, 10 * time.Millisecond},
		{"both", time.Millisecond, 10 * time.Millisecond},
	} {
		who := tc.who
		t.Run(fmt.Sprintf("%s/ike-%v/esp-%v", who, tc.delay, tc.lag), func(t *testing.T) {
			net := transport.NewMemNetwork(transport.MemOptions{Delay: tc.delay})
			hub := startSide(t, net, "198.18.0.2", parse(t, "hub.cfg", hubCfg))
			spoke := startSide(t, net, "198.18.1.2", parse(t, "s1.cfg", spokeCfg))
			waitFor(t, "sessions", func() bool {
				return len(hub.d.Sessions()) == 1 && len(spoke.d.Sessions()) == 1 &&
					len(spoke.dp.SAs()) == 2 && len(hub.dp.SAs()) == 2
			})
			spokeLAN, hubLAN := netip.MustParseAddr("198.19.1.10"), netip.MustParseAddr("198.19.0.10")
			waitFor(t, "overlay routes", func() bool {
				nh1, ok1 := spoke.dp.Lookup(0, hubLAN)
				nh2, ok2 := hub.dp.Lookup(0, spokeLAN)
				return ok1 && ok2 && nh1.Kind == dataplane.NextHopTunnel && nh2.Kind == dataplane.NextHopTunnel
			})
			pump := startPump(t, spoke, hub, spokeLAN, hubLAN, tc.lag)
			waitFor(t, "traffic", func() bool { return pump.sent.Load() > 200 })
			if n := pump.lost.Load(); n != 0 {
				t.Fatalf("%d packets lost before any rekey (drops spoke %v hub %v)", n, spoke.dp.Drops(), hub.dp.Drops())
			}

			ss, hs := spoke.d.Sessions()[0], hub.d.Sessions()[0]
			var spokeIn, hubIn uint32
			for spi := range ss.Children {
				spokeIn = spi
			}
			for spi := range hs.Children {
				hubIn = spi
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			rekey := func(s *side, ikeSPI uint64, in uint32) {
				defer wg.Done()
				err := s.d.Engine().RekeyChildSA(ctx, ikeSPI, in)
				if err != nil && !errors.Is(err, ike.ErrNoChildSA) {
					// The collision's loser may see its SA deleted first.
					t.Logf("rekey: %v", err)
				}
			}
			if who != "hub" {
				wg.Add(1)
				go rekey(spoke, ss.IKESPI, spokeIn)
			}
			if who != "spoke" {
				wg.Add(1)
				go rekey(hub, hs.IKESPI, hubIn)
			}
			wg.Wait()
			waitFor(t, "one new child SA on both sides", func() bool {
				s, h := spoke.d.Sessions(), hub.d.Sessions()
				if len(s) != 1 || len(h) != 1 || len(s[0].Children) != 1 || len(h[0].Children) != 1 {
					return false
				}
				_, spokeOld := s[0].Children[spokeIn]
				_, hubOld := h[0].Children[hubIn]
				return !spokeOld && !hubOld && len(spoke.dp.SAs()) == 2 && len(hub.dp.SAs()) == 2
			})
			// Keep the traffic flowing a while on the new SAs.
			sent := pump.sent.Load()
			waitFor(t, "traffic after the rekey", func() bool { return pump.sent.Load() > sent+200 })
			pump.halt()
			for name, sd := range map[string]*side{"hub": hub, "spoke": spoke} {
				var out uint32
				for _, c := range sd.d.Sessions()[0].Children {
					out = c.OutboundSPI
				}
				if ts := sd.dp.Tunnels(); len(ts) != 1 || ts[0].OutboundSPI != out {
					t.Errorf("%s: tunnels %+v, want outbound SA %08x", name, ts, out)
				}
			}
			if n := pump.lost.Load(); n != 0 {
				t.Errorf("%d of %d packets lost across the rekey: drops spoke %v hub %v", n, pump.sent.Load(),
					spoke.dp.Drops(), hub.dp.Drops())
			} else {
				t.Logf("%d packets, none lost", pump.sent.Load())
			}
		})
	}
}
