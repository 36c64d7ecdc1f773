package ike

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// Lab addresses (198.18.0.0/15 only).
var (
	addrA    = netip.MustParseAddr("198.18.0.1")
	addrB    = netip.MustParseAddr("198.18.0.2")
	addrNATA = netip.MustParseAddr("198.18.9.1")
	addr6A   = netip.MustParseAddr("2001:db8::1")
	addr6B   = netip.MustParseAddr("2001:db8::2")
)

var (
	propGCM  = suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256, PRF: wire.PRFHMACSHA2256, DH: wire.DHECP256}
	propCBC  = suite.Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128, PRF: wire.PRFHMACSHA2256, DH: wire.DHMODP2048}
	espGCM   = suite.Proposal{Encr: wire.EncrAESGCM16, KeyBits: 256}
	espCBC   = suite.Proposal{Encr: wire.EncrAESCBC, KeyBits: 128, Integ: wire.IntegHMACSHA2256128}
	testPSK  = []byte("engine-test-psk-0123456789")
	idSpokeA = IdentityFQDN("spoke-a.test")
	idHubB   = IdentityFQDN("hub-b.test")
)

// testPolicy is the responder policy of the tests: fixed proposals and one
// profile for one identity.
type testPolicy struct {
	mu       sync.Mutex
	props    []suite.Proposal
	profile  *Profile
	remoteID Identity
	lastReq  ProfileRequest // the latest MatchProfile request
}

func (p *testPolicy) ResponderIKE(local, remote netip.AddrPort) ([]suite.Proposal, error) {
	return p.props, nil
}

func (p *testPolicy) MatchProfile(req ProfileRequest) (*Profile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastReq = req
	if !req.RemoteID.Equal(p.remoteID) {
		return nil, fmt.Errorf("no profile matches %s", req.RemoteID)
	}
	return p.profile, nil
}

// recInstaller records installed Child SAs by inbound SPI.
type recInstaller struct {
	mu       sync.Mutex
	sas      map[uint32]*ChildSA
	installs int
	deletes  int
}

func (r *recInstaller) InstallChildSA(sa *ChildSA) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sas[sa.InboundSPI] = sa
	r.installs++
	return nil
}

func (r *recInstaller) DeleteChildSA(sa *ChildSA) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sas, sa.InboundSPI)
	r.deletes++
	return nil
}

func (r *recInstaller) snapshot() map[uint32]*ChildSA {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[uint32]*ChildSA, len(r.sas))
	for k, v := range r.sas {
		m[k] = v
	}
	return m
}

type peer struct {
	e      *Engine
	inst   *recInstaller
	policy *testPolicy
	tr     transport.Transport
	ip     netip.Addr
	mu     sync.Mutex
	events []Event
	// keepalives counts NAT keepalives the engine asked for.
	keepalives atomic.Int64
}

// kaTransport adds KeepaliveSender to a transport, counting calls.
type kaTransport struct {
	transport.Transport
	n *atomic.Int64
}

func (k *kaTransport) SendKeepalive(local, remote netip.AddrPort) error {
	k.n.Add(1)
	return nil
}

func (p *peer) onEvent(ev Event) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
}

func (p *peer) countEvents(k EventKind) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ev := range p.events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func (p *peer) addr(port uint16) netip.AddrPort { return netip.AddrPortFrom(p.ip, port) }

type pairOpts struct {
	net        transport.MemOptions
	ikeProps   []suite.Proposal // initiator's offer
	respProps  []suite.Proposal // responder's policy
	child      ChildConfig
	respChild  *ChildConfig
	configure  func(*Config)
	natA       bool // put A behind a NAT
	initProf   func(*Profile)
	respPSK    []byte
	respProf   func(*Profile)
	noChildren bool
	v6         bool // peers on 2001:db8::1 and 2001:db8::2
}

type pair struct {
	t    testing.TB
	net  *transport.MemNetwork
	a, b *peer
	prof *Profile // A's (initiator) profile
}

func defaultChild() ChildConfig {
	return ChildConfig{
		Name:      "net",
		Proposals: []suite.Proposal{espGCM, espCBC},
		LocalTS:   []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.1.0/24"))},
		RemoteTS:  []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.2.0/24"))},
	}
}

func reverse(c ChildConfig) ChildConfig {
	c.LocalTS, c.RemoteTS = c.RemoteTS, c.LocalTS
	return c
}

