package ike

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// initGen builds IKE_SA_INIT requests as an attacker (or a test) would:
// a real ECP-256 public value, reused, with a fresh SPI and nonce each.
type initGen struct {
	t  testing.TB
	ke []byte
}

func newInitGen(t testing.TB) *initGen {
	kex, err := suite.NewKeyExchange(wire.DHECP256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &initGen{t: t, ke: kex.Public()}
}

// request returns an IKE_SA_INIT with SPIi spi and nonce ni, led by a
// COOKIE notify when cookie is set.
func (g *initGen) request(spi uint64, ni, cookie []byte) []byte {
	var ps []wire.Payload
	if cookie != nil {
		ps = append(ps, notify(wire.NotifyCookie, cookie))
	}
	ps = append(ps, wireSA(wire.ProtocolIKE, nil, []suite.Proposal{propGCM}, true),
		&wire.KE{Group: wire.DHECP256, Data: g.ke}, &wire.Nonce{Data: ni})
	m := wire.Message{Header: wire.Header{SPIi: spi, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator}, Payloads: ps}
	b, err := m.Encode()
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

func TestCookieSecretRotation(t *testing.T) {
	clk := &manualClock{now: time.Unix(1_700_000_000, 0)}
	e, err := New(Config{Transport: transport.NewMemNetwork(transport.MemOptions{}).Endpoint(netip.MustParseAddrPort("198.18.0.2:500")),
		Policy: &testPolicy{}, Clock: clk, CookieSecretLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	g := newInitGen(t)
	src := netip.MustParseAddrPort("198.18.5.5:500")
	msg := func(spi uint64, cookie []byte) *inMessage {
		ni := binary.BigEndian.AppendUint64(make([]byte, 24), spi)
		b := g.request(spi, ni, cookie)
		dm, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return &inMessage{hdr: dm.Header, payloads: dm.Payloads, raw: b, remote: src}
	}
	check := func(spi uint64, cookie []byte) cookieVerdict {
		m := msg(spi, cookie)
		return e.checkCookie(m, m.nonce(), spi)
	}
	issue := func(spi uint64) []byte {
		m := msg(spi, nil)
		return e.cookie(m.nonce(), src, spi)
	}
	if v := check(1, nil); v != cookieMissing {
		t.Fatalf("no cookie: %v", v)
	}
	c1 := issue(1)
	if v := check(1, c1); v != cookieOK {
		t.Fatalf("fresh cookie: %v", v)
	}
	if v := check(1, c1); v != cookieReplayed {
		t.Fatalf("same cookie again: %v", v)
	}
	if v := check(2, c1); v != cookieInvalid {
		t.Fatalf("cookie of another SPI: %v", v)
	}
	bad := append([]byte(nil), issue(3)...)
	bad[5] ^= 1
	if v := check(3, bad); v != cookieInvalid {
		t.Fatalf("tampered cookie: %v", v)
	}
	if v := check(3, bad[:9]); v != cookieInvalid {
		t.Fatalf("short cookie: %v", v)
	}
	// One rotation: the previous secret's cookies still work (once).
	c4 := issue(4)
	clk.Advance(61 * time.Second)
	e.rotateCookies(false)
	if v := check(4, c4); v != cookieOK {
		t.Fatalf("cookie of the previous secret: %v", v)
	}
	if v := check(4, c4); v != cookieReplayed {
		t.Fatalf("previous-secret cookie replayed: %v", v)
	}
	c5 := issue(5)
	if c5[0] == c4[0] {
		t.Fatal("version byte did not change on rotation")
	}
	// A second rotation retires it.
	c6 := issue(6)
	clk.Advance(61 * time.Second)
	e.rotateCookies(false)
	if v := check(5, c5); v != cookieOK {
		t.Fatalf("cookie one rotation old: %v", v)
	}
	clk.Advance(61 * time.Second)
	e.rotateCookies(false)
	if v := check(6, c6); v != cookieStale {
		t.Fatalf("cookie two rotations old: %v", v)
	}
	// A long silence retires both secrets at once.
	c7 := issue(7)
	clk.Advance(10 * time.Minute)
	e.rotateCookies(false)
	if v := check(7, c7); v != cookieStale {
		t.Fatalf("cookie after a long pause: %v", v)
	}
}

// TestCookieCountersEndToEnd: a responder that always demands cookies
// counts stale, invalid and replayed cookies and never creates state for
// them.
func TestCookieCountersEndToEnd(t *testing.T) {
	clk := &manualClock{now: time.Unix(1_700_000_000, 0)}
	n := transport.NewMemNetwork(transport.MemOptions{})
	hub := netip.MustParseAddrPort("198.18.0.2:500")
	e, err := New(Config{Transport: n.Endpoint(hub), Clock: clk,
		Policy: &testPolicy{props: []suite.Proposal{propGCM}}, CookieThreshold: -1, CookieSecretLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	cli := n.NewEndpoint(netip.MustParseAddrPort("198.18.0.9:500"))
	g := newInitGen(t)
	recv := func() []byte {
		rctx, rc := context.WithTimeout(context.Background(), 10*time.Second)
		defer rc()
		p, err := cli.Recv(rctx)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return p.Data
	}
	cookieOf := func(b []byte) []byte {
		m, err := wire.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		nt, ok := m.Payloads[0].(*wire.Notify)
		if !ok || nt.NotifyType != wire.NotifyCookie {
			return nil
		}
		return append([]byte(nil), nt.Data...)
	}
	send := func(b []byte) {
		if err := cli.Send(transport.Packet{Remote: hub, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	ni := make([]byte, 32)
	send(g.request(11, ni, nil))
	c := cookieOf(recv())
	if c == nil {
		t.Fatal("no cookie challenge")
	}
	send(g.request(11, ni, c))
	if cookieOf(recv()) != nil {
		t.Fatal("valid cookie challenged again")
	}
	bad := append([]byte(nil), c...)
	bad[3] ^= 0xff
	send(g.request(12, ni, bad))
	if cookieOf(recv()) == nil {
		t.Fatal("invalid cookie not challenged")
	}
	// Replayed: the accepted request again once its half-open SA is gone.
	clk.Advance(31 * time.Second) // past HalfOpenTimeout
	waitFor(t, "half-open SA removed", func() bool { return len(ikeSAs(t, &peer{e: e})) == 0 })
	send(g.request(11, ni, c))
	waitFor(t, "replay counted", func() bool { return e.Stats().Get(CounterCookiesReplayed) == 1 })
	// Stale: a cookie kept over two rotations.
	send(g.request(13, ni, nil))
	c13 := cookieOf(recv())
	clk.Advance(2*time.Minute + time.Second)
	send(g.request(13, ni, c13))
	if cookieOf(recv()) == nil {
		t.Fatal("stale cookie not challenged")
	}
	s := e.Stats()
	if s.Get(CounterCookiesInvalid) != 1 || s.Get(CounterCookiesStale) != 1 {
		t.Fatalf("counters: %v", s.Map())
	}
	if n := len(ikeSAs(t, &peer{e: e})); n != 0 {
		t.Fatalf("%d SAs after replay", n)
	}
}

func TestAdmissionControl(t *testing.T) {
	t.Run("max-sa responder", func(t *testing.T) {
		p := newPair(t, pairOpts{configure: func(c *Config) { c.MaxSAs = 1; c.RetransmitTries = 2 }})
		ctx := testCtx(t)
		if _, err := p.initiate(ctx); err != nil {
			t.Fatal(err)
		}
		// A second SA from another host: B drops its IKE_SA_INIT.
		c := p.net.NewEndpoint(netip.MustParseAddrPort("198.18.0.7:500"))
		c.Send(transport.Packet{Remote: p.b.addr(500), Data: newInitGen(t).request(99, make([]byte, 32), nil)})
		waitFor(t, "max-sa drop", func() bool { return p.b.e.Stats().Get(CounterDropMaxSA) == 1 })
	})
	t.Run("max-sa initiator", func(t *testing.T) {
		p := newPair(t, pairOpts{configure: func(c *Config) { c.MaxSAs = 1 }})
		ctx := testCtx(t)
		if _, err := p.initiate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := p.initiate(ctx); !errors.Is(err, ErrAdmission) {
			t.Fatalf("second initiate: %v", err)
		}
	})
	t.Run("in-negotiation outgoing", func(t *testing.T) {
		// B never answers: A's first SA stays in negotiation.
		p := newPair(t, pairOpts{configure: func(c *Config) { c.MaxInNegotiationOutgoing = 1 }})
		p.net.SetLoss(1)
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		go func() { _, _ = p.initiate(ctx) }()
		waitFor(t, "first SA connecting", func() bool { return len(ikeSAs(t, p.a)) == 1 })
		if _, err := p.initiate(ctx); !errors.Is(err, ErrAdmission) {
			t.Fatalf("second initiate: %v", err)
		}
	})
	t.Run("per-source half-open", func(t *testing.T) {
		p := newPair(t, pairOpts{configure: func(c *Config) { c.MaxHalfOpenPerSource = 2 }})
		c := p.net.NewEndpoint(netip.MustParseAddrPort("198.18.0.7:500"))
		g := newInitGen(t)
		for i := range 5 {
			c.Send(transport.Packet{Remote: p.b.addr(500), Data: g.request(uint64(100+i), make([]byte, 32), nil)})
		}
		waitFor(t, "per-source drops", func() bool { return p.b.e.Stats().Get(CounterDropHalfOpenPerSource) == 3 })
		if n := len(ikeSAs(t, p.b)); n != 2 {
			t.Fatalf("%d half-open SAs from one source, want 2", n)
		}
		// Another source is not affected.
		if _, err := p.initiate(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestInitFlood: a flood of IKE_SA_INIT requests from thousands of spoofed
// lab addresses. Cookies engage once the half-open SAs pass the threshold,
// the responder's state stays bounded, and a legitimate peer still
// establishes within 2 seconds while the flood goes on.
func TestInitFlood(t *testing.T) {
	const threshold = 32
	p := newPair(t, pairOpts{
		net: transport.MemOptions{QueueLen: 4096},
		configure: func(c *Config) {
			c.CookieThreshold = threshold
			c.MaxHalfOpen = 1000
		},
	})
	flooder := p.net.NewEndpoint(netip.MustParseAddrPort("198.18.200.1:500"))
	g := newInitGen(t)
	// Pre-build the requests so the generator is not the bottleneck; the
	// SPI and nonce differ in each.
	const total = 40000
	reqs := g.floodRequests(4096)
	heap := startHeapSampler()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var sent atomic.Int64
	start := time.Now()
	go func() { // the flood: bounded in count and time
		defer wg.Done()
		deadline := start.Add(10 * time.Second)
		for i := 0; i < total && time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			default:
			}
			// 198.18.128.0/17 spoofed sources, none attached to the network.
			src := netip.AddrFrom4([4]byte{198, 18, byte(128 + (i>>8)%100), byte(i)})
			_ = flooder.Send(transport.Packet{Local: netip.AddrPortFrom(src, 500), Remote: p.b.addr(500), Data: reqs[i%len(reqs)]})
			sent.Add(1)
			if i%256 == 255 {
				time.Sleep(time.Millisecond) // let the two-core machine breathe
			}
		}
	}()
	waitFor(t, "cookies engaged", func() bool { return p.b.e.Stats().Get(CounterCookiesSent) > 500 })
	t0 := time.Now()
	_, err := p.initiate(testCtx(t))
	setup := time.Since(t0)
	if err != nil {
		t.Fatalf("legitimate peer under flood: %v", err)
	}
	// Keep flooding a little after the legitimate setup, then stop.
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	heap.Stop()
	elapsed := time.Since(start)
	s := p.b.e.Stats()
	sas := ikeSAs(t, p.b)
	rate := float64(sent.Load()) / elapsed.Seconds()
	t.Logf("flood: %d IKE_SA_INIT in %v (%.0f/s), responder received %d, cookies sent %d, half-open SAs %d",
		sent.Load(), elapsed.Round(time.Millisecond), rate, s.Get(CounterRxMessages), s.Get(CounterCookiesSent), len(sas)-1)
	t.Logf("peak heap %.1f MiB (baseline %.1f MiB); legitimate peer established in %v",
		float64(heap.Peak())/(1<<20), float64(heap.Base())/(1<<20), setup.Round(time.Millisecond))
	if setup > 2*time.Second {
		t.Fatalf("legitimate setup took %v under flood, want < 2s", setup)
	}
	if len(sas) > threshold+2 {
		t.Fatalf("responder holds %d SAs; cookies should cap half-open state near %d", len(sas), threshold)
	}
	if grow := int64(heap.Peak()) - int64(heap.Base()); grow > 64<<20 {
		t.Fatalf("heap grew by %d MiB during the flood", grow>>20)
	}
	if established := establishedCount(t, p.b); established != 1 {
		t.Fatalf("responder has %d established SAs, want 1", established)
	}
}

// floodRequests pre-builds n IKE_SA_INIT requests, each with its own SPI and
// nonce, so that a flood's generator is not its bottleneck.
func (g *initGen) floodRequests(n int) [][]byte {
	reqs := make([][]byte, n)
	for i := range reqs {
		ni := make([]byte, 32)
		binary.BigEndian.PutUint64(ni, uint64(i))
		reqs[i] = g.request(uint64(i+1)<<20|0xabc, ni, nil)
	}
	return reqs
}

// heapSampler records the peak heap every 20 ms from a baseline taken after
// a GC at its start, until Stop.
type heapSampler struct {
	base       runtime.MemStats
	peak       atomic.Uint64
	stop, done chan struct{}
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	runtime.GC()
	runtime.ReadMemStats(&h.base)
	go func() {
		defer close(h.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.peak.Load() {
				h.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return h
}

// Stop ends sampling and waits for the sampler to finish.
func (h *heapSampler) Stop() { close(h.stop); <-h.done }

// Base is the heap in use at the start; Peak the largest seen since.
func (h *heapSampler) Base() uint64 { return h.base.HeapAlloc }
func (h *heapSampler) Peak() uint64 { return h.peak.Load() }
