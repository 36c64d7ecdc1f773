package ike

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// fragPair builds a pair whose network drops every datagram after
// IKE_SA_INIT (which cannot be fragmented) that would not fit an IPv4 path of
// mtu bytes (IP and UDP headers and, on port 4500, the non-ESP marker
// counted), as a path that loses IP fragments does.
// cfgA and cfgB adjust each side's Config after the common settings.
func fragPair(t *testing.T, mtu int, o pairOpts, cfgA, cfgB func(*Config)) (*pair, *atomic.Int64) {
	t.Helper()
	var oversized atomic.Int64
	inner := o.net.Filter
	o.net.Filter = func(p transport.Packet) bool {
		n := len(p.Data) + 28
		if p.Remote.Port() == 4500 {
			n += 4
		}
		if n > mtu && wire.HeaderBytes(p.Data).ExchangeType() != wire.ExchangeIKESAInit {
			oversized.Add(1)
			return false
		}
		return inner == nil || inner(p)
	}
	calls := 0
	o.configure = func(c *Config) {
		c.Fragmentation = true
		c.FragmentMTU = mtu
		calls++
		if calls == 1 && cfgA != nil {
			cfgA(c)
		}
		if calls == 2 && cfgB != nil {
			cfgB(c)
		}
	}
	return newPair(t, o), &oversized
}

// bigChild offers many traffic selectors so that IKE_AUTH and
// CREATE_CHILD_SA exceed a small MTU.
func bigChild() ChildConfig {
	c := defaultChild()
	for i := range 12 {
		c.LocalTS = append(c.LocalTS, TSFromPrefix(netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(10 + i), 0}), 24)))
	}
	c.Proposals = []suite.Proposal{espGCM, espCBC, {Encr: wire.EncrAESCBC, KeyBits: 256, Integ: wire.IntegHMACSHA2512256}}
	return c
}

func TestFragmentationIKEAuthAndLater(t *testing.T) {
	for _, tc := range []struct {
		name string
		net  transport.MemOptions
	}{
		{"clean", transport.MemOptions{}},
		{"lossy", transport.MemOptions{Loss: 0.15, Reorder: 0.2, Duplicate: 0.1, Seed: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, oversized := fragPair(t, 300, pairOpts{net: tc.net, child: bigChild()}, nil, nil)
			ctx := testCtx(t)
			info, err := p.initiate(ctx)
			if err != nil {
				t.Fatalf("initiate through a 300-byte path: %v", err)
			}
			waitFor(t, "responder up with its child", func() bool { return len(p.b.inst.snapshot()) == 1 })
			checkChildKeys(t, p.a, p.b)
			// A later exchange that needs fragments: a big CREATE_CHILD_SA.
			c := bigChild()
			c.Name = "second"
			c.LocalTS = append(c.LocalTS, TSFromPrefix(netip.MustParsePrefix("198.19.99.0/24")))
			if err := p.a.e.CreateChildSA(ctx, info.LocalSPI, c); err != nil {
				t.Fatalf("create child: %v", err)
			}
			waitFor(t, "two children on B", func() bool { return len(p.b.inst.snapshot()) == 2 })
			checkChildKeys(t, p.a, p.b)
			// Fragmentation survives an IKE SA rekey.
			if err := p.a.e.RekeyIKESA(ctx, info.LocalSPI); err != nil {
				t.Fatalf("rekey ike: %v", err)
			}
			as := ikeSAs(t, p.a)
			if len(as) != 1 {
				t.Fatalf("A has %d IKE SAs after rekey", len(as))
			}
			c.Name = "third"
			c.LocalTS = append(c.LocalTS, TSFromPrefix(netip.MustParsePrefix("198.19.98.0/24")))
			if err := p.a.e.CreateChildSA(ctx, as[0].LocalSPI, c); err != nil {
				t.Fatalf("create child after rekey: %v", err)
			}
			waitFor(t, "three children on B", func() bool { return len(p.b.inst.snapshot()) == 3 })
			sa, sb := p.a.e.Stats(), p.b.e.Stats()
			for _, s := range []Stats{sa, sb} {
				if s.Get(CounterFragmentsSent) == 0 || s.Get(CounterFragmentsReceived) == 0 {
					t.Fatalf("no fragments exchanged: %v", s.Map())
				}
			}
			if as := ikeSAs(t, p.a); len(as) != 1 || !as[0].Fragmentation || as[0].FragmentMTU != 300-28 {
				t.Fatalf("A's SA info: %+v", as)
			}
			if n := oversized.Load(); n != 0 {
				t.Fatalf("%d datagrams exceeded the MTU", n)
			}
			t.Logf("fragments A sent %d, B sent %d", sa.Get(CounterFragmentsSent), sb.Get(CounterFragmentsSent))
		})
	}
}

