package ike

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
)

// TestHubManySpokes: one responder (a hub) and many initiators (spokes)
// over one lossy network: every SA is demultiplexed by SPI on the hub's one
// transport, and every spoke's Child SA keys match the hub's.
func TestHubManySpokes(t *testing.T) {
	const spokes = 24
	n := transport.NewMemNetwork(transport.MemOptions{Loss: 0.1, Reorder: 0.1, Seed: 7})
	hubAddr := netip.MustParseAddr("198.18.0.254")
	hub := &peer{ip: hubAddr, inst: &recInstaller{sas: map[uint32]*ChildSA{}}}
	hub.tr = n.Endpoint(hub.addr(500), hub.addr(4500))
	hubProf := &Profile{Name: "hub", LocalID: idHubB, LocalPSK: testPSK, RemotePSK: testPSK, Child: ChildConfig{
		Name: "spokes", Proposals: []suite.Proposal{espGCM},
	}}
	hubPolicy := &anyPolicy{props: []suite.Proposal{propGCM}, profile: hubProf}
	start := func(p *peer, pol Policy) {
		e, err := New(Config{Transport: p.tr, Policy: pol, Installer: p.inst, OnEvent: p.onEvent,
			RetransmitTimeout: 50 * time.Millisecond, RetransmitBackoff: 1.5, RetransmitMaxTimeout: 300 * time.Millisecond,
			RetransmitTries: 20})
		if err != nil {
			t.Fatal(err)
		}
		p.e = e
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = e.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; p.tr.Close() })
	}
	start(hub, hubPolicy)
	ctx := testCtx(t)
	errs := make(chan error, spokes)
	var all []*peer
	for i := range spokes {
		ip := netip.AddrFrom4([4]byte{198, 18, 1, byte(i + 1)})
		sp := &peer{ip: ip, inst: &recInstaller{sas: map[uint32]*ChildSA{}}}
		sp.tr = n.Endpoint(sp.addr(500), sp.addr(4500))
		start(sp, &testPolicy{})
		all = append(all, sp)
		prof := &Profile{
			Name: "spoke", LocalID: IdentityFQDN(fmt.Sprintf("spoke%d.test", i)), LocalPSK: testPSK, RemotePSK: testPSK,
			IKEProposals: []suite.Proposal{propGCM},
			Child: ChildConfig{Name: "hub", Proposals: []suite.Proposal{espGCM},
				LocalTS:  []TrafficSelector{TSFromPrefix(netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(i + 1), 0}), 24))},
				RemoteTS: []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.0.0/24"))}},
		}
		go func() {
			_, err := sp.e.Initiate(ctx, InitiateRequest{Local: sp.addr(500), Remote: hub.addr(500), Profile: prof})
			errs <- err
		}()
	}
	for range spokes {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "hub has every spoke", func() bool { return establishedCount(t, hub) == spokes && len(hub.inst.snapshot()) == spokes })
	hs := hub.inst.snapshot()
	for _, sp := range all {
		for _, c := range sp.inst.snapshot() {
			h := hs[c.OutboundSPI]
			if h == nil || h.OutboundSPI != c.InboundSPI || string(h.OutboundKeys.Encr) != string(c.InboundKeys.Encr) ||
				string(h.InboundKeys.Encr) != string(c.OutboundKeys.Encr) {
				t.Fatalf("spoke %v: Child SA does not match the hub's", sp.ip)
			}
			if h.RemoteTS[0] != c.LocalTS[0] {
				t.Fatalf("hub's selectors for %v: %v", sp.ip, h.RemoteTS)
			}
		}
	}
}

// anyPolicy accepts every identity with one profile (a hub's wildcard
// keyring).
type anyPolicy struct {
	props   []suite.Proposal
	profile *Profile
}

func (p *anyPolicy) ResponderIKE(local, remote netip.AddrPort) ([]suite.Proposal, error) {
	return p.props, nil
}

func (p *anyPolicy) MatchProfile(req ProfileRequest) (*Profile, error) { return p.profile, nil }
