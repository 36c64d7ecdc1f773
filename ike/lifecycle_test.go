package ike

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/suite"
	"github.com/esphub/esphub/ike/transport"
	"github.com/esphub/esphub/ike/wire"
)

// runLifecycle drives every exchange from A and checks both sides after each.
func runLifecycle(t *testing.T, p *pair) {
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	spi := info.LocalSPI
	waitFor(t, "responder up with its child", func() bool { return establishedCount(t, p.b) == 1 && len(p.b.inst.snapshot()) == 1 })
	checkChildKeys(t, p.a, p.b)

	// A second Child SA with PFS.
	pfs := defaultChild()
	pfs.Name = "pfs"
	pfs.Proposals = []suite.Proposal{{Encr: wire.EncrAESGCM16, KeyBits: 256, DH: wire.DHECP256}}
	pfs.LocalTS = []TrafficSelector{TSFromPrefix(netip.MustParsePrefix("198.19.1.7/32"))}
	if err := p.a.e.CreateChildSA(ctx, spi, pfs); err != nil {
		t.Fatalf("create child: %v", err)
	}
	waitFor(t, "two children on B", func() bool { return len(p.b.inst.snapshot()) == 2 })
	checkChildKeys(t, p.a, p.b)

	// Rekey the first Child SA: the old pair goes, a new pair comes.
	var first uint32
	for spi, c := range p.a.inst.snapshot() {
		if c.Name == "net" {
			first = spi
		}
	}
	if err := p.a.e.RekeyChildSA(ctx, spi, first); err != nil {
		t.Fatalf("rekey child: %v", err)
	}
	waitFor(t, "old child gone on both", func() bool {
		_, oldA := p.a.inst.snapshot()[first]
		return !oldA && len(p.a.inst.snapshot()) == 2 && len(p.b.inst.snapshot()) == 2
	})
	checkChildKeys(t, p.a, p.b)

	// Rekey the IKE SA: children survive, SPIs change.
	if err := p.a.e.RekeyIKESA(ctx, spi); err != nil {
		t.Fatalf("rekey ike: %v", err)
	}
	var newSPI uint64
	waitFor(t, "one IKE SA each after rekey", func() bool {
		as, bs := ikeSAs(t, p.a), ikeSAs(t, p.b)
		if len(as) != 1 || len(bs) != 1 || as[0].LocalSPI == spi {
			return false
		}
		newSPI = as[0].LocalSPI
		return bs[0].RemoteSPI == newSPI && len(as[0].Children) == 2 && len(bs[0].Children) == 2
	})
	checkChildKeys(t, p.a, p.b)

	// The rekeyed SA works: liveness, another child rekey on it, from B too.
	if err := p.a.e.CheckLiveness(ctx, newSPI); err != nil {
		t.Fatalf("liveness: %v", err)
	}
	bs := ikeSAs(t, p.b)
	if err := p.b.e.CheckLiveness(ctx, bs[0].LocalSPI); err != nil {
		t.Fatalf("liveness from B: %v", err)
	}
	var bChild uint32
	for spi := range p.b.inst.snapshot() {
		bChild = spi
		break
	}
	if err := p.b.e.RekeyChildSA(ctx, bs[0].LocalSPI, bChild); err != nil {
		t.Fatalf("rekey child from B: %v", err)
	}
	waitFor(t, "B's rekey settles", func() bool {
		_, old := p.b.inst.snapshot()[bChild]
		return !old && len(p.a.inst.snapshot()) == 2 && len(p.b.inst.snapshot()) == 2
	})
	checkChildKeys(t, p.a, p.b)
	if err := p.b.e.RekeyIKESA(ctx, bs[0].LocalSPI); err != nil {
		t.Fatalf("rekey ike from B: %v", err)
	}
	waitFor(t, "B's IKE rekey settles", func() bool {
		as, bs2 := ikeSAs(t, p.a), ikeSAs(t, p.b)
		return len(as) == 1 && len(bs2) == 1 && bs2[0].LocalSPI != bs[0].LocalSPI && as[0].RemoteSPI == bs2[0].LocalSPI
	})
	newSPI = ikeSAs(t, p.a)[0].LocalSPI

	// Delete one Child SA, then the IKE SA.
	var some uint32
	for spi := range p.a.inst.snapshot() {
		some = spi
		break
	}
	if err := p.a.e.DeleteChildSA(ctx, newSPI, some); err != nil {
		t.Fatalf("delete child: %v", err)
	}
	waitFor(t, "one child each", func() bool { return len(p.a.inst.snapshot()) == 1 && len(p.b.inst.snapshot()) == 1 })
	checkChildKeys(t, p.a, p.b)
	if err := p.a.e.DeleteIKESA(ctx, newSPI); err != nil {
		t.Fatalf("delete ike: %v", err)
	}
	waitFor(t, "everything gone", func() bool {
		return len(ikeSAs(t, p.a)) == 0 && len(ikeSAs(t, p.b)) == 0 &&
			len(p.a.inst.snapshot()) == 0 && len(p.b.inst.snapshot()) == 0
	})
	if p.b.countEvents(EventIKEDown) != 1 || p.a.countEvents(EventIKEDown) != 1 {
		t.Fatalf("ike-down events: A %d B %d", p.a.countEvents(EventIKEDown), p.b.countEvents(EventIKEDown))
	}
}

