package ike

import (
	"testing"

	"github.com/esphub/esphub/ike/suite"
)

func TestHandshakeGCM(t *testing.T) {
	p := newPair(t, pairOpts{})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if info.State != "READY" || !info.Initiator || info.Proposal != propGCM {
		t.Fatalf("unexpected SA: %+v", info)
	}
	if !info.RemoteID.Equal(idHubB) || !info.LocalID.Equal(idSpokeA) {
		t.Fatalf("identities: local %s remote %s", info.LocalID, info.RemoteID)
	}
	waitFor(t, "responder up", func() bool { return establishedCount(t, p.b) == 1 })
	if n := checkChildKeys(t, p.a, p.b); n != 1 {
		t.Fatalf("want 1 Child SA, got %d", n)
	}
	for _, c := range p.a.inst.snapshot() {
		if c.Proposal != espGCM || c.UDPEncap || len(c.InboundKeys.Encr) != 36 || len(c.InboundKeys.Integ) != 0 {
			t.Fatalf("child: %+v", c)
		}
	}
	bs := ikeSAs(t, p.b)
	if bs[0].RemoteSPI != info.LocalSPI || bs[0].LocalSPI != info.RemoteSPI || !bs[0].RemoteID.Equal(idSpokeA) {
		t.Fatalf("responder view: %+v", bs[0])
	}
	if p.a.countEvents(EventIKEUp) != 1 || p.b.countEvents(EventChildUp) != 1 {
		t.Fatal("missing up events")
	}
	// FLEXVPN-SUPPORTED and friends are recognised, so no vendor-id events.
	if p.b.countEvents(EventVendorID) != 0 {
		t.Fatal("known vendor IDs reported as unknown")
	}
	if len(bs[0].VendorIDs) != 3 {
		t.Fatalf("responder saw %d vendor IDs, want 3", len(bs[0].VendorIDs))
	}
}

func TestHandshakeCBCMODP(t *testing.T) {
	p := newPair(t, pairOpts{ikeProps: []suite.Proposal{propCBC}, respProps: []suite.Proposal{propCBC}})
	p.prof.Child.Proposals = []suite.Proposal{espCBC}
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	if info.Proposal != propCBC {
		t.Fatalf("proposal %v", info.Proposal)
	}
	waitFor(t, "responder child", func() bool { return len(p.b.inst.snapshot()) == 1 })
	checkChildKeys(t, p.a, p.b)
	for _, c := range p.b.inst.snapshot() {
		if c.Proposal != espCBC || len(c.InboundKeys.Encr) != 16 || len(c.InboundKeys.Integ) != 32 {
			t.Fatalf("child: %+v", c)
		}
	}
}
