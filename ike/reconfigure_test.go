package ike

import (
	"errors"
	"testing"
)

// TestReconfigure: settings changed on a running engine govern the next
// requests (here call admission and cookies), out-of-range values are
// refused, and Settings reads back what was applied.
func TestReconfigure(t *testing.T) {
	p := newPair(t, pairOpts{})
	ctx := testCtx(t)
	s, err := p.a.e.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.MaxSAs = 1
	if err := p.a.e.Reconfigure(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := p.initiate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.initiate(ctx); !errors.Is(err, ErrAdmission) {
		t.Fatalf("second initiate with max-sa 1: %v", err)
	}
	s.MaxSAs = 0
	if err := p.a.e.Reconfigure(ctx, s); err != nil {
		t.Fatal(err)
	}
	// The responder now challenges every IKE_SA_INIT with a cookie.
	rs, _ := p.b.e.Settings(ctx)
	rs.CookieThreshold = -1
	if err := p.b.e.Reconfigure(ctx, rs); err != nil {
		t.Fatal(err)
	}
	before := p.b.e.Stats().Get(CounterCookiesSent)
	if _, err := p.initiate(ctx); err != nil {
		t.Fatalf("initiate after max-sa lifted: %v", err)
	}
	if got := p.b.e.Stats().Get(CounterCookiesSent) - before; got != 1 {
		t.Fatalf("%d cookie challenges after cookie-challenge 0, want 1", got)
	}
	bad := rs
	bad.FragmentMTU = 20
	if err := p.b.e.Reconfigure(ctx, bad); err == nil {
		t.Fatal("fragment MTU 20 accepted")
	}
	if got, _ := p.b.e.Settings(ctx); got.FragmentMTU != 0 || got.CookieThreshold != -1 {
		t.Fatalf("settings after a refused change: %+v", got)
	}
}