func TestLifecyclePerfectNetwork(t *testing.T) {
	runLifecycle(t, newPair(t, pairOpts{}))
}

// TestLifecycleUnderLoss is acceptance target 1: every exchange under 30%
// loss with reordering and duplicates.
func TestLifecycleUnderLoss(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run("seed"+string(rune('0'+seed)), func(t *testing.T) {
			p := newPair(t, pairOpts{net: transport.MemOptions{
				Loss: 0.3, Reorder: 0.2, ReorderDelay: 15 * time.Millisecond, Duplicate: 0.1, Seed: seed,
			}})
			runLifecycle(t, p)
			sa, sb := p.a.e.Stats(), p.b.e.Stats()
			if sa.Get(CounterRetransmits)+sb.Get(CounterRetransmits) == 0 {
				t.Fatal("30% loss but no retransmissions")
			}
			t.Logf("retransmits A %d B %d, duplicate requests answered A %d B %d, net %+v",
				sa.Get(CounterRetransmits), sb.Get(CounterRetransmits), sa.Get(CounterDupRequests), sb.Get(CounterDupRequests), p.net.Stats())
		})
	}
}

func TestLivenessDeadPeer(t *testing.T) {
	p := newPair(t, pairOpts{configure: func(c *Config) { c.RetransmitTries = 3; c.RetransmitMaxTimeout = 50 * time.Millisecond }})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.net.SetLoss(1)
	err = p.a.e.CheckLiveness(ctx, info.LocalSPI)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("liveness against a dead peer: %v, want ErrTimeout", err)
	}
	if len(ikeSAs(t, p.a)) != 0 || len(p.a.inst.snapshot()) != 0 {
		t.Fatal("dead peer's SAs not removed")
	}
	if p.a.countEvents(EventIKEDown) != 1 || p.a.countEvents(EventChildDown) != 1 {
		t.Fatal("missing down events")
	}
}

func TestPeriodicDPD(t *testing.T) {
	p := newPair(t, pairOpts{
		configure: func(c *Config) { c.RetransmitTries = 2; c.RetransmitMaxTimeout = 40 * time.Millisecond },
		initProf:  func(pr *Profile) { pr.DPDInterval = 60 * time.Millisecond },
	})
	if _, err := p.initiate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if len(ikeSAs(t, p.a)) != 1 {
		t.Fatal("SA lost with a live peer")
	}
	p.net.SetLoss(1)
	waitFor(t, "DPD removes the SA", func() bool { return len(ikeSAs(t, p.a)) == 0 })
}

func TestDeleteFromResponder(t *testing.T) {
	p := newPair(t, pairOpts{})
	ctx := testCtx(t)
	if _, err := p.initiate(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return establishedCount(t, p.b) == 1 })
	bs := ikeSAs(t, p.b)
	if err := p.b.e.DeleteChildSA(ctx, bs[0].LocalSPI, bs[0].Children[0].InboundSPI); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "children gone", func() bool { return len(p.a.inst.snapshot()) == 0 && len(p.b.inst.snapshot()) == 0 })
	if err := p.b.e.DeleteIKESA(ctx, bs[0].LocalSPI); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "IKE SAs gone", func() bool { return len(ikeSAs(t, p.a)) == 0 && len(ikeSAs(t, p.b)) == 0 })
}

