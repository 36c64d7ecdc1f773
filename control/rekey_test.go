package control

import (
	"context"
	"encoding/binary"
	"errors"
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
// engines without I/O: each round seals one packet on each side and
// delivers it to the other at once, as a short underlay would.
type espPump struct {
	a, b       *side
	srcA, srcB netip.Addr // LAN hosts behind a and behind b
	sent       atomic.Uint64
	lost       atomic.Uint64 // sealed or delivered packets dropped, any reason
	stop       chan struct{}
	done       sync.WaitGroup
}

func startPump(t *testing.T, a, b *side, srcA, srcB netip.Addr) *espPump {
	p := &espPump{a: a, b: b, srcA: srcA, srcB: srcB, stop: make(chan struct{})}
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

func (p *espPump) run() {
	defer p.done.Done()
	wa, wb := p.a.dp.NewWorker(), p.b.dp.NewWorker()
	wa2, wb2 := p.a.dp.NewWorker(), p.b.dp.NewWorker()
	pkt := dataplane.NewPacket(dataplane.DefaultBufferSize)
	for seq := uint16(1); ; seq++ {
		select {
		case <-p.stop:
			return
		default:
		}
		p.one(pkt, wa, wb2, p.srcA, p.srcB, seq)
		p.one(pkt, wb, wa2, p.srcB, p.srcA, seq)
		if seq%64 == 0 {
			time.Sleep(100 * time.Microsecond) // leave the CPU to the daemons too
		}
	}
}

// one seals an ICMP echo from src to dst on from and delivers it to to.
func (p *espPump) one(pkt *dataplane.Packet, from, to *dataplane.Worker, src, dst netip.Addr, seq uint16) {
	b := make([]byte, 64)
	hdr.EncodeIPv4(b, 0, uint16(len(b)), seq, 64, 1, src, dst)
	b[20] = 8
	binary.BigEndian.PutUint16(b[26:], seq)
	binary.BigEndian.PutUint16(b[22:], ^hdr.Checksum(b[20:], 0))
	pkt.SetData(b)
	p.sent.Add(1)
	from.ProcessOutbound([]*dataplane.Packet{pkt})
	if pkt.Verdict != dataplane.VerdictUnderlay || !pkt.StripOuter() {
		p.lost.Add(1)
		return
	}
	to.ProcessInbound([]*dataplane.Packet{pkt})
	if pkt.Verdict != dataplane.VerdictHost {
		p.lost.Add(1)
	}
}

// TestRekeyLosesNoPackets sends traffic both ways continuously through
// Child SA rekeys started by the IKE initiator, by the responder, and by
// both at once (an RFC 7296 §2.8.1 collision), over an underlay with some
// delay: no packet may be dropped, no-sa or otherwise, and each tunnel
// must end on the surviving Child SA's outbound SA. Before the responder
// held its new outbound SA back until the initiator's DELETE, every rekey
// dropped the packets sent during the response's flight.
func TestRekeyLosesNoPackets(t *testing.T) {
	for _, who := range []string{"spoke", "hub", "both"} {
		t.Run(who, func(t *testing.T) {
			net := transport.NewMemNetwork(transport.MemOptions{Delay: 20 * time.Millisecond})
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
			pump := startPump(t, spoke, hub, spokeLAN, hubLAN)
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
