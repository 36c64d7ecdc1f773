package xdp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/afxdp"
	"github.com/esphub/esphub/dataplane/hdr"
	"github.com/esphub/esphub/dataplane/internal/cow"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// udp4 builds an IPv4 UDP packet of total length n.
func udp4(src, dst netip.Addr, n int) []byte {
	b := make([]byte, n)
	hdr.EncodeIPv4(b, 0, uint16(n), 1, 64, hdr.ProtoUDP, src, dst)
	binary.BigEndian.PutUint16(b[20:], 40000)
	binary.BigEndian.PutUint16(b[22:], 9)
	binary.BigEndian.PutUint16(b[24:], uint16(n-20))
	return b
}

// TestPacketPathNoAllocs drives a worker's batch path directly (no Run):
// LAN frames are encrypted and transmitted on the WAN socket, and ESP
// frames sealed by a peer engine are decrypted and transmitted on the LAN
// socket, with neighbours resolved; the whole round must not allocate.
func TestPacketPathNoAllocs(t *testing.T) {
	testenv.NeedRoot(t)
	l := labtest.Up(t, twoSites)
	s1, s2 := sites()
	var b *Backend
	var wanIdx, lanIdx int
	must(t, l.Do("s1", func() error {
		var err error
		b, err = New(Config{Engine: dataplane.NewEngine(dataplane.Options{}), WAN: "wan", LANs: []LAN{{Name: "lan"}}, Debug: true})
		if err != nil {
			return err
		}
		wi, _ := net.InterfaceByName("wan")
		li, _ := net.InterfaceByName("lan")
		wanIdx, lanIdx = wi.Index, li.Index
		return nil
	}))
	t.Cleanup(func() { must(t, b.Close()) })
	s1.program(t, b, dataplane.ModeGRE, false, true)
	peer := dataplane.NewEngine(dataplane.Options{})
	s2.program(t, peer, dataplane.ModeGRE, false, true)
	h1, h2 := netip.MustParseAddr("198.19.1.10"), netip.MustParseAddr("198.19.2.10")
	mac := [6]byte{0x02, 0, 0, 0, 0, 1}
	var snap cow.Map[nkey, nextHop]
	snap = snap.Set(keyHash(nkey{0, s1.peer4}), nkey{0, s1.peer4}, nextHop{ifindex: wanIdx, dst: mac, resolved: true})
	snap = snap.Set(keyHash(nkey{0, h1}), nkey{0, h1}, nextHop{ifindex: lanIdx, dst: mac, resolved: true})
	b.neigh.snap.Store(&snap)

	w := b.workers[0]
	const batch = 32
	descs := make([]afxdp.Desc, batch)
	out := udp4(h1, h2, 200)
	peerW := peer.NewWorker()
	sealed := make([]*dataplane.Packet, batch)
	for i := range sealed {
		sealed[i] = dataplane.NewPacket(dataplane.DefaultBufferSize)
	}
	inner := udp4(h2, h1, 200)
	fill := func(frames []afxdp.Desc, data func(i int) []byte) {
		for i := range frames {
			d := &frames[i]
			buf := w.umem.Data(afxdp.Desc{Addr: d.Addr, Len: 1600})
			pkt := data(i)
			copy(buf[6:12], mac[:])
			binary.BigEndian.PutUint16(buf[12:], hdr.EtherTypeIPv4)
			copy(buf[ethLen:], pkt)
			d.Len = uint32(ethLen + len(pkt))
		}
	}
	txWAN, txLAN := w.c.tx[0].Load(), w.c.tx[1].Load()
	round := func() {
		// Outbound: LAN -> encrypt -> WAN.
		n := w.umem.Alloc(descs)
		fill(descs[:n], func(int) []byte { return out })
		w.rxBatch(1, descs[:n])
		w.finish()
		// Inbound: the peer seals, we decrypt -> LAN.
		for _, p := range sealed {
			p.Reset()
			p.SetData(inner)
		}
		peerW.ProcessOutbound(sealed)
		n = w.umem.Alloc(descs)
		fill(descs[:n], func(i int) []byte { return sealed[i].Data() })
		w.rxBatch(0, descs[:n])
		w.finish()
		for _, s := range w.socks {
			s.Complete()
		}
	}
	round() // warm up
	const runs = 100
	if a := testing.AllocsPerRun(runs, round); a != 0 {
		t.Fatalf("%v allocations per round of %d packets each way", a, batch)
	}
	gotWAN, gotLAN := w.c.tx[0].Load()-txWAN, w.c.tx[1].Load()-txLAN
	if want := uint64((runs + 2) * batch); gotWAN != want || gotLAN != want {
		t.Fatalf("transmitted %d to WAN and %d to LAN, want %d each; status %+v", gotWAN, gotLAN, want, b.Status())
	}
	if v, msg := w.umem.Pool().Violations(); v != 0 {
		t.Fatalf("%d ledger violations: %s", v, msg)
	}
}