func TestLifetimesRekeyAutomatically(t *testing.T) {
	child := defaultChild()
	child.Lifetime = 400 * time.Millisecond
	child.RekeyMargin = 200 * time.Millisecond
	child.Jitter = 50 * time.Millisecond
	p := newPair(t, pairOpts{child: child, initProf: func(pr *Profile) {
		pr.Lifetime = 700 * time.Millisecond
		pr.RekeyMargin = 300 * time.Millisecond
		pr.Jitter = 50 * time.Millisecond
	}})
	info, err := p.initiate(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "IKE SA rekeyed by its lifetime", func() bool {
		as := ikeSAs(t, p.a)
		return len(as) == 1 && as[0].LocalSPI != info.LocalSPI && p.a.countEvents(EventChildRekeyed)+p.b.countEvents(EventChildRekeyed) >= 2
	})
	deadline := time.Now().Add(30 * time.Second)
	for len(p.a.inst.snapshot()) != 1 || len(p.b.inst.snapshot()) != 1 {
		if time.Now().After(deadline) {
			// Say which Child SAs linger, so that a failure under load can
			// be told apart from a rekey that leaks an SA.
			for name, pe := range map[string]*peer{"A": p.a, "B": p.b} {
				for spi, c := range pe.inst.snapshot() {
					t.Logf("%s installed: in %08x out %08x ike %016x replaces %08x initiator %v age %v",
						name, spi, c.OutboundSPI, c.IKESA, c.Replaces, c.Initiator, time.Since(c.Created))
				}
				for _, s := range ikeSAs(t, pe) {
					t.Logf("%s ike sa: %+v", name, s)
				}
			}
			t.Fatal("timed out waiting for one Child SA on each side")
		}
		time.Sleep(5 * time.Millisecond)
	}
	checkChildKeys(t, p.a, p.b)
}

func TestDeleteAll(t *testing.T) {
	p := newPair(t, pairOpts{})
	ctx := testCtx(t)
	for range 3 {
		if _, err := p.initiate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "three SAs on B", func() bool { return establishedCount(t, p.b) == 3 })
	if err := p.a.e.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nothing left", func() bool {
		return len(ikeSAs(t, p.a))+len(ikeSAs(t, p.b)) == 0 && len(p.a.inst.snapshot())+len(p.b.inst.snapshot()) == 0
	})
}

// TestInitialContactAfterRestart: a spoke restarts (new engine, same
// address, no memory of its SAs) and connects again; its INITIAL_CONTACT
// makes the hub drop the stale SA and its Child SA.
func TestInitialContactAfterRestart(t *testing.T) {
	p := newPair(t, pairOpts{})
	ctx := testCtx(t)
	first, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return establishedCount(t, p.b) == 1 })
	// "Reboot" A: its transport goes away without any Delete.
	p.a.tr.Close()
	a2 := &peer{ip: addrA, inst: &recInstaller{sas: map[uint32]*ChildSA{}}}
	a2.tr = p.net.Endpoint(a2.addr(500), a2.addr(4500))
	e, err := New(Config{Transport: a2.tr, Policy: &testPolicy{}, Installer: a2.inst, OnEvent: a2.onEvent,
		RetransmitTimeout: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a2.e = e
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a2.tr.Close() })
	second, err := e.Initiate(ctx, InitiateRequest{Local: a2.addr(500), Remote: p.b.addr(500), Profile: p.prof})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub keeps only the new SA", func() bool {
		bs := ikeSAs(t, p.b)
		return len(bs) == 1 && bs[0].RemoteSPI == second.LocalSPI && len(p.b.inst.snapshot()) == 1
	})
	if second.LocalSPI == first.LocalSPI {
		t.Fatal("same SPI")
	}
	checkChildKeys(t, a2, p.b)
}

