package ike

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// waitCounter polls an engine counter until it reaches want.
func waitCounter(t *testing.T, e *Engine, c Counter, want uint64) {
	t.Helper()
	waitFor(t, c.String(), func() bool { return e.Stats().Get(c) >= want })
}

func TestBadInput(t *testing.T) {
	p, w := logPair(t, pairOpts{configure: func(c *Config) { c.MaxMessageSize = 3000 }})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return establishedCount(t, p.b) == 1 })
	// Seven liveness checks: the first request falls out of B's window.
	for range 7 {
		if err := p.a.e.CheckLiveness(ctx, info.LocalSPI); err != nil {
			t.Fatal(err)
		}
	}
	var firstInfo, lastInfo []byte
	w.mu.Lock()
	for i, l := range w.lines {
		if strings.Contains(l, "INFORMATIONAL req") {
			if firstInfo == nil {
				firstInfo = w.raw[i].Data
			}
			lastInfo = w.raw[i].Data
		}
	}
	w.mu.Unlock()
	attacker := p.net.Endpoint(netip.MustParseAddrPort("198.18.0.3:500"))
	defer attacker.Close()
	to := p.b.addr(500)
	send := func(b []byte) {
		t.Helper()
		if err := attacker.Send(transport.Packet{Local: netip.MustParseAddrPort("198.18.0.3:500"), Remote: to, Data: b}); err != nil {
			t.Fatal(err)
		}
	}
	st := p.b.e.Stats()

	send([]byte{1, 2, 3})
	waitCounter(t, p.b.e, CounterDropTruncated, st.Get(CounterDropTruncated)+1)

	short := bytes.Clone(lastInfo[:40])
	send(short) // header claims more than arrived
	waitCounter(t, p.b.e, CounterDropTruncated, st.Get(CounterDropTruncated)+2)

	send(make([]byte, 4000))
	waitCounter(t, p.b.e, CounterDropOversized, st.Get(CounterDropOversized)+1)

	wrong := bytes.Clone(lastInfo)
	binary.BigEndian.PutUint64(wrong[8:], 0x1122334455667788)
	send(wrong)
	waitCounter(t, p.b.e, CounterDropUnknownSPI, st.Get(CounterDropUnknownSPI)+1)

	bad := bytes.Clone(lastInfo)
	bad[len(bad)-1] ^= 0x55
	send(bad)
	waitCounter(t, p.b.e, CounterDropBadICV, st.Get(CounterDropBadICV)+1)

	send(firstInfo) // replay of a request older than the window
	waitCounter(t, p.b.e, CounterDropReplay, st.Get(CounterDropReplay)+1)

	send(lastInfo) // retransmission of the newest: answered from the cache
	waitCounter(t, p.b.e, CounterDupRequests, st.Get(CounterDupRequests)+1)

	far := bytes.Clone(lastInfo)
	binary.BigEndian.PutUint32(far[20:], 1000) // beyond the window (and unauthenticated: the ICV covers it)
	send(far)
	waitCounter(t, p.b.e, CounterDropBadICV, st.Get(CounterDropBadICV)+2)

	v1 := bytes.Clone(lastInfo)
	v1[17] = 0x10 // IKEv1
	send(v1)
	waitCounter(t, p.b.e, CounterDropMalformed, st.Get(CounterDropMalformed)+1)

	// A garbage IKE_SA_INIT request is answered with INVALID_SYNTAX and
	// creates no state.
	init := make([]byte, 28+8)
	binary.BigEndian.PutUint64(init, 0xdeadbeef)
	init[16] = byte(wire.PayloadSA)
	init[17] = 0x20
	init[18] = byte(wire.ExchangeIKESAInit)
	init[19] = wire.FlagInitiator
	binary.BigEndian.PutUint32(init[24:], uint32(len(init)))
	copy(init[28:], []byte{0, 0, 0, 8, 1, 2, 3, 4})
	send(init)
	waitCounter(t, p.b.e, CounterDropMalformed, st.Get(CounterDropMalformed)+2)
	var pkt transport.Packet
	for {
		// The cached INFORMATIONAL answer to the retransmission above went
		// to the attacker's address too; skip it.
		if pkt, err = attacker.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		if wire.HeaderBytes(pkt.Data).ExchangeType() == wire.ExchangeIKESAInit {
			break
		}
	}
	m, err := wire.Decode(pkt.Data)
	if err != nil || len(m.Payloads) != 1 {
		t.Fatalf("answer to garbage INIT: %v %v", m, err)
	}
	if n, ok := m.Payloads[0].(*wire.Notify); !ok || !n.NotifyType.IsError() {
		t.Fatalf("answer to garbage INIT: %#v", m.Payloads[0])
	}

	// Nothing wedged: the SA still answers and nothing else was created.
	if err := p.a.e.CheckLiveness(ctx, info.LocalSPI); err != nil {
		t.Fatalf("liveness after the attack: %v", err)
	}
	if n := len(ikeSAs(t, p.b)); n != 1 {
		t.Fatalf("B has %d IKE SAs", n)
	}
	checkChildKeys(t, p.a, p.b)
}

