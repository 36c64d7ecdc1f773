package ike

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

var (
	addrC = netip.MustParseAddr("198.18.0.3")
	addrD = netip.MustParseAddr("198.18.0.4")
)

// redirectPolicy redirects peers at IKE_SA_INIT to init, or once
// authenticated to auth (when valid).
type redirectPolicy struct {
	Policy
	init, auth netip.Addr
}

func (r *redirectPolicy) RedirectInit(local, remote netip.AddrPort) (netip.Addr, bool) {
	return r.init, r.init.IsValid()
}

func (r *redirectPolicy) RedirectAuth(req ProfileRequest) (netip.Addr, bool) {
	return r.auth, r.auth.IsValid()
}

// gateway attaches another responder at ip to p's network, with B's
// identity and keys, redirecting as rp says (nil: never).
func (p *pair) gateway(t *testing.T, ip netip.Addr, rp *redirectPolicy) *peer {
	t.Helper()
	pol := &testPolicy{props: []suite.Proposal{propGCM}, remoteID: idSpokeA, profile: &Profile{
		Name: "hub", LocalID: idHubB, LocalPSK: testPSK, RemotePSK: testPSK, Child: reverse(defaultChild()),
	}}
	g := &peer{ip: ip, inst: &recInstaller{sas: map[uint32]*ChildSA{}}, policy: pol}
	g.tr = p.net.Endpoint(g.addr(500), g.addr(4500))
	var policy Policy = pol
	if rp != nil {
		rp.Policy = pol
		policy = rp
	}
	e, err := New(Config{Transport: g.tr, Policy: policy, Installer: g.inst, OnEvent: g.onEvent,
		RetransmitTimeout: 40 * time.Millisecond, RetransmitBackoff: 1.5, RetransmitMaxTimeout: 250 * time.Millisecond, RetransmitTries: 25})
	if err != nil {
		t.Fatal(err)
	}
	g.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; g.tr.Close() })
	return g
}

// redirectPair: A follows redirects (max), B redirects as rp says.
func redirectPair(t *testing.T, follow bool, maxRedirects int, rp *redirectPolicy) *pair {
	calls := 0
	return newPair(t, pairOpts{configure: func(c *Config) {
		calls++
		switch calls {
		case 1:
			c.FollowRedirects, c.MaxRedirects = follow, maxRedirects
		case 2:
			rp.Policy = c.Policy
			c.Policy = rp
		}
	}})
}

func TestRedirectAtInit(t *testing.T) {
	p := redirectPair(t, true, 0, &redirectPolicy{init: addrC})
	c := p.gateway(t, addrC, nil)
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if info.Remote.Addr() != addrC {
		t.Fatalf("SA with %v, want the redirect target %v", info.Remote, addrC)
	}
	waitFor(t, "child on C", func() bool { return len(c.inst.snapshot()) == 1 })
	checkChildKeys(t, p.a, c)
	if n := len(ikeSAs(t, p.b)); n != 0 {
		t.Fatalf("redirecting gateway kept %d SAs", n)
	}
	if p.b.e.Stats().Get(CounterRedirectsSent) != 1 || p.a.e.Stats().Get(CounterRedirectsFollowed) != 1 {
		t.Fatalf("counters: B %v A %v", p.b.e.Stats().Map(), p.a.e.Stats().Map())
	}
}

func TestRedirectAtAuth(t *testing.T) {
	p := redirectPair(t, true, 0, &redirectPolicy{auth: addrC})
	c := p.gateway(t, addrC, nil)
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if info.Remote.Addr() != addrC || info.State != "READY" {
		t.Fatalf("SA %+v, want READY with %v", info, addrC)
	}
	waitFor(t, "child on C", func() bool { return len(c.inst.snapshot()) == 1 })
	checkChildKeys(t, p.a, c)
	waitFor(t, "B's SA deleted by the client", func() bool { return len(ikeSAs(t, p.b)) == 0 })
	if n := len(p.b.inst.snapshot()); n != 0 {
		t.Fatalf("redirecting gateway installed %d Child SAs", n)
	}
	if n := len(ikeSAs(t, p.a)); n != 1 {
		t.Fatalf("client has %d IKE SAs", n)
	}
}