// TestNoMessageIDGap: a queued task that can no longer be built (its Child
// SA was deleted while it waited) must not consume a message ID, or the
// peer would wait for that ID forever and ignore everything after it.
func TestNoMessageIDGap(t *testing.T) {
	// Window 1, like strongSwan: a gap is never filled.
	p := newPair(t, pairOpts{configure: func(c *Config) { c.WindowSize = 1; c.RetransmitTries = 3 }})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	child := info.Children[0].InboundSPI
	del := make(chan error, 1)
	rekey := make(chan error, 1)
	// Both go into one call of the engine goroutine so the rekey queues
	// behind the delete (window 1).
	_ = p.a.e.call(ctx, func() {
		sa := p.a.e.sas[info.LocalSPI]
		c := sa.children[child]
		sa.queueTask(&deleteChildTask{done: func(err error) { del <- err }, children: []*childSA{c}})
		sa.queueTask(&childRekeyTask{childCreateTask: childCreateTask{done: func(err error) { rekey <- err }}, old: c})
	})
	if err := <-del; err != nil {
		t.Fatal(err)
	}
	if err := <-rekey; !errors.Is(err, ErrNoChildSA) {
		t.Fatalf("rekey of a deleted Child SA: %v", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.a.e.CheckLiveness(lctx, info.LocalSPI); err != nil {
		t.Fatalf("liveness after the failed task: %v", err)
	}
}

// TestChildRekeyQueuedBehindIKERekey: a Child SA rekey that waits in the
// queue while the IKE SA rekey (which runs alone) is outstanding follows the
// Child SA to the new IKE SA instead of being dropped. Dropping it left the
// Child SA to expire at its hard lifetime with no successor, which is how
// TestLifetimesRekeyAutomatically lost its only Child SA under load.
func TestChildRekeyQueuedBehindIKERekey(t *testing.T) {
	var armed atomic.Bool
	onWire := make(chan struct{}, 1)
	p := newPair(t, pairOpts{net: transport.MemOptions{
		// The delay keeps the IKE SA rekey outstanding long enough for the
		// Child SA rekey to queue behind it.
		Delay: 100 * time.Millisecond,
		Filter: func(pk transport.Packet) bool {
			if h, err := wire.DecodeHeader(pk.Data); err == nil && armed.Load() &&
				h.Exchange == wire.ExchangeCreateChildSA && !h.IsResponse() {
				select {
				case onWire <- struct{}{}:
				default:
				}
			}
			return true
		},
	}})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return len(p.b.inst.snapshot()) == 1 })
	var oldSPI uint32
	for spi := range p.a.inst.snapshot() {
		oldSPI = spi
	}
	armed.Store(true)
	ikeDone := make(chan error, 1)
	go func() { ikeDone <- p.a.e.RekeyIKESA(ctx, info.LocalSPI) }()
	select {
	case <-onWire:
	case <-ctx.Done():
		t.Fatal("IKE SA rekey request never sent")
	}
	if err := p.a.e.RekeyChildSA(ctx, info.LocalSPI, oldSPI); err != nil {
		t.Fatalf("child sa rekey queued behind the ike sa rekey: %v", err)
	}
	if err := <-ikeDone; err != nil {
		t.Fatalf("ike sa rekey: %v", err)
	}
	waitFor(t, "one new Child SA on each side", func() bool {
		a := p.a.inst.snapshot()
		_, stale := a[oldSPI]
		return len(a) == 1 && !stale && len(p.b.inst.snapshot()) == 1
	})
	checkChildKeys(t, p.a, p.b)
	if as := ikeSAs(t, p.a); len(as) != 1 || as[0].LocalSPI == info.LocalSPI {
		t.Fatalf("IKE SAs after the rekey: %+v", as)
	}
}