func newPair(t testing.TB, o pairOpts) *pair {
	t.Helper()
	if o.ikeProps == nil {
		o.ikeProps = []suite.Proposal{propGCM}
	}
	if o.respProps == nil {
		o.respProps = []suite.Proposal{propGCM, propCBC}
	}
	if o.child.Name == "" && !o.noChildren {
		o.child = defaultChild()
	}
	n := transport.NewMemNetwork(o.net)
	mk := func(ip netip.Addr, pol *testPolicy) *peer {
		p := &peer{ip: ip, inst: &recInstaller{sas: map[uint32]*ChildSA{}}, policy: pol}
		p.tr = &kaTransport{Transport: n.Endpoint(p.addr(500), p.addr(4500)), n: &p.keepalives}
		cfg := Config{
			Transport: p.tr, Policy: pol, Installer: p.inst, OnEvent: p.onEvent,
			RetransmitTimeout: 40 * time.Millisecond, RetransmitBackoff: 1.5,
			RetransmitMaxTimeout: 250 * time.Millisecond, RetransmitTries: 25,
		}
		if o.configure != nil {
			o.configure(&cfg)
		}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.e = e
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = e.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; p.tr.Close() })
		return p
	}
	respChild := reverse(o.child)
	if o.respChild != nil {
		respChild = *o.respChild
	}
	psk := testPSK
	if o.respPSK != nil {
		psk = o.respPSK
	}
	polB := &testPolicy{props: o.respProps, remoteID: idSpokeA, profile: &Profile{
		Name: "hub", LocalID: idHubB, LocalPSK: psk, RemotePSK: psk, Child: respChild,
	}}
	if o.respProf != nil {
		o.respProf(polB.profile)
	}
	ipA, ipB := addrA, addrB
	if o.v6 {
		ipA, ipB = addr6A, addr6B
	}
	a := mk(ipA, &testPolicy{props: o.respProps})
	b := mk(ipB, polB)
	if o.natA {
		n.NAT(a.addr(500), netip.AddrPortFrom(addrNATA, 1500))
		n.NAT(a.addr(4500), netip.AddrPortFrom(addrNATA, 14500))
	}
	prof := &Profile{
		Name: "spoke", LocalID: idSpokeA, RemoteID: idHubB, LocalPSK: testPSK, RemotePSK: testPSK,
		IKEProposals: o.ikeProps, Child: o.child,
	}
	if o.initProf != nil {
		o.initProf(prof)
	}
	return &pair{t: t, net: n, a: a, b: b, prof: prof}
}

func (p *pair) initiate(ctx context.Context) (IKESAInfo, error) {
	remote := p.b.addr(500)
	return p.a.e.Initiate(ctx, InitiateRequest{Local: p.a.addr(500), Remote: remote, Profile: p.prof})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkChildKeys verifies that the two installers hold the same Child SA
// pairs with matching keys: A's inbound is B's outbound and vice versa.
func checkChildKeys(t testing.TB, a, b *peer) int {
	t.Helper()
	as, bs := a.inst.snapshot(), b.inst.snapshot()
	if len(as) != len(bs) {
		t.Fatalf("A has %d Child SAs, B has %d", len(as), len(bs))
	}
	for spi, ca := range as {
		var cb *ChildSA
		for _, x := range bs {
			if x.OutboundSPI == spi {
				cb = x
			}
		}
		if cb == nil {
			t.Fatalf("A's inbound SPI %08x has no outbound twin on B", spi)
		}
		if cb.InboundSPI != ca.OutboundSPI {
			t.Fatalf("SPI pairs differ: A in %08x out %08x, B in %08x out %08x", ca.InboundSPI, ca.OutboundSPI, cb.InboundSPI, cb.OutboundSPI)
		}
		if !bytes.Equal(ca.InboundKeys.Encr, cb.OutboundKeys.Encr) || !bytes.Equal(ca.InboundKeys.Integ, cb.OutboundKeys.Integ) ||
			!bytes.Equal(ca.OutboundKeys.Encr, cb.InboundKeys.Encr) || !bytes.Equal(ca.OutboundKeys.Integ, cb.InboundKeys.Integ) {
			t.Fatalf("keys of Child SA %08x/%08x differ between the peers", ca.InboundSPI, ca.OutboundSPI)
		}
		if bytes.Equal(ca.InboundKeys.Encr, ca.OutboundKeys.Encr) {
			t.Fatalf("inbound and outbound keys are equal")
		}
		if ca.Proposal != cb.Proposal {
			t.Fatalf("proposals differ: %v vs %v", ca.Proposal, cb.Proposal)
		}
	}
	return len(as)
}

func ikeSAs(t testing.TB, p *peer) []IKESAInfo {
	t.Helper()
	sas, err := p.e.IKESAs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sas
}

func establishedCount(t testing.TB, p *peer) int {
	n := 0
	for _, s := range ikeSAs(t, p) {
		if s.State == "READY" {
			n++
		}
	}
	return n
}
