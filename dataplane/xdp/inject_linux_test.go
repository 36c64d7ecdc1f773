package xdp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/esphub/esphub/dataplane"
	"github.com/esphub/esphub/dataplane/hdr"
	"github.com/esphub/esphub/internal/testenv"
	"github.com/esphub/esphub/lab/labtest"
)

// TestLabInject sends a packet into the tunnel through Control.Inject on
// s1 and checks that h2 receives it through s2; injecting into a tunnel
// that does not exist fails with the drop reason.
func TestLabInject(t *testing.T) {
	testenv.NeedRoot(t)
	l := labtest.Up(t, twoSites)
	s1, s2 := sites()
	s1.startXDP(t, l, dataplane.ModeGRE, false, false)
	s2.startXDP(t, l, dataplane.ModeGRE, false, false)
	var fd int
	must(t, l.Do("h2", func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}))
	defer unix.Close(fd)
	must(t, unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000}))

	payload := "esphub-probe-inject"
	pkt := make([]byte, 28+len(payload))
	hdr.EncodeIPv4(pkt, 0, uint16(len(pkt)), 7, 64, hdr.ProtoUDP, netip.MustParseAddr("198.19.1.1"), netip.MustParseAddr("198.19.2.10"))
	binary.BigEndian.PutUint16(pkt[20:], probePort+1)
	binary.BigEndian.PutUint16(pkt[22:], probePort)
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(payload)))
	copy(pkt[28:], payload)

	var got [][]byte
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		if err := s1.xdp.Inject(1, hdr.EtherTypeIPv4, pkt); err != nil {
			t.Fatalf("inject: %v", err)
		}
		got = readProbes(fd, payload, 1, time.Second)
	}
	if len(got) == 0 {
		t.Fatalf("h2 did not receive the injected packet\n%s\n%s", s1.diag(), s2.diag())
	}
	if err := s1.xdp.Inject(9, hdr.EtherTypeIPv4, pkt); err == nil {
		t.Fatal("inject into a missing tunnel succeeded")
	} else {
		t.Logf("missing tunnel: %v", err)
	}
}

// TestLabPuntMayInject: the control plane answers a punted packet by
// injecting one (an NHRP reply), from within the punt callback. The
// worker that punted must not be the one waiting for it: the injection
// succeeds at once, and the answer reaches the peer.
func TestLabPuntMayInject(t *testing.T) {
	testenv.NeedRoot(t)
	l := labtest.Up(t, twoSites)
	s1, s2 := sites()
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, 16)
	s1.punt = func(tunnel dataplane.TunnelID, proto uint16, payload []byte, _ netip.AddrPort) {
		start := time.Now()
		err := s1.xdp.Inject(tunnel, proto, append([]byte("re:"), payload...))
		select {
		case results <- result{err, time.Since(start)}:
		default:
		}
	}
	answers := make(chan string, 16)
	s2.punt = func(_ dataplane.TunnelID, _ uint16, payload []byte, _ netip.AddrPort) {
		select {
		case answers <- string(payload):
		default:
		}
	}
	s1.startXDP(t, l, dataplane.ModeGRE, false, false)
	s2.startXDP(t, l, dataplane.ModeGRE, false, false)
	var got result
	deadline := time.Now().Add(20 * time.Second)
	for sent := false; !sent; {
		if err := s2.xdp.Inject(1, hdr.EtherTypeNHRP, []byte("nhrp-probe")); err != nil {
			t.Fatalf("s2: inject: %v", err)
		}
		select {
		case got = <-results:
			sent = true
		case <-time.After(time.Second):
			if time.Now().After(deadline) {
				t.Fatalf("s1 never punted the probe\n%s\n%s", s1.diag(), s2.diag())
			}
		}
	}
	if got.err != nil || got.took > 2*time.Second {
		t.Fatalf("inject from the punt callback: %v after %v", got.err, got.took)
	}
	select {
	case a := <-answers:
		if a != "re:nhrp-probe" {
			t.Errorf("s2 got %q", a)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("s2 never got the answer\n%s\n%s", s1.diag(), s2.diag())
	}
}