// TestChildExpiryQueuedBehindIKERekey: the hard lifetime of a Child SA ends
// while an IKE SA rekey (which runs alone) is outstanding, so its Delete
// waits in the queue of the IKE SA being replaced. The Delete must follow
// the Child SA to the new IKE SA; it used to be dropped, leaving an expired
// Child SA installed on both peers.
func TestChildExpiryQueuedBehindIKERekey(t *testing.T) {
	var armed atomic.Bool
	onWire := make(chan struct{}, 1)
	p := newPair(t, pairOpts{net: transport.MemOptions{
		Delay: 100 * time.Millisecond,
		Filter: func(pk transport.Packet) bool {
			if h, err := wire.DecodeHeader(pk.Data); err == nil && armed.Load() &&
				h.Exchange == wire.ExchangeCreateChildSA && !h.IsResponse() {
				select {
				case onWire <- struct{}{}:
				default:
				}
			}
			return true
		},
	}})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return len(p.b.inst.snapshot()) == 1 })
	armed.Store(true)
	ikeDone := make(chan error, 1)
	go func() { ikeDone <- p.a.e.RekeyIKESA(ctx, info.LocalSPI) }()
	select {
	case <-onWire:
	case <-ctx.Done():
		t.Fatal("IKE SA rekey request never sent")
	}
	queued := false
	// What the hard-lifetime timer does (armChildTimers), while the IKE
	// SA rekey is on the wire.
	if err := p.a.e.call(ctx, func() {
		sa := p.a.e.sas[info.LocalSPI]
		for _, c := range sa.children {
			sa.queueTask(&deleteChildTask{children: []*childSA{c}})
			queued = len(sa.queue) == 1 && len(sa.inflight) == 1
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !queued {
		t.Fatal("the Delete did not wait behind the IKE SA rekey; the test does not test what it claims")
	}
	if err := <-ikeDone; err != nil {
		t.Fatalf("ike sa rekey: %v", err)
	}
	waitFor(t, "the expired Child SA gone on both sides", func() bool {
		return len(p.a.inst.snapshot()) == 0 && len(p.b.inst.snapshot()) == 0
	})
	as, bs := ikeSAs(t, p.a), ikeSAs(t, p.b)
	if len(as) != 1 || len(bs) != 1 || as[0].LocalSPI == info.LocalSPI || as[0].RemoteSPI != bs[0].LocalSPI ||
		len(as[0].Children) != 0 || len(bs[0].Children) != 0 {
		t.Fatalf("IKE SAs after the rekey: A %+v B %+v", as, bs)
	}
}

// TestPeerAbandonsChildRekey: the peer rekeys a Child SA, we answer (our
// copy of its new SA is installed and the old one awaits the peer's
// Delete), but the peer never concludes the exchange (strongSwan drops a
// half-done rekey when the IKE SA is rekeyed under it; seen in the storm
// interop test). Our later rekey of the SA the peer never installed gets
// CHILD_SA_NOT_FOUND: we must go back to the old SA, which the peer still
// has, and rekey that, instead of keeping an SA the peer lacks.
func TestPeerAbandonsChildRekey(t *testing.T) {
	var dropResp atomic.Bool
	p := newPair(t, pairOpts{net: transport.MemOptions{
		Filter: func(pk transport.Packet) bool {
			h, err := wire.DecodeHeader(pk.Data)
			return err != nil || !dropResp.Load() || pk.Local.Addr() != addrA ||
				h.Exchange != wire.ExchangeCreateChildSA || !h.IsResponse()
		},
	}})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B up", func() bool { return len(p.b.inst.snapshot()) == 1 })
	bs := ikeSAs(t, p.b)[0]
	old := bs.Children[0]
	dropResp.Store(true)
	// B rekeys; A answers, but the answer never reaches B.
	if err := p.b.e.call(ctx, func() {
		sa := p.b.e.sas[bs.LocalSPI]
		sa.queueTask(&childRekeyTask{old: sa.children[old.InboundSPI]})
	}); err != nil {
		t.Fatal(err)
	}
	var answered uint32 // A's inbound SPI of the SA B never learns about
	waitFor(t, "A answers B's rekey", func() bool {
		for spi, c := range p.a.inst.snapshot() {
			if c.Replaces == old.OutboundSPI {
				answered = spi
				return true
			}
		}
		return false
	})
	// B gives up on the exchange without concluding it.
	if err := p.b.e.call(ctx, func() {
		sa := p.b.e.sas[bs.LocalSPI]
		for id, pr := range sa.inflight {
			pr.timer.Stop()
			delete(sa.inflight, id)
			sa.children[old.InboundSPI].state = childInstalled
		}
	}); err != nil {
		t.Fatal(err)
	}
	dropResp.Store(false)
	// A rekeys the SA B never installed: CHILD_SA_NOT_FOUND.
	if err := p.a.e.RekeyChildSA(ctx, info.LocalSPI, answered); err == nil {
		t.Fatal("rekey of an SA the peer never installed succeeded")
	}
	waitFor(t, "one Child SA each, a successor of the old one", func() bool {
		a, b := p.a.inst.snapshot(), p.b.inst.snapshot()
		if len(a) != 1 || len(b) != 1 {
			return false
		}
		for spi, c := range a {
			return spi != answered && spi != old.OutboundSPI && c.Replaces == old.OutboundSPI
		}
		return false
	})
	checkChildKeys(t, p.a, p.b)
}