// Fragmentation needs both sides: with it off on the responder, nothing is
// fragmented and (on a clean path) the big messages go whole.
func TestFragmentationOnlyWhenBothSupport(t *testing.T) {
	p, oversized := fragPair(t, 1500, pairOpts{child: bigChild()}, func(c *Config) { c.FragmentMTU = 300 },
		func(c *Config) { c.Fragmentation = false })
	if _, err := p.initiate(testCtx(t)); err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if n := p.a.e.Stats().Get(CounterFragmentsSent) + p.b.e.Stats().Get(CounterFragmentsSent); n != 0 {
		t.Fatalf("%d fragments sent without negotiation", n)
	}
	if oversized.Load() != 0 {
		t.Fatal("path dropped datagrams")
	}
}

// fragmentNumber returns the Fragment Number of a message whose only
// payload is SKF, or 0.
func fragmentNumber(b []byte) int {
	h := wire.HeaderBytes(b)
	if !h.Valid() || h.NextPayload() != wire.PayloadSKF || len(b) < wire.HeaderLen+8 {
		return 0
	}
	return int(binary.BigEndian.Uint16(b[wire.HeaderLen+4:]))
}

// A fragment that never comes leaves a partial message that is dropped and
// counted after FragmentTimeout; once the path heals, retransmitted
// fragments complete the exchange.
func TestFragmentReassemblyTimeout(t *testing.T) {
	var lose atomic.Bool
	lose.Store(true)
	o := pairOpts{child: bigChild()}
	o.net.Filter = func(p transport.Packet) bool { return !(lose.Load() && fragmentNumber(p.Data) == 2) }
	p, _ := fragPair(t, 300, o, nil, func(c *Config) { c.FragmentTimeout = 30 * time.Millisecond })
	errc := make(chan error, 1)
	go func() { _, err := p.initiate(testCtx(t)); errc <- err }()
	waitFor(t, "a reassembly timeout", func() bool { return p.b.e.Stats().Get(CounterFragmentTimeouts) > 0 })
	lose.Store(false)
	if err := <-errc; err != nil {
		t.Fatalf("initiate after the path healed: %v", err)
	}
	t.Logf("B stats: timeouts %d", p.b.e.Stats().Get(CounterFragmentTimeouts))
}

// A message in more fragments than the receiver allows (a fragment bomb) is
// dropped whole and counted; the exchange cannot complete.
func TestFragmentBombDropped(t *testing.T) {
	p, _ := fragPair(t, 200, pairOpts{child: bigChild()},
		func(c *Config) { c.RetransmitTries = 2 }, func(c *Config) { c.MaxFragments = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.initiate(ctx); err == nil {
		t.Fatal("IKE_AUTH completed although it exceeds the responder's fragment limit")
	}
	if n := p.b.e.Stats().Get(CounterDropFragmentLimit); n == 0 {
		t.Fatalf("no fragment-limit drops counted: %v", p.b.e.Stats().Map())
	}
	if n := establishedCount(t, p.b); n != 0 {
		t.Fatalf("responder has %d established SAs", n)
	}
}

func TestFragmentMTUChecked(t *testing.T) {
	_, err := New(Config{Transport: transport.NewMemNetwork(transport.MemOptions{}).Endpoint(netip.MustParseAddrPort("198.18.0.1:500")),
		Policy: &testPolicy{}, FragmentMTU: 40})
	if err == nil {
		t.Fatal("MTU 40 accepted")
	}
}
