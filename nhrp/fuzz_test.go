package nhrp

import (
	"testing"
	"time"

	"github.com/esphub/esphub/nhrp/wire"
)

// FuzzReceive feeds arbitrary packets to a hub and a spoke of a live lab,
// plain or as VRF instances of an MPLS overlay (who bit 1): whatever
// arrives, the Node must not panic, and any packet it sends in answer must
// decode.
func FuzzReceive(f *testing.F) {
	for _, labels := range []uint8{0, 2} {
		seedLab := newLab(&testing.T{}, 2, labOpts{hold: 600 * time.Second, labels: labels != 0})
		shortcutUpQuiet(seedLab, 1, 2)
		for _, p := range seedLab.sent {
			f.Add(p.pkt, labels)
			f.Add(p.pkt, labels|1)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, who uint8) {
		if h := wire.Header(b); h.Valid() && len(b)%3 != 0 {
			h.UpdateChecksum()
		}
		l := newLab(t, 2, labOpts{hold: 600 * time.Second, labels: who&2 != 0})
		l.lenient = true
		if who&1 == 0 {
			l.hub.node.Receive("Virtual-Access1", b)
		} else {
			l.spokes[1].node.Receive("Tunnel0", b)
		}
		l.advance(time.Minute)
		for _, s := range l.sent {
			if _, err := wire.Decode(s.pkt); err != nil {
				t.Fatalf("%s sent an invalid packet: %v", s.from.name, err)
			}
		}
	})
}

func shortcutUpQuiet(l *lab, i, j int) {
	for k := 0; k < 50; k++ {
		if r, ok := l.spokes[i-1].rib.Lookup(l.host(j)); ok && r.Shortcut {
			return
		}
		l.send(l.spokes[i-1], l.host(j))
		l.advance(10 * time.Millisecond)
	}
}