// captureTransport records what an engine sends and never receives.
type captureTransport struct {
	mu   sync.Mutex
	sent []transport.Packet
	done chan struct{}
}

func newCapture() *captureTransport { return &captureTransport{done: make(chan struct{})} }

func (c *captureTransport) Send(p transport.Packet) error {
	c.mu.Lock()
	c.sent = append(c.sent, transport.Packet{Local: p.Local, Remote: p.Remote, Data: bytes.Clone(p.Data)})
	c.mu.Unlock()
	return nil
}

func (c *captureTransport) Recv(ctx context.Context) (transport.Packet, error) {
	select {
	case <-ctx.Done():
		return transport.Packet{}, ctx.Err()
	case <-c.done:
		return transport.Packet{}, context.Canceled
	}
}

func (c *captureTransport) Close() error { return nil }

func (c *captureTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// realInitRequest returns an IKE_SA_INIT request as our initiator sends it.
func realInitRequest(t testing.TB) []byte {
	ct := newCapture()
	e, err := New(Config{Transport: ct, Policy: &testPolicy{}, RetransmitTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = e.Run(ctx) }()
	go func() {
		_, _ = e.Initiate(ctx, InitiateRequest{Local: netip.AddrPortFrom(addrA, 500), Remote: netip.AddrPortFrom(addrB, 500),
			Profile: &Profile{IKEProposals: []suite.Proposal{propGCM, propCBC}, LocalPSK: testPSK, RemotePSK: testPSK, Child: defaultChild()}})
	}()
	for ct.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	return ct.sent[0].Data
}

// FuzzResponderFirstMessage feeds arbitrary datagrams to a responder: it
// must never panic, and must only answer with IKE_SA_INIT responses.
func FuzzResponderFirstMessage(f *testing.F) {
	seed := realInitRequest(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add(seed[:28])
	mutated := bytes.Clone(seed)
	mutated[18] = byte(wire.ExchangeIKEAuth)
	f.Add(mutated)
	ct := newCapture()
	e, err := New(Config{Transport: ct, Policy: &testPolicy{props: []suite.Proposal{propGCM, propCBC}}, MaxHalfOpen: 64,
		RetransmitTimeout: time.Hour, HalfOpenTimeout: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go func() { _ = e.Run(ctx) }()
	from := netip.AddrPortFrom(addrA, 500)
	to := netip.AddrPortFrom(addrB, 500)
	f.Fuzz(func(t *testing.T, b []byte) {
		before := ct.count()
		if err := e.call(ctx, func() { e.handlePacket(transport.Packet{Local: to, Remote: from, Data: bytes.Clone(b)}) }); err != nil {
			t.Fatal(err)
		}
		ct.mu.Lock()
		defer ct.mu.Unlock()
		for _, p := range ct.sent[before:] {
			h, err := wire.DecodeHeader(p.Data)
			if err != nil || h.Exchange != wire.ExchangeIKESAInit || !h.IsResponse() {
				t.Fatalf("responder sent something other than an IKE_SA_INIT response: %x", p.Data)
			}
			if _, err := wire.Decode(p.Data); err != nil {
				t.Fatalf("responder sent an undecodable message: %v", err)
			}
		}
	})
}
