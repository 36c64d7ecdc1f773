package ike

import (
	"errors"
	"testing"
	"time"
)

// downReason returns the Reason of p's first EventIKEDown, and whether
// there was one.
func downReason(p *peer) (error, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.events {
		if ev.Kind == EventIKEDown {
			return ev.Reason, true
		}
	}
	return nil, false
}

func TestDPDPeriodicDeadPeer(t *testing.T) {
	p := newPair(t, pairOpts{initProf: func(pr *Profile) {
		pr.DPDInterval, pr.DPDRetry, pr.DPDRetries = 60*time.Millisecond, 20*time.Millisecond, 3
	}})
	if _, err := p.initiate(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// Alive and idle: checks go out and are answered.
	waitFor(t, "answered liveness checks", func() bool { return p.a.e.Stats().Get(CounterDPDChecks) >= 2 })
	if establishedCount(t, p.a) != 1 {
		t.Fatal("SA went down while the peer answered")
	}
	p.net.SetLoss(1)
	cut := time.Now()
	waitFor(t, "peer declared dead", func() bool { _, ok := downReason(p.a); return ok })
	reason, _ := downReason(p.a)
	if !errors.Is(reason, ErrPeerDead) || !errors.Is(reason, ErrTimeout) {
		t.Fatalf("down reason %v, want ErrPeerDead", reason)
	}
	if n := len(p.a.inst.snapshot()); n != 0 {
		t.Fatalf("%d Child SAs left installed", n)
	}
	if n := len(ikeSAs(t, p.a)); n != 0 {
		t.Fatalf("%d IKE SAs left", n)
	}
	if p.a.e.Stats().Get(CounterDPDDead) != 1 {
		t.Fatalf("dead peers counted: %v", p.a.e.Stats().Map())
	}
	t.Logf("dead peer detected %v after the link was cut (interval 60ms, retry 20ms x3)", time.Since(cut).Round(time.Millisecond))
}

func TestDPDOnDemand(t *testing.T) {
	p := newPair(t, pairOpts{initProf: func(pr *Profile) {
		pr.DPDInterval, pr.DPDRetry, pr.DPDRetries, pr.DPDOnDemand = 50*time.Millisecond, 20*time.Millisecond, 2, true
	}})
	ctx := testCtx(t)
	info, err := p.initiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	spi := info.LocalSPI
	// Idle tunnel: no checks at all, even with the link down.
	p.net.SetLoss(1)
	time.Sleep(300 * time.Millisecond)
	if n := p.a.e.Stats().Get(CounterDPDChecks); n != 0 {
		t.Fatalf("%d checks on an idle on-demand tunnel", n)
	}
	// Traffic both ways proves the peer alive without IKE.
	for range 8 {
		if err := p.a.e.ReportTrafficCtx(ctx, spi, true, true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := p.a.e.Stats().Get(CounterDPDChecks); n != 0 {
		t.Fatalf("%d checks while traffic came back", n)
	}
	// Outbound only: the peer went quiet, a check goes out and fails.
	if err := p.a.e.ReportTrafficCtx(ctx, spi, false, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "peer declared dead", func() bool { _, ok := downReason(p.a); return ok })
	if reason, _ := downReason(p.a); !errors.Is(reason, ErrPeerDead) {
		t.Fatalf("down reason %v", reason)
	}
	if p.a.e.Stats().Get(CounterDPDChecks) != 1 || len(p.a.inst.snapshot()) != 0 {
		t.Fatalf("after dead peer: %v, %d children", p.a.e.Stats().Map(), len(p.a.inst.snapshot()))
	}
}
