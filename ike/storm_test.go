package ike

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/esphub/esphub/ike/transport"
)

// TestRekeyStorm: both peers rekey the Child SA and the IKE SA on their own
// timers every 300 ms, over a network that loses 20% of the datagrams,
// duplicates and reorders others, so that rekeys collide with each other,
// with Deletes and with IKE SA rekeys in every order RFC 7296 §2.8 allows.
// Afterwards the peers must agree on exactly one Child SA with the same keys:
// no collision may leave a redundant SA behind (two lineages that both
// peers then rekey for ever) or delete the last one.
func TestRekeyStorm(t *testing.T) {
	for seed := range 3 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			lt, margin := 30*time.Second, 29700*time.Millisecond
			child := defaultChild()
			child.Lifetime, child.RekeyMargin = lt, margin
			rchild := reverse(child)
			p := newPair(t, pairOpts{
				net: transport.MemOptions{Delay: 10 * time.Millisecond, Jitter: 20 * time.Millisecond,
					Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Seed: int64(seed)},
				child:     child,
				respChild: &rchild,
				initProf:  func(pr *Profile) { pr.Lifetime, pr.RekeyMargin = lt, margin },
				respProf:  func(pr *Profile) { pr.Lifetime, pr.RekeyMargin = lt, margin },
				// Enough tries that 20% loss each way never exhausts them.
				configure: func(c *Config) { c.RetransmitTries = 15; c.Logger = testLogger(t) },
			})
			if _, err := p.initiate(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(4 * time.Second)
			// The storm goes on: wait for a quiet moment in which both hold
			// one Child SA (a leftover pair would never allow one).
			deadline := time.Now().Add(20 * time.Second)
			for !agreeOnOneChild(p.a, p.b) {
				if time.Now().After(deadline) {
					for name, pe := range map[string]*peer{"A": p.a, "B": p.b} {
						for spi, c := range pe.inst.snapshot() {
							t.Logf("%s installed: in %08x out %08x replaces %08x initiator %v age %v",
								name, spi, c.OutboundSPI, c.Replaces, c.Initiator, time.Since(c.Created))
						}
						for _, s := range ikeSAs(t, pe) {
							t.Logf("%s IKE SA %016x %s with %d Child SAs", name, s.LocalSPI, s.State, len(s.Children))
						}
					}
					t.Fatal("the peers never agreed on one Child SA after the storm")
				}
				time.Sleep(2 * time.Millisecond)
			}
			sa, sb := p.a.e.Stats(), p.b.e.Stats()
			col := sa.Get(CounterRekeyCollisions) + sb.Get(CounterRekeyCollisions)
			rekeys := p.a.countEvents(EventChildRekeyed) + p.b.countEvents(EventChildRekeyed)
			if col == 0 || rekeys < 10 {
				t.Fatalf("only %d Child SA rekeys and %d collisions: the storm did not test what it claims", rekeys, col)
			}
			t.Logf("Child SA rekeys %d, IKE SA rekeys %d, collisions %d, replaced SAs expired %d",
				rekeys, p.a.countEvents(EventIKERekeyed)+p.b.countEvents(EventIKERekeyed), col,
				sa.Get(CounterRekeyedExpired)+sb.Get(CounterRekeyedExpired))
		})
	}
}

// agreeOnOneChild reports whether both peers' engines and installers hold
// exactly one Child SA, the same pair of SPIs with the same keys.
func agreeOnOneChild(a, b *peer) bool {
	as, bs := a.inst.snapshot(), b.inst.snapshot()
	if len(as) != 1 || len(bs) != 1 {
		return false
	}
	var ca *ChildSA
	for _, c := range as {
		ca = c
	}
	cb := bs[ca.OutboundSPI]
	if cb == nil || cb.OutboundSPI != ca.InboundSPI || !bytes.Equal(ca.InboundKeys.Encr, cb.OutboundKeys.Encr) ||
		!bytes.Equal(ca.OutboundKeys.Encr, cb.InboundKeys.Encr) {
		return false
	}
	for _, p := range []*peer{a, b} {
		sas, err := p.e.IKESAs(context.Background())
		if err != nil || len(sas) != 1 || len(sas[0].Children) != 1 {
			return false
		}
	}
	return true
}