func TestRedirectNotFollowedWithoutSupport(t *testing.T) {
	p := redirectPair(t, false, 0, &redirectPolicy{init: addrC})
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if info.Remote.Addr() != addrB || p.b.e.Stats().Get(CounterRedirectsSent) != 0 {
		t.Fatal("a client without redirect support was redirected")
	}
}

func TestRedirectLoopAndLimit(t *testing.T) {
	t.Run("loop", func(t *testing.T) {
		p := redirectPair(t, true, 0, &redirectPolicy{init: addrC})
		p.gateway(t, addrC, &redirectPolicy{init: addrB})
		_, err := p.initiate(testCtx(t))
		if !errors.Is(err, ErrRedirectLoop) {
			t.Fatalf("initiate: %v, want ErrRedirectLoop", err)
		}
		if p.a.e.Stats().Get(CounterRedirectLoops) != 1 || len(ikeSAs(t, p.a)) != 0 {
			t.Fatalf("after loop: %v", p.a.e.Stats().Map())
		}
	})
	t.Run("max-redirects", func(t *testing.T) {
		p := redirectPair(t, true, 1, &redirectPolicy{init: addrC})
		p.gateway(t, addrC, &redirectPolicy{auth: addrD})
		_, err := p.initiate(testCtx(t))
		if !errors.Is(err, ErrTooManyRedirects) {
			t.Fatalf("initiate: %v, want ErrTooManyRedirects", err)
		}
	})
	t.Run("chain", func(t *testing.T) {
		p := redirectPair(t, true, 3, &redirectPolicy{init: addrC})
		p.gateway(t, addrC, &redirectPolicy{auth: addrD})
		p.gateway(t, addrD, nil)
		info, err := p.initiate(testCtx(t))
		if err != nil || info.Remote.Addr() != addrD {
			t.Fatalf("initiate: %v %v, want an SA with %v", info.Remote, err, addrD)
		}
	})
}

// A REDIRECT that does not echo our nonce is not an answer to our request
// (RFC 5685 §4.2): it is dropped and counted, and the client carries on
// with the gateway it asked.
func TestRedirectForeignNonceIgnored(t *testing.T) {
	p := redirectPair(t, true, 0, &redirectPolicy{})
	attacker := p.net.NewEndpoint(netip.MustParseAddrPort("198.18.0.66:500"))
	var once sync.Once
	p.net.SetFilter(func(pk transport.Packet) bool {
		h := wire.HeaderBytes(pk.Data)
		if !h.Valid() || h.ExchangeType() != wire.ExchangeIKESAInit || h.Flags()&wire.FlagResponse != 0 || pk.Remote != p.b.addr(500) {
			return true
		}
		lose := false
		once.Do(func() {
			lose = true // the real request is lost; the forged answer comes first
			spi := h.InitiatorSPI()
			go func() {
				n, _ := wire.NewRedirect(wire.Gateway{Addr: addrD}, make([]byte, 32))
				m := wire.Message{Header: wire.Header{SPIi: spi, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagResponse},
					Payloads: []wire.Payload{n}}
				b, _ := m.Encode()
				_ = attacker.Send(transport.Packet{Local: p.b.addr(500), Remote: p.a.addr(500), Data: b})
			}()
		})
		return !lose
	})
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Remote.Addr() != addrB {
		t.Fatalf("followed a forged redirect to %v", info.Remote)
	}
	if n := p.a.e.Stats().Get(CounterRedirectBadNonce); n != 1 {
		t.Fatalf("foreign-nonce redirects counted: %d", n)
	}
}
