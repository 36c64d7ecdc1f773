package dataplane

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/esphub/esphub/dataplane/hdr"
)

// TestConcurrentControlAndPackets runs two workers per direction on the
// same SAs while the control side adds and removes routes, SAs and
// mappings and reads statistics. Run with -race: the packet path reads only
// published snapshots and atomics, and the replay window is guarded.
func TestConcurrentControlAndPackets(t *testing.T) {
	pr := newPair(t, pairSpec{mode: ModeGRE, suite: suites[0], sgt: true})
	const rounds = 200
	var wg sync.WaitGroup
	sealed := make(chan *Packet, 64)
	for w := 0; w < 2; w++ {
		wa := pr.a.NewWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				p := NewPacket(DefaultBufferSize)
				p.SetData(icmpPacket(hostA4, hostB4, 100, uint16(i)))
				wa.ProcessOutbound([]*Packet{p})
				if p.Verdict == VerdictUnderlay && p.StripOuter() {
					sealed <- p
				}
			}
		}()
	}
	var recv sync.WaitGroup
	var delivered, dropped int
	var mu sync.Mutex
	for w := 0; w < 2; w++ {
		wb := pr.b.NewWorker()
		recv.Add(1)
		go func() {
			defer recv.Done()
			for p := range sealed {
				wb.ProcessInbound([]*Packet{p})
				mu.Lock()
				if p.Verdict == VerdictHost {
					delivered++
				} else {
					dropped++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			p := netip.MustParsePrefix(fmt.Sprintf("198.18.%d.0/24", 100+i))
			must(t, pr.a.AddRoute(0, p, NextHop{Kind: NextHopDrop}))
			must(t, pr.a.SetSGTMapping(0, netip.MustParsePrefix("198.18.10.0/24"), uint16(i+1)))
			spi := uint32(0xe0000000 + i)
			must(t, pr.b.AddSA(SAConfig{SPI: spi, Direction: Inbound, Tunnel: 1, Algorithm: suites[0].alg, EncKey: testKey(20, byte(i))}))
			// A matrix that permits everything, replaced while packets flow.
			must(t, pr.b.SetSGACL(SGACLPolicy{Enforce: true, Cells: []SGACLCell{{From: uint16(i + 1), To: 0, ACEs: []SGACE{denyAll(6)}}}}))
			_ = pr.b.SGACLCounters()
			pr.b.ClearSGACLCounters()
			pr.a.SetCMDLayout(hdr.CMDESPInline)
			_ = pr.b.SAs()
			_ = pr.a.Tunnels()
			_ = pr.b.Drops()
			must(t, pr.b.DeleteSA(Inbound, spi))
			must(t, pr.a.DeleteRoute(0, p))
		}
	}()
	wg.Wait()
	close(sealed)
	recv.Wait()
	if delivered != 2*rounds || dropped != 0 {
		t.Fatalf("delivered %d, dropped %d (drops %v)", delivered, dropped, pr.b.Drops())
	}
	var in SAStats
	for _, s := range pr.b.SAs() {
		if s.Direction == Inbound && s.SPI == pr.spiAB {
			in = s
		}
	}
	if in.Packets != 2*rounds {
		t.Fatalf("inbound SA counted %d packets", in.Packets)
	}
}
